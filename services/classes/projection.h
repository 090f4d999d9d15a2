/* projection.h - class events -> the Redis view the gateway reads.
 *
 * Keys (all under sms:classes:):
 *   c:<id>                  hash: lecturer_id, status, version, code, codeu, name, json
 *   docs:<lecturer>         hash: class id -> public JSON (a page of a list is one HMGET)
 *   l:<lecturer>:<status>   zset (score 0) of "<created_at ms, 13 digits>:<id>", status
 *                           active|inactive|all; lex order = creation order
 *   code:<lecturer>:<CODE>  set of active class ids using that (upper-cased) code
 *   cmds                    hash: command id -> "<status> <class id>" (dedupe)
 *   offsets                 hash: partition -> next offset of sms.events.classes applied
 *   meta                    hash: built=1 once the view holds the whole log
 * Each event is applied by one Lua script (atomic): it applies only if the
 * event's version is newer than the view's, so replays and redeliveries
 * change nothing, and it records the partition offset in the same step.
 * The view is a pure function of the log: the tailer rebuilds it from
 * offset 0 when meta is missing. Blocking hiredis; called by the worker. */
#ifndef CLASSES_PROJECTION_H
#define CLASSES_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define CLASSES_KEY_PREFIX "sms:classes:"

/* Loads the scripts. 0, or -1 with err. */
int classes_projection_init(redisContext *rc, char *err, size_t errlen);

/* Appends (pipelines) the application of ev; partition < 0 means "applied
 * directly after production" and leaves offsets alone. Returns 1 if a
 * command was appended (read its reply), 0 if ev is not a class event. */
int classes_projection_append(redisContext *rc, const sms_event_t *ev, int32_t partition, int64_t offset);

/* Appends an HSET of offsets[partition] = offset + 1 (events we skip). Returns 1. */
int classes_projection_append_offset(redisContext *rc, int32_t partition, int64_t offset);

/* 1 if the view is built, 0 if not, -1 on error. */
int classes_projection_is_built(redisContext *rc);
/* Marks the view built. 0 or -1. */
int classes_projection_mark_built(redisContext *rc);
/* Deletes every key of the view (SCAN + UNLINK). 0 or -1. */
int classes_projection_drop(redisContext *rc);
/* Fills offsets[0..n) with the next offset to apply per partition (0 if none). 0 or -1. */
int classes_projection_offsets(redisContext *rc, int64_t *offsets, int n);

#endif
