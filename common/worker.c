/* worker.c - the command -> event -> view pipeline shared by every service
 * (see worker.h). Sections: decisions, the view tailer, the command batch,
 * the loop. */
#include "worker.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "id.h"
#include "kafka.h"
#include "log.h"
#include "msgpack_util.h"
#include "quarantine.h"
#include "redis.h"
#include "strmap.h"

#define TAIL_BATCH 512
#define MAX_TOPICS 8

/* The phases of a batch, timed for the stats line: dedupe + prefetch,
 * decide + produce, waiting for delivery reports, applying to the view,
 * replies + offsets. */
enum { PHASE_PREP, PHASE_DECIDE, PHASE_DURABLE, PHASE_APPLY, PHASE_REPLY, PHASE_COUNT };
static const char *const phase_names[PHASE_COUNT] = {"prep", "decide", "durable", "apply", "reply"};

typedef struct tail_topic_s {
    char name[128];
    int n_partitions;
    int64_t *next; /* per partition: next offset to apply */
} tail_topic_t;

typedef struct worker_s {
    const sms_worker_ops_t *ops;
    const sms_config_t *cfg;
    char prefix[64];          /* "sms:<service>:" */
    char commands_topic[128];
    char events_topic[128];
    sms_producer_t *producer;
    sms_consumer_t *commands;
    sms_consumer_t *tailer;
    redisContext *rc;
    tail_topic_t topics[MAX_TOPICS];
    size_t n_topics;
    bool need_catchup;
    /* Events this process applied right after producing them
     * ("<partition>:<offset>" of its own events topic): the tailer only
     * records their offsets instead of projecting them again. */
    sms_strmap_t self_applied;
    /* Commands whose decision was stale (see sms_decision_stale): decided
     * again after the tailer caught up; their offsets are already stored. */
    rd_kafka_message_t *deferred[SMS_WORKER_BATCH_MAX];
    size_t n_deferred;
    /* Where batch time goes, summed since the last stats line (µs). */
    uint64_t phase_us[PHASE_COUNT];
    uint64_t quarantined; /* events this process quarantined (the stats line; a metric later) */
    /* Set by read_replies: a reply was an error of the command itself (a
     * script error), not of Redis's state: the tailer then applies the batch
     * one event at a time to find and quarantine the event. */
    bool script_error;
    char last_error[SMS_QUARANTINE_REASON_MAX]; /* that error's text */
    char apply_failure[512]; /* why the tailer last failed, and at which event (a rebuild reports it) */
} worker_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* ---------------- decisions ---------------- */

void sms_decision_fail(sms_decision_t *d, int status, const char *code, const char *fmt, ...) {
    d->status = status;
    d->problem_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
}

void sms_decision_stale(sms_decision_t *d, int status, const char *code, const char *fmt, ...) {
    d->status = status;
    d->problem_code = code;
    d->stale = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
}

void sms_decision_error(sms_decision_t *d, const char *field, size_t field_len, const char *fmt, ...) {
    size_t limit = d->errors_limit == 0 || d->errors_limit > SMS_DECISION_MAX_ERRORS ? SMS_DECISION_MAX_ERRORS
                                                                                     : d->errors_limit;
    d->n_errors_total++;
    if (d->n_errors >= limit) return;
    if (d->n_errors == d->cap_errors) {
        d->cap_errors = d->cap_errors ? d->cap_errors * 2 : 4;
        d->errors = sms_realloc(d->errors, d->cap_errors * sizeof *d->errors);
    }
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t i = d->n_errors++;
    d->errors[i].field = sms_strndup(field, field_len > 64 ? 64 : field_len);
    d->errors[i].message = sms_strdup(message);
}

msgpack_packer sms_decision_event(sms_decision_t *d, const char *key) { return sms_decision_event_to(d, NULL, key); }

msgpack_packer sms_decision_event_to(sms_decision_t *d, const char *topic, const char *key) {
    msgpack_packer pk;
    if (d->n_events == d->cap_events) {
        size_t cap = d->cap_events ? d->cap_events * 2 : 4;
        d->events = sms_realloc(d->events, cap * sizeof *d->events);
        for (size_t i = d->cap_events; i < cap; i++) msgpack_sbuffer_init(&d->events[i].event);
        d->cap_events = cap;
    }
    sms_decision_event_t *e = &d->events[d->n_events++];
    msgpack_sbuffer_clear(&e->event);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->topic, sizeof e->topic, "%s", topic ? topic : "");
    msgpack_packer_init(&pk, &e->event, msgpack_sbuffer_write);
    return pk;
}

msgpack_packer sms_decision_event_head(sms_decision_t *d, const char *topic, const sms_command_t *cmd, int64_t now_ms,
                                       const char *type, int64_t version, sms_str_t aggregate) {
    char key[sizeof d->events[0].key], event_id[SMS_ID_SIZE];
    snprintf(key, sizeof key, "%.*s", (int)aggregate.len, aggregate.ptr);
    msgpack_packer pk = sms_decision_event_to(d, topic, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR(type), version, now_ms, cmd->actor, aggregate,
                        cmd->id);
    return pk;
}

msgpack_packer sms_decision_body(sms_decision_t *d) {
    msgpack_packer pk;
    msgpack_sbuffer_clear(&d->body);
    msgpack_packer_init(&pk, &d->body, msgpack_sbuffer_write);
    return pk;
}

void sms_decision_init(sms_decision_t *d) {
    memset(d, 0, sizeof *d);
    d->status = 500;
    msgpack_sbuffer_init(&d->body);
}

void sms_decision_close(sms_decision_t *d) {
    msgpack_sbuffer_destroy(&d->body);
    for (size_t i = 0; i < d->cap_events; i++) msgpack_sbuffer_destroy(&d->events[i].event);
    sms_free(d->events);
    for (size_t i = 0; i < d->n_errors; i++) {
        sms_free((char *)d->errors[i].field);
        sms_free((char *)d->errors[i].message);
    }
    sms_free(d->errors);
}

void sms_decision_move(sms_decision_t *dst, sms_decision_t *src) {
    sms_decision_close(dst);
    *dst = *src;
    memset(src, 0, sizeof *src); /* its buffers are dst's now: src needs sms_decision_init before reuse */
}

/* 503: certainly nothing was done (nothing of it was handed to Kafka). */
static void decision_not_done(sms_decision_t *d, const char *detail) {
    d->n_events = 0;
    sms_decision_fail(d, 503, "unavailable", "%s", detail);
}

/* 504: something of it may be in the log, so the client must not take the
 * failure as final; a retry with the same Idempotency-Key is answered with
 * the first outcome if it landed, and decided afresh if it did not. */
static void decision_outcome_unknown(sms_decision_t *d, const char *detail) {
    d->n_events = 0;
    sms_decision_fail(d, 504, "timeout", "%s", detail); /* the type the gateway gives every unknown outcome */
}

/* ---------------- the view tailer ---------------- */

static int self_key(char *buf, size_t cap, const char *topic, int32_t partition, int64_t offset) {
    int n = snprintf(buf, cap, "%s:%d:%lld", topic, partition, (long long)offset);
    return n < 0 ? 0 : (size_t)n < cap ? n : (int)cap - 1;
}

/* Where a decision's event is written: its own topic, or the service's. */
static const char *event_topic(const worker_t *w, const sms_decision_event_t *ev) {
    return ev->topic[0] ? ev->topic : w->events_topic;
}

static bool self_applied_take(worker_t *w, const char *topic, int32_t partition, int64_t offset) {
    if (w->self_applied.count == 0) return false;
    char key[192];
    int n = self_key(key, sizeof key, topic, partition, offset);
    return sms_strmap_del(&w->self_applied, key, (size_t)n) != NULL;
}

/* Whether this service writes topic itself (its events topic, own_topics). */
static bool own_topic(const worker_t *w, const char *topic) {
    if (strcmp(topic, w->events_topic) == 0) return true;
    for (const char *const *t = w->ops->own_topics; t && *t; t++)
        if (strcmp(*t, topic) == 0) return true;
    return false;
}

/* One event to project: its bytes and its place in the log (partition -1:
 * applied right after being produced); covered is set when what was
 * appended records its offset. */
typedef struct to_project_s {
    const void *data;
    size_t len;
    int32_t partition;
    int64_t offset;
    bool covered;
} to_project_t;

/* Decodes e into *ev and validates it. An event the view cannot apply is
 * quarantined (its commands added to *appended, e->covered set: they record
 * its offset) and true returned, ev then closed. Events applied right after
 * being produced were validated before producing (the same pure function),
 * so refusing one here means a bug: it is logged, and the tailer meets it
 * again with its position. */
static bool refuse_event(worker_t *w, const char *topic, to_project_t *e, sms_event_t *ev, size_t *appended) {
    char why[SMS_QUARANTINE_REASON_MAX + 16];
    bool decoded = sms_event_decode(e->data, e->len, ev) == SMS_ENV_OK;
    if (!decoded) snprintf(why, sizeof why, "undecodable: not an event envelope");
    else if (w->ops->validate == NULL || w->ops->validate(topic, ev, why, sizeof why) == 0) return false;
    if (e->partition >= 0) {
        *appended += sms_quarantine_append(w->rc, w->prefix, topic, e->partition, e->offset, decoded ? ev : NULL, why);
        e->covered = true;
        w->quarantined++;
    } else {
        sms_log(SMS_LOG_ERROR, "event_invalid_after_produce", "%s offset %lld: %s", topic, (long long)e->offset, why);
    }
    if (decoded) sms_event_close(ev);
    return true;
}

/* Appends the Redis commands projecting evs[0..n), all of topic, in log
 * order: SMS_WORKER_PROJECT_CHUNK at a time through project_many when the
 * service has it, else one project call each. Returns how many commands
 * were appended (the caller reads that many replies). */
static size_t project_run(worker_t *w, const char *topic, to_project_t *evs, size_t n) {
    const sms_worker_ops_t *ops = w->ops;
    sms_event_t *dec = sms_malloc(SMS_WORKER_PROJECT_CHUNK * sizeof *dec);
    int32_t parts[SMS_WORKER_PROJECT_CHUNK];
    int64_t offs[SMS_WORKER_PROJECT_CHUNK];
    size_t appended = 0;
    for (size_t at = 0; at < n; at += SMS_WORKER_PROJECT_CHUNK) {
        size_t m = n - at < SMS_WORKER_PROJECT_CHUNK ? n - at : SMS_WORKER_PROJECT_CHUNK, k = 0;
        for (size_t i = at; i < at + m; i++) {
            to_project_t *e = &evs[i];
            e->covered = false;
            if (refuse_event(w, topic, e, &dec[k], &appended)) continue;
            if (ops->project_many) {
                e->covered = true;
                parts[k] = e->partition;
                offs[k++] = e->offset;
                continue;
            }
            int a = ops->project(w->rc, topic, &dec[k], e->partition, e->offset);
            e->covered = a > 0;
            appended += (size_t)a;
            sms_event_close(&dec[k]);
        }
        if (k) appended += ops->project_many(w->rc, topic, dec, parts, offs, k);
        for (size_t i = 0; i < k; i++) sms_event_close(&dec[i]);
        /* Send each chunk now: Redis runs it while the next one is built, and
         * hiredis's output buffer stays small (it moves what is left after
         * every write, which is quadratic for a buffer of megabytes). The
         * replies are small and read by the caller. */
        int done = 0;
        while (!done && w->rc->err == 0)
            if (redisBufferWrite(w->rc, &done) != REDIS_OK) break;
    }
    sms_free(dec);
    return appended;
}

/* Reads n pipelined replies; -1 if any failed (all are read unless the
 * connection broke, so the pipeline stays in step). */
static int read_replies(worker_t *w, size_t n, const char *what);

static int redis_ok(worker_t *w, redisReply *r, const char *what) {
    if (r == NULL) {
        sms_log(SMS_LOG_ERROR, "redis_failed", "%s: %s", what, w->rc->errstr);
        return -1;
    }
    int rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
    if (rc) {
        sms_log(SMS_LOG_ERROR, "redis_error", "%s: %s", what, r->str);
        if (sms_quarantine_is_deterministic(r->str)) {
            w->script_error = true;
            snprintf(w->last_error, sizeof w->last_error, "projection failed: %s", r->str);
        }
    }
    freeReplyObject(r);
    return rc;
}

static int view_is_built(worker_t *w) {
    redisReply *r = redisCommand(w->rc, "HEXISTS %smeta built", w->prefix);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r) freeReplyObject(r);
        return -1;
    }
    int built = r->integer == 1;
    freeReplyObject(r);
    return built;
}

static int view_drop(worker_t *w) {
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(w->rc, "SCAN %s MATCH %s* COUNT 1000", cursor, w->prefix);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(w->rc, "UNLINK %b", keys->element[i]->str, keys->element[i]->len);
        int rc = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *d = NULL;
            if (redisGetReply(w->rc, (void **)&d) != REDIS_OK) rc = -1;
            if (d) freeReplyObject(d);
        }
        freeReplyObject(r);
        if (rc) return -1;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* Reads the recorded offsets and assigns every partition of every topic. */
static int tailer_assign(worker_t *w) {
    redisReply *r = redisCommand(w->rc, "HGETALL %soffsets", w->prefix);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t t = 0; t < w->n_topics; t++) {
        tail_topic_t *tt = &w->topics[t];
        for (int p = 0; p < tt->n_partitions; p++) {
            char field[160];
            snprintf(field, sizeof field, "%s:%d", tt->name, p);
            tt->next[p] = 0;
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                if (strcmp(r->element[i]->str, field) == 0) tt->next[p] = atoll(r->element[i + 1]->str);
            rd_kafka_topic_partition_list_add(l, tt->name, p)->offset = tt->next[p];
        }
    }
    freeReplyObject(r);
    rd_kafka_resp_err_t e = rd_kafka_assign(sms_consumer_rk(w->tailer), l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) sms_log(SMS_LOG_ERROR, "kafka_assign_failed", "%s", rd_kafka_err2str(e));
    return e ? -1 : 0;
}

static tail_topic_t *tail_topic(worker_t *w, const char *name) {
    for (size_t t = 0; t < w->n_topics; t++)
        if (strcmp(w->topics[t].name, name) == 0) return &w->topics[t];
    return NULL;
}

/* Whether msgs[i] is the last message of its topic and partition among msgs[0..n). */
static bool last_of_partition(rd_kafka_message_t *const *msgs, size_t n, size_t i) {
    for (size_t j = i + 1; j < n; j++)
        if (msgs[j]->partition == msgs[i]->partition &&
            (msgs[j]->rkt == msgs[i]->rkt ||
             strcmp(rd_kafka_topic_name(msgs[j]->rkt), rd_kafka_topic_name(msgs[i]->rkt)) == 0))
            return false;
    return true;
}

/* Seeks each topic and partition of msgs[0..n) back to its first message,
 * so they are fetched again. */
static void seek_back(rd_kafka_message_t *const *msgs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            if (msgs[j]->partition == msgs[i]->partition &&
                strcmp(rd_kafka_topic_name(msgs[j]->rkt), rd_kafka_topic_name(msgs[i]->rkt)) == 0)
                first = false;
        if (!first) continue;
        rd_kafka_resp_err_t e = rd_kafka_seek(msgs[i]->rkt, msgs[i]->partition, msgs[i]->offset, 5000);
        if (e) sms_log(SMS_LOG_ERROR, "kafka_seek_failed", "%s", rd_kafka_err2str(e));
    }
}

/* Applies one message on its own and reads the replies; an event whose
 * projection fails by itself (a script error) is quarantined. skip: it is
 * in the view already, only its offset is recorded. 0, or -1 if Redis
 * failed otherwise. */
static int apply_one(worker_t *w, rd_kafka_message_t *m, bool skip) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    to_project_t e = {m->payload, m->len, m->partition, m->offset, false};
    size_t appended = skip ? 0 : project_run(w, topic, &e, 1);
    if (!e.covered) appended += (size_t)sms_worker_append_position(w->rc, w->prefix, topic, m->partition, m->offset);
    w->script_error = false;
    if (read_replies(w, appended, "projection") == 0) return 0;
    if (!w->script_error || w->rc->err) return -1;
    sms_event_t ev;
    bool decoded = sms_event_decode(m->payload, m->len, &ev) == SMS_ENV_OK;
    char why[sizeof w->last_error];
    snprintf(why, sizeof why, "%s", w->last_error);
    appended = sms_quarantine_append(w->rc, w->prefix, topic, m->partition, m->offset, decoded ? &ev : NULL, why);
    if (decoded) sms_event_close(&ev);
    w->quarantined++;
    return read_replies(w, appended, "quarantine");
}

/* Applies up to TAIL_BATCH messages, waiting at most timeout_ms for the
 * first. Events this process applied right after producing them are only
 * passed over; consecutive events of one topic are projected together
 * (project_run). Returns how many, or -1 on a Redis failure. */
static int tailer_apply_some(worker_t *w, int timeout_ms) {
    rd_kafka_message_t *msgs[TAIL_BATCH];
    size_t n = 0;
    while (n < TAIL_BATCH) {
        rd_kafka_message_t *m = sms_consumer_poll(w->tailer, n == 0 ? timeout_ms : 0);
        if (m == NULL) break;
        msgs[n++] = m;
    }
    if (n == 0) return 0;
    to_project_t evs[TAIL_BATCH];
    size_t at_msg[TAIL_BATCH]; /* evs[k] is msgs[at_msg[k]] */
    bool covered[TAIL_BATCH] = {0}, skip[TAIL_BATCH] = {0};
    size_t appended = 0;
    for (size_t i = 0; i < n;) {
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        size_t m = 0, j = i;
        for (; j < n && strcmp(rd_kafka_topic_name(msgs[j]->rkt), topic) == 0; j++) {
            if (self_applied_take(w, topic, msgs[j]->partition, msgs[j]->offset)) { /* already in the view */
                skip[j] = true;
                continue;
            }
            at_msg[m] = j;
            evs[m++] = (to_project_t){msgs[j]->payload, msgs[j]->len, msgs[j]->partition, msgs[j]->offset, false};
        }
        appended += project_run(w, topic, evs, m);
        for (size_t k = 0; k < m; k++) covered[at_msg[k]] = evs[k].covered;
        i = j;
    }
    /* Offsets nothing appended records: only the last message of each
     * partition matters (the recorded offset is the next one to apply, and
     * these commands run after every projection above). */
    for (size_t i = 0; i < n; i++) {
        if (covered[i] || !last_of_partition(msgs, n, i)) continue;
        appended += (size_t)sms_worker_append_position(w->rc, w->prefix, rd_kafka_topic_name(msgs[i]->rkt),
                                                       msgs[i]->partition, msgs[i]->offset);
    }
    w->script_error = false;
    int rc = read_replies(w, appended, "projection") == 0 ? (int)n : -1;
    if (rc < 0 && w->script_error && w->rc->err == 0) {
        /* One event's projection fails by itself: find it by applying the
         * batch again one event at a time (projections are idempotent, so
         * what the failed pipeline applied already is applied once), and
         * quarantine it; the rest of the log goes on. */
        sms_log(SMS_LOG_WARN, "projection_retry_each", "a script failed in a batch of %zu events; applying them one by one", n);
        rc = (int)n;
        for (size_t i = 0; i < n && rc >= 0; i++)
            if (apply_one(w, msgs[i], skip[i]) != 0) rc = -1;
    }
    if (rc < 0) {
        seek_back(msgs, n); /* fetched again once Redis is back: none may be passed over */
        snprintf(w->apply_failure, sizeof w->apply_failure, "applying %s[%d] from offset %lld failed: %s",
                 rd_kafka_topic_name(msgs[0]->rkt), msgs[0]->partition, (long long)msgs[0]->offset,
                 w->rc->err ? w->rc->errstr : w->last_error[0] ? w->last_error : "a Redis error");
    }
    if (rc >= 0)
        for (size_t i = 0; i < n; i++) {
            tail_topic_t *tt = tail_topic(w, rd_kafka_topic_name(msgs[i]->rkt));
            if (tt && msgs[i]->partition < tt->n_partitions) tt->next[msgs[i]->partition] = msgs[i]->offset + 1;
        }
    for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
    return rc;
}

/* Applies until every partition reached the high watermark read at the
 * start (one ListOffsets request for all). foreign_only: only the topics
 * other services write (see own_topics in worker.h). */
static int tailer_catch_up_to_end(worker_t *w, bool progress, bool foreign_only) {
    rd_kafka_t *rk = sms_consumer_rk(w->tailer);
    int64_t *hw[MAX_TOPICS] = {0};
    int64_t total = 0, done = 0;
    int rc = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(32);
    for (size_t t = 0; t < w->n_topics; t++) {
        tail_topic_t *tt = &w->topics[t];
        hw[t] = sms_calloc((size_t)tt->n_partitions, sizeof *hw[t]); /* 0: never behind */
        if (foreign_only && own_topic(w, tt->name)) continue;
        for (int p = 0; p < tt->n_partitions; p++) rd_kafka_topic_partition_list_add(l, tt->name, p);
    }
    /* At start-up (progress) the topics may be seconds old on a busy broker,
     * their leaders still settling: wait longer then than between batches. */
    if (l->cnt && sms_kafka_high_watermarks(rk, l, progress ? 30000 : 5000) != 0) { rc = -1; goto out; }
    for (int i = 0; i < l->cnt; i++) {
        tail_topic_t *tt = tail_topic(w, l->elems[i].topic);
        int32_t p = l->elems[i].partition;
        if (tt == NULL || p >= tt->n_partitions) continue;
        hw[tt - w->topics][p] = l->elems[i].offset;
        total += l->elems[i].offset > tt->next[p] ? l->elems[i].offset - tt->next[p] : 0;
    }
    uint64_t started = sms_mono_ms(), last_report = started;
    for (;;) {
        bool behind = false;
        for (size_t t = 0; t < w->n_topics; t++)
            for (int p = 0; p < w->topics[t].n_partitions; p++)
                if (w->topics[t].next[p] < hw[t][p]) behind = true;
        if (!behind || stop_requested) break;
        int n = tailer_apply_some(w, 100);
        if (n < 0) { rc = -1; goto out; }
        done += n;
        if (progress && sms_mono_ms() - last_report >= 1000) {
            last_report = sms_mono_ms();
            sms_log(SMS_LOG_INFO, "catch_up_progress", "%lld/%lld events", (long long)done, (long long)total);
        }
    }
    if (progress)
        sms_log(SMS_LOG_INFO, "caught_up", "%lld events applied in %llu ms", (long long)done,
                (unsigned long long)(sms_mono_ms() - started));
out:
    rd_kafka_topic_partition_list_destroy(l);
    for (size_t t = 0; t < w->n_topics; t++) sms_free(hw[t]);
    return rc;
}

static int read_replies(worker_t *w, size_t n, const char *what) {
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        redisReply *r = NULL;
        if (redisGetReply(w->rc, (void **)&r) != REDIS_OK) r = NULL;
        if (redis_ok(w, r, what) != 0) rc = -1;
        if (r == NULL && w->rc->err) break;
    }
    return rc;
}

/* Marks the view built only if the token written when this rebuild began is
 * still there: a wipe during the replay (FLUSHALL, sms-admin rebuild-views)
 * removes it, and the replay must then start over rather than declare a
 * half-built view complete. */
static const char mark_built_script[] =
    "if redis.call('HGET', KEYS[1], 'rebuilding') ~= ARGV[1] then return 0 end\n"
    "redis.call('HDEL', KEYS[1], 'rebuilding', 'rebuild_error')\n"
    "redis.call('HSET', KEYS[1], 'built', '1')\n"
    "return 1\n";

/* A rebuild that could not finish says why and where, in its log and in
 * meta rebuild_error (sms-admin rebuild-views prints it) when Redis takes
 * writes; the view keeps no built marker, so nothing serves it as whole. */
static void report_rebuild_failure(worker_t *w) {
    const char *why = w->apply_failure[0] ? w->apply_failure
                      : w->rc && w->rc->err ? w->rc->errstr
                                            : "Redis or Kafka could not be read (see the lines above)";
    sms_log(SMS_LOG_ERROR, "view_rebuild_failed", "%s; retrying", why);
    if (w->rc == NULL || w->rc->err) return;
    redisReply *r = redisCommand(w->rc, "HSET %smeta rebuild_error %s", w->prefix, why);
    if (r) freeReplyObject(r);
}

static int tailer_rebuild(worker_t *w) {
    for (int attempt = 1; !stop_requested; attempt++) {
        sms_log(SMS_LOG_INFO, "view_rebuild", "dropping %s* and replaying the log from offset 0 (attempt %d)",
                w->prefix, attempt);
        sms_strmap_close(&w->self_applied); /* nothing is in the view any more */
        sms_strmap_init(&w->self_applied);
        char token[32];
        snprintf(token, sizeof token, "%d-%llu", (int)getpid(), (unsigned long long)sms_mono_us());
        w->apply_failure[0] = '\0';
        if (view_drop(w) != 0 ||
            redis_ok(w, redisCommand(w->rc, "HSET %smeta rebuilding %s", w->prefix, token), "rebuild token") != 0 ||
            tailer_assign(w) != 0 || tailer_catch_up_to_end(w, true, false) != 0) {
            report_rebuild_failure(w);
            return -1;
        }
        redisReply *r = redisCommand(w->rc, "EVAL %s 1 %smeta %s", mark_built_script, w->prefix, token);
        if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
            redis_ok(w, r, "mark built");
            return -1;
        }
        long long marked = r->integer;
        freeReplyObject(r);
        if (marked) return 0;
        sms_log(SMS_LOG_WARN, "view_wiped_during_rebuild", "%s* was wiped while replaying; starting over", w->prefix);
    }
    return -1;
}

/* Makes the view hold the whole log: rebuilds it when the built marker is
 * missing; otherwise applies what is new. first: position the tailer too. */
static int tailer_catch_up(worker_t *w, bool first) {
    int built = view_is_built(w);
    if (built < 0) return -1;
    if (!built && !first) {
        /* Another instance of this service may be replaying already: starting a
         * second replay would wipe its progress (and it ours). Wait for it.
         * An instance that starts always rebuilds, so a replay whose instance
         * died is finished by the next one to start. */
        redisReply *r = redisCommand(w->rc, "HEXISTS %smeta rebuilding", w->prefix);
        bool other = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r) freeReplyObject(r);
        if (other) {
            usleep(200 * 1000);
            return -1;
        }
    }
    if (!built) return tailer_rebuild(w);
    if (first && tailer_assign(w) != 0) return -1;
    return tailer_catch_up_to_end(w, first, false);
}

/* ---------------- the command batch ---------------- */

struct item_s;
/* The delivery callback's opaque of one event: its item and its index. */
typedef struct ev_dr_s {
    struct item_s *it;
    size_t index;
} ev_dr_t;

typedef struct item_s {
    rd_kafka_message_t *msg;
    bool decoded;
    bool deferred;              /* decided again after a catch-up (worker_t.deferred) */
    bool source;                /* an event of a source topic (fan-out), in src; cmd is unused */
    bool answer_only;           /* undecodable: cmd holds only id and reply_to, d the error */
    bool retry;                 /* source whose events are not all durable: fetched again */
    sms_event_t src;
    sms_command_t cmd;
    sms_decision_t d;
    char *replay_summary;       /* handled before: answer from the view */
    size_t n_produced;
    size_t n_reported;          /* delivery reports received, failed or not */
    size_t n_delivered;
    int dr_err;
    /* per event (n_events long): the callback's opaque, where it landed,
     * whether it is durable, whether it is in the view (fan-out: applied as
     * soon as durable) */
    ev_dr_t *drs;
    int32_t *partitions;
    int64_t *offsets;
    bool *durable;
    bool *applied;
} item_t;

/* The producer's delivery callback: events carry an ev_dr_t, replies NULL. */
static void on_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    ev_dr_t *dr = opaque;
    if (dr == NULL) return;
    item_t *it = dr->it;
    it->n_reported++;
    if (err) {
        it->dr_err = err;
        return;
    }
    it->partitions[dr->index] = partition;
    it->offsets[dr->index] = offset;
    it->durable[dr->index] = true;
    it->n_delivered++;
}

/* Appends the projection of it's durable events not applied yet, once there
 * are a chunk's worth of them or (all) every event was reported. A fan-out
 * of thousands is thus applied while its later events are still on their
 * way to the broker. Each event is in the view only once durable, so the
 * view stays a function of the log whatever happens to the rest. Returns
 * the number of commands appended. */
static size_t apply_durable(worker_t *w, item_t *it, bool all) {
    size_t ready = 0;
    for (size_t e = 0; e < it->d.n_events; e++) ready += it->durable[e] && !it->applied[e];
    if (ready == 0 || (ready < SMS_WORKER_PROJECT_CHUNK && !all && it->n_reported < it->n_produced)) return 0;
    to_project_t *run = sms_malloc(ready * sizeof *run);
    size_t appended = 0;
    for (size_t e = 0; e < it->d.n_events;) {
        /* consecutive ready events of one topic, projected together */
        if (!it->durable[e] || it->applied[e]) { e++; continue; }
        const char *topic = event_topic(w, &it->d.events[e]);
        size_t m = 0;
        for (; e < it->d.n_events && strcmp(event_topic(w, &it->d.events[e]), topic) == 0; e++) {
            if (!it->durable[e] || it->applied[e]) continue;
            it->applied[e] = true;
            run[m++] = (to_project_t){it->d.events[e].event.data, it->d.events[e].event.size, -1, it->offsets[e], false};
        }
        appended += project_run(w, topic, run, m);
    }
    sms_free(run);
    return appended;
}

static void send_reply(worker_t *w, item_t *it) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const sms_decision_t *d = &it->d;
    sms_str_t loc = SMS_STR(d->location);
    sms_reply_pack_head(&pk, it->cmd.id, d->status, loc);
    if (d->status >= 400)
        sms_problem_pack(&pk, d->status, d->problem_code ? d->problem_code : "error", d->detail[0] ? d->detail : NULL,
                         d->errors, d->n_errors);
    else if (d->body.size)
        msgpack_sbuffer_write(&sb, d->body.data, d->body.size);
    else
        msgpack_pack_map(&pk, 0);
    sms_reply_pack_tail(&pk, loc);
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)it->cmd.reply_to.len, it->cmd.reply_to.ptr);
    int rc;
    while ((rc = sms_producer_send(w->producer, topic, it->cmd.id, sb.data, sb.size, it->cmd.traceparent, NULL)) ==
           SMS_KAFKA_EQUEUE)
        sms_producer_poll(w->producer, 10);
    msgpack_sbuffer_destroy(&sb);
}

static bool valid_reply_topic(sms_str_t t) {
    return t.len > 12 && t.len < 250 && memcmp(t.ptr, "sms.replies.", 12) == 0;
}

/* A source event whose events were not all durable is fetched again (its
 * partition is rewound to it), and nothing after it in its partition is
 * stored: the position must not pass it. Returns whether m is held back. */
static bool source_retried(item_t *items, size_t n, const rd_kafka_message_t *m) {
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *f = items[i].msg;
        if (!items[i].retry || f->rkt != m->rkt || f->partition != m->partition || m->offset < f->offset) continue;
        if (m == f) { /* the first failure of its partition rewinds it */
            bool first = true;
            for (size_t j = 0; j < i; j++)
                if (items[j].retry && items[j].msg->rkt == f->rkt && items[j].msg->partition == f->partition) first = false;
            rd_kafka_resp_err_t e = first ? rd_kafka_seek(f->rkt, f->partition, f->offset, 5000) : 0;
            if (e) sms_log(SMS_LOG_ERROR, "kafka_seek_failed", "%s", rd_kafka_err2str(e));
        }
        return true;
    }
    return false;
}

/* Looks up every command id in <prefix>cmds (one pipeline); fills
 * replay_summary. *built: whether the view's built marker was there first. */
static int dedupe(worker_t *w, item_t *items, size_t n, bool *built) {
    redisAppendCommand(w->rc, "HEXISTS %smeta built", w->prefix);
    for (size_t i = 0; i < n; i++)
        if (items[i].decoded) redisAppendCommand(w->rc, "HGET %scmds %b", w->prefix, items[i].cmd.id.ptr, items[i].cmd.id.len);
    redisReply *m = NULL;
    if (redisGetReply(w->rc, (void **)&m) != REDIS_OK || m == NULL) {
        sms_log(SMS_LOG_ERROR, "redis_failed", "dedupe: %s", w->rc->errstr);
        return -1;
    }
    *built = m->type == REDIS_REPLY_INTEGER && m->integer == 1;
    freeReplyObject(m);
    for (size_t i = 0; i < n; i++) {
        if (!items[i].decoded) continue;
        redisReply *r = NULL;
        if (redisGetReply(w->rc, (void **)&r) != REDIS_OK || r == NULL) {
            sms_log(SMS_LOG_ERROR, "redis_failed", "dedupe: %s", w->rc->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_STRING) items[i].replay_summary = sms_strndup(r->str, r->len);
        freeReplyObject(r);
    }
    return 0;
}

/* Whether every event of d passes the service's validator, the one its
 * projection applies (worker.h: validate): an event the view would refuse
 * is never written. Logs the first refused one. */
static bool decision_events_valid(worker_t *w, const sms_decision_t *d) {
    if (w->ops->validate == NULL) return true;
    for (size_t e = 0; e < d->n_events; e++) {
        const sms_decision_event_t *de = &d->events[e];
        sms_event_t ev;
        char why[SMS_QUARANTINE_REASON_MAX];
        int bad = sms_event_decode(de->event.data, de->event.size, &ev) != SMS_ENV_OK;
        if (bad) snprintf(why, sizeof why, "not an event envelope");
        else {
            bad = w->ops->validate(event_topic(w, de), &ev, why, sizeof why) != 0;
            sms_event_close(&ev);
        }
        if (bad) {
            sms_log(SMS_LOG_ERROR, "decision_event_invalid", "event %zu of %zu to %s refused before producing: %s", e + 1,
                    d->n_events, event_topic(w, de), why);
            return false;
        }
    }
    return true;
}

/* A command this service cannot decode: answered at once with a 400 when
 * its id and reply topic can still be read (the client then learns why
 * instead of waiting for a timeout), else logged and passed over. */
static void answer_undecodable(item_t *it) {
    const rd_kafka_message_t *m = it->msg;
    sms_str_t id, reply_to;
    if (sms_command_peek(m->payload, m->len, &id, &reply_to) != SMS_ENV_OK || !valid_reply_topic(reply_to) ||
        id.len == 0) {
        sms_log(SMS_LOG_WARN, "command_undecodable", "partition %d offset %lld: no id or reply topic; skipped",
                m->partition, (long long)m->offset);
        return;
    }
    sms_log(SMS_LOG_WARN, "command_undecodable", "partition %d offset %lld (%.*s): answered 400", m->partition,
            (long long)m->offset, (int)id.len, id.ptr);
    it->cmd.id = id;
    it->cmd.reply_to = reply_to;
    it->answer_only = true;
    sms_decision_fail(&it->d, 400, "command_undecodable",
                      "the service could not decode this command (is the body nested too deeply?); nothing was done");
}

static bool is_source_topic(const worker_t *w, const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    for (const char *const *t = w->ops->source_topics; t && *t; t++)
        if (strcmp(*t, topic) == 0) return true;
    return false;
}

/* Handles msgs[0..n). Returns 0 having destroyed them, or -1 if the view
 * could not be read (nothing was done; the caller rewinds). */
static int handle_batch(worker_t *w, rd_kafka_message_t **msgs, size_t n, bool second_try) {
    const sms_worker_ops_t *ops = w->ops;
    item_t *items = sms_calloc(n, sizeof *items);
    const sms_command_t **fresh = sms_calloc(n, sizeof *fresh);
    size_t n_fresh = 0;
    void *state = NULL;
    sms_command_batch_t *table_batch = NULL;
    int rc = 0;
    uint64_t t0 = sms_mono_us(), t1;
    uint64_t batch_phase[PHASE_COUNT];
    memcpy(batch_phase, w->phase_us, sizeof batch_phase);
    sms_strmap_t in_batch; /* command id -> first item deciding it in this batch */
    sms_strmap_init(&in_batch);
    size_t n_sources = 0;

    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        it->msg = msgs[i];
        sms_decision_init(&it->d);
        if (is_source_topic(w, msgs[i])) {
            char why[SMS_QUARANTINE_REASON_MAX];
            const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
            if (sms_event_decode(msgs[i]->payload, msgs[i]->len, &it->src) != SMS_ENV_OK) {
                snprintf(why, sizeof why, "not an event envelope");
            } else if (ops->validate && ops->validate(topic, &it->src, why, sizeof why) != 0) {
                sms_event_close(&it->src);
            } else {
                it->source = true;
                n_sources++;
                continue;
            }
            /* Deciding it again would refuse it again: passed over (its offset is
             * stored with the batch), once, at error level. */
            sms_log(SMS_LOG_ERROR, "source_event_refused", "%s[%d] offset %lld passed over: %s", topic,
                    msgs[i]->partition, (long long)msgs[i]->offset, why);
            continue;
        }
        if (sms_command_decode(msgs[i]->payload, msgs[i]->len, &it->cmd) != SMS_ENV_OK ||
            !valid_reply_topic(it->cmd.reply_to)) {
            if (it->cmd.data) sms_command_close(&it->cmd);
            answer_undecodable(it);
            continue;
        }
        it->decoded = true;
    }
    bool built_before = false;
    if (dedupe(w, items, n, &built_before) != 0) { rc = -1; goto cleanup; }
    /* Who hears of a source event depends on facts learned from other topics
     * (a roster): everything acknowledged before it was written is in them. */
    if (n_sources && tailer_catch_up_to_end(w, false, true) != 0) { rc = -1; goto cleanup; }
    for (size_t i = 0; i < n; i++)
        if (items[i].decoded && !items[i].replay_summary) fresh[n_fresh++] = &items[i].cmd;
    if (ops->commands) {
        table_batch = sms_command_batch_begin(ops->commands, w->rc, fresh, n_fresh);
        state = table_batch ? sms_command_batch_state(table_batch) : NULL;
    } else {
        state = ops->batch_begin(w->rc, fresh, n_fresh);
    }
    if (state == NULL) { rc = -1; goto cleanup; }
    /* Decide only on reads of a whole view: a drop (sms-admin rebuild-views,
     * FLUSHALL) removes the marker before any key, and a replay sets it only
     * once whole, so the marker there before and after the reads means none
     * of them saw a view being emptied or refilled (a fan-out would reach an
     * empty roster). Otherwise the batch is fetched again after the rebuild. */
    if (!built_before || view_is_built(w) != 1) {
        sms_log(SMS_LOG_WARN, "view_not_built", "the view is being dropped or rebuilt; the batch waits for it");
        w->need_catchup = true;
        rc = -1;
        goto cleanup;
    }

    t1 = sms_mono_us();
    w->phase_us[PHASE_PREP] += t1 - t0;
    t0 = t1;
    int64_t now = sms_now_ms();
    size_t produced = 0, appended = 0; /* appended: Redis commands whose replies are read below */
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (it->source) {
            w->ops->fan_out(state, rd_kafka_topic_name(it->msg->rkt), &it->src, &it->d);
            it->retry = it->d.status >= 500; /* could not decide (Redis): fetched again */
            goto produce;
        }
        if (!it->decoded || it->replay_summary) continue;
        /* The same command twice in one batch: the second is a replay of the first. */
        if (sms_strmap_get(&in_batch, it->cmd.id.ptr, it->cmd.id.len)) {
            it->replay_summary = sms_strdup("");
            continue;
        }
        sms_strmap_put(&in_batch, it->cmd.id.ptr, it->cmd.id.len, it);
        if (table_batch) sms_command_batch_decide(table_batch, &it->cmd, now, &it->d);
        else ops->decide(state, &it->cmd, now, &it->d);
        if (it->d.stale && it->d.n_events == 0 && !second_try && w->n_deferred < SMS_WORKER_BATCH_MAX) {
            it->deferred = true;
            w->deferred[w->n_deferred++] = it->msg;
            continue;
        }
    produce:
        if (it->d.n_events && !decision_events_valid(w, &it->d)) {
            it->d.n_events = 0;
            if (it->source) { /* deciding it again would give the same events: passed over, logged */
                it->d.status = 200;
                it->retry = false;
            } else {
                sms_decision_fail(&it->d, 500, "internal",
                                  "the service decided an event its own view would refuse; nothing was done");
            }
        }
        if (it->d.n_events) {
            size_t ne = it->d.n_events;
            it->drs = sms_malloc(ne * sizeof *it->drs);
            it->partitions = sms_calloc(ne, sizeof *it->partitions);
            it->offsets = sms_calloc(ne, sizeof *it->offsets);
            it->durable = sms_calloc(ne, sizeof *it->durable);
            it->applied = sms_calloc(ne, sizeof *it->applied);
        }
        for (size_t e = 0; e < it->d.n_events; e++) {
            sms_decision_event_t *ev = &it->d.events[e];
            it->drs[e] = (ev_dr_t){it, e};
            int prc;
            while ((prc = sms_producer_send(w->producer, event_topic(w, ev), SMS_STR(ev->key), ev->event.data,
                                            ev->event.size, it->cmd.traceparent, &it->drs[e])) == SMS_KAFKA_EQUEUE)
                sms_producer_poll(w->producer, 10);
            if (prc != 0) {
                it->dr_err = -1; /* answered 503 below */
                break;
            }
            it->n_produced++;
            produced++;
            if (it->source && e % SMS_WORKER_PROJECT_CHUNK == SMS_WORKER_PROJECT_CHUNK - 1) {
                /* a long fan-out: serve the reports that came in, apply what is durable */
                sms_producer_poll(w->producer, 0);
                appended += apply_durable(w, it, false);
            }
        }
        if (it->d.n_events && ops->overlay && !it->source) ops->overlay(state, &it->cmd, &it->d);
    }

    t1 = sms_mono_us();
    w->phase_us[PHASE_DECIDE] += t1 - t0;
    t0 = t1;
    /* Wait for every event's delivery report (fan-outs are applied as they
     * come in: apply_durable). */
    uint64_t deadline = sms_mono_ms() + 30000;
    while (produced) {
        size_t waiting = 0;
        for (size_t i = 0; i < n; i++) waiting += items[i].n_produced - items[i].n_reported;
        if (waiting == 0) break;
        if (sms_mono_ms() >= deadline) {
            /* Reports may still come for these items: flush (waits for all of
             * them) so none arrives after they are freed. */
            sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "%zu events not acknowledged within 30 s", waiting);
            if (sms_producer_flush(w->producer, 60000) != 0)
                sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "still not acknowledged after 90 s");
            break;
        }
        sms_producer_poll(w->producer, 2);
        for (size_t i = 0; i < n; i++)
            if (items[i].source && items[i].n_produced) appended += apply_durable(w, &items[i], false);
    }
    for (size_t i = 0; i < n; i++) /* what is durable of a fan-out is in the view, even if the rest failed */
        if (items[i].source && items[i].n_produced) appended += apply_durable(w, &items[i], true);
    t1 = sms_mono_us();
    w->phase_us[PHASE_DURABLE] += t1 - t0;
    t0 = t1;

    /* Apply what is durable. What is not is answered 503: if it did land,
     * the tailer applies it, and a retry with the same key finds it. */
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->n_produced && !it->dr_err) continue;
        if (it->dr_err || it->n_delivered != it->d.n_events) {
            sms_log(SMS_LOG_ERROR, "event_not_durable", "%s",
                    it->dr_err > 0 ? rd_kafka_err2str((rd_kafka_resp_err_t)it->dr_err) : "not sent");
            if (it->n_produced == 0)
                decision_not_done(&it->d, "the change could not be handed to Kafka; nothing was done; retry");
            else /* a failed delivery report does not prove the broker did not write it */
                decision_outcome_unknown(&it->d, "the change was not acknowledged by Kafka and may or may not be "
                                                 "saved; retry with the same Idempotency-Key");
            it->n_produced = 0;
            it->retry = it->source;
            continue;
        }
        if (it->source) continue; /* applied above */
        /* Consecutive events of one topic are projected together. */
        to_project_t *run = sms_malloc(it->d.n_events * sizeof *run);
        for (size_t e = 0; e < it->d.n_events;) {
            const char *topic = event_topic(w, &it->d.events[e]);
            size_t m = 0;
            for (; e < it->d.n_events && strcmp(event_topic(w, &it->d.events[e]), topic) == 0; e++)
                run[m++] = (to_project_t){it->d.events[e].event.data, it->d.events[e].event.size, -1, it->offsets[e], false};
            appended += project_run(w, topic, run, m);
        }
        sms_free(run);
    }
    bool view_failed = read_replies(w, appended, "apply") != 0;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->n_produced) continue;
        if (view_failed) {
            /* Durable but maybe not visible: the tailer applies it once Redis is back. */
            decision_outcome_unknown(&it->d, "the change is saved but not visible yet; retry with the same "
                                             "Idempotency-Key for its result");
            continue;
        }
        /* The tailer passes over these positions instead of projecting them again. */
        for (size_t e = 0; e < it->d.n_events; e++) {
            char key[192];
            int kn = self_key(key, sizeof key, event_topic(w, &it->d.events[e]), it->partitions[e], it->offsets[e]);
            sms_strmap_put(&w->self_applied, key, (size_t)kn, w);
        }
    }

    t1 = sms_mono_us();
    w->phase_us[PHASE_APPLY] += t1 - t0;
    t0 = t1;

    /* Replays are answered from the view, after this batch's own changes are in it. */
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->replay_summary) continue;
        const char *summary = it->replay_summary;
        char *fetched = NULL;
        if (*summary == '\0') { /* duplicate within this batch: its summary is in the view now */
            redisReply *r = redisCommand(w->rc, "HGET %scmds %b", w->prefix, it->cmd.id.ptr, it->cmd.id.len);
            if (r && r->type == REDIS_REPLY_STRING) fetched = sms_strndup(r->str, r->len);
            if (r) freeReplyObject(r);
            summary = fetched;
        }
        if (summary && ops->commands) sms_command_replay(ops->commands, w->rc, &it->cmd, summary, &it->d);
        else if (summary && ops->replay_cmd) ops->replay_cmd(w->rc, &it->cmd, summary, &it->d);
        else if (summary) ops->replay(w->rc, summary, &it->d);
        else decision_outcome_unknown(&it->d, "the first copy of this command did not complete; retry with the same "
                                             "Idempotency-Key");
        sms_free(fetched);
    }

    for (size_t i = 0; i < n; i++)
        if ((items[i].decoded && !items[i].deferred) || items[i].answer_only) send_reply(w, &items[i]);
    sms_producer_poll(w->producer, 0);
    /* A second try's offsets were stored with its first; storing them again
     * could move the committed position back behind later batches. */
    if (!second_try)
        for (size_t i = 0; i < n; i++)
            if (!source_retried(items, n, msgs[i])) sms_consumer_store(w->commands, msgs[i]);
    w->phase_us[PHASE_REPLY] += sms_mono_us() - t0;
    if (n_sources) {
        /* A fan-out is one batch: where its time went, one line per batch. */
        size_t n_events = 0;
        for (size_t i = 0; i < n; i++) n_events += items[i].source ? items[i].n_produced : 0;
        char phases[256];
        size_t off = 0;
        for (int ph = 0; ph < PHASE_COUNT; ph++) {
            int k = snprintf(phases + off, sizeof phases - off, "%s%s %.2f", ph ? ", " : "", phase_names[ph],
                             (double)(w->phase_us[ph] - batch_phase[ph]) / 1000.0);
            if (k > 0 && (size_t)k < sizeof phases - off) off += (size_t)k;
        }
        sms_log(SMS_LOG_INFO, "fan_out", "%zu source events -> %zu events (ms: %s)", n_sources, n_events, phases);
    }

cleanup:
    if (table_batch) sms_command_batch_end(table_batch);
    else if (state) ops->batch_end(state);
    for (size_t i = 0; i < n; i++) {
        sms_decision_close(&items[i].d);
        sms_free(items[i].drs);
        sms_free(items[i].partitions);
        sms_free(items[i].offsets);
        sms_free(items[i].durable);
        sms_free(items[i].applied);
        if (items[i].decoded) sms_command_close(&items[i].cmd);
        if (items[i].source) sms_event_close(&items[i].src);
        sms_free(items[i].replay_summary);
        if (rc == 0 && !items[i].deferred) rd_kafka_message_destroy(msgs[i]);
    }
    sms_strmap_close(&in_batch);
    sms_free(fresh);
    sms_free(items);
    return rc;
}

/* ---------------- helpers for project_many ---------------- */

size_t sms_positions_collect(sms_positions_t *p, const int32_t *partitions, const int64_t *offsets, size_t n) {
    p->k = 0;
    for (size_t i = 0; i < n; i++) {
        if (partitions[i] < 0) continue;
        size_t j = 0;
        while (j < p->k && p->partition[j] != partitions[i]) j++;
        if (j == SMS_POSITIONS_MAX) return i;
        if (j == p->k) p->partition[p->k++] = partitions[i];
        p->next[j] = offsets[i] + 1; /* in log order: the last one of a partition is its largest */
    }
    return n;
}

int sms_worker_append_position(redisContext *rc, const char *prefix, const char *topic, int32_t partition,
                               int64_t offset) {
    redisAppendCommand(rc, "HSET %soffsets %s:%d %lld", prefix, topic, partition, (long long)offset + 1);
    return 1;
}

/* ---------------- the periodic tick ---------------- */

/* Runs ops->tick once (see worker.h): its events are produced, waited for,
 * applied once durable and marked for the tailer to pass over. Returns 0,
 * or -1 if the view could not be caught up or written (tried next period;
 * what is durable is applied by the tailer meanwhile). */
static int run_tick(worker_t *w) {
    /* A view being rebuilt (sms-admin rebuild-views) holds only part of the
     * log: no tick until it is whole again. */
    int built = view_is_built(w);
    if (built <= 0) return built;
    /* The view must hold what other instances (or this one before a crash)
     * already emitted, or the tick would emit it again. */
    if (tailer_catch_up_to_end(w, false, false) != 0) return -1;
    item_t it;
    memset(&it, 0, sizeof it);
    sms_decision_init(&it.d);
    it.d.status = 200;
    int rc = 0;
    w->ops->tick(w->rc, w->cfg, sms_now_ms(), &it.d);
    size_t ne = it.d.status >= 500 || !decision_events_valid(w, &it.d) ? 0 : it.d.n_events;
    if (ne == 0) goto out;
    it.drs = sms_malloc(ne * sizeof *it.drs);
    it.partitions = sms_calloc(ne, sizeof *it.partitions);
    it.offsets = sms_calloc(ne, sizeof *it.offsets);
    it.durable = sms_calloc(ne, sizeof *it.durable);
    it.applied = sms_calloc(ne, sizeof *it.applied);
    for (size_t e = 0; e < ne; e++) {
        sms_decision_event_t *ev = &it.d.events[e];
        it.drs[e] = (ev_dr_t){&it, e};
        int prc;
        while ((prc = sms_producer_send(w->producer, event_topic(w, ev), SMS_STR(ev->key), ev->event.data,
                                        ev->event.size, (sms_str_t){"", 0}, &it.drs[e])) == SMS_KAFKA_EQUEUE)
            sms_producer_poll(w->producer, 10);
        if (prc != 0) break;
        it.n_produced++;
    }
    uint64_t deadline = sms_mono_ms() + 30000;
    while (it.n_reported < it.n_produced) {
        if (sms_mono_ms() >= deadline) {
            /* it lives on this stack frame: no report may arrive after it is gone */
            sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "%zu tick events not acknowledged within 30 s",
                    it.n_produced - it.n_reported);
            if (sms_producer_flush(w->producer, 60000) != 0)
                sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "still not acknowledged after 90 s");
            break;
        }
        sms_producer_poll(w->producer, 2);
    }
    if (it.n_delivered < ne)
        sms_log(SMS_LOG_WARN, "tick_not_durable", "%zu of %zu tick events not acknowledged; tried again next period",
                ne - it.n_delivered, ne);
    size_t appended = apply_durable(w, &it, true);
    if (read_replies(w, appended, "tick apply") != 0) {
        rc = -1; /* durable but maybe not in the view: the tailer applies them */
        goto out;
    }
    for (size_t e = 0; e < ne; e++) {
        if (!it.applied[e]) continue;
        char key[192];
        int kn = self_key(key, sizeof key, event_topic(w, &it.d.events[e]), it.partitions[e], it.offsets[e]);
        sms_strmap_put(&w->self_applied, key, (size_t)kn, w);
    }
    sms_log(SMS_LOG_INFO, "tick", "%zu events produced and applied", it.n_delivered);
out:
    sms_decision_close(&it.d);
    sms_free(it.drs);
    sms_free(it.partitions);
    sms_free(it.offsets);
    sms_free(it.durable);
    sms_free(it.applied);
    return rc;
}

/* ---------------- the loop ---------------- */

static void on_rebalance(void *opaque, bool assigned) {
    worker_t *w = opaque;
    if (assigned) w->need_catchup = true;
}

static int connect_redis(worker_t *w) {
    char err[256];
    if (w->rc) redisFree(w->rc);
    w->rc = sms_redis_connect(w->cfg, err, sizeof err);
    if (w->rc == NULL || (w->ops->redis_init && w->ops->redis_init(w->rc, err, sizeof err) != 0)) {
        sms_log(SMS_LOG_ERROR, "redis_unavailable", "%s", err);
        if (w->rc) redisFree(w->rc);
        w->rc = NULL;
        return -1;
    }
    return 0;
}

/* Rewinds each partition of msgs to its first message so a failed batch is
 * fetched again, then destroys the messages. */
static void rewind_batch(rd_kafka_message_t **msgs, size_t n) {
    seek_back(msgs, n); /* by topic and partition: a batch may hold source topics too */
    for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
}

static int setup(worker_t *w, bool commands) {
    char err[512], client[96];
    snprintf(client, sizeof client, "sms-%s", w->ops->service);
    /* 5 ms, not 1: a batch's events (an update-grades of 100 rows is 100 of them, a fan-out
     * thousands) then go in a few large produce requests instead of a chain of small ones
     * behind the idempotent producer's 5 in flight. Measured: update-grades of 100 items at
     * 10 connections p99 251 -> 120 ms, 119 -> 171 requests/s; a single write waits up to
     * ~5 ms more per hop (serial POST p50 ~10 -> ~22 ms). */
    sms_producer_opts_t popts = {.client_id = client, .linger_ms = 5, .on_delivery = on_delivery};
    if (sms_producer_new(w->cfg, &popts, &w->producer, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_producer_failed", "%s", err);
        return -1;
    }
    char tail_group[128];
    snprintf(tail_group, sizeof tail_group, "sms-%s-tailer", w->ops->service);
    sms_consumer_opts_t topts = {.group_id = tail_group, .client_id = tail_group};
    if (sms_consumer_new(w->cfg, &topts, &w->tailer, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_consumer_failed", "%s", err);
        return -1;
    }
    snprintf(w->topics[w->n_topics++].name, sizeof w->topics[0].name, "%s", w->events_topic);
    for (const char *const *t = w->ops->learn_topics; t && *t && w->n_topics < MAX_TOPICS; t++)
        snprintf(w->topics[w->n_topics++].name, sizeof w->topics[0].name, "%s", *t);
    for (size_t t = 0; t < w->n_topics; t++) {
        int n = sms_kafka_partitions(sms_consumer_rk(w->tailer), w->topics[t].name, 10000);
        if (n <= 0) {
            sms_log(SMS_LOG_ERROR, "topic_missing", "%s does not exist: run `sms-admin create-topics`", w->topics[t].name);
            return -1;
        }
        w->topics[t].n_partitions = n;
        w->topics[t].next = sms_calloc((size_t)n, sizeof *w->topics[t].next);
    }
    for (int attempt = 0; connect_redis(w) != 0; attempt++) {
        if (attempt == 30 || stop_requested) return -1;
        sleep(1);
    }
    if (!commands) return 0;
    char group[96];
    snprintf(group, sizeof group, "sms-%s", w->ops->service);
    sms_consumer_opts_t copts = {.group_id = group, .client_id = client,
                                 .on_rebalance = on_rebalance, .opaque = w};
    if (sms_consumer_new(w->cfg, &copts, &w->commands, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_consumer_failed", "%s", err);
        return -1;
    }
    return 0;
}

static void teardown(worker_t *w) {
    /* Deferred commands were never answered; their gateways time out and the
     * clients retry with their Idempotency-Key. */
    for (size_t i = 0; i < w->n_deferred; i++) rd_kafka_message_destroy(w->deferred[i]);
    if (w->commands) sms_consumer_free(w->commands); /* commits what was stored */
    if (w->tailer) sms_consumer_free(w->tailer);
    if (w->producer) sms_producer_free(w->producer);
    if (w->rc) redisFree(w->rc);
    for (size_t t = 0; t < w->n_topics; t++) sms_free(w->topics[t].next);
    sms_strmap_close(&w->self_applied);
}

/* The first catch-up. Kafka may still be electing leaders for topics created
 * a moment ago (a watermark query then fails with "not leader"), and Redis
 * may be restarting: wait for them, as the loop does later, rather than exit
 * and leave the service down. */
static int first_catch_up(worker_t *w) {
    for (int attempt = 1; !stop_requested; attempt++) {
        if ((w->rc == NULL || w->rc->err) && connect_redis(w) != 0) {
            sleep(1);
            continue;
        }
        if (tailer_catch_up(w, true) == 0) return 0;
        sms_log(SMS_LOG_WARN, "catch_up_retry", "the view could not be caught up with the log (attempt %d); retrying",
                attempt);
        sleep(1);
    }
    return -1;
}

static int serve(worker_t *w) {
    if (first_catch_up(w) != 0) return -1;
    const char *topics[MAX_TOPICS + 1] = {w->commands_topic};
    size_t n_topics = 1;
    for (const char *const *t = w->ops->source_topics; t && *t && n_topics <= MAX_TOPICS; t++) topics[n_topics++] = *t;
    if (sms_consumer_subscribe_topics(w->commands, topics, n_topics) != 0) return -1;
    sms_log(SMS_LOG_INFO, "ready", "handling %s", w->commands_topic);
    uint64_t last_check = sms_mono_ms(), last_stats = last_check;
    uint64_t last_tick = 0; /* 0: the first tick runs at once, a restart does not wait a period */
    int tick_ms = w->ops->tick && w->ops->tick_period_ms ? w->ops->tick_period_ms(w->cfg) : 0;
    uint64_t n_batches = 0, n_commands = 0, busy_us = 0;
    rd_kafka_message_t *msgs[SMS_WORKER_BATCH_MAX];
    while (!stop_requested) {
        char err[512];
        if (sms_producer_fatal(w->producer, err, sizeof err)) {
            sms_log(SMS_LOG_ERROR, "kafka_fatal", "%s", err);
            return -1; /* the idempotent producer cannot go on; restart cleanly */
        }
        if (w->rc == NULL || w->rc->err) {
            if (connect_redis(w) != 0) { sleep(1); continue; }
            w->need_catchup = true;
        }
        if (!w->need_catchup && sms_mono_ms() - last_check >= 1000) {
            /* Notices a wiped view (no built marker). Only the marker is read
             * here: new events reach the view through tailer_apply_some below
             * on every turn, so no watermark queries (a broker round trip per
             * partition) stall the batch loop once a second. */
            last_check = sms_mono_ms();
            int built = view_is_built(w);
            if (built < 0) continue;
            if (!built) w->need_catchup = true;
        }
        if (w->need_catchup) {
            /* Rebuilds a wiped view; after a rebalance, applies everything up
             * to the current ends first. */
            if (tailer_catch_up(w, false) != 0) continue; /* no commands until the view holds the log */
            w->need_catchup = false;
        }
        if (tailer_apply_some(w, 0) < 0) continue;
        if (tick_ms > 0 && w->n_deferred == 0 && (last_tick == 0 || sms_mono_ms() - last_tick >= (uint64_t)tick_ms)) {
            last_tick = sms_mono_ms();
            if (run_tick(w) != 0) continue;
        }
        if (w->n_deferred) {
            /* Catch up with every topic to its current end, then decide the
             * deferred commands again; this time their answers are final. */
            if (tailer_catch_up_to_end(w, false, false) != 0) continue;
            size_t nd = w->n_deferred;
            rd_kafka_message_t *again[SMS_WORKER_BATCH_MAX];
            memcpy(again, w->deferred, nd * sizeof *again);
            w->n_deferred = 0;
            if (handle_batch(w, again, nd, true) != 0) {
                memcpy(w->deferred, again, nd * sizeof *again); /* Redis failed: keep them */
                w->n_deferred = nd;
                sleep(1);
                continue;
            }
        }

        size_t n = 0;
        while (n < SMS_WORKER_BATCH_MAX) {
            rd_kafka_message_t *m = sms_consumer_poll(w->commands, n == 0 ? 20 : 0);
            if (m == NULL) break;
            msgs[n++] = m;
        }
        if (n == 0) continue;
        if (w->need_catchup) { /* assigned during that poll: the view must hold the log first */
            if (tailer_catch_up(w, false) != 0) { rewind_batch(msgs, n); continue; }
            w->need_catchup = false;
        }
        uint64_t started = sms_mono_us();
        if (handle_batch(w, msgs, n, false) != 0) {
            rewind_batch(msgs, n);
            sleep(1);
            continue;
        }
        n_batches++;
        n_commands += n;
        busy_us += sms_mono_us() - started;
        if (sms_mono_ms() - last_stats >= 10000) {
            /* Throughput comes from batch size; this line shows whether it
             * does, and which phase of a batch the time goes to. */
            char phases[256];
            size_t off = 0;
            for (int ph = 0; ph < PHASE_COUNT; ph++) {
                int k = snprintf(phases + off, sizeof phases - off, "%s%s %.2f", ph ? ", " : "", phase_names[ph],
                                 (double)w->phase_us[ph] / 1000.0 / (double)n_batches);
                if (k > 0 && (size_t)k < sizeof phases - off) off += (size_t)k;
                w->phase_us[ph] = 0;
            }
            sms_log(SMS_LOG_INFO, "stats",
                    "%llu commands in %llu batches (%.1f per batch), %.2f ms per batch (%s); %llu events quarantined",
                    (unsigned long long)n_commands, (unsigned long long)n_batches,
                    (double)n_commands / (double)n_batches, (double)busy_us / 1000.0 / (double)n_batches, phases,
                    (unsigned long long)w->quarantined);
            last_stats = sms_mono_ms();
            n_batches = n_commands = busy_us = 0;
        }
    }
    return 0;
}

int sms_worker_main(const sms_worker_ops_t *ops, const sms_config_t *cfg, bool rebuild_only) {
    worker_t w;
    memset(&w, 0, sizeof w);
    w.ops = ops;
    w.cfg = cfg;
    snprintf(w.prefix, sizeof w.prefix, "sms:%s:", ops->service);
    snprintf(w.commands_topic, sizeof w.commands_topic, "sms.commands.%s", ops->service);
    if (ops->events_topic) snprintf(w.events_topic, sizeof w.events_topic, "%s", ops->events_topic);
    else snprintf(w.events_topic, sizeof w.events_topic, "sms.events.%s", ops->service);
    sms_strmap_init(&w.self_applied);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int rc = setup(&w, !rebuild_only);
    if (rc == 0) rc = rebuild_only ? tailer_rebuild(&w) : serve(&w);
    teardown(&w);
    sms_log(rc == 0 ? SMS_LOG_INFO : SMS_LOG_ERROR, "exit", "%s", rc == 0 ? "clean" : "failed");
    return rc == 0 ? 0 : 1;
}

int sms_worker_service_main(int argc, char **argv, const sms_worker_ops_t *ops) {
    char err[256];
    sms_config_t cfg;
    bool rebuild = argc > 1 && strcmp(argv[1], "--rebuild-views") == 0;
    if (argc > 1 && !rebuild) {
        fprintf(stderr, "usage: %s [--rebuild-views]\n", argv[0]);
        return 2;
    }
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-%s: %s\n", ops->service, err);
        return 2;
    }
    sms_log_init(ops->service, cfg.log_level);
    return sms_worker_main(ops, &cfg, rebuild);
}
