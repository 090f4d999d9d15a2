/* dlq.h - `sms-admin dlq list|replay`: the webhook deliveries that were
 * dead-lettered to sms.notifications.dlq (services/notifications/webhook.h). */
#ifndef ADMIN_DLQ_H
#define ADMIN_DLQ_H

#include "config.h"

/* argv after "dlq": list | replay (--id DELIVERY_ID | --all). Returns the exit code. */
int admin_dlq_main(const sms_config_t *cfg, int argc, char **argv);

#endif
