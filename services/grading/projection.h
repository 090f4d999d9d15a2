/* projection.h - grading's Redis view: what it learned from the classes and
 * assignments logs, and every grade event (sms.events.grades) applied. The
 * keys and their contents are stated in view.h; this is the projection's API.
 *
 * Every event is applied by one Lua script, gated by its own counter
 * (assignment version, roster_version, grade_version), so replays change
 * nothing. The three logs interleave differently live and in a rebuild, so
 * the ranking is kept order-independent: a grade counts while its assignment
 * is not known to be deleted; assignment.deleted subtracts the released
 * grades recorded so far, and grades recorded after it add nothing; the
 * ranking zset mirrors tot for enrolled students only. */
#ifndef GRADING_PROJECTION_H
#define GRADING_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "view.h"

/* Loads the scripts. 0, or -1 with err. */
int grading_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (common/worker.h). Returns 1 if a command
 * was appended, 0 for an event this view ignores. */
int grading_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset);
/* The worker's project_many operation: each run of consecutive grade events
 * (an update-grades command's rows) in one script call, other events one by
 * one; records the offset of every event with a partition >= 0. Returns the
 * number of commands appended. */
size_t grading_projection_append_many(redisContext *rc, const char *topic, const sms_event_t *evs,
                                      const int32_t *partitions, const int64_t *offsets, size_t n);

#endif
