/* test_http.c - the gateway's HTTP server end to end on loopback: parsing and
 * the request API, pipelining order, limits (413, 431, 415), malformed input,
 * auth (401/403), timeouts (408, idle), HTTP/1.0 and Connection: close,
 * backpressure, max_connections, graceful shutdown, and streaming request
 * bodies (GW_ROUTE_STREAM_BODY) and responses (gw_respond_stream), JSON
 * nesting past SMS_JSON_MAX_DEPTH (400 before the handler) and the
 * Idempotency-Key on answers to writes.
 *
 * The server runs on its own uv loop in a second thread, listening on
 * 127.0.0.1 port 0; the tests are plain blocking sockets in the main thread
 * (cmocka assertions stay on that thread). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "alloc.h"
#include "http/auth.h"
#include "http/http.h"
#include "json_msgpack.h"
#include "token.h"
#include "log.h"
#include "http/router.h"

#define SECRET "http-test-secret"

/* ---- the server thread ---- */

typedef struct server_s {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    uv_sem_t ready;
    sms_config_t cfg;
    gw_router_t *router;
    gw_server_t *srv;
    int port;
    atomic_int handled;       /* handler calls */
    atomic_int done_called;
    atomic_int open_timers;
    atomic_int sink_aborts;   /* on_abort calls */
    atomic_int sink_abort_status;
    atomic_int src_done;      /* source on_done calls */
    atomic_int src_done_status;
    int running;              /* started and not yet joined */
} server_t;

static server_t S;

typedef struct slow_s {
    uv_timer_t timer;
    gw_request_t *req;
} slow_t;

static void h_inspect(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    char out[2048];
    size_t blen;
    const char *body = gw_req_body(req, &blen);
    const char *q = gw_req_query(req, "q"), *q2 = gw_req_query(req, "empty"), *hx = gw_req_header(req, "x-test");
    const char *id = gw_req_param(req, "id"), *user = gw_req_user(req), *role = gw_req_role(req);
    int n = snprintf(out, sizeof out, "method=%s|path=%s|id=%s|q=%s|empty=%s|missing=%s|hdr=%s|user=%s|role=%s|blen=%zu|body=%s",
                     gw_req_method(req), gw_req_path(req), id ? id : "(null)", q ? q : "(null)", q2 ? q2 : "(null)",
                     gw_req_query(req, "missing") ? "yes" : "(null)", hx ? hx : "(null)", user ? user : "(null)",
                     role ? role : "(null)", blen, body);
    gw_respond(req, 200, "text/plain", out, (size_t)n, "X-Extra: 1\r\n");
}

static void slow_closed(uv_handle_t *h) {
    sms_free(h->data);
    atomic_fetch_sub(&S.open_timers, 1);
}

static void slow_fire(uv_timer_t *t) {
    slow_t *s = t->data;
    char out[64];
    int n = snprintf(out, sizeof out, "slow %s", gw_req_query(s->req, "tag") ? gw_req_query(s->req, "tag") : "");
    gw_respond(s->req, 200, "text/plain", out, (size_t)n, NULL);
    t->data = s;
    uv_close((uv_handle_t *)t, slow_closed);
}

static void h_slow(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    const char *ms = gw_req_query(req, "ms");
    slow_t *s = sms_calloc(1, sizeof *s);
    s->req = req;
    uv_timer_init(&S.loop, &s->timer);
    s->timer.data = s;
    atomic_fetch_add(&S.open_timers, 1);
    uv_timer_start(&s->timer, slow_fire, ms ? (uint64_t)atoi(ms) : 100, 0);
}

static void h_big(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    static char big[64 * 1024];
    memset(big, 'b', sizeof big);
    gw_respond(req, 200, "text/plain", big, sizeof big, NULL);
}

/* POST /keyed: the command key is "gen-1" (as the bus sets a generated
 * one); answers a 504 problem. */
static void h_keyed(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    gw_req_set_command_key(req, "gen-1");
    gw_respond_problem(req, 504, "timeout", "unknown outcome", NULL, 0);
}

static void h_nocontent(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    gw_respond(req, 204, NULL, NULL, 0, NULL);
}

/* ---- streaming handlers ---- */

/* PUT /stream: a body sink that sums the bytes. ?async: the sink is chosen
 * 20 ms after the head and every chunk is "written" by a 1 ms timer before
 * resuming (like a disk write); ?max=N: max_bytes; ?reject: 403 at once. */
typedef struct sink_s {
    uv_timer_t timer;
    gw_request_t *req;
    uint64_t max, bytes, sum;
    size_t max_chunk;
    int async, aborted;
} sink_t;

static void sink_closed(uv_handle_t *h) {
    sms_free(h->data);
    atomic_fetch_sub(&S.open_timers, 1);
}

static void sink_close(sink_t *k) { uv_close((uv_handle_t *)&k->timer, sink_closed); }

static void sink_data(gw_request_t *req, const char *data, size_t len, void *ctx);
static void sink_end(gw_request_t *req, void *ctx);
static void sink_abort(gw_request_t *req, int status, void *ctx);
static const gw_body_sink_t test_sink = {.on_data = sink_data, .on_end = sink_end, .on_abort = sink_abort};

static void sink_resume_fire(uv_timer_t *t) {
    sink_t *k = t->data;
    if (k->aborted) sink_close(k);
    else gw_req_body_resume(k->req);
}

static void sink_data(gw_request_t *req, const char *data, size_t len, void *ctx) {
    sink_t *k = ctx;
    (void)req;
    k->bytes += len;
    for (size_t i = 0; i < len; i++) k->sum += (unsigned char)data[i];
    if (len > k->max_chunk) k->max_chunk = len;
    if (k->async) uv_timer_start(&k->timer, sink_resume_fire, 1, 0);
    else gw_req_body_resume(k->req);
}

static void sink_end(gw_request_t *req, void *ctx) {
    sink_t *k = ctx;
    char out[128];
    int n = snprintf(out, sizeof out, "bytes=%llu sum=%llu chunk_ok=%d", (unsigned long long)k->bytes,
                     (unsigned long long)k->sum, k->max_chunk <= GW_HTTP_STREAM_CHUNK_MAX);
    gw_respond(req, 200, "text/plain", out, (size_t)n, NULL);
    sink_close(k);
}

static void sink_abort(gw_request_t *req, int status, void *ctx) {
    sink_t *k = ctx;
    (void)req;
    atomic_store(&S.sink_abort_status, status);
    atomic_fetch_add(&S.sink_aborts, 1);
    k->aborted = 1;
    if (!uv_is_active((uv_handle_t *)&k->timer)) sink_close(k); /* else the timer does */
}

static void sink_start(sink_t *k) {
    if (gw_req_stream_body(k->req, &test_sink, k, k->max) != 0) {
        gw_respond(k->req, 400, "text/plain", "gone", 4, NULL);
        sink_close(k);
    }
}

static void sink_choose_fire(uv_timer_t *t) { sink_start(t->data); }

static void h_stream(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    size_t blen;
    gw_req_body(req, &blen);
    if (blen != 0 || gw_req_query(req, "reject")) { /* the body never goes to the arena */
        gw_respond(req, 403, "text/plain", "no", 2, NULL);
        return;
    }
    sink_t *k = sms_calloc(1, sizeof *k);
    k->req = req;
    k->async = gw_req_query(req, "async") != NULL;
    k->max = gw_req_query(req, "max") ? (uint64_t)atoll(gw_req_query(req, "max")) : 0;
    uv_timer_init(&S.loop, &k->timer);
    k->timer.data = k;
    atomic_fetch_add(&S.open_timers, 1);
    if (k->async) uv_timer_start(&k->timer, sink_choose_fire, 20, 0);
    else sink_start(k);
}

/* GET /download?n=N[&async]: N bytes of (offset % 251), produced 8 KiB at
 * a time (after a 1 ms timer with ?async). */
typedef struct src_s {
    uv_timer_t timer;
    gw_request_t *req;
    uint64_t n, sent;
    int async, done, unbounded;
    char buf[8192];
} src_t;

static void src_produce(src_t *s) {
    size_t len = s->n - s->sent < sizeof s->buf ? (size_t)(s->n - s->sent) : sizeof s->buf;
    for (size_t i = 0; i < len; i++) s->buf[i] = (char)((s->sent + i) % 251);
    s->sent += len;
    if (gw_stream_write(s->req, s->buf, len) != 0) {
        gw_stream_abort(s->req);
        return;
    }
    /* Unbounded: the server does not know the end; say it with the last chunk in flight. */
    if (s->unbounded && s->sent == s->n) gw_stream_end(s->req);
}

static void src_fire(uv_timer_t *t) {
    src_t *s = t->data;
    if (s->done) uv_close((uv_handle_t *)&s->timer, sink_closed);
    else src_produce(s);
}

static void src_ready(gw_request_t *req, void *ctx) {
    src_t *s = ctx;
    s->req = req;
    if (s->async) uv_timer_start(&s->timer, src_fire, 1, 0);
    else src_produce(s);
}

static void src_done(void *ctx, int status) {
    src_t *s = ctx;
    atomic_store(&S.src_done_status, status);
    atomic_fetch_add(&S.src_done, 1);
    s->done = 1;
    if (!uv_is_active((uv_handle_t *)&s->timer)) uv_close((uv_handle_t *)&s->timer, sink_closed);
}

static const gw_body_source_t test_source = {.on_ready = src_ready, .on_done = src_done};

static void h_download(gw_request_t *req, void *data) {
    (void)data;
    atomic_fetch_add(&S.handled, 1);
    src_t *s = sms_calloc(1, sizeof *s);
    s->n = (uint64_t)atoll(gw_req_query(req, "n") ? gw_req_query(req, "n") : "0");
    s->async = gw_req_query(req, "async") != NULL;
    s->unbounded = gw_req_query(req, "unbounded") != NULL;
    uv_timer_init(&S.loop, &s->timer);
    s->timer.data = s;
    atomic_fetch_add(&S.open_timers, 1);
    gw_respond_stream(req, 200, "application/octet-stream", s->unbounded ? GW_STREAM_UNBOUNDED : s->n,
                      "X-Stream: 1\r\n", &test_source, s);
}

static void on_done(void *data) {
    (void)data;
    atomic_store(&S.done_called, 1);
}

static void on_stop(uv_async_t *a) {
    gw_server_shutdown(S.srv, on_done, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void server_thread(void *arg) {
    (void)arg;
    /* No cmocka asserts on this thread: a failure shows as port <= 0. */
    S.port = gw_server_listen(S.srv, "127.0.0.1", 0) == 0 ? gw_server_port(S.srv) : -1;
    uv_sem_post(&S.ready);
    uv_run(&S.loop, UV_RUN_DEFAULT);
}

static void server_start(void (*tweak)(sms_config_t *)) {
    memset(&S, 0, sizeof S);
    memset(&S.cfg, 0, sizeof S.cfg);
    snprintf(S.cfg.jwt_secret, sizeof S.cfg.jwt_secret, "%s", SECRET);
    S.cfg.body_limit = 1000;
    S.cfg.header_limit = 2048;
    S.cfg.header_timeout_ms = 2000;
    S.cfg.idle_timeout_ms = 5000;
    S.cfg.max_connections = 100;
    S.cfg.reply_timeout_ms = 1000;
    if (tweak) tweak(&S.cfg);
    assert_int_equal(uv_loop_init(&S.loop), 0);
    assert_int_equal(uv_async_init(&S.loop, &S.stop, on_stop), 0);
    assert_int_equal(uv_sem_init(&S.ready, 0), 0);
    S.router = gw_router_new();
    assert_int_equal(gw_router_add(S.router, "GET", "/inspect/{id}", 0, 0, h_inspect, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "POST", "/inspect/{id}", GW_ROUTE_JSON_BODY, 0, h_inspect, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "GET", "/auth/{id}", GW_ROUTE_AUTH, GW_ROLE_LECTURER | GW_ROLE_ADMIN,
                                   h_inspect, NULL),
                     0);
    assert_int_equal(gw_router_add(S.router, "POST", "/keyed", 0, 0, h_keyed, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "GET", "/slow", 0, 0, h_slow, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "GET", "/big", 0, 0, h_big, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "DELETE", "/nocontent", 0, 0, h_nocontent, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "PUT", "/stream", GW_ROUTE_STREAM_BODY, 0, h_stream, NULL), 0);
    assert_int_equal(gw_router_add(S.router, "GET", "/download", 0, 0, h_download, NULL), 0);
    assert_int_equal(gw_server_new(&S.loop, &S.cfg, S.router, &S.srv), 0);
    assert_int_equal(uv_thread_create(&S.thread, server_thread, NULL), 0);
    uv_sem_wait(&S.ready);
    S.running = 1;
    assert_true(S.port > 0);
}

static void server_stop(void) {
    assert_int_equal(uv_async_send(&S.stop), 0);
    assert_int_equal(uv_thread_join(&S.thread), 0);
    S.running = 0;
    assert_int_equal(atomic_load(&S.done_called), 1);
    assert_int_equal(atomic_load(&S.open_timers), 0);
    assert_int_equal(gw_server_inflight(S.srv), 0);
    assert_int_equal(uv_loop_close(&S.loop), 0); /* every handle was closed */
    gw_server_free(S.srv);
    gw_router_free(S.router);
    uv_sem_destroy(&S.ready);
}

/* ---- a blocking client ---- */

typedef struct client_s {
    int fd;
    char buf[1 << 20];
    size_t len;
} client_t;

typedef struct resp_s {
    int status;
    char head[4096];
    char body[8192];
    size_t body_len;
} resp_t;

static client_t *client_new(void) {
    client_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return c;
}

static void client_free(client_t *c) {
    close(c->fd);
    free(c);
}

static void client_send(client_t *c, const char *s) {
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        assert_true(w > 0);
        off += (size_t)w;
    }
}

/* Reads more into the buffer; returns bytes read, 0 on EOF, -1 on timeout/error. */
static ssize_t client_fill(client_t *c) {
    assert_true(c->len < sizeof c->buf);
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0) c->len += (size_t)n;
    return n;
}

static const char *find_header(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') return p + 2 + n + 2;
    return NULL;
}

/* Reads one response (Content-Length framed). Returns 0, or -1 on EOF or
 * timeout before a whole response arrived. */
static int client_read(client_t *c, resp_t *r) {
    memset(r, 0, sizeof *r);
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (client_fill(c) <= 0) return -1;
    size_t head_len = (size_t)(end - c->buf) + 4;
    assert_true(head_len < sizeof r->head);
    memcpy(r->head, c->buf, head_len);
    r->status = atoi(r->head + 9);
    const char *cl = find_header(r->head, "Content-Length");
    size_t body_len = cl ? (size_t)atol(cl) : 0;
    while (c->len < head_len + body_len)
        if (client_fill(c) <= 0) return -1;
    r->body_len = body_len;
    memcpy(r->body, c->buf + head_len, body_len < sizeof r->body - 1 ? body_len : sizeof r->body - 1);
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    return 0;
}

/* True when the server closed the connection (EOF with nothing more). */
static int client_eof(client_t *c) {
    if (c->len) return 0;
    return client_fill(c) == 0;
}

static resp_t *roundtrip(const char *request) {
    static resp_t r;
    client_t *c = client_new();
    client_send(c, request);
    assert_int_equal(client_read(c, &r), 0);
    client_free(c);
    return &r;
}

static int is_hex_id(const char *v) {
    for (int i = 0; i < 16; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) return 0;
    return v[16] == '\r';
}

/* ---- tests ---- */

static void test_request_api(void **state) {
    (void)state;
    server_start(NULL);
    resp_t *r = roundtrip("GET /inspect/a%20b?q=x+y%21&empty&q=second HTTP/1.1\r\nHost: t\r\nX-TEST:  v1  \r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "method=GET|path=/inspect/a b|id=a b|q=x y!|empty=|missing=(null)|hdr=v1|user=(null)|"
                                 "role=(null)|blen=0|body=");
    assert_non_null(find_header(r->head, "X-Extra"));
    assert_non_null(find_header(r->head, "Date"));
    assert_true(is_hex_id(find_header(r->head, "X-Request-Id")));
    assert_null(find_header(r->head, "Connection"));

    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Type: application/merge-patch+json; charset=utf-8\r\n"
                  "Content-Length: 7\r\n\r\n{\"a\":1}");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "blen=7|body={\"a\":1}"));

    /* Chunked request body, sent in pieces. */
    client_t *c = client_new();
    client_send(c, "POST /inspect/2 HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4\r\n{\"b");
    usleep(20000);
    client_send(c, "\"\r\n3\r\n:2}\r\n0\r\n\r\n");
    resp_t rr;
    assert_int_equal(client_read(c, &rr), 0);
    assert_int_equal(rr.status, 200);
    assert_non_null(strstr(rr.body, "blen=7|body={\"b\":2}"));
    client_free(c);

    /* A sane client id is echoed; a bad one is replaced. */
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nX-Request-Id: Abc.def_1-2\r\n\r\n");
    assert_memory_equal(find_header(r->head, "X-Request-Id"), "Abc.def_1-2\r\n", 13);
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nX-Request-Id: bad id!\r\n\r\n");
    assert_true(is_hex_id(find_header(r->head, "X-Request-Id")));
    char req[256];
    snprintf(req, sizeof req, "GET /inspect/1 HTTP/1.1\r\nX-Request-Id: %065d\r\n\r\n", 0);
    r = roundtrip(req);
    assert_true(is_hex_id(find_header(r->head, "X-Request-Id")));

    /* HEAD: GET's headers, no body; 204: no Content-Length. */
    client_t *h = client_new();
    client_send(h, "HEAD /inspect/1 HTTP/1.1\r\n\r\nDELETE /nocontent HTTP/1.1\r\n\r\n");
    char *end;
    while ((end = memmem(h->buf, h->len, "\r\n\r\n", 4)) == NULL || memmem(end + 4, h->len - (size_t)(end + 4 - h->buf), "\r\n\r\n", 4) == NULL)
        assert_true(client_fill(h) > 0);
    assert_memory_equal(h->buf, "HTTP/1.1 200 OK", 15);
    assert_memory_equal(end + 4, "HTTP/1.1 204 No Content", 23);
    assert_null(strstr(end + 4, "Content-Length"));
    client_free(h);
    server_stop();
}

static void test_errors(void **state) {
    (void)state;
    server_start(NULL);
    resp_t *r = roundtrip("GET /nope HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 404);
    assert_memory_equal(find_header(r->head, "Content-Type"), "application/problem+json", 24);
    assert_non_null(strstr(r->body, "\"type\":\"https://sms.example/problems/not_found\""));
    assert_non_null(strstr(r->body, "\"request_id\":\""));

    r = roundtrip("PUT /inspect/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r->status, 405);
    assert_memory_equal(find_header(r->head, "Allow"), "GET, HEAD, POST\r\n", 17);

    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
    assert_int_equal(r->status, 415);
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json; charset=latin1\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(r->status, 415);
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(r->status, 415);

    /* 413 on the header alone: the body is never sent. */
    client_t *c = client_new();
    client_send(c, "POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1001\r\n\r\n");
    resp_t rr;
    assert_int_equal(client_read(c, &rr), 0);
    assert_int_equal(rr.status, 413);
    assert_memory_equal(find_header(rr.head, "Connection"), "close", 5);
    assert_non_null(strstr(rr.body, "payload_too_large"));
    assert_true(client_eof(c));
    client_free(c);

    /* Chunked body over the limit. */
    char big[1400];
    memset(big, 'a', sizeof big);
    snprintf(big, sizeof big, "POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n");
    size_t n = strlen(big);
    memset(big + n, 'a', 1000);
    static const char tail[] = "\r\n1\r\na\r\n0\r\n\r\n";
    memcpy(big + n + 1000, tail, sizeof tail);
    r = roundtrip(big);
    assert_int_equal(r->status, 413);

    /* 431: head over header_limit (2048). */
    static char huge[4096];
    snprintf(huge, sizeof huge, "GET /inspect/1 HTTP/1.1\r\nX-Big: %03000d\r\n\r\n", 0);
    r = roundtrip(huge);
    assert_int_equal(r->status, 431);
    assert_non_null(strstr(r->body, "headers_too_large"));
    /* ... or too many header lines. */
    static char many[4096];
    strcpy(many, "GET /inspect/1 HTTP/1.1\r\n");
    for (int i = 0; i < 120; i++) strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    r = roundtrip(many);
    assert_int_equal(r->status, 431);

    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "bad_request"));
    r = roundtrip("\x01\x02 nonsense\r\n\r\n");
    assert_int_equal(r->status, 400);
    r = roundtrip("GET /inspect/%zz HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 400);
    r = roundtrip("GET /inspect/a%00b HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 400);
    server_stop();
}

/* What llhttp does differently from a lenient parser, and what the server
 * builds on it: bytes llhttp skips without a callback still count against
 * header_limit, an empty header value keeps the next header apart, every
 * request-target form routes by its path, and malformed framing is a 400. */
static void test_parser_edges(void **state) {
    (void)state;
    server_start(NULL);
    /* Blanks after a colon reach no callback: 3000 of them are still over 2048 bytes. */
    static char pad[4096];
    snprintf(pad, sizeof pad, "GET /inspect/1 HTTP/1.1\r\nX-Pad:%3000sv\r\n\r\n", "");
    resp_t *r = roundtrip(pad);
    assert_int_equal(r->status, 431);
    assert_non_null(strstr(r->body, "headers_too_large"));
    /* ... also when they arrive over several reads (counted per buffer). */
    client_t *c = client_new();
    client_send(c, "GET /inspect/1 HTTP/1.1\r\nX-Pad:");
    char blanks[601];
    memset(blanks, ' ', 600);
    blanks[600] = '\0';
    for (int i = 0; i < 4; i++) {
        client_send(c, blanks);
        usleep(20000);
    }
    resp_t rr;
    assert_int_equal(client_read(c, &rr), 0);
    assert_int_equal(rr.status, 431);
    client_free(c);
    /* Under the limit, padding is fine and not part of the value. */
    snprintf(pad, sizeof pad, "GET /inspect/1 HTTP/1.1\r\nX-TEST:%1000sv1\r\n\r\n", "");
    r = roundtrip(pad);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "|hdr=v1|"));

    /* An empty value, then the header the handler reads. */
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nX-Empty:\r\nX-TEST: v2\r\nX-Blank:   \r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "|hdr=v2|"));

    /* absolute-form routes by its path (and query); no path is "/". */
    r = roundtrip("GET http://sms.example:8080/inspect/a%20b?q=x#frag HTTP/1.1\r\nHost: sms.example\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "path=/inspect/a b|id=a b|q=x|"));
    r = roundtrip("GET http://sms.example HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 404);
    r = roundtrip("GET /inspect/1#frag HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "path=/inspect/1|"));

    /* Strict framing: no guessing between two body lengths, no bare LF line ends. */
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "Malformed HTTP request: "));
    r = roundtrip("GET /inspect/1 HTTP/1.1\nHost: t\n\n");
    assert_int_equal(r->status, 400);
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
    assert_int_equal(r->status, 400);
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "zz\r\n{}\r\n0\r\n\r\n");
    assert_int_equal(r->status, 400);
    server_stop();
}

/* {"a":{"a":...{"a":1}...}} with depth objects, as a POST /inspect/1. Caller frees. */
static char *deep_post(int depth) {
    size_t n = (size_t)depth * 6 + 200;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "POST /inspect/1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                 depth * 6 + 1);
    for (int i = 0; i < depth; i++) p += i + 1 < depth ? sprintf(p, "{\"a\":") : sprintf(p, "{\"a\":1");
    for (int i = 0; i < depth; i++) *p++ = '}';
    *p = '\0';
    return s;
}

static void test_json_depth(void **state) {
    (void)state;
    server_start(NULL);
    char *ok = deep_post(SMS_JSON_MAX_DEPTH), *deep = deep_post(SMS_JSON_MAX_DEPTH + 1);
    resp_t *r = roundtrip(ok);
    assert_int_equal(r->status, 200);
    int handled = atomic_load(&S.handled);
    r = roundtrip(deep);
    assert_int_equal(r->status, 400);
    assert_int_equal(atomic_load(&S.handled), handled); /* refused before the handler */
    assert_non_null(strstr(r->body, "\"type\":\"https://sms.example/problems/validation\""));
    char field[200] = "\"field\":\"a";
    for (int i = 1; i < SMS_JSON_MAX_DEPTH; i++) strcat(field, ".a");
    strcat(field, "\"");
    assert_non_null(strstr(r->body, field));
    assert_non_null(strstr(r->body, "more than 24 arrays or objects deep"));
    free(ok);
    free(deep);
    server_stop();
}

static void big_body(sms_config_t *cfg) { cfg->body_limit = 1 << 20; }

/* Far past cJSON's own limit (1000): refused by the text scan, no recursion. */
static void test_json_depth_huge(void **state) {
    (void)state;
    server_start(big_body);
    char *deep = deep_post(100000);
    resp_t *r = roundtrip(deep);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "nested too deeply"));
    free(deep);
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\n\r\n"); /* still serving */
    assert_int_equal(r->status, 200);
    server_stop();
}

static void test_idempotency_key_answers(void **state) {
    (void)state;
    server_start(NULL);
    /* A write's answer echoes the client's key; a read's does not. */
    resp_t *r = roundtrip("POST /inspect/1 HTTP/1.1\r\nIdempotency-Key: k-1:x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 2\r\n\r\n{}");
    assert_int_equal(r->status, 200);
    assert_memory_equal(find_header(r->head, "Idempotency-Key"), "k-1:x\r\n", 7);
    r = roundtrip("GET /inspect/1 HTTP/1.1\r\nIdempotency-Key: k-1\r\n\r\n");
    assert_null(find_header(r->head, "Idempotency-Key"));
    /* Refused before the handler (415): still named. */
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nIdempotency-Key: k-2\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(r->status, 415);
    assert_memory_equal(find_header(r->head, "Idempotency-Key"), "k-2\r\n", 5);
    assert_non_null(strstr(r->body, "\"idempotency_key\":\"k-2\""));
    /* A malformed key is never echoed. */
    r = roundtrip("POST /inspect/1 HTTP/1.1\r\nIdempotency-Key: a\x01b\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\n\r\n{}");
    assert_null(find_header(r->head, "Idempotency-Key"));
    /* The command's key, once set, wins, in the header and the problem body. */
    r = roundtrip("POST /keyed HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r->status, 504);
    assert_memory_equal(find_header(r->head, "Idempotency-Key"), "gen-1\r\n", 7);
    assert_non_null(strstr(r->body, "\"idempotency_key\":\"gen-1\""));
    server_stop();
}

static void test_auth(void **state) {
    (void)state;
    server_start(NULL);
    char req[1024], *tok;
    resp_t *r = roundtrip("GET /auth/1 HTTP/1.1\r\n\r\n");
    assert_int_equal(r->status, 401);
    assert_memory_equal(find_header(r->head, "WWW-Authenticate"), "Bearer\r\n", 8);
    assert_non_null(strstr(r->body, "missing token"));

    assert_int_equal(sms_token_mint("lect-9", "lecturer", (int64_t)time(NULL), 60, SECRET, &tok), 0);
    snprintf(req, sizeof req, "GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tok);
    r = roundtrip(req);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "id=7|"));
    assert_non_null(strstr(r->body, "user=lect-9|role=lecturer|"));
    snprintf(req, sizeof req, "GET /auth/7 HTTP/1.1\r\nAuthorization: bearer %s\r\n\r\n", tok);
    assert_int_equal(roundtrip(req)->status, 200); /* the scheme is case-insensitive */
    sms_free(tok);

    assert_int_equal(sms_token_mint("lect-9", "lecturer", (int64_t)time(NULL) - 100, 10, SECRET, &tok), 0);
    snprintf(req, sizeof req, "GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tok);
    r = roundtrip(req);
    assert_int_equal(r->status, 401);
    assert_memory_equal(find_header(r->head, "WWW-Authenticate"), "Bearer error=\"invalid_token\"\r\n", 30);
    assert_non_null(strstr(r->body, "token expired"));
    sms_free(tok);

    assert_int_equal(sms_token_mint("lect-9", "lecturer", (int64_t)time(NULL), 60, "another-secret", &tok), 0);
    snprintf(req, sizeof req, "GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tok);
    r = roundtrip(req);
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->body, "bad signature"));
    sms_free(tok);

    /* {"alg":"none"} . {"sub":"x","role":"admin","exp":9999999999} . (empty) */
    r = roundtrip("GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer "
                  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIiwiZXhwIjo5OTk5OTk5OTk5fQ.\r\n\r\n");
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->body, "unsupported algorithm"));
    r = roundtrip("GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer x.y\r\n\r\n");
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->body, "malformed"));
    r = roundtrip("GET /auth/7 HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n");
    assert_int_equal(r->status, 401);

    assert_int_equal(sms_token_mint("stu-1", "student", (int64_t)time(NULL), 60, SECRET, &tok), 0);
    snprintf(req, sizeof req, "GET /auth/7 HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tok);
    r = roundtrip(req);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->body, "\"type\":\"https://sms.example/problems/forbidden\""));
    assert_null(find_header(r->head, "WWW-Authenticate"));
    sms_free(tok);
    server_stop();
}

static void test_auth_unit(void **state) {
    (void)state;
    sms_token_claims_t claims;
    gw_auth_failure_t fail;
    char *tok, hdr[1024];
    gw_auth_cache_t *cache = gw_auth_cache_new();
    for (int pass = 0; pass < 2; pass++) {
        gw_auth_cache_t *cc = pass ? cache : NULL;
        assert_int_equal(gw_auth_check(cc, NULL, SECRET, 1000, GW_ROLE_ANY, &claims, &fail), -1);
        assert_int_equal(fail.status, 401);
        assert_string_equal(fail.code, "unauthorized");
        assert_int_equal(gw_auth_check(cc, "Bearer ", SECRET, 1000, GW_ROLE_ANY, &claims, &fail), -1);
        assert_string_equal(fail.detail, "missing token");
        assert_int_equal(sms_token_mint("a", "admin", 1000, 60, SECRET, &tok), 0);
        snprintf(hdr, sizeof hdr, "Bearer %s", tok);
        for (int i = 0; i < 2; i++) { /* the second time from the cache, when there is one */
            memset(&claims, 0, sizeof claims);
            assert_int_equal(gw_auth_check(cc, hdr, SECRET, 1000, GW_ROLE_ADMIN, &claims, &fail), 0);
            assert_string_equal(claims.sub, "a");
            assert_string_equal(claims.role, "admin");
            assert_int_equal(claims.exp, 1060);
        }
        assert_int_equal(gw_auth_check(cc, hdr, SECRET, 1000, GW_ROLE_LECTURER | GW_ROLE_STUDENT, &claims, &fail), -1);
        assert_int_equal(fail.status, 403);
        assert_string_equal(fail.detail, "This route needs role lecturer or student.");
        assert_int_equal(gw_auth_check(cc, hdr, SECRET, 1060, GW_ROLE_ADMIN, &claims, &fail), -1);
        assert_string_equal(fail.detail, "token expired");
        /* A cached token with one byte changed is a different token. */
        size_t n = strlen(hdr);
        assert_int_equal(gw_auth_check(cc, hdr, SECRET, 1000, GW_ROLE_ADMIN, &claims, &fail), 0);
        hdr[n - 1] = hdr[n - 1] == 'A' ? 'B' : 'A';
        assert_int_equal(gw_auth_check(cc, hdr, SECRET, 1000, GW_ROLE_ADMIN, &claims, &fail), -1);
        assert_string_equal(fail.detail, "bad signature");
        sms_free(tok);
    }
    assert_int_equal(gw_auth_role_bit("student"), GW_ROLE_STUDENT);
    assert_int_equal(gw_auth_role_bit("root"), 0);

    /* Cost per request: a full verification, and a cache hit. */
    assert_int_equal(sms_token_mint("a", "admin", (int64_t)time(NULL), 60, SECRET, &tok), 0);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t0 = uv_hrtime();
        for (int i = 0; i < 2000; i++)
            assert_int_equal(gw_auth_check(pass ? cache : NULL, hdr, SECRET, (int64_t)time(NULL), GW_ROLE_ADMIN,
                                           &claims, &fail),
                             0);
        print_message("gw_auth_check %s: %.2f us per request\n", pass ? "cached" : "uncached",
                      (double)(uv_hrtime() - t0) / 2000 / 1000);
    }
    sms_free(tok);
    gw_auth_cache_free(cache);
}

static void test_pipelining(void **state) {
    (void)state;
    server_start(NULL);
    client_t *c = client_new();
    /* The first answers last; responses must still come back in order. */
    client_send(c, "GET /slow?ms=200&tag=A HTTP/1.1\r\n\r\n"
                   "GET /inspect/B HTTP/1.1\r\n\r\n"
                   "GET /slow?ms=50&tag=C HTTP/1.1\r\n\r\n"
                   "GET /inspect/D HTTP/1.1\r\n\r\n");
    resp_t r;
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "slow A");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "id=B|"));
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "slow C");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "id=D|"));

    /* Connection: close ends the connection after that response; what
     * follows it is ignored. */
    client_send(c, "GET /inspect/E HTTP/1.1\r\nConnection: close\r\n\r\nGET /inspect/F HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "id=E|"));
    assert_memory_equal(find_header(r.head, "Connection"), "close", 5);
    assert_true(client_eof(c));
    client_free(c);

    /* HTTP/1.0: closes by default, keeps alive when asked. */
    c = client_new();
    client_send(c, "GET /inspect/G HTTP/1.0\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_memory_equal(find_header(r.head, "Connection"), "close", 5);
    assert_true(client_eof(c));
    client_free(c);
    c = client_new();
    client_send(c, "GET /inspect/H HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_memory_equal(find_header(r.head, "Connection"), "keep-alive", 10);
    client_send(c, "GET /inspect/I HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "id=I|"));
    client_free(c);

    /* Half-close after pipelining: every answer still arrives. */
    c = client_new();
    client_send(c, "GET /slow?ms=100&tag=J HTTP/1.1\r\n\r\nGET /inspect/K HTTP/1.1\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "slow J");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "id=K|"));
    assert_true(client_eof(c));
    client_free(c);
    server_stop();
}

static void short_timeouts(sms_config_t *cfg) {
    cfg->header_timeout_ms = 150;
    cfg->idle_timeout_ms = 300;
}

static void test_timeouts(void **state) {
    (void)state;
    server_start(short_timeouts);
    resp_t r;
    /* A head that never completes: 408 and close. */
    client_t *c = client_new();
    client_send(c, "GET /inspect/1 HTTP/1.1\r\nHost: x\r\n");
    uint64_t t0 = uv_hrtime();
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 408);
    assert_true(uv_hrtime() - t0 >= 100 * 1000000ull);
    assert_true(client_eof(c));
    client_free(c);

    /* A connection that never sends anything is closed without a word. */
    c = client_new();
    assert_true(client_eof(c));
    client_free(c);

    /* Idle keep-alive is closed after idle_timeout_ms... */
    c = client_new();
    client_send(c, "GET /inspect/1 HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    t0 = uv_hrtime();
    assert_true(client_eof(c));
    uint64_t waited = (uv_hrtime() - t0) / 1000000;
    assert_true(waited >= 200 && waited < 2000);
    client_free(c);

    /* ... but a request waiting on its handler longer than both is not timed out. */
    c = client_new();
    client_send(c, "GET /slow?ms=600&tag=L HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow L");
    client_free(c);
    server_stop();
}

static void test_backpressure(void **state) {
    (void)state;
    server_start(NULL);
    client_t *c = client_new();
    int rcvbuf = 16 * 1024;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    /* 400 pipelined requests for 64 KiB each (25 MiB of answers); the
     * client reads nothing for a while. */
    static char reqs[400 * 32];
    reqs[0] = '\0';
    for (int i = 0; i < 400; i++) strcat(reqs, "GET /big HTTP/1.1\r\n\r\n");
    client_send(c, reqs);
    usleep(300000);
    int handled = atomic_load(&S.handled);
    /* Reading stopped once 1 MiB was pending in libuv: what was handled is
     * that plus what the kernel's socket buffers took (a few MiB here), far
     * fewer than 400. */
    assert_true(handled >= 1);
    assert_true(handled < 200);
    print_message("backpressure: %d of 400 handled while the client did not read\n", handled);
    resp_t r;
    for (int i = 0; i < 400; i++) {
        assert_int_equal(client_read(c, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 64 * 1024);
    }
    assert_int_equal(atomic_load(&S.handled), 400);
    client_free(c);

    /* Many slow requests in flight: at most GW_HTTP_MAX_PIPELINE taken at once. */
    atomic_store(&S.handled, 0);
    c = client_new();
    reqs[0] = '\0';
    for (int i = 0; i < 100; i++) strcat(reqs, "GET /slow?ms=300 HTTP/1.1\r\n\r\n");
    client_send(c, reqs);
    usleep(150000);
    assert_int_equal(atomic_load(&S.handled), GW_HTTP_MAX_PIPELINE);
    for (int i = 0; i < 100; i++) assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(atomic_load(&S.handled), 100);
    client_free(c);
    server_stop();
}

static void two_connections(sms_config_t *cfg) { cfg->max_connections = 2; }

static void test_max_connections(void **state) {
    (void)state;
    server_start(two_connections);
    client_t *a = client_new(), *b = client_new();
    resp_t r;
    client_send(a, "GET /inspect/1 HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(a, &r), 0); /* a is accepted and counted */
    client_send(b, "GET /inspect/1 HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(b, &r), 0);
    client_t *c = client_new();
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(find_header(r.head, "Retry-After"));
    assert_true(client_eof(c));
    client_free(c);
    client_free(a);
    /* Once the server has seen a's close there is room again. */
    int status = 0;
    for (int tries = 0; tries < 100 && status != 200; tries++) {
        usleep(20000);
        c = client_new();
        client_send(c, "GET /inspect/1 HTTP/1.1\r\n\r\n");
        assert_int_equal(client_read(c, &r), 0);
        status = r.status;
        client_free(c);
    }
    assert_int_equal(status, 200);
    client_free(b);
    server_stop();
}

static void test_shutdown(void **state) {
    (void)state;
    server_start(NULL);
    client_t *busy = client_new(), *idle = client_new();
    resp_t r;
    client_send(idle, "GET /inspect/1 HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(idle, &r), 0);
    client_send(busy, "GET /slow?ms=300&tag=M HTTP/1.1\r\n\r\n");
    usleep(50000);
    assert_int_equal(uv_async_send(&S.stop), 0);
    /* The idle connection is closed at once; the busy one gets its answer,
     * marked as the last. */
    assert_true(client_eof(idle));
    assert_int_equal(client_read(busy, &r), 0);
    assert_string_equal(r.body, "slow M");
    assert_memory_equal(find_header(r.head, "Connection"), "close", 5);
    assert_true(client_eof(busy));
    client_free(idle);
    client_free(busy);
    assert_int_equal(uv_thread_join(&S.thread), 0);
    S.running = 0;
    assert_int_equal(atomic_load(&S.done_called), 1);
    assert_int_equal(uv_loop_close(&S.loop), 0);
    gw_server_free(S.srv);
    gw_router_free(S.router);
    uv_sem_destroy(&S.ready);
}

static void test_shutdown_gives_up(void **state) {
    (void)state;
    server_start(NULL); /* reply_timeout_ms 1000: the drain gives up after 2 s */
    client_t *c = client_new();
    client_send(c, "GET /slow?ms=2500 HTTP/1.1\r\n\r\n");
    usleep(50000);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(uv_async_send(&S.stop), 0);
    assert_true(client_eof(c)); /* closed unanswered when the drain gave up */
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_true(ms >= 1900 && ms < 2400);
    client_free(c);
    /* The handler's timer still answers (into the void) before the loop ends. */
    assert_int_equal(uv_thread_join(&S.thread), 0);
    S.running = 0;
    assert_int_equal(atomic_load(&S.done_called), 1);
    assert_int_equal(gw_server_inflight(S.srv), 0);
    assert_int_equal(uv_loop_close(&S.loop), 0);
    gw_server_free(S.srv);
    gw_router_free(S.router);
    uv_sem_destroy(&S.ready);
}

/* ---- streaming ---- */

static uint64_t byte_sum(const char *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += (unsigned char)p[i];
    return s;
}

static void send_all(client_t *c, const char *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
        assert_true(w > 0);
        off += (size_t)w;
    }
}

static int wait_atomic(atomic_int *v, int want, int ms) {
    for (int i = 0; i < ms && atomic_load(v) < want; i++) usleep(1000);
    return atomic_load(v) >= want;
}

static void test_stream_body(void **state) {
    (void)state;
    server_start(NULL); /* body_limit 1000: streamed bodies are not held to it */
    static char body[300000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)(i * 7 + 3);
    char head[256], want[128];
    resp_t r;

    /* Content-Length, sink resuming at once. */
    client_t *c = client_new();
    snprintf(head, sizeof head, "PUT /stream HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof body);
    client_send(c, head);
    send_all(c, body, sizeof body);
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "bytes=%zu sum=%llu chunk_ok=1", sizeof body,
             (unsigned long long)byte_sum(body, sizeof body));
    assert_string_equal(r.body, want);
    assert_null(find_header(r.head, "Connection")); /* keep-alive: the body was read to its end */
    /* A request pipelined behind a streamed body waits for it, then runs. */
    client_send(c, "PUT /stream?async HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /inspect/9 HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "bytes=5 sum=532 chunk_ok=1");
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "path=/inspect/9"));
    client_free(c);

    /* Chunked, in pieces; the sink is chosen late and writes asynchronously. */
    c = client_new();
    client_send(c, "PUT /stream?async HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    usleep(50000);
    client_send(c, "6\r\n world\r\n0\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "bytes=11 sum=%llu chunk_ok=1", (unsigned long long)byte_sum("hello world", 11));
    assert_string_equal(r.body, want);
    client_free(c);

    /* No body at all: on_end at once, with or without a Content-Length. */
    c = client_new();
    client_send(c, "PUT /stream HTTP/1.1\r\nContent-Length: 0\r\n\r\nPUT /stream?async HTTP/1.1\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "bytes=0 sum=0 chunk_ok=1");
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "bytes=0 sum=0 chunk_ok=1");
    client_free(c);

    /* Expect: 100-continue is answered once the sink is chosen. */
    c = client_new();
    client_send(c, "PUT /stream?async HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 100);
    client_send(c, "abc");
    assert_int_equal(client_read(c, &r), 0);
    assert_string_equal(r.body, "bytes=3 sum=294 chunk_ok=1");
    client_free(c);

    /* More than max_bytes: on_abort(413), 413, close. */
    c = client_new();
    client_send(c, "PUT /stream?max=100 HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    send_all(c, body, 1000);
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_memory_equal(find_header(r.head, "Connection"), "close", 5);
    assert_true(client_eof(c));
    assert_int_equal(atomic_load(&S.sink_aborts), 1);
    assert_int_equal(atomic_load(&S.sink_abort_status), 413);
    client_free(c);

    /* Answered from the head: the body is never read, the connection ends. */
    c = client_new();
    client_send(c, "PUT /stream?reject HTTP/1.1\r\nContent-Length: 100000\r\n\r\nabc");
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 403);
    assert_memory_equal(find_header(r.head, "Connection"), "close", 5);
    client_free(c);

    /* The client half-closes mid-body: on_abort(400) and a 400. */
    c = client_new();
    client_send(c, "PUT /stream HTTP/1.1\r\nContent-Length: 1000\r\n\r\n0123456789");
    usleep(20000);
    shutdown(c->fd, SHUT_WR);
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_true(wait_atomic(&S.sink_aborts, 2, 1000));
    assert_int_equal(atomic_load(&S.sink_abort_status), 400);
    client_free(c);

    /* The client resets the connection mid-body while a chunk is being
     * written: on_abort(499). */
    c = client_new();
    client_send(c, "PUT /stream?async HTTP/1.1\r\nContent-Length: 300000\r\n\r\n");
    send_all(c, body, 100000);
    usleep(50000);
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close() sends RST, not FIN */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_free(c);
    assert_true(wait_atomic(&S.sink_aborts, 3, 1000));
    assert_int_equal(atomic_load(&S.sink_abort_status), 499);
    server_stop(); /* every sink closed its timer: nothing leaked */
}

static void test_stream_body_timeout(void **state) {
    (void)state;
    server_start(short_timeouts); /* 150 ms without body bytes */
    client_t *c = client_new();
    resp_t r;
    client_send(c, "PUT /stream HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
    /* Progress keeps it alive past the timeout... */
    for (int i = 0; i < 4; i++) {
        usleep(80000);
        client_send(c, "0123456789");
    }
    /* ... silence does not. */
    uint64_t t0 = uv_hrtime();
    assert_int_equal(client_read(c, &r), 0);
    assert_int_equal(r.status, 408);
    assert_true(uv_hrtime() - t0 >= 100 * 1000000ull);
    assert_int_equal(atomic_load(&S.sink_abort_status), 408);
    assert_true(client_eof(c));
    client_free(c);
    server_stop();
}

/* Reads a response head and then exactly n body bytes, checking the
 * download pattern; returns the head's status. */
static int read_download(client_t *c, uint64_t n, char *head, size_t cap) {
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) assert_true(client_fill(c) > 0);
    size_t hl = (size_t)(end - c->buf) + 4;
    assert_true(hl < cap);
    memcpy(head, c->buf, hl);
    head[hl] = '\0';
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    uint64_t got = 0;
    while (got < n) {
        if (c->len == 0) assert_true(client_fill(c) > 0);
        size_t take = c->len < n - got ? c->len : (size_t)(n - got);
        for (size_t i = 0; i < take; i++) assert_int_equal((unsigned char)c->buf[i], (got + i) % 251);
        memmove(c->buf, c->buf + take, c->len - take);
        c->len -= take;
        got += take;
    }
    return atoi(head + 9);
}

static void test_stream_response(void **state) {
    (void)state;
    server_start(NULL);
    char head[1024];
    resp_t r;
    client_t *c = client_new();
    /* 5 MB, then a pipelined request that must come after all of it. */
    client_send(c, "GET /download?n=5000000&async HTTP/1.1\r\n\r\nGET /inspect/7 HTTP/1.1\r\n\r\n");
    assert_int_equal(read_download(c, 5000000, head, sizeof head), 200);
    assert_non_null(strstr(head, "Content-Length: 5000000\r\n"));
    assert_non_null(strstr(head, "X-Stream: 1\r\n"));
    assert_int_equal(client_read(c, &r), 0);
    assert_non_null(strstr(r.body, "path=/inspect/7"));
    assert_true(wait_atomic(&S.src_done, 1, 1000));
    assert_int_equal(atomic_load(&S.src_done_status), 0);
    /* Synchronous producer on the same connection. */
    client_send(c, "GET /download?n=100001 HTTP/1.1\r\n\r\n");
    assert_int_equal(read_download(c, 100001, head, sizeof head), 200);
    /* HEAD and empty bodies: headers only, the source is done at once. */
    client_send(c, "HEAD /download?n=5000 HTTP/1.1\r\n\r\n");
    assert_int_equal(read_download(c, 0, head, sizeof head), 200);
    assert_non_null(strstr(head, "Content-Length: 5000\r\n"));
    client_send(c, "GET /download?n=0 HTTP/1.1\r\n\r\n");
    assert_int_equal(read_download(c, 0, head, sizeof head), 200);
    assert_non_null(strstr(head, "Content-Length: 0\r\n"));
    assert_true(wait_atomic(&S.src_done, 4, 1000));
    assert_int_equal(atomic_load(&S.src_done_status), 0);
    client_free(c);

    /* A client that stops reading holds one chunk here, not the file; when
     * it goes away the source hears so. */
    c = client_new();
    int rcvbuf = 16 * 1024;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    client_send(c, "GET /download?n=200000000 HTTP/1.1\r\n\r\n");
    usleep(200000);
    assert_int_equal(atomic_load(&S.src_done), 4);
    client_free(c);
    assert_true(wait_atomic(&S.src_done, 5, 1000));
    assert_true(atomic_load(&S.src_done_status) < 0);
    server_stop();
}

/* GW_STREAM_UNBOUNDED: no Content-Length, Connection: close, the body is
 * what the source wrote before gw_stream_end, and the connection then ends
 * (later pipelined requests are not read). */
static void test_stream_response_unbounded(void **state) {
    (void)state;
    server_start(NULL);
    char head[1024];
    const uint64_t sizes[] = {300000, 8192, 1};
    for (int async = 0; async < 2; async++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            client_t *c = client_new();
            char req[256];
            snprintf(req, sizeof req, "GET /download?n=%llu&unbounded%s HTTP/1.1\r\n\r\nGET /inspect/1 HTTP/1.1\r\n\r\n",
                     (unsigned long long)sizes[k], async ? "&async" : "");
            client_send(c, req);
            assert_int_equal(read_download(c, sizes[k], head, sizeof head), 200);
            assert_null(strstr(head, "Content-Length"));
            assert_non_null(strstr(head, "Connection: close\r\n"));
            /* Nothing after the body: not even the pipelined request's answer. */
            ssize_t got;
            while ((got = client_fill(c)) > 0) {}
            assert_int_equal(got, 0); /* the server closed it (not a receive timeout) */
            assert_int_equal(c->len, 0);
            client_free(c);
        }
    }
    assert_true(wait_atomic(&S.src_done, 6, 1000));
    assert_int_equal(atomic_load(&S.src_done_status), 0);
    server_stop();
}

/* After a failed assertion the test body is gone but its server thread is
 * not: stop it so the next test starts clean. */
static int teardown(void **state) {
    (void)state;
    if (S.running) {
        uv_async_send(&S.stop);
        uv_thread_join(&S.thread);
        S.running = 0;
    }
    return 0;
}

#define T(name) cmocka_unit_test_teardown(name, teardown)

int main(void) {
    /* Request lines only at error level: the test output stays readable. */
    sms_log_init("test_http", SMS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        T(test_request_api),  T(test_errors),          T(test_auth),     T(test_auth_unit),
        T(test_pipelining),   T(test_timeouts),        T(test_backpressure),
        T(test_max_connections), T(test_shutdown),     T(test_shutdown_gives_up),
        T(test_stream_body),  T(test_stream_body_timeout), T(test_stream_response),
        T(test_stream_response_unbounded), T(test_json_depth), T(test_json_depth_huge),
        T(test_idempotency_key_answers), T(test_parser_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
