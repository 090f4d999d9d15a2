/* routes_webhooks.c - the admin's webhook registrations and the delivery
 * state of notifications (role admin). Registering and deleting are
 * commands to the notifications service (webhooks.register/delete, answered
 * once the event is durable and in the view); the list reads the
 * notifications view (services/notifications/view.h), the deliveries
 * the webhook consumer's state (services/notifications/webhook.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifications/view.h"
#include "route_kit.h"
#include "routes.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100

/* No ARGV: every registration, oldest first (ids are ULIDs). A school has
 * a handful of webhooks, so the list is one page (next_cursor null). */
static gw_script_t list_script = {.source =
    "local h = redis.call('HGETALL', '" NOTIF_VIEW_KEY(NOTIF_VIEW_WEBHOOKS) "')\n"
    "local ids = {}\n"
    "for i = 1, #h, 2 do ids[#ids + 1] = h[i] end\n"
    "table.sort(ids)\n"
    "local by = {}\n"
    "for i = 1, #h, 2 do by[h[i]] = h[i + 1] end\n"
    "local docs = {}\n"
    "for i = 1, #ids do docs[i] = by[ids[i]] end\n"
    "return {docs, false}\n"};

/* ARGV: status, cursor id ("" = newest), limit. Newest delivery first. */
static gw_script_t deliveries_script = {.source =
    "local p = 'sms:delivery:wh:'\n"
    "local limit = tonumber(ARGV[3])\n"
    "local max = '+'\n"
    "if ARGV[2] ~= '' then max = '(' .. ARGV[2] end\n"
    "local ids = redis.call('ZREVRANGEBYLEX', p .. 'st:' .. ARGV[1], max, '-', 'LIMIT', 0, limit + 1)\n"
    "local n = math.min(#ids, limit)\n"
    "local docs = {}\n"
    "local function num(v) if v and v ~= '' then return tonumber(v) end return cjson.null end\n"
    "local function str(v) if v and v ~= '' then return v end return cjson.null end\n"
    "for i = 1, n do\n"
    "  local f = redis.call('HMGET', p .. 'd:' .. ids[i], 'webhook_id', 'notification_id', 'recipient_id', 'kind',\n"
    "    'url', 'status', 'attempts', 'last_error', 'next_attempt_at', 'first_attempt_at', 'updated_at')\n"
    "  local next_at = num(f[9])\n"
    "  if f[6] ~= 'retrying' and f[6] ~= 'pending' then next_at = cjson.null end\n"
    "  docs[i] = cjson.encode({id = ids[i], channel = 'webhook', webhook_id = str(f[1]), notification_id = str(f[2]),\n"
    "    recipient_id = str(f[3]), kind = str(f[4]), url = str(f[5]), status = f[6] or ARGV[1],\n"
    "    attempts = tonumber(f[7]) or 0, last_error = str(f[8]), next_attempt_at = next_at,\n"
    "    first_attempt_at = num(f[10]), updated_at = num(f[11])})\n"
    "end\n"
    "if #ids > limit then return {docs, ids[limit]} end\n"
    "return {docs, false}\n"};

static void register_webhook(gw_request_t *req, void *data) {
    gw_send_json_body(data, req, "notifications", "webhooks.register", "");
}

static void delete_webhook(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *id = gw_req_param(req, "webhook_id");
    cJSON *body = cJSON_CreateObject();
    if (body == NULL || cJSON_AddStringToObject(body, "id", id) == NULL) {
        cJSON_Delete(body);
        gw_respond_problem(req, 500, "internal", "out of memory", NULL, 0);
        return;
    }
    gw_bus_send(app->bus, req, "notifications", "webhooks.delete", id, body);
    cJSON_Delete(body);
}

static void list_webhooks(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    gw_read_script(app, req, &list_script, 0, NULL, NULL, gw_on_page_reply);
}

static void list_deliveries(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[3];
    size_t n_errs = 0;
    gw_page_query_t page;
    /* Their errors are counted in n_errs, checked below. */
    (void)gw_query_limit(req, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, &page, errs, &n_errs);
    const char *status = gw_req_query(req, "status");
    if (status == NULL) status = "failed";
    if (strcmp(status, "pending") && strcmp(status, "sent") && strcmp(status, "retrying") && strcmp(status, "failed"))
        errs[n_errs++] = (sms_problem_error_t){"status", "must be pending, sent, retrying or failed"};
    (void)gw_query_cursor(req, gw_valid_ulid, &page, errs, &n_errs);
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    const char *c = page.cursor;
    const char *argv[] = {status, c, page.limit_s};
    size_t lens[] = {strlen(status), strlen(c), strlen(page.limit_s)};
    gw_read_script(app, req, &deliveries_script, 3, argv, lens, gw_on_page_reply);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_webhooks_scripts[] = {&list_script, &deliveries_script, NULL};

int gw_routes_webhooks(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&list_script);
    gw_script_init(&deliveries_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/admin/webhooks", json, GW_ROLE_ADMIN, register_webhook, app);
    rc |= gw_router_add(router, "GET", "/admin/webhooks", auth, GW_ROLE_ADMIN, list_webhooks, app);
    rc |= gw_router_add(router, "DELETE", "/admin/webhooks/{webhook_id}", auth, GW_ROLE_ADMIN, delete_webhook, app);
    rc |= gw_router_add(router, "GET", "/admin/deliveries", auth, GW_ROLE_ADMIN, list_deliveries, app);
    return rc ? -1 : 0;
}
