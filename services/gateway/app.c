/* app.c - the gateway's application side: creates its Redis and Kafka
 * clients, registers every route, answers /healthz and /readyz, and shares
 * the small helpers the routes_*.c files use for Redis reads. */
#include "app.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "app_internal.h"
#include "log.h"
#include "number.h"

/* Views the gateway serves from; readiness waits until each is built. */
static const char *const view_markers[] = {"sms:classes:meta", "sms:assignments:meta", "sms:grading:meta",
                                           "sms:notifications:meta"};
#define N_VIEWS (sizeof view_markers / sizeof view_markers[0])

/* ---- helpers for routes ---- */

void gw_script_init(gw_script_t *s) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s->source, strlen(s->source), digest);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(s->sha + 2 * i, 3, "%02x", digest[i]);
}

typedef struct script_call_s {
    gw_app_t *app;
    gw_script_t *script;
    int argc;
    char **argv;
    size_t *lens;
    void (*cb)(redisReply *, void *);
    void *data;
    bool retried;
} script_call_t;

static void script_call_free(script_call_t *c) {
    for (int i = 0; i < c->argc; i++) sms_free(c->argv[i]);
    sms_free(c->argv);
    sms_free(c->lens);
    sms_free(c);
}

static int script_send(script_call_t *c, bool by_sha);

/* The error of the read script whose callback is running, for
 * gw_respond_redis_down to tell a failing script (500) from an unreachable
 * Redis (503) without every route's callback passing it along. Set only
 * around that synchronous call, on the loop thread. */
static const char *script_error;
static bool script_error_reported;

/* Errors that say Redis cannot serve now (loading, busy, out of memory, a
 * replica, ...), not that the script is wrong: they stay 503. */
static bool redis_unavailable_error(const char *e) {
    static const char *const prefixes[] = {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN",
                                           "CLUSTERDOWN", "NOSCRIPT"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

static void on_script_reply(redisReply *r, void *data) {
    script_call_t *c = data;
    /* After a Redis restart the script cache is empty: send the source once. */
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !c->retried) {
        c->retried = true;
        if (script_send(c, false) == 0) return;
        r = NULL;
    }
    const char *error = NULL;
    if (r && r->type == REDIS_REPLY_ERROR) {
        if (!redis_unavailable_error(r->str)) error = r->str;
        else sms_log(SMS_LOG_WARN, "redis_script_unavailable", "%s", r->str);
        r = NULL;
    }
    script_error = error;
    script_error_reported = false;
    c->cb(r, c->data);
    /* A callback that did not answer through gw_respond_redis_down still
     * leaves the error in the log once. */
    if (error && !script_error_reported) sms_log(SMS_LOG_ERROR, "redis_script_error", "%s", error);
    script_error = NULL;
    script_call_free(c);
}

static int script_send(script_call_t *c, bool by_sha) {
    const char *argv[24];
    size_t lens[24];
    argv[0] = by_sha ? "EVALSHA" : "EVAL";
    lens[0] = strlen(argv[0]);
    argv[1] = by_sha ? c->script->sha : c->script->source;
    lens[1] = strlen(argv[1]);
    argv[2] = "0";
    lens[2] = 1;
    for (int i = 0; i < c->argc; i++) {
        argv[3 + i] = c->argv[i];
        lens[3 + i] = c->lens[i];
    }
    return sms_redis_cmd(c->app->redis, on_script_reply, c, 3 + c->argc, argv, lens);
}

int gw_script_call(gw_app_t *app, gw_script_t *s, int argc, const char **argv, const size_t *lens,
                   void (*cb)(redisReply *, void *), void *data) {
    if (argc > 20) return -1;
    script_call_t *c = sms_calloc(1, sizeof *c);
    c->app = app;
    c->script = s;
    c->argc = argc;
    c->argv = sms_calloc((size_t)argc, sizeof *c->argv);
    c->lens = sms_calloc((size_t)argc, sizeof *c->lens);
    for (int i = 0; i < argc; i++) {
        c->argv[i] = sms_strndup(argv[i], lens[i]);
        c->lens[i] = lens[i];
    }
    c->cb = cb;
    c->data = data;
    if (script_send(c, true) != 0) {
        script_call_free(c);
        return -1;
    }
    return 0;
}

gw_read_t *gw_read_new(gw_app_t *app, gw_request_t *req) {
    gw_read_t *rd = sms_malloc(sizeof *rd);
    rd->app = app;
    rd->req = req;
    app->reads_inflight++;
    return rd;
}

gw_request_t *gw_read_finish(gw_read_t *rd) {
    gw_request_t *req = rd->req;
    rd->app->reads_inflight--;
    sms_free(rd);
    return req;
}

void gw_page_items(sms_buf_t *b, const redisReply *items) {
    sms_buf_puts(b, "{\"items\":[");
    size_t written = 0;
    for (size_t i = 0; i < items->elements; i++) {
        /* A view writes its index and its documents together; skip a gap rather than answer null. */
        if (items->element[i]->type != REDIS_REPLY_STRING) continue;
        if (written++) sms_buf_putc(b, ',');
        sms_buf_append(b, items->element[i]->str, items->element[i]->len);
    }
    sms_buf_puts(b, "],\"next_cursor\":");
}

void gw_respond_page(gw_request_t *req, const redisReply *items, const redisReply *next) {
    sms_buf_t b;
    sms_buf_init(&b);
    gw_page_items(&b, items);
    if (next && next->type == REDIS_REPLY_STRING) sms_buf_json_str(&b, next->str, next->len);
    else sms_buf_puts(&b, "null");
    sms_buf_putc(&b, '}');
    gw_respond(req, 200, "application/json", b.data, b.len, NULL);
    sms_buf_close(&b);
}

bool gw_valid_cursor(const char *c, int digits) {
    size_t n = strlen(c);
    if (n < (size_t)digits + 2 || n > (size_t)digits + 81 || c[digits] != ':') return false;
    for (int i = 0; i < digits; i++)
        if (c[i] < '0' || c[i] > '9') return false;
    for (size_t i = (size_t)digits + 1; i < n; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z'))) return false;
    return true;
}

bool gw_query_int(const gw_request_t *req, const char *name, long lo, long hi, long def, long *out) {
    const char *v = gw_req_query(req, name);
    *out = def;
    if (v == NULL) return true;
    int64_t x;
    /* Strict (common/number.h): no sign but '-', no spaces, nothing past int64 wraps into range. */
    if (sms_number_parse_int(v, strlen(v), lo, hi, &x) != SMS_NUMBER_OK) return false;
    *out = (long)x; /* within [lo, hi], both longs */
    return true;
}

bool gw_query_limit(const gw_request_t *req, long def, long max, gw_page_query_t *q, sms_problem_error_t *errs,
                    size_t *n_errs) {
    bool ok = gw_query_int(req, "limit", 1, max, def, &q->limit);
    snprintf(q->limit_s, sizeof q->limit_s, "%ld", q->limit);
    if (!ok) {
        snprintf(q->limit_error, sizeof q->limit_error, "must be an integer from 1 to %ld", max);
        errs[(*n_errs)++] = (sms_problem_error_t){"limit", q->limit_error};
    }
    return ok;
}

bool gw_query_page(const gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                   sms_problem_error_t *errs, size_t *n_errs) {
    bool ok = gw_query_limit(req, def, max, q, errs, n_errs);
    const char *c = gw_req_query(req, "cursor");
    q->cursor = c ? c : "";
    if (*q->cursor && !cursor_ok(q->cursor)) {
        errs[(*n_errs)++] = (sms_problem_error_t){"cursor", "is not a cursor this API returned"};
        ok = false;
    }
    return ok;
}

void gw_respond_redis_down(gw_request_t *req) {
    if (script_error) { /* the script ran and failed: a bug or a bad view, not an outage */
        sms_log(SMS_LOG_ERROR, "read_script_failed", "request %s %s %s: %s", gw_req_id(req), gw_req_method(req),
                gw_req_path(req), script_error);
        script_error_reported = true;
        gw_respond_problem(req, 500, "internal",
                           "the read failed inside the gateway (logged with this request_id); retrying will not help",
                           NULL, 0);
        return;
    }
    gw_respond_problem_h(req, 503, "unavailable", "the data store is not reachable; retry shortly", NULL, 0,
                         "Retry-After: 1\r\n");
}

bool gw_respond_view_state(gw_request_t *req, const redisReply *r, const char *view) {
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
        return false;
    char detail[256];
    if (r->element[0]->integer == 3) {
        snprintf(detail, sizeof detail, "the %s view is being rebuilt from the event log; retry shortly", view);
        gw_respond_problem_h(req, 503, "view_rebuilding", detail, NULL, 0, "Retry-After: 2\r\n");
        return true;
    }
    if (r->element[0]->integer != 2 || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING) return false;
    snprintf(detail, sizeof detail,
             "events of this data could not be applied to the %s view and are quarantined (%.*s); an operator must "
             "repair them (sms-admin quarantine list)",
             view, (int)(r->element[1]->len > 140 ? 140 : r->element[1]->len), r->element[1]->str);
    gw_respond_problem(req, 503, "view_incomplete", detail, NULL, 0);
    return true;
}

/* ---- health ---- */

static void healthz(gw_request_t *req, void *data) {
    (void)data;
    static const char body[] = "{\"status\":\"ok\"}";
    gw_respond(req, 200, "application/json", body, sizeof body - 1, NULL);
}

static void readyz(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    bool kafka = gw_bus_kafka_ok(app->bus), redis = sms_redis_connected(app->redis);
    bool views = redis && app->views_ok;
    bool ready = kafka && redis && views;
    char body[200];
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"checks\":{\"kafka\":\"%s\",\"redis\":\"%s\",\"views\":\"%s\"}}",
                     ready ? "ready" : "not_ready", kafka ? "ok" : "unreachable", redis ? "ok" : "unreachable",
                     views ? "ok" : "building");
    gw_respond(req, ready ? 200 : 503, "application/json", body, (size_t)n, ready ? NULL : "Retry-After: 1\r\n");
}

typedef struct views_probe_s {
    gw_app_t *app;
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
    gw_app_t *app = t->data;
    if (!sms_redis_connected(app->redis)) {
        app->views_ok = false;
        return;
    }
    for (size_t i = 0; i < N_VIEWS; i++) {
        views_probe_t *p = sms_malloc(sizeof *p);
        p->app = app;
        p->index = i;
        const char *argv[] = {"HEXISTS", view_markers[i], "built"};
        size_t lens[] = {7, strlen(view_markers[i]), 5};
        if (sms_redis_cmd(app->redis, on_view_marker, p, 3, argv, lens) != 0) sms_free(p);
    }
}

/* ---- lifecycle ---- */

int gw_app_new(uv_loop_t *loop, const sms_config_t *cfg, gw_app_t **out) {
    gw_app_t *app = sms_calloc(1, sizeof *app);
    app->loop = loop;
    app->cfg = cfg;
    /* Redis first: the bus binds idempotency keys there. */
    sms_redis_new(loop, cfg->redis_host, cfg->redis_port, cfg->redis_timeout_ms, &app->redis);
    if (gw_bus_new(loop, cfg, app->redis, &app->bus) != 0) {
        sms_redis_close(app->redis, sms_free, app); /* frees app once its timer is closed */
        return -1;
    }
    app->chat = gw_wait_hub_new(loop, cfg, GW_CHAT_CHANNEL);
    app->streams = gw_wait_hub_new(loop, cfg, GW_NOTIFICATIONS_CHANNEL);
    uv_timer_init(loop, &app->views_timer);
    app->views_timer.data = app;
    uv_timer_start(&app->views_timer, on_views_timer, 100, 500);
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
    return rc ? -1 : 0;
}

size_t gw_app_inflight(const gw_app_t *app) { return app->reads_inflight + gw_bus_inflight(app->bus); }

void gw_app_drain(gw_app_t *app) {
    gw_wait_hub_drain(app->chat);
    gw_wait_hub_drain(app->streams);
}

static void part_closed(void *data) {
    gw_app_t *app = data;
    if (--app->closing_parts > 0) return;
    void (*done)(void *) = app->done;
    void *done_data = app->done_data;
    sms_free(app);
    if (done) done(done_data);
}

static void on_views_timer_closed(uv_handle_t *h) { part_closed(h->data); }

void gw_app_close(gw_app_t *app, void (*done)(void *), void *done_data) {
    app->done = done;
    app->done_data = done_data;
    app->closing_parts = 5;
    uv_close((uv_handle_t *)&app->views_timer, on_views_timer_closed);
    gw_wait_hub_close(app->chat, part_closed, app);
    gw_wait_hub_close(app->streams, part_closed, app);
    /* Redis before the bus: pending reads get NULL and answer 503, and
     * writes still waiting for their binding answer 503 (nothing sent)
     * while the bus is there to answer them. */
    sms_redis_close(app->redis, part_closed, app);
    gw_bus_close(app->bus, part_closed, app);
}
