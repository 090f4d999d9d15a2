/* ops.h - the assignments service as a common/worker.h service. */
#ifndef ASSIGNMENTS_OPS_H
#define ASSIGNMENTS_OPS_H

#include "worker.h"

extern const sms_worker_ops_t assignments_ops;

#endif
