/* projection.h - class, roster, post and chat events -> the Redis view the
 * gateway reads. The view's layout (keys, hash fields, the pub/sub
 * channel, the cmds records) is stated in view.h.
 *
 * Each event is applied by one Lua script (atomic): it applies only if the
 * event's version (roster events: roster_version) is newer than the view's,
 * so replays and redeliveries change nothing, and it records the partition
 * offset in the same step. The view is a pure function of the log: the
 * worker's tailer rebuilds it from offset 0 when meta is missing. Blocking
 * hiredis; called by the worker. projection.c dispatches on its own table
 * of event types. */
#ifndef CLASSES_PROJECTION_H
#define CLASSES_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "view.h"

/* Loads the scripts. 0, or -1 with err. */
int classes_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (see common/worker.h): appends the
 * application of ev read from topic at partition/offset (partition < 0:
 * applied right after production, offsets left alone). Returns 1 if a command
 * was appended, 0 if ev is not a class event (or is malformed). */
int classes_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset);

/* Writes the posts:<class> member of a post into out (cap bytes). */
void classes_post_member(bool pinned, int64_t created_at, const char *id, size_t idlen, char *out, size_t cap);

#endif
