/* ops.h - the classes service as a common/worker.h service. */
#ifndef CLASSES_OPS_H
#define CLASSES_OPS_H

#include "worker.h"

extern const sms_worker_ops_t classes_ops;

#endif
