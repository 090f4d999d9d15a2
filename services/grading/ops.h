/* ops.h - the grading service's operations for the shared worker
 * (common/worker.h): service "grading" (commands on sms.commands.grading,
 * view under sms:grading:), events on sms.events.grades, learning from
 * sms.events.classes and sms.events.assignments. */
#ifndef GRADING_OPS_H
#define GRADING_OPS_H

#include "worker.h"

extern const sms_worker_ops_t grading_ops;

#endif
