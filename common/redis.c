/* redis.c - blocking and libuv-async hiredis clients with timeouts (see redis.h).
 *
 * Command deadlines are kept here, not with hiredis 1.x's redisAsyncSetTimeout: that is an
 * idle timer, re-armed by every command sent and every read, so a steady stream of commands to
 * a Redis that stopped answering would never time out. Here the oldest unanswered command's
 * deadline counts, whatever else is sent after it. */
#include "redis.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"

/* ---------------- blocking ---------------- */

redisContext *sms_redis_connect(const sms_config_t *cfg, char *err, size_t errlen) {
    struct timeval tv = {cfg->redis_timeout_ms / 1000, (cfg->redis_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", cfg->redis_host, cfg->redis_port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis: cannot set timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

redisReply *sms_redis_get_reply(redisContext *c, char *err, size_t errlen) {
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
        snprintf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    return reply;
}

int sms_redis_get_replies(redisContext *c, redisReply **r, size_t n) {
    char err[256];
    for (size_t i = 0; i < n; i++) {
        r[i] = sms_redis_get_reply(c, err, sizeof err);
        if (r[i] == NULL) {
            sms_log(SMS_LOG_ERROR, "redis_failed", "%s", err);
            for (size_t j = 0; j < i; j++) freeReplyObject(r[j]);
            return -1;
        }
    }
    return 0;
}

bool sms_redis_error_is_oom(const char *error) { return error && strncmp(error, "OOM", 3) == 0; }

void sms_redis_log_error(const char *what, const char *error) {
    if (sms_redis_error_is_oom(error))
        sms_log(SMS_LOG_ERROR, "redis_oom",
                "ALERT: Redis is out of memory (maxmemory reached, policy noeviction): writes are refused until "
                "memory is added (CONFIG SET maxmemory / SMS_REDIS_MAXMEMORY)%s%s: %s",
                what ? "; at " : "", what ? what : "", error);
    else
        sms_log(SMS_LOG_ERROR, "redis_error", "%s%s%s", what ? what : "", what ? ": " : "", error ? error : "");
}

int sms_redis_free_replies(redisReply **r, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i]->type == REDIS_REPLY_ERROR) {
            sms_redis_log_error(NULL, r[i]->str);
            rc = -1;
        }
        freeReplyObject(r[i]);
    }
    return rc;
}

int sms_redis_script_load(redisContext *c, sms_redis_script_t *s, char *err, size_t errlen) {
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", s->source);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        snprintf(err, errlen, "SCRIPT LOAD: %s", r ? (r->type == REDIS_REPLY_ERROR ? r->str : "bad reply") : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    memcpy(s->sha, r->str, 40);
    s->sha[40] = '\0';
    freeReplyObject(r);
    return 0;
}

/* ---------------- async client ---------------- */

typedef struct pending_s {
    struct pending_s *prev, *next;
    sms_redis_cb cb;
    void *data;
    uint64_t deadline_ms;
    uint64_t sent_us;
    bool answered; /* cb already ran (timeout/close); drop the late reply */
} pending_t;

struct sms_redis_s {
    uv_loop_t *loop;
    char *host;
    int port;
    int timeout_ms;
    redisAsyncContext *ac; /* NULL while disconnected */
    bool connected;
    bool closing;
    uv_timer_t timer; /* deadlines, connect timeout and reconnect backoff */
    uint64_t connect_started_ms;
    uint64_t reconnect_at_ms;
    int backoff_ms;
    pending_t head; /* sentinel of the list of commands sent, oldest first */
    /* Subscriber mode (sms_redis_subscribe): the channel re-subscribed on every connect. */
    char *sub_channel;
    sms_redis_message_cb sub_on_message;
    void (*sub_on_subscribed)(void *);
    void *sub_data;
    void (*done)(void *);
    void *done_data;
    sms_metric_t *latency, *failures; /* sms_redis_set_metrics; NULL: none */
};

static void start_connect(sms_redis_t *r);

static void pending_unlink(pending_t *p) {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = p;
}

/* Runs the callbacks of every pending command with NULL (they are not freed:
 * hiredis still owns them until it calls back, which it does on disconnect). */
static void fail_all_pending(sms_redis_t *r) {
    for (pending_t *p = r->head.next; p != &r->head; p = p->next) {
        if (p->answered) continue;
        p->answered = true;
        sms_metric_inc(r->failures);
        p->cb(NULL, p->data);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    pending_t *p = privdata;
    sms_redis_t *r = ac->data;
    if (r && !p->answered) {
        sms_metric_observe(r->latency, sms_mono_us() - p->sent_us);
        if (reply == NULL) sms_metric_inc(r->failures);
    }
    if (!p->answered) {
        p->answered = true;
        p->cb(reply, p->data);
    }
    pending_unlink(p);
    sms_free(p);
}

static void schedule_reconnect(sms_redis_t *r) {
    r->reconnect_at_ms = sms_mono_ms() + (uint64_t)r->backoff_ms;
    r->backoff_ms = r->backoff_ms < 1000 ? r->backoff_ms * 2 : 2000;
}

/* The subscription's callback: hiredis keeps it for the channel and calls it
 * for the confirmation, for every message, and with NULL when the connection
 * goes (r outlives the context: it is freed only after drop_connection). */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    sms_redis_t *r = privdata;
    redisReply *m = reply;
    if (m == NULL || r->closing || m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
        m->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(m->element[0]->str, "subscribe") == 0) {
        r->sub_on_subscribed(r->sub_data);
    } else if (strcmp(m->element[0]->str, "message") == 0 && m->element[2]->type == REDIS_REPLY_STRING) {
        r->sub_on_message(m->element[2]->str, m->element[2]->len, r->sub_data);
    }
}

static void send_subscribe(sms_redis_t *r) {
    if (redisAsyncCommand(r->ac, on_sub_reply, r, "SUBSCRIBE %s", r->sub_channel) != REDIS_OK) {
        /* Only fails when the context is going away; the next connect retries. */
        sms_log(SMS_LOG_WARN, "redis_subscribe_failed", "%s", r->sub_channel);
    }
}

static void on_connect(const redisAsyncContext *ac, int status) {
    sms_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        sms_log(SMS_LOG_WARN, "redis_connect_failed", "%s:%d: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees the context after this callback */
        if (!r->closing) schedule_reconnect(r);
        return;
    }
    r->connected = true;
    r->backoff_ms = 50;
    sms_log(SMS_LOG_INFO, "redis_connected", "%s:%d", r->host, r->port);
    if (r->sub_channel) send_subscribe(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    sms_redis_t *r = ac->data;
    if (status != REDIS_OK) sms_log(SMS_LOG_WARN, "redis_disconnected", "%s", ac->errstr);
    r->ac = NULL;
    r->connected = false;
    fail_all_pending(r);
    if (!r->closing) schedule_reconnect(r);
}

static void start_connect(sms_redis_t *r) {
    r->reconnect_at_ms = 0;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL || ac->err) {
        sms_log(SMS_LOG_WARN, "redis_connect_failed", "%s:%d: %s", r->host, r->port, ac ? ac->errstr : "oom");
        if (ac) redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    /* hiredis 1.x's own adapter hands poll errors to hiredis, so a refused connect is reported
     * (0.14's did not, and sms carried a fixed copy of it). */
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->connect_started_ms = sms_mono_ms();
}

/* Frees the context now (never from inside a hiredis callback): hiredis calls
 * every pending callback with NULL and, if it was connected, on_disconnect. */
static void drop_connection(sms_redis_t *r) {
    redisAsyncContext *ac = r->ac;
    fail_all_pending(r);
    r->ac = NULL;
    r->connected = false;
    if (ac) redisAsyncFree(ac);
}

static void on_timer(uv_timer_t *t) {
    sms_redis_t *r = t->data;
    uint64_t now = sms_mono_ms();
    if (r->closing) return;
    if (r->ac == NULL) {
        if (r->reconnect_at_ms && now >= r->reconnect_at_ms) start_connect(r);
        return;
    }
    bool stuck = !r->connected && now - r->connect_started_ms > (uint64_t)r->timeout_ms;
    pending_t *oldest = r->head.next;
    if (oldest != &r->head && !oldest->answered && now > oldest->deadline_ms) stuck = true;
    if (stuck) {
        /* An unanswered command means the connection is unusable: fail
         * everything now, then drop it. */
        sms_log(SMS_LOG_WARN, "redis_timeout", "no answer within %d ms; reconnecting", r->timeout_ms);
        drop_connection(r);
        schedule_reconnect(r);
    }
}

int sms_redis_new(uv_loop_t *loop, const char *host, int port, int timeout_ms, sms_redis_t **out) {
    sms_redis_t *r = sms_calloc(1, sizeof *r);
    r->loop = loop;
    r->host = sms_strdup(host);
    r->port = port;
    r->timeout_ms = timeout_ms;
    r->backoff_ms = 50;
    r->head.prev = r->head.next = &r->head;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timer, 50, 50);
    start_connect(r);
    *out = r;
    return 0;
}

int sms_redis_cmd(sms_redis_t *r, sms_redis_cb cb, void *data, int argc, const char **argv, const size_t *argvlen) {
    if (!r->connected || r->closing) return -1;
    pending_t *p = sms_calloc(1, sizeof *p);
    p->cb = cb;
    p->data = data;
    p->deadline_ms = sms_mono_ms() + (uint64_t)r->timeout_ms;
    p->sent_us = sms_mono_us();
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, argvlen) != REDIS_OK) {
        sms_free(p);
        return -1;
    }
    p->prev = r->head.prev;
    p->next = &r->head;
    r->head.prev->next = p;
    r->head.prev = p;
    return 0;
}

bool sms_redis_connected(const sms_redis_t *r) { return r->connected; }

void sms_redis_set_metrics(sms_redis_t *r, sms_metric_t *latency, sms_metric_t *failures) {
    r->latency = latency;
    r->failures = failures;
}

void sms_redis_subscribe(sms_redis_t *r, const char *channel, sms_redis_message_cb on_message,
                         void (*on_subscribed)(void *), void *data) {
    r->sub_channel = sms_strdup(channel);
    r->sub_on_message = on_message;
    r->sub_on_subscribed = on_subscribed;
    r->sub_data = data;
    if (r->connected) send_subscribe(r);
}

static void on_timer_closed(uv_handle_t *h) {
    sms_redis_t *r = h->data;
    void (*done)(void *) = r->done;
    void *done_data = r->done_data;
    sms_free(r->host);
    sms_free(r->sub_channel);
    sms_free(r);
    if (done) done(done_data);
}

void sms_redis_close(sms_redis_t *r, void (*done)(void *), void *data) {
    r->closing = true;
    r->done = done;
    r->done_data = data;
    drop_connection(r);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

/* ---- building one command's arguments ---- */

void sms_redis_args_init(sms_redis_args_t *a) {
    a->argc = 0;
    a->overflow = false;
    a->n_nums = 0;
}

void sms_redis_args_add(sms_redis_args_t *a, const char *s, size_t n) {
    if (a->argc == SMS_REDIS_ARGS_MAX) {
        a->overflow = true;
        return;
    }
    a->argv[a->argc] = s;
    a->lens[a->argc++] = n;
}

void sms_redis_args_str(sms_redis_args_t *a, const char *s) { sms_redis_args_add(a, s, strlen(s)); }

void sms_redis_args_i64(sms_redis_args_t *a, int64_t v) {
    if (a->n_nums == SMS_REDIS_ARGS_NUMS) {
        a->overflow = true;
        return;
    }
    char *buf = a->nums[a->n_nums++];
    int k = snprintf(buf, sizeof a->nums[0], "%lld", (long long)v);
    sms_redis_args_add(a, buf, (size_t)k);
}

int sms_redis_args_append(redisContext *rc, sms_redis_args_t *a) {
    if (a->overflow) return -1;
    return redisAppendCommandArgv(rc, (int)a->argc, a->argv, a->lens) == REDIS_OK ? 0 : -1;
}
