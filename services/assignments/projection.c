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
#include "uploads_expiry.h"
#include "redis.h"
#include "schema.h"
#include "view.h"

/* Lua pieces built from view.h: the prefix, and a key of the view as a Lua
 * expression (LUA_KEY(ASSIGNMENTS_VIEW_CLASS, "ARGV[1]") is
 * p .. 'cls:' .. ARGV[1]). */
#define LUA_PREFIX "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"
#define LUA_KEY(part, expr) "p .. '" part "' .. " expr
#define LUA_KEY_ALONE(part) "p .. '" part "'"
/* Records the tailer's position ARGV[i] = ARGV[i + 1] when given. */
#define LUA_OFFSET(part_arg, next_arg)                                                                        \
    "if ARGV[" part_arg "] ~= '' then redis.call('HSET', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_OFFSETS) ", ARGV[" \
    part_arg "], ARGV[" next_arg "]) end\n"

/* Keeps remind (zset id -> due_at, what the reminder scan reads) equal to
 * "the assignment is open, its class is not inactive and no
 * assignment.due_soon was applied for its current due_at (rem:<id>)".
 * Every script that changes one of those inputs calls it, so the zset is a
 * function of the inputs' final state whatever order the topics replay in. */
#define REMIND_SYNC_LUA                                                                                      \
    "local function remind_sync(p, id)\n"                                                                    \
    "  local a = redis.call('HMGET', " LUA_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT, "id") ", 'status', 'due_at', 'class_id')\n" \
    "  local on = a[1] == 'open' and redis.call('HGET', " LUA_KEY(ASSIGNMENTS_VIEW_CLASS, "a[3]") ", 'status') ~= 'inactive'\n" \
    "    and redis.call('SISMEMBER', " LUA_KEY(ASSIGNMENTS_VIEW_REMINDED, "id") ", a[2]) == 0\n"                 \
    "  if on then redis.call('ZADD', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_REMIND) ", a[2], id) else redis.call('ZREM', " \
    LUA_KEY_ALONE(ASSIGNMENTS_VIEW_REMIND) ", id) end\n"                                                      \
    "end\n"

/* ARGV: 1 id, 2 version, 3 status, 4 lecturer, 5 class id, 6 title, 7 description,
 * 8 due_at, 9 max_score, 10 created_at, 11 updated_at, 12 doc, 13 due member,
 * 14 created member, 15 cause, 16 reply status, 17 "<topic>:<partition>" ("" = none),
 * 18 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t apply_script = {.source =
    REMIND_SYNC_LUA
    LUA_PREFIX
    "local id, ver, status, cls = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[5]\n"
    LUA_OFFSET("17", "18")
    "redis.call('HSET', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_CMDS) ", ARGV[15], ARGV[16] .. ' ' .. id)\n"
    "local k = " LUA_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT, "id") "\n"
    "local cur = redis.call('HMGET', k, 'version', 'dm', 'cm', 'due_at')\n"
    "if ver <= (tonumber(cur[1]) or 0) then return 0 end\n"
    /* When the current due date was set: the earliest time its reminder may carry. */
    "if cur[4] ~= ARGV[8] then redis.call('HSET', k, '" ASSIGNMENTS_FIELD_DUE_SET_AT "', ARGV[11]) end\n"
    "if cur[2] then redis.call('ZREM', " LUA_KEY(ASSIGNMENTS_VIEW_BY_DUE, "cls") ", cur[2]) end\n"
    "if cur[3] then redis.call('ZREM', " LUA_KEY(ASSIGNMENTS_VIEW_BY_CREATION, "cls") ", cur[3]) end\n"
    "redis.call('HSET', k, 'class_id', cls, 'lecturer_id', ARGV[4], 'status', status, 'version', ARGV[2],\n"
    "           'title', ARGV[6], 'description', ARGV[7], 'due_at', ARGV[8], 'max_score', ARGV[9],\n"
    "           'created_at', ARGV[10], 'updated_at', ARGV[11], 'doc', ARGV[12], 'dm', ARGV[13], 'cm', ARGV[14])\n"
    /* Counts belong to later events (submissions, grades): never reset them. */
    "redis.call('HSETNX', k, '" ASSIGNMENTS_FIELD_SUBMISSION_COUNT "', 0)\n"
    /* graded_count is a function of gr:<id> alone, whichever of the two topics came first. */
    "redis.call('HSET', k, '" ASSIGNMENTS_FIELD_GRADED_COUNT "', redis.call('HLEN', " LUA_KEY(ASSIGNMENTS_VIEW_GRADES, "id") "))\n"
    "if status ~= 'deleted' then\n"
    "  redis.call('ZADD', " LUA_KEY(ASSIGNMENTS_VIEW_BY_DUE, "cls") ", 0, ARGV[13])\n"
    "  redis.call('ZADD', " LUA_KEY(ASSIGNMENTS_VIEW_BY_CREATION, "cls") ", 0, ARGV[14])\n"
    "end\n"
    "remind_sync(p, id)\n"
    "return 1\n"};

/* ARGV: 1 class id, 2 lecturer, 3 status, 4 version, 5 "<topic>:<partition>" ("" = none),
 * 6 next offset. Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t class_script = {.source =
    REMIND_SYNC_LUA
    LUA_PREFIX
    LUA_OFFSET("5", "6")
    "local k = " LUA_KEY(ASSIGNMENTS_VIEW_CLASS, "ARGV[1]") "\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, 'version')) or 0) then return 0 end\n"
    "local was = redis.call('HGET', k, 'status')\n"
    "redis.call('HSET', k, 'lecturer_id', ARGV[2], 'status', ARGV[3], 'version', ARGV[4])\n"
    /* d:<class> members are "<due_at, 15 digits>:<id>": the class's assignments not deleted. */
    "if was ~= ARGV[3] then\n"
    "  for _, m in ipairs(redis.call('ZRANGE', " LUA_KEY(ASSIGNMENTS_VIEW_BY_DUE, "ARGV[1]") ", 0, -1)) do "
    "remind_sync(p, string.sub(m, " ASSIGNMENTS_VIEW_MEMBER_ID_AT ")) end\n"
    "end\n"
    "return 1\n"};

/* assignment.due_soon. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next
 * offset, 3 assignment id, 4 due_at (ms). Records that due date as reminded
 * (rem:<id>, a set: a due date moved away and back is not reminded twice).
 * Returns 1 if applied, 0 if the view already had it. */
static sms_redis_script_t due_soon_script = {.source =
    REMIND_SYNC_LUA
    LUA_PREFIX
    LUA_OFFSET("1", "2")
    "local added = redis.call('SADD', " LUA_KEY(ASSIGNMENTS_VIEW_REMINDED, "ARGV[3]") ", ARGV[4])\n"
    "remind_sync(p, ARGV[3])\n"
    "return added\n"};

/* Roster events. ARGV: 1 class id, 2 roster_version, 3 "<topic>:<partition>"
 * ("" = none), 4 next offset, 5 "enroll"|"unenroll", 6.. student ids. Gated on
 * cls:<id>'s roster_version, a field class events never touch. */
static sms_redis_script_t roster_script = {.source =
    LUA_PREFIX
    LUA_OFFSET("3", "4")
    "local k = " LUA_KEY(ASSIGNMENTS_VIEW_CLASS, "ARGV[1]") "\n"
    "if tonumber(ARGV[2]) <= (tonumber(redis.call('HGET', k, 'roster_version')) or 0) then return 0 end\n"
    "redis.call('HSET', k, 'roster_version', ARGV[2])\n"
    "local r = " LUA_KEY(ASSIGNMENTS_VIEW_ROSTER, "ARGV[1]") "\n"
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
    LUA_PREFIX
    LUA_OFFSET("1", "2")
    "redis.call('HSET', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_CMDS) ", ARGV[3], ARGV[4])\n"
    "local aid, sid = ARGV[5], ARGV[6]\n"
    /* Every upload a submission ever listed is attached (kept), whatever its version. */
    "local listed = cjson.decode(ARGV[8]).upload_ids\n"
    "if type(listed) == 'table' then\n"
    "  for _, u in ipairs(listed) do\n"
    "    redis.call('SADD', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_ATTACHED) ", u)\n"
    "    redis.call('ZREM', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_UNATTACHED) ", u)\n"
    "  end\n"
    "end\n"
    "local cur = tonumber(redis.call('HGET', " LUA_KEY(ASSIGNMENTS_VIEW_SUBMISSION_VERSIONS, "aid") ", sid))\n"
    "if cur and tonumber(ARGV[7]) <= cur then return 0 end\n"
    "redis.call('HSET', " LUA_KEY(ASSIGNMENTS_VIEW_SUBMISSION_VERSIONS, "aid") ", sid, ARGV[7])\n"
    "redis.call('HSET', " LUA_KEY(ASSIGNMENTS_VIEW_SUBMISSIONS, "aid") ", sid, ARGV[8])\n"
    "redis.call('HSET', " LUA_KEY(ASSIGNMENTS_VIEW_MY_SUBMISSION, "aid") ", sid, ARGV[9])\n"
    "redis.call('ZADD', " LUA_KEY(ASSIGNMENTS_VIEW_SUBMITTERS, "aid") ", 0, sid)\n"
    "if not cur then redis.call('HINCRBY', " LUA_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT, "aid") ", '"
    ASSIGNMENTS_FIELD_SUBMISSION_COUNT "', 1) end\n"
    "return 1\n"};

/* upload.completed. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next offset,
 * 3 cause, 4 upload id, 5 owner, 6 filename, 7 content type, 8 size, 9 sha256,
 * 10 stored_at (ms), 11 the public file document (JSON). Uploads are
 * immutable: the first event of an id stands (and adds its size to the
 * owner's ubytes once). Returns 1 if applied, 0 if not. */
static sms_redis_script_t upload_script = {.source =
    LUA_PREFIX
    LUA_OFFSET("1", "2")
    "redis.call('HSET', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_CMDS) ", ARGV[3], '200 ' .. ARGV[4])\n"
    "local k = " LUA_KEY(ASSIGNMENTS_VIEW_UPLOAD, "ARGV[4]") "\n"
    "if redis.call('EXISTS', k) == 1 then return 0 end\n"
    "redis.call('HSET', k, '" ASSIGNMENTS_FIELD_OWNER "', ARGV[5], 'filename', ARGV[6], 'content_type', ARGV[7], 'size', ARGV[8],\n"
    "           'sha256', ARGV[9], 'stored_at', ARGV[10], '" ASSIGNMENTS_FIELD_DOC "', ARGV[11])\n"
    "redis.call('HINCRBY', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_UPLOAD_BYTES) ", ARGV[5], ARGV[8])\n"
    "if redis.call('SISMEMBER', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_ATTACHED) ", ARGV[4]) == 0 then\n"
    "  redis.call('ZADD', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_UNATTACHED) ", ARGV[10], ARGV[4])\n"
    "end\n"
    "return 1\n"};

/* upload.expired. ARGV: 1 "<topic>:<partition>" ("" = none), 2 next offset,
 * 3 upload id, 4 owner, 5 size. Only an upload still unattached expires
 * (the scan decided it so; a replay sees the same order). Returns 1 if
 * applied, 0 if not. */
static sms_redis_script_t expired_script = {.source =
    LUA_PREFIX
    LUA_OFFSET("1", "2")
    "if redis.call('ZREM', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_UNATTACHED) ", ARGV[3]) == 0 then return 0 end\n"
    "redis.call('DEL', " LUA_KEY(ASSIGNMENTS_VIEW_UPLOAD, "ARGV[3]") ")\n"
    "redis.call('HINCRBY', " LUA_KEY_ALONE(ASSIGNMENTS_VIEW_UPLOAD_BYTES) ", ARGV[4], -tonumber(ARGV[5]))\n"
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
    LUA_PREFIX
    LUA_OFFSET("1", "2")
    "local aid, sid = ARGV[3], ARGV[4]\n"
    "local gk = " LUA_KEY(ASSIGNMENTS_VIEW_GRADES, "aid") "\n"
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
    "local ak = " LUA_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT, "aid") "\n"
    "if redis.call('EXISTS', ak) == 1 then redis.call('HSET', ak, '" ASSIGNMENTS_FIELD_GRADED_COUNT "', redis.call('HLEN', gk)) end\n"
    "return 1\n"};

int assignments_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&apply_script, &class_script, &roster_script, &submission_script, &upload_script,
                                 &expired_script,
                                 &grade_script, &due_soon_script};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sms_redis_script_load(rc, all[i], err, errlen) != 0) return -1;
    return 0;
}

/* Logs an event this view cannot read; it is then not for this view (0). */
static int skipped(const sms_event_t *ev, const char *why) {
    sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s %s", (int)ev->type.len, ev->type.ptr, (int)ev->id.len,
            ev->id.ptr, why);
    return 0;
}

/* The arguments every script call starts with. */
static void script_args(sms_redis_args_t *a, const sms_redis_script_t *script) {
    sms_redis_args_init(a);
    sms_redis_args_str(a, "EVALSHA");
    sms_redis_args_add(a, script->sha, 40);
    sms_redis_args_str(a, "0");
}

/* The tailer's position arguments: "<topic>:<partition>" and the next
 * offset, both "" when the event was applied right after production
 * (partition < 0). part (caller's, 160 bytes) holds the first. */
static void position_args(sms_redis_args_t *a, char part[160], const char *topic, int32_t partition, int64_t offset) {
    part[0] = '\0';
    if (partition < 0) {
        sms_redis_args_str(a, part);
        sms_redis_args_str(a, "");
        return;
    }
    snprintf(part, 160, "%s:%d", topic, partition);
    sms_redis_args_str(a, part);
    sms_redis_args_i64(a, offset + 1);
}

/* Pipelines the built call: 1 (one reply to read), or 0 when it could not
 * be (the builder's capacity; never for these fixed argument lists). */
static int send_call(redisContext *rc, sms_redis_args_t *a, const sms_event_t *ev) {
    if (sms_redis_args_append(rc, a) == 0) return 1;
    sms_log(SMS_LOG_ERROR, "event_not_applied", "%.*s %.*s: its script call could not be built", (int)ev->type.len,
            ev->type.ptr, (int)ev->id.len, ev->id.ptr);
    return 0;
}

/* class.created/updated/deactivated -> cls:<id>. */
static int apply_class(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition, int64_t offset) {
    char id[128], lec[128], status[16], part[160];
    int64_t version;
    if (!sms_mp_strcpy(sms_mp_map_get(ev->data, "id"), id, sizeof id) ||
        !sms_mp_strcpy(sms_mp_map_get(ev->data, "lecturer_id"), lec, sizeof lec) ||
        !sms_mp_strcpy(sms_mp_map_get(ev->data, "status"), status, sizeof status) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "version"), &version))
        return skipped(ev, "lacks the class fields this view keeps");
    sms_redis_args_t a;
    script_args(&a, &class_script);
    sms_redis_args_str(&a, id);
    sms_redis_args_str(&a, lec);
    sms_redis_args_str(&a, status);
    sms_redis_args_i64(&a, version);
    position_args(&a, part, topic, partition, offset);
    return send_call(rc, &a, ev);
}

/* An assignment snapshot -> a:<id>, d:/n:<class>, remind; status is the
 * reply status the cmds record keeps (201 for a create). */
static int append_assignment(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                             int64_t offset, int status) {
    assignments_assignment_t s;
    if (assignments_read_snapshot(ev->data, &s) != 0)
        return skipped(ev, "is not an assignment event this version understands");
    sms_buf_t doc;
    sms_buf_init(&doc);
    assignments_render_doc(&s, &doc);
    char score[32], dm[160], cm[160], part[160];
    snprintf(score, sizeof score, "%.17g", s.max_score);
    snprintf(dm, sizeof dm, ASSIGNMENTS_VIEW_MEMBER_FORMAT, (long long)s.due_at, s.id);
    snprintf(cm, sizeof cm, ASSIGNMENTS_VIEW_MEMBER_FORMAT, (long long)s.created_at, s.id);
    sms_redis_args_t a;
    script_args(&a, &apply_script);
    sms_redis_args_str(&a, s.id);
    sms_redis_args_i64(&a, s.version);
    sms_redis_args_str(&a, s.status);
    sms_redis_args_str(&a, s.lecturer_id);
    sms_redis_args_str(&a, s.class_id);
    sms_redis_args_str(&a, s.title);
    sms_redis_args_str(&a, s.description);
    sms_redis_args_i64(&a, s.due_at);
    sms_redis_args_str(&a, score);
    sms_redis_args_i64(&a, s.created_at);
    sms_redis_args_i64(&a, s.updated_at);
    sms_redis_args_add(&a, doc.data, doc.len);
    sms_redis_args_str(&a, dm);
    sms_redis_args_str(&a, cm);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_i64(&a, status);
    position_args(&a, part, topic, partition, offset);
    int n = send_call(rc, &a, ev);
    sms_buf_close(&doc);
    assignments_assignment_clear(&s);
    return n;
}

static int apply_created(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset) {
    return append_assignment(rc, topic, ev, partition, offset, 201);
}

/* assignment.updated / assignment.deleted. */
static int apply_changed(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset) {
    return append_assignment(rc, topic, ev, partition, offset, 200);
}

/* class.students_enrolled / class.student_unenrolled -> roster:<class id>.
 * Any number of students: the arguments are allocated here rather than in a
 * fixed-capacity sms_redis_args_t. */
static int append_roster(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset, bool enroll) {
    const msgpack_object *d = ev->data, *list = sms_mp_map_get(d, "students");
    sms_str_t cid, one;
    int64_t rv;
    if (!sms_mp_str(sms_mp_map_get(d, "class_id"), &cid.ptr, &cid.len) ||
        !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv) ||
        (enroll && (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)) ||
        (!enroll && !sms_mp_str(sms_mp_map_get(d, "student_id"), &one.ptr, &one.len)))
        return skipped(ev, "lacks the roster fields this view keeps");
    char ver[24], part[160], next[24] = "";
    snprintf(ver, sizeof ver, "%lld", (long long)rv);
    part[0] = '\0';
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
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

static int apply_enrolled(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                          int64_t offset) {
    return append_roster(rc, topic, ev, partition, offset, true);
}

static int apply_unenrolled(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                            int64_t offset) {
    return append_roster(rc, topic, ev, partition, offset, false);
}

static int apply_submission(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                            int64_t offset) {
    assignments_submission_t s;
    if (assignments_read_submission(ev->data, &s) != 0)
        return skipped(ev, "lacks the submission fields this view keeps");
    sms_buf_t item, mine;
    sms_buf_init(&item);
    sms_buf_init(&mine);
    assignments_render_submission_item(&s, &item);
    assignments_render_my_submission(&s, &mine);
    char summary[200], part[160];
    snprintf(summary, sizeof summary, ASSIGNMENTS_RECORD_SUB_FORMAT, (int)s.assignment_id.len, s.assignment_id.ptr,
             (long long)s.version, (long long)s.submitted_at, s.late ? 1 : 0);
    sms_redis_args_t a;
    script_args(&a, &submission_script);
    position_args(&a, part, topic, partition, offset);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_str(&a, summary);
    sms_redis_args_add(&a, s.assignment_id.ptr, s.assignment_id.len);
    sms_redis_args_add(&a, s.student_id.ptr, s.student_id.len);
    sms_redis_args_i64(&a, s.version);
    sms_redis_args_add(&a, item.data, item.len);
    sms_redis_args_add(&a, mine.data, mine.len);
    int n = send_call(rc, &a, ev);
    sms_buf_close(&item);
    sms_buf_close(&mine);
    return n;
}

static int apply_upload(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                        int64_t offset) {
    assignments_upload_t u;
    if (assignments_read_upload(ev->data, ev->actor, &u) != 0)
        return skipped(ev, "lacks the upload fields this view keeps");
    sms_buf_t doc;
    sms_buf_init(&doc);
    assignments_render_upload_doc(&u, &doc);
    char part[160];
    sms_redis_args_t a;
    script_args(&a, &upload_script);
    position_args(&a, part, topic, partition, offset);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_add(&a, u.upload_id.ptr, u.upload_id.len);
    sms_redis_args_add(&a, u.student_id.ptr, u.student_id.len);
    sms_redis_args_add(&a, u.filename.ptr, u.filename.len);
    sms_redis_args_add(&a, u.content_type.ptr, u.content_type.len);
    sms_redis_args_i64(&a, u.size);
    sms_redis_args_add(&a, u.sha256.ptr, u.sha256.len);
    sms_redis_args_i64(&a, u.stored_at);
    sms_redis_args_add(&a, doc.data, doc.len);
    int n = send_call(rc, &a, ev);
    sms_buf_close(&doc);
    return n;
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

/* grade.changed (released flag, changed_at) and grade.released (released, at
 * the event's time) -> gr:<assignment>. */
static int append_grade(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                        int64_t offset, bool changed) {
    if (ev->v != 1) return 0;
    const msgpack_object *d = ev->data, *rel = sms_mp_map_get(d, "released");
    sms_str_t aid, sid, fb;
    int64_t ver, at = ev->time;
    double score;
    if (!sms_mp_str(sms_mp_map_get(d, "assignment_id"), &aid.ptr, &aid.len) ||
        !sms_mp_str(sms_mp_map_get(d, "student_id"), &sid.ptr, &sid.len) ||
        !sms_mp_str(sms_mp_map_get(d, "feedback"), &fb.ptr, &fb.len) || !sms_mp_number(sms_mp_map_get(d, "score"), &score) ||
        !sms_mp_i64(sms_mp_map_get(d, "grade_version"), &ver) ||
        (changed && (rel == NULL || rel->type != MSGPACK_OBJECT_BOOLEAN ||
                     !sms_mp_i64(sms_mp_map_get(d, "changed_at"), &at))))
        return skipped(ev, "lacks the grade fields this view keeps");
    bool released = changed ? rel->via.boolean : true;
    char when[SMS_RFC3339_LEN], sc[48], part[160];
    sms_rfc3339(at, when);
    score_json(score, sc, sizeof sc);
    sms_buf_t feedback;
    sms_buf_init(&feedback);
    sms_buf_json_str(&feedback, fb.ptr, fb.len);
    sms_redis_args_t a;
    script_args(&a, &grade_script);
    position_args(&a, part, topic, partition, offset);
    sms_redis_args_add(&a, aid.ptr, aid.len);
    sms_redis_args_add(&a, sid.ptr, sid.len);
    sms_redis_args_i64(&a, ver);
    sms_redis_args_str(&a, released ? "1" : "0");
    sms_redis_args_str(&a, when);
    sms_redis_args_str(&a, sc);
    sms_redis_args_add(&a, feedback.data, feedback.len);
    int n = send_call(rc, &a, ev);
    sms_buf_close(&feedback);
    return n;
}

static int apply_grade_changed(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                               int64_t offset) {
    return append_grade(rc, topic, ev, partition, offset, true);
}

static int apply_grade_released(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                int64_t offset) {
    return append_grade(rc, topic, ev, partition, offset, false);
}

/* assignment.due_soon -> rem:<id> (and remind). */
static int apply_due_soon(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                          int64_t offset) {
    sms_str_t id;
    int64_t due;
    if (!sms_mp_str(sms_mp_map_get(ev->data, "id"), &id.ptr, &id.len) || id.len == 0 ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "due_at"), &due))
        return skipped(ev, "lacks the fields this view keeps");
    char part[160];
    sms_redis_args_t a;
    script_args(&a, &due_soon_script);
    position_args(&a, part, topic, partition, offset);
    sms_redis_args_add(&a, id.ptr, id.len);
    sms_redis_args_i64(&a, due);
    return send_call(rc, &a, ev);
}

static int apply_expired(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                         int64_t offset) {
    sms_str_t id, owner;
    int64_t size;
    if (!sms_mp_str(sms_mp_map_get(ev->data, "upload_id"), &id.ptr, &id.len) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "student_id"), &owner.ptr, &owner.len) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "size"), &size))
        return skipped(ev, "lacks the upload fields this view keeps");
    char part[160];
    sms_redis_args_t a;
    script_args(&a, &expired_script);
    position_args(&a, part, topic, partition, offset);
    sms_redis_args_add(&a, id.ptr, id.len);
    sms_redis_args_add(&a, owner.ptr, owner.len);
    sms_redis_args_i64(&a, size);
    return send_call(rc, &a, ev);
}

/* Where an event comes from: this service's own topic, or one it learns from. */
typedef enum { FROM_OWN, FROM_CLASSES, FROM_GRADES } source_t;

/* The events this view applies, by source and type: one row each, one lookup. */
static const struct {
    source_t from;
    const char *type;
    int (*apply)(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition, int64_t offset);
} appliers[] = {
    {FROM_OWN, "assignment.created", apply_created},
    {FROM_OWN, "assignment.updated", apply_changed},
    {FROM_OWN, "assignment.deleted", apply_changed},
    {FROM_OWN, "assignment.due_soon", apply_due_soon},
    {FROM_OWN, "submission.created", apply_submission},
    {FROM_OWN, "upload.completed", apply_upload},
    {FROM_OWN, ASSIGNMENTS_UPLOAD_EXPIRED_TYPE, apply_expired},
    {FROM_CLASSES, "class.created", apply_class},
    {FROM_CLASSES, "class.updated", apply_class},
    {FROM_CLASSES, "class.deactivated", apply_class},
    {FROM_CLASSES, "class.students_enrolled", apply_enrolled},
    {FROM_CLASSES, "class.student_unenrolled", apply_unenrolled},
    {FROM_GRADES, "grade.changed", apply_grade_changed},
    {FROM_GRADES, "grade.released", apply_grade_released},
};

int assignments_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                                  int64_t offset) {
    /* The learned topics by name; anything else is this service's own. */
    source_t from = strcmp(topic, ASSIGNMENTS_CLASSES_TOPIC) == 0  ? FROM_CLASSES
                    : strcmp(topic, ASSIGNMENTS_GRADES_TOPIC) == 0 ? FROM_GRADES
                                                                   : FROM_OWN;
    for (size_t i = 0; i < sizeof appliers / sizeof appliers[0]; i++)
        if (appliers[i].from == from && ev->type.len == strlen(appliers[i].type) &&
            memcmp(ev->type.ptr, appliers[i].type, ev->type.len) == 0)
            return appliers[i].apply(rc, topic, ev, partition, offset);
    /* Other class and grade event types are not this view's; an own type
     * it does not know is worth a line. */
    return from != FROM_OWN ? 0 : skipped(ev, "is not an assignment event this version understands");
}
