/* routes_classes.c - the lecturer's classes API at the gateway: reads are
 * answered from the classes service's Redis view (sms:classes:*, see
 * services/classes/view.h), writes become class.* commands. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "classes/view.h"
#include "route_kit.h"
#include "routes.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100

/* ARGV: lecturer, status, lower-case prefix ("" = none), cursor ("" = start), limit.
 * Walks the lecturer's zset newest first from the cursor, keeps classes whose
 * code or name starts with the prefix, and returns {json..., next cursor or false}. */
static gw_script_t list_script = {.source =
    "local key = '" CLASSES_KEY_LIST "' .. ARGV[1] .. ':' .. ARGV[2]\n"
    "local q, limit = ARGV[3], tonumber(ARGV[5])\n"
    "local max = '+'\n"
    "if ARGV[4] ~= '' then max = '(' .. ARGV[4] end\n"
    /* Without a filter every member is an item: one range and one HMGET of
     * the lecturer's documents make the page. */
    "if q == '' then\n"
    "  local members = redis.call('ZREVRANGEBYLEX', key, max, '-', 'LIMIT', 0, limit + 1)\n"
    "  local n = math.min(#members, limit)\n"
    "  if n == 0 then return {{}, false} end\n"
    "  local ids = {}\n"
    "  for i = 1, n do ids[i] = string.sub(members[i], " GW_CLASSES_MEMBER_ID_AT ") end\n"
    "  local docs = redis.call('HMGET', '" CLASSES_KEY_DOCS "' .. ARGV[1], unpack(ids))\n"
    "  if #members > limit then return {docs, members[limit]} end\n"
    "  return {docs, false}\n"
    "end\n"
    /* With a prefix filter, scan newest first until the page is full. */
    GW_LUA_SCAN
    "return scan('ZREVRANGEBYLEX', key, max, '-', limit, function(m)\n"
    "  local h = redis.call('HMGET', '" CLASSES_KEY_CLASS "' .. string.sub(m, " GW_CLASSES_MEMBER_ID_AT "), '"
    CLASSES_FIELD_JSON "', '" CLASSES_FIELD_CODE "', '" CLASSES_FIELD_NAME "')\n"
    "  if h[1] and (string.sub(string.lower(h[2]), 1, #q) == q\n"
    "               or string.sub(string.lower(h[3]), 1, #q) == q) then return h[1] end\n"
    "end)\n"};

/* ---- GET /lecturer/classes/{id} ---- */

static void on_class(redisReply *r, void *data) {
    gw_read_t *rd = data;
    const char *user = gw_req_user(rd->req);
    gw_request_t *req = gw_read_finish(rd);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        gw_respond_redis_down(req);
        return;
    }
    redisReply *owner = r->element[0], *json = r->element[1];
    /* Another lecturer's class is answered exactly like a missing one. */
    if (owner->type != REDIS_REPLY_STRING || json->type != REDIS_REPLY_STRING || strcmp(owner->str, user) != 0) {
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    gw_respond(req, 200, "application/json", json->str, json->len, NULL);
}

static void get_class(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "id");
    char key[256];
    int n = snprintf(key, sizeof key, CLASSES_KEY_CLASS "%s", id);
    if (n < 0 || (size_t)n >= sizeof key) {
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    const char *argv[] = {"HMGET", key, CLASSES_FIELD_LECTURER, CLASSES_FIELD_JSON};
    size_t lens[] = {5, (size_t)n, sizeof CLASSES_FIELD_LECTURER - 1, sizeof CLASSES_FIELD_JSON - 1};
    gw_read_t *rd = gw_read_new(app, req);
    if (sms_redis_cmd(app->redis, on_class, rd, 4, argv, lens) != 0) gw_respond_redis_down(gw_read_finish(rd));
}

/* ---- GET /lecturer/classes ---- */

/* Cursors are "<created_at, 13 digits>:<id>". */
static bool valid_cursor(const char *c) { return gw_valid_cursor(c, 13); }

static void list_classes(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[4];
    size_t n_errs = 0;
    const char *status = gw_req_query(req, "status");
    if (status == NULL || *status == '\0') status = "active";
    else if (strcmp(status, "active") && strcmp(status, "inactive") && strcmp(status, "all"))
        errs[n_errs++] = (sms_problem_error_t){"status", "must be active, inactive or all"};
    gw_page_query_t page;
    /* Its errors are counted in n_errs, checked below. */
    (void)gw_query_page(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, valid_cursor, &page, errs, &n_errs);
    char qlower[GW_QUERY_Q_MAX + 1];
    size_t qn = gw_query_search(req, qlower, errs, &n_errs);
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    const char *user = gw_req_user(req);
    const char *argv[] = {user, status, qlower, page.cursor, page.limit_s};
    size_t lens[] = {strlen(user), strlen(status), qn, strlen(page.cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &list_script, 5, argv, lens, gw_on_page_reply);
}

/* ---- writes ---- */

static void create_class(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "classes", "class.create", "");
}

static void update_class(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "classes", "class.update", gw_req_param(req, "id"));
}

static void delete_class(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    gw_bus_send(app->bus, req, "classes", "class.deactivate", gw_req_param(req, "id"), NULL);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_classes_scripts[] = {&list_script, NULL};

int gw_routes_classes(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "GET", "/lecturer/classes", auth, GW_ROLE_LECTURER, list_classes, app);
    rc |= gw_router_add(router, "POST", "/lecturer/classes", json, GW_ROLE_LECTURER, create_class, app);
    rc |= gw_router_add(router, "GET", "/lecturer/classes/{id}", auth, GW_ROLE_LECTURER, get_class, app);
    rc |= gw_router_add(router, "PUT", "/lecturer/classes/{id}", json, GW_ROLE_LECTURER, update_class, app);
    rc |= gw_router_add(router, "DELETE", "/lecturer/classes/{id}", auth, GW_ROLE_LECTURER, delete_class, app);
    return rc ? -1 : 0;
}
