/* view.h - the classes service's Redis view, stated once: the key prefix,
 * every key the projection writes (as the prefix of the key, to which the
 * parts named in each comment are appended), the hash fields the gateway
 * reads, the pub/sub channel, and the words of the cmds records. The
 * projection's Lua scripts, the decider's prefetch and replays, and the
 * gateway's routes all build their keys from these names (C string
 * concatenation, also inside Lua sources). Needs no library header. */
#ifndef CLASSES_VIEW_H
#define CLASSES_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define CLASSES_KEY_PREFIX "sms:classes:"

/* c:<class id>: hash of the class (fields below). */
#define CLASSES_KEY_CLASS CLASSES_KEY_PREFIX "c:"
/* docs:<lecturer>: hash class id -> the class's public JSON (a page of a list is one HMGET). */
#define CLASSES_KEY_DOCS CLASSES_KEY_PREFIX "docs:"
/* l:<lecturer>:<active|inactive|all>: zset (score 0) of "<created_at ms, 13 digits>:<id>";
 * lex order = creation order. */
#define CLASSES_KEY_LIST CLASSES_KEY_PREFIX "l:"
/* code:<lecturer>:<CODE>: set of the active class ids using that (upper-cased) code. */
#define CLASSES_KEY_CODE CLASSES_KEY_PREFIX "code:"
/* roster:<class>: zset (score 0) of "<ASCII-lowered name>\0<student id>": name order. */
#define CLASSES_KEY_ROSTER CLASSES_KEY_PREFIX "roster:"
/* rdoc:<class>: hash student id -> the public roster item JSON. */
#define CLASSES_KEY_RDOC CLASSES_KEY_PREFIX "rdoc:"
/* sclasses:<student>: zset (score 0) of "<created_at, 13 digits>:<class id>", the classes
 * the student is enrolled in (any status; readers filter). */
#define CLASSES_KEY_SCLASSES CLASSES_KEY_PREFIX "sclasses:"
/* posts:<class>: zset (score 0) of "<1 pinned|0><created_at ms, 13 digits>:<post id>":
 * reverse lex order = pinned first, then newest. */
#define CLASSES_KEY_POSTS CLASSES_KEY_PREFIX "posts:"
/* post:<id>: string, the post's public JSON (once edited, with its version and updated_at). */
#define CLASSES_KEY_POST CLASSES_KEY_PREFIX "post:"
/* chat:<class>: zset, member = a chat message's public JSON, score = its seq. */
#define CLASSES_KEY_CHAT CLASSES_KEY_PREFIX "chat:"
/* The worker's bookkeeping (common/worker.h). */
#define CLASSES_KEY_CMDS CLASSES_KEY_PREFIX "cmds"
#define CLASSES_KEY_OFFSETS CLASSES_KEY_PREFIX "offsets"
#define CLASSES_KEY_META CLASSES_KEY_PREFIX "meta"

/* Fields of c:<class id>. */
#define CLASSES_FIELD_LECTURER "lecturer_id"
#define CLASSES_FIELD_STATUS "status"
#define CLASSES_FIELD_VERSION "version"
#define CLASSES_FIELD_CODE "code"
#define CLASSES_FIELD_CODEU "codeu" /* the code upper-cased (the code:<lecturer>:<CODE> set) */
#define CLASSES_FIELD_NAME "name"
#define CLASSES_FIELD_DESCRIPTION "description"
#define CLASSES_FIELD_TERM "term"
#define CLASSES_FIELD_CREATED_AT "created_at"
#define CLASSES_FIELD_UPDATED_AT "updated_at"
#define CLASSES_FIELD_JSON "json"                     /* the public JSON */
#define CLASSES_FIELD_ROSTER_VERSION "roster_version" /* written by roster events only */
#define CLASSES_FIELD_CHAT_SEQ "chat_seq"             /* the last chat message's seq */

/* The pub/sub channel the projection publishes a class id on after a new
 * chat message; the gateway's long-poll waiters listen to it. */
#define CLASSES_CHAT_CHANNEL "sms:classes:chat"

/* The cmds records (command id -> "<status> <words>") the projection writes
 * and replays read back (common/command_table.h):
 *   class commands   "<status> <class id>"
 *   roster.enroll    "200 enroll <class id> <enrolled> <already>"
 *   roster.unenroll  "200 unenroll <class id>"
 *   post.create      "201 post <class id> <post id>"
 *   post.update      "200 post <class id> <post id>"
 *   chat.post        "201 chat <class id> <seq>" */
#define CLASSES_RECORD_ENROLL "enroll"
#define CLASSES_RECORD_UNENROLL "unenroll"
#define CLASSES_RECORD_POST "post"
#define CLASSES_RECORD_CHAT "chat"

#endif
