/* projection.c - applies assignment, submission, class and roster events to
 * Redis, one Lua script each (see projection.h). Called by the worker's batch loop and tailer. */
#include "projection.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"

/* Keeps remind (zset id -> due_at, what the reminder scan reads) equal to
 * "the assignment is open, its class is not inactive and no
 * assignment.due_soon was applied for its current due_at (rem:<id>)".
 * Every script that changes one of those inputs calls it, so the zset is a
 * function of the inputs' final state whatever order the topics replay in. */
#define REMIND_SYNC_LUA                                                                                      \
    "local function remind_sync(p, id)\n"                                                                    \
    "  local a = redis.call('HMGET', p .. 'a:' .. id, 'status', 'due_at', 'class_id')\n"                   \
    "  local on = a[1] == 'open' and redis.call('HGET', p .. 'cls:' .. a[3], 'status') ~= 'inactive'\n"    \
    "    and redis.call('SISMEMBER', p .. 'rem:' .. id, a[2]) == 0\n"                                        \
    "  if on then redis.call('ZADD', p .. 'remind', a[2], id) else redis.call('ZREM', p .. 'remind', id) end\n" \
    "end\n"

/* ARGV: 1 id, 2 version, 3 status, 4 lecturer, 5 class id, 6 title, 7 description,
 * 8 due_at, 9 max_score, 10 created_at, 11 updated_at, 12 doc, 13 due member,
 * 14 created member, 15 cause, 16 reply status, 17 "<topic>:<partition>" ("" = none),
 * 18 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t apply_script = {.source =
    REMIND_SYNC_LUA
    "local p = 'sms:assignments:'\n"
    "local id, ver, status, cls = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[5]\n"
    "if ARGV[17] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[17], ARGV[18]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[15], ARGV[16] .. ' ' .. id)\n"
    "local k = p .. 'a:' .. id\n"
    "local cur = redis.call('HMGET', k, 'version', 'dm', 'cm', 'due_at')\n"
    "if ver <= (tonumber(cur[1]) or 0) then return 0 end\n"
    /* When the current due date was set: the earliest time its reminder may carry. */
    "if cur[4] ~= ARGV[8] then redis.call('HSET', k, 'due_set_at', ARGV[11]) end\n"
    "if cur[2] then redis.call('ZREM', p .. 'd:' .. cls, cur[2]) end\n"
    "if cur[3] then redis.call('ZREM', p .. 'n:' .. cls, cur[3]) end\n"
    "redis.call('HSET', k, 'class_id', cls, 'lecturer_id', ARGV[4], 'status', status, 'version', ARGV[2],\n"
    "           'title', ARGV[6], 'description', ARGV[7], 'due_at', ARGV[8], 'max_score', ARGV[9],\n"
    "           'created_at', ARGV[10], 'updated_at', ARGV[11], 'doc', ARGV[12], 'dm', ARGV[13], 'cm', ARGV[14])\n"
    /* Counts belong to later events (submissions, grades): never reset them. */
    "redis.call('HSETNX', k, 'submission_count', 0)\n"
    /* graded_count is a function of gr:<id> alone, whichever of the two topics came first. */
    "redis.call('HSET', k, 'graded_count', redis.call('HLEN', p .. 'gr:' .. id))\n"
    "if status ~= 'deleted' then\n"
    "  redis.call('ZADD', p .. 'd:' .. cls, 0, ARGV[13])\n"
    "  redis.call('ZADD', p .. 'n:' .. cls, 0, ARGV[14])\n"
    "end\n"
    "remind_sync(p, id)\n"
    "return 1\n"};

/* ARGV: 1 class id, 2 lecturer, 3 status, 4 version, 5 "<topic>:<partition>" ("" = none),
 * 6 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t class_script = {.source =
    REMIND_SYNC_LUA
    "local p = 'sms:assignments:'\n"
    "if ARGV[5] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[5], ARGV[6]) end\n"
    "local k = p .. 'cls:' .. ARGV[1]\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, 'version')) or 0) then return 0 end\n"
    "local was = redis.call('HGET', k, 'status')\n"
    "redis.call('HSET', k, 'lecturer_id', ARGV[2], 'status', ARGV[3], 'version', ARGV[4])\n"
    /* d:<class> members are "<due_at, 15 digits>:<id>": the class's assignments not deleted. */
    "if was ~= ARGV[3] then\n"
    "  for _, m in ipairs(redis.call('ZRANGE', p .. 'd:' .. ARGV[1], 0, -1)) do remind_sync(p, string.sub(m, 17)) end\n"
    "end\n"
    "return 1\n"};

/* assignment.due_soon. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next
 * offset, 3 assignment id, 4 due_at (ms). Records that due date as reminded
 * (rem:<id>, a set: a due date moved away and back is not reminded twice).
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t due_soon_script = {.source =
    REMIND_SYNC_LUA
    "local p = 'sms:assignments:'\n"
    "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n"
    "local added = redis.call('SADD', p .. 'rem:' .. ARGV[3], ARGV[4])\n"
    "remind_sync(p, ARGV[3])\n"
    "return added\n"};

/* Roster events. ARGV: 1 class id, 2 roster_version, 3 "<topic>:<partition>"
 * ("" = none), 4 next offset, 5 "enroll"|"unenroll", 6.. student ids. Gated on
 * cls:<id>'s roster_version, a field class events never touch. */
static sms_redis_script_t roster_script = {.source =
    "local p = 'sms:assignments:'\n"
    "if ARGV[3] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[3], ARGV[4]) end\n"
    "local k = p .. 'cls:' .. ARGV[1]\n"
    "if tonumber(ARGV[2]) <= (tonumber(redis.call('HGET', k, 'roster_version')) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'roster_version', ARGV[2])\n"
    "local r = p .. 'roster:' .. ARGV[1]\n"
    "for i = 6, #ARGV do\n"
    "  if ARGV[5] == 'enroll' then redis.call('SADD', r, ARGV[i]) else redis.call('SREM', r, ARGV[i]) end\n"
    "end\n"
    "return 1\n"};

/* submission.created. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next offset,
 * 3 cause, 4 cmds summary, 5 assignment id, 6 student, 7 version, 8 the
 * lecturer list item (JSON), 9 the student's summary (JSON). Gated on the
 * version per (assignment, student); a student's first submission bumps the
 * assignment's submission_count. Returns 1 if applied, 0 if not. */
static sms_redis_script_t submission_script = {.source =
    "local p = 'sms:assignments:'\n"
    "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[3], ARGV[4])\n"
    "local aid, sid = ARGV[5], ARGV[6]\n"
    "local cur = tonumber(redis.call('HGET', p .. 'sv:' .. aid, sid))\n"
    "if cur and tonumber(ARGV[7]) <= cur then return 0 end\n"
    "redis.call('HSET', p .. 'sv:' .. aid, sid, ARGV[7])\n"
    "redis.call('HSET', p .. 's:' .. aid, sid, ARGV[8])\n"
    "redis.call('HSET', p .. 'm:' .. aid, sid, ARGV[9])\n"
    "redis.call('ZADD', p .. 'ss:' .. aid, 0, sid)\n"
    "if not cur then redis.call('HINCRBY', p .. 'a:' .. aid, 'submission_count', 1) end\n"
    "return 1\n"};

/* upload.completed. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next offset,
 * 3 cause, 4 upload id, 5 owner, 6 filename, 7 content type, 8 size, 9 sha256,
 * 10 stored_at (ms), 11 the public file document (JSON). Uploads are
 * immutable: the first event of an id stands. Returns 1 if applied, 0 if not. */
static sms_redis_script_t upload_script = {.source =
    "local p = 'sms:assignments:'\n"
    "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[3], '200 ' .. ARGV[4])\n"
    "local k = p .. 'upload:' .. ARGV[4]\n"
    "if redis.call('EXISTS', k) == 1 then return 0 end\n"
    "redis.call('HSET', k, 'owner', ARGV[5], 'filename', ARGV[6], 'content_type', ARGV[7], 'size', ARGV[8],\n"
    "           'sha256', ARGV[9], 'stored_at', ARGV[10], 'doc', ARGV[11])\n"
    "return 1\n"};

/* grade.changed / grade.released from sms.events.grades. ARGV: 1
 * "<topic>:<partition>" ("" = none), 2 next offset, 3 assignment, 4 student,
 * 5 grade_version, 6 released 0/1, 7 time (RFC 3339), 8 score (JSON number),
 * 9 feedback (JSON string). Gated on grade_version per (assignment,
 * student), like the grading view; released_at is the time of the first
 * release (a released grade stays released when corrected). graded_count
 * is HLEN gr:<assignment>, copied into the assignment hash when it exists
 * (the assignment script copies it too), so the topics' interleaving does
 * not matter. Returns 1 if applied, 0 if not. */
static sms_redis_script_t grade_script = {.source =
    "local p = 'sms:assignments:'\n"
    "if ARGV[1] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[1], ARGV[2]) end\n"
    "local aid, sid = ARGV[3], ARGV[4]\n"
    "local gk = p .. 'gr:' .. aid\n"
    "local cur = redis.call('HGET', gk, sid)\n"
    "local cv, cr, cra = 0, '0', ''\n"
    "if cur then\n"
    "  local v, r, ra = string.match(cur, '^(%d+)|(%d)|([^|]*)|')\n"
    "  cv, cr, cra = tonumber(v), r, ra\n"
    "end\n"
    "if tonumber(ARGV[5]) <= cv then return 0 end\n"
    "local ra = cra\n"
    "if ARGV[6] == '1' and cr ~= '1' then ra = ARGV[7] end\n"
    "redis.call('HSET', gk, sid, ARGV[5] .. '|' .. ARGV[6] .. '|' .. ra .. '|' .. ARGV[8] .. '|' .. ARGV[9])\n"
    "local ak = p .. 'a:' .. aid\n"
    "if redis.call('EXISTS', ak) == 1 then redis.call('HSET', ak, 'graded_count', redis.call('HLEN', gk)) end\n"
    "return 1\n"};

int assignments_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&apply_script, &class_script, &roster_script, &submission_script, &upload_script,
                                 &grade_script, &due_soon_script};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sms_redis_script_load(rc, all[i], err, errlen) != 0) return -1;
    return 0;
}

static bool type_is(const sms_event_t *ev, const char *t) {
    return ev->type.len == strlen(t) && memcmp(ev->type.ptr, t, ev->type.len) == 0;
}

static void offset_args(const char *topic, int32_t partition, int64_t offset, char *part, size_t partcap, char *next,
                        size_t nextcap) {
    part[0] = next[0] = '\0';
    if (partition < 0) return;
    snprintf(part, partcap, "%s:%d", topic, partition);
    snprintf(next, nextcap, "%lld", (long long)offset + 1);
}

/* class.created/updated/deactivated -> cls:<id>. Other class events are not ours. */
static int append_class(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition, int64_t offset) {
    if (!type_is(ev, "class.created") && !type_is(ev, "class.updated") && !type_is(ev, "class.deactivated")) return 0;
    char id[128], lec[128], status[16], ver[24], part[160], next[24];
    int64_t version;
    if (!sms_mp_strcpy(sms_mp_map_get(ev->data, "id"), id, sizeof id) ||
        !sms_mp_strcpy(sms_mp_map_get(ev->data, "lecturer_id"), lec, sizeof lec) ||
        !sms_mp_strcpy(sms_mp_map_get(ev->data, "status"), status, sizeof status) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "version"), &version)) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the class fields this view keeps", (int)ev->type.len,
                ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    snprintf(ver, sizeof ver, "%lld", (long long)version);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    const char *argv[] = {"EVALSHA", class_script.sha, "0", id, lec, status, ver, part, next};
    size_t argvlen[] = {7, 40, 1, strlen(id), strlen(lec), strlen(status), strlen(ver), strlen(part), strlen(next)};
    redisAppendCommandArgv(rc, 9, argv, argvlen);
    return 1;
}

static int append_assignment(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                             int64_t offset) {
    assignments_assignment_t a;
    bool known = type_is(ev, "assignment.created") || type_is(ev, "assignment.updated") ||
                 type_is(ev, "assignment.deleted");
    if (!known || assignments_read_snapshot(ev->data, &a) != 0) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s is not an assignment event this version understands",
                (int)ev->type.len, ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    sms_buf_t doc;
    sms_buf_init(&doc);
    assignments_render_doc(&a, &doc);
    char ver[24], due[24], score[32], created[24], updated[24], dm[160], cm[160], status[8], part[160], next[24];
    snprintf(ver, sizeof ver, "%lld", (long long)a.version);
    snprintf(due, sizeof due, "%lld", (long long)a.due_at);
    snprintf(score, sizeof score, "%.17g", a.max_score);
    snprintf(created, sizeof created, "%lld", (long long)a.created_at);
    snprintf(updated, sizeof updated, "%lld", (long long)a.updated_at);
    snprintf(dm, sizeof dm, "%015lld:%s", (long long)a.due_at, a.id);
    snprintf(cm, sizeof cm, "%015lld:%s", (long long)a.created_at, a.id);
    snprintf(status, sizeof status, "%d", type_is(ev, "assignment.created") ? 201 : 200);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    const char *argv[] = {"EVALSHA", apply_script.sha, "0", a.id, ver, a.status, a.lecturer_id, a.class_id, a.title,
                          a.description, due, score, created, updated, doc.data, dm, cm, ev->cause.ptr, status, part,
                          next};
    size_t argvlen[] = {7, 40, 1, strlen(a.id), strlen(ver), strlen(a.status), strlen(a.lecturer_id),
                        strlen(a.class_id), strlen(a.title), strlen(a.description), strlen(due), strlen(score),
                        strlen(created), strlen(updated), doc.len, strlen(dm), strlen(cm), ev->cause.len,
                        strlen(status), strlen(part), strlen(next)};
    redisAppendCommandArgv(rc, 21, argv, argvlen);
    sms_buf_close(&doc);
    assignments_assignment_clear(&a);
    return 1;
}

/* class.students_enrolled / class.student_unenrolled -> roster:<class id>. */
static int append_roster(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset, bool enroll) {
    const msgpack_object *d = ev->data, *list = sms_mp_map_get(d, "students");
    sms_str_t cid, one;
    int64_t rv;
    if (!sms_mp_str(sms_mp_map_get(d, "class_id"), &cid.ptr, &cid.len) ||
        !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv) ||
        (enroll && (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)) ||
        (!enroll && !sms_mp_str(sms_mp_map_get(d, "student_id"), &one.ptr, &one.len))) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the roster fields this view keeps", (int)ev->type.len,
                ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    char ver[24], part[160], next[24];
    snprintf(ver, sizeof ver, "%lld", (long long)rv);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    size_t n = enroll ? list->via.array.size : 1, argc = 0;
    const char **argv = sms_calloc(8 + n, sizeof *argv);
    size_t *lens = sms_calloc(8 + n, sizeof *lens);
    const char *fixed[] = {"EVALSHA", roster_script.sha, "0", cid.ptr, ver, part, next, enroll ? "enroll" : "unenroll"};
    for (; argc < 8; argc++) {
        argv[argc] = fixed[argc];
        lens[argc] = argc == 3 ? cid.len : strlen(fixed[argc]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!enroll) {
            argv[argc] = one.ptr;
            lens[argc++] = one.len;
        } else if (sms_mp_str(sms_mp_map_get(&list->via.array.ptr[i], "student_id"), &argv[argc], &lens[argc])) {
            argc++;
        }
    }
    redisAppendCommandArgv(rc, (int)argc, argv, lens);
    sms_free(lens);
    sms_free(argv);
    return 1;
}

static int append_submission(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                             int64_t offset) {
    assignments_submission_t s;
    if (assignments_read_submission(ev->data, &s) != 0) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the submission fields this view keeps",
                (int)ev->type.len, ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    sms_buf_t item, mine;
    sms_buf_init(&item);
    sms_buf_init(&mine);
    assignments_render_submission_item(&s, &item);
    assignments_render_my_submission(&s, &mine);
    char ver[24], summary[200], part[160], next[24];
    snprintf(ver, sizeof ver, "%lld", (long long)s.version);
    snprintf(summary, sizeof summary, "201 %.*s %lld %lld %d", (int)s.assignment_id.len, s.assignment_id.ptr,
             (long long)s.version, (long long)s.submitted_at, s.late ? 1 : 0);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    const char *argv[] = {"EVALSHA", submission_script.sha, "0", part, next, ev->cause.ptr, summary,
                          s.assignment_id.ptr, s.student_id.ptr, ver, item.data, mine.data};
    size_t argvlen[] = {7, 40, 1, strlen(part), strlen(next), ev->cause.len, strlen(summary), s.assignment_id.len,
                        s.student_id.len, strlen(ver), item.len, mine.len};
    redisAppendCommandArgv(rc, 12, argv, argvlen);
    sms_buf_close(&item);
    sms_buf_close(&mine);
    return 1;
}

static int append_upload(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset) {
    assignments_upload_t u;
    if (assignments_read_upload(ev->data, ev->actor, &u) != 0) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the upload fields this view keeps", (int)ev->type.len,
                ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    sms_buf_t doc;
    sms_buf_init(&doc);
    assignments_render_upload_doc(&u, &doc);
    char size[24], at[24], part[160], next[24];
    snprintf(size, sizeof size, "%lld", (long long)u.size);
    snprintf(at, sizeof at, "%lld", (long long)u.stored_at);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    const char *argv[] = {"EVALSHA", upload_script.sha, "0", part, next, ev->cause.ptr, u.upload_id.ptr,
                          u.student_id.ptr, u.filename.ptr, u.content_type.ptr, size, u.sha256.ptr, at, doc.data};
    size_t argvlen[] = {7, 40, 1, strlen(part), strlen(next), ev->cause.len, u.upload_id.len, u.student_id.len,
                        u.filename.len, u.content_type.len, strlen(size), u.sha256.len, strlen(at), doc.len};
    redisAppendCommandArgv(rc, 14, argv, argvlen);
    sms_buf_close(&doc);
    return 1;
}

/* A score as a JSON number, to hundredths like the grading service keeps it
 * ("87", "87.5", "87.25"). */
static void score_json(double score, char *out, size_t cap) {
    long long h = llround(score * 100.0);
    if (h % 100 == 0) {
        snprintf(out, cap, "%lld", h / 100);
        return;
    }
    snprintf(out, cap, "%s%lld.%02lld", h < 0 ? "-" : "", llabs(h) / 100, llabs(h) % 100);
    size_t n = strlen(out);
    if (out[n - 1] == '0') out[n - 1] = '\0';
}

static bool mp_number(const msgpack_object *o, double *out) {
    if (o == NULL) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return isfinite(o->via.f64);
    default: return false;
    }
}

/* grade.changed (released flag, changed_at) and grade.released (released, at
 * the event's time) -> gr:<assignment>. Other grade event types are not ours. */
static int append_grade(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                        int64_t offset) {
    bool changed = type_is(ev, "grade.changed");
    if ((!changed && !type_is(ev, "grade.released")) || ev->v != 1) return 0;
    const msgpack_object *d = ev->data, *rel = sms_mp_map_get(d, "released");
    sms_str_t aid, sid, fb;
    int64_t ver, at = ev->time;
    double score;
    bool released = true;
    if (!sms_mp_str(sms_mp_map_get(d, "assignment_id"), &aid.ptr, &aid.len) ||
        !sms_mp_str(sms_mp_map_get(d, "student_id"), &sid.ptr, &sid.len) ||
        !sms_mp_str(sms_mp_map_get(d, "feedback"), &fb.ptr, &fb.len) || !mp_number(sms_mp_map_get(d, "score"), &score) ||
        !sms_mp_i64(sms_mp_map_get(d, "grade_version"), &ver) ||
        (changed && (rel == NULL || rel->type != MSGPACK_OBJECT_BOOLEAN ||
                     !sms_mp_i64(sms_mp_map_get(d, "changed_at"), &at)))) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the grade fields this view keeps", (int)ev->type.len,
                ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    if (changed) released = rel->via.boolean;
    char v[24], when[SMS_RFC3339_LEN], sc[48], part[160], next[24];
    snprintf(v, sizeof v, "%lld", (long long)ver);
    sms_rfc3339(at, when);
    score_json(score, sc, sizeof sc);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    sms_buf_t feedback;
    sms_buf_init(&feedback);
    sms_buf_json_str(&feedback, fb.ptr, fb.len);
    const char *argv[] = {"EVALSHA", grade_script.sha, "0", part, next, aid.ptr, sid.ptr, v, released ? "1" : "0",
                          when, sc, feedback.data};
    size_t argvlen[] = {7, 40, 1, strlen(part), strlen(next), aid.len, sid.len, strlen(v), 1, strlen(when), strlen(sc),
                        feedback.len};
    redisAppendCommandArgv(rc, 12, argv, argvlen);
    sms_buf_close(&feedback);
    return 1;
}

/* assignment.due_soon -> rem:<id> (and remind). */
static int append_due_soon(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                           int64_t offset) {
    sms_str_t id;
    int64_t due;
    if (!sms_mp_str(sms_mp_map_get(ev->data, "id"), &id.ptr, &id.len) || id.len == 0 ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "due_at"), &due)) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks the fields this view keeps", (int)ev->type.len,
                ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    char at[24], part[160], next[24];
    snprintf(at, sizeof at, "%lld", (long long)due);
    offset_args(topic, partition, offset, part, sizeof part, next, sizeof next);
    const char *argv[] = {"EVALSHA", due_soon_script.sha, "0", part, next, id.ptr, at};
    size_t argvlen[] = {7, 40, 1, strlen(part), strlen(next), id.len, strlen(at)};
    redisAppendCommandArgv(rc, 7, argv, argvlen);
    return 1;
}

int assignments_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                  int64_t offset) {
    if (strcmp(topic, ASSIGNMENTS_GRADES_TOPIC) == 0) return append_grade(rc, topic, ev, partition, offset);
    if (type_is(ev, "upload.completed")) return append_upload(rc, topic, ev, partition, offset);
    if (strcmp(topic, ASSIGNMENTS_CLASSES_TOPIC) == 0) {
        bool enroll = type_is(ev, "class.students_enrolled");
        if (enroll || type_is(ev, "class.student_unenrolled"))
            return append_roster(rc, topic, ev, partition, offset, enroll);
        return append_class(rc, topic, ev, partition, offset);
    }
    if (type_is(ev, "submission.created")) return append_submission(rc, topic, ev, partition, offset);
    if (type_is(ev, "assignment.due_soon")) return append_due_soon(rc, topic, ev, partition, offset);
    return append_assignment(rc, topic, ev, partition, offset);
}
