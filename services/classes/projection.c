/* projection.c - applies class, roster, post and chat events to Redis, one Lua
 * script per kind (see projection.h). */
#include "projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "alloc.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"
#include "view.h"

/* ARGV: 1 id, 2 version, 3 status, 4 lecturer, 5 CODE, 6 code, 7 name,
 * 8 created_at, 9 json, 10 cause, 11 reply status, 12 "<topic>:<partition>" ("" = none),
 * 13 next offset, 14 description, 15 term, 16 updated_at.
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t apply_script = {.source =
    "local id, ver, status, lec = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]\n"
    "if ARGV[12] ~= '' then redis.call('HSET', '" CLASSES_KEY_OFFSETS "', ARGV[12], ARGV[13]) end\n"
    "redis.call('HSET', '" CLASSES_KEY_CMDS "', ARGV[10], ARGV[11] .. ' ' .. id)\n"
    "local k = '" CLASSES_KEY_CLASS "' .. id\n"
    "local cur = redis.call('HMGET', k, '" CLASSES_FIELD_VERSION "', '" CLASSES_FIELD_STATUS "',\n"
    "                       '" CLASSES_FIELD_CODEU "')\n"
    "if ver <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "local codes = '" CLASSES_KEY_CODE "' .. lec .. ':'\n"
    "if cur[2] == 'active' then redis.call('SREM', codes .. cur[3], id) end\n"
    "redis.call('HSET', k, '" CLASSES_FIELD_LECTURER "', lec, '" CLASSES_FIELD_STATUS "', status,\n"
    "           '" CLASSES_FIELD_VERSION "', ARGV[2], '" CLASSES_FIELD_CODEU "', ARGV[5],\n"
    "           '" CLASSES_FIELD_CODE "', ARGV[6], '" CLASSES_FIELD_NAME "', ARGV[7], '" CLASSES_FIELD_JSON "', ARGV[9],\n"
    "           '" CLASSES_FIELD_DESCRIPTION "', ARGV[14], '" CLASSES_FIELD_TERM "', ARGV[15],\n"
    "           '" CLASSES_FIELD_CREATED_AT "', ARGV[8], '" CLASSES_FIELD_UPDATED_AT "', ARGV[16])\n"
    "redis.call('HSET', '" CLASSES_KEY_DOCS "' .. lec, id, ARGV[9])\n"
    "local member = string.format('%013d', tonumber(ARGV[8])) .. ':' .. id\n"
    "local l = '" CLASSES_KEY_LIST "' .. lec .. ':'\n"
    "redis.call('ZADD', l .. 'all', 0, member)\n"
    "if status == 'active' then\n"
    "  redis.call('ZADD', l .. 'active', 0, member)\n"
    "  redis.call('ZREM', l .. 'inactive', member)\n"
    "  redis.call('SADD', codes .. ARGV[5], id)\n"
    "else\n"
    "  redis.call('ZADD', l .. 'inactive', 0, member)\n"
    "  redis.call('ZREM', l .. 'active', member)\n"
    "end\n"
    "return 1\n"};

/* Roster events. ARGV: 1 class id, 2 roster_version, 3 cause, 4 reply summary,
 * 5 "<topic>:<partition>" ("" = none), 6 next offset, 7 "enroll"|"unenroll",
 * then enroll: (student id, name, item JSON) triples; unenroll: student id.
 * Gated on the class's roster_version (a field of c:<id> that class events
 * never touch), so the class's version is not changed by roster changes.
 * Sort member "<lower(name)>\0<student id>": ASCII-lowered here, so enroll
 * and unenroll compute the same member. Returns 1 if applied, 0 if not. */
static sms_redis_script_t roster_script = {.source =
    "local cid, rv = ARGV[1], tonumber(ARGV[2])\n"
    "if ARGV[5] ~= '' then redis.call('HSET', '" CLASSES_KEY_OFFSETS "', ARGV[5], ARGV[6]) end\n"
    "redis.call('HSET', '" CLASSES_KEY_CMDS "', ARGV[3], ARGV[4])\n"
    "local ck = '" CLASSES_KEY_CLASS "' .. cid\n"
    "local cur = redis.call('HMGET', ck, '" CLASSES_FIELD_ROSTER_VERSION "', '" CLASSES_FIELD_CREATED_AT "')\n"
    "if rv <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "redis.call('HSET', ck, '" CLASSES_FIELD_ROSTER_VERSION "', ARGV[2])\n"
    /* The student's classes, in the lecturer lists' order (creation time). */
    "local smember = string.format('%013d', tonumber(cur[2]) or 0) .. ':' .. cid\n"
    "local roster, docs = '" CLASSES_KEY_ROSTER "' .. cid, '" CLASSES_KEY_RDOC "' .. cid\n"
    "if ARGV[7] == 'enroll' then\n"
    "  for i = 8, #ARGV - 2, 3 do\n"
    "    local sid = ARGV[i]\n"
    "    if redis.call('HSETNX', docs, sid, ARGV[i + 2]) == 1 then\n"
    "      redis.call('ZADD', roster, 0, string.lower(ARGV[i + 1]) .. '\\0' .. sid)\n"
    "      redis.call('ZADD', '" CLASSES_KEY_SCLASSES "' .. sid, 0, smember)\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  local sid = ARGV[8]\n"
    "  local doc = redis.call('HGET', docs, sid)\n"
    "  if doc then\n"
    "    redis.call('ZREM', roster, string.lower(cjson.decode(doc).name) .. '\\0' .. sid)\n"
    "    redis.call('HDEL', docs, sid)\n"
    "    redis.call('ZREM', '" CLASSES_KEY_SCLASSES "' .. sid, smember)\n"
    "  end\n"
    "end\n"
    "return 1\n"};

/* post.created. ARGV: 1 class id, 2 post id, 3 sort member, 4 post JSON,
 * 5 cause, 6 reply summary, 7 "<topic>:<partition>" ("" = none), 8 next offset.
 * Posts are immutable: applied once, keyed by post id (SETNX), so the
 * application right after production and the tailer's change nothing twice.
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t post_script = {.source =
    "if ARGV[7] ~= '' then redis.call('HSET', '" CLASSES_KEY_OFFSETS "', ARGV[7], ARGV[8]) end\n"
    "redis.call('HSET', '" CLASSES_KEY_CMDS "', ARGV[5], ARGV[6])\n"
    "if redis.call('SETNX', '" CLASSES_KEY_POST "' .. ARGV[2], ARGV[4]) == 0 then return 0 end\n"
    "redis.call('ZADD', '" CLASSES_KEY_POSTS "' .. ARGV[1], 0, ARGV[3])\n"
    "return 1\n"};

/* post.updated. ARGV: 1 class id, 2 post id, 3 sort member, 4 post JSON,
 * 5 cause, 6 reply summary, 7 "<topic>:<partition>" ("" = none), 8 next
 * offset, 9 version. Gated on the version in post:<id>'s document (absent:
 * 1, a never-edited post); the post's posts:<class> member is replaced when
 * pinned changed (created_at, the rest of the member, never does). The
 * post's post.created is before it in the same partition (key = class id).
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t post_update_script = {.source =
    "if ARGV[7] ~= '' then redis.call('HSET', '" CLASSES_KEY_OFFSETS "', ARGV[7], ARGV[8]) end\n"
    "redis.call('HSET', '" CLASSES_KEY_CMDS "', ARGV[5], ARGV[6])\n"
    "local k = '" CLASSES_KEY_POST "' .. ARGV[2]\n"
    "local doc = redis.call('GET', k)\n"
    "if not doc then return 0 end\n"
    "local cur = cjson.decode(doc)\n"
    "if tonumber(ARGV[9]) <= (tonumber(cur.version) or 1) then return 0 end\n"
    "redis.call('SET', k, ARGV[4])\n"
    "local old = (cur.pinned and '1' or '0') .. string.sub(ARGV[3], 2)\n"
    "if old ~= ARGV[3] then\n"
    "  local posts = '" CLASSES_KEY_POSTS "' .. ARGV[1]\n"
    "  redis.call('ZREM', posts, old)\n"
    "  redis.call('ZADD', posts, 0, ARGV[3])\n"
    "end\n"
    "return 1\n"};

/* chat.message_posted. ARGV: 1 class id, 2 seq, 3 message JSON, 4 cause,
 * 5 reply summary, 6 "<topic>:<partition>" ("" = none), 7 next offset.
 * The message is the zset member and its seq the score: adding it again
 * changes nothing, and c:<id>'s chat_seq (what the decider continues from)
 * only grows, so the application right after production, the tailer's and a
 * rebuild's all end in the same view, in any order. Only a new message is
 * published (the class id, on CLASSES_CHAT_CHANNEL), waking the gateways'
 * long-polls. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t chat_script = {.source =
    "local cid, seq = ARGV[1], tonumber(ARGV[2])\n"
    "if ARGV[6] ~= '' then redis.call('HSET', '" CLASSES_KEY_OFFSETS "', ARGV[6], ARGV[7]) end\n"
    "redis.call('HSET', '" CLASSES_KEY_CMDS "', ARGV[4], ARGV[5])\n"
    "local ck = '" CLASSES_KEY_CLASS "' .. cid\n"
    "if seq > (tonumber(redis.call('HGET', ck, '" CLASSES_FIELD_CHAT_SEQ "')) or 0) then\n"
    "  redis.call('HSET', ck, '" CLASSES_FIELD_CHAT_SEQ "', ARGV[2])\n"
    "end\n"
    "if redis.call('ZADD', '" CLASSES_KEY_CHAT "' .. cid, seq, ARGV[3]) == 0 then return 0 end\n"
    "redis.call('PUBLISH', '" CLASSES_CHAT_CHANNEL "', cid)\n"
    "return 1\n"};

int classes_projection_init(redisContext *rc, char *err, size_t errlen) {
    if (sms_redis_script_load(rc, &apply_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &post_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &post_update_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &chat_script, err, errlen) != 0) return -1;
    return sms_redis_script_load(rc, &roster_script, err, errlen);
}

void classes_post_member(bool pinned, int64_t created_at, const char *id, size_t idlen, char *out, size_t cap) {
    snprintf(out, cap, "%c%013lld:%.*s", pinned ? '1' : '0', (long long)created_at, (int)idlen, id);
}

/* Where an event was read: the offsets field "<topic>:<partition>" and the
 * next offset, both "" when it was applied right after production. */
typedef struct position_s {
    char part[160], next[24];
} position_t;

static void position_of(const char *topic, int32_t partition, int64_t offset, position_t *pos) {
    pos->part[0] = pos->next[0] = '\0';
    if (partition < 0) return;
    snprintf(pos->part, sizeof pos->part, "%s:%d", topic, partition);
    snprintf(pos->next, sizeof pos->next, "%lld", (long long)offset + 1);
}

/* One event type the view applies: its appender (1 if a command was
 * appended, 0 if the event is malformed) and, for class events, the status
 * of the reply recorded for its command. */
typedef struct event_row_s {
    const char *type;
    int (*append)(redisContext *rc, const struct event_row_s *row, const sms_event_t *ev, const position_t *pos);
    int reply_status;
    const char *malformed; /* the log's words for a malformed one */
} event_row_t;

/* Starts EVALSHA <script> 0 in a. */
static void args_eval(sms_redis_args_t *a, const sms_redis_script_t *script) {
    sms_redis_args_init(a);
    sms_redis_args_add(a, "EVALSHA", 7);
    sms_redis_args_add(a, script->sha, 40);
    sms_redis_args_add(a, "0", 1);
}

/* post.created and post.updated: the post's document and sort member. */
static int append_post(redisContext *rc, const event_row_t *row, const sms_event_t *ev, const position_t *pos) {
    bool update = row->reply_status == 200;
    classes_post_t post;
    int read = update ? classes_read_post_updated(ev->data, &post) : classes_read_post(ev->data, &post);
    if (read != 0 || post.id.len == 0 || post.id.len > 64 || post.class_id.len == 0 || post.class_id.len > 64)
        return 0;
    char member[160], summary[200];
    classes_post_member(post.pinned, post.created_at, post.id.ptr, post.id.len, member, sizeof member);
    snprintf(summary, sizeof summary, "%d " CLASSES_RECORD_POST " %.*s %.*s", row->reply_status,
             (int)post.class_id.len, post.class_id.ptr, (int)post.id.len, post.id.ptr);
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_post_json(&post, &json);
    sms_redis_args_t a;
    args_eval(&a, update ? &post_update_script : &post_script);
    sms_redis_args_add(&a, post.class_id.ptr, post.class_id.len);
    sms_redis_args_add(&a, post.id.ptr, post.id.len);
    sms_redis_args_str(&a, member);
    sms_redis_args_add(&a, json.data, json.len);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_str(&a, summary);
    sms_redis_args_str(&a, pos->part);
    sms_redis_args_str(&a, pos->next);
    if (update) sms_redis_args_i64(&a, post.version);
    int rc_out = sms_redis_args_append(rc, &a) == 0;
    sms_buf_close(&json);
    return rc_out;
}

static int append_chat(redisContext *rc, const event_row_t *row, const sms_event_t *ev, const position_t *pos) {
    (void)row;
    classes_chat_t m;
    if (classes_read_chat(ev->data, &m) != 0 || m.class_id.len == 0 || m.class_id.len > 64) return 0;
    char summary[200];
    snprintf(summary, sizeof summary, "201 " CLASSES_RECORD_CHAT " %.*s %lld", (int)m.class_id.len, m.class_id.ptr,
             (long long)m.seq);
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_chat_json(&m, &json);
    sms_redis_args_t a;
    args_eval(&a, &chat_script);
    sms_redis_args_add(&a, m.class_id.ptr, m.class_id.len);
    sms_redis_args_i64(&a, m.seq);
    sms_redis_args_add(&a, json.data, json.len);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_str(&a, summary);
    sms_redis_args_str(&a, pos->part);
    sms_redis_args_str(&a, pos->next);
    int rc_out = sms_redis_args_append(rc, &a) == 0;
    sms_buf_close(&json);
    return rc_out;
}

/* A roster script call: argv grows with the students (up to 3 per student,
 * past the fixed-size sms_redis_args_t), so it is allocated here. */
typedef struct roster_call_s {
    const char **argv;
    size_t *lens;
    size_t argc;
} roster_call_t;

static void roster_arg(roster_call_t *c, const char *s, size_t n) {
    c->argv[c->argc] = s;
    c->lens[c->argc++] = n;
}

/* Appends the roster script: the fixed arguments, then students (enroll:
 * (id, name, item JSON) per student, docs[i] the JSON) or the student id. */
static int append_roster(redisContext *rc, const sms_event_t *ev, const position_t *pos, const char *cid,
                         int64_t roster_version, const char *summary, const msgpack_object *list,
                         const msgpack_object *student_id) {
    size_t n = list ? list->via.array.size : 0;
    roster_call_t c = {sms_calloc(10 + 3 * n + 1, sizeof *c.argv), sms_calloc(10 + 3 * n + 1, sizeof *c.lens), 0};
    sms_buf_t *docs = sms_calloc(n ? n : 1, sizeof *docs);
    char rv[24];
    snprintf(rv, sizeof rv, "%lld", (long long)roster_version);
    const char *fixed[] = {"EVALSHA", roster_script.sha, "0", cid, rv, NULL, summary, pos->part, pos->next,
                           list ? CLASSES_RECORD_ENROLL : CLASSES_RECORD_UNENROLL};
    for (size_t i = 0; i < 10; i++)
        if (i == 5) roster_arg(&c, ev->cause.ptr, ev->cause.len);
        else roster_arg(&c, fixed[i], strlen(fixed[i]));
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        classes_student_t st;
        sms_buf_init(&docs[i]);
        if (classes_read_student(&list->via.array.ptr[i], &st) != 0) {
            ok = 0;
            continue;
        }
        classes_render_student_json(&st, &docs[i]);
        roster_arg(&c, st.student_id.ptr, st.student_id.len);
        roster_arg(&c, st.name.ptr, st.name.len);
        roster_arg(&c, docs[i].data, docs[i].len);
    }
    if (student_id) {
        sms_str_t sid = {"", 0};
        (void)sms_mp_str(student_id, &sid.ptr, &sid.len);
        roster_arg(&c, sid.ptr, sid.len);
    }
    if (ok) redisAppendCommandArgv(rc, (int)c.argc, c.argv, c.lens);
    for (size_t i = 0; i < n; i++) sms_buf_close(&docs[i]);
    sms_free(docs);
    sms_free(c.lens);
    sms_free(c.argv);
    return ok;
}

/* The class id and roster_version every roster event carries; false if absent. */
static bool roster_head(const msgpack_object *d, char *cid, size_t cap, int64_t *roster_version) {
    return sms_mp_strcpy(sms_mp_map_get(d, "class_id"), cid, cap) &&
           sms_mp_i64(sms_mp_map_get(d, "roster_version"), roster_version);
}

static int append_enrolled(redisContext *rc, const event_row_t *row, const sms_event_t *ev, const position_t *pos) {
    (void)row;
    char cid[128], summary[200];
    int64_t roster_version, already = 0;
    const msgpack_object *list = sms_mp_map_get(ev->data, "students");
    if (!roster_head(ev->data, cid, sizeof cid, &roster_version) || list == NULL ||
        list->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    (void)sms_mp_i64(sms_mp_map_get(ev->data, "already_enrolled"), &already); /* absent: 0 */
    snprintf(summary, sizeof summary, "200 " CLASSES_RECORD_ENROLL " %s %zu %lld", cid, (size_t)list->via.array.size,
             (long long)already);
    return append_roster(rc, ev, pos, cid, roster_version, summary, list, NULL);
}

static int append_unenrolled(redisContext *rc, const event_row_t *row, const sms_event_t *ev, const position_t *pos) {
    (void)row;
    char cid[128], summary[200];
    int64_t roster_version;
    const msgpack_object *student_id = sms_mp_map_get(ev->data, "student_id");
    if (!roster_head(ev->data, cid, sizeof cid, &roster_version) || student_id == NULL) return 0;
    snprintf(summary, sizeof summary, "200 " CLASSES_RECORD_UNENROLL " %s", cid);
    return append_roster(rc, ev, pos, cid, roster_version, summary, NULL, student_id);
}

static void upper(char *dst, const char *src, size_t cap) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 32) : src[i];
    dst[i] = '\0';
}

/* class.created/updated/deactivated: the snapshot into c:<id> and the lists. */
static int append_class(redisContext *rc, const event_row_t *row, const sms_event_t *ev, const position_t *pos) {
    classes_class_t c;
    if (classes_read_snapshot(ev->data, &c) != 0) return 0;
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_json(&c, &json);
    char codeu[CLASSES_CODE_MAX * 4 + 1];
    upper(codeu, c.code, sizeof codeu);
    sms_redis_args_t a;
    args_eval(&a, &apply_script);
    sms_redis_args_str(&a, c.id);
    sms_redis_args_i64(&a, c.version);
    sms_redis_args_str(&a, c.status);
    sms_redis_args_str(&a, c.lecturer_id);
    sms_redis_args_str(&a, codeu);
    sms_redis_args_str(&a, c.code);
    sms_redis_args_str(&a, c.name);
    sms_redis_args_i64(&a, c.created_at);
    sms_redis_args_add(&a, json.data, json.len);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_i64(&a, row->reply_status);
    sms_redis_args_str(&a, pos->part);
    sms_redis_args_str(&a, pos->next);
    sms_redis_args_str(&a, c.description);
    sms_redis_args_str(&a, c.term);
    sms_redis_args_i64(&a, c.updated_at);
    int rc_out = sms_redis_args_append(rc, &a) == 0;
    sms_buf_close(&json);
    classes_class_clear(&c);
    return rc_out;
}

/* The event types the view applies, each named once here. */
static const event_row_t event_rows[] = {
    {"class.created", append_class, 201, "is not a class event this version understands"},
    {"class.updated", append_class, 200, "is not a class event this version understands"},
    {"class.deactivated", append_class, 200, "is not a class event this version understands"},
    {"class.students_enrolled", append_enrolled, 0, "is malformed"},
    {"class.student_unenrolled", append_unenrolled, 0, "is malformed"},
    {"post.created", append_post, 201, "is malformed"},
    {"post.updated", append_post, 200, "is malformed"},
    {"chat.message_posted", append_chat, 0, "is malformed"},
};

static const event_row_t *event_row(sms_str_t type) {
    for (size_t i = 0; i < sizeof event_rows / sizeof event_rows[0]; i++)
        if (strlen(event_rows[i].type) == type.len && memcmp(event_rows[i].type, type.ptr, type.len) == 0)
            return &event_rows[i];
    return NULL;
}

int classes_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
    const event_row_t *row = event_row(ev->type);
    position_t pos;
    position_of(topic, partition, offset, &pos);
    int appended = row ? row->append(rc, row, ev, &pos) : 0;
    if (!appended)
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s %s", (int)ev->type.len, ev->type.ptr, (int)ev->id.len,
                ev->id.ptr, row ? row->malformed : "is not a class event this version understands");
    return appended;
}
