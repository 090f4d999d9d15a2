/* routes_metrics.c - GET /metrics: the gateway's Prometheus exposition, and
 * the app's series (writes waiting and refused, reply timeouts, long-polls
 * and streams open, Redis latency, readiness parts). main.c calls
 * gw_app_register_metrics (app.c) -> gw_routes_metrics after the other
 * routes; the HTTP server's own series come from gw_server_set_metrics. */
#include <math.h>
#include <string.h>
#include <sys/statvfs.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "metrics.h"
#include "routes.h"

typedef struct metrics_route_s {
    gw_app_t *app;
    sms_metrics_t *m;
} metrics_route_t;

static metrics_route_t route_ctx; /* one gateway per process: the route's data lives as long as it */

/* SMS_METRICS_TOKEN, when set: "Authorization: Bearer <token>", compared in constant time. */
static bool token_ok(const gw_app_t *app, gw_request_t *req) {
    const char *want = app->cfg->metrics_token;
    if (want[0] == '\0') return true;
    const char *h = gw_req_header(req, "authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) return false;
    size_t n = strlen(want);
    return strlen(h + 7) == n && CRYPTO_memcmp(h + 7, want, n) == 0;
}

static void get_metrics(gw_request_t *req, void *data) {
    metrics_route_t *ctx = data;
    if (!token_ok(ctx->app, req)) {
        gw_respond_problem_h(req, 401, "unauthorized", "GET /metrics needs SMS_METRICS_TOKEN as a bearer token.",
                             NULL, 0, "WWW-Authenticate: Bearer\r\n");
        return;
    }
    sms_buf_t b;
    sms_buf_init(&b);
    sms_metrics_render(ctx->m, &b);
    gw_respond(req, 200, SMS_METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len, NULL);
    sms_buf_close(&b);
}

static double writes_waiting(void *app) { return (double)gw_bus_inflight(((gw_app_t *)app)->bus); }
static double writes_refused(void *app) { return (double)gw_bus_refused(((gw_app_t *)app)->bus); }
static double reply_timeouts(void *app) { return (double)gw_bus_reply_timeouts(((gw_app_t *)app)->bus); }
static double reads_waiting(void *app) { return (double)((gw_app_t *)app)->reads_inflight; }
static double long_polls(void *app) { return (double)gw_wait_hub_waiters(((gw_app_t *)app)->chat); }
static double streams(void *app) { return (double)gw_wait_hub_waiters(((gw_app_t *)app)->streams); }
/* The filesystem of SMS_DATA_DIR (uploads live there): one statvfs per scrape. */
static double disk_free(void *app) {
    struct statvfs st;
    if (statvfs(((gw_app_t *)app)->cfg->data_dir, &st) != 0) return NAN;
    return (double)st.f_bavail * (double)st.f_frsize;
}
static double disk_size(void *app) {
    struct statvfs st;
    if (statvfs(((gw_app_t *)app)->cfg->data_dir, &st) != 0) return NAN;
    return (double)st.f_blocks * (double)st.f_frsize;
}
static double kafka_up(void *app) { return gw_bus_kafka_ok(((gw_app_t *)app)->bus) ? 1 : 0; }
static double redis_up(void *app) { return sms_redis_connected(((gw_app_t *)app)->redis) ? 1 : 0; }

int gw_routes_metrics(gw_app_t *app, gw_router_t *router, sms_metrics_t *m) {
    route_ctx = (metrics_route_t){.app = app, .m = m};
    app->metrics = m;
    sms_metrics_gauge_fn(m, "sms_gateway_commands_waiting", "Writes waiting for their reply (or key binding).",
                         writes_waiting, app, NULL);
    sms_metrics_counter_fn(m, "sms_gateway_commands_refused_total",
                           "Writes answered 503 overloaded at admission (nothing sent).", writes_refused, app, NULL);
    sms_metrics_counter_fn(m, "sms_gateway_reply_timeouts_total",
                           "Writes answered 504: no reply within SMS_REPLY_TIMEOUT_MS.", reply_timeouts, app, NULL);
    sms_metrics_gauge_fn(m, "sms_gateway_reads_waiting", "Reads waiting for Redis.", reads_waiting, app, NULL);
    sms_metrics_gauge_fn(m, "sms_gateway_long_polls_open", "Chat GETs held with ?wait=.", long_polls, app, NULL);
    sms_metrics_gauge_fn(m, "sms_gateway_sse_streams_open", "Open notification streams (Server-Sent Events).",
                         streams, app, NULL);
    sms_metrics_gauge_fn(m, "sms_gateway_kafka_up", "1 while the last metadata probe reached a broker.", kafka_up,
                         app, NULL);
    sms_metrics_gauge_fn(m, "sms_gateway_redis_up", "1 while the Redis connection is up.", redis_up, app, NULL);
    sms_metrics_gauge_fn(m, "sms_uploads_disk_free_bytes", "Bytes available to sms on the SMS_DATA_DIR filesystem.",
                         disk_free, app, NULL);
    sms_metrics_gauge_fn(m, "sms_uploads_disk_size_bytes", "Size of the SMS_DATA_DIR filesystem.", disk_size, app,
                         NULL);
    sms_redis_set_metrics(app->redis,
                          sms_metrics_histogram(m, "sms_redis_command_duration_seconds",
                                                "Redis commands from send to reply.", sms_metrics_latency_us,
                                                SMS_METRICS_LATENCY_BUCKETS, 1e-6, "client", "gateway", NULL),
                          sms_metrics_counter(m, "sms_redis_command_failures_total",
                                              "Redis commands that got no reply (disconnected, timed out).",
                                              "client", "gateway", NULL));
    return gw_router_add(router, "GET", "/metrics", GW_ROUTE_PUBLIC, 0, get_metrics, &route_ctx);
}
