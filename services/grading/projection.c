/* projection.c - applies learned class/assignment events and grade events to
 * the grading view (layout in view.h), one Lua script per kind (see
 * projection.h). Events are dispatched by one table of their types. Called by
 * the shared worker (blocking hiredis, pipelined). */
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

/* Lua spellings of view.h's names: VK(kind) is the key up to its id
 * (p .. 'tot:'), LQ(field) a quoted field name. */
#define VK(kind) "p .. '" kind "'"
#define LQ(field) "'" field "'"

/* Shared start of every script: contrib(class, student, delta), which keeps
 * tot and the ranking equal for enrolled students. */
#define LUA_CONTRIB                                                                     \
    "local p = '" GRADING_VIEW_PREFIX "'\n"                                             \
    "local function contrib(cls, sid, d)\n"                                             \
    "  if d == 0 then return end\n"                                                     \
    "  local t = redis.call('HINCRBY', " VK(GRADING_VIEW_TOTALS) " .. cls, sid, d)\n"  \
    "  if t == 0 then redis.call('HDEL', " VK(GRADING_VIEW_TOTALS) " .. cls, sid) end\n" \
    "  if redis.call('ZSCORE', " VK(GRADING_VIEW_STUDENTS) " .. cls, sid) then\n"       \
    "    redis.call('ZADD', " VK(GRADING_VIEW_RANK) " .. cls, t, sid)\n"                \
    "  end\n"                                                                           \
    "end\n"

/* The head of the one-event scripts: ARGV 1 "<topic>:<partition>" ("" when
 * applied right after being produced), 2 the next offset. */
#define LUA_HEAD \
    LUA_CONTRIB "if ARGV[1] ~= '' then redis.call('HSET', " VK(GRADING_VIEW_OFFSETS) ", ARGV[1], ARGV[2]) end\n"

/* ARGV: 1 part, 2 next, 3 id, 4 version, 5 class, 6 lecturer, 7 max, 8 status, 9 title. */
static sms_redis_script_t assignment_script = {.source = LUA_HEAD
    "local k = " VK(GRADING_VIEW_ASSIGNMENT) " .. ARGV[3]\n"
    "local cur = redis.call('HMGET', k, " LQ(GRADING_VIEW_A_VERSION) ", " LQ(GRADING_VIEW_A_STATUS) ")\n"
    "if tonumber(ARGV[4]) <= (tonumber(cur[1]) or 0) then return 0 end\n"
    "redis.call('HSET', k, " LQ(GRADING_VIEW_A_VERSION) ", ARGV[4], " LQ(GRADING_VIEW_A_CLASS_ID) ", ARGV[5], "
    LQ(GRADING_VIEW_A_LECTURER_ID) ", ARGV[6], " LQ(GRADING_VIEW_A_MAX) ", ARGV[7],\n"
    "           " LQ(GRADING_VIEW_A_STATUS) ", ARGV[8], " LQ(GRADING_VIEW_A_TITLE) ", ARGV[9])\n"
    "if ARGV[8] == " LQ(GRADING_VIEW_A_DELETED) " and cur[2] ~= " LQ(GRADING_VIEW_A_DELETED) " then\n"
    "  local g = redis.call('HGETALL', " VK(GRADING_VIEW_GRADES) " .. ARGV[3])\n"
    "  for i = 1, #g, 2 do\n"
    "    local s, r = string.match(g[i + 1], '^%d+|(%d+)|(%d)|')\n"
    "    if r == '1' then contrib(ARGV[5], g[i], -tonumber(s)) end\n"
    "  end\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 part, 2 next, 3 class, 4 roster_version, then (student, name) pairs. */
static sms_redis_script_t enrolled_script = {.source = LUA_HEAD
    "local cls = ARGV[3]\n"
    "local k = " VK(GRADING_VIEW_ROSTER) " .. cls\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, " LQ(GRADING_VIEW_ROSTER_VERSION) ")) or 0) then "
    "return 0 end\n"
    "redis.call('HSET', k, " LQ(GRADING_VIEW_ROSTER_VERSION) ", ARGV[4])\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  local sid = ARGV[i]\n"
    "  redis.call('ZADD', " VK(GRADING_VIEW_STUDENTS) " .. cls, 0, sid)\n"
    "  redis.call('HSET', " VK(GRADING_VIEW_NAMES) " .. cls, sid, ARGV[i + 1])\n"
    "  redis.call('ZADD', " VK(GRADING_VIEW_RANK) " .. cls, tonumber(redis.call('HGET', " VK(GRADING_VIEW_TOTALS)
    " .. cls, sid)) or 0, sid)\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 part, 2 next, 3 class, 4 roster_version, 5 student. */
static sms_redis_script_t unenrolled_script = {.source = LUA_HEAD
    "local cls = ARGV[3]\n"
    "local k = " VK(GRADING_VIEW_ROSTER) " .. cls\n"
    "if tonumber(ARGV[4]) <= (tonumber(redis.call('HGET', k, " LQ(GRADING_VIEW_ROSTER_VERSION) ")) or 0) then "
    "return 0 end\n"
    "redis.call('HSET', k, " LQ(GRADING_VIEW_ROSTER_VERSION) ", ARGV[4])\n"
    "redis.call('ZREM', " VK(GRADING_VIEW_STUDENTS) " .. cls, ARGV[5])\n"
    "redis.call('HDEL', " VK(GRADING_VIEW_NAMES) " .. cls, ARGV[5])\n"
    "redis.call('ZREM', " VK(GRADING_VIEW_RANK) " .. cls, ARGV[5])\n"
    "return 1\n"};

/* grade(cause, assignment, class, student, version, score (hundredths),
 * released "1"|"0", changed_at, feedback, history entry, counts): applies one
 * grade.changed / grade.released / grade.corrected unless the sheet holds
 * that version already; counts[cause] counts the grades each command changed
 * (written to cmds by flush_counts, once per command, as "200 <n>"). */
#define LUA_GRADE                                                                                        \
    "local function grade(cause, aid, cls, sid, vs, score, rel, when, fb, hist, counts)\n"                \
    "  local gk = " VK(GRADING_VIEW_GRADES) " .. aid\n"                                                  \
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
    "  redis.call('RPUSH', " VK(GRADING_VIEW_HISTORY) " .. aid .. ':' .. sid, hist)\n"                   \
    "  counts[cause] = (counts[cause] or 0) + 1\n"                                                       \
    "  if rel == '1' then redis.call('HSET', " VK(GRADING_VIEW_STUDENT_GRADES) " .. sid, aid, cls) end\n" \
    "  if redis.call('HGET', " VK(GRADING_VIEW_ASSIGNMENT) " .. aid, " LQ(GRADING_VIEW_A_STATUS) ") ~= "  \
    LQ(GRADING_VIEW_A_DELETED) " then\n"                                                                 \
    "    local old, new = 0, 0\n"                                                                        \
    "    if cr == '1' then old = cs end\n"                                                               \
    "    if rel == '1' then new = tonumber(score) end\n"                                                 \
    "    contrib(cls, sid, new - old)\n"                                                                 \
    "  end\n"                                                                                            \
    "  return 1\n"                                                                                       \
    "end\n" LUA_FLUSH_COUNTS

/* flush_counts(counts): adds each command's count of applied grades to its
 * cmds record ("200 <n>"), once per command. */
#define LUA_FLUSH_COUNTS                                                                                 \
    "local function flush_counts(counts)\n"                                                              \
    "  local ck = " VK(GRADING_VIEW_CMDS) "\n"                                                           \
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
 * command: one script run instead of 100). It leaves the view exactly as
 * grade() applying them one by one in log order would, but touches each
 * shared key once per run instead of once per grade:
 *   1. reads, per assignment: the run's students' records (one HMGET) and
 *      whether it is deleted;
 *   2. every grade in log order against those records as the run changes
 *      them (version gate, released_at, its delta to the student's total),
 *      in Lua alone;
 *   3. reads, per class: the changed students' totals (one HMGET) and who
 *      of them is enrolled (one ZMSCORE);
 *   4. writes: each sheet in one HSET, each grade's history and sg entry,
 *      per class the final totals (one HSET, one HDEL) and the ranking (one
 *      ZADD), the commands' counts, the positions.
 * A total is written once, from the sum of the run's deltas: the final
 * value HINCRBY would reach, and the ranking mirrors it as contrib() keeps
 * it (a zero sum leaves both as they were). Every read comes before the
 * first write, so a key of the wrong type fails the run before it changed
 * anything (the worker then applies its events one by one).
 * ARGV: 1 k, then k pairs ("<topic>:<partition>", next offset), then
 * GRADE_ROW_ARGS per grade, in log order. Returns how many grades changed
 * the view. */
#define LUA_RUN_READ                                                                                     \
    "local k = tonumber(ARGV[1])\n"                                                                      \
    "local first = 2 * k + 2\n"                                                                          \
    "local aids, want, wanted = {}, {}, {}\n"                                                            \
    "for i = first, #ARGV, 10 do\n"                                                                      \
    "  local aid, sid = ARGV[i + 1], ARGV[i + 3]\n"                                                      \
    "  if not want[aid] then aids[#aids + 1] = aid; want[aid] = {}; wanted[aid] = {} end\n"              \
    "  if not wanted[aid][sid] then wanted[aid][sid] = true; want[aid][#want[aid] + 1] = sid end\n"      \
    "end\n"                                                                                              \
    "local sheet, deleted = {}, {}\n"                                                                    \
    "for _, aid in ipairs(aids) do\n"                                                                    \
    "  local got = redis.call('HMGET', " VK(GRADING_VIEW_GRADES) " .. aid, unpack(want[aid]))\n"         \
    "  sheet[aid] = {}\n"                                                                                \
    "  for j, sid in ipairs(want[aid]) do sheet[aid][sid] = got[j] end\n"                                \
    "  deleted[aid] = redis.call('HGET', " VK(GRADING_VIEW_ASSIGNMENT) " .. aid, "                       \
    LQ(GRADING_VIEW_A_STATUS) ") == " LQ(GRADING_VIEW_A_DELETED) "\n"                                    \
    "end\n"

/* Phase 2: changed[aid] lists the students whose record changed (first
 * change first; sheet_new[aid] is its set), rows the ARGV index of each
 * applied grade, delta[cls][sid] the summed deltas (students[cls] and
 * classes in first-touch order). */
#define LUA_RUN_DECIDE                                                                                   \
    "local changed, sheet_new, rows, counts = {}, {}, {}, {}\n"                                          \
    "for _, aid in ipairs(aids) do sheet_new[aid] = {} end\n"                                           \
    "local classes, students, delta = {}, {}, {}\n"                                                      \
    "for i = first, #ARGV, 10 do\n"                                                                      \
    "  local aid, cls, sid, vs, score, rel, when = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4],\n" \
    "                                              ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]\n"              \
    "  local cur = sheet[aid][sid]\n"                                                                    \
    "  local cv, cs, cr, cra = 0, 0, '0', ''\n"                                                          \
    "  if cur then\n"                                                                                    \
    "    local v, s, r, u, ra = string.match(cur, '^(%d+)|(%d+)|(%d)|([^|]*)|([^|]*)|')\n"                \
    "    cv, cs, cr, cra = tonumber(v), tonumber(s), r, ra\n"                                            \
    "  end\n"                                                                                            \
    "  if tonumber(vs) > cv then\n"                                                                      \
    "    local ra = cra\n"                                                                               \
    "    if rel == '1' and cr ~= '1' then ra = when end\n"                                               \
    "    if not changed[aid] then changed[aid] = {} end\n"                                               \
    "    if not sheet_new[aid][sid] then changed[aid][#changed[aid] + 1] = sid end\n"                    \
    "    sheet_new[aid][sid] = true\n"                                                                   \
    "    sheet[aid][sid] = vs .. '|' .. score .. '|' .. rel .. '|' .. when .. '|' .. ra .. '|' .. ARGV[i + 8]\n" \
    "    rows[#rows + 1] = i\n"                                                                          \
    "    counts[ARGV[i]] = (counts[ARGV[i]] or 0) + 1\n"                                                 \
    "    local old, new = 0, 0\n"                                                                        \
    "    if cr == '1' then old = cs end\n"                                                               \
    "    if rel == '1' then new = tonumber(score) end\n"                                                 \
    "    if not deleted[aid] and new ~= old then\n"                                                      \
    "      if not delta[cls] then classes[#classes + 1] = cls; students[cls] = {}; delta[cls] = {} end\n" \
    "      if not delta[cls][sid] then students[cls][#students[cls] + 1] = sid; delta[cls][sid] = 0 end\n" \
    "      delta[cls][sid] = delta[cls][sid] + new - old\n"                                              \
    "    end\n"                                                                                          \
    "  end\n"                                                                                            \
    "end\n"
/* Phase 3: final[cls] holds (student, total) for each student whose total
 * changes, ranked[cls] the ZADD arguments (total, student) of the enrolled
 * ones. Lua numbers are doubles, exact far beyond any sum of scores; totals
 * are written as integers ('%d'), as HINCRBY writes them. */
#define LUA_RUN_TOTALS                                                                                   \
    "local final, ranked = {}, {}\n"                                                                     \
    "for _, cls in ipairs(classes) do\n"                                                                 \
    "  local sids = {}\n"                                                                                \
    "  for _, sid in ipairs(students[cls]) do if delta[cls][sid] ~= 0 then sids[#sids + 1] = sid end end\n" \
    "  final[cls], ranked[cls] = {}, {}\n"                                                               \
    "  if #sids > 0 then\n"                                                                              \
    "    local tot = redis.call('HMGET', " VK(GRADING_VIEW_TOTALS) " .. cls, unpack(sids))\n"            \
    "    local enrolled = redis.call('ZMSCORE', " VK(GRADING_VIEW_STUDENTS) " .. cls, unpack(sids))\n"   \
    "    for j, sid in ipairs(sids) do\n"                                                                \
    "      local was = tonumber(tot[j] or '0')\n"                                                        \
    "      if was == nil then error('tot:' .. cls .. ' ' .. sid .. ' is not an integer') end\n"          \
    "      local t = string.format('%d', was + delta[cls][sid])\n"                                       \
    "      final[cls][#final[cls] + 1] = {sid, t}\n"                                                     \
    "      if enrolled[j] then ranked[cls][#ranked[cls] + 1] = t; ranked[cls][#ranked[cls] + 1] = sid end\n" \
    "    end\n"                                                                                          \
    "  end\n"                                                                                            \
    "end\n"

/* Phase 4: the writes, each key once (a grade's history and sg entries are
 * keys of their own). A total of 0 is not kept (HDEL), as HINCRBY + HDEL
 * left it. */
#define LUA_RUN_WRITE                                                                                    \
    "for _, aid in ipairs(aids) do\n"                                                                    \
    "  if changed[aid] then\n"                                                                           \
    "    local kv = {}\n"                                                                                \
    "    for _, sid in ipairs(changed[aid]) do kv[#kv + 1] = sid; kv[#kv + 1] = sheet[aid][sid] end\n"   \
    "    redis.call('HSET', " VK(GRADING_VIEW_GRADES) " .. aid, unpack(kv))\n"                           \
    "  end\n"                                                                                            \
    "end\n"                                                                                              \
    "for _, i in ipairs(rows) do\n"                                                                      \
    "  redis.call('RPUSH', " VK(GRADING_VIEW_HISTORY) " .. ARGV[i + 1] .. ':' .. ARGV[i + 3], ARGV[i + 9])\n" \
    "  if ARGV[i + 6] == '1' then\n"                                                                     \
    "    redis.call('HSET', " VK(GRADING_VIEW_STUDENT_GRADES) " .. ARGV[i + 3], ARGV[i + 1], ARGV[i + 2])\n" \
    "  end\n"                                                                                            \
    "end\n"                                                                                              \
    "for _, cls in ipairs(classes) do\n"                                                                 \
    "  local set, del = {}, {}\n"                                                                        \
    "  for _, e in ipairs(final[cls]) do\n"                                                              \
    "    if e[2] == '0' then del[#del + 1] = e[1] else set[#set + 1] = e[1]; set[#set + 1] = e[2] end\n" \
    "  end\n"                                                                                            \
    "  local tk = " VK(GRADING_VIEW_TOTALS) " .. cls\n"                                                  \
    "  if #set > 0 then redis.call('HSET', tk, unpack(set)) end\n"                                       \
    "  if #del > 0 then redis.call('HDEL', tk, unpack(del)) end\n"                                       \
    "  if #ranked[cls] > 0 then redis.call('ZADD', " VK(GRADING_VIEW_RANK) " .. cls, unpack(ranked[cls])) end\n" \
    "end\n"                                                                                              \
    "flush_counts(counts)\n"                                                                             \
    /* positions last: a run that fails part-way must not record that it got past its events */       \
    "for i = 2, 2 * k, 2 do redis.call('HSET', " VK(GRADING_VIEW_OFFSETS) ", ARGV[i], ARGV[i + 1]) end\n" \
    "return #rows\n"

static sms_redis_script_t grades_script = {
    .source = "local p = '" GRADING_VIEW_PREFIX "'\n" LUA_FLUSH_COUNTS LUA_RUN_READ LUA_RUN_DECIDE
              LUA_RUN_TOTALS LUA_RUN_WRITE};

int grading_projection_init(redisContext *rc, char *err, size_t errlen) {
    sms_redis_script_t *all[] = {&assignment_script, &enrolled_script, &unenrolled_script, &grade_script,
                                 &grades_script};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sms_redis_script_load(rc, all[i], err, errlen) != 0) return -1;
    return 0;
}

/* Where an event is applied from: its topic, partition (-1: right after
 * being produced) and offset. */
typedef struct at_s {
    const char *topic;
    int32_t partition;
    int64_t offset;
    char part[160]; /* "<topic>:<partition>", or "" */
} at_t;

static at_t at_make(const char *topic, int32_t partition, int64_t offset) {
    at_t at = {topic, partition, offset, ""};
    if (partition >= 0) snprintf(at.part, sizeof at.part, "%s:%d", topic, partition);
    return at;
}

/* Starts EVALSHA sha 0 part next (part and next "" when applied right after
 * being produced); at must outlive the append. */
static void args_begin(sms_redis_args_t *a, const sms_redis_script_t *s, const at_t *at) {
    sms_redis_args_init(a);
    sms_redis_args_str(a, "EVALSHA");
    sms_redis_args_str(a, s->sha);
    sms_redis_args_str(a, "0");
    sms_redis_args_str(a, at->part);
    if (at->partition >= 0) sms_redis_args_i64(a, at->offset + 1);
    else sms_redis_args_str(a, "");
}

static void args_add(sms_redis_args_t *a, sms_str_t s) { sms_redis_args_add(a, s.ptr, s.len); }

/* Pipelines a built call: 1, or 0 (logged) when hiredis refused it. */
static int args_send(redisContext *rc, sms_redis_args_t *a, const sms_event_t *ev) {
    if (sms_redis_args_append(rc, a) == 0) return 1;
    sms_log(SMS_LOG_ERROR, "redis_append_failed", "%.*s %.*s", (int)ev->type.len, ev->type.ptr, (int)ev->id.len,
            ev->id.ptr);
    return 0;
}

/* A call with as many arguments as its event has (a roster's students, a run
 * of grades): sms_redis_args_t holds SMS_REDIS_ARGS_MAX, so this one grows;
 * its strings are copied. */
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

/* Copies a fixed call's arguments (its head, or one grade's row). */
static void call_add_args(call_t *c, const sms_redis_args_t *a) {
    for (size_t i = 0; i < a->argc; i++) call_add(c, a->argv[i], a->lens[i]);
}

static void call_free(call_t *c) {
    for (size_t i = 0; i < c->n; i++) sms_free(c->owned[i]);
    sms_free(c->owned);
    sms_free(c->argv);
    sms_free(c->lens);
}

static int call_send(redisContext *rc, call_t *c) {
    int ok = redisAppendCommandArgv(rc, (int)c->n, c->argv, c->lens) == REDIS_OK;
    if (!ok) sms_log(SMS_LOG_ERROR, "redis_append_failed", "a call of %zu arguments", c->n);
    call_free(c);
    return ok;
}

static bool get_str(const msgpack_object *data, const char *key, sms_str_t *out) {
    return sms_mp_str(sms_mp_map_get(data, key), &out->ptr, &out->len);
}

static int skip(const sms_event_t *ev) {
    sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s lacks a field this version needs", (int)ev->type.len,
            ev->type.ptr, (int)ev->id.len, ev->id.ptr);
    return 0;
}

typedef enum grade_kind_e { GRADE_NONE = 0, GRADE_CHANGED, GRADE_RELEASED, GRADE_CORRECTED } grade_kind_t;

/* One row of the event table. */
typedef struct event_row_s {
    const char *type;
    int64_t v;          /* the version applied; 0: any (validate.c refuses a grade event's unknown ones) */
    grade_kind_t grade; /* a grade event's kind, GRADE_NONE for a learned one */
    bool run;           /* project_many applies consecutive events of run rows in one grades_script call */
    /* Appends the Redis commands applying ev: how many, 0 for none. */
    int (*apply)(redisContext *rc, const sms_event_t *ev, const at_t *at, const struct event_row_s *row);
} event_row_t;

static int append_assignment(redisContext *rc, const sms_event_t *ev, const at_t *at, const event_row_t *row) {
    (void)row;
    sms_str_t id, cls, lec, status, title = {"", 0};
    int64_t version;
    double max;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "id", &id) || !get_str(d, "class_id", &cls) || !get_str(d, "lecturer_id", &lec) ||
        !get_str(d, "status", &status) || !sms_mp_i64(sms_mp_map_get(d, "version"), &version) ||
        !sms_mp_number(sms_mp_map_get(d, "max_score"), &max))
        return skip(ev);
    (void)get_str(d, "title", &title); /* optional: "" when absent */
    sms_redis_args_t a;
    args_begin(&a, &assignment_script, at);
    args_add(&a, id);
    sms_redis_args_i64(&a, version);
    args_add(&a, cls);
    args_add(&a, lec);
    sms_redis_args_i64(&a, grading_hundredths(max));
    args_add(&a, status);
    args_add(&a, title);
    return args_send(rc, &a, ev);
}

static int append_enrolled(redisContext *rc, const sms_event_t *ev, const at_t *at, const event_row_t *row) {
    (void)row;
    sms_str_t cls;
    int64_t rv;
    const msgpack_object *d = ev->data, *list = sms_mp_map_get(d, "students");
    if (!get_str(d, "class_id", &cls) || !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv) || list == NULL ||
        list->type != MSGPACK_OBJECT_ARRAY)
        return skip(ev);
    sms_redis_args_t head;
    args_begin(&head, &enrolled_script, at);
    args_add(&head, cls);
    sms_redis_args_i64(&head, rv);
    call_t c = {0};
    call_add_args(&c, &head);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        sms_str_t sid, name = {"", 0};
        if (!get_str(&list->via.array.ptr[i], "student_id", &sid)) continue;
        (void)get_str(&list->via.array.ptr[i], "name", &name); /* optional: "" when absent */
        call_add(&c, sid.ptr, sid.len);
        call_add(&c, name.ptr, name.len);
    }
    return call_send(rc, &c);
}

static int append_unenrolled(redisContext *rc, const sms_event_t *ev, const at_t *at, const event_row_t *row) {
    (void)row;
    sms_str_t cls, sid;
    int64_t rv;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "class_id", &cls) || !get_str(d, "student_id", &sid) ||
        !sms_mp_i64(sms_mp_map_get(d, "roster_version"), &rv))
        return skip(ev);
    sms_redis_args_t a;
    args_begin(&a, &unenrolled_script, at);
    args_add(&a, cls);
    sms_redis_args_i64(&a, rv);
    args_add(&a, sid);
    return args_send(rc, &a, ev);
}

/* One grade event's GRADE_ROW_ARGS values, read from its data. */
typedef struct grade_args_s {
    sms_str_t cause, aid, cls, sid, fb;
    int64_t version, score; /* score in hundredths */
    bool released;
    char when[SMS_RFC3339_LEN];
    sms_buf_t history; /* the history entry, rendered once here so reads only concatenate */
} grade_args_t;

/* Renders g's history entry (prev: the previous score, when had_prev). */
static void grade_history(grade_args_t *g, const sms_event_t *ev, sms_str_t by, bool had_prev, double score,
                          double prev, grade_kind_t kind) {
    sms_buf_t *h = &g->history;
    sms_buf_puts(h, "{\"score\":");
    grading_score_json(h, grading_hundredths(score));
    sms_buf_puts(h, ",\"previous_score\":");
    if (had_prev) grading_score_json(h, grading_hundredths(prev));
    else sms_buf_puts(h, "null");
    sms_buf_puts(h, ",\"feedback\":");
    sms_buf_json_str(h, g->fb.ptr, g->fb.len);
    sms_buf_printf(h, ",\"released\":%s,\"changed_by\":", g->released ? "true" : "false");
    sms_buf_json_str(h, by.ptr, by.len);
    sms_buf_printf(h, ",\"changed_at\":\"%s\"", g->when);
    sms_str_t reason;
    if (kind == GRADE_CORRECTED && get_str(ev->data, "reason", &reason)) { /* a correction says why */
        sms_buf_puts(h, ",\"reason\":");
        sms_buf_json_str(h, reason.ptr, reason.len);
    }
    sms_buf_putc(h, '}');
}

/* Reads ev (a grade event of kind) into g; g->history is then g's to close
 * (grade_args_close). False, with nothing held, for an event that lacks a
 * field this version needs. */
static bool grade_args_read(grade_args_t *g, const sms_event_t *ev, grade_kind_t kind) {
    memset(g, 0, sizeof *g);
    sms_str_t by = ev->actor;
    int64_t at = ev->time;
    double score, prev = 0;
    bool released_event = kind == GRADE_RELEASED, had_prev = released_event;
    const msgpack_object *d = ev->data;
    if (!get_str(d, "assignment_id", &g->aid) || !get_str(d, "class_id", &g->cls) ||
        !get_str(d, "student_id", &g->sid) || !get_str(d, "feedback", &g->fb) ||
        !sms_mp_number(sms_mp_map_get(d, "score"), &score) ||
        !sms_mp_i64(sms_mp_map_get(d, "grade_version"), &g->version))
        return false;
    g->released = true;
    if (released_event) {
        prev = score;
    } else {
        const msgpack_object *r = sms_mp_map_get(d, "released");
        if (r == NULL || r->type != MSGPACK_OBJECT_BOOLEAN || !sms_mp_i64(sms_mp_map_get(d, "changed_at"), &at) ||
            !get_str(d, "changed_by", &by))
            return false;
        g->released = r->via.boolean;
        had_prev = sms_mp_number(sms_mp_map_get(d, "previous_score"), &prev);
    }
    g->cause = ev->cause;
    g->score = grading_hundredths(score);
    sms_rfc3339(at, g->when);
    sms_buf_init(&g->history);
    grade_history(g, ev, by, had_prev, score, prev, kind);
    return true;
}

static void grade_args_close(grade_args_t *g) { sms_buf_close(&g->history); }

/* Adds g's GRADE_ROW_ARGS to a (borrowing g's strings). */
static void grade_args_add(sms_redis_args_t *a, const grade_args_t *g) {
    args_add(a, g->cause);
    args_add(a, g->aid);
    args_add(a, g->cls);
    args_add(a, g->sid);
    sms_redis_args_i64(a, g->version);
    sms_redis_args_i64(a, g->score);
    sms_redis_args_str(a, g->released ? "1" : "0");
    sms_redis_args_str(a, g->when);
    args_add(a, g->fb);
    sms_redis_args_add(a, g->history.data, g->history.len);
}

static int append_grade(redisContext *rc, const sms_event_t *ev, const at_t *at, const event_row_t *row) {
    grade_args_t g;
    if (!grade_args_read(&g, ev, row->grade)) return skip(ev);
    sms_redis_args_t a;
    args_begin(&a, &grade_script, at);
    grade_args_add(&a, &g);
    int n = args_send(rc, &a, ev);
    grade_args_close(&g);
    return n;
}

/* grade.corrected: the grade as grade.changed sets it, and the position it
 * repairs leaves the incomplete sets of its assignment and class
 * (common/quarantine.h); the quarantine entry stays, as history. Returns the
 * commands appended. */
static int append_corrected(redisContext *rc, const sms_event_t *ev, const at_t *at, const event_row_t *row) {
    int n = append_grade(rc, ev, at, row);
    sms_str_t repairs, aid, cls;
    if (n == 0 || !get_str(ev->data, "repairs", &repairs) || !get_str(ev->data, "assignment_id", &aid) ||
        !get_str(ev->data, "class_id", &cls))
        return n;
    for (int i = 0; i < 2; i++) {
        sms_str_t agg = i == 0 ? aid : cls;
        if (redisAppendCommand(rc, "SREM " GRADING_VIEW_KEY(GRADING_VIEW_INCOMPLETE) "%b %b", agg.ptr, agg.len,
                               repairs.ptr, repairs.len) == REDIS_OK)
            n++;
        else sms_log(SMS_LOG_ERROR, "redis_append_failed", "SREM incomplete");
    }
    return n;
}

/* Every event type the view applies; the rest (class.created, ...) are not for it. */
static const event_row_t event_rows[] = {
    {GRADING_EVENT_CHANGED, 0, GRADE_CHANGED, true, append_grade},
    {GRADING_EVENT_RELEASED, 0, GRADE_RELEASED, true, append_grade},
    {GRADING_EVENT_CORRECTED, 0, GRADE_CORRECTED, false, append_corrected},
    {"assignment.created", 1, GRADE_NONE, false, append_assignment},
    {"assignment.updated", 1, GRADE_NONE, false, append_assignment},
    {"assignment.deleted", 1, GRADE_NONE, false, append_assignment},
    {"class.students_enrolled", 1, GRADE_NONE, false, append_enrolled},
    {"class.student_unenrolled", 1, GRADE_NONE, false, append_unenrolled},
};

/* ev's row, or NULL when the view does not apply it (another type, or a
 * learned event of a version this view does not know). */
static const event_row_t *event_row(const sms_event_t *ev) {
    for (size_t i = 0; i < sizeof event_rows / sizeof event_rows[0]; i++) {
        const event_row_t *r = &event_rows[i];
        if (ev->type.len == strlen(r->type) && memcmp(ev->type.ptr, r->type, ev->type.len) == 0)
            return r->v == 0 || r->v == ev->v ? r : NULL;
    }
    return NULL;
}

int grading_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                              int64_t offset) {
    const event_row_t *row = event_row(ev);
    if (row == NULL) return 0;
    at_t at = at_make(topic, partition, offset);
    return row->apply(rc, ev, &at, row);
}

/* Appends one grades_script run for the grade events evs[0..n) (rows[i]
 * evs[i]'s, all run rows, in log order, whose positions are pos), recording
 * those positions (the unreadable events' too). Returns the commands
 * appended (1). */
static size_t append_grades(redisContext *rc, const char *topic, const sms_event_t *evs,
                            const event_row_t *const *rows, size_t n, const sms_positions_t *pos) {
    call_t c = {0};
    call_add(&c, "EVALSHA", 7);
    call_add(&c, grades_script.sha, strlen(grades_script.sha));
    call_add(&c, "0", 1);
    sms_redis_args_t a;
    sms_redis_args_init(&a);
    sms_redis_args_i64(&a, (int64_t)pos->k);
    call_add_args(&c, &a);
    for (size_t j = 0; j < pos->k; j++) {
        at_t at = at_make(topic, pos->partition[j], 0);
        sms_redis_args_init(&a);
        sms_redis_args_str(&a, at.part);
        sms_redis_args_i64(&a, pos->next[j]);
        call_add_args(&c, &a);
    }
    for (size_t i = 0; i < n; i++) {
        grade_args_t g;
        if (!grade_args_read(&g, &evs[i], rows[i]->grade)) {
            (void)skip(&evs[i]); /* logged; its offset is recorded */
            continue;
        }
        sms_redis_args_init(&a);
        grade_args_add(&a, &g);
        call_add_args(&c, &a);
        grade_args_close(&g);
    }
    return (size_t)call_send(rc, &c);
}

size_t grading_projection_append_many(redisContext *rc, const char *topic, const sms_event_t *evs,
                                      const int32_t *partitions, const int64_t *offsets, size_t n) {
    size_t appended = 0;
    const event_row_t *rows[SMS_WORKER_PROJECT_CHUNK];
    for (size_t i = 0; i < n;) {
        const event_row_t *row = event_row(&evs[i]);
        if (row && row->run) {
            /* the run of consecutive grade events (split where its partitions would not fit) */
            size_t j = i;
            for (; j < n && j - i < SMS_WORKER_PROJECT_CHUNK; j++) {
                rows[j - i] = event_row(&evs[j]);
                if (rows[j - i] == NULL || !rows[j - i]->run) break;
            }
            sms_positions_t pos;
            size_t m = sms_positions_collect(&pos, partitions + i, offsets + i, j - i);
            appended += append_grades(rc, topic, evs + i, rows, m, &pos);
            i += m;
            continue;
        }
        at_t at = at_make(topic, partitions[i], offsets[i]);
        int a = row ? row->apply(rc, &evs[i], &at, row) : 0;
        if (a > 0) appended += (size_t)a;
        else if (partitions[i] >= 0) /* not for this view: its offset is recorded all the same (worker.h) */
            appended += (size_t)sms_worker_append_position(rc, GRADING_VIEW_PREFIX, topic, partitions[i], offsets[i]);
        i++;
    }
    return appended;
}
