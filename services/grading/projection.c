/* projection.c - applies learned class/assignment events and grade events to
 * the grading view, one Lua script per kind (see projection.h). Called by the
 * shared worker (blocking hiredis, pipelined). */
#include "projection.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"

/* Shared head of every script: offsets, and contrib(class, student, delta)
 * which keeps tot and the ranking equal for enrolled students. */
#define LUA_HEAD                                                                        \
    "local p = 'sms:grading:'\n"                                                        \
    "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n" \
    "local function contrib(cls, sid, d)\n"                                             \
    "  if d == 0 then return end\n"                                                     \
    "  local t = redis.call('HINCRBY', p .. 'tot:' .. cls, sid, d)\n"                  \
    "  if t == 0 then redis.call('HDEL', p .. 'tot:' .. cls, sid) end\n"               \
    "  if redis.call('ZSCORE', p .. 'students:' .. cls, sid) then\n"                    \
    "    redis.call('ZADD', p .. 'rank:' .. cls, t, sid)\n"                             \
    "  end\n"                                                                           \
    "end\n"

/* ARGV: 1 part, 2 next, 3 id, 4 version, 5 class, 6 lecturer, 7 max, 8 status, 9 title. */
static sms_redis_script_t assignment_script = {.source = LUA_HEAD
    "local k = p .. 'a:' .. ARGV[3]\n"
    "local cur = redis.call('HMGET', k, 'version', 'status')\n"
    "if tonumber(ARGV[4]) <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'version', ARGV[4], 'class_id', ARGV[5], 'lecturer_id', ARGV[6], 'max', ARGV[7],\n"
    "           'status', ARGV[8], 'title', ARGV[9])\n"
    "if ARGV[8] == 'deleted' and cur[2] ~= 'deleted' then\n"
    "  local g = redis.call('HGETALL', p .. 'g:' .. ARGV[3])\n"
    "  for i = 1, #g, 2 do\n"
    "    local s, r = string.match(g[i + 1], '^%d+|(%d+)|(%d)|')\n"
    "    if r == '1' then contrib(ARGV[5], g[i], -tonumber(s)) end\n"
    "  end\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 part, 2 next, 3 class, 4 roster_version, then (student, name) pairs. */
static sms_redis_script_t enrolled_script = {.source = LUA_HEAD
    "local cls = ARGV[3]\n"
    "local k = p .. 'cls:' .. cls\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, 'roster_version')) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'roster_version', ARGV[4])\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  local sid = ARGV[i]\n"
    "  redis.call('ZADD', p .. 'students:' .. cls, 0, sid)\n"
    "  redis.call('HSET', p .. 'names:' .. cls, sid, ARGV[i + 1])\n"
    "  redis.call('ZADD', p .. 'rank:' .. cls, tonumber(redis.call('HGET', p .. 'tot:' .. cls, sid)) or 0, sid)\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 part, 2 next, 3 class, 4 roster_version, 5 student. */
static sms_redis_script_t unenrolled_script = {.source = LUA_HEAD
    "local cls = ARGV[3]\n"
    "local k = p .. 'cls:' .. cls\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, 'roster_version')) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'roster_version', ARGV[4])\n"
    "redis.call('ZREM', p .. 'students:' .. cls, ARGV[5])\n"
    "redis.call('HDEL', p .. 'names:' .. cls, ARGV[5])\n"
    "redis.call('ZREM', p .. 'rank:' .. cls, ARGV[5])\n"
    "return 1\n"};

/* grade.changed and grade.released. ARGV: 1 part, 2 next, 3 cause, 4 assignment,
 * 5 class, 6 student, 7 grade_version, 8 score, 9 released 0/1, 10 time (RFC 3339),
 * 11 feedback, 12 history entry (JSON). */
static sms_redis_script_t grade_script = {.source = LUA_HEAD
    "local aid, cls, sid, ver = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])\n"
    "local gk = p .. 'g:' .. aid\n"
    "local cur = redis.call('HGET', gk, sid)\n"
    "local cv, cs, cr, cra = 0, 0, '0', ''\n"
    "if cur then\n"
    "  local v, s, r, u, ra = string.match(cur, '^(%d+)|(%d+)|(%d)|([^|]*)|([^|]*)|')\n"
    "  cv, cs, cr, cra = tonumber(v), tonumber(s), r, ra\n"
    "end\n"
    "if ver <= cv then return 0 end\n"
    "local rel = ARGV[9]\n"
    "local ra = cra\n"
    "if rel == '1' and cr ~= '1' then ra = ARGV[10] end\n"
    "redis.call('HSET', gk, sid, ARGV[7] .. '|' .. ARGV[8] .. '|' .. rel .. '|' .. ARGV[10] .. '|' .. ra .. '|' .. ARGV[11])\n"
    "redis.call('RPUSH', p .. 'h:' .. aid .. ':' .. sid, ARGV[12])\n"
    "local ck = p .. 'cmds'\n"
    "local n = tonumber(string.match(redis.call('HGET', ck, ARGV[3]) or '', '^200 (%d+)$') or '0')\n"
    "redis.call('HSET', ck, ARGV[3], '200 ' .. (n + 1))\n"
    "if rel == '1' then redis.call('HSET', p .. 'sg:' .. sid, aid, cls) end\n"
    "if redis.call('HGET', p .. 'a:' .. aid, 'status') ~= 'deleted' then\n"
    "  local old, new = 0, 0\n"
    "  if cr == '1' then old = cs end\n"
    "  if rel == '1' then new = tonumber(ARGV[8]) end\n"
    "  contrib(cls, sid, new - old)\n"
    "end\n"
    "return 1\n"};

int grading_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&assignment_script, &enrolled_script, &unenrolled_script, &grade_script};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sms_redis_script_load(rc, all[i], err, errlen) != 0) return -1;
    return 0;
}

/* An EVALSHA being built: argv strings are copied. */
typedef struct call_s {
    const char **argv;
    size_t *lens;
    char **owned;
    size_t n, cap;
} call_t;

static void call_add(call_t *c, const char *s, size_t len) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->argv = sms_realloc(c->argv, c->cap * sizeof *c->argv);
        c->lens = sms_realloc(c->lens, c->cap * sizeof *c->lens);
        c->owned = sms_realloc(c->owned, c->cap * sizeof *c->owned);
    }
    c->owned[c->n] = sms_strndup(s, len);
    c->argv[c->n] = c->owned[c->n];
    c->lens[c->n++] = len;
}

static void call_adds(call_t *c, const char *s) { call_add(c, s, strlen(s)); }
static void call_addv(call_t *c, sms_str_t s) { call_add(c, s.ptr, s.len); }

static void call_addi(call_t *c, int64_t v) {
    char b[24];
    call_add(c, b, (size_t)snprintf(b, sizeof b, "%lld", (long long)v));
}

/* Starts EVALSHA sha 0 part next. */
static void call_begin(call_t *c, const sms_redis_script_t *s, const char *topic, int32_t partition, int64_t offset) {
    memset(c, 0, sizeof *c);
    call_adds(c, "EVALSHA");
    call_adds(c, s->sha);
    call_adds(c, "0");
    char part[160] = "";
    if (partition >= 0) snprintf(part, sizeof part, "%s:%d", topic, partition);
    call_adds(c, part);
    if (partition >= 0) call_addi(c, offset + 1);
    else call_adds(c, "");
}

static int call_send(redisContext *rc, call_t *c) {
    redisAppendCommandArgv(rc, (int)c->n, c->argv, c->lens);
    for (size_t i = 0; i < c->n; i++) sms_free(c->owned[i]);
    sms_free(c->owned);
    sms_free(c->argv);
    sms_free(c->lens);
    return 1;
}

static bool get_str(const msgpack_object *data, const char *key, sms_str_t *out) {
    return sms_mp_str(sms_mp_map_get(data, key), &out->ptr, &out->len);
}

static bool type_is(const sms_event_t *ev, const char *t) {
    return ev->type.len == strlen(t) && memcmp(ev->type.ptr, t, ev->type.len) == 0;
}

static int skip(const sms_event_t *ev) {
    sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks a field this version needs", (int)ev->type.len,
            ev->type.ptr, (int)ev->id.len, ev->id.ptr);
    return 0;
}

static int append_assignment(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off) {
    sms_str_t id, cls, lec, status, title = {"", 0};
    int64_t version;
    double max;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "id", &id) || !get_str(d, "class_id", &cls) || !get_str(d, "lecturer_id", &lec) ||
        !get_str(d, "status", &status) || !sms_mp_i64(sms_mp_map_get(d, "version"), &version) ||
        !grading_number(sms_mp_map_get(d, "max_score"), &max))
        return skip(ev);
    get_str(d, "title", &title);
    call_t c;
    call_begin(&c, &assignment_script, topic, part, off);
    call_addv(&c, id);
    call_addi(&c, version);
    call_addv(&c, cls);
    call_addv(&c, lec);
    call_addi(&c, grading_hundredths(max));
    call_addv(&c, status);
    call_addv(&c, title);
    return call_send(rc, &c);
}

static int append_enrolled(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off) {
    sms_str_t cls;
    int64_t rv;
    const msgpack_object *d = ev->data, *list = sms_mp_map_get(d, "students");
    if (!get_str(d, "class_id", &cls) || !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv) || list == NULL ||
        list->type != MSGPACK_OBJECT_ARRAY)
        return skip(ev);
    call_t c;
    call_begin(&c, &enrolled_script, topic, part, off);
    call_addv(&c, cls);
    call_addi(&c, rv);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        sms_str_t sid, name = {"", 0};
        if (!get_str(&list->via.array.ptr[i], "student_id", &sid)) continue;
        get_str(&list->via.array.ptr[i], "name", &name);
        call_addv(&c, sid);
        call_addv(&c, name);
    }
    return call_send(rc, &c);
}

static int append_unenrolled(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off) {
    sms_str_t cls, sid;
    int64_t rv;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "class_id", &cls) || !get_str(d, "student_id", &sid) ||
        !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv))
        return skip(ev);
    call_t c;
    call_begin(&c, &unenrolled_script, topic, part, off);
    call_addv(&c, cls);
    call_addi(&c, rv);
    call_addv(&c, sid);
    return call_send(rc, &c);
}

static int append_grade(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off,
                        bool released_event) {
    sms_str_t aid, cls, sid, fb, by = ev->actor;
    int64_t ver, at = ev->time;
    double score, prev = 0;
    bool released = true, had_prev = released_event;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "assignment_id", &aid) || !get_str(d, "class_id", &cls) || !get_str(d, "student_id", &sid) ||
        !get_str(d, "feedback", &fb) || !grading_number(sms_mp_map_get(d, "score"), &score) ||
        !sms_mp_i64(sms_mp_map_get(d, "grade_version"), &ver))
        return skip(ev);
    if (released_event) {
        prev = score;
    } else {
        const msgpack_object *r = sms_mp_map_get(d, "released");
        if (r == NULL || r->type != MSGPACK_OBJECT_BOOLEAN || !sms_mp_i64(sms_mp_map_get(d, "changed_at"), &at) ||
            !get_str(d, "changed_by", &by))
            return skip(ev);
        released = r->via.boolean;
        had_prev = grading_number(sms_mp_map_get(d, "previous_score"), &prev);
    }
    char when[SMS_RFC3339_LEN];
    sms_rfc3339(at, when);
    sms_buf_t h; /* the history entry, rendered once here so reads only concatenate */
    sms_buf_init(&h);
    sms_buf_puts(&h, "{\"score\":");
    grading_score_json(&h, grading_hundredths(score));
    sms_buf_puts(&h, ",\"previous_score\":");
    if (had_prev) grading_score_json(&h, grading_hundredths(prev));
    else sms_buf_puts(&h, "null");
    sms_buf_puts(&h, ",\"feedback\":");
    sms_buf_json_str(&h, fb.ptr, fb.len);
    sms_buf_printf(&h, ",\"released\":%s,\"changed_by\":", released ? "true" : "false");
    sms_buf_json_str(&h, by.ptr, by.len);
    sms_buf_printf(&h, ",\"changed_at\":\"%s\"}", when);
    call_t c;
    call_begin(&c, &grade_script, topic, part, off);
    call_addv(&c, ev->cause);
    call_addv(&c, aid);
    call_addv(&c, cls);
    call_addv(&c, sid);
    call_addi(&c, ver);
    call_addi(&c, grading_hundredths(score));
    call_adds(&c, released ? "1" : "0");
    call_adds(&c, when);
    call_addv(&c, fb);
    call_add(&c, h.data, h.len);
    sms_buf_close(&h);
    return call_send(rc, &c);
}

int grading_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
    if (type_is(ev, "grade.changed")) return append_grade(rc, topic, ev, partition, offset, false);
    if (type_is(ev, "grade.released")) return append_grade(rc, topic, ev, partition, offset, true);
    if (ev->v != 1) return 0; /* a learned event of a version this view does not know */
    if (type_is(ev, "assignment.created") || type_is(ev, "assignment.updated") || type_is(ev, "assignment.deleted"))
        return append_assignment(rc, topic, ev, partition, offset);
    if (type_is(ev, "class.students_enrolled")) return append_enrolled(rc, topic, ev, partition, offset);
    if (type_is(ev, "class.student_unenrolled")) return append_unenrolled(rc, topic, ev, partition, offset);
    return 0; /* class.created and the rest: not for this view */
}
