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
#include "worker.h"

/* Shared start of every script: contrib(class, student, delta), which keeps
 * tot and the ranking equal for enrolled students. */
#define LUA_CONTRIB                                                                     \
    "local p = 'sms:grading:'\n"                                                        \
    "local function contrib(cls, sid, d)\n"                                             \
    "  if d == 0 then return end\n"                                                     \
    "  local t = redis.call('HINCRBY', p .. 'tot:' .. cls, sid, d)\n"                  \
    "  if t == 0 then redis.call('HDEL', p .. 'tot:' .. cls, sid) end\n"               \
    "  if redis.call('ZSCORE', p .. 'students:' .. cls, sid) then\n"                    \
    "    redis.call('ZADD', p .. 'rank:' .. cls, t, sid)\n"                             \
    "  end\n"                                                                           \
    "end\n"

/* The head of the one-event scripts: ARGV 1 "<topic>:<partition>" ("" when
 * applied right after being produced), 2 the next offset. */
#define LUA_HEAD LUA_CONTRIB "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n"

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
/* grade(cause, assignment, class, student, version, score (hundredths),
 * released "1"|"0", changed_at, feedback, history entry, counts): applies one
 * grade.changed / grade.released unless the sheet holds that version already;
 * counts[cause] counts the grades each command changed (written to cmds by
 * flush_counts, once per command). */
#define LUA_GRADE                                                                                        \
    "local function grade(cause, aid, cls, sid, vs, score, rel, when, fb, hist, counts)\n"                \
    "  local gk = p .. 'g:' .. aid\n"                                                                    \
    "  local cur = redis.call('HGET', gk, sid)\n"                                                        \
    "  local cv, cs, cr, cra = 0, 0, '0', ''\n"                                                          \
    "  if cur then\n"                                                                                    \
    "    local v, s, r, u, ra = string.match(cur, '^(%d+)|(%d+)|(%d)|([^|]*)|([^|]*)|')\n"                \
    "    cv, cs, cr, cra = tonumber(v), tonumber(s), r, ra\n"                                            \
    "  end\n"                                                                                            \
    "  if tonumber(vs) <= cv then return 0 end\n"                                                        \
    "  local ra = cra\n"                                                                                 \
    "  if rel == '1' and cr ~= '1' then ra = when end\n"                                                 \
    "  redis.call('HSET', gk, sid, vs .. '|' .. score .. '|' .. rel .. '|' .. when .. '|' .. ra .. '|' .. fb)\n" \
    "  redis.call('RPUSH', p .. 'h:' .. aid .. ':' .. sid, hist)\n"                                      \
    "  counts[cause] = (counts[cause] or 0) + 1\n"                                                       \
    "  if rel == '1' then redis.call('HSET', p .. 'sg:' .. sid, aid, cls) end\n"                         \
    "  if redis.call('HGET', p .. 'a:' .. aid, 'status') ~= 'deleted' then\n"                            \
    "    local old, new = 0, 0\n"                                                                        \
    "    if cr == '1' then old = cs end\n"                                                               \
    "    if rel == '1' then new = tonumber(score) end\n"                                                 \
    "    contrib(cls, sid, new - old)\n"                                                                 \
    "  end\n"                                                                                            \
    "  return 1\n"                                                                                       \
    "end\n"                                                                                              \
    "local function flush_counts(counts)\n"                                                              \
    "  local ck = p .. 'cmds'\n"                                                                         \
    "  for cause, k in pairs(counts) do\n"                                                               \
    "    local n = tonumber(string.match(redis.call('HGET', ck, cause) or '', '^200 (%d+)$') or '0')\n"   \
    "    redis.call('HSET', ck, cause, '200 ' .. (n + k))\n"                                             \
    "  end\n"                                                                                            \
    "end\n"

#define GRADE_ROW_ARGS 10 /* ARGV per grade: cause .. history entry */

/* ARGV: 1 part, 2 next, 3.. one grade's GRADE_ROW_ARGS. */
static sms_redis_script_t grade_script = {.source = LUA_HEAD LUA_GRADE
    "local counts = {}\n"
    "local r = grade(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], counts)\n"
    "flush_counts(counts)\n"
    "return r\n"};

/* Many grades in one call (an update-grades of 100 rows is 100 events of one
 * command: one script run instead of 100). ARGV: 1 k, then k pairs
 * ("<topic>:<partition>", next offset), then GRADE_ROW_ARGS per grade, in log
 * order. Returns how many grades changed the view. */
static sms_redis_script_t grades_script = {.source = LUA_CONTRIB LUA_GRADE
    "local k = tonumber(ARGV[1])\n"
    "local counts, applied = {}, 0\n"
    "for i = 2 * k + 2, #ARGV, 10 do\n"
    "  applied = applied + grade(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5],\n"
    "                            ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9], counts)\n"
    "end\n"
    "flush_counts(counts)\n"
    /* positions last: a run that fails part-way must not record that it got past its events */
    "for i = 2, 2 * k, 2 do redis.call('HSET', p .. 'offsets', ARGV[i], ARGV[i + 1]) end\n"
    "return applied\n"};

int grading_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&assignment_script, &enrolled_script, &unenrolled_script, &grade_script,
                                 &grades_script};
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

static void call_free(call_t *c) {
    for (size_t i = 0; i < c->n; i++) sms_free(c->owned[i]);
    sms_free(c->owned);
    sms_free(c->argv);
    sms_free(c->lens);
}

static int call_send(redisContext *rc, call_t *c) {
    redisAppendCommandArgv(rc, (int)c->n, c->argv, c->lens);
    call_free(c);
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

/* Adds one grade event's GRADE_ROW_ARGS to c. Returns false (nothing added)
 * for an event that lacks a field this version needs. */
static bool grade_row(call_t *c, const sms_event_t *ev, bool released_event) {
    sms_str_t aid, cls, sid, fb, by = ev->actor;
    int64_t ver, at = ev->time;
    double score, prev = 0;
    bool released = true, had_prev = released_event;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "assignment_id", &aid) || !get_str(d, "class_id", &cls) || !get_str(d, "student_id", &sid) ||
        !get_str(d, "feedback", &fb) || !grading_number(sms_mp_map_get(d, "score"), &score) ||
        !sms_mp_i64(sms_mp_map_get(d, "grade_version"), &ver))
        return false;
    if (released_event) {
        prev = score;
    } else {
        const msgpack_object *r = sms_mp_map_get(d, "released");
        if (r == NULL || r->type != MSGPACK_OBJECT_BOOLEAN || !sms_mp_i64(sms_mp_map_get(d, "changed_at"), &at) ||
            !get_str(d, "changed_by", &by))
            return false;
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
    sms_buf_printf(&h, ",\"changed_at\":\"%s\"", when);
    sms_str_t reason;
    if (type_is(ev, "grade.corrected") && get_str(d, "reason", &reason)) { /* a correction says why */
        sms_buf_puts(&h, ",\"reason\":");
        sms_buf_json_str(&h, reason.ptr, reason.len);
    }
    sms_buf_putc(&h, '}');
    call_addv(c, ev->cause);
    call_addv(c, aid);
    call_addv(c, cls);
    call_addv(c, sid);
    call_addi(c, ver);
    call_addi(c, grading_hundredths(score));
    call_adds(c, released ? "1" : "0");
    call_adds(c, when);
    call_addv(c, fb);
    call_add(c, h.data, h.len);
    sms_buf_close(&h);
    return true;
}

static int append_grade(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off,
                        bool released_event) {
    call_t c;
    call_begin(&c, &grade_script, topic, part, off);
    if (!grade_row(&c, ev, released_event)) {
        call_free(&c);
        return skip(ev);
    }
    return call_send(rc, &c);
}

/* grade.corrected: the grade as grade.changed sets it, and the position it
 * repairs leaves the incomplete sets of its assignment and class
 * (common/quarantine.h); the quarantine entry stays, as history. Returns the
 * commands appended. */
static int append_corrected(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t part, int64_t off) {
    int n = append_grade(rc, topic, ev, part, off, false);
    sms_str_t repairs, aid, cls;
    if (n == 0 || !get_str(ev->data, "repairs", &repairs) || !get_str(ev->data, "assignment_id", &aid) ||
        !get_str(ev->data, "class_id", &cls))
        return n;
    redisAppendCommand(rc, "SREM sms:grading:incomplete:%b %b", aid.ptr, aid.len, repairs.ptr, repairs.len);
    redisAppendCommand(rc, "SREM sms:grading:incomplete:%b %b", cls.ptr, cls.len, repairs.ptr, repairs.len);
    return n + 2;
}

int grading_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
    if (type_is(ev, "grade.changed")) return append_grade(rc, topic, ev, partition, offset, false);
    if (type_is(ev, "grade.released")) return append_grade(rc, topic, ev, partition, offset, true);
    if (type_is(ev, "grade.corrected")) return append_corrected(rc, topic, ev, partition, offset);
    if (ev->v != 1) return 0; /* a learned event of a version this view does not know */
    if (type_is(ev, "assignment.created") || type_is(ev, "assignment.updated") || type_is(ev, "assignment.deleted"))
        return append_assignment(rc, topic, ev, partition, offset);
    if (type_is(ev, "class.students_enrolled")) return append_enrolled(rc, topic, ev, partition, offset);
    if (type_is(ev, "class.student_unenrolled")) return append_unenrolled(rc, topic, ev, partition, offset);
    return 0; /* class.created and the rest: not for this view */
}

static int grade_kind(const sms_event_t *ev) {
    if (type_is(ev, "grade.changed")) return 1;
    if (type_is(ev, "grade.released")) return 2;
    return 0;
}

/* Appends one grades_script run for the grade events evs[0..n) (all grade
 * events, in log order, whose positions are pos), recording those
 * positions (the unreadable events' too). Returns 1. */
static size_t append_grades(redisContext *rc, const char *topic, const sms_event_t *evs, size_t n,
                            const sms_positions_t *pos) {
    call_t rows;
    memset(&rows, 0, sizeof rows);
    for (size_t i = 0; i < n; i++)
        if (!grade_row(&rows, &evs[i], grade_kind(&evs[i]) == 2)) (void)skip(&evs[i]); /* logged; its offset is recorded */
    call_t c;
    memset(&c, 0, sizeof c);
    call_adds(&c, "EVALSHA");
    call_adds(&c, grades_script.sha);
    call_adds(&c, "0");
    call_addi(&c, (int64_t)pos->k);
    for (size_t j = 0; j < pos->k; j++) {
        char part[160];
        snprintf(part, sizeof part, "%s:%d", topic, pos->partition[j]);
        call_adds(&c, part);
        call_addi(&c, pos->next[j]);
    }
    for (size_t i = 0; i < rows.n; i++) call_add(&c, rows.argv[i], rows.lens[i]);
    call_free(&rows);
    return (size_t)call_send(rc, &c);
}

size_t grading_projection_append_many(redisContext *rc, const char *topic, const sms_event_t *evs,
                                      const int32_t *partitions, const int64_t *offsets, size_t n) {
    size_t appended = 0;
    for (size_t i = 0; i < n;) {
        if (grade_kind(&evs[i])) {
            /* the run of consecutive grade events (split where its partitions would not fit) */
            size_t j = i;
            while (j < n && grade_kind(&evs[j])) j++;
            sms_positions_t pos;
            size_t m = sms_positions_collect(&pos, partitions + i, offsets + i, j - i);
            appended += append_grades(rc, topic, evs + i, m, &pos);
            i += m;
            continue;
        }
        int a = grading_projection_append(rc, topic, &evs[i], partitions[i], offsets[i]);
        if (a > 0) appended += (size_t)a;
        else if (partitions[i] >= 0) /* not for this view: its offset is recorded all the same (worker.h) */
            appended += (size_t)sms_worker_append_position(rc, "sms:grading:", topic, partitions[i], offsets[i]);
        i++;
    }
    return appended;
}
