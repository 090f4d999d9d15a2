/* projection.h - applies sms.events.identity to the identity view (keys in
 * view.h), one Lua script per event type. Every script is idempotent by
 * itself (a replay, the tailer's second application or a rebuild change
 * nothing twice): accounts and refresh tokens are created only when absent,
 * "used" and "revoked" only ever become true. */
#ifndef IDENTITY_PROJECTION_H
#define IDENTITY_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* Loads the scripts. 0, or -1 with err. */
int identity_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (common/worker.h): 1 if a command was
 * appended, 0 for an event this view does not apply. */
int identity_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                               int64_t offset);

#endif
