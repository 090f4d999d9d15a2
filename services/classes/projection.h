/* projection.h - class events -> the Redis view the gateway reads.
 *
 * Keys (all under sms:classes:):
 *   c:<id>                  hash: lecturer_id, status, version, code, codeu, name, json,
 *                           roster_version (written by roster events only)
 *   docs:<lecturer>         hash: class id -> public JSON (a page of a list is one HMGET)
 *   l:<lecturer>:<status>   zset (score 0) of "<created_at ms, 13 digits>:<id>", status
 *                           active|inactive|all; lex order = creation order
 *   code:<lecturer>:<CODE>  set of active class ids using that (upper-cased) code
 *   roster:<class>          zset (score 0) of "<ASCII-lowered name>\0<student id>": name order
 *   rdoc:<class>            hash: student id -> public roster item JSON
 *   sclasses:<student>      zset (score 0) of "<created_at, 13 digits>:<class id>", the
 *                           classes the student is enrolled in (any status; readers filter)
 *   posts:<class>           zset (score 0) of "<1 pinned|0><created_at ms, 13 digits>:<post id>":
 *                           reverse lex order = pinned first, then newest (from sms.events.posts)
 *   post:<id>               string: the post's public JSON (written once: posts are immutable)
 *   chat:<class>            zset: member = the chat message's public JSON, score = its seq
 *                           (from sms.events.chat); c:<class> also holds chat_seq, the last seq
 *   cmds, offsets, meta     the worker's bookkeeping (common/worker.h); cmds values
 *                           are "<status> <class id>", "200 enroll <class id> <enrolled>
 *                           <already>", "200 unenroll <class id>", "201 post <class id> <post id>"
 *                           or "201 chat <class id> <seq>"
 * Each event is applied by one Lua script (atomic): it applies only if the
 * event's version (roster events: roster_version) is newer than the view's, so replays and redeliveries
 * change nothing, and it records the partition offset in the same step.
 * The view is a pure function of the log: the worker's tailer rebuilds it
 * from offset 0 when meta is missing. Blocking hiredis; called by the worker. */
#ifndef CLASSES_PROJECTION_H
#define CLASSES_PROJECTION_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define CLASSES_KEY_PREFIX "sms:classes:"

/* Loads the scripts. 0, or -1 with err. */
int classes_projection_init(redisContext *rc, char *err, size_t errlen);

/* The worker's project operation (see common/worker.h): appends the
 * application of ev read from topic at partition/offset (partition < 0:
 * applied right after production, offsets left alone). Returns 1 if a command
 * was appended, 0 if ev is not a class event. */
int classes_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset);

/* Writes the posts:<class> member of a post into out (cap bytes). */
void classes_post_member(bool pinned, int64_t created_at, const char *id, size_t idlen, char *out, size_t cap);

#endif
