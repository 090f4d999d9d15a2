/* quarantine.h - `sms-admin quarantine list|retry`: shows the events each
 * view could not apply (common/quarantine.h) and re-applies them by
 * replaying the log with the binaries now running. */
#ifndef ADMIN_QUARANTINE_H
#define ADMIN_QUARANTINE_H

#include "config.h"

/* argv: list [SERVICE] | retry [SERVICE] [--timeout SECONDS]. Exit code:
 * 0 (retry: nothing is left quarantined), 1 on failure or (retry) when
 * events are still quarantined, 2 on a usage error. */
int admin_quarantine_main(const sms_config_t *cfg, int argc, char **argv);

#endif
