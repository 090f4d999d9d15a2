/* http_internal.h - the HTTP server's private structs and the calls between
 * its files: http.c (listener, accept, shutdown, ids), conn.c (read, parse,
 * dispatch, timers, close), request.c (request memory and accessors) and
 * response.c (formatting, ordered writes, request log). Nothing outside
 * those four files includes this. */
#ifndef GW_HTTP_INTERNAL_H
#define GW_HTTP_INTERNAL_H

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "http.h"

typedef struct gw_conn_s gw_conn_t;

typedef enum {
    GW_REQ_PARSING = 0, /* conn->cur: the parser is filling it */
    GW_REQ_HANDLING,    /* queued, given to a handler, no response yet */
    GW_REQ_READY,       /* queued, response formatted, waiting behind earlier ones */
    GW_REQ_WRITING,     /* off the queue, owned by its uv_write until the callback */
    GW_REQ_STREAMING,   /* off the queue, its body being streamed: conn->out_stream */
} gw_req_state_t;

typedef enum { GW_PIECE_URL = 0, GW_PIECE_FIELD, GW_PIECE_VALUE, GW_PIECE_DONE } gw_piece_t;

/* A request of a GW_ROUTE_STREAM_BODY route, from its head to its body's end. */
typedef enum {
    GW_STREAM_NONE = 0, /* not a streaming request */
    GW_STREAM_HELD,     /* head parsed, waiting for earlier requests; still owned by conn->cur */
    GW_STREAM_HANDLER,  /* dispatched (queued): its handler has not chosen a sink yet */
    GW_STREAM_OPEN,     /* the sink takes the body */
    GW_STREAM_DONE,     /* on_end or on_abort was called, or the handler answered early */
} gw_stream_state_t;

/* A header line: offsets into the request arena, NUL-terminated there. */
typedef struct gw_hdr_s {
    uint32_t name, value;
} gw_hdr_t;

/* One request. Taken from the server's pool in on_message_begin (or for a
 * server error), returned to it by gw__req_release once answered and written
 * (or abandoned). All its strings live in one growable arena (mem) addressed
 * by offsets, so growing it never invalidates anything. */
struct gw_request_s {
    gw_server_t *srv;
    gw_conn_t *conn;          /* NULL once the connection is gone */
    gw_request_t *next;       /* connection queue, or the server's free list */
    gw_req_state_t state;
    uint64_t start_us;
    const char *method;       /* static string ("GET") or "-" before the parser knew */
    int status;               /* the answer, for the log */
    unsigned keep_alive : 1;  /* llhttp_should_keep_alive() at message end */
    unsigned http10 : 1;
    unsigned is_head : 1;     /* HEAD: response without body */
    unsigned close_after : 1; /* response says Connection: close; the connection ends after it */
    unsigned no_log : 1;      /* over-capacity rejection: counted, not logged one by one */
    unsigned has_head : 1;    /* gw__req_head_done ran: path, query, id are set */
    unsigned unsafe : 1;      /* not GET/HEAD/OPTIONS: later pipelined requests wait for it */
    gw_piece_t piece;         /* what the parser appended last */

    /* Routed at the end of the head (gw__req_route). */
    const gw_route_t *route;  /* NULL unless route_status is 0 */
    int route_status;         /* 0, 404 or 405 */
    char allow[64];           /* 405: the methods the path supports */
    int64_t content_length;   /* -1: none */

    /* Streaming body (GW_ROUTE_STREAM_BODY): the body goes to the sink, not the arena. */
    gw_stream_state_t stream;
    const gw_body_sink_t *sink;
    void *sink_ctx;
    uint64_t stream_max;      /* 0: no limit */
    uint64_t stream_deadline; /* loop time the whole body must have arrived by (0: none), gw_req_stream_deadline */

    /* Streaming response (gw_respond_stream): src produces out_len body bytes. */
    const gw_body_source_t *src; /* NULL once on_done was called */
    void *src_ctx;
    uint64_t out_len, out_sent;
    unsigned out_writing : 1; /* a uv_write of it (head or chunk) is in flight */

    char *mem;                /* arena */
    uint32_t len, cap;
    uint32_t url, url_len;    /* raw request target */
    uint32_t path, path_len;  /* decoded path */
    uint32_t query, n_query;  /* n_query pairs "name\0value\0" from query */
    uint32_t body, body_len;
    uint32_t head_bytes;      /* request line + header bytes, against header_limit */

    gw_hdr_t *hdrs;           /* kept with the pooled request */
    uint32_t n_hdrs, hdr_cap;

    uint32_t n_params;
    struct {
        const char *name;     /* the route's, lives as long as the router */
        uint32_t value;       /* arena offset */
    } params[GW_ROUTER_MAX_PARAMS];

    char id[65];
    char user[128];
    char role[16];
    unsigned has_user : 1;
    int64_t token_exp;        /* claims.exp of an AUTH route's token (gw_req_token_exp) */
    uint32_t in_bytes;        /* arena bytes counted in conn->queued_in_bytes while queued */
    uint16_t added_len;       /* gw_req_add_header_lines */
    char added[GW_REQ_ADDED_HEADERS_MAX];
    char cmd_key[GW_IDEMPOTENCY_KEY_MAX + 1]; /* gw_req_set_command_key; "" if none */

    sms_buf_t out;            /* formatted response (status line .. body) */
    uv_write_t wreq;
};

typedef enum { GW_TIMER_NONE = 0, GW_TIMER_HEAD, GW_TIMER_IDLE, GW_TIMER_LINGER } gw_timer_mode_t;

/* One client connection. Freed only in the close callback of the last of its
 * two handles (tcp, timer). */
struct gw_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t sreq;
    llhttp_t parser;
    gw_server_t *srv;
    gw_conn_t *prev, *next;       /* the server's list of connections */

    gw_request_t *cur;            /* being parsed, NULL between requests */
    gw_request_t *complete;       /* set by on_message_complete for the process loop */
    gw_request_t *q_head, *q_tail;/* HANDLING/READY requests in arrival order */
    uint32_t n_queued;            /* requests on the queue */
    uint32_t n_handling;          /* of which HANDLING */
    uint32_t n_unsafe_handling;   /* of which unsafe (writes) */
    gw_request_t *held;           /* parsed, waiting for earlier requests (pipelining order) */
    uint32_t n_writing;           /* uv_write requests outstanding */
    size_t queued_bytes;          /* READY response bytes on the queue */
    size_t queued_in_bytes;       /* request bytes (arenas) on the queue: SMS_PIPELINE_MAX_BYTES */
    struct sockaddr_storage peer; /* the socket's peer, read once at accept */
    uint64_t n_requests;          /* requests begun on this connection */
    int err_status;               /* a parser callback's reason to fail: 413, 431, 400 */
    const char *head_mark;        /* in the buffer being parsed, where the head's uncounted bytes start (NULL: not in a head) */

    gw_request_t *in_stream;      /* streaming request body, from its head until on_end/on_abort */
    sms_buf_t stage;              /* its body bytes parsed but not yet handed to the sink */
    uint64_t stream_bytes;        /* its body bytes parsed so far */
    gw_request_t *out_stream;     /* response whose body is being streamed (owned here) */

    char *pending;                /* unparsed input held while reading is paused */
    size_t pending_len, pending_cap;
    size_t lingered;              /* bytes discarded while lingering */

    gw_timer_mode_t timer_mode;
    uint64_t timer_deadline;      /* loop time (ms) the running timer fires at */
    uint64_t req_deadline;        /* loop time the current request must be complete by */

    uint8_t handles_open;
    unsigned reading : 1;         /* uv_read_start is in effect */
    unsigned processing : 1;      /* inside the parse loop: do not re-enter it */
    unsigned stop_parsing : 1;    /* no further requests on this connection */
    unsigned eof : 1;             /* the client half-closed */
    unsigned shutting : 1;        /* uv_shutdown issued */
    unsigned lingering : 1;       /* after shutdown: discarding input until FIN */
    unsigned closing : 1;         /* uv_close issued */
    unsigned rejected : 1;        /* accepted over max_connections: 503 and close */
    unsigned stream_busy : 1;     /* the sink has the staged bytes: wait for gw_req_body_resume */
    unsigned stream_ended : 1;    /* in_stream's body is parsed to its end; on_end is due */
    unsigned peer_counted : 1;    /* hooks.conn_open served it: conn_closed is due */
};

#define GW_READ_BUF_SIZE (64 * 1024)

/* One route's series (server_metrics.c); status classes 1xx..5xx. */
#define GW_METRICS_CLASSES 5
typedef struct gw_route_stats_s {
    sms_metric_t *requests[GW_METRICS_CLASSES];
    sms_metric_t *latency;
} gw_route_stats_t;

struct gw_server_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    const gw_router_t *router;

    uv_tcp_t listener;
    uv_timer_t drain_timer;
    unsigned listener_open : 1;
    unsigned drain_timer_open : 1;
    unsigned draining : 1;
    unsigned done_called : 1;
    int port;
    void (*done)(void *);
    void *done_data;

    gw_conn_t *conns;             /* doubly linked, every open connection */
    size_t n_conns;               /* counted against max_connections */
    size_t n_rejecting;           /* over-capacity connections being answered 503 */
    size_t n_inflight;            /* requests given to handlers and not answered */
    uint64_t n_rejected_total;
    uint64_t rejected_logged_ms;

    gw_auth_cache_t *auth_cache;  /* verified tokens (auth.h) */
    gw_server_hooks_t hooks;      /* protection (gw_server_set_hooks); zero: none */
    gw_request_t *free_reqs;      /* pool */
    size_t n_free;

    uint64_t id_seed, id_counter;
    int64_t date_sec;
    char date_line[48];           /* "Date: ...\r\n" for date_sec */

    /* gw_server_set_metrics: one per route (by index), then "unmatched"; NULL without metrics. */
    gw_route_stats_t *route_stats;
    size_t n_route_stats;

    char read_buf[GW_READ_BUF_SIZE]; /* shared: every read is parsed before the next */
};

/* ---- server_metrics.c ---- */
/* Counts req's answer and its latency (respond, after the request's log line). */
void gw__metrics_observe(const gw_request_t *req, uint64_t latency_us);

/* ---- request.c ---- */
gw_request_t *gw__req_new(gw_server_t *srv, gw_conn_t *conn);
/* Back to the pool (or freed). The request must be off every queue. */
void gw__req_release(gw_request_t *req);
/* Frees every pooled request (server teardown). */
void gw__req_pool_free(gw_server_t *srv);
void gw__req_append(gw_request_t *req, const char *p, size_t n);
/* Ends the current piece (url, field or value) with a NUL, trimming trailing
 * blanks from values, and records where the next one starts. */
void gw__req_piece(gw_request_t *req, gw_piece_t next);
/* After the head: decodes the path and query, settles the request id and
 * marks where the body starts. Returns 0, or 400 for a bad target. */
int gw__req_head_done(gw_request_t *req, const llhttp_t *p);
/* Copies matched path parameters into the arena. */
void gw__req_set_params(gw_request_t *req, const gw_match_t *m);
/* After gw__req_head_done: matches the route (route, route_status, allow,
 * params) and marks where the body starts. */
void gw__req_route(gw_request_t *req, const gw_router_t *router);
void gw__req_set_user(gw_request_t *req, const char *sub, const char *role);
/* Fills req->id with a fresh id if it has none. */
void gw__req_ensure_id(gw_request_t *req);
/* The idempotency key req's answers carry (see gw_req_set_command_key), or NULL. */
const char *gw__req_answer_key(const gw_request_t *req);

/* ---- response.c ---- */
/* Writes the READY requests at the head of the queue, in order. */
void gw__conn_flush(gw_conn_t *c);
/* Tells a streaming response's source that it is over (once; no-op after). */
void gw__stream_src_done(gw_request_t *req, int status);

/* ---- conn.c ---- */
void gw__conn_start(gw_server_t *srv, gw_conn_t *c);
/* Re-evaluates reading, timers and closing after anything changed. */
void gw__conn_update(gw_conn_t *c);
/* The server is draining: close if idle, else finish what is queued. */
void gw__conn_drain(gw_conn_t *c);
void gw__conn_close(gw_conn_t *c);
/* Closes with a TCP reset (SO_LINGER 0): for refused connections, which hold
 * no kernel state afterwards. */
void gw__conn_close_reset(gw_conn_t *c);
/* The handler of c->in_stream answered before on_end: forget the stream
 * (no more sink calls); the connection ends after the answer unless the
 * body had fully arrived. */
void gw__conn_stream_detach(gw_conn_t *c);
extern const llhttp_settings_t gw__parser_settings;

/* ---- http.c ---- */
/* Writes a fresh request id (16 hex digits, NUL-terminated) into out[17+]. */
void gw__server_new_id(gw_server_t *srv, char *out);
/* The cached "Date: ...\r\n" line for now. */
const char *gw__server_date_line(gw_server_t *srv);
/* A connection finished closing: unlink it and finish a drain if it was the last. */
void gw__server_conn_closed(gw_server_t *srv, gw_conn_t *c);

#endif
