/* app.h - the gateway's application side as main.c sees it: creates the
 * Redis and Kafka clients, registers every route (routes.h; the routes build
 * on route_kit.h, not on this), drains and closes. main.c wires it to the
 * HTTP server; nothing here parses HTTP. */
#ifndef GW_APP_H
#define GW_APP_H

#include <uv.h>

#include "config.h"
#include "http/router.h"

typedef struct gw_app_s gw_app_t;

/* Creates the app on loop: connects Redis (async), creates the command
 * producer and this gateway's reply topic and consumer. Returns 0 and *out
 * (freed by gw_app_close), or a negative error having logged why. */
int gw_app_new(uv_loop_t *loop, const sms_config_t *cfg, gw_app_t **out);

/* Registers every route (health, readiness, classes, ...) on router. */
int gw_app_register_routes(gw_app_t *app, gw_router_t *router);

/* Adds GET /metrics and the app's Prometheus series to m (borrowed: it must
 * outlive the app) and hands m to the routes (gw_app_t.metrics). Before
 * gw_app_register_routes (so that routes may register series), and
 * gw_server_set_metrics after both (it registers per-route series). */
struct sms_metrics_s;
int gw_app_register_metrics(gw_app_t *app, gw_router_t *router, struct sms_metrics_s *m);
/* The server hooks of the app's protection (protect.h): per-IP connection
 * caps, rate limits, CORS, security headers. main.c installs them. */
struct gw_server_hooks_s;
void gw_app_server_hooks(gw_app_t *app, struct gw_server_hooks_s *out);

/* Number of requests waiting on a reply or a Redis answer. */
size_t gw_app_inflight(const gw_app_t *app);

/* The gateway is stopping (SIGTERM): answers long-polls now (an empty
 * page) instead of letting them wait out their ?wait=. */
void gw_app_drain(gw_app_t *app);

/* Closes clients and handles; calls done(app_data) once everything is closed
 * and frees the app. Pending requests are answered 503 first. */
void gw_app_close(gw_app_t *app, void (*done)(void *), void *done_data);

#endif
