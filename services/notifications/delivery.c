/* delivery.c - the delivery consumers' shared loop (see delivery.h):
 * poll sms.notifications in the channel's group, hand each message to the
 * channel, store its offset only once handled, run the channel's timers,
 * wait while a view the channel reads is not built, report its state. */
#include "delivery.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "kafka.h"
#include "kafka_metrics.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "redis.h"

#define POLL_MAX_MS 100
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 5000
#define WAIT_PAUSE_MS 500   /* a message waiting for a view or for room is tried again after this */
#define VIEW_CHECK_MS 500   /* how often the built markers are read while all is well */

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL); /* an interrupting signal only ends the nap early */
}

typedef enum { ST_OK, ST_VIEW, ST_REDIS, ST_FULL } state_t;
static const char *const state_names[] = {"ok", "view_not_ready", "redis_unavailable", "backlog_full"};

/* One partition's held messages: offs[head..n) ascending (messages arrive
 * in offset order), done[i] once released; the offset stored is the first
 * one not released, or next when none is held. */
typedef struct held_part_s {
    char topic[96];
    int32_t partition;
    int64_t *offs;
    bool *done;
    size_t head, n, cap;
    int64_t next, stored;
} held_part_t;

typedef struct core_s {
    const notif_delivery_ops_t *ops;
    const sms_config_t *cfg;
    void *ch;
    redisContext *rc;
    sms_consumer_t *c;
    held_part_t *parts;
    size_t n_parts;
    char epoch[40];     /* the value of sms:delivery:<name>:epoch this process saw ("" = none yet) */
    state_t state;
    int64_t since, last_report, last_view_log;
    char detail[200];
    /* Prometheus: what handle() answered (outcome_names), the backlog, lag (sampled every report). */
    sms_metrics_http_t *http;
    sms_metric_t *outcomes[5], *backlog;
    sms_kafka_lag_t lag;
} core_t;

static core_t *the_core; /* notif_delivery_release's; one core per process */
static sms_metrics_t *the_metrics; /* notif_delivery_metrics's */
enum { OUT_DONE, OUT_HELD, OUT_FAILED, OUT_NOT_READY, OUT_FULL };
static const char *const outcome_names[5] = {"done", "held", "failed", "not_ready", "full"};

sms_metrics_t *notif_delivery_metrics(void) { return the_metrics; }

static held_part_t *part_of(core_t *k, const char *topic, int32_t partition, bool create) {
    for (size_t i = 0; i < k->n_parts; i++)
        if (k->parts[i].partition == partition && strcmp(k->parts[i].topic, topic) == 0) return &k->parts[i];
    if (!create) return NULL;
    k->parts = sms_realloc(k->parts, (k->n_parts + 1) * sizeof *k->parts);
    held_part_t *p = &k->parts[k->n_parts++];
    memset(p, 0, sizeof *p);
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    p->next = p->stored = -1;
    return p;
}

/* Stores the partition's first offset not done (never moving backwards). */
static void part_store(core_t *k, held_part_t *p) {
    int64_t at = p->head < p->n ? p->offs[p->head] : p->next;
    if (at < 0 || at <= p->stored) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = at;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(sms_consumer_rk(k->c), l);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        sms_log(SMS_LOG_WARN, "offset_store_failed", "%s/%d at %lld: %s", p->topic, (int)p->partition,
                (long long)at, rd_kafka_err2str(e));
        return;
    }
    p->stored = at;
}

/* A message at offset was handled (held: kept until released). */
static void part_handled(core_t *k, const notif_delivery_pos_t *pos, bool held) {
    held_part_t *p = part_of(k, pos->topic, pos->partition, true);
    if (held && (p->n == p->head || pos->offset > p->offs[p->n - 1])) {
        if (p->head > 0 && p->head == p->n) p->head = p->n = 0;
        if (p->n == p->cap) {
            if (p->head > p->cap / 2) { /* reuse the released front before growing */
                memmove(p->offs, p->offs + p->head, (p->n - p->head) * sizeof *p->offs);
                memmove(p->done, p->done + p->head, (p->n - p->head) * sizeof *p->done);
                p->n -= p->head;
                p->head = 0;
            } else {
                p->cap = p->cap ? p->cap * 2 : 64;
                p->offs = sms_realloc(p->offs, p->cap * sizeof *p->offs);
                p->done = sms_realloc(p->done, p->cap * sizeof *p->done);
            }
        }
        p->offs[p->n] = pos->offset;
        p->done[p->n++] = false;
    }
    if (pos->offset + 1 > p->next) p->next = pos->offset + 1;
    part_store(k, p);
}

void notif_delivery_release(const char *topic, int32_t partition, int64_t offset) {
    core_t *k = the_core;
    held_part_t *p = k ? part_of(k, topic, partition, false) : NULL;
    if (p == NULL) return;
    size_t lo = p->head, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->offs[mid] < offset) lo = mid + 1;
        else hi = mid;
    }
    if (lo == p->n || p->offs[lo] != offset) return;
    p->done[lo] = true;
    while (p->head < p->n && p->done[p->head]) p->head++;
    part_store(k, p);
}

static size_t held_count(const core_t *k) {
    size_t n = 0;
    for (size_t i = 0; i < k->n_parts; i++)
        for (size_t j = k->parts[i].head; j < k->parts[i].n; j++) n += !k->parts[i].done[j];
    return n;
}

static void seek_to(sms_consumer_t *c, const char *topic, int32_t partition, int64_t offset) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(sms_consumer_rk(c), l, 5000);
    if (e) {
        sms_log(SMS_LOG_ERROR, "seek_failed", "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Notices that Redis lost this channel's state (FLUSHALL, a Redis without
 * its data): the epoch key is gone or replaced. Then every held message is
 * read again from Kafka (its offset was never stored past). -1: Redis failed. */
static int state_check(core_t *k, redisContext *rc) {
    char key[96];
    snprintf(key, sizeof key, "sms:delivery:%s:epoch", k->ops->name);
    redisReply *r = redisCommand(rc, "GET %s", key);
    if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r) freeReplyObject(r);
        return -1;
    }
    bool same = r->type == REDIS_REPLY_STRING && strcmp(r->str, k->epoch) == 0;
    bool missing = r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    if (same) return 0;
    if (k->epoch[0]) {
        size_t n = held_count(k);
        sms_log(SMS_LOG_WARN, "state_lost", "%s changed (FLUSHALL?): reading the %zu held messages again from Kafka",
                key, n);
        for (size_t i = 0; i < k->n_parts; i++) {
            held_part_t *p = &k->parts[i];
            if (p->head < p->n) seek_to(k->c, p->topic, p->partition, p->offs[p->head]);
            p->head = p->n = 0;
        }
    }
    if (missing) {
        char token[40];
        snprintf(token, sizeof token, "%d-%lld", (int)getpid(), (long long)sms_now_ms());
        redisReply *s = redisCommand(rc, "SET %s %s NX", key, token);
        if (s == NULL) return -1;
        freeReplyObject(s);
    }
    r = redisCommand(rc, "GET %s", key);
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        if (r) freeReplyObject(r);
        return -1;
    }
    snprintf(k->epoch, sizeof k->epoch, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

int notif_delivery_views_built(redisContext *rc, const char *const *views, const char **missing) {
    for (size_t i = 0; views && views[i]; i++) {
        redisReply *r = redisCommand(rc, "HEXISTS %smeta built", views[i]);
        if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
            if (r) freeReplyObject(r);
            return -1;
        }
        long long built = r->integer;
        freeReplyObject(r);
        if (built != 1) {
            if (missing) *missing = views[i];
            return 0;
        }
    }
    return 1;
}

/* The health file (SMS_HEALTH_FILE), replaced whole so a reader never sees
 * half of it. A failure is logged at most once per report period. */
static void health_write(core_t *k, int64_t now) {
    if (k->cfg->health_file[0] == '\0') return;
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", k->cfg->health_file);
    FILE *f = fopen(tmp, "w");
    long long backlog = k->ops->backlog ? k->ops->backlog(k->ch) : -1;
    int ok = f != NULL;
    if (f) {
        /* detail is ours (no quotes or backslashes in it), so plain %s is JSON-safe */
        ok = fprintf(f,
                     "{\"service\":\"notify-%s\",\"state\":\"%s\",\"since\":%lld,\"updated_at\":%lld,"
                     "\"detail\":\"%s\",\"backlog\":%lld}\n",
                     k->ops->name, state_names[k->state], (long long)k->since, (long long)now, k->detail,
                     backlog) > 0;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok || rename(tmp, k->cfg->health_file) != 0)
        sms_log(SMS_LOG_WARN, "health_write_failed", "%s", k->cfg->health_file);
}

static void report(core_t *k, int64_t now) {
    if (k->state == ST_VIEW && now - k->last_view_log >= NOTIF_DELIVERY_REPORT_MS) {
        /* once per period, even if the state flaps (a view replaying in bursts) */
        k->last_view_log = now;
        sms_log(SMS_LOG_WARN, "view_not_ready", "%s; consumption paused for %lld ms so far", k->detail,
                (long long)(now - k->since));
    }
    else if (k->state == ST_REDIS)
        sms_log(SMS_LOG_WARN, "redis_unavailable", "still not reachable after %lld ms", (long long)(now - k->since));
    else if (k->state == ST_FULL)
        sms_log(SMS_LOG_WARN, "backlog_full", "%s; consumption paused for %lld ms so far", k->detail,
                (long long)(now - k->since));
    k->last_report = now;
    health_write(k, now);
}

static void set_state(core_t *k, state_t st, const char *detail) {
    int64_t now = sms_now_ms();
    if (st == k->state) return;
    if (k->state == ST_VIEW && now - k->since >= 1000)
        sms_log(SMS_LOG_INFO, "view_ready", "views built again after %lld ms; consuming", (long long)(now - k->since));
    k->state = st;
    k->since = now;
    snprintf(k->detail, sizeof k->detail, "%s", detail);
    report(k, now);
}

/* A connected Redis with the channel's scripts, or NULL (logged). */
static redisContext *redis_ready(core_t *k) {
    char err[256];
    if (k->rc && k->rc->err == 0) return k->rc;
    if (k->rc) redisFree(k->rc);
    k->rc = sms_redis_connect(k->cfg, err, sizeof err);
    if (k->rc && k->ops->redis_init(k->ch, k->rc, err, sizeof err) != 0) {
        redisFree(k->rc);
        k->rc = NULL;
    }
    if (k->rc == NULL) {
        /* Logged when it starts; report() repeats the state once per period. */
        if (k->state != ST_REDIS) sms_log(SMS_LOG_WARN, "redis_unavailable", "%s", err);
        set_state(k, ST_REDIS, "redis is not reachable");
    } else if (k->state == ST_REDIS) {
        set_state(k, ST_OK, "");
    }
    return k->rc;
}

/* Reads the built markers: ST_VIEW while one is missing. Returns 1 if
 * messages may be taken. */
static int views_ok(core_t *k, redisContext *rc) {
    const char *missing = NULL;
    int built = notif_delivery_views_built(rc, k->ops->views, &missing);
    if (built < 0) {
        rc->err = REDIS_ERR_IO; /* reconnect on the next round */
        return 0;
    }
    if (built == 0) {
        char d[200];
        snprintf(d, sizeof d, "view %s* is missing or being rebuilt (no %smeta built)", missing, missing);
        set_state(k, ST_VIEW, d);
        return 0;
    }
    if (k->state == ST_VIEW) set_state(k, ST_OK, "");
    return 1;
}

/* Points the partition back at m, so the next poll returns m again. */
static void rewind_to(sms_consumer_t *c, const rd_kafka_message_t *m) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset = m->offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(sms_consumer_rk(c), l, 5000);
    if (e) {
        sms_log(SMS_LOG_ERROR, "seek_failed", "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Pauses (or resumes) fetching from every assigned partition, so a long
 * wait for a view keeps polling (the group keeps this member: librdkafka
 * drops one that stops polling for max.poll.interval.ms) without fetching. */
static void set_paused(sms_consumer_t *c, bool pause) {
    rd_kafka_t *rk = sms_consumer_rk(c);
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t e = rd_kafka_assignment(rk, &l);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && l->cnt > 0)
        e = pause ? rd_kafka_pause_partitions(rk, l) : rd_kafka_resume_partitions(rk, l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) sms_log(SMS_LOG_WARN, "pause_failed", "%s", rd_kafka_err2str(e));
    if (l) rd_kafka_topic_partition_list_destroy(l);
}

/* 0: handled (offset stored); -1, NOTIF_DELIVERY_NOT_READY or
 * NOTIF_DELIVERY_FULL: not stored, to be handled again. */
static int handle(core_t *k, sms_consumer_t *c, const rd_kafka_message_t *m) {
    sms_event_t ev;
    bool decoded = sms_event_decode(m->payload, m->len, &ev) == SMS_OK;
    redisContext *rc = redis_ready(k);
    notif_delivery_pos_t pos = {rd_kafka_topic_name(m->rkt), m->partition, m->offset};
    int r = rc ? k->ops->handle(k->ch, rc, &pos, decoded ? &ev : NULL, sms_now_ms()) : -1;
    if (decoded) sms_event_close(&ev);
    sms_metric_inc(k->outcomes[r == 0                          ? OUT_DONE
                               : r == NOTIF_DELIVERY_HELD      ? OUT_HELD
                               : r == NOTIF_DELIVERY_NOT_READY ? OUT_NOT_READY
                               : r == NOTIF_DELIVERY_FULL      ? OUT_FULL
                                                               : OUT_FAILED]);
    if (r == NOTIF_DELIVERY_NOT_READY || r == NOTIF_DELIVERY_FULL) return r;
    if (r == NOTIF_DELIVERY_HELD) {
        part_handled(k, &pos, true);
        if (k->state == ST_FULL) set_state(k, ST_OK, "");
        return 0;
    }
    if (r != 0) {
        /* Reconnect before the next try: that also reloads the scripts a
         * FLUSHALL or a Redis restart dropped (NOSCRIPT). */
        if (k->rc) k->rc->err = REDIS_ERR_IO;
        return -1;
    }
    (void)c;
    part_handled(k, &pos, false);
    if (k->state == ST_FULL) set_state(k, ST_OK, "");
    return 0;
}

/* The main loop's own state between rounds. */
typedef struct loop_s {
    int64_t paused_until, next_view_check;
    int pause_ms, wait_ms;
    bool views_built, held;
} loop_t;

/* Acts on handle()'s answer r for m: rewinds and waits (not taken, or
 * failed: backoff) or resets the backoff. */
static void after_handle(core_t *k, loop_t *l, const rd_kafka_message_t *m, int r) {
    if (r == NOTIF_DELIVERY_NOT_READY || r == NOTIF_DELIVERY_FULL) {
        /* Not taken: wait without growing the backoff (nothing failed). */
        rewind_to(k->c, m);
        l->paused_until = sms_now_ms() + WAIT_PAUSE_MS;
        if (r == NOTIF_DELIVERY_NOT_READY) {
            l->views_built = false;
            set_state(k, ST_VIEW, "a view was missing or being rebuilt at a lookup");
        } else {
            set_state(k, ST_FULL, "the channel holds SMS_EMAIL_HELD_MAX items");
        }
    } else if (r != 0) {
        rewind_to(k->c, m);
        l->paused_until = sms_now_ms() + l->pause_ms;
        sms_log(SMS_LOG_WARN, "handle_failed", "offset %lld: handled again in %d ms", (long long)m->offset,
                l->pause_ms);
        l->pause_ms = l->pause_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : l->pause_ms * 2;
    } else {
        l->pause_ms = PAUSE_MIN_MS;
    }
}

/* One poll (unless backing off) and its message handled. */
static void loop_poll(core_t *k, loop_t *l, bool hold) {
    if (sms_now_ms() < l->paused_until) {
        /* Backing off (at most PAUSE_MAX_MS): heartbeats run in
         * librdkafka's threads; no message is taken until it ends. */
        sleep_ms(l->wait_ms < 50 ? l->wait_ms : 50);
        return;
    }
    rd_kafka_message_t *m = sms_consumer_poll(k->c, hold ? 50 : l->wait_ms < POLL_MAX_MS ? l->wait_ms : POLL_MAX_MS);
    if (m && m->err == 0 && hold) {
        /* From a partition assigned while paused: taken once the wait ends. */
        rewind_to(k->c, m);
        set_paused(k->c, true);
    } else if (m && m->err == 0) {
        after_handle(k, l, m, handle(k, k->c, m));
    }
    if (m) rd_kafka_message_destroy(m);
}

/* One round: the views' and Redis's state, a message, the channel's timers, the report. */
static void loop_once(core_t *k, loop_t *l) {
    int64_t now = sms_now_ms();
    redisContext *rc = redis_ready(k);
    if (rc && (now >= l->next_view_check || k->state != ST_OK)) {
        if (state_check(k, rc) != 0) rc->err = REDIS_ERR_IO;
        l->views_built = views_ok(k, rc) == 1;
        l->next_view_check = now + VIEW_CHECK_MS;
    }
    bool hold = rc == NULL || !l->views_built;
    if (hold != l->held) {
        set_paused(k->c, hold);
        l->held = hold;
    }
    loop_poll(k, l, hold);
    rc = redis_ready(k);
    l->wait_ms = rc ? k->ops->tick(k->ch, rc, sms_now_ms()) : POLL_MAX_MS;
    if (l->wait_ms < 0) {
        if (k->rc) k->rc->err = REDIS_ERR_IO; /* reconnect on the next round */
        l->wait_ms = POLL_MAX_MS;
    }
    now = sms_now_ms();
    if (now - k->last_report >= NOTIF_DELIVERY_REPORT_MS) {
        report(k, now);
        sms_kafka_lag_sample(&k->lag, sms_consumer_rk(k->c));
        if (k->ops->backlog) sms_metric_set(k->backlog, k->ops->backlog(k->ch));
    }
}

static void metrics_start(core_t *k) {
    char group[64];
    the_metrics = sms_metrics_new();
    for (int i = 0; i < 5; i++)
        k->outcomes[i] = sms_metrics_counter(the_metrics, "sms_delivery_messages_total",
                                             "Notifications a delivery consumer handled, by what its channel answered.",
                                             "channel", k->ops->name, "outcome", outcome_names[i], NULL);
    k->backlog = sms_metrics_gauge(the_metrics, "sms_delivery_backlog", "Items the channel holds waiting (-1: unknown).",
                                   "channel", k->ops->name, NULL);
    snprintf(group, sizeof group, "sms-notify-%s", k->ops->name);
    sms_kafka_lag_init(&k->lag, the_metrics, group, group);
}

/* The listener, once the consumer runs (SMS_METRICS_PORT; a taken port is logged, delivery goes on). */
static void metrics_listen(core_t *k) {
    if (k->cfg->metrics_port <= 0) return;
    int rc = sms_metrics_http_start(the_metrics, k->cfg->metrics_host, k->cfg->metrics_port, k->cfg->metrics_token,
                                    &k->http);
    if (rc != 0)
        sms_log(SMS_LOG_ERROR, "metrics_listen_failed", "%s:%d: %s", k->cfg->metrics_host, k->cfg->metrics_port,
                strerror(-rc));
    else
        sms_log(SMS_LOG_INFO, "metrics_listening", "http://%s:%d/metrics", k->cfg->metrics_host,
                sms_metrics_http_port(k->http));
}

static void metrics_stop(core_t *k) {
    sms_metrics_http_stop(k->http);
    k->http = NULL;
    sms_metrics_free(the_metrics);
    the_metrics = NULL;
}

/* The channel's consumer group, subscribed: 0, or -1 (logged). */
static int consumer_start(core_t *k) {
    char err[512], group[64];
    snprintf(group, sizeof group, "sms-notify-%s", k->ops->name);
    sms_consumer_opts_t co = {.group_id = group, .client_id = group, .offset_reset = "latest"};
    size_t n_topics = 0;
    while (k->ops->topics[n_topics]) n_topics++;
    if (sms_consumer_new(k->cfg, &co, &k->c, err, sizeof err) != 0 ||
        sms_consumer_subscribe_topics(k->c, k->ops->topics, n_topics) != 0) {
        sms_log(SMS_LOG_ERROR, "start_failed", "kafka: %s", err);
        return -1;
    }
    sms_log(SMS_LOG_INFO, "started", "group %s", group);
    return 0;
}

int notif_delivery_main(const notif_delivery_ops_t *ops, const sms_config_t *cfg) {
    char err[512];
    int rc_exit = 1;
    core_t k = {.ops = ops, .cfg = cfg, .state = ST_OK, .since = sms_now_ms()};
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    metrics_start(&k);
    k.ch = ops->open(cfg, err, sizeof err);
    if (k.ch == NULL) {
        sms_log(SMS_LOG_ERROR, "start_failed", "%s", err);
        metrics_stop(&k);
        return 1;
    }
    if (consumer_start(&k) != 0) goto out;
    metrics_listen(&k);
    the_core = &k;
    report(&k, sms_now_ms());
    loop_t l = {.pause_ms = PAUSE_MIN_MS, .wait_ms = POLL_MAX_MS};
    while (!stopping) loop_once(&k, &l);
    rc_exit = 0;
out:
    if (k.c) sms_consumer_free(k.c);
    the_core = NULL;
    for (size_t i = 0; i < k.n_parts; i++) {
        sms_free(k.parts[i].offs);
        sms_free(k.parts[i].done);
    }
    sms_free(k.parts);
    ops->close(k.ch);
    metrics_stop(&k);
    if (k.rc) redisFree(k.rc);
    sms_log(SMS_LOG_INFO, "stopped", "exit code %d", rc_exit);
    return rc_exit;
}

int notif_delivery_run(int argc, char **argv, const notif_delivery_ops_t *ops) {
    char err[256], name[64];
    sms_config_t cfg;
    if (argc > 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    snprintf(name, sizeof name, "notify-%s", ops->name);
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-%s: %s\n", name, err);
        return 2;
    }
    sms_log_init(name, cfg.log_level);
    return notif_delivery_main(ops, &cfg);
}
