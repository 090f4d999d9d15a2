/* http.h - the gateway's HTTP/1.1 server (libuv + http-parser) and the
 * request API its handlers see.
 *
 * main.c creates one server on the loop and runs it; the server parses
 * requests (keep-alive, pipelining, limits, timeouts), routes them through
 * router.h, checks bearer tokens (auth.h) and calls the route's handler,
 * which answers with gw_respond now or later from any loop callback.
 * Everything here runs on the loop thread only. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "metrics.h"
#include "problem.h"
#include "router.h"

/* ---- What a handler sees ------------------------------------------------
 * Every returned string is owned by the request, NUL-terminated, and valid
 * until gw_respond/gw_respond_problem is called on it. */

const char *gw_req_method(const gw_request_t *req);       /* "GET" ... */
const char *gw_req_path(const gw_request_t *req);         /* decoded path, no query */
const char *gw_req_param(const gw_request_t *req, const char *name);  /* path param, NULL if absent */
/* Query parameter value, percent-decoded (+ as space), NUL-terminated, NULL if absent. Repeated: first wins. */
const char *gw_req_query(const gw_request_t *req, const char *name);
const char *gw_req_header(const gw_request_t *req, const char *name); /* case-insensitive, NULL if absent */
/* Body bytes (*len set; "" and 0 when there is none); NUL-terminated after
 * len so a JSON parser may treat it as a string. Chunked bodies arrive here
 * de-chunked. */
const char *gw_req_body(const gw_request_t *req, size_t *len);
const char *gw_req_id(const gw_request_t *req);           /* X-Request-Id */
const char *gw_req_user(const gw_request_t *req);         /* JWT sub, NULL on public routes */
const char *gw_req_role(const gw_request_t *req);         /* JWT role, NULL on public routes */

/* Idempotency-Key: 1 to GW_IDEMPOTENCY_KEY_MAX visible ASCII characters. */
#define GW_IDEMPOTENCY_KEY_MAX 200
/* The client's Idempotency-Key header: 1 and *out when present and valid, 0
 * when absent, -1 when malformed (*out NULL in both). */
int gw_req_idempotency_key(const gw_request_t *req, const char **out);
/* Names the idempotency key of the command req sends (the client's, or one
 * the gateway generated; copied, must be valid as above, else ignored):
 * every answer to req then carries it in an Idempotency-Key header, and its
 * problem documents as `idempotency_key`. Without it, an answer to a write
 * (not GET/HEAD/OPTIONS) echoes the client's valid key, if it sent one. */
void gw_req_set_command_key(gw_request_t *req, const char *key);

/* Respond. May be called later from any callback on the loop thread, exactly once per request.
 * extra_headers: NULL or preformatted lines each ending "\r\n" (e.g. "Location: /x\r\n"). Body is copied.
 * content_type may be NULL (no Content-Type line, e.g. 204). The server adds
 * Content-Length (except on 1xx/204/304), X-Request-Id, Date and Connection.
 * If the client has gone away meanwhile, this just frees the request. After this call req is invalid. */
void gw_respond(gw_request_t *req, int status, const char *content_type, const char *body, size_t len,
                const char *extra_headers);
/* Convenience: problem+json response (uses sms_problem_json with the request id). */
void gw_respond_problem(gw_request_t *req, int status, const char *code, const char *detail,
                        const sms_problem_error_t *errors, size_t n_errors);
/* Same, with extra header lines as in gw_respond (e.g. "Retry-After: 1\r\n"). */
void gw_respond_problem_h(gw_request_t *req, int status, const char *code, const char *detail,
                          const sms_problem_error_t *errors, size_t n_errors, const char *extra_headers);
/* True if the client connection is gone (handler may skip work). */
int gw_req_abandoned(const gw_request_t *req);
/* True if abandoned, or if the client half-closed (sent FIN) after its
 * request: it will send nothing more. A request held open for the client's
 * sake (a long-poll) should then be answered now rather than at its end. */
int gw_req_client_closed(const gw_request_t *req);
/* Monotonic start time in µs (for latency): when the request's first byte was parsed. */
uint64_t gw_req_start_us(const gw_request_t *req);

/* ---- Streaming request bodies (routes with GW_ROUTE_STREAM_BODY) ---------
 * The handler of such a route runs as soon as the head has arrived (after
 * routing and auth, before any body byte is read); gw_req_body is "" and
 * SMS_BODY_LIMIT does not apply. Nothing of the body is read until the
 * handler calls gw_req_stream_body, now or later (after an async check).
 * It may instead answer at once (e.g. 403): the body is then never read and
 * the connection closes after the answer. Answering later, before on_end
 * (e.g. a disk error in on_data), likewise ends the stream: no further
 * callbacks, and the connection closes unless the body had fully arrived. */
typedef struct gw_body_sink_s {
    /* The next len (> 0) body bytes, de-chunked, at most
     * GW_HTTP_STREAM_CHUNK_MAX. data is valid during this call only: copy
     * it. No further body is read from the client until the sink calls
     * gw_req_body_resume(req) (typically from its disk write's callback), so
     * the sink holds at most one chunk and a slow disk slows the client. */
    void (*on_data)(gw_request_t *req, const char *data, size_t len, void *ctx);
    /* Every body byte went through on_data and was resumed. The handler now
     * answers with gw_respond*, at once or later. */
    void (*on_end)(gw_request_t *req, void *ctx);
    /* The body will not complete: 400 (malformed chunking, or the client
     * half-closed early), 408 (no body bytes for SMS_HEADER_TIMEOUT_MS), 413
     * (more than max_bytes) or 499 (the connection is gone). The server
     * answers req with that status right after this returns: do not touch
     * req again (not even to resume); release ctx once your own I/O is done. */
    void (*on_abort)(gw_request_t *req, int status, void *ctx);
} gw_body_sink_t;

#define GW_HTTP_STREAM_CHUNK_MAX (128 * 1024) /* largest on_data chunk */

/* Starts reading the body into sink (borrowed: make it static const) with
 * ctx. max_bytes > 0: a body longer than that is aborted with 413. Sends
 * "100 Continue" now if the client asked for it. Returns 0, or -1 if the
 * body can no longer arrive (the client went away, or req is not a
 * streaming request): then answer req yourself (gw_respond frees it). */
int gw_req_stream_body(gw_request_t *req, const gw_body_sink_t *sink, void *ctx, uint64_t max_bytes);
/* The whole body must have arrived within within_ms from now (0: no such
 * limit), however steadily its bytes trickle in: past it the stream is
 * aborted with 408 (on_abort), also while the sink is busy. Call it from the
 * handler, before or after gw_req_stream_body. */
void gw_req_stream_deadline(gw_request_t *req, uint64_t within_ms);
/* The sink is done with the last on_data bytes: read on. */
void gw_req_body_resume(gw_request_t *req);
/* The request's Content-Length, or -1 without one (chunked, or no body). */
int64_t gw_req_content_length(const gw_request_t *req);

/* ---- Streaming response bodies -------------------------------------------
 * For bodies too large to hold in memory (file downloads): the head goes out
 * with Content-Length, then the source hands the body over chunk by chunk,
 * one chunk in flight at a time, each only after the previous one reached
 * the socket (so a client that reads slowly holds at most one chunk here).
 * Answers after it on the same connection wait until the stream ends. */
typedef struct gw_body_source_s {
    /* Produce the next chunk with gw_stream_write, now or later (after a
     * disk read). Called once the head has been sent, then after each chunk
     * was handed to the socket, until length bytes were written. */
    void (*on_ready)(gw_request_t *req, void *ctx);
    /* The stream is over; called exactly once. status 0: all bytes were
     * written (or none were due: HEAD, length 0); negative: cut short (the
     * client went away, or gw_stream_abort). req is gone; release ctx (once
     * any read of yours in flight has finished). */
    void (*on_done)(void *ctx, int status);
} gw_body_source_t;

/* Answers with a body of exactly length bytes that src (borrowed: static
 * const) produces; other arguments as gw_respond. on_done may run before
 * this returns (HEAD, length 0, client gone). Exactly once per request,
 * instead of gw_respond.
 * length GW_STREAM_UNBOUNDED: a body of no known length (Server-Sent
 * Events): no Content-Length, "Connection: close", the body ends when the
 * connection does. The source writes as long as it likes and ends it with
 * gw_stream_end (or gw_stream_abort). */
#define GW_STREAM_UNBOUNDED UINT64_MAX
void gw_respond_stream(gw_request_t *req, int status, const char *content_type, uint64_t length,
                       const char *extra_headers, const gw_body_source_t *src, void *ctx);
/* Sends the next len bytes (1 .. what is left of length); data must stay
 * valid until the next on_ready or on_done. Only after an on_ready, once.
 * Returns 0, or a negative error (nothing was sent: call gw_stream_abort). */
int gw_stream_write(gw_request_t *req, const char *data, size_t len);
/* An unbounded stream is complete: once the chunk in flight (if any) is
 * on the socket, on_done(ctx, 0) runs (possibly before this returns) and
 * the connection closes gracefully. */
void gw_stream_end(gw_request_t *req);
/* The source cannot produce the rest (read error, file shorter than
 * promised): the connection is closed, since the response cannot be
 * completed any more. on_done(ctx, -EIO) runs before this returns. */
void gw_stream_abort(gw_request_t *req);

/* ---- The server ----------------------------------------------------------- */

typedef struct gw_server_s gw_server_t;

/* Fixed policy (see README.md, "Backpressure"). */
#define GW_HTTP_MAX_PENDING_OUTPUT (1024 * 1024) /* bytes unsent per connection before it stops being read */
#define GW_HTTP_MAX_PIPELINE 64                  /* requests queued per connection before it stops being read */
#define GW_HTTP_MAX_HEADERS 100                  /* header lines per request, more -> 431 */
#define GW_HTTP_LINGER_MS 2000                   /* after a final response, wait this long for the client's FIN */

/* Creates a server on loop using cfg's limits (body_limit, header_limit,
 * header_timeout_ms, idle_timeout_ms, max_connections, jwt_secret,
 * reply_timeout_ms). cfg and router are borrowed and must outlive the
 * server. Returns 0 and *out (free with gw_server_free), or a negative errno. */
int gw_server_new(uv_loop_t *loop, const sms_config_t *cfg, const gw_router_t *router, gw_server_t **out);

/* Binds and listens on host:port (IPv4 or IPv6 literal; port 0 = ephemeral).
 * Returns 0 or a negative libuv error (UV_EADDRINUSE ...). */
int gw_server_listen(gw_server_t *s, const char *host, int port);

/* The bound port (after gw_server_listen), or -1. */
int gw_server_port(const gw_server_t *s);

/* Graceful stop: closes the listener, answers requests that arrive from now
 * on with 503 and closes those connections, closes idle connections, lets
 * in-flight requests finish and their responses be written, and after
 * cfg->reply_timeout_ms + 1 s closes whatever is left (handlers still
 * running then see gw_req_abandoned). Calls done(data) once, on the loop,
 * when every connection and server handle is closed. Safe to call twice (the
 * second call is ignored). */
void gw_server_shutdown(gw_server_t *s, void (*done)(void *), void *data);

/* Frees the server. Call after the shutdown's done callback (or if the
 * server never listened); requests still held by handlers must have been
 * answered first (gw_app_close answers its pending ones). */
void gw_server_free(gw_server_t *s);

/* Registers the server's Prometheus series in m (borrowed, must outlive the
 * server): sms_http_requests_total{route,method,code} (route = the router's
 * pattern, method = the route's, HEAD counted as GET; code = status class
 * "2xx"; route "unmatched" for 404/405 and answers before routing),
 * sms_http_request_duration_seconds{route,method}, sms_http_connections,
 * sms_http_requests_in_flight, sms_http_connections_rejected_total. Call
 * once, after every route is registered and before gw_server_listen.
 * Returns 0 or -EALREADY. */
int gw_server_set_metrics(gw_server_t *s, sms_metrics_t *m);

/* Open client connections and requests given to handlers but not answered. */
size_t gw_server_connections(const gw_server_t *s);
size_t gw_server_inflight(const gw_server_t *s);

/* ---- Protection hooks ------------------------------------------------------
 * The server knows nothing of rate limits, caps or CORS; the app plugs them
 * in here (services/gateway/protect.c). Every hook is optional (NULL) and
 * runs on the loop thread, synchronously: none may wait on I/O. */
struct sockaddr_storage;
typedef struct gw_server_hooks_s {
    void *ctx;
    /* A connection was accepted from peer. 0 serves it; anything else
     * closes it at once with a reset (nothing read, nothing answered).
     * conn_closed runs once for every connection conn_open served. */
    int (*conn_open)(void *ctx, const struct sockaddr_storage *peer);
    void (*conn_closed)(void *ctx, const struct sockaddr_storage *peer);
    /* Before a request's 404/405/auth: may answer it (a CORS preflight).
     * Returns 1 when it answered req, else 0. */
    int (*preroute)(void *ctx, gw_request_t *req);
    /* After auth (gw_req_user is set on AUTH routes), before the handler:
     * may answer it (429). Returns 1 when it answered req, else 0. */
    int (*admit)(void *ctx, gw_request_t *req);
    /* Header lines (each ending "\r\n") added to every answer of a routed
     * request: writes at most cap bytes into out, returns how many. extra is
     * what the handler gave (NULL or its header lines), so a hook can leave
     * a header the handler chose alone. */
    size_t (*headers)(void *ctx, const gw_request_t *req, int status, const char *extra, char *out, size_t cap);
} gw_server_hooks_t;
#define GW_HOOK_HEADERS_MAX 1024 /* room the headers hook gets */

/* Installs hooks (copied). Call before gw_server_listen. */
void gw_server_set_hooks(gw_server_t *s, const gw_server_hooks_t *hooks);

/* The connection's peer address (socket), NULL once the connection is gone. */
const struct sockaddr_storage *gw_req_peer(const gw_request_t *req);
/* The matched route, NULL for 404/405 or before routing. */
const gw_route_t *gw_req_route(const gw_request_t *req);
/* exp (epoch seconds) of the token that authorized req; 0 on public routes. */
int64_t gw_req_token_exp(const gw_request_t *req);

/* The methods the path supports ("GET, HEAD, POST") when req's method has
 * no route there (a 405), else NULL. */
const char *gw_req_allow(const gw_request_t *req);
/* Adds header lines (each ending "\r\n") to req's answer, whoever gives
 * it. Returns 0, or -1 when they do not fit in GW_REQ_ADDED_HEADERS_MAX
 * bytes altogether (nothing added). */
#define GW_REQ_ADDED_HEADERS_MAX 384
int gw_req_add_header_lines(gw_request_t *req, const char *lines);

#endif
