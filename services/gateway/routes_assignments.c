/* routes_assignments.c - the lecturer's assignments API at the gateway: reads
 * are answered from the assignments service's Redis view (sms:assignments:*,
 * layout in services/assignments/view.h) by Lua scripts that also decide the
 * read-time status (closed once due_at has passed); writes become
 * assignment.* commands on sms.commands.assignments. Registered by app.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "assignments/view.h"
#include "buf.h"
#include "clock.h"
#include "grading/view.h"
#include "route_kit.h"
#include "routes.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100
#define DUE_BOUND_MAX 999999999999999LL /* list members pad due_at to 15 digits */

/* render(id, now): the public JSON of assignment id, or nil. The view stores
 * the document without status and counts; they are added here. graded_count
 * is read from the grading service's own view (students with a grade record,
 * sms:grading:g:<id>), not from the copy the assignments view learns from
 * sms.events.grades: the owner's view is updated before its 2xx, so a
 * lecturer's list shows grades saved a moment ago (read-your-writes across
 * services; it needs the views in one Redis, as every read script here does). */
#define RENDER_LUA                                                                                     \
    "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"                                                       \
    GW_LUA_VIEW_STATE                                                                                  \
    "local function render(h, now)\n"                                                                  \
    "  local st = 'open'\n"                                                                            \
    "  if h[4] == 'deleted' then st = 'deleted' elseif tonumber(h[3]) <= now then st = 'closed' end\n" \
    "  return h[2] .. ',\"status\":\"' .. st .. '\",\"submission_count\":' .. (h[5] or '0')\n"          \
    "         .. ',\"graded_count\":' .. (h[6] or '0') .. '}'\n"                                       \
    "end\n"                                                                                            \
    "local function fetch(id)\n"                                                                       \
    "  local h = redis.call('HMGET', p .. '" ASSIGNMENTS_VIEW_ASSIGNMENT "' .. id, '"                    \
    ASSIGNMENTS_FIELD_LECTURER_ID "', '" ASSIGNMENTS_FIELD_DOC "', '" ASSIGNMENTS_FIELD_DUE_AT "', '"   \
    ASSIGNMENTS_FIELD_STATUS "',\n"                                                                   \
    "                       '" ASSIGNMENTS_FIELD_SUBMISSION_COUNT "')\n"                                 \
    "  h[6] = redis.call('HLEN', '" GRADING_VIEW_KEY(GRADING_VIEW_GRADES) "' .. id)\n"                 \
    "  return h\n"                                                                                     \
    "end\n"

/* ARGV: assignment id, user, now ms. Returns {1, json}, or {0} when missing or not the user's. */
static gw_script_t get_script = {.source = RENDER_LUA
    "local h = fetch(ARGV[1])\n"
    "if h[1] ~= ARGV[2] or not h[2] then return {0} end\n"
    "local vs = view_state({ARGV[1]})\n"
    "if vs then return vs end\n"
    "return {1, render(h, tonumber(ARGV[3]))}\n"};

/* ARGV: 1 user, 2 class id, 3 sort (due_at|-due_at|created_at), 4 lo, 5 hi (15-digit
 * due_at bounds: lo <= due_at < hi), 6 cursor ("" = start), 7 limit, 8 now ms.
 * Returns {0} when the class is not the user's, else {1, {json...}, next cursor or false}.
 * Members are "<15 digits>:<id>" (view.h): the id starts at byte ASSIGNMENTS_VIEW_MEMBER_ID_AT. */
static gw_script_t list_script = {.source = RENDER_LUA
    "if redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_CLASS "' .. ARGV[2], '" ASSIGNMENTS_FIELD_LECTURER_ID "')"
    " ~= ARGV[1] then return {0} end\n"
    "local vs = view_state({ARGV[2]})\n"
    "if vs then return vs end\n"
    "local sort, lo, hi, cur = ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
    "local limit, now = tonumber(ARGV[7]), tonumber(ARGV[8])\n"
    "local function page(members)\n"
    "  local out = {}\n"
    "  for i = 1, math.min(#members, limit) do out[i] = render(fetch(string.sub(members[i], "
    ASSIGNMENTS_VIEW_MEMBER_ID_AT ")), now) end\n"
    "  if #members > limit then return {1, out, members[limit]} end\n"
    "  return {1, out, false}\n"
    "end\n"
    /* By due date, the filters are a lex range of the due-ordered set. */
    "local dkey = p .. '" ASSIGNMENTS_VIEW_BY_DUE "' .. ARGV[2]\n"
    "if sort == 'due_at' then\n"
    "  local min = '[' .. lo\n"
    "  if cur ~= '' and cur >= lo then min = '(' .. cur end\n"
    "  return page(redis.call('ZRANGEBYLEX', dkey, min, '(' .. hi, 'LIMIT', 0, limit + 1))\n"
    "elseif sort == '-due_at' then\n"
    "  local max = '(' .. hi\n"
    "  if cur ~= '' and cur < hi then max = '(' .. cur end\n"
    "  return page(redis.call('ZREVRANGEBYLEX', dkey, max, '[' .. lo, 'LIMIT', 0, limit + 1))\n"
    "end\n"
    /* By creation, walk the creation-ordered set and check due_at per item. */
    "local nkey, lon, hin = p .. '" ASSIGNMENTS_VIEW_BY_CREATION "' .. ARGV[2], tonumber(lo), tonumber(hi)\n"
    "local min, out, last, seen = '-', {}, nil, 0\n"
    "if cur ~= '' then min = '(' .. cur end\n"
    "while true do\n"
    "  local members = redis.call('ZRANGEBYLEX', nkey, min, '+', 'LIMIT', 0, 200)\n"
    "  for _, m in ipairs(members) do\n"
    "    local h = fetch(string.sub(m, " ASSIGNMENTS_VIEW_MEMBER_ID_AT "))\n"
    "    local due = tonumber(h[3])\n"
    "    if due and due >= lon and due < hin then\n"
    "      if #out == limit then return {1, out, last} end\n"
    "      out[#out + 1] = render(h, now)\n"
    "      last = m\n"
    "    end\n"
    "    min = '(' .. m\n"
    "  end\n"
    "  if #members < 200 then return {1, out, false} end\n"
    /* Bounded like GW_LUA_SCAN: a short page and a cursor, not the whole set. */
    "  seen = seen + #members\n"
    "  if seen >= " GW_LUA_SCAN_BUDGET " then return {1, out, members[#members]} end\n"
    "end\n"};

/* ---- GET /lecturer/assignments/{id} ---- */

static void on_assignment(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        gw_respond_redis_down(req);
        return;
    }
    if (gw_respond_view_state(req, r, "assignments")) return;
    /* Another lecturer's assignment is answered exactly like a missing one. */
    if (r->element[0]->integer != 1 || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        gw_respond_problem(req, 404, "not_found", "no such assignment", NULL, 0);
        return;
    }
    gw_respond(req, 200, "application/json", r->element[1]->str, r->element[1]->len, NULL);
}

static void get_assignment(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id"), *user = gw_req_user(req);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)sms_now_ms());
    const char *argv[] = {id, user, now};
    size_t lens[] = {strlen(id), strlen(user), strlen(now)};
    gw_read_script(app, req, &get_script, 3, argv, lens, on_assignment);
}

/* ---- GET /lecturer/classes/{class_id}/assignments ---- */

static void on_list(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        gw_respond_redis_down(req);
        return;
    }
    if (gw_respond_view_state(req, r, "assignments")) return;
    if (r->element[0]->integer != 1) {
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    if (r->elements != 3 || r->element[1]->type != REDIS_REPLY_ARRAY) {
        gw_respond_redis_down(req);
        return;
    }
    gw_respond_page(req, r->element[1], r->element[2]);
}

/* Cursors are "<sort key, 15 digits>:<id>". */
static bool valid_cursor(const char *c) { return gw_valid_cursor(c, 15); }

/* Parses an RFC 3339 query value. A '+' in an unencoded query arrives as a
 * space (form decoding); put it back before the offset. */
static bool query_time(const char *v, int64_t *ms) {
    char buf[64];
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, v, n + 1);
    if (n > 6 && buf[n - 6] == ' ') buf[n - 6] = '+';
    return sms_rfc3339_parse(buf, n, ms) == 0;
}

static void list_assignments(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[6];
    size_t n_errs = 0;
    int64_t now = sms_now_ms(), lo = 0, hi = DUE_BOUND_MAX;
    const char *status = gw_req_query(req, "status");
    if (status == NULL || *status == '\0') status = "all";
    if (!strcmp(status, "open")) lo = now + 1;
    else if (!strcmp(status, "closed")) hi = now + 1;
    else if (strcmp(status, "all")) errs[n_errs++] = (sms_problem_error_t){"status", "must be open, closed or all"};
    const char *after = gw_req_query(req, "due_after"), *before = gw_req_query(req, "due_before");
    int64_t t;
    if (after && !query_time(after, &t))
        errs[n_errs++] = (sms_problem_error_t){"due_after", "must be an RFC 3339 date-time, e.g. 2026-03-01T00:00:00Z"};
    else if (after && t + 1 > lo) lo = t + 1;
    if (before && !query_time(before, &t))
        errs[n_errs++] = (sms_problem_error_t){"due_before", "must be an RFC 3339 date-time, e.g. 2026-03-01T00:00:00Z"};
    else if (before && t < hi) hi = t;
    const char *sort = gw_req_query(req, "sort");
    if (sort == NULL || *sort == '\0') sort = "due_at";
    else if (strcmp(sort, "due_at") && strcmp(sort, "-due_at") && strcmp(sort, "created_at"))
        errs[n_errs++] = (sms_problem_error_t){"sort", "must be due_at, -due_at or created_at"};
    gw_page_query_t page;
    /* Its errors are counted in n_errs, checked below. */
    (void)gw_query_page(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, valid_cursor, &page, errs, &n_errs);
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    /* Bounds outside the padded range select nothing or everything. */
    if (lo < 0) lo = 0;
    if (hi < 0) hi = 0;
    if (lo > DUE_BOUND_MAX) lo = DUE_BOUND_MAX;
    char lo_s[24], hi_s[24], now_s[24];
    snprintf(lo_s, sizeof lo_s, "%015lld", (long long)lo);
    snprintf(hi_s, sizeof hi_s, "%015lld", (long long)hi);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *user = gw_req_user(req), *class_id = gw_req_param(req, "class_id");
    const char *argv[] = {user, class_id, sort, lo_s, hi_s, page.cursor, page.limit_s, now_s};
    size_t lens[8];
    for (int i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    gw_read_script(app, req, &list_script, 8, argv, lens, on_list);
}

/* ---- writes ---- */

static void create_assignment(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "assignments", "assignment.create", "");
}

static void update_assignment(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "assignments", "assignment.update", gw_req_param(req, "id"));
}

static void delete_assignment(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    gw_bus_send(app->bus, req, "assignments", "assignment.delete", gw_req_param(req, "id"), NULL);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_assignments_scripts[] = {&get_script, &list_script, NULL};

int gw_routes_assignments(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&get_script);
    gw_script_init(&list_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/lecturer/assignments", json, GW_ROLE_LECTURER, create_assignment, app);
    rc |= gw_router_add(router, "GET", "/lecturer/assignments/{id}", auth, GW_ROLE_LECTURER, get_assignment, app);
    rc |= gw_router_add(router, "PUT", "/lecturer/assignments/{id}", json, GW_ROLE_LECTURER, update_assignment, app);
    rc |= gw_router_add(router, "DELETE", "/lecturer/assignments/{id}", auth, GW_ROLE_LECTURER, delete_assignment, app);
    rc |= gw_router_add(router, "GET", "/lecturer/classes/{class_id}/assignments", auth, GW_ROLE_LECTURER,
                        list_assignments, app);
    return rc ? -1 : 0;
}
