/* projection.h - events -> the notifications view in Redis, one Lua script
 * per event kind, each idempotent (replays and the tailer's second
 * application change nothing). Called by the shared worker (ops.c). The
 * view's keys and channel are stated in view.h. */
#ifndef NOTIF_PROJECTION_H
#define NOTIF_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

int notif_projection_init(redisContext *rc, char *err, size_t errlen);
/* The worker's project operation (common/worker.h). */
int notif_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                            int64_t offset);
/* The worker's project_many operation: the notification.created events of a
 * chunk in one script run (with every event's offset), others one by one.
 * Returns the number of commands appended. */
size_t notif_projection_append_many(redisContext *rc, const char *topic, const sms_event_t *evs,
                                    const int32_t *partitions, const int64_t *offsets, size_t n);

#endif
