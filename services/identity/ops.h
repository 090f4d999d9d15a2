/* ops.h - the identity service's operations for the shared worker
 * (common/worker.h): service "identity" (commands on sms.commands.identity,
 * events on sms.events.identity, view under sms:identity:). */
#ifndef IDENTITY_OPS_H
#define IDENTITY_OPS_H

#include "worker.h"

extern const sms_worker_ops_t identity_ops;

#endif
