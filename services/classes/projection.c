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

/* ARGV: 1 id, 2 version, 3 status, 4 lecturer, 5 CODE, 6 code, 7 name,
 * 8 created_at, 9 json, 10 cause, 11 reply status, 12 "<topic>:<partition>" ("" = none),
 * 13 next offset, 14 description, 15 term, 16 updated_at.
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t apply_script = {.source =
    "local p = 'sms:classes:'\n"
    "local id, ver, status, lec = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]\n"
    "if ARGV[12] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[12], ARGV[13]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[10], ARGV[11] .. ' ' .. id)\n"
    "local k = p .. 'c:' .. id\n"
    "local cur = redis.call('HMGET', k, 'version', 'status', 'codeu')\n"
    "if ver <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "local codes = p .. 'code:' .. lec .. ':'\n"
    "if cur[2] == 'active' then redis.call('SREM', codes .. cur[3], id) end\n"
    "redis.call('HSET', k, 'lecturer_id', lec, 'status', status, 'version', ARGV[2],\n"
    "           'codeu', ARGV[5], 'code', ARGV[6], 'name', ARGV[7], 'json', ARGV[9],\n"
    "           'description', ARGV[14], 'term', ARGV[15], 'created_at', ARGV[8], 'updated_at', ARGV[16])\n"
    "redis.call('HSET', p .. 'docs:' .. lec, id, ARGV[9])\n"
    "local member = string.format('%013d', tonumber(ARGV[8])) .. ':' .. id\n"
    "local l = p .. 'l:' .. lec .. ':'\n"
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
    "local p = 'sms:classes:'\n"
    "local cid, rv = ARGV[1], tonumber(ARGV[2])\n"
    "if ARGV[5] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[5], ARGV[6]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[3], ARGV[4])\n"
    "local ck = p .. 'c:' .. cid\n"
    "local cur = redis.call('HMGET', ck, 'roster_version', 'created_at')\n"
    "if rv <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "redis.call('HSET', ck, 'roster_version', ARGV[2])\n"
    /* The student's classes, in the lecturer lists' order (creation time). */
    "local smember = string.format('%013d', tonumber(cur[2]) or 0) .. ':' .. cid\n"
    "local roster, docs = p .. 'roster:' .. cid, p .. 'rdoc:' .. cid\n"
    "if ARGV[7] == 'enroll' then\n"
    "  for i = 8, #ARGV - 2, 3 do\n"
    "    local sid = ARGV[i]\n"
    "    if redis.call('HSETNX', docs, sid, ARGV[i + 2]) == 1 then\n"
    "      redis.call('ZADD', roster, 0, string.lower(ARGV[i + 1]) .. '\\0' .. sid)\n"
    "      redis.call('ZADD', p .. 'sclasses:' .. sid, 0, smember)\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  local sid = ARGV[8]\n"
    "  local doc = redis.call('HGET', docs, sid)\n"
    "  if doc then\n"
    "    redis.call('ZREM', roster, string.lower(cjson.decode(doc).name) .. '\\0' .. sid)\n"
    "    redis.call('HDEL', docs, sid)\n"
    "    redis.call('ZREM', p .. 'sclasses:' .. sid, smember)\n"
    "  end\n"
    "end\n"
    "return 1\n"};

/* post.created. ARGV: 1 class id, 2 post id, 3 sort member, 4 post JSON,
 * 5 cause, 6 reply summary, 7 "<topic>:<partition>" ("" = none), 8 next offset.
 * Posts are immutable: applied once, keyed by post id (SETNX), so the
 * application right after production and the tailer's change nothing twice.
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t post_script = {.source =
    "local p = 'sms:classes:'\n"
    "if ARGV[7] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[7], ARGV[8]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[5], ARGV[6])\n"
    "if redis.call('SETNX', p .. 'post:' .. ARGV[2], ARGV[4]) == 0 then return 0 end\n"
    "redis.call('ZADD', p .. 'posts:' .. ARGV[1], 0, ARGV[3])\n"
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
    "local p = 'sms:classes:'\n"
    "local cid, seq = ARGV[1], tonumber(ARGV[2])\n"
    "if ARGV[6] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[6], ARGV[7]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[4], ARGV[5])\n"
    "local ck = p .. 'c:' .. cid\n"
    "if seq > (tonumber(redis.call('HGET', ck, 'chat_seq')) or 0) then redis.call('HSET', ck, 'chat_seq', ARGV[2]) end\n"
    "if redis.call('ZADD', p .. 'chat:' .. cid, seq, ARGV[3]) == 0 then return 0 end\n"
    "redis.call('PUBLISH', '" CLASSES_CHAT_CHANNEL "', cid)\n"
    "return 1\n"};

int classes_projection_init(redisContext *rc, char *err, size_t errlen) {
    if (sms_redis_script_load(rc, &apply_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &post_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &chat_script, err, errlen) != 0) return -1;
    return sms_redis_script_load(rc, &roster_script, err, errlen);
}

void classes_post_member(bool pinned, int64_t created_at, const char *id, size_t idlen, char *out, size_t cap) {
    snprintf(out, cap, "%c%013lld:%.*s", pinned ? '1' : '0', (long long)created_at, (int)idlen, id);
}

/* Appends the post script for a post.created event; 0 if it is malformed. */
static int append_post(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                       int64_t offset) {
    classes_post_t post;
    if (classes_read_post(ev->data, &post) != 0 || post.id.len == 0 || post.id.len > 64 || post.class_id.len == 0 ||
        post.class_id.len > 64)
        return 0;
    char member[160], summary[200], part[160] = "", next[24] = "";
    classes_post_member(post.pinned, post.created_at, post.id.ptr, post.id.len, member, sizeof member);
    snprintf(summary, sizeof summary, "201 post %.*s %.*s", (int)post.class_id.len, post.class_id.ptr,
             (int)post.id.len, post.id.ptr);
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_post_json(&post, &json);
    const char *argv[] = {"EVALSHA", post_script.sha, "0", post.class_id.ptr, post.id.ptr, member, json.data,
                          ev->cause.ptr, summary, part, next};
    size_t lens[] = {7, 40, 1, post.class_id.len, post.id.len, strlen(member), json.len, ev->cause.len,
                     strlen(summary), strlen(part), strlen(next)};
    redisAppendCommandArgv(rc, 11, argv, lens);
    sms_buf_close(&json);
    return 1;
}

/* Appends the chat script for a chat.message_posted event; 0 if it is malformed. */
static int append_chat(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                       int64_t offset) {
    classes_chat_t m;
    if (classes_read_chat(ev->data, &m) != 0 || m.class_id.len == 0 || m.class_id.len > 64) return 0;
    char seq[24], summary[200], part[160] = "", next[24] = "";
    snprintf(seq, sizeof seq, "%lld", (long long)m.seq);
    snprintf(summary, sizeof summary, "201 chat %.*s %s", (int)m.class_id.len, m.class_id.ptr, seq);
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_chat_json(&m, &json);
    const char *argv[] = {"EVALSHA", chat_script.sha, "0", m.class_id.ptr, seq, json.data, ev->cause.ptr, summary,
                          part, next};
    size_t lens[] = {7, 40, 1, m.class_id.len, strlen(seq), json.len, ev->cause.len, strlen(summary), strlen(part),
                     strlen(next)};
    redisAppendCommandArgv(rc, 10, argv, lens);
    sms_buf_close(&json);
    return 1;
}

static void upper(char *dst, const char *src, size_t cap) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 32) : src[i];
    dst[i] = '\0';
}

static int reply_status_of(const sms_event_t *ev) {
    return ev->type.len == 13 && memcmp(ev->type.ptr, "class.created", 13) == 0 ? 201 : 200;
}

static bool is_class_event(const sms_event_t *ev) {
    static const char *const types[] = {"class.created", "class.updated", "class.deactivated"};
    for (size_t i = 0; i < 3; i++)
        if (ev->type.len == strlen(types[i]) && memcmp(ev->type.ptr, types[i], ev->type.len) == 0) return true;
    return false;
}

static bool type_is(const sms_event_t *ev, const char *t) {
    return ev->type.len == strlen(t) && memcmp(ev->type.ptr, t, ev->type.len) == 0;
}

/* Appends the roster script for a roster event; 0 if it is malformed. */
static int append_roster(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset, bool enroll) {
    const msgpack_object *d = ev->data;
    char cid[128], rv[24], part[160] = "", next[24] = "", summary[200];
    int64_t roster_version, already = 0;
    const msgpack_object *list = sms_mp_map_get(d, "students");
    if (!sms_mp_strcpy(sms_mp_map_get(d, "class_id"), cid, sizeof cid) ||
        !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &roster_version))
        return 0;
    if (enroll && (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)) return 0;
    if (!enroll && sms_mp_map_get(d, "student_id") == NULL) return 0;
    size_t n = enroll ? list->via.array.size : 1;
    if (enroll) {
        (void)sms_mp_i64(sms_mp_map_get(d, "already_enrolled"), &already); /* absent: 0 */
        snprintf(summary, sizeof summary, "200 enroll %s %zu %lld", cid, n, (long long)already);
    } else {
        snprintf(summary, sizeof summary, "200 unenroll %s", cid);
    }
    snprintf(rv, sizeof rv, "%lld", (long long)roster_version);
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
    size_t argc = 10 + (enroll ? 3 * n : 1);
    const char **argv = sms_calloc(argc, sizeof *argv);
    size_t *lens = sms_calloc(argc, sizeof *lens);
    sms_buf_t *docs = enroll ? sms_calloc(n ? n : 1, sizeof *docs) : NULL;
    const char *fixed[] = {"EVALSHA", roster_script.sha, "0", cid, rv, ev->cause.ptr, summary, part, next,
                           enroll ? "enroll" : "unenroll"};
    for (size_t i = 0; i < 10; i++) {
        argv[i] = fixed[i];
        lens[i] = i == 5 ? ev->cause.len : strlen(fixed[i]);
    }
    int rc_out = 1;
    if (enroll) {
        for (size_t i = 0; i < n; i++) {
            classes_student_t st;
            sms_buf_init(&docs[i]);
            if (classes_read_student(&list->via.array.ptr[i], &st) != 0) {
                rc_out = 0;
                continue;
            }
            classes_render_student_json(&st, &docs[i]);
            argv[10 + 3 * i] = st.student_id.ptr;
            lens[10 + 3 * i] = st.student_id.len;
            argv[11 + 3 * i] = st.name.ptr;
            lens[11 + 3 * i] = st.name.len;
            argv[12 + 3 * i] = docs[i].data;
            lens[12 + 3 * i] = docs[i].len;
        }
    } else {
        sms_mp_str(sms_mp_map_get(d, "student_id"), &argv[10], &lens[10]);
    }
    if (rc_out) redisAppendCommandArgv(rc, (int)argc, argv, lens);
    for (size_t i = 0; enroll && i < n; i++) sms_buf_close(&docs[i]);
    sms_free(docs);
    sms_free(lens);
    sms_free(argv);
    return rc_out;
}

int classes_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
    if (type_is(ev, "post.created")) {
        int appended = append_post(rc, topic, ev, partition, offset);
        if (!appended)
            sms_log(SMS_LOG_WARN, "event_skipped", "post.created %.*s is malformed", (int)ev->id.len, ev->id.ptr);
        return appended;
    }
    if (type_is(ev, "chat.message_posted")) {
        int appended = append_chat(rc, topic, ev, partition, offset);
        if (!appended)
            sms_log(SMS_LOG_WARN, "event_skipped", "chat.message_posted %.*s is malformed", (int)ev->id.len,
                    ev->id.ptr);
        return appended;
    }
    bool enroll = type_is(ev, "class.students_enrolled");
    if (enroll || type_is(ev, "class.student_unenrolled")) {
        int appended = append_roster(rc, topic, ev, partition, offset, enroll);
        if (!appended)
            sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s is malformed", (int)ev->type.len, ev->type.ptr,
                    (int)ev->id.len, ev->id.ptr);
        return appended;
    }
    classes_class_t c;
    if (!is_class_event(ev) || classes_read_snapshot(ev->data, &c) != 0) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s is not a class event this version understands",
                (int)ev->type.len, ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_json(&c, &json);
    char ver[24], created[24], updated[24], status[8], part[160] = "", next[24] = "", codeu[CLASSES_CODE_MAX * 4 + 1];
    snprintf(ver, sizeof ver, "%lld", (long long)c.version);
    snprintf(created, sizeof created, "%lld", (long long)c.created_at);
    snprintf(updated, sizeof updated, "%lld", (long long)c.updated_at);
    snprintf(status, sizeof status, "%d", reply_status_of(ev));
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
    upper(codeu, c.code, sizeof codeu);
    const char *argv[] = {"EVALSHA", apply_script.sha, "0", c.id, ver, c.status, c.lecturer_id, codeu,
                          c.code, c.name, created, json.data, ev->cause.ptr, status, part, next,
                          c.description, c.term, updated};
    size_t argvlen[] = {7, 40, 1, strlen(c.id), strlen(ver), strlen(c.status), strlen(c.lecturer_id),
                        strlen(codeu), strlen(c.code), strlen(c.name), strlen(created), json.len,
                        ev->cause.len, strlen(status), strlen(part), strlen(next),
                        strlen(c.description), strlen(c.term), strlen(updated)};
    redisAppendCommandArgv(rc, 19, argv, argvlen);
    sms_buf_close(&json);
    classes_class_clear(&c);
    return 1;
}
