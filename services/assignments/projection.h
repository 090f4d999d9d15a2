/* projection.h - assignment, submission and upload events (and the facts this
 * service learns from sms.events.classes and sms.events.grades) -> the Redis
 * view the gateway reads; the view's layout is view.h.
 * Each event is applied by one Lua script (atomic, version-gated, recording
 * the partition offset in the same step); no clock is read, so the view is a
 * pure function of the log ("closed" is decided by readers from due_at).
 * Blocking hiredis; called by the worker. */
#ifndef ASSIGNMENTS_PROJECTION_H
#define ASSIGNMENTS_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* Loads the scripts. 0, or -1 with err. */
int assignments_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (see common/worker.h): appends the
 * application of ev read from topic at partition/offset (partition < 0:
 * applied right after production, offsets left alone). Returns 1 if a
 * command was appended, 0 if ev is nothing this view keeps (other class
 * event types, unknown types). */
int assignments_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                  int64_t offset);

#endif
