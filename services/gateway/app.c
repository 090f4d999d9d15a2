/* app.c - assembles the gateway's application side: creates its Redis and
 * Kafka clients, registers every route (routes.h), answers /healthz and
 * /readyz, and closes it all. The helpers the routes share are in
 * route_kit.c, so nothing here is called back by a route. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "assignments/view.h"
#include "classes/view.h"
#include "grading/view.h"
#include "log.h"
#include "notifications/view.h"
#include "protect.h"
#include "route_kit.h"
#include "routes.h"
#include "upload_prune.h"

/* The app: what the routes see (route_kit.h's gw_app_t, first, so a
 * gw_app_t * is this state's address) and what only app.c uses. */
typedef struct app_state_s {
    gw_app_t kit;
    uv_timer_t views_timer; /* polls the services' "view built" markers */
    bool views_ok;
    int closing_parts;
    void (*done)(void *);
    void *done_data;
} app_state_t;

static app_state_t *app_state(gw_app_t *app) { return (app_state_t *)app; }

/* Views the gateway serves from; readiness waits until each is built. */
static const char *const view_markers[] = {CLASSES_KEY_META, ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_META),
                                           GRADING_VIEW_KEY(GRADING_VIEW_META), NOTIF_VIEW_KEY(NOTIF_VIEW_META)};
#define N_VIEWS (sizeof view_markers / sizeof view_markers[0])

/* ---- health ---- */

static void healthz(gw_request_t *req, void *data) {
    (void)data;
    static const char body[] = "{\"status\":\"ok\"}";
    gw_respond(req, 200, "application/json", body, sizeof body - 1, NULL);
}

static void readyz(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    bool kafka = gw_bus_kafka_ok(app->bus), redis = sms_redis_connected(app->redis);
    bool views = redis && app_state(app)->views_ok;
    bool ready = kafka && redis && views;
    char body[200];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"checks\":{\"kafka\":\"%s\",\"redis\":\"%s\",\"views\":\"%s\"}}",
                     ready ? "ready" : "not_ready", kafka ? "ok" : "unreachable", redis ? "ok" : "unreachable",
                     views ? "ok" : "building");
    gw_respond(req, ready ? 200 : 503, "application/json", body, (size_t)n, ready ? NULL : "Retry-After: 1\r\n");
}

typedef struct views_probe_s {
    app_state_t *app;
    size_t index;
} views_probe_t;

static void on_view_marker(redisReply *r, void *data) {
    views_probe_t *p = data;
    /* One missing marker makes the gateway not ready until it is back. */
    if (p->index == 0) p->app->views_ok = true;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 1) p->app->views_ok = false;
    sms_free(p);
}

static void on_views_timer(uv_timer_t *t) {
    app_state_t *app = t->data;
    if (!sms_redis_connected(app->kit.redis)) {
        app->views_ok = false;
        return;
    }
    for (size_t i = 0; i < N_VIEWS; i++) {
        views_probe_t *p = sms_malloc(sizeof *p);
        p->app = app;
        p->index = i;
        const char *argv[] = {"HEXISTS", view_markers[i], "built"};
        size_t lens[] = {7, strlen(view_markers[i]), 5};
        if (sms_redis_cmd(app->kit.redis, on_view_marker, p, 3, argv, lens) != 0) sms_free(p);
    }
}

/* ---- lifecycle ---- */

int gw_app_new(uv_loop_t *loop, const sms_config_t *cfg, gw_app_t **out) {
    app_state_t *state = sms_calloc(1, sizeof *state);
    gw_app_t *app = &state->kit;
    app->loop = loop;
    app->cfg = cfg;
    /* Redis first: the bus binds idempotency keys there. */
    sms_redis_new(loop, cfg->redis_host, cfg->redis_port, cfg->redis_timeout_ms, &app->redis);
    char err[256];
    if (gw_protect_new(loop, cfg, app->redis, &app->protect, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "bad_config", "%s", err);
        sms_redis_close(app->redis, sms_free, state);
        return -1;
    }
    if (gw_bus_new(loop, cfg, app->redis, &app->bus) != 0) {
        gw_protect_close(app->protect, NULL, NULL);
        sms_redis_close(app->redis, sms_free, state); /* frees the app once its timer is closed */
        return -1;
    }
    app->chat = gw_wait_hub_new(loop, cfg, GW_CHAT_CHANNEL);
    app->streams = gw_wait_hub_new(loop, cfg, GW_NOTIFICATIONS_CHANNEL);
    uv_timer_init(loop, &state->views_timer);
    state->views_timer.data = state;
    uv_timer_start(&state->views_timer, on_views_timer, 100, 500);
    *out = app;
    return 0;
}

int gw_app_register_routes(gw_app_t *app, gw_router_t *router) {
    int rc = 0;
    rc |= gw_router_add(router, "GET", "/healthz", GW_ROUTE_PUBLIC, 0, healthz, app);
    rc |= gw_router_add(router, "GET", "/readyz", GW_ROUTE_PUBLIC, 0, readyz, app);
    rc |= gw_routes_classes(app, router);
    rc |= gw_routes_roster(app, router);
    rc |= gw_routes_assignments(app, router);
    rc |= gw_routes_grading(app, router);
    rc |= gw_routes_submissions(app, router);
    rc |= gw_routes_posts(app, router);
    rc |= gw_routes_chat(app, router);
    rc |= gw_routes_files(app, router);
    rc |= gw_routes_notifications(app, router);
    rc |= gw_routes_stream(app, router);
    rc |= gw_routes_webhooks(app, router);
    rc |= gw_routes_identity(app, router);
    rc |= gw_routes_docs(app, router);
    return rc ? -1 : 0;
}

int gw_app_register_metrics(gw_app_t *app, gw_router_t *router, struct sms_metrics_s *m) {
    return gw_routes_metrics(app, router, m);
}
void gw_app_server_hooks(gw_app_t *app, gw_server_hooks_t *out) { gw_protect_hooks(app->protect, out); }

size_t gw_app_inflight(const gw_app_t *app) { return app->reads_inflight + gw_bus_inflight(app->bus); }

void gw_app_drain(gw_app_t *app) {
    gw_wait_hub_drain(app->chat);
    gw_wait_hub_drain(app->streams);
}

static void part_closed(void *data) {
    app_state_t *app = data;
    if (--app->closing_parts > 0) return;
    void (*done)(void *) = app->done;
    void *done_data = app->done_data;
    sms_free(app);
    if (done) done(done_data);
}

static void on_views_timer_closed(uv_handle_t *h) { part_closed(h->data); }

void gw_app_close(gw_app_t *app, void (*done)(void *), void *done_data) {
    app_state_t *state = app_state(app);
    state->done = done;
    state->done_data = done_data;
    state->closing_parts = 7; /* protect, the views timer, upload pruning, chat, streams, Redis, the bus */
    gw_protect_close(app->protect, part_closed, state);
    uv_close((uv_handle_t *)&state->views_timer, on_views_timer_closed);
    gw_upload_prune_close(part_closed, state);
    gw_wait_hub_close(app->chat, part_closed, state);
    gw_wait_hub_close(app->streams, part_closed, state);
    /* Redis before the bus: pending reads get NULL and answer 503, and
     * writes still waiting for their binding answer 503 (nothing sent)
     * while the bus is there to answer them. */
    sms_redis_close(app->redis, part_closed, state);
    gw_bus_close(app->bus, part_closed, state);
}
