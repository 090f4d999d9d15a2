/* routes_stream.c - GET /me/notifications/stream: the caller's new inbox
 * items as Server-Sent Events (any role). Each stream is a waiter of the
 * app's notification hub (wait_hub.h, key = the user), woken when the
 * notifications projection publishes the user's id; it then reads what is
 * new from the user's feed (sms:notifications:feed:<user>, a zset scored by
 * each notification's offset on sms.notifications, see
 * services/notifications/view.h) with one Lua script and writes it as
 * events whose id is that score, so Last-Event-ID resumes exactly after the
 * last event seen. Heartbeat comments keep idle streams (and proxies)
 * alive; a client that stops reading is dropped once SMS_SSE_MAX_BUFFER
 * bytes wait for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "notifications/view.h"
#include "clock.h"
#include "log.h"
#include "number.h"
#include "protect.h"
#include "route_kit.h"
#include "routes.h"

#define STREAM_READ_LIMIT 100        /* events per read script run */
#define STREAM_ID_DIGITS_MAX 18      /* an event id is an offset: fits a double exactly */
#define STREAM_RETRY_MS 3000         /* what the client is told to wait before reconnecting */

/* ARGV: user, after ("" = only what comes from now on), limit. Returns
 * {last score, {score, item JSON, ...}, more (1 when limit was reached)}.
 * With after "" the answer is the newest score there is (-1: none) and no
 * items. Items are rendered as GET /me/notifications renders them. */
static gw_script_t read_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "local f = p .. '" NOTIF_VIEW_FEED "' .. ARGV[1]\n"
    "if ARGV[2] == '' then\n"
    "  local top = redis.call('ZRANGE', f, 0, 0, 'REV', 'WITHSCORES')\n"
    "  if #top == 0 then return {'-1', {}, 0} end\n"
    "  return {top[2], {}, 0}\n"
    "end\n"
    "local limit = tonumber(ARGV[3])\n"
    "local r = redis.call('ZRANGE', f, '(' .. ARGV[2], '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')\n"
    "local uz = p .. '" NOTIF_VIEW_UNREAD "' .. ARGV[1]\n"
    "local out, last = {}, ARGV[2]\n"
    "for i = 1, #r, 2 do\n"
    "  local id = r[i]\n"
    "  local d = redis.call('GET', p .. '" NOTIF_VIEW_ITEM "' .. id)\n"
    "  local read = 'true'\n"
    "  if redis.call('ZSCORE', uz, id) then read = 'false' end\n"
    "  out[#out + 1] = r[i + 1]\n"
    "  out[#out + 1] = (d or '{\"id\":\"' .. id .. '\"') .. ',\"read\":' .. read .. '}'\n"
    "  last = r[i + 1]\n"
    "end\n"
    "local more = 0\n"
    "if #r == 2 * limit then more = 1 end\n"
    "return {last, out, more}\n"};

static const char stream_headers[] = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";

/* One open stream. Freed once the request is gone (on_done, or answered
 * before the stream started) and no call of ours is in flight (holds). */
typedef struct stream_s {
    gw_waiter_t w;      /* w.key = user, w.req = the request */
    gw_app_t *app;
    char *user;
    char after[STREAM_ID_DIGITS_MAX + 2]; /* score of the last event sent ("" before the first read) */
    sms_buf_t out;      /* events not yet handed to the socket */
    sms_buf_t inflight; /* the chunk the socket has (valid until on_ready / on_done) */
    int holds;          /* a read in flight, or a call that may run on_done */
    bool reading;       /* a read script is in flight */
    bool woken;         /* something was published meanwhile: read again */
    bool started;       /* the head was sent: req belongs to the connection's stream */
    bool writable;      /* on_ready came and no chunk is in flight */
    bool finish;        /* drain or client gone before the head was sent */
    bool done;          /* on_done ran (or req was answered): req is gone */
    bool capped;        /* holds one of the user's SMS_MAX_STREAMS_PER_USER slots */
    uint64_t expires_ms; /* sms_mono_ms() when the token that opened it expires (0: never) */
} stream_t;

static void stream_unhold(stream_t *st) {
    if (--st->holds > 0 || !st->done) return;
    gw_wait_hub_remove(st->app->streams, &st->w);
    if (st->capped) gw_caps_release(&st->app->protect->caps, GW_CAP_STREAM, st->user);
    sms_buf_close(&st->out);
    sms_buf_close(&st->inflight);
    sms_free(st->user);
    sms_free(st);
}

static void on_ready(gw_request_t *req, void *ctx);
static void on_done(void *ctx, int status);
static const gw_body_source_t stream_source = {on_ready, on_done};

/* Hands what waits to the socket if it can take it. Call inside a hold. */
static void stream_flush(stream_t *st) {
    if (st->done || !st->started || !st->writable || st->out.len == 0) return;
    sms_buf_t t = st->inflight;
    st->inflight = st->out;
    st->out = t;
    sms_buf_reset(&st->out);
    st->writable = false;
    if (gw_stream_write(st->w.req, st->inflight.data, st->inflight.len) != 0) gw_stream_abort(st->w.req);
}

/* Queues text for the client; a client this far behind is dropped. Call
 * inside a hold. */
static void stream_queue(stream_t *st, const char *s, size_t n) {
    if (st->done) return;
    sms_buf_append(&st->out, s, n);
    if (st->out.len > (size_t)st->app->cfg->sse_max_buffer) {
        sms_log(SMS_LOG_WARN, "sse_dropped", "user %s: %zu bytes unread, closing the stream", st->user,
                st->out.len);
        gw_stream_abort(st->w.req); /* on_done(-EIO) */
        return;
    }
    stream_flush(st);
}

static void on_read(redisReply *r, void *data);

/* Call inside a hold (or with the read's own hold about to be taken). */
static void start_read(stream_t *st) {
    char limit[8];
    snprintf(limit, sizeof limit, "%d", STREAM_READ_LIMIT);
    const char *argv[] = {st->user, st->after, limit};
    size_t lens[] = {strlen(st->user), strlen(st->after), strlen(limit)};
    st->reading = true;
    st->woken = false;
    st->w.retry = false;
    st->holds++;
    if (gw_script_call(st->app, &read_script, 3, argv, lens, on_read, st) != 0) {
        st->reading = false;
        st->w.retry = true; /* the next sweep tries again */
        st->holds--;
    }
}

/* Reads again if something is waiting and the client keeps up. */
static void maybe_read_more(stream_t *st) {
    if (st->woken && !st->reading && !st->done && st->out.len < (size_t)st->app->cfg->sse_max_buffer / 4)
        start_read(st);
}

/* A score the feed holds: an offset, or -1 for "before the first"; at most
 * STREAM_ID_DIGITS_MAX characters, so it fits st->after. */
static bool valid_score(const char *s, size_t n, int64_t *v) {
    return n <= STREAM_ID_DIGITS_MAX && sms_number_parse_int(s, n, -1, SMS_NUMBER_SAFE_MAX, v) == SMS_OK;
}

static bool valid_score_reply(const redisReply *e) {
    int64_t v;
    return e->type == REDIS_REPLY_STRING && valid_score(e->str, e->len, &v);
}

static void start_stream(stream_t *st) {
    sms_buf_t head;
    sms_buf_init(&head);
    /* An event with only an id sets the client's Last-Event-ID, so a
     * reconnect resumes from here even when nothing was sent yet. */
    sms_buf_printf(&head, ": sms notifications\nretry: %d\nid: %s\n\n", STREAM_RETRY_MS, st->after);
    sms_buf_append(&head, st->out.data, st->out.len);
    sms_buf_close(&st->out);
    st->out = head;
    st->started = true;
    gw_respond_stream(st->w.req, 200, "text/event-stream", GW_STREAM_UNBOUNDED, stream_headers, &stream_source, st);
}

static void on_read(redisReply *r, void *data) {
    stream_t *st = data;
    st->reading = false;
    if (st->done) {
        stream_unhold(st);
        return;
    }
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && valid_score_reply(r->element[0]) &&
              r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements % 2 == 0;
    if (!ok) {
        if (st->started) {
            st->w.retry = true; /* Redis is back soon: the sweep wakes it to read again */
        } else {
            st->done = true;
            gw_respond_redis_down(st->w.req);
        }
        stream_unhold(st);
        return;
    }
    if (!st->started && st->finish) { /* draining, or the client left while the first read ran */
        st->done = true;
        gw_respond_problem(st->w.req, 503, "unavailable", "the gateway is stopping", NULL, 0);
        stream_unhold(st);
        return;
    }
    const redisReply *items = r->element[1];
    for (size_t i = 0; i + 1 < items->elements && !st->done; i += 2) {
        const redisReply *score = items->element[i], *doc = items->element[i + 1];
        if (!valid_score_reply(score) || doc->type != REDIS_REPLY_STRING) continue;
        sms_buf_t ev;
        sms_buf_init(&ev);
        sms_buf_puts(&ev, "id: ");
        sms_buf_append(&ev, score->str, score->len);
        sms_buf_puts(&ev, "\nevent: notification\ndata: ");
        sms_buf_append(&ev, doc->str, doc->len); /* compact JSON: no line breaks */
        sms_buf_puts(&ev, "\n\n");
        if (st->started) stream_queue(st, ev.data, ev.len);
        else sms_buf_append(&st->out, ev.data, ev.len);
        sms_buf_close(&ev);
    }
    memcpy(st->after, r->element[0]->str, r->element[0]->len);
    st->after[r->element[0]->len] = '\0';
    if (r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == 1) st->woken = true;
    if (!st->started && !st->done) start_stream(st);
    maybe_read_more(st);
    stream_unhold(st);
}

static void on_ready(gw_request_t *req, void *ctx) {
    (void)req;
    stream_t *st = ctx;
    st->holds++;
    st->writable = true;
    stream_flush(st);
    maybe_read_more(st);
    stream_unhold(st);
}

static void on_done(void *ctx, int status) {
    stream_t *st = ctx;
    (void)status; /* 0: ended by us (drain); negative: the client went away or was dropped */
    st->done = true;
    gw_wait_hub_remove(st->app->streams, &st->w); /* req is gone: the sweep must not look at it */
    st->holds++;
    stream_unhold(st);
}

/* The next heartbeat, or the token's expiry if that comes first. */
static uint64_t next_deadline(const stream_t *st) {
    uint64_t d = sms_mono_ms() + (uint64_t)st->app->cfg->sse_heartbeat_ms;
    return st->expires_ms && st->expires_ms < d ? st->expires_ms : d;
}

static void on_wake(gw_waiter_t *w, gw_wake_t why) {
    stream_t *st = (stream_t *)w;
    st->holds++;
    switch (why) {
    case GW_WAKE_MESSAGE:
        if (st->reading || !st->started) st->woken = true; /* the first read's answer reads again */
        else {
            st->woken = true;
            maybe_read_more(st);
        }
        break;
    case GW_WAKE_TIMEOUT:
        if (st->expires_ms && sms_mono_ms() >= st->expires_ms) {
            /* The token that opened it is no longer valid: nothing more is
             * sent under it. The client reconnects with a fresh token and its
             * Last-Event-ID, and loses nothing. */
            gw_wait_hub_remove(st->app->streams, &st->w);
            if (st->started) {
                stream_queue(st, "event: token_expired\ndata: {}\n\n", 31);
                gw_stream_end(st->w.req);
            } else {
                st->finish = true;
            }
            break;
        }
        st->w.deadline_ms = next_deadline(st);
        if (st->started) stream_queue(st, ": heartbeat\n\n", 13);
        break;
    case GW_WAKE_GONE:
    case GW_WAKE_DRAIN:
        gw_wait_hub_remove(st->app->streams, &st->w);
        if (st->started) gw_stream_end(st->w.req); /* on_done(0) once the chunk in flight is written */
        else st->finish = true;                     /* the first read is in flight: its answer ends it */
        break;
    }
    stream_unhold(st);
}

/* Last-Event-ID (header, or ?last_event_id= for clients that cannot set
 * headers): an event id this stream sent, i.e. -1 or up to 18 digits of an
 * offset below 2^53. */
static bool valid_event_id(const char *s, int64_t *v) { return valid_score(s, strlen(s), v); }

static void open_stream(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    const char *last = gw_req_header(req, "Last-Event-ID");
    const char *field = "Last-Event-ID";
    if (last == NULL || *last == '\0') {
        last = gw_req_query(req, "last_event_id");
        field = "last_event_id";
    }
    int64_t last_id = 0; /* an empty one reads as 0, as it always has */
    if (last && *last && !valid_event_id(last, &last_id)) {
        sms_problem_error_t err = {field, "must be an event id this stream sent (-1 or decimal digits)"};
        gw_respond_problem(req, 400, "validation", "invalid Last-Event-ID", &err, 1);
        return;
    }
    if (gw_wait_hub_draining(app->streams)) {
        gw_respond_problem(req, 503, "unavailable", "the gateway is stopping", NULL, 0);
        return;
    }
    /* An open stream holds a connection, a request and a waiter for as
     * long as the client likes: at most SMS_MAX_STREAMS_PER_USER per user. */
    if (gw_caps_acquire(&app->protect->caps, GW_CAP_STREAM, gw_req_user(req)) != 0) {
        char message[96];
        snprintf(message, sizeof message, "at most %d open at once per user; close one or retry later",
                 app->cfg->max_streams_per_user);
        sms_problem_error_t e = {"stream", message};
        gw_respond_problem_h(req, 429, "too_many_open", "Too many notification streams open for this user.", &e, 1,
                             "Retry-After: 1\r\n");
        return;
    }
    stream_t *st = sms_calloc(1, sizeof *st);
    st->app = app;
    st->capped = true;
    st->user = sms_strdup(gw_req_user(req));
    int64_t exp_s = gw_req_token_exp(req), now_ms = sms_now_ms();
    if (exp_s > 0) {
        int64_t left_ms = exp_s * 1000 - now_ms;
        st->expires_ms = sms_mono_ms() + (uint64_t)(left_ms > 0 ? left_ms : 0);
    }
    if (last) snprintf(st->after, sizeof st->after, "%lld", (long long)last_id); /* canonical: no leading zeros */
    sms_buf_init(&st->out);
    sms_buf_init(&st->inflight);
    st->w.key = st->user;
    st->w.req = req;
    st->w.deadline_ms = next_deadline(st);
    st->w.wake = on_wake;
    /* Registered before the first read, so nothing published can slip between them. */
    gw_wait_hub_add(app->streams, &st->w);
    st->holds++;
    start_read(st);
    if (!st->reading) { /* Redis is not connected */
        st->done = true;
        gw_respond_redis_down(req);
    }
    stream_unhold(st);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_stream_scripts[] = {&read_script, NULL};

int gw_routes_stream(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&read_script);
    return gw_router_add(router, "GET", "/me/notifications/stream", GW_ROUTE_AUTH, GW_ROLE_ANY, open_stream, app);
}
