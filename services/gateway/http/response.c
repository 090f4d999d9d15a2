/* response.c - answering requests: formats the status line, headers and body
 * into the request's buffer, logs the request once, and writes answers to the
 * socket strictly in request order (uv_try_write first, uv_write for the
 * rest). Streamed answers (gw_respond_stream) send their head the same way,
 * then their body chunk by chunk from a source, one uv_write at a time.
 * Handlers call gw_respond*; conn.c uses it for the server's own errors. */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "http_internal.h"
#include "log.h"

static void put(sms_buf_t *b, const char *s, size_t n) {
    memcpy(b->data + b->len, s, n); /* room reserved by format_response */
    b->len += n;
}

static void put_str(sms_buf_t *b, const char *s) { put(b, s, strlen(s)); }

static void put_uint(sms_buf_t *b, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(b, tmp + i, sizeof tmp - i);
}

static int status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

/* streamed: Content-Length is len, but the body is not in body: it follows. */
static void format_response(gw_request_t *req, int status, const char *ctype, const char *body, size_t len,
                            const char *extra, int streamed) {
    sms_buf_t *o = &req->out;
    const char *reason = sms_http_reason(status);
    const char *date = gw__server_date_line(req->srv);
    int has_body = status_has_body(status);
    int send_body = has_body && !req->is_head && !streamed;
    const char *key = gw__req_answer_key(req);
    char hooked[GW_HOOK_HEADERS_MAX];
    size_t n_hooked = 0;
    if (req->srv->hooks.headers && req->has_head)
        n_hooked = req->srv->hooks.headers(req->srv->hooks.ctx, req, status, extra, hooked, sizeof hooked);
    if (n_hooked > sizeof hooked) n_hooked = 0; /* a hook bug: add nothing rather than overrun */
    size_t need = n_hooked + req->added_len + 160 + strlen(reason) + strlen(date) + strlen(req->id) + (ctype ? strlen(ctype) : 0) +
                  (extra ? strlen(extra) : 0) + (key ? 19 + strlen(key) : 0) + (send_body ? len : 0);
    sms_buf_reset(o);
    sms_buf_reserve(o, need);
    put(o, "HTTP/1.1 ", 9);
    put_uint(o, (uint64_t)status);
    put(o, " ", 1);
    put_str(o, reason);
    put(o, "\r\n", 2);
    if (ctype) {
        put(o, "Content-Type: ", 14);
        put_str(o, ctype);
        put(o, "\r\n", 2);
    }
    if (has_body && !(streamed && len == (size_t)GW_STREAM_UNBOUNDED)) {
        put(o, "Content-Length: ", 16);
        put_uint(o, len);
        put(o, "\r\n", 2);
    }
    put(o, "X-Request-Id: ", 14);
    put_str(o, req->id);
    put(o, "\r\n", 2);
    if (key) { /* visible ASCII only (gw_req_idempotency_key): safe in a header */
        put(o, "Idempotency-Key: ", 17);
        put_str(o, key);
        put(o, "\r\n", 2);
    }
    put_str(o, date);
    if (req->close_after) put(o, "Connection: close\r\n", 19);
    else if (req->http10) put(o, "Connection: keep-alive\r\n", 24);
    if (extra) put_str(o, extra);
    if (n_hooked) put(o, hooked, n_hooked);
    if (req->added_len) put(o, req->added, req->added_len);
    put(o, "\r\n", 2);
    if (send_body && len) put(o, body, len);
    o->data[o->len] = '\0';
}

static void log_request(const gw_request_t *req, uint64_t latency_us) {
    if (req->no_log) return;
    sms_log_request_t line = {
        .user_id = gw_req_user(req),
        .method = req->method,
        .endpoint = req->has_head && req->path_len ? gw_req_path(req) : "-",
        .request_id = req->id,
        .status = req->status,
        .latency_ms = (double)latency_us / 1000.0,
    };
    sms_log_request(&line);
}

void gw__stream_src_done(gw_request_t *req, int status) {
    const gw_body_source_t *src = req->src;
    if (src == NULL) return;
    req->src = NULL;
    src->on_done(req->src_ctx, status);
}

/* gw_respond, and the head of gw_respond_stream (streamed: len is the
 * Content-Length of a body that req->src produces). */
static void respond(gw_request_t *req, int status, const char *content_type, const char *body, size_t len,
                    const char *extra_headers, int streamed) {
    if (req->state != GW_REQ_HANDLING) {
        /* Answering twice is a handler bug; the first answer stands. */
        sms_log(SMS_LOG_ERROR, "respond_twice", "request %s answered again with %d", req->id, status);
        gw__stream_src_done(req, -EINVAL);
        return;
    }
    gw_server_t *srv = req->srv;
    gw_conn_t *c = req->conn;
    if (status < 100 || status > 599) status = 500;
    srv->n_inflight--;
    req->status = status;
    gw__req_ensure_id(req);
    uint64_t latency_us = sms_mono_us() - req->start_us; /* one clock read for the log line and the histogram */
    log_request(req, latency_us);
    gw__metrics_observe(req, latency_us);
    if (c == NULL) { /* the client went away: nobody to write to */
        gw__stream_src_done(req, -ECONNRESET);
        gw__req_release(req);
        return;
    }
    c->n_handling--;
    if (req->unsafe) c->n_unsafe_handling--;
    req->state = GW_REQ_READY;
    if (c->closing) { /* the close callback frees it */
        gw__stream_src_done(req, -ECONNRESET);
        return;
    }
    /* Answered before its streaming body ended: no more of it is read. */
    if (c->in_stream == req) gw__conn_stream_detach(c);
    /* The last request of a connection that takes no more says so. */
    if (!req->keep_alive || ((c->stop_parsing || srv->draining) && req == c->q_tail && c->cur == NULL))
        req->close_after = 1;
    format_response(req, status, content_type, body, (streamed || body) ? len : 0, extra_headers, streamed);
    c->queued_bytes += req->out.len;
    if (req == c->q_head) gw__conn_flush(c);
    else gw__conn_update(c); /* the queue grew: maybe over the output limit now */
}

void gw_respond(gw_request_t *req, int status, const char *content_type, const char *body, size_t len,
                const char *extra_headers) {
    respond(req, status, content_type, body, len, extra_headers, 0);
}

void gw_respond_stream(gw_request_t *req, int status, const char *content_type, uint64_t length,
                       const char *extra_headers, const gw_body_source_t *src, void *ctx) {
    if (req->state != GW_REQ_HANDLING) { /* a handler bug: leave req alone */
        sms_log(SMS_LOG_ERROR, "respond_twice", "request %s answered again with %d", req->id, status);
        src->on_done(ctx, -EINVAL);
        return;
    }
    req->src = src;
    req->src_ctx = ctx;
    req->out_len = length;
    req->out_sent = 0;
    /* Without a length only the end of the connection ends the body. */
    if (length == GW_STREAM_UNBOUNDED) req->keep_alive = 0;
    /* Nothing to stream: the source is done before it started. */
    if (req->is_head || length == 0 || !status_has_body(status)) gw__stream_src_done(req, 0);
    respond(req, status, content_type, NULL, (size_t)length, extra_headers, 1);
}

void gw_respond_problem_h(gw_request_t *req, int status, const char *code, const char *detail,
                          const sms_problem_error_t *errors, size_t n_errors, const char *extra_headers) {
    sms_buf_t b;
    sms_buf_init(&b);
    gw__req_ensure_id(req);
    sms_problem_render(&b, &(sms_problem_t){.status = status,
                                            .code = code,
                                            .detail = detail,
                                            .errors = errors,
                                            .n_errors = n_errors,
                                            .request_id = req->id,
                                            .idempotency_key = gw__req_answer_key(req)});
    gw_respond(req, status, "application/problem+json", b.data, b.len, extra_headers);
    sms_buf_close(&b);
}

void gw_respond_problem(gw_request_t *req, int status, const char *code, const char *detail,
                        const sms_problem_error_t *errors, size_t n_errors) {
    gw_respond_problem_h(req, status, code, detail, errors, n_errors, NULL);
}

static void on_write(uv_write_t *w, int status) {
    gw_request_t *req = w->data;
    gw_conn_t *c = req->conn;
    gw__req_release(req);
    c->n_writing--;
    if (c->closing) return;
    if (status < 0) {
        gw__conn_close(c);
        return;
    }
    if (!c->shutting) c->timer_mode = GW_TIMER_NONE; /* progress: the idle clock starts again */
    gw__conn_update(c);
}

/* Hands one formatted response to the socket. Returns 0 (req now belongs to
 * the write, or was written and released) or a libuv error (req released). */
static int write_one(gw_conn_t *c, gw_request_t *req) {
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    uv_buf_t b = uv_buf_init(req->out.data, (unsigned)req->out.len);
    if (c->n_writing == 0) {
        int n = uv_try_write(s, &b, 1);
        if (n == (int)b.len) {
            gw__req_release(req);
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN) {
            gw__req_release(req);
            return n;
        }
        if (n > 0) {
            b.base += n;
            b.len -= (size_t)n;
        }
    }
    req->state = GW_REQ_WRITING;
    req->wreq.data = req;
    int rc = uv_write(&req->wreq, s, &b, 1, on_write);
    if (rc != 0) {
        gw__req_release(req);
        return rc;
    }
    c->n_writing++;
    return 0;
}

/* ---- streamed bodies ---- */

/* Every byte of req's body is on the socket. */
static void stream_finish(gw_conn_t *c, gw_request_t *req) {
    c->out_stream = NULL;
    gw__stream_src_done(req, 0);
    gw__req_release(req);
    gw__conn_flush(c); /* the answers queued behind it (or the close of an unbounded one) */
}

static void on_stream_write(uv_write_t *w, int status) {
    gw_request_t *req = w->data;
    gw_conn_t *c = req->conn;
    c->n_writing--;
    req->out_writing = 0;
    if (c->closing) return; /* gw__conn_close told the source; on_close frees req */
    if (status < 0) {
        gw__conn_close(c);
        return;
    }
    if (!c->shutting) c->timer_mode = GW_TIMER_NONE; /* progress: the idle clock starts again */
    if (req->out_sent == req->out_len) {
        stream_finish(c, req);
        return;
    }
    req->src->on_ready(req, req->src_ctx);
    gw__conn_update(c);
}

/* The head of a streamed answer goes out; the body follows from on_ready.
 * Returns 0 or a libuv error (the source is told, req released). */
static int stream_begin(gw_conn_t *c, gw_request_t *req) {
    uv_buf_t b = uv_buf_init(req->out.data, (unsigned)req->out.len);
    req->state = GW_REQ_STREAMING;
    req->wreq.data = req;
    int rc = uv_write(&req->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_stream_write);
    if (rc != 0) {
        gw__stream_src_done(req, rc);
        gw__req_release(req);
        return rc;
    }
    c->n_writing++;
    req->out_writing = 1;
    c->out_stream = req;
    return 0;
}

int gw_stream_write(gw_request_t *req, const char *data, size_t len) {
    gw_conn_t *c = req->conn;
    if (req->src == NULL || c == NULL || c->closing || c->out_stream != req) return -ECONNRESET;
    if (req->out_writing) return -EBUSY; /* one chunk at a time: wait for on_ready */
    if (len == 0 || len > req->out_len - req->out_sent || len > UINT32_MAX) return -EINVAL;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    req->wreq.data = req;
    int rc = uv_write(&req->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_stream_write);
    if (rc != 0) return rc;
    c->n_writing++;
    req->out_writing = 1;
    req->out_sent += len;
    return 0;
}

void gw_stream_end(gw_request_t *req) {
    gw_conn_t *c = req->conn;
    if (req->src == NULL || c == NULL || c->closing || c->out_stream != req) return; /* over already */
    req->out_len = req->out_sent; /* on_stream_write finishes it, if a chunk is in flight */
    if (!req->out_writing) stream_finish(c, req);
}

void gw_stream_abort(gw_request_t *req) {
    gw_conn_t *c = req->conn;
    gw__stream_src_done(req, -EIO);
    /* Fewer bytes than Content-Length promised: only closing says so. */
    if (c && c->out_stream == req) gw__conn_close(c);
}

void gw__conn_flush(gw_conn_t *c) {
    gw_request_t *req;
    while (c->out_stream == NULL && (req = c->q_head) != NULL && req->state == GW_REQ_READY) {
        c->q_head = req->next;
        if (c->q_head == NULL) c->q_tail = NULL;
        req->next = NULL;
        c->n_queued--;
        c->queued_bytes -= req->out.len;
        c->queued_in_bytes -= req->in_bytes;
        if (c->closing || c->shutting) {
            gw__stream_src_done(req, -ECONNRESET);
            gw__req_release(req);
            continue;
        }
        int close_after = req->close_after;
        int rc = req->src ? stream_begin(c, req) : write_one(c, req);
        if (rc != 0) {
            gw__conn_close(c);
            continue;
        }
        if (close_after) c->stop_parsing = 1;
    }
    gw__conn_update(c);
}
