/* fuzz_http.c - libFuzzer target for the gateway's HTTP request path: the
 * real server (services/gateway/http/: llhttp callbacks, limits,
 * pipelining, routing with 404/405, bearer auth, 415, the JSON depth check,
 * streaming bodies) with the real route table (gw_app_register_routes, so
 * routes others add are fuzzed too), each route answered by an echo handler
 * that reads everything a handler can read.
 *
 * Each input is written on a fresh loopback connection, then half-closed; the
 * connection must end (the server closes it) within HANG_MS, every answer
 * must be an HTTP/1.x status line and none a 500. Built by
 * tests/fuzz.d/CMakeLists.txt (-DSMS_FUZZ=ON). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "app.h"
#include "config.h"
#include "http/http.h"
#include "http/router.h"
#include "log.h"
#include "route_kit.h"

#define HANG_MS 5000 /* far above the 100 ms timeouts set below */

static uv_loop_t loop;
static sms_config_t cfg;
static gw_router_t *router;
static gw_server_t *srv;
static struct sockaddr_in server_addr;

/* ---- the echo handlers ---- */

static void read_all(gw_request_t *req) {
    volatile size_t sum = 0;
    const char *s;
    sum += strlen(gw_req_method(req)) + strlen(gw_req_path(req)) + strlen(gw_req_id(req));
    const char *names[] = {"id", "class_id", "student_id", "post_id", "webhook_id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((s = gw_req_param(req, names[i])) != NULL) sum += strlen(s);
    const char *queries[] = {"limit", "cursor", "q", "status", "wait", "class_id", "after"};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        if ((s = gw_req_query(req, queries[i])) != NULL) sum += strlen(s);
    const char *headers[] = {"content-type", "if-match", "last-event-id", "traceparent", "host"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        if ((s = gw_req_header(req, headers[i])) != NULL) sum += strlen(s);
    if ((s = gw_req_user(req)) != NULL) sum += strlen(s);
    if ((s = gw_req_role(req)) != NULL) sum += strlen(s);
    size_t len = 0;
    const char *body = gw_req_body(req, &len);
    for (size_t i = 0; i < len; i++) sum += (unsigned char)body[i];
    const char *key = NULL;
    if (gw_req_idempotency_key(req, &key) == 0 && key) sum += strlen(key);
    (void)sum;
}

static void echo(gw_request_t *req, void *data) {
    (void)data;
    read_all(req);
    static const char body[] = "{\"ok\":true}";
    gw_respond(req, 200, "application/json", body, sizeof body - 1, NULL);
}

static void sink_data(gw_request_t *req, const char *data, size_t len, void *ctx) {
    (void)data, (void)len, (void)ctx;
    gw_req_body_resume(req);
}
static void sink_end(gw_request_t *req, void *ctx) { echo(req, ctx); }
static void sink_abort(gw_request_t *req, int status, void *ctx) { (void)req, (void)status, (void)ctx; }
static const gw_body_sink_t sink = {sink_data, sink_end, sink_abort};

static void stream_echo(gw_request_t *req, void *data) {
    read_all(req);
    if (gw_req_stream_body(req, &sink, data, 64 * 1024) != 0) echo(req, data);
}

/* ---- set-up, once ---- */

static void setup(void) {
    char err[256];
    setenv("SMS_JWT_SECRET", "fuzz-secret", 1);
    setenv("SMS_HEADER_TIMEOUT_MS", "100", 1);
    setenv("SMS_IDLE_TIMEOUT_MS", "100", 1);
    setenv("SMS_BODY_LIMIT", "65536", 1);
    setenv("SMS_HEADER_LIMIT", "8192", 1);
    setenv("SMS_LOG_LEVEL", "error", 1);
    char dir[] = "/tmp/sms-fuzz-http-XXXXXX";
    if (mkdtemp(dir) == NULL) abort();
    setenv("SMS_DATA_DIR", dir, 1);
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_http: config: %s\n", err);
        abort();
    }
    sms_log_init("fuzz-http", SMS_LOG_ERROR);
    if (uv_loop_init(&loop) != 0) abort();

    /* The real table, registered against an app that has only a loop and a
     * config (registration touches nothing else), copied with echo handlers. */
    static gw_app_t app;
    app.loop = &loop;
    app.cfg = &cfg;
    gw_router_t *real = gw_router_new();
    if (gw_app_register_routes(&app, real) != 0) abort();
    router = gw_router_new();
    for (size_t i = 0; i < gw_router_count(real); i++) {
        const gw_route_t *r = gw_router_route(real, i);
        gw_handler_fn fn = (r->flags & GW_ROUTE_STREAM_BODY) ? stream_echo : echo;
        if (gw_router_add(router, r->method, r->pattern, r->flags, r->roles, fn, NULL) != 0) abort();
    }
    gw_router_free(real);

    if (gw_server_new(&loop, &cfg, router, &srv) != 0) abort();
    if (gw_server_listen(srv, "127.0.0.1", 0) != 0) abort();
    uv_ip4_addr("127.0.0.1", gw_server_port(srv), &server_addr);
}

/* ---- one input ---- */

typedef struct client_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    uv_timer_t hang;
    uv_buf_t out;
    sms_buf_t in;
    int closed, hung, failed;
} client_t;

static void on_client_closed(uv_handle_t *h) {
    client_t *c = h->data;
    c->closed++;
    if (c->closed == 2) uv_stop(&loop);
}

static void finish(client_t *c) {
    if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    uv_close((uv_handle_t *)&c->hang, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    client_t *c = h->data;
    sms_buf_reserve(&c->in, suggested);
    buf->base = c->in.data + c->in.len;
    buf->len = suggested;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    client_t *c = s->data;
    (void)buf;
    if (n > 0) c->in.len += (size_t)n;
    if (n < 0) finish(c); /* EOF (the server closed) or a reset: the connection ended */
}

static void on_hang(uv_timer_t *t) {
    client_t *c = t->data;
    c->hung = 1;
    finish(c);
}

static void on_shutdown(uv_shutdown_t *r, int status) { (void)r, (void)status; }

static void on_write(uv_write_t *w, int status) {
    client_t *c = w->data;
    if (status != 0) return; /* the server closed early (413, 431, 400): on_read sees it */
    (void)uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown);
}

static void on_connect(uv_connect_t *r, int status) {
    client_t *c = r->data;
    if (status != 0) {
        c->failed = 1;
        finish(c);
        return;
    }
    (void)uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->wreq.data = c;
    if (c->out.len == 0) on_write(&c->wreq, 0);
    else if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &c->out, 1, on_write) != 0) finish(c);
}

/* Every answer in the stream starts with an HTTP/1.x status line; no 500. */
static void check_answers(const char *p, size_t n) {
    if (n == 0) return; /* closed silently: allowed (e.g. nothing but whitespace) */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: answer is not an HTTP status line: %.40s\n", p);
        abort();
    }
    if (memmem(p, n, "HTTP/1.1 500", 12) != NULL) {
        fprintf(stderr, "fuzz_http: a 500 from the server itself\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    client_t c;
    memset(&c, 0, sizeof c);
    sms_buf_init(&c.in);
    c.out = uv_buf_init((char *)data, (unsigned)size);
    uv_tcp_init(&loop, &c.tcp);
    uv_timer_init(&loop, &c.hang);
    c.tcp.data = c.hang.data = c.creq.data = &c;
    uv_timer_start(&c.hang, on_hang, HANG_MS, 0);
    if (uv_tcp_connect(&c.creq, &c.tcp, (const struct sockaddr *)&server_addr, on_connect) != 0) abort();
    uv_run(&loop, UV_RUN_DEFAULT);
    if (c.hung) {
        fprintf(stderr, "fuzz_http: the server kept the connection open %d ms after the client's FIN\n", HANG_MS);
        abort();
    }
    if (c.failed) abort();
    check_answers(c.in.data, c.in.len);
    sms_buf_close(&c.in);
    /* Let the server close its side of the connection before the next input. */
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
