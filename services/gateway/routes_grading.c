/* routes_grading.c - grades at the gateway: the lecturer's update/release
 * (grades.* commands to sms-grading, key = assignment id) and reads answered
 * from the grading view (sms:grading:*, layout in
 * services/grading/view.h) by one Lua script each: the lecturer's
 * grade sheet and a grade's history, a student's released grades and class
 * ranking. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grading/view.h"
#include "id.h"
#include "route_kit.h"
#include "routes.h"

#define GRADES_LIMIT_DEFAULT 50
#define GRADES_LIMIT_MAX 1000
#define ID_MAX 128

/* Score helpers every read script shares: num(h) renders hundredths as a
 * JSON number; rec(g) splits a grade record. */
#define LUA_HEAD                                                                             \
    "local p = '" GRADING_VIEW_PREFIX "'\n"                                                             \
    GW_LUA_SCORE_NUM                                                                         \
    "local function rec(g)\n"                                                                \
    "  return string.match(g, " GRADING_VIEW_RECORD_LUA ")\n"                 \
    "end\n"                                                                                  \
    GW_LUA_VIEW_STATE

/* ARGV: assignment, lecturer, cursor ("" = start), limit.
 * {0} not found, or {1, items JSON, next cursor or false}. */
static gw_script_t sheet_script = {.source = LUA_HEAD
    "local a = redis.call('HMGET', p .. '" GRADING_VIEW_ASSIGNMENT "' .. ARGV[1], '" GRADING_VIEW_A_LECTURER_ID "', '"
    GRADING_VIEW_A_CLASS_ID "')\n"
    "if a[1] ~= ARGV[2] then return {0} end\n"
    "local vs = view_state({ARGV[1]})\n"
    "if vs then return vs end\n"
    "local cls, lim = a[2], tonumber(ARGV[4])\n"
    "local min = '-'\n"
    "if ARGV[3] ~= '' then min = '(' .. ARGV[3] end\n"
    "local ids = redis.call('ZRANGEBYLEX', p .. '" GRADING_VIEW_STUDENTS "' .. cls, min, '+', 'LIMIT', 0, lim + 1)\n"
    "local n = math.min(#ids, lim)\n"
    "if n == 0 then return {1, '', false} end\n"
    "local page = {}\n"
    "for i = 1, n do page[i] = ids[i] end\n"
    "local names = redis.call('HMGET', p .. '" GRADING_VIEW_NAMES "' .. cls, unpack(page))\n"
    "local grades = redis.call('HMGET', p .. '" GRADING_VIEW_GRADES "' .. ARGV[1], unpack(page))\n"
    "local out = {}\n"
    "for i = 1, n do\n"
    "  local item = '{\"student_id\":' .. cjson.encode(page[i]) .. ',\"name\":' .. cjson.encode(names[i] or '')\n"
    "  if grades[i] then\n"
    "    local v, s, r, u, ra, f = rec(grades[i])\n"
    "    item = item .. ',\"score\":' .. num(s) .. ',\"feedback\":' .. cjson.encode(f) ..\n"
    "      ',\"released\":' .. (r == '1' and 'true' or 'false') .. ',\"updated_at\":\"' .. u .. '\"}'\n"
    "  else\n"
    "    item = item .. ',\"score\":null,\"feedback\":null,\"released\":false,\"updated_at\":null}'\n"
    "  end\n"
    "  out[i] = item\n"
    "end\n"
    "local nxt = false\n"
    "if #ids > lim then nxt = ids[lim] end\n"
    "return {1, table.concat(out, ','), nxt}\n"};

/* ARGV: assignment, lecturer, student. {0} not found, or {1, entries JSON}. */
static gw_script_t history_script = {.source =
    "local p = '" GRADING_VIEW_PREFIX "'\n"
    GW_LUA_VIEW_STATE
    "if redis.call('HGET', p .. '" GRADING_VIEW_ASSIGNMENT "' .. ARGV[1], '" GRADING_VIEW_A_LECTURER_ID "')"
    " ~= ARGV[2] then return {0} end\n"
    "local vs = view_state({ARGV[1]})\n"
    "if vs then return vs end\n"
    "return {1, table.concat(redis.call('LRANGE', p .. '" GRADING_VIEW_HISTORY "' .. ARGV[1] .. ':' .. ARGV[3], 0, -1),"
    " ',')}\n"};

/* ARGV: student. The body: released grades of assignments not deleted, by
 * assignment id, and per class the mean of score/max_score in percent. */
static gw_script_t student_script = {.source = LUA_HEAD
    "local sid = ARGV[1]\n"
    "local sg = redis.call('HGETALL', p .. '" GRADING_VIEW_STUDENT_GRADES "' .. sid)\n"
    "local aids, clsof = {}, {}\n"
    "for i = 1, #sg, 2 do aids[#aids + 1] = sg[i]; clsof[sg[i]] = sg[i + 1] end\n"
    "table.sort(aids)\n"
    "local vs = view_state(aids) -- a table: unpack would meet Lua's stack limit\n"
    "if vs then return vs end\n"
    "local items, sums, counts, classes = {}, {}, {}, {}\n"
    "for _, aid in ipairs(aids) do\n"
    "  local a = redis.call('HMGET', p .. '" GRADING_VIEW_ASSIGNMENT "' .. aid, '" GRADING_VIEW_A_STATUS "', '"
    GRADING_VIEW_A_MAX "', '" GRADING_VIEW_A_CLASS_ID "')\n"
    "  local g = redis.call('HGET', p .. '" GRADING_VIEW_GRADES "' .. aid, sid)\n"
    "  if a[1] ~= '" GRADING_VIEW_A_DELETED "' and g then\n"
    "    local v, s, r, u, ra, f = rec(g)\n"
    "    if r == '1' then\n"
    "      local cls = a[3] or clsof[aid]\n"
    "      local max = tonumber(a[2])\n"
    "      items[#items + 1] = '{\"assignment_id\":' .. cjson.encode(aid) .. ',\"class_id\":' .. cjson.encode(cls) ..\n"
    "        ',\"score\":' .. num(s) .. ',\"max_score\":' .. (max and num(max) or 'null') ..\n"
    "        ',\"feedback\":' .. cjson.encode(f) .. ',\"released_at\":\"' .. ra .. '\"}'\n"
    "      if max and max > 0 then\n"
    "        if not sums[cls] then sums[cls] = 0; counts[cls] = 0; classes[#classes + 1] = cls end\n"
    "        sums[cls] = sums[cls] + tonumber(s) * 100 / max\n"
    "        counts[cls] = counts[cls] + 1\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "table.sort(classes)\n"
    "local avgs = {}\n"
    "for i, cls in ipairs(classes) do\n"
    "  local h = math.floor(sums[cls] / counts[cls] * 100 + 0.5)\n"
    "  avgs[i] = '{\"class_id\":' .. cjson.encode(cls) .. ',\"average_percent\":' .. num(h) .. '}'\n"
    "end\n"
    "return '{\"items\":[' .. table.concat(items, ',') .. '],\"averages\":[' .. table.concat(avgs, ',') .. ']}'\n"};

/* ARGV: class, student. {0} not enrolled, or {1, body}. Competition ranking
 * (ties share a rank: 1,2,2,4) from the sorted set: rank = 1 + how many
 * totals are strictly higher. */
static gw_script_t ranking_script = {.source = LUA_HEAD
    "local cls, sid = ARGV[1], ARGV[2]\n"
    "if not redis.call('ZSCORE', p .. '" GRADING_VIEW_STUDENTS "' .. cls, sid) then return {0} end\n"
    "local vs = view_state({cls})\n"
    "if vs then return vs end\n"
    "local rk = p .. '" GRADING_VIEW_RANK "' .. cls\n"
    "local t = tonumber(redis.call('ZSCORE', rk, sid) or '0')\n"
    "local rank = redis.call('ZCOUNT', rk, '(' .. t, '+inf') + 1\n"
    "local of = redis.call('ZCARD', rk)\n"
    "local pct = 'null'\n"
    "if of > 0 then pct = num(math.floor((of - rank + 1) * 10000 / of + 0.5)) end\n"
    "local top = redis.call('ZREVRANGE', rk, 0, 9, 'WITHSCORES')\n"
    "local out = {}\n"
    "for i = 1, #top, 2 do\n"
    "  local sc = tonumber(top[i + 1])\n"
    "  local r = redis.call('ZCOUNT', rk, '(' .. sc, '+inf') + 1\n"
    "  local name = redis.call('HGET', p .. '" GRADING_VIEW_NAMES "' .. cls, top[i]) or top[i]\n"
    "  out[#out + 1] = '{\"rank\":' .. r .. ',\"display_name\":' .. cjson.encode(name) .. ',\"total_score\":' .. num(sc) .. '}'\n"
    "end\n"
    "return {1, '{\"class_id\":' .. cjson.encode(cls) .. ',\"rank\":' .. rank .. ',\"of\":' .. of ..\n"
    "  ',\"total_score\":' .. num(t) .. ',\"percentile\":' .. pct .. ',\"top\":[' .. table.concat(out, ',') .. ']}'}\n"};

static bool valid_id(const char *s) { return s && sms_id_name_valid(s, strlen(s), ID_MAX); }

static void not_found(gw_request_t *req, const char *what) { gw_respond_problem(req, 404, "not_found", what, NULL, 0); }

/* Wraps a script's JSON into the response; prefix/suffix around it. */
static void respond_wrapped(gw_request_t *req, const char *prefix, const redisReply *json, const char *mid,
                            const redisReply *cursor) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, prefix);
    if (json->type == REDIS_REPLY_STRING) sms_buf_append(&b, json->str, json->len);
    sms_buf_puts(&b, mid);
    if (cursor) {
        if (cursor->type == REDIS_REPLY_STRING) sms_buf_json_str(&b, cursor->str, cursor->len);
        else sms_buf_puts(&b, "null");
        sms_buf_putc(&b, '}');
    }
    gw_respond(req, 200, "application/json", b.data, b.len, NULL);
    sms_buf_close(&b);
}

static bool found(redisReply *r, size_t elements) {
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == elements && r->element[0]->type == REDIS_REPLY_INTEGER &&
           r->element[0]->integer == 1;
}

static bool absent(redisReply *r) {
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER &&
           r->element[0]->integer == 0;
}

/* ---- writes ---- */

/* Sends type to sms-grading keyed by the path's assignment id, with the JSON
 * body when with_body (the service checks it). */
static void grading_command(gw_request_t *req, gw_app_t *app, const char *type, bool with_body) {
    const char *id = gw_req_param(req, "id");
    if (!valid_id(id)) {
        not_found(req, "no such assignment");
        return;
    }
    cJSON *body = NULL;
    if (with_body && (body = gw_parse_json_object(req)) == NULL) return;
    gw_bus_send(app->bus, req, "grading", type, id, body);
    cJSON_Delete(body);
}

static void update_grades(gw_request_t *req, void *data) { grading_command(req, data, "grades.update", true); }

static void release_grades(gw_request_t *req, void *data) { grading_command(req, data, "grades.release", false); }

/* POST /admin/assignments/{id}/grade-corrections: an operator's repair of a
 * grade (grades.correct -> grade.corrected), e.g. of one whose event was
 * quarantined. */
static void correct_grade(gw_request_t *req, void *data) { grading_command(req, data, "grades.correct", true); }

/* ---- GET /lecturer/assignments/{id}/grades ---- */

static void on_sheet(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (absent(r)) not_found(req, "no such assignment");
    else if (gw_respond_view_state(req, r, "grading")) return;
    else if (!found(r, 3)) gw_respond_redis_down(req);
    else respond_wrapped(req, "{\"items\":[", r->element[1], "],\"next_cursor\":", r->element[2]);
}

static void get_sheet(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id");
    if (!valid_id(id)) {
        not_found(req, "no such assignment");
        return;
    }
    gw_page_query_t page;
    if (!gw_query_page_checked(req, GRADES_LIMIT_DEFAULT, GRADES_LIMIT_MAX, valid_id, &page)) return;
    const char *user = gw_req_user(req);
    const char *argv[] = {id, user, page.cursor, page.limit_s};
    size_t lens[] = {strlen(id), strlen(user), strlen(page.cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &sheet_script, 4, argv, lens, on_sheet);
}

/* ---- GET /lecturer/assignments/{id}/grades/{student_id}/history ---- */

static void on_history(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (absent(r)) not_found(req, "no such assignment");
    else if (gw_respond_view_state(req, r, "grading")) return;
    else if (!found(r, 2)) gw_respond_redis_down(req);
    else respond_wrapped(req, "{\"items\":[", r->element[1], "]}", NULL);
}

static void get_history(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id"), *sid = gw_req_param(req, "student_id");
    if (!valid_id(id) || !valid_id(sid)) {
        not_found(req, "no such assignment or student");
        return;
    }
    const char *user = gw_req_user(req);
    const char *argv[] = {id, user, sid};
    size_t lens[] = {strlen(id), strlen(user), strlen(sid)};
    gw_read_script(app, req, &history_script, 3, argv, lens, on_history);
}

/* ---- GET /student/grades ---- */

static void on_student_grades(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (gw_respond_view_state(req, r, "grading")) return;
    if (r == NULL || r->type != REDIS_REPLY_STRING) gw_respond_redis_down(req);
    else gw_respond(req, 200, "application/json", r->str, r->len, NULL);
}

static void get_student_grades(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *user = gw_req_user(req);
    const char *argv[] = {user};
    size_t lens[] = {strlen(user)};
    gw_read_script(app, req, &student_script, 1, argv, lens, on_student_grades);
}

/* ---- GET /student/ranking?class_id= ---- */

static void on_ranking(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (absent(r)) not_found(req, "you are not enrolled in this class");
    else if (gw_respond_view_state(req, r, "grading")) return;
    else if (!found(r, 2) || r->element[1]->type != REDIS_REPLY_STRING) gw_respond_redis_down(req);
    else gw_respond(req, 200, "application/json", r->element[1]->str, r->element[1]->len, NULL);
}

static void get_ranking(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *cls = gw_req_query(req, "class_id");
    if (cls == NULL || *cls == '\0') {
        sms_problem_error_t e = {"class_id", "is required"};
        gw_respond_problem(req, 400, "validation", "invalid query parameters", &e, 1);
        return;
    }
    if (!valid_id(cls)) {
        not_found(req, "you are not enrolled in this class");
        return;
    }
    const char *user = gw_req_user(req);
    const char *argv[] = {cls, user};
    size_t lens[] = {strlen(cls), strlen(user)};
    gw_read_script(app, req, &ranking_script, 2, argv, lens, on_ranking);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_grading_scripts[] = {&sheet_script, &history_script, &student_script, &ranking_script, NULL};

int gw_routes_grading(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&sheet_script);
    gw_script_init(&history_script);
    gw_script_init(&student_script);
    gw_script_init(&ranking_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    const char *base = "/lecturer/assignments/{id}";
    char path[4][96];
    snprintf(path[0], sizeof path[0], "%s/update-grades", base);
    snprintf(path[1], sizeof path[1], "%s/release-grades", base);
    snprintf(path[2], sizeof path[2], "%s/grades", base);
    snprintf(path[3], sizeof path[3], "%s/grades/{student_id}/history", base);
    int rc = 0;
    rc |= gw_router_add(router, "POST", path[0], json, GW_ROLE_LECTURER, update_grades, app);
    rc |= gw_router_add(router, "POST", path[1], auth, GW_ROLE_LECTURER, release_grades, app);
    rc |= gw_router_add(router, "GET", path[2], auth, GW_ROLE_LECTURER, get_sheet, app);
    rc |= gw_router_add(router, "GET", path[3], auth, GW_ROLE_LECTURER, get_history, app);
    rc |= gw_router_add(router, "POST", "/admin/assignments/{id}/grade-corrections", json, GW_ROLE_ADMIN, correct_grade,
                        app);
    rc |= gw_router_add(router, "GET", "/student/grades", auth, GW_ROLE_STUDENT, get_student_grades, app);
    rc |= gw_router_add(router, "GET", "/student/ranking", auth, GW_ROLE_STUDENT, get_ranking, app);
    return rc ? -1 : 0;
}
