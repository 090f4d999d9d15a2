/* ops.h - the notifications service's operations for the shared worker. */
#ifndef NOTIF_OPS_H
#define NOTIF_OPS_H

#include "worker.h"

extern const sms_worker_ops_t notifications_ops;

#endif
