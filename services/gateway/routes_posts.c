/* routes_posts.c - class posts (announcements) at the gateway: the
 * lecturer's POST becomes a post.create command for the classes service;
 * the list is read from the classes view (sms:classes:posts:<class> and
 * post:<id>, see services/classes/view.h) with one Lua script that
 * also checks access: the class's lecturer, or a student on its roster. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "classes/view.h"
#include "route_kit.h"
#include "routes.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100

/* Who may read a class's posts, as the start of a read script (ARGV[1] class,
 * ARGV[2] user, ARGV[3] role): the class's lecturer, or a student on its roster
 * while the class is active (GET /student/classes hides inactive classes too).
 * Everyone else gets 0: a missing class, another lecturer's, a student not
 * enrolled, all the same answer. */
#define POSTS_ACCESS_LUA \
    "local cid, user = ARGV[1], ARGV[2]\n" \
    "if ARGV[3] == 'lecturer' then\n" \
    "  if redis.call('HGET', '" CLASSES_KEY_CLASS "' .. cid, '" CLASSES_FIELD_LECTURER "') ~= user then" \
    " return 0 end\n" \
    "elseif redis.call('HEXISTS', '" CLASSES_KEY_RDOC "' .. cid, user) == 0 or\n" \
    "       redis.call('HGET', '" CLASSES_KEY_CLASS "' .. cid, '" CLASSES_FIELD_STATUS "') ~= 'active' then" \
    " return 0 end\n"

/* ARGV: class, user, role, cursor member ("" = start), limit. Returns 0 when
 * the user may not read the class's posts; else {post JSON..., next member
 * or false}. Members are "<1 pinned|0><13-digit created_at>:<id>", so
 * reverse lex order is pinned first, then newest. */
static gw_script_t list_script = {.source =
    POSTS_ACCESS_LUA
    "local limit = tonumber(ARGV[5])\n"
    "local max = '+'\n"
    "if ARGV[4] ~= '' then max = '(' .. ARGV[4] end\n"
    "local members = redis.call('ZREVRANGEBYLEX', '" CLASSES_KEY_POSTS "' .. cid, max, '-', 'LIMIT', 0, limit + 1)\n"
    "local n = math.min(#members, limit)\n"
    "if n == 0 then return {{}, false} end\n"
    "local keys = {}\n"
    "for i = 1, n do keys[i] = '" CLASSES_KEY_POST "' .. string.sub(members[i], " GW_CLASSES_POST_ID_AT ") end\n"
    "local docs = redis.call('MGET', unpack(keys))\n"
    "if #members > limit then return {docs, members[limit]} end\n"
    "return {docs, false}\n"};

/* ARGV: class, user, role, post id. The post's JSON, or 0 (no access, no
 * such post, or a post of another class). */
static gw_script_t get_script = {.source =
    POSTS_ACCESS_LUA
    "local doc = redis.call('GET', '" CLASSES_KEY_POST "' .. ARGV[4])\n"
    "if not doc or cjson.decode(doc).class_id ~= cid then return 0 end\n"
    "return doc\n"};

/* Cursors are sort members: "<0|1 pinned><13 digits>:<id>". */
static bool valid_cursor(const char *c) { return (c[0] == '0' || c[0] == '1') && gw_valid_cursor(c, 14); }

static void on_list(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r && r->type == REDIS_REPLY_INTEGER) {
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    if (!gw_page_reply_ok(r)) {
        gw_respond_redis_down(req);
        return;
    }
    gw_respond_page(req, r->element[0], r->element[1]);
}

static void list_posts(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    gw_page_query_t page;
    if (!gw_query_page_checked(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, valid_cursor, &page)) return;
    const char *cid = gw_req_param(req, "class_id"), *user = gw_req_user(req), *role = gw_req_role(req);
    const char *argv[] = {cid, user, role, page.cursor, page.limit_s};
    size_t lens[] = {strlen(cid), strlen(user), strlen(role), strlen(page.cursor), strlen(page.limit_s)};
    gw_read_script(app, req, &list_script, 5, argv, lens, on_list);
}

static void on_get(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r && r->type == REDIS_REPLY_INTEGER) {
        gw_respond_problem(req, 404, "not_found", "no such post", NULL, 0);
        return;
    }
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        gw_respond_redis_down(req);
        return;
    }
    gw_respond(req, 200, "application/json", r->str, r->len, NULL);
}

static void get_post(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *cid = gw_req_param(req, "class_id"), *user = gw_req_user(req), *role = gw_req_role(req);
    const char *pid = gw_req_param(req, "post_id");
    const char *argv[] = {cid, user, role, pid};
    size_t lens[] = {strlen(cid), strlen(user), strlen(role), strlen(pid)};
    gw_read_script(app, req, &get_script, 4, argv, lens, on_get);
}

static void create_post(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "classes", "post.create", gw_req_param(req, "class_id"));
}

/* PUT /classes/{class_id}/posts/{post_id}: the body ({title?, body?,
 * pinned?}) with the path's post id becomes a post.update command; If-Match
 * goes in the envelope as for class.update. */
static void update_post(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    cJSON *body = gw_parse_json_object(req);
    if (!body) return; /* answered */
    cJSON_DeleteItemFromObjectCaseSensitive(body, "post_id"); /* the path names the post */
    if (!cJSON_AddStringToObject(body, "post_id", gw_req_param(req, "post_id"))) {
        cJSON_Delete(body);
        gw_respond_problem(req, 500, "internal", "out of memory", NULL, 0);
        return;
    }
    gw_bus_send(app->bus, req, "classes", "post.update", gw_req_param(req, "class_id"), body);
    cJSON_Delete(body);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_posts_scripts[] = {&list_script, &get_script, NULL};

int gw_routes_posts(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    gw_script_init(&get_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/classes/{class_id}/posts", json, GW_ROLE_LECTURER, create_post, app);
    rc |= gw_router_add(router, "GET", "/classes/{class_id}/posts", auth, GW_ROLE_LECTURER | GW_ROLE_STUDENT,
                        list_posts, app);
    rc |= gw_router_add(router, "GET", "/classes/{class_id}/posts/{post_id}", auth, GW_ROLE_LECTURER | GW_ROLE_STUDENT,
                        get_post, app);
    rc |= gw_router_add(router, "PUT", "/classes/{class_id}/posts/{post_id}", json, GW_ROLE_LECTURER, update_post,
                        app);
    return rc ? -1 : 0;
}
