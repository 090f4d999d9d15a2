/* routes_notifications.c - the caller's inbox and notification preferences
 * (any role). Reads come from the notifications view (sms:notifications:,
 * see services/notifications/view.h) with one Lua script each; marking
 * read and changing preferences are commands to the notifications service
 * (sms.commands.notifications, Kafka key = the caller), answered once the
 * event is durable and in the view. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "notifications/view.h"
#include "route_kit.h"
#include "routes.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100

/* What a user who never set preferences gets; the service's own default
 * (notif_prefs_default in services/notifications/schema.c) is the same. */
static const char default_prefs[] =
    "{\"channels\":{\"inbox\":true,\"email\":true,\"webhook\":false},"
    "\"kinds\":{\"posts\":true,\"grades\":true,\"assignments\":true,\"due_reminders\":true}}";

/* ARGV: user, "1" = unread only, cursor id ("" = newest), limit. Ids are
 * ULIDs (time first), all scores 0, so reverse lex order is newest first.
 * Each stored item lacks its closing brace: the read flag is added here. */
static gw_script_t list_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "local uz = p .. '" NOTIF_VIEW_UNREAD "' .. ARGV[1]\n"
    "local z = p .. '" NOTIF_VIEW_INBOX "' .. ARGV[1]\n"
    "if ARGV[2] == '1' then z = uz end\n"
    "local limit = tonumber(ARGV[4])\n"
    "local max = '+'\n"
    "if ARGV[3] ~= '' then max = '(' .. ARGV[3] end\n"
    "local ids = redis.call('ZREVRANGEBYLEX', z, max, '-', 'LIMIT', 0, limit + 1)\n"
    "local n = math.min(#ids, limit)\n"
    "local docs = {}\n"
    "for i = 1, n do\n"
    "  local d = redis.call('GET', p .. '" NOTIF_VIEW_ITEM "' .. ids[i])\n"
    "  local read = 'true'\n"
    "  if redis.call('ZSCORE', uz, ids[i]) then read = 'false' end\n"
    "  docs[i] = (d or '{\"id\":\"' .. ids[i] .. '\"') .. ',\"read\":' .. read .. '}'\n"
    "end\n"
    "if #ids > limit then return {docs, ids[limit]} end\n"
    "return {docs, false}\n"};

static gw_script_t count_script = {.source =
    "return redis.call('ZCARD', '" NOTIF_VIEW_KEY(NOTIF_VIEW_UNREAD) "' .. ARGV[1])\n"};

static gw_script_t prefs_script = {.source =
    "return redis.call('GET', '" NOTIF_VIEW_KEY(NOTIF_VIEW_PREFS) "' .. ARGV[1])\n"};

static void list_notifications(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[3];
    size_t n_errs = 0;
    gw_page_query_t page;
    /* Their errors are counted in n_errs, checked below. */
    (void)gw_query_limit(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, &page, errs, &n_errs);
    const char *unread = gw_req_query(req, "unread");
    if (unread && strcmp(unread, "true") != 0 && strcmp(unread, "false") != 0)
        errs[n_errs++] = (sms_problem_error_t){"unread", "must be true or false"};
    (void)gw_query_cursor(req, gw_valid_ulid, &page, errs, &n_errs);
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    const char *user = gw_req_user(req), *c = page.cursor;
    const char *only = unread && strcmp(unread, "true") == 0 ? "1" : "0";
    const char *argv[] = {user, only, c, page.limit_s};
    size_t lens[] = {strlen(user), 1, strlen(c), strlen(page.limit_s)};
    gw_read_script(app, req, &list_script, 4, argv, lens, gw_on_page_reply);
}

static void on_count(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        gw_respond_redis_down(req);
        return;
    }
    char body[64];
    int n = snprintf(body, sizeof body, "{\"unread_count\":%lld}", r->integer);
    gw_respond(req, 200, "application/json", body, (size_t)n, NULL);
}

static void unread_count(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *user = gw_req_user(req);
    const char *argv[] = {user};
    size_t lens[] = {strlen(user)};
    gw_read_script(app, req, &count_script, 1, argv, lens, on_count);
}

static void on_prefs(redisReply *r, void *data) {
    gw_request_t *req = gw_read_finish(data);
    if (r && r->type == REDIS_REPLY_STRING) gw_respond(req, 200, "application/json", r->str, r->len, NULL);
    else if (r && r->type == REDIS_REPLY_NIL) gw_respond(req, 200, "application/json", default_prefs, sizeof default_prefs - 1, NULL);
    else gw_respond_redis_down(req);
}

static void get_prefs(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *user = gw_req_user(req);
    const char *argv[] = {user};
    size_t lens[] = {strlen(user)};
    gw_read_script(app, req, &prefs_script, 1, argv, lens, on_prefs);
}

static void send_command(gw_request_t *req, void *data, const char *type) {
    gw_send_json_body(data, req, "notifications", type, gw_req_user(req));
}

static void mark_read(gw_request_t *req, void *data) { send_command(req, data, "notifications.read"); }

static void put_prefs(gw_request_t *req, void *data) { send_command(req, data, "notifications.preferences_set"); }

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_notifications_scripts[] = {&list_script, &count_script, &prefs_script, NULL};

int gw_routes_notifications(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    gw_script_init(&count_script);
    gw_script_init(&prefs_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "GET", "/me/notifications", auth, GW_ROLE_ANY, list_notifications, app);
    rc |= gw_router_add(router, "GET", "/me/notifications/unread-count", auth, GW_ROLE_ANY, unread_count, app);
    rc |= gw_router_add(router, "POST", "/me/notifications/read", json, GW_ROLE_ANY, mark_read, app);
    rc |= gw_router_add(router, "GET", "/me/notification-preferences", auth, GW_ROLE_ANY, get_prefs, app);
    rc |= gw_router_add(router, "PUT", "/me/notification-preferences", json, GW_ROLE_ANY, put_prefs, app);
    return rc ? -1 : 0;
}
