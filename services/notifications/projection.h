/* projection.h - events -> the notifications view in Redis, one Lua script
 * per event kind, each idempotent (replays and the tailer's second
 * application change nothing). Called by the shared worker (ops.c).
 *
 * Keys under sms:notifications: (every one a pure function of the log):
 *   roster:<class>   hash student id -> display name   (sms.events.classes)
 *   emails           hash student id -> email address (from enrollments; sms-notify-email)
 *   webhooks, whsecret webhook registrations (webhooks.h)
 *   rv               hash class id -> roster_version applied (gates roster events)
 *   n:<id>           inbox item JSON without its closing brace (SETNX: once per id)
 *   count            how many n:<id> exist (INCR when SETNX takes an id): an O(1) progress read
 *   inbox:<user>     zset, all scores 0, member = notification id (ULID: lex = time order)
 *   unreadz:<user>   the unread subset of inbox:<user> (same layout; ZCARD = unread count)
 *   feed:<user>      zset, member = notification id, score = its (first) offset on
 *                    sms.notifications: the order the gateway's SSE stream sends
 *                    them in, and its event ids (a user's notifications share a
 *                    partition, their key, so the offsets only grow)
 *   read:<user>      set of ids marked read by id (applied even if the item comes later)
 *   rall:<user>      "read all" watermark: every id <= it is read (also later arrivals)
 *   prefs:<user>     preferences JSON (schema.h)
 *   cmds, offsets, meta: the worker's bookkeeping (common/worker.h)
 * An item is unread iff it is not in read:<user> and its id > rall:<user>,
 * whatever order the two topics' events are applied in, so a replay gives
 * the same view byte for byte. */
#ifndef NOTIF_PROJECTION_H
#define NOTIF_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* Where the inbox script publishes the recipients of new items (the
 * gateway's GW_NOTIFICATIONS_CHANNEL). */
#define NOTIF_STREAM_CHANNEL "sms:notifications:new"

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
