/* main.c - sms-gateway: wiring only.
 *
 * Loads the config, creates the loop, the app (app.h: Redis, Kafka, the
 * handlers) and the HTTP server (http.h), runs until SIGTERM/SIGINT, then
 * drains: server first (in-flight requests finish), then gw_app_close. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "authz.h"
#include "config.h"
#include "http/auth.h"
#include "http/http.h"
#include "log.h"
#include "oidc.h"
#include "metrics.h"

typedef struct gw_main_s {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    gw_server_t *srv;
    gw_app_t *app;
    gw_oidc_t *oidc; /* NULL without SMS_OIDC_ISSUER */
    int stopping;
} gw_main_t;

static void on_app_closed(void *data) {
    gw_main_t *m = data;
    m->app = NULL;
    sms_log(SMS_LOG_INFO, "stopped", "gateway stopped");
}

static void on_server_drained(void *data) {
    gw_main_t *m = data;
    if (m->app) gw_app_close(m->app, on_app_closed, m);
}

/* Stops everything that runs; the loop ends when the last handle is closed. */
static void stop(gw_main_t *m) {
    if (m->stopping) return;
    m->stopping = 1;
    /* After this a second signal gets the default action: kills at once. */
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    /* Long-polls first: the server's drain waits for every request in flight. */
    if (m->app) gw_app_drain(m->app);
    gw_server_shutdown(m->srv, on_server_drained, m);
    /* Draining requests are past auth already; the fetch thread is joined here (<= ~1 s). */
    gw_auth_set_issuer(NULL);
    gw_oidc_close(m->oidc);
    m->oidc = NULL;
}

static void on_signal(uv_signal_t *s, int signum) {
    gw_main_t *m = s->data;
    sms_log(SMS_LOG_INFO, "signal", "%s: draining", strsignal(signum));
    stop(m);
}

/* sms-gateway --print-routes: the route table joined with the authorization
 * matrix, as JSON on stdout (authz.h); starts nothing. */
static int print_routes(void) {
    static sms_config_t cfg;
    char err[256];
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-gateway: bad configuration: %s\n", err);
        return 2;
    }
    sms_log_init("gateway", SMS_LOG_ERROR);
    return gw_authz_print_table(&cfg, stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--print-routes") == 0) return print_routes();
    static gw_main_t m; /* static: handles outlive every frame that could fail */
    sms_config_t cfg;
    char err[256];
    gw_router_t *router = NULL;
    int exit_code = 0, rc;
    gw_server_hooks_t hooks;

    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-gateway: bad configuration: %s\n", err);
        return 2;
    }
    sms_log_init("gateway", cfg.log_level);
    if (cfg.jwt_secret[0] == '\0') {
        fprintf(stderr, "sms-gateway: SMS_JWT_SECRET is not set; refusing to start without it\n");
        return 2;
    }
    /* A vanished client is an EPIPE on its socket, not a dead gateway. The
     * previous disposition is of no interest. */
    (void)signal(SIGPIPE, SIG_IGN);

    if ((rc = uv_loop_init(&m.loop)) != 0) {
        fprintf(stderr, "sms-gateway: uv_loop_init: %s\n", uv_strerror(rc));
        return 1;
    }
    /* Signals first so that stop() can always close them. */
    (void)uv_signal_init(&m.loop, &m.sigterm); /* cannot fail on a live loop */
    (void)uv_signal_init(&m.loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    if ((rc = uv_signal_start(&m.sigterm, on_signal, SIGTERM)) != 0 ||
        (rc = uv_signal_start(&m.sigint, on_signal, SIGINT)) != 0) {
        fprintf(stderr, "sms-gateway: uv_signal_start: %s\n", uv_strerror(rc));
        return 1;
    }

    if (gw_oidc_new(&m.loop, &cfg, &m.oidc, err, sizeof err) != 0) {
        fprintf(stderr, "sms-gateway: bad configuration: %s\n", err);
        return 2;
    }
    if (m.oidc) gw_auth_set_issuer(&(gw_auth_issuer_t){.verify = gw_oidc_verify, .data = m.oidc});

    router = gw_router_new();
    sms_metrics_t *metrics = sms_metrics_new(); /* freed last: the server and app use it to the end */
    if ((rc = gw_server_new(&m.loop, &cfg, router, &m.srv)) != 0) {
        fprintf(stderr, "sms-gateway: gw_server_new: %s\n", strerror(-rc));
        return 1;
    }
    if ((rc = gw_app_new(&m.loop, &cfg, &m.app)) != 0) {
        exit_code = 1; /* gw_app_new logged why */
        stop(&m);
    } else if ((rc = gw_app_register_metrics(m.app, router, metrics)) != 0) {
        sms_log(SMS_LOG_ERROR, "metrics_failed", "registering metrics: %s", strerror(rc < 0 ? -rc : rc));
        exit_code = 1;
        stop(&m);
    } else if ((rc = gw_app_register_routes(m.app, router)) != 0) {
        sms_log(SMS_LOG_ERROR, "routes_failed", "registering routes: %s", strerror(rc < 0 ? -rc : rc));
        exit_code = 1;
        stop(&m);
    } else if ((rc = gw_server_set_metrics(m.srv, metrics)) != 0) {
        sms_log(SMS_LOG_ERROR, "metrics_failed", "per-route metrics: %s", strerror(rc < 0 ? -rc : rc));
        exit_code = 1;
        stop(&m);
    } else if (gw_app_server_hooks(m.app, &hooks), gw_server_set_hooks(m.srv, &hooks),
               (rc = gw_server_listen(m.srv, cfg.http_host, cfg.http_port)) != 0) {
        sms_log(SMS_LOG_ERROR, "listen_failed", "%s:%d: %s", cfg.http_host, cfg.http_port, uv_strerror(rc));
        exit_code = 1;
        stop(&m);
    } else {
        (void)gw_authz_check_routes(router); /* logs each route without a row in authz.c */
        int v6 = strchr(cfg.http_host, ':') != NULL;
        sms_log(SMS_LOG_INFO, "listening", "http://%s%s%s:%d (%zu routes, gateway id %s)", v6 ? "[" : "",
                cfg.http_host, v6 ? "]" : "", gw_server_port(m.srv), gw_router_count(router), cfg.gateway_id);
    }

    rc = uv_run(&m.loop, UV_RUN_DEFAULT);
    (void)rc; /* non-zero only if uv_stop was called, which nothing does */
    if (uv_loop_close(&m.loop) != 0) {
        /* A handle someone forgot to close: not worth a non-zero exit after a clean drain. */
        sms_log(SMS_LOG_WARN, "loop_busy", "handles still open at exit");
    }
    gw_server_free(m.srv);
    gw_router_free(router);
    sms_metrics_free(metrics);
    return exit_code;
}
