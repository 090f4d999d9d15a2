/* conn.c - one client connection: reading, parsing with llhttp (strict: no lenient flags),
 * dispatching each request (router, auth, content type, JSON depth, handler), streaming
 * request bodies to a handler's sink, timeouts, backpressure and the close
 * sequence.
 *
 * http.c starts connections (gw__conn_start) and drains them on shutdown;
 * response.c writes answers and calls gw__conn_update after each change. The
 * parser is paused (HPE_PAUSED from a callback) after every request so that
 * dispatch, backpressure checks and handlers never run inside a parser callback. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "auth.h"
#include "http_internal.h"
#include "json_msgpack.h"
#include "log.h"

#define LINGER_MAX_BYTES (256 * 1024) /* discarded while lingering before we stop waiting */

static void on_timer(uv_timer_t *t);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void stream_step(gw_conn_t *c);

static int over_limits(const gw_conn_t *c) {
    if (c->n_queued >= GW_HTTP_MAX_PIPELINE) return 1;
    /* Pipelined requests each hold their body until answered: bound the sum
     * (SMS_PIPELINE_MAX_BYTES; 0 in a hand-built config: unbounded). */
    int max_in = c->srv->cfg->pipeline_max_bytes;
    if (max_in > 0 && c->queued_in_bytes > (size_t)max_in) return 1;
    size_t unsent = c->queued_bytes + uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    return unsent > GW_HTTP_MAX_PENDING_OUTPUT;
}

/* Forces the next gw__conn_update to re-arm the timer from now. */
static void timer_touch(gw_conn_t *c) {
    if (!c->lingering) c->timer_mode = GW_TIMER_NONE;
}

/* Appends req to the queue as HANDLING: from here it counts as in flight
 * until gw_respond. */
static void enqueue(gw_conn_t *c, gw_request_t *req) {
    req->state = GW_REQ_HANDLING;
    req->next = NULL;
    if (c->q_tail) c->q_tail->next = req;
    else c->q_head = req;
    c->q_tail = req;
    req->in_bytes = req->len;
    c->queued_in_bytes += req->in_bytes;
    c->n_queued++;
    c->n_handling++;
    c->srv->n_inflight++;
}

/* ---- llhttp callbacks ---- */

/* The head's bytes count against header_limit as received, up to `to` in the
 * buffer being parsed: everything since the last count (c->head_mark), so
 * blanks llhttp skips without a callback (after a colon, between tokens) count
 * as well as the spans. conn_process counts the rest of each buffer. */
static int count_head_to(gw_conn_t *c, const char *to) {
    gw_request_t *req = c->cur;
    if (c->head_mark == NULL) c->head_mark = to; /* nothing before the method's first byte */
    req->head_bytes += (uint32_t)(to - c->head_mark);
    c->head_mark = to;
    if (req->head_bytes > (uint32_t)c->srv->cfg->header_limit) {
        c->err_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p) {
    gw_conn_t *c = p->data;
    c->cur = gw__req_new(c->srv, c);
    c->head_mark = NULL; /* set by the first span: the method */
    c->n_requests++;
    c->req_deadline = uv_now(c->srv->loop) + (uint64_t)c->srv->cfg->header_timeout_ms;
    timer_touch(c);
    return 0;
}

/* The method and the version: counted, not kept (llhttp has them as numbers). */
static int on_head_span(llhttp_t *p, const char *at, size_t len) { return count_head_to(p->data, at + len); }

static int on_url(llhttp_t *p, const char *at, size_t len) {
    gw_conn_t *c = p->data;
    if (count_head_to(c, at + len) != 0) return -1;
    gw__req_append(c->cur, at, len);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
    gw_conn_t *c = p->data;
    gw_request_t *req = c->cur;
    if (req->piece != GW_PIECE_FIELD) {
        if (req->n_hdrs >= GW_HTTP_MAX_HEADERS) {
            c->err_status = 431;
            return -1;
        }
        gw__req_piece(req, GW_PIECE_FIELD);
    }
    if (count_head_to(c, at + len) != 0) return -1;
    gw__req_append(req, at, len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    gw_conn_t *c = p->data;
    gw_request_t *req = c->cur;
    if (req->piece != GW_PIECE_VALUE) gw__req_piece(req, GW_PIECE_VALUE);
    if (count_head_to(c, at + len) != 0) return -1;
    gw__req_append(req, at, len);
    return 0;
}

/* An empty value ("X:\r\n") may come without any on_header_value: the
 * header still gets its (empty) value, and the next field starts afresh. */
static int on_header_value_complete(llhttp_t *p) {
    gw_conn_t *c = p->data;
    if (c->cur->piece != GW_PIECE_VALUE) gw__req_piece(c->cur, GW_PIECE_VALUE);
    return 0;
}

/* Answers "Expect: 100-continue" when nothing else is due on the connection
 * first (an interim response must not overtake earlier final ones). */
static void on_write_continue(uv_write_t *w, int status) {
    gw_conn_t *c = w->data;
    (void)status; /* a failed write shows up again on the final response */
    sms_free(w);
    c->n_writing--;
    if (!c->closing) gw__conn_update(c);
}

static void maybe_continue(gw_conn_t *c, gw_request_t *req, const llhttp_t *p) {
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const char *expect = gw_req_header(req, "Expect");
    if (expect == NULL || strcasecmp(expect, "100-continue") != 0) return;
    /* A streaming request asks from the queue, where it may be the head. */
    if (p->http_major != 1 || p->http_minor == 0 || (c->q_head != NULL && c->q_head != req) || c->n_writing != 0 ||
        c->out_stream != NULL)
        return;
    uv_buf_t b = uv_buf_init((char *)msg, sizeof msg - 1);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n <= 0 || n == (int)b.len) return; /* not sent at all: the client sends the body after its own wait */
    /* Partly sent: the rest must go out before anything else. */
    b.base += n;
    b.len -= (size_t)n;
    uv_write_t *w = sms_malloc(sizeof *w);
    w->data = c;
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write_continue) != 0) {
        sms_free(w);
        gw__conn_close(c);
        return;
    }
    c->n_writing++;
}

static int on_headers_complete(llhttp_t *p) {
    gw_conn_t *c = p->data;
    gw_request_t *req = c->cur;
    c->head_mark = NULL; /* the head is over: nothing more counts against header_limit */
    gw__req_piece(req, GW_PIECE_DONE);
    int status = gw__req_head_done(req, p);
    if (status != 0) {
        c->err_status = status;
        return -1;
    }
    gw__req_route(req, c->srv->router);
    if (p->flags & F_CONTENT_LENGTH) req->content_length = (int64_t)p->content_length;
    if (req->route && (req->route->flags & GW_ROUTE_STREAM_BODY)) {
        /* Its handler must see the head before any body byte is parsed:
         * stop here, conn_process dispatches it (stream_step). */
        req->keep_alive = llhttp_should_keep_alive(p) != 0;
        req->stream = GW_STREAM_HELD;
        c->in_stream = req;
        c->stream_bytes = 0;
        c->stream_busy = c->stream_ended = 0;
        sms_buf_reset(&c->stage);
        return HPE_PAUSED;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > (uint64_t)c->srv->cfg->body_limit) {
        c->err_status = 413; /* refused on the header alone: the body is never read */
        return -1;
    }
    /* The body gets its own header_timeout_ms from the end of the head. */
    c->req_deadline = uv_now(c->srv->loop) + (uint64_t)c->srv->cfg->header_timeout_ms;
    timer_touch(c);
    maybe_continue(c, req, p);
    return 0;
}

/* When a streaming body's next bytes are due: header_timeout_ms from now,
 * but never later than the whole body's deadline, if it has one. */
static uint64_t body_deadline(const gw_conn_t *c, const gw_request_t *req) {
    uint64_t d = uv_now(c->srv->loop) + (uint64_t)c->srv->cfg->header_timeout_ms;
    return req->stream_deadline && req->stream_deadline < d ? req->stream_deadline : d;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    gw_conn_t *c = p->data;
    gw_request_t *req = c->cur;
    if (req->stream) { /* GW_STREAM_OPEN: parsing waits for the sink otherwise */
        if (req->stream_max && c->stream_bytes + len > req->stream_max) {
            c->err_status = 413;
            return -1;
        }
        c->stream_bytes += len;
        sms_buf_append(&c->stage, at, len); /* at most one read's worth: the sink gets it after this execute */
        /* Progress: the next bytes get header_timeout_ms again (never past the whole body's deadline). */
        c->req_deadline = body_deadline(c, req);
        timer_touch(c);
        return 0;
    }
    if ((uint64_t)req->body_len + len > (uint64_t)c->srv->cfg->body_limit) {
        c->err_status = 413; /* a chunked body growing past the limit */
        return -1;
    }
    gw__req_append(req, at, len);
    req->body_len += (uint32_t)len;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    gw_conn_t *c = p->data;
    gw_request_t *req = c->cur;
    if (req->stream) { /* dispatched long ago: on_end is due once the sink has every byte */
        c->stream_ended = 1;
        c->cur = NULL;
        return HPE_PAUSED;
    }
    gw__req_append(req, "", 1); /* NUL after the body, not counted */
    req->keep_alive = llhttp_should_keep_alive(p) != 0;
    c->complete = req;
    c->cur = NULL;
    return HPE_PAUSED; /* back to conn_process before the next request */
}

/* No lenient flag is ever set: llhttp's strict defaults (CRLF line ends, no
 * Content-Length with Transfer-Encoding, no data after Connection: close...). */
const llhttp_settings_t gw__parser_settings = {
    .on_message_begin = on_message_begin,
    .on_method = on_head_span,
    .on_url = on_url,
    .on_version = on_head_span,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- dispatch ---- */

/* application/json or application/<x>+json, optional parameters; a charset
 * parameter, if any, must be utf-8. */
static int is_json(const char *ct) {
    if (ct == NULL) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    int ok = (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
             (n > 17 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + n - 5, "+json", 5) == 0);
    if (!ok || semi == NULL) return ok;
    const char *cs = strcasestr(semi, "charset=");
    if (cs == NULL) return 1;
    cs += 8;
    if (*cs == '"') cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 && (cs[5] == '\0' || cs[5] == '"' || cs[5] == ';' || cs[5] == ' ');
}

static int is_safe(const char *method) {
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "OPTIONS") == 0;
}

/* RFC 9112 9.3.2: pipelined requests may run in parallel only if all are
 * safe. A write waits for everything before it, and everything after a write
 * waits for it, so a pipelined GET sees the POST sent before it. */
static int must_wait(const gw_conn_t *c, const gw_request_t *req) {
    return c->n_handling > 0 && (!is_safe(req->method) || c->n_unsafe_handling > 0);
}

/* A JSON body nested deeper than the bus carries (SMS_JSON_MAX_DEPTH) is
 * answered 400 here, before any parser builds it: a service could not
 * unpack its command, and cJSON itself would recurse up to its own 1000. */
static int json_too_deep(gw_request_t *req) {
    size_t len;
    const char *body = gw_req_body(req, &len);
    char path[160], message[96];
    if (!sms_json_text_too_deep(body, len, SMS_JSON_MAX_DEPTH, path, sizeof path)) return 0;
    snprintf(message, sizeof message, "is nested more than %d arrays or objects deep (the limit)", SMS_JSON_MAX_DEPTH);
    sms_problem_error_t e = {path, message};
    gw_respond_problem(req, 400, "validation", "the body is nested too deeply", &e, 1);
    return 1;
}

/* Hands a request to its handler (or answers it: 503 draining, 404, 405,
 * 401/403, 415). A streaming request comes here with its head only; an
 * answer before it chose a sink detaches the stream (response.c). */
static void dispatch(gw_conn_t *c, gw_request_t *req) {
    gw_server_t *srv = c->srv;
    enqueue(c, req);
    if (!is_safe(req->method)) {
        req->unsafe = 1;
        c->n_unsafe_handling++;
    }
    /* A streaming request's body is still to come: its end decides (stream_step). */
    if (!req->stream && (!req->keep_alive || c->parser.upgrade)) c->stop_parsing = 1;
    if (srv->draining) {
        c->stop_parsing = 1;
        gw_respond_problem_h(req, 503, "unavailable", "The server is shutting down.", NULL, 0, "Retry-After: 1\r\n");
        return;
    }
    if (srv->hooks.preroute && srv->hooks.preroute(srv->hooks.ctx, req)) return;
    if (req->route_status == 404) {
        gw_respond_problem(req, 404, "not_found", "No such route.", NULL, 0);
        return;
    }
    if (req->route_status == 405) {
        char allow[96];
        memcpy(allow, "Allow: ", 7);
        size_t n = strnlen(req->allow, sizeof req->allow - 1);
        memcpy(allow + 7, req->allow, n);
        memcpy(allow + 7 + n, "\r\n", 3);
        gw_respond_problem_h(req, 405, "method_not_allowed", "The path does not support this method.", NULL, 0,
                             allow);
        return;
    }
    const gw_route_t *route = req->route;
    if (route->flags & GW_ROUTE_AUTH) {
        sms_token_claims_t claims;
        gw_auth_failure_t fail;
        if (gw_auth_check(srv->auth_cache, gw_req_header(req, "Authorization"), srv->cfg->jwt_secret,
                          (int64_t)time(NULL), route->roles, &claims, &fail) != 0) {
            if (fail.status == 403) gw__req_set_user(req, claims.sub, claims.role); /* known, for the log */
            gw_respond_problem_h(req, fail.status, fail.code, fail.detail, NULL, 0, fail.www_authenticate);
            return;
        }
        gw__req_set_user(req, claims.sub, claims.role);
        req->token_exp = claims.exp;
    }
    if (srv->hooks.admit && srv->hooks.admit(srv->hooks.ctx, req)) return;
    if ((route->flags & GW_ROUTE_JSON_BODY) && !req->stream && req->body_len > 0 &&
        !is_json(gw_req_header(req, "Content-Type"))) {
        gw_respond_problem(req, 415, "unsupported_media_type", "The body must be application/json.", NULL, 0);
        return;
    }
    if (!req->stream && req->body_len > 0 && is_json(gw_req_header(req, "Content-Type")) && json_too_deep(req))
        return;
    route->fn(req, route->data);
}

/* A request the server answers itself with an error that ends the connection
 * (400, 408, 413, 431, 503 over capacity). req may be a partial request. */
static void fail_request(gw_conn_t *c, gw_request_t *req, int status, const char *why) {
    const int limit_body = c->srv->cfg->body_limit, limit_head = c->srv->cfg->header_limit;
    char detail[128];
    const char *code = "bad_request";
    c->stop_parsing = 1;
    if (req == NULL) req = gw__req_new(c->srv, c);
    enqueue(c, req);
    req->close_after = 1;
    switch (status) {
    case 408:
        code = "request_timeout";
        snprintf(detail, sizeof detail, "The request did not arrive within %d ms.", c->srv->cfg->header_timeout_ms);
        break;
    case 413:
        code = "payload_too_large";
        snprintf(detail, sizeof detail, "The body is larger than %d bytes.", limit_body);
        break;
    case 431:
        code = "headers_too_large";
        snprintf(detail, sizeof detail, "The request line and headers exceed %d bytes or %d lines.", limit_head,
                 GW_HTTP_MAX_HEADERS);
        break;
    default:
        status = 400;
        snprintf(detail, sizeof detail, "Malformed HTTP request: %s.", why ? why : "unparsable");
        break;
    }
    gw_respond_problem(req, status, code, detail, NULL, 0);
}

/* ---- streaming request bodies ---- */

/* True while the parser must not run: the streaming request waits for
 * earlier requests or for its handler's sink, the sink has bytes, or the
 * body ended and on_end is still due. */
static int stream_blocked(const gw_conn_t *c) {
    const gw_request_t *s = c->in_stream;
    return s && (s->stream != GW_STREAM_OPEN || c->stream_busy || c->stream_ended || c->stage.len > 0);
}

/* The streaming request was dispatched (its handler owns the answer) and
 * its body is still arriving. */
static int stream_receiving(const gw_conn_t *c) {
    const gw_request_t *s = c->in_stream;
    return s && (s->stream == GW_STREAM_HANDLER || s->stream == GW_STREAM_OPEN) && !c->stream_ended;
}

static void stream_forget(gw_conn_t *c) {
    gw_request_t *req = c->in_stream;
    c->in_stream = NULL;
    if (c->cur == req) c->cur = NULL;
    c->stream_busy = c->stream_ended = 0;
    sms_buf_close(&c->stage); /* up to a read's worth: not pinned by idle connections */
    req->stream = GW_STREAM_DONE;
}

/* Takes the request being parsed away from the parser, for the caller to
 * release or answer: a plain partial request, or a streaming head that was
 * never dispatched. Dispatched streams go through stream_abort instead. */
static gw_request_t *cur_take(gw_conn_t *c) {
    gw_request_t *req = c->cur;
    c->cur = NULL;
    if (req && req == c->in_stream) {
        c->in_stream = NULL;
        sms_buf_close(&c->stage);
    }
    return req;
}

/* The dispatched streaming request's body will not complete. With a sink:
 * tell it and answer status (400, 408, 413, or 499 when the connection is
 * gone). Without one yet, its handler still owns the answer and learns of
 * the failure from gw_req_stream_body. No further requests are parsed. */
static void stream_abort(gw_conn_t *c, int status) {
    gw_request_t *req = c->in_stream;
    int had_sink = req->stream == GW_STREAM_OPEN;
    stream_forget(c);
    c->stop_parsing = 1;
    if (!had_sink) return;
    req->sink->on_abort(req, status, req->sink_ctx);
    char detail[128];
    const char *code = "bad_request";
    switch (status) {
    case 408:
        code = "request_timeout";
        if (req->stream_deadline && uv_now(c->srv->loop) >= req->stream_deadline)
            snprintf(detail, sizeof detail, "The body did not arrive in full within the time allowed for it.");
        else
            snprintf(detail, sizeof detail, "No body bytes arrived for %d ms.", c->srv->cfg->header_timeout_ms);
        break;
    case 413:
        code = "payload_too_large";
        snprintf(detail, sizeof detail, "The body is larger than %llu bytes.", (unsigned long long)req->stream_max);
        break;
    case 499:
        code = "client_closed_request";
        snprintf(detail, sizeof detail, "The connection closed before the body was complete.");
        break;
    default:
        snprintf(detail, sizeof detail, "The body is malformed or ended early.");
        break;
    }
    req->close_after = 1;
    gw_respond_problem(req, status, code, detail, NULL, 0);
}

/* Moves the streaming request on: dispatches its head once the requests
 * before it are done, hands staged body bytes to the sink, and after the
 * last of them calls on_end. Runs with c->processing set, never inside a
 * parser callback; the sink may resume or answer from within. */
static void stream_step(gw_conn_t *c) {
    gw_request_t *req;
    while ((req = c->in_stream) != NULL && !c->closing) {
        if (req->stream == GW_STREAM_HELD) {
            if (must_wait(c, req)) return;
            req->stream = GW_STREAM_HANDLER;
            dispatch(c, req);
            continue; /* it may have answered, or chosen a sink */
        }
        if (req->stream != GW_STREAM_OPEN || c->stream_busy) return;
        if (c->stage.len > 0) {
            c->stream_busy = 1;
            req->sink->on_data(req, c->stage.data, c->stage.len, req->sink_ctx);
            continue; /* resumed at once, busy, or answered (req may be gone) */
        }
        if (!c->stream_ended) return;
        stream_forget(c);
        if (!req->keep_alive) c->stop_parsing = 1;
        req->sink->on_end(req, req->sink_ctx);
        return;
    }
}

void gw__conn_stream_detach(gw_conn_t *c) {
    int complete = c->stream_ended;
    gw_request_t *req = c->in_stream;
    stream_forget(c);
    if (!complete) {
        /* The rest of the body is never read: this connection cannot carry
         * another request. */
        c->stop_parsing = 1;
        req->close_after = 1;
    } else if (!req->keep_alive) {
        c->stop_parsing = 1;
    }
}

int gw_req_stream_body(gw_request_t *req, const gw_body_sink_t *sink, void *ctx, uint64_t max_bytes) {
    gw_conn_t *c = req->conn;
    if (sink == NULL || req->stream != GW_STREAM_HANDLER || c == NULL || c->closing || c->in_stream != req) return -1;
    req->sink = sink;
    req->sink_ctx = ctx;
    req->stream_max = max_bytes;
    req->stream = GW_STREAM_OPEN;
    /* The body gets header_timeout_ms from now, again after every chunk. */
    c->req_deadline = body_deadline(c, req);
    timer_touch(c);
    maybe_continue(c, req, &c->parser);
    if (!c->processing && !c->closing) gw__conn_update(c);
    return 0;
}

void gw_req_stream_deadline(gw_request_t *req, uint64_t within_ms) {
    gw_conn_t *c = req->conn;
    if (c == NULL || c->in_stream != req) return;
    req->stream_deadline = within_ms ? uv_now(c->srv->loop) + within_ms : 0;
    if (req->stream == GW_STREAM_OPEN) {
        c->req_deadline = body_deadline(c, req);
        timer_touch(c);
        if (!c->processing && !c->closing) gw__conn_update(c);
    }
}

void gw_req_body_resume(gw_request_t *req) {
    gw_conn_t *c = req->conn;
    if (c == NULL || c->in_stream != req || !c->stream_busy) return;
    c->stream_busy = 0;
    sms_buf_reset(&c->stage);
    if (!c->processing && !c->closing) gw__conn_update(c);
}

static void keep_pending(gw_conn_t *c, const char *data, size_t len, int from_pending) {
    if (len == 0) {
        sms_free(c->pending);
        c->pending = NULL;
        c->pending_len = c->pending_cap = 0;
        return;
    }
    if (from_pending) {
        memmove(c->pending, data, len);
    } else {
        if (c->pending_cap < len) {
            sms_free(c->pending);
            c->pending = sms_malloc(len);
            c->pending_cap = len;
        }
        memcpy(c->pending, data, len);
    }
    c->pending_len = len;
}

/* Parses data, dispatching each complete request, until the data is used up,
 * the connection stops taking requests, or it is over its backpressure
 * limits (the rest is kept in c->pending and reading stops). */
static void conn_process(gw_conn_t *c, const char *data, size_t len, int from_pending) {
    c->processing = 1;
    while (len > 0 && !c->stop_parsing && !c->closing && !c->held && !stream_blocked(c) && !over_limits(c)) {
        /* Inside a head, its count goes on from this buffer's first byte. */
        c->head_mark = c->cur && c->cur->piece != GW_PIECE_DONE ? data : NULL;
        llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
        /* Paused or failed: llhttp stopped at error_pos (after the byte that completed the message). */
        size_t n = err == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (err == HPE_OK && c->head_mark && count_head_to(c, data + len) != 0) err = HPE_USER; /* the head goes on */
        data += n;
        len -= n;
        if (err == HPE_PAUSED_UPGRADE) {
            /* An upgrade (or CONNECT) was answered like any request (dispatch stops
             * parsing for it); what follows it is not HTTP for us to parse. */
            c->stop_parsing = 1;
            break;
        }
        if (err == HPE_PAUSED) {
            llhttp_resume(&c->parser);
            /* A streaming head that paused at the input's end: llhttp runs the
             * steps that take no byte (a body-less request's message end) only
             * inside an execute, so give it one now rather than on a read that
             * may never come. It parses nothing, so no body byte runs early. */
            if (len == 0 && c->complete == NULL && c->in_stream && !c->stream_ended &&
                llhttp_execute(&c->parser, data, 0) == HPE_PAUSED)
                llhttp_resume(&c->parser);
            gw_request_t *req = c->complete;
            c->complete = NULL;
            if (req && must_wait(c, req)) c->held = req; /* dispatched by gw__conn_update later */
            else if (req) dispatch(c, req);
            else stream_step(c); /* a streaming head, or the end of a streamed body */
            continue;
        }
        if (err != HPE_OK) {
            int status = c->err_status ? c->err_status : 400;
            if (stream_receiving(c)) {
                stream_abort(c, status);
                break;
            }
            gw_request_t *req = cur_take(c);
            /* A callback's own 400 is about the request target; otherwise
             * llhttp says what it could not parse. */
            fail_request(c, req, status, c->err_status ? "bad request target" : llhttp_get_error_reason(&c->parser));
            break;
        }
        if (c->in_stream) stream_step(c); /* the body bytes this read carried */
        if (n == 0) break; /* no progress without an error: never expected */
    }
    if (c->stop_parsing || c->closing) len = 0;
    keep_pending(c, data, len, from_pending);
    c->processing = 0;
    gw__conn_update(c);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    gw_conn_t *c = h->data;
    (void)suggested;
    buf->base = c->srv->read_buf;
    buf->len = sizeof c->srv->read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    gw_conn_t *c = s->data;
    if (nread == 0 || c->closing) return;
    if (c->lingering) {
        if (nread < 0) gw__conn_close(c);
        else if ((c->lingered += (size_t)nread) > LINGER_MAX_BYTES) gw__conn_close(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF) {
            gw__conn_close(c); /* reset: queued requests become abandoned */
            return;
        }
        /* Half-close: answer what was asked (printf ... | nc does this), then close. */
        c->eof = 1;
        (void)uv_read_stop(s); /* cannot fail for a TCP handle */
        c->reading = 0;
        if (stream_receiving(c)) {
            c->processing = 1; /* its answer must not re-enter gw__conn_update */
            stream_abort(c, 400);
            c->processing = 0;
        } else if (c->cur) {
            gw__req_release(cur_take(c));
        }
        gw__conn_update(c);
        return;
    }
    conn_process(c, buf->base, (size_t)nread, 0);
}

/* ---- timers ---- */

static void arm_timer(gw_conn_t *c) {
    gw_timer_mode_t mode;
    uint64_t now = uv_now(c->srv->loop), deadline = 0;
    const sms_config_t *cfg = c->srv->cfg;
    if (c->in_stream && c->in_stream->stream == GW_STREAM_OPEN && !stream_blocked(c)) {
        mode = GW_TIMER_HEAD; /* a streaming body waits on the client: req_deadline moves with every chunk */
        deadline = c->req_deadline;
    } else if (c->in_stream && c->in_stream->stream == GW_STREAM_OPEN && c->in_stream->stream_deadline &&
               !c->stream_ended) {
        mode = GW_TIMER_HEAD; /* a sink busy on its disk, but the whole body's deadline still binds */
        deadline = c->in_stream->stream_deadline;
    } else if (c->n_handling > 0) {
        mode = GW_TIMER_NONE; /* waiting on a handler (or a sink's disk) is never a timeout */
    } else if (c->cur) {
        mode = GW_TIMER_HEAD;
        deadline = c->req_deadline;
    } else {
        mode = GW_TIMER_IDLE;
        /* A fresh connection must send its first request as promptly as a
         * head; afterwards keep-alive idleness is allowed idle_timeout_ms. */
        deadline = now + (uint64_t)(c->n_requests == 0 ? cfg->header_timeout_ms : cfg->idle_timeout_ms);
    }
    if (mode == c->timer_mode && (mode != GW_TIMER_HEAD || deadline == c->timer_deadline)) return;
    c->timer_mode = mode;
    c->timer_deadline = deadline;
    if (mode == GW_TIMER_NONE) {
        (void)uv_timer_stop(&c->timer); /* always 0 */
        return;
    }
    (void)uv_timer_start(&c->timer, on_timer, deadline > now ? deadline - now : 0, 0); /* 0: cb is set */
}

static void on_timer(uv_timer_t *t) {
    gw_conn_t *c = t->data;
    if (c->closing) return;
    switch (c->timer_mode) {
    case GW_TIMER_HEAD: {
        c->timer_mode = GW_TIMER_NONE;
        if (stream_receiving(c)) {
            c->processing = 1;
            stream_abort(c, 408);
            c->processing = 0;
            gw__conn_update(c);
            break;
        }
        fail_request(c, cur_take(c), 408, NULL);
        break;
    }
    case GW_TIMER_IDLE:
    case GW_TIMER_LINGER:
        gw__conn_close(c);
        break;
    case GW_TIMER_NONE:
        break;
    }
}

/* ---- closing ---- */

static void on_close(uv_handle_t *h) {
    gw_conn_t *c = h->data;
    if (--c->handles_open > 0) return;
    /* A dispatched stream was aborted in gw__conn_close: cur is a partial
     * request or a streaming head that never reached its handler. */
    if (c->cur) gw__req_release(c->cur);
    if (c->complete) gw__req_release(c->complete);
    if (c->held) gw__req_release(c->held);
    while (c->q_head) {
        gw_request_t *req = c->q_head;
        c->q_head = req->next;
        req->next = NULL;
        if (req->state == GW_REQ_HANDLING) req->conn = NULL; /* its handler answers it later; then it is freed */
        else gw__req_release(req);
    }
    if (c->out_stream) gw__req_release(c->out_stream); /* its source was told in gw__conn_close */
    sms_buf_close(&c->stage);
    sms_free(c->pending);
    gw__server_conn_closed(c->srv, c);
    sms_free(c);
}

void gw__conn_close(gw_conn_t *c) {
    if (c->closing) return;
    c->closing = 1;
    c->reading = 0;
    /* Sinks and sources learn now, so their own I/O can wind down. Answers
     * given from here on are just logged and freed by on_close. */
    if (c->in_stream && c->in_stream->stream >= GW_STREAM_HANDLER) stream_abort(c, 499);
    if (c->out_stream) gw__stream_src_done(c->out_stream, -ECONNRESET);
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

void gw__conn_close_reset(gw_conn_t *c) {
    if (c->closing) return;
    c->closing = 1;
    c->reading = 0;
    if (uv_tcp_close_reset(&c->tcp, on_close) != 0) uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

const struct sockaddr_storage *gw_req_peer(const gw_request_t *req) {
    return req->conn ? &req->conn->peer : NULL;
}
const gw_route_t *gw_req_route(const gw_request_t *req) { return req->route; }
int64_t gw_req_token_exp(const gw_request_t *req) { return req->token_exp; }
const char *gw_req_allow(const gw_request_t *req) { return req->route_status == 405 ? req->allow : NULL; }

int gw_req_add_header_lines(gw_request_t *req, const char *lines) {
    size_t n = strlen(lines);
    if (n > sizeof req->added - 1 - req->added_len) return -1;
    memcpy(req->added + req->added_len, lines, n + 1);
    req->added_len = (uint16_t)(req->added_len + n);
    return 0;
}

static void on_shutdown(uv_shutdown_t *sr, int status) {
    gw_conn_t *c = sr->data;
    if (c->closing) return;
    if (status < 0 || c->eof) {
        gw__conn_close(c);
        return;
    }
    /* Lingering close: the client may still be sending (a refused body, a
     * pipelined request); closing now would make the kernel reset the
     * connection and could destroy our final response in flight. Read and
     * discard until its FIN, bounded in time and bytes. */
    c->lingering = 1;
    c->timer_mode = GW_TIMER_LINGER;
    (void)uv_timer_start(&c->timer, on_timer, GW_HTTP_LINGER_MS, 0); /* 0: cb is set */
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        gw__conn_close(c);
        return;
    }
    c->reading = 1;
}

static void conn_shutdown(gw_conn_t *c) {
    c->shutting = 1;
    if (c->reading) {
        (void)uv_read_stop((uv_stream_t *)&c->tcp); /* cannot fail for a TCP handle */
        c->reading = 0;
    }
    (void)uv_timer_stop(&c->timer); /* always 0 */
    c->timer_mode = GW_TIMER_NONE;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) gw__conn_close(c);
}

/* ---- state ---- */

void gw__conn_update(gw_conn_t *c) {
    if (c->processing || c->closing || c->shutting) return;
    if (c->held && !must_wait(c, c->held)) {
        gw_request_t *req = c->held;
        c->held = NULL;
        c->processing = 1; /* a handler answering at once must not re-enter here */
        dispatch(c, req);
        c->processing = 0;
        if (c->closing || c->shutting) return;
    }
    if (c->in_stream) {
        c->processing = 1; /* same for a sink resuming or answering at once */
        stream_step(c);
        c->processing = 0;
        if (c->closing || c->shutting) return;
    }
    if (c->pending_len && !c->stop_parsing && !c->held && !stream_blocked(c) && !over_limits(c)) {
        conn_process(c, c->pending, c->pending_len, 1); /* ends by calling us again */
        return;
    }
    if (c->stop_parsing || c->eof) {
        if (c->pending_len) keep_pending(c, NULL, 0, 0);
        if (stream_receiving(c)) {
            c->processing = 1;
            stream_abort(c, 400); /* a body that will never be read to its end */
            c->processing = 0;
            if (c->closing || c->shutting) return;
        } else if (c->cur) {
            gw__req_release(cur_take(c)); /* a request that will never be completed */
        }
    }
    if (c->n_queued == 0 && c->n_writing == 0 && c->out_stream == NULL) {
        if (c->eof) {
            gw__conn_close(c);
            return;
        }
        if (c->stop_parsing) {
            conn_shutdown(c);
            return;
        }
        if (c->srv->draining && c->cur == NULL) {
            gw__conn_close(c); /* idle while draining: nothing to finish */
            return;
        }
    }
    int want = !c->stop_parsing && !c->eof && c->pending_len == 0 && !c->held && !stream_blocked(c) && !over_limits(c);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            gw__conn_close(c);
            return;
        }
        c->reading = 1;
    } else if (!want && c->reading) {
        (void)uv_read_stop((uv_stream_t *)&c->tcp); /* cannot fail for a TCP handle */
        c->reading = 0;
    }
    arm_timer(c);
}

void gw__conn_drain(gw_conn_t *c) {
    if (c->closing || c->shutting) return;
    gw__conn_update(c);
}

void gw__conn_start(gw_server_t *srv, gw_conn_t *c) {
    llhttp_init(&c->parser, HTTP_REQUEST, &gw__parser_settings);
    c->parser.data = c;
    (void)uv_tcp_nodelay(&c->tcp, 1); /* best effort: responses are single writes anyway */
    if (c->rejected) {
        gw_request_t *req = gw__req_new(srv, c);
        req->no_log = 1;
        c->stop_parsing = 1;
        enqueue(c, req);
        req->close_after = 1;
        gw_respond_problem_h(req, 503, "unavailable", "Too many connections; try again later.", NULL, 0,
                             "Retry-After: 1\r\n");
        return;
    }
    gw__conn_update(c);
}
