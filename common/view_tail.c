/* view_tail.c - the view tailer (see worker.h): keeps the service's Redis
 * view equal to the event log. It projects events (a run of one topic at a
 * time, through project or project_many), quarantines or refuses an event
 * the view cannot apply, catches up to the log's ends, and drops and
 * replays the view when its built marker is missing. Also the helpers
 * project_many implementations use. Called by worker.c (the loop) and
 * batch.c (a batch's own events); see worker_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "quarantine.h"
#include "redis.h"
#include "worker_internal.h"

static int self_key(char *buf, size_t cap, const char *topic, int32_t partition, int64_t offset) {
    int n = snprintf(buf, cap, "%s:%d:%lld", topic, partition, (long long)offset);
    return n < 0 ? 0 : (size_t)n < cap ? n : (int)cap - 1;
}

/* Where a decision's event is written: its own topic, or the service's. */
const char *sms_view_tail_event_topic(const worker_t *w, const sms_decision_event_t *ev) {
    return ev->topic[0] ? ev->topic : w->events_topic;
}

static bool self_applied_take(worker_t *w, const char *topic, int32_t partition, int64_t offset) {
    if (w->self_applied.count == 0) return false;
    char key[192];
    int n = self_key(key, sizeof key, topic, partition, offset);
    return sms_strmap_del(&w->self_applied, key, (size_t)n) != NULL;
}

void sms_view_tail_mark_applied(worker_t *w, const char *topic, int32_t partition, int64_t offset) {
    char key[192];
    int n = self_key(key, sizeof key, topic, partition, offset);
    sms_strmap_put(&w->self_applied, key, (size_t)n, w);
}

/* Whether this service writes topic itself (its events topic, own_topics). */
static bool own_topic(const worker_t *w, const char *topic) {
    if (strcmp(topic, w->events_topic) == 0) return true;
    for (const char *const *t = w->ops->own_topics; t && *t; t++)
        if (strcmp(*t, topic) == 0) return true;
    return false;
}

/* Decodes e into *ev and validates it. An event the view cannot apply is
 * quarantined (its commands added to *appended, e->covered set: they record
 * its offset) and true returned, ev then closed. Events applied right after
 * being produced were validated before producing (the same pure function),
 * so refusing one here means a bug: it is logged, and the tailer meets it
 * again with its position. */
static bool refuse_event(worker_t *w, const char *topic, to_project_t *e, sms_event_t *ev, size_t *appended) {
    char why[SMS_QUARANTINE_REASON_MAX + 16];
    bool decoded = sms_event_decode(e->data, e->len, ev) == SMS_OK;
    if (!decoded) snprintf(why, sizeof why, "undecodable: not an event envelope");
    else if (w->ops->validate == NULL || w->ops->validate(topic, ev, why, sizeof why) == 0) return false;
    if (e->partition >= 0) {
        *appended += sms_quarantine_append(w->rc, w->prefix, topic, e->partition, e->offset, decoded ? ev : NULL, why);
        e->covered = true;
        w->quarantined++;
    sms_metric_inc(w->metrics.quarantined);
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
size_t sms_view_tail_project(worker_t *w, const char *topic, to_project_t *evs, size_t n) {
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

static int redis_ok(worker_t *w, redisReply *r, const char *what) {
    if (r == NULL) {
        sms_log(SMS_LOG_ERROR, "redis_failed", "%s: %s", what, w->rc->errstr);
        return -1;
    }
    int rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
    if (rc) {
        sms_redis_log_error(what, r->str);
        if (sms_quarantine_is_deterministic(r->str)) {
            w->script_error = true;
            snprintf(w->last_error, sizeof w->last_error, "projection failed: %s", r->str);
        }
    }
    freeReplyObject(r);
    return rc;
}

int sms_view_tail_is_built(worker_t *w) {
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
void sms_view_tail_seek_back(rd_kafka_message_t *const *msgs, size_t n) {
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
    size_t appended = skip ? 0 : sms_view_tail_project(w, topic, &e, 1);
    if (!e.covered) appended += (size_t)sms_worker_append_position(w->rc, w->prefix, topic, m->partition, m->offset);
    w->script_error = false;
    if (sms_view_tail_read_replies(w, appended, "projection") == 0) return 0;
    if (!w->script_error || w->rc->err) return -1;
    sms_event_t ev;
    bool decoded = sms_event_decode(m->payload, m->len, &ev) == SMS_OK;
    char why[sizeof w->last_error];
    snprintf(why, sizeof why, "%s", w->last_error);
    appended = sms_quarantine_append(w->rc, w->prefix, topic, m->partition, m->offset, decoded ? &ev : NULL, why);
    if (decoded) sms_event_close(&ev);
    w->quarantined++;
    sms_metric_inc(w->metrics.quarantined);
    return sms_view_tail_read_replies(w, appended, "quarantine");
}

/* Applies up to SMS_TAIL_BATCH messages, waiting at most timeout_ms for the
 * first. Events this process applied right after producing them are only
 * passed over; consecutive events of one topic are projected together
 * (sms_view_tail_project). Returns how many, or -1 on a Redis failure. */
int sms_view_tail_apply_some(worker_t *w, int timeout_ms) {
    rd_kafka_message_t *msgs[SMS_TAIL_BATCH];
    size_t n = 0;
    while (n < SMS_TAIL_BATCH) {
        rd_kafka_message_t *m = sms_consumer_poll(w->tailer, n == 0 ? timeout_ms : 0);
        if (m == NULL) break;
        msgs[n++] = m;
    }
    if (n == 0) return 0;
    to_project_t evs[SMS_TAIL_BATCH];
    size_t at_msg[SMS_TAIL_BATCH]; /* evs[k] is msgs[at_msg[k]] */
    bool covered[SMS_TAIL_BATCH] = {0}, skip[SMS_TAIL_BATCH] = {0};
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
        appended += sms_view_tail_project(w, topic, evs, m);
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
    int rc = sms_view_tail_read_replies(w, appended, "projection") == 0 ? (int)n : -1;
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
        sms_view_tail_seek_back(msgs, n); /* fetched again once Redis is back: none may be passed over */
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
int sms_view_tail_catch_up_to_end(worker_t *w, bool progress, bool foreign_only) {
    rd_kafka_t *rk = sms_consumer_rk(w->tailer);
    int64_t *hw[SMS_WORKER_MAX_TOPICS] = {0};
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
        if (!behind || sms_worker_stop_requested) break;
        if (sms_rebuild_lock_renew(&w->rebuild_lock, w->rc) != 0) {
            snprintf(w->apply_failure, sizeof w->apply_failure, "the rebuild lock %s was lost (another instance "
                     "replays the view now, or Redis failed)", w->rebuild_lock.key);
            rc = -1;
            goto out;
        }
        int n = sms_view_tail_apply_some(w, 100);
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

int sms_view_tail_read_replies(worker_t *w, size_t n, const char *what) {
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

int sms_view_tail_rebuild(worker_t *w) {
    for (int attempt = 1; !sms_worker_stop_requested; attempt++) {
        sms_log(SMS_LOG_INFO, "view_rebuild", "dropping %s* and replaying the log from offset 0 (attempt %d)",
                w->prefix, attempt);
        sms_metric_inc(w->metrics.rebuilds);
        sms_strmap_close(&w->self_applied); /* nothing is in the view any more */
        sms_strmap_init(&w->self_applied);
        char token[32];
        snprintf(token, sizeof token, "%d-%llu", (int)getpid(), (unsigned long long)sms_mono_us());
        w->apply_failure[0] = '\0';
        if (view_drop(w) != 0 ||
            redis_ok(w, redisCommand(w->rc, "HSET %smeta rebuilding %s", w->prefix, token), "rebuild token") != 0 ||
            tailer_assign(w) != 0 || sms_view_tail_catch_up_to_end(w, true, false) != 0) {
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

/* Replays the view once this instance holds the rebuild lock (taken by the
 * caller), then lets the lock go, whatever the outcome. */
static int rebuild_and_release(worker_t *w) {
    int rc = sms_view_tail_rebuild(w);
    sms_rebuild_lock_release(&w->rebuild_lock, w->rc);
    return rc;
}

/* Whether someone other than a replaying instance is deleting the view right
 * now: meta rebuilding holds a value that is not a worker's replay token
 * ("<pid>-<µs>", sms_view_tail_rebuild), such as sms-admin's. A replay
 * started meanwhile would lose what it deletes after. A worker's token left
 * by an instance that died mid-replay does not count: the rebuild lock
 * (which expires) decides between instances. */
static bool outside_dropping(worker_t *w) {
    redisReply *r = redisCommand(w->rc, "HGET %smeta rebuilding", w->prefix);
    bool dropping = false;
    if (r && r->type == REDIS_REPLY_STRING) {
        size_t digits = strspn(r->str, "0123456789");
        bool worker_token = digits > 0 && r->str[digits] == '-' && r->str[digits + 1] != '\0' &&
                            strspn(r->str + digits + 1, "0123456789") == strlen(r->str + digits + 1);
        dropping = !worker_token;
    }
    if (r) freeReplyObject(r);
    return dropping;
}

/* Logs that another instance replays the view, once per wait. */
static void note_waiting(worker_t *w) {
    if (w->waited_for_rebuild) return;
    w->waited_for_rebuild = true;
    sms_log(SMS_LOG_INFO, "view_rebuild_waiting", "another instance holds %s: waiting for its replay of %s*",
            w->rebuild_lock.key, w->prefix);
}

int sms_view_tail_rebuild_exclusive(worker_t *w) {
    while (!sms_worker_stop_requested) {
        int got = sms_rebuild_lock_try(&w->rebuild_lock, w->rc);
        if (got < 0) return -1;
        if (got == 1) return rebuild_and_release(w);
        note_waiting(w);
        usleep(200 * 1000);
    }
    return -1;
}

/* Makes the view hold the whole log: rebuilds it when the built marker is
 * missing; otherwise applies what is new. first: position the tailer too.
 * Of several instances that find the view wiped, the one that takes the
 * rebuild lock replays it; the others wait (-1: not ready, asked again on
 * the next turn), then re-read the offsets it recorded and tail on. */
int sms_view_tail_catch_up(worker_t *w, bool first) {
    int built = sms_view_tail_is_built(w);
    if (built < 0) return -1;
    if (!built) {
        if (!first && outside_dropping(w)) {
            usleep(200 * 1000);
            return -1;
        }
        int got = sms_rebuild_lock_try(&w->rebuild_lock, w->rc);
        if (got < 0) return -1;
        if (got == 0) {
            note_waiting(w);
            usleep(200 * 1000);
            return -1;
        }
        /* The holder before us may have finished just now. */
        built = sms_view_tail_is_built(w);
        if (built < 0) {
            sms_rebuild_lock_release(&w->rebuild_lock, w->rc);
            return -1;
        }
        if (!built) {
            w->waited_for_rebuild = false;
            return rebuild_and_release(w);
        }
        sms_rebuild_lock_release(&w->rebuild_lock, w->rc);
        w->waited_for_rebuild = true; /* replayed by another since we looked */
    }
    if (w->waited_for_rebuild) {
        sms_log(SMS_LOG_INFO, "view_rebuilt_by_other", "%s* was replayed by another instance; tailing on from its offsets",
                w->prefix);
        w->waited_for_rebuild = false;
        first = true; /* our positions predate the wipe: take the recorded ones */
    }
    if (first && tailer_assign(w) != 0) return -1;
    return sms_view_tail_catch_up_to_end(w, first, false);
}

/* ---- helpers for project_many (worker.h) ---- */

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
