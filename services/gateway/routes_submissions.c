/* routes_submissions.c - submissions at the gateway: a student submits to an
 * assignment (a submission.create command on sms.commands.assignments) and
 * lists their class's assignments with their own latest submission; the
 * owning lecturer lists the latest submission of every student, each with
 * its files and fresh signed download URLs. Reads come
 * from the assignments service's view (sms:assignments:*, see
 * services/assignments/view.h) by Lua scripts. Registered by app.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assignments/view.h"
#include "buf.h"
#include "classes/view.h"
#include "clock.h"
#include "grading/view.h"
#include "id.h"
#include "route_kit.h"
#include "routes.h"

#define LIMIT_DEFAULT 20
#define LIMIT_MAX 100
#define ID_MAX 127

/* files(doc): the stored file documents of the uploads a submission item
 * (JSON with upload_ids) lists, in its order. The gateway adds the signed
 * download URLs (they expire, so the view cannot hold them). */
#define FILES_LUA                                                                 \
    "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"                                              \
    "local function files(doc)\n"                                                \
    "  local out = {}\n"                                                          \
    "  if not doc then return out end\n"                                          \
    "  local ok, d = pcall(cjson.decode, doc)\n"                                  \
    "  if not ok or type(d.upload_ids) ~= 'table' then return out end\n"          \
    "  for _, id in ipairs(d.upload_ids) do\n"                                    \
    "    local f = redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_UPLOAD "' .. id, '" \
    ASSIGNMENTS_FIELD_DOC "')\n"                                                 \
    "    if f then out[#out + 1] = f end\n"                                       \
    "  end\n"                                                                     \
    "  return out\n"                                                              \
    "end\n"

/* ARGV: 1 assignment, 2 lecturer, 3 cursor (student id, "" = start), 4 limit.
 * {0} when missing or not the lecturer's, else {1, {item JSON...}, next
 * cursor or false, {{file JSON...} per item}}. */
static gw_script_t list_script = {.source = FILES_LUA
    "local aid, lim = ARGV[1], tonumber(ARGV[4])\n"
    "if redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_ASSIGNMENT "' .. aid, '" ASSIGNMENTS_FIELD_LECTURER_ID "')"
    " ~= ARGV[2] then return {0} end\n"
    "local min = '-'\n"
    "if ARGV[3] ~= '' then min = '(' .. ARGV[3] end\n"
    "local ids = redis.call('ZRANGEBYLEX', p .. '" ASSIGNMENTS_VIEW_SUBMITTERS "' .. aid, min, '+', 'LIMIT', 0,"
    " lim + 1)\n"
    "local n = math.min(#ids, lim)\n"
    "if n == 0 then return {1, {}, false, {}} end\n"
    "local page = {}\n"
    "for i = 1, n do page[i] = ids[i] end\n"
    "local docs = redis.call('HMGET', p .. '" ASSIGNMENTS_VIEW_SUBMISSIONS "' .. aid, unpack(page))\n"
    "local fs = {}\n"
    "for i = 1, n do fs[i] = files(docs[i]) end\n"
    "local nxt = false\n"
    "if #ids > lim then nxt = ids[lim] end\n"
    "return {1, docs, nxt, fs}\n"};

/* ARGV: 1 class, 2 student, 3 cursor ("<15-digit due_at>:<id>", "" = start),
 * 4 limit, 5 now ms. {0} when the student is not enrolled, else {1, {head...},
 * next cursor or false, {my_submission JSON or false...}, {{file JSON...}...}}:
 * the class's assignments not deleted, by due date. A head is the item up to
 * `"my_submission":` (with status and my_grade: the student's released grade,
 * or null; drafts never show). Enrollment and grades are read from their
 * owners' views (sms:classes:rdoc:<class>, sms:grading:g:<assignment>), which
 * are updated before the owner's 2xx: a student enrolled or graded a moment
 * ago sees it on the next read (read-your-writes across services). */
static gw_script_t student_script = {.source = FILES_LUA GW_LUA_SCORE_NUM
    "local cls, sid, lim, now = ARGV[1], ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "if redis.call('HEXISTS', '" CLASSES_KEY_RDOC "' .. cls, sid) == 0 then return {0} end\n"
    "local min = '-'\n"
    "if ARGV[3] ~= '' then min = '(' .. ARGV[3] end\n"
    "local members = redis.call('ZRANGEBYLEX', p .. '" ASSIGNMENTS_VIEW_BY_DUE "' .. cls, min, '+', 'LIMIT', 0,"
    " lim + 1)\n"
    "local heads, mines, fs = {}, {}, {}\n"
    "for i = 1, math.min(#members, lim) do\n"
    "  local id = string.sub(members[i], " ASSIGNMENTS_VIEW_MEMBER_ID_AT ")\n"
    "  local h = redis.call('HMGET', p .. '" ASSIGNMENTS_VIEW_ASSIGNMENT "' .. id, '" ASSIGNMENTS_FIELD_DOC "', '"
    ASSIGNMENTS_FIELD_DUE_AT "', '" ASSIGNMENTS_FIELD_MAX_SCORE "')\n"
    "  local st = 'open'\n"
    "  if tonumber(h[2]) <= now then st = 'closed' end\n"
    "  local grade = 'null'\n"
    "  local g = redis.call('HGET', '" GRADING_VIEW_KEY(GRADING_VIEW_GRADES) "' .. id, sid)\n"
    "  if g then\n"
    "    local _, sc, r, _, ra, fb = string.match(g, " GRADING_VIEW_RECORD_LUA ")\n"
    "    if r == '1' then\n"
    "      grade = '{\"score\":' .. num(sc) .. ',\"max_score\":' .. cjson.encode(tonumber(h[3])) ..\n"
    "              ',\"feedback\":' .. cjson.encode(fb) .. ',\"released_at\":\"' .. ra .. '\"}'\n"
    "    end\n"
    "  end\n"
    "  heads[i] = h[1] .. ',\"status\":\"' .. st .. '\",\"my_grade\":' .. grade .. ',\"my_submission\":'\n"
    "  mines[i] = redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_MY_SUBMISSION "' .. id, sid) or false\n"
    "  fs[i] = {}\n"
    "  if mines[i] then fs[i] = files(redis.call('HGET', p .. '" ASSIGNMENTS_VIEW_SUBMISSIONS "' .. id, sid)) end\n"
    "end\n"
    "local nxt = false\n"
    "if #members > lim then nxt = members[lim] end\n"
    "return {1, heads, nxt, mines, fs}\n"};

/* Ids and student ids: 1..127 bytes of letters, digits, '.', '_', '-'. */
static bool valid_id(const char *s) { return sms_id_name_valid(s, strlen(s), ID_MAX); }

/* Due-order cursors are "<15 digits>:<id>". */
static bool valid_due_cursor(const char *c) {
    size_t n = strlen(c);
    if (n < 17 || n > 16 + ID_MAX || c[15] != ':') return false;
    for (int i = 0; i < 15; i++)
        if (c[i] < '0' || c[i] > '9') return false;
    return valid_id(c + 16);
}

static void not_found(gw_request_t *req, const char *detail) {
    gw_respond_problem(req, 404, "not_found", detail, NULL, 0);
}

/* The script's reply, checked: {0} is answered 404 (true returned: done),
 * anything but {1, {..}, next, ...} (n elements) 503. */
static bool answered_early(redisReply *r, size_t n, gw_request_t *req, const char *missing) {
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[0]->integer == 0) {
        not_found(req, missing);
        return true;
    }
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n || r->element[1]->type != REDIS_REPLY_ARRAY) {
        gw_respond_redis_down(req);
        return true;
    }
    for (size_t i = 3; i < n; i++)
        if (r->element[i]->type != REDIS_REPLY_ARRAY || r->element[i]->elements != r->element[1]->elements) {
            gw_respond_redis_down(req);
            return true;
        }
    return false;
}

/* Appends a JSON object from the view without its closing brace. */
static void put_open(sms_buf_t *b, const redisReply *doc) {
    size_t n = doc->len;
    if (n > 0 && doc->str[n - 1] == '}') n--;
    sms_buf_append(b, doc->str, n);
}

/* Closes the page: `],"next_cursor":...}` and answers 200. */
static void respond_built_page(gw_request_t *req, sms_buf_t *b, const redisReply *next) {
    sms_buf_puts(b, "],\"next_cursor\":");
    if (next->type == REDIS_REPLY_STRING) sms_buf_json_str(b, next->str, next->len);
    else sms_buf_puts(b, "null");
    sms_buf_putc(b, '}');
    gw_respond(req, 200, "application/json", b->data, b->len, NULL);
}

/* ---- POST /student/assignments/{id}/submissions ---- */

static void create_submission(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id");
    if (!valid_id(id)) {
        not_found(req, "no such assignment");
        return;
    }
    gw_send_json_body(app, req, "assignments", "submission.create", id);
}

/* ---- GET /lecturer/assignments/{id}/submissions ---- */

/* Items are the stored submission items, each extended with "files". */
static void on_submissions(redisReply *r, void *data) {
    gw_read_t *rd = data;
    gw_app_t *app = rd->app;
    gw_request_t *req = gw_read_finish(rd);
    if (answered_early(r, 4, req, "no such assignment")) return;
    const redisReply *items = r->element[1], *files = r->element[3];
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"items\":[");
    for (size_t i = 0, out = 0; i < items->elements; i++) {
        if (items->element[i]->type != REDIS_REPLY_STRING) continue; /* a student in ss: without s: cannot happen */
        if (out++) sms_buf_putc(&b, ',');
        put_open(&b, items->element[i]);
        sms_buf_puts(&b, ",\"files\":");
        gw_files_render(app, files->element[i], &b);
        sms_buf_putc(&b, '}');
    }
    respond_built_page(req, &b, r->element[2]);
    sms_buf_close(&b);
}

static void list_submissions(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id");
    gw_page_query_t page;
    if (!valid_id(id)) {
        not_found(req, "no such assignment");
        return;
    }
    if (!gw_query_page_checked(req, LIMIT_DEFAULT, LIMIT_MAX, valid_id, &page)) return;
    const char *user = gw_req_user(req);
    const char *argv[] = {id, user, page.cursor, page.limit_s};
    size_t lens[] = {strlen(id), strlen(user), strlen(page.cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &list_script, 4, argv, lens, on_submissions);
}

/* ---- GET /student/classes/{class_id}/assignments ---- */

/* Items are head + my_submission (with its files) + "}". */
static void on_student_assignments(redisReply *r, void *data) {
    gw_read_t *rd = data;
    gw_app_t *app = rd->app;
    gw_request_t *req = gw_read_finish(rd);
    if (answered_early(r, 5, req, "no such class")) return;
    const redisReply *heads = r->element[1], *mines = r->element[3], *files = r->element[4];
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"items\":[");
    for (size_t i = 0; i < heads->elements; i++) {
        if (i) sms_buf_putc(&b, ',');
        sms_buf_append(&b, heads->element[i]->str, heads->element[i]->len);
        if (mines->element[i]->type == REDIS_REPLY_STRING) {
            put_open(&b, mines->element[i]);
            sms_buf_puts(&b, ",\"files\":");
            gw_files_render(app, files->element[i], &b);
            sms_buf_putc(&b, '}');
        } else {
            sms_buf_puts(&b, "null");
        }
        sms_buf_putc(&b, '}');
    }
    respond_built_page(req, &b, r->element[2]);
    sms_buf_close(&b);
}

static void list_student_assignments(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *cid = gw_req_param(req, "class_id");
    gw_page_query_t page;
    if (!valid_id(cid)) {
        not_found(req, "no such class");
        return;
    }
    if (!gw_query_page_checked(req, LIMIT_DEFAULT, LIMIT_MAX, valid_due_cursor, &page)) return;
    char now_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)sms_now_ms());
    const char *user = gw_req_user(req);
    const char *argv[] = {cid, user, page.cursor, page.limit_s, now_s};
    size_t lens[] = {strlen(cid), strlen(user), strlen(page.cursor), strlen(page.limit_s), strlen(now_s)};
    gw_read_script(app, req, &student_script, 5, argv, lens, on_student_assignments);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_submissions_scripts[] = {&list_script, &student_script, NULL};

int gw_routes_submissions(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    gw_script_init(&student_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/student/assignments/{id}/submissions", json, GW_ROLE_STUDENT,
                        create_submission, app);
    rc |= gw_router_add(router, "GET", "/lecturer/assignments/{id}/submissions", auth, GW_ROLE_LECTURER,
                        list_submissions, app);
    rc |= gw_router_add(router, "GET", "/student/classes/{class_id}/assignments", auth, GW_ROLE_STUDENT,
                        list_student_assignments, app);
    return rc ? -1 : 0;
}
