/* validate.h - grading's event validator (common/worker.h: validate): one
 * check per event type the grading view applies, its own grade events and
 * the class and assignment events it learns. The worker runs it on every
 * event a decision is about to produce and on every event before projecting
 * it, so the decider never writes what projection.c (and its Lua) cannot
 * apply, and a bad event already in the log is quarantined, not applied. */
#ifndef GRADING_VALIDATE_H
#define GRADING_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

/* Scores (and max_score) are hundredths in 0..GRADING_POINTS_MAX * 100:
 * what the assignments service accepts as max_score. */
#define GRADING_POINTS_MAX 1000000
#define GRADING_ID_MAX 128        /* assignment, class and actor ids */
#define GRADING_ROSTER_MAX 10000  /* students in one class.students_enrolled */

/* 0 if ev is valid (or not a type this view applies), else -1 with the
 * field and why in err. */
int grading_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
