/* quarantine.h - events a view could not apply, kept aside so the rest of
 * the log keeps being applied.
 *
 * The worker's tailer calls this when an event of the log is undecodable,
 * refused by the service's validator (worker.h: validate) or makes its
 * projection's script fail. The event stays in the log (the record is never
 * rewritten); the view records where it is and why, and marks the
 * aggregates it touches as incomplete, so reads of those say so
 * (view_incomplete) instead of serving a view that silently lacks it.
 * Quarantine is decided by the event and the binary alone, so a replay of
 * the same log quarantines the same events and rebuilds the same bytes.
 *
 * Keys under the service's prefix (sms:<service>:):
 *   quarantine              hash: "<topic>:<partition>:<offset>" -> JSON
 *                           {topic, partition, offset, id, type, v, key,
 *                            class_id, reason} (id..class_id null when unknown)
 *   incomplete:<aggregate>  set of those positions: the envelope's key, and
 *                           the data's class_id when it has one (every
 *                           class-scoped view: rosters, rankings, feeds)
 * A compensating event of the owning service (e.g. grade.corrected) removes
 * its position from the incomplete sets; the quarantine entry stays as the
 * history of what happened. */
#ifndef SMS_QUARANTINE_H
#define SMS_QUARANTINE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define SMS_QUARANTINE_REASON_MAX 240 /* longer reasons (script errors) are cut */

/* Writes "<topic>:<partition>:<offset>" into buf (cap bytes); returns its length. */
size_t sms_quarantine_position(char *buf, size_t cap, const char *topic, int32_t partition, int64_t offset);

/* Appends (pipelines) the Redis commands quarantining the event at
 * topic[partition] offset (partition >= 0): the quarantine entry, the
 * incomplete marks and offsets[<topic>:<partition>] = offset + 1. ev is the
 * decoded event, or NULL when it could not be decoded. reason is copied.
 * Logs the event_quarantined error line. Returns how many commands were
 * appended (the caller reads that many replies). */
size_t sms_quarantine_append(redisContext *rc, const char *prefix, const char *topic, int32_t partition, int64_t offset,
                             const sms_event_t *ev, const char *reason);

/* Whether a Redis error reply is a property of the command and its data (a
 * script error, a wrong type) rather than of the server's state (loading,
 * out of memory, busy, read-only, connection): only those quarantine, the
 * rest are retried. */
int sms_quarantine_is_deterministic(const char *redis_error);

#endif
