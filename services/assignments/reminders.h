/* reminders.h - "due in 24 h" reminders: which assignments the periodic scan
 * reminds, the derived id and time of their assignment.due_soon, and the
 * worker's tick (common/worker.h) that reads the view's remind zset and
 * writes those events. The pure parts are unit-tested
 * (tests/unit/test_reminders.c); the tick is wired in ops.c. */
#ifndef ASSIGNMENTS_REMINDERS_H
#define ASSIGNMENTS_REMINDERS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "id.h"
#include "worker.h"

#define ASSIGNMENTS_DUE_SOON_TYPE "assignment.due_soon"
#define ASSIGNMENTS_REMINDER_ACTOR "system"
#define ASSIGNMENTS_REMINDERS_PER_TICK 256 /* the rest wait for the next tick */

/* Whether an assignment due at due_at is reminded at now_ms: now < due_at <= now + window. */
bool assignments_reminder_due(int64_t now_ms, int64_t due_at, int64_t window_ms);

/* The event time of the reminder of (due_at, due_set_at): when the
 * assignment entered the window, max(due_at - window, due_set_at), never
 * after due_at. A function of the view, not of the clock, so that every
 * instance (and a re-emit after a crash) writes the same event; the
 * notifications derived from it then carry the same ids. */
int64_t assignments_reminder_time(int64_t due_at, int64_t due_set_at, int64_t window_ms);

/* The event id of the reminder of (assignment_id, due_at) at time_ms: the
 * ULID layout with time_ms and the first 80 bits of SHA-256 of
 * "assignment.due_soon\n<assignment_id>\n<due_at>". Writes and returns out. */
char *assignments_reminder_id(const char *assignment_id, int64_t due_at, int64_t time_ms, char out[SMS_ID_SIZE]);

/* The worker's tick: the open assignments of remind (see view.h) due
 * within cfg->due_reminder_window_s of now_ms, at most
 * ASSIGNMENTS_REMINDERS_PER_TICK, each one assignment.due_soon on
 * sms.events.assignments (key = assignment id). Fails d with 503 if the
 * view could not be read. */
void assignments_reminders_tick(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d);

#endif
