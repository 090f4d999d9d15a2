/* server_metrics.c - the HTTP server's Prometheus series: requests by route
 * template, method and status class, latency per route, connections and
 * requests in flight. gw_server_set_metrics (main.c) registers them once
 * the routes are in; response.c calls gw__metrics_observe for every answer. */
#include <stdio.h>

#include "alloc.h"
#include "http_internal.h"

static const char *const status_classes[GW_METRICS_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static void register_route(sms_metrics_t *m, gw_route_stats_t *st, const char *route, const char *method) {
    for (int c = 0; c < GW_METRICS_CLASSES; c++)
        st->requests[c] = sms_metrics_counter(m, "sms_http_requests_total",
                                              "HTTP answers by route template, method and status class.", "route",
                                              route, "method", method, "code", status_classes[c], NULL);
    st->latency = sms_metrics_histogram(m, "sms_http_request_duration_seconds",
                                        "From a request's first byte to its answer (the head, for streams).",
                                        sms_metrics_latency_us, SMS_METRICS_LATENCY_BUCKETS, 1e-6, "route", route,
                                        "method", method, NULL);
}

static double connections(void *srv) { return (double)gw_server_connections(srv); }
static double inflight(void *srv) { return (double)gw_server_inflight(srv); }
static double rejected(void *srv) { return (double)((gw_server_t *)srv)->n_rejected_total; }

int gw_server_set_metrics(gw_server_t *srv, sms_metrics_t *m) {
    if (srv->route_stats) return -EALREADY;
    size_t n = gw_router_count(srv->router);
    srv->route_stats = sms_calloc(n + 1, sizeof *srv->route_stats);
    srv->n_route_stats = n;
    for (size_t i = 0; i < n; i++) {
        const gw_route_t *r = gw_router_route(srv->router, i);
        register_route(m, &srv->route_stats[i], r->pattern, r->method);
    }
    /* 404s, 405s and answers before routing (400, 408, 413, 431, 503 at capacity). */
    register_route(m, &srv->route_stats[n], "unmatched", "any");
    sms_metrics_gauge_fn(m, "sms_http_connections", "Open client connections.", connections, srv, NULL);
    sms_metrics_gauge_fn(m, "sms_http_requests_in_flight", "Requests given to handlers and not answered yet.",
                         inflight, srv, NULL);
    sms_metrics_counter_fn(m, "sms_http_connections_rejected_total",
                           "Connections refused over SMS_MAX_CONNECTIONS.", rejected, srv, NULL);
    return 0;
}

void gw__metrics_observe(const gw_request_t *req, uint64_t latency_us) {
    gw_server_t *srv = req->srv;
    if (srv->route_stats == NULL) return;
    const gw_route_t *r = req->route;
    gw_route_stats_t *st = &srv->route_stats[r && r->index < srv->n_route_stats ? r->index : srv->n_route_stats];
    int c = req->status / 100 - 1;
    if (c >= 0 && c < GW_METRICS_CLASSES) sms_metric_inc(st->requests[c]);
    sms_metric_observe(st->latency, latency_us);
}
