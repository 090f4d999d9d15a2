/* projection.c - applies class events to Redis with one Lua script (see projection.h). */
#include "projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
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

int classes_projection_init(redisContext *rc, char *err, size_t errlen) {
    return sms_redis_script_load(rc, &apply_script, err, errlen);
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

int classes_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
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
