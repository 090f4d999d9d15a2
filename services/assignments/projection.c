/* projection.c - applies assignment, submission, class and roster events to
 * Redis, one Lua script each (see projection.h). Called by the worker's batch loop and tailer. */
#include "projection.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"

/* ARGV: 1 id, 2 version, 3 status, 4 lecturer, 5 class id, 6 title, 7 description,
 * 8 due_at, 9 max_score, 10 created_at, 11 updated_at, 12 doc, 13 due member,
 * 14 created member, 15 cause, 16 reply status, 17 "<topic>:<partition>" ("" = none),
 * 18 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t apply_script = {.source =
    "local p = 'sms:assignments:'\n"
    "local id, ver, status, cls = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[5]\n"
    "if ARGV[17] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[17], ARGV[18]) end\n"
    "redis.call('HSET', p .. 'cmds', ARGV[15], ARGV[16] .. ' ' .. id)\n"
    "local k = p .. 'a:' .. id\n"
    "local cur = redis.call('HMGET', k, 'version', 'dm', 'cm')\n"
    "if ver <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "if cur[2] then redis.call('ZREM', p .. 'd:' .. cls, cur[2]) end\n"
    "if cur[3] then redis.call('ZREM', p .. 'n:' .. cls, cur[3]) end\n"
    "redis.call('HSET', k, 'class_id', cls, 'lecturer_id', ARGV[4], 'status', status, 'version', ARGV[2],\n"
    "           'title', ARGV[6], 'description', ARGV[7], 'due_at', ARGV[8], 'max_score', ARGV[9],\n"
    "           'created_at', ARGV[10], 'updated_at', ARGV[11], 'doc', ARGV[12], 'dm', ARGV[13], 'cm', ARGV[14])\n"
    /* Counts belong to later events (submissions, grades): never reset them. */
    "redis.call('HSETNX', k, 'submission_count', 0)\n"
    "redis.call('HSETNX', k, 'graded_count', 0)\n"
    "if status ~= 'deleted' then\n"
    "  redis.call('ZADD', p .. 'd:' .. cls, 0, ARGV[13])\n"
    "  redis.call('ZADD', p .. 'n:' .. cls, 0, ARGV[14])\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 class id, 2 lecturer, 3 status, 4 version, 5 "<topic>:<partition>" ("" = none),
 * 6 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t class_script = {.source =
    "local p = 'sms:assignments:'\n"
    "if ARGV[5] ~= '' then redis.call('HSET', p .. 'offsets', ARGV[5], ARGV[6]) end\n"
    "local k = p .. 'cls:' .. ARGV[1]\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, 'version')) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'lecturer_id', ARGV[2], 'status', ARGV[3], 'version', ARGV[4])\n"
    "return 1\n"};

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

int assignments_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&apply_script, &class_script, &roster_script, &submission_script};
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

int assignments_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                  int64_t offset) {
    if (strcmp(topic, ASSIGNMENTS_CLASSES_TOPIC) == 0) {
        bool enroll = type_is(ev, "class.students_enrolled");
        if (enroll || type_is(ev, "class.student_unenrolled"))
            return append_roster(rc, topic, ev, partition, offset, enroll);
        return append_class(rc, topic, ev, partition, offset);
    }
    if (type_is(ev, "submission.created")) return append_submission(rc, topic, ev, partition, offset);
    return append_assignment(rc, topic, ev, partition, offset);
}
