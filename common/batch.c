/* batch.c - a batch of commands (and of source events, the fan-out) through
 * the pipeline of worker.h, one named function per phase:
 *
 *   batch_decode   commands and source events out of their messages
 *   batch_prepare  dedupe by command id, drop what is past its deadline,
 *                  the fan-out's catch-up, prefetch
 *   batch_decide   decide each in order and produce its events
 *   batch_await    wait for the delivery reports (a fan-out applied as they come)
 *   batch_apply    apply what is durable; what is not is answered 503/504
 *   batch_reply    answer replays from the view, reply, store the offsets
 *
 * and the periodic tick, whose events go through the same produce, await
 * and apply steps (item_produce, await_reports, apply_durable). A reply is
 * sent only once its events are durable and in the view. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "worker_internal.h"

static const char *const phase_names[SMS_PHASE_COUNT] = {"prep", "decide", "durable", "apply", "reply"};

struct item_s;

/* One event of an item's decision, from the producer to the view; the
 * delivery callback's opaque. */
typedef struct batch_event_s {
    struct item_s *it;
    int32_t partition; /* where its delivery report put it */
    int64_t offset;
    bool durable;
    bool applied; /* in the view (a fan-out's: as soon as durable) */
} batch_event_t;

/* One message of the batch (a command or a source event), or the tick. */
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
    batch_event_t *evs;         /* d.n_events long once producing began, else NULL */
} item_t;

/* What the phases of one batch share. */
typedef struct batch_s {
    worker_t *w;
    rd_kafka_message_t **msgs;
    item_t *items;              /* n long, items[i].msg = msgs[i] */
    size_t n;
    bool second_try;            /* the deferred commands of an earlier batch */
    size_t n_sources;
    const sms_command_t **fresh; /* the commands decided (not replays): the prefetch's */
    size_t n_fresh;
    void *state;                /* the decider's state */
    sms_command_batch_t *table; /* ops.commands' batch */
    size_t appended;            /* Redis commands whose replies batch_apply reads */
    size_t n_shed;              /* commands dropped past their deadline (batch_shed_expired) */
    uint64_t t0;                /* when the current phase began (µs) */
    uint64_t phase_start[SMS_PHASE_COUNT]; /* w->phase_us when the batch began */
} batch_t;

void sms_batch_on_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    batch_event_t *ev = opaque;
    if (ev == NULL) return;
    item_t *it = ev->it;
    it->n_reported++;
    if (err) {
        it->dr_err = err;
        return;
    }
    ev->partition = partition;
    ev->offset = offset;
    ev->durable = true;
    it->n_delivered++;
}

void sms_batch_phases_format(char *buf, size_t cap, const uint64_t *us, double per) {
    size_t off = 0;
    buf[0] = '\0';
    for (int ph = 0; ph < SMS_PHASE_COUNT; ph++) {
        int k = snprintf(buf + off, cap - off, "%s%s %.2f", ph ? ", " : "", phase_names[ph],
                         (double)us[ph] / 1000.0 / per);
        if (k > 0 && (size_t)k < cap - off) off += (size_t)k;
    }
}

static void phase_end(batch_t *b, int phase) {
    uint64_t t1 = sms_mono_us();
    b->w->phase_us[phase] += t1 - b->t0;
    b->t0 = t1;
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
           SMS_EQUEUE)
        sms_producer_poll(w->producer, 10);
    msgpack_sbuffer_destroy(&sb);
    sms_worker_metrics_decision(w, it->cmd.type, d->status);
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
        int bad = sms_event_decode(de->event.data, de->event.size, &ev) != SMS_OK;
        if (bad) snprintf(why, sizeof why, "not an event envelope");
        else {
            bad = w->ops->validate(sms_view_tail_event_topic(w, de), &ev, why, sizeof why) != 0;
            sms_event_close(&ev);
        }
        if (bad) {
            sms_log(SMS_LOG_ERROR, "decision_event_invalid", "event %zu of %zu to %s refused before producing: %s", e + 1,
                    d->n_events, sms_view_tail_event_topic(w, de), why);
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
    if (sms_command_peek(m->payload, m->len, &id, &reply_to) != SMS_OK || !valid_reply_topic(reply_to) ||
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


/* ---- the steps a batch and the tick share ---- */

/* Appends the projection of it's durable events not applied yet, once there
 * are a chunk's worth of them or (all) every event was reported. A fan-out
 * of thousands is thus applied while its later events are still on their
 * way to the broker. Each event is in the view only once durable, so the
 * view stays a function of the log whatever happens to the rest. Returns
 * the number of commands appended. */
static size_t apply_durable(worker_t *w, item_t *it, bool all) {
    if (it->evs == NULL) return 0; /* nothing produced */
    size_t ready = 0;
    for (size_t e = 0; e < it->d.n_events; e++) ready += it->evs[e].durable && !it->evs[e].applied;
    if (ready == 0 || (ready < SMS_WORKER_PROJECT_CHUNK && !all && it->n_reported < it->n_produced)) return 0;
    to_project_t *run = sms_malloc(ready * sizeof *run);
    size_t appended = 0;
    for (size_t e = 0; e < it->d.n_events;) {
        /* consecutive ready events of one topic, projected together */
        if (!it->evs[e].durable || it->evs[e].applied) { e++; continue; }
        const char *topic = sms_view_tail_event_topic(w, &it->d.events[e]);
        size_t m = 0;
        for (; e < it->d.n_events && strcmp(sms_view_tail_event_topic(w, &it->d.events[e]), topic) == 0; e++) {
            if (!it->evs[e].durable || it->evs[e].applied) continue;
            it->evs[e].applied = true;
            run[m++] = (to_project_t){it->d.events[e].event.data, it->d.events[e].event.size, -1, it->evs[e].offset,
                                      false};
        }
        appended += sms_view_tail_project(w, topic, run, m);
    }
    sms_free(run);
    return appended;
}

/* Hands it's events to the producer (waiting while its queue is full); a
 * failed send stops there (dr_err -1). A long fan-out applies what is
 * durable every chunk (its commands added to *appended). */
static void item_produce(worker_t *w, item_t *it, size_t *appended) {
    size_t ne = it->d.n_events;
    if (ne == 0) return;
    it->evs = sms_calloc(ne, sizeof *it->evs);
    for (size_t e = 0; e < ne; e++) {
        sms_decision_event_t *ev = &it->d.events[e];
        it->evs[e].it = it;
        int prc;
        while ((prc = sms_producer_send_event(w->producer, sms_view_tail_event_topic(w, ev), w->ops->service,
                                              SMS_STR(ev->key), ev->event.data, ev->event.size,
                                              it->cmd.traceparent, &it->evs[e])) ==
               SMS_EQUEUE)
            sms_producer_poll(w->producer, 10);
        if (prc != 0) {
            it->dr_err = -1; /* a command is answered 503 */
            break;
        }
        it->n_produced++;
        sms_worker_metrics_event(w, sms_view_tail_event_topic(w, ev), ev->event.data, ev->event.size);
        if (it->source && e % SMS_WORKER_PROJECT_CHUNK == SMS_WORKER_PROJECT_CHUNK - 1) {
            /* a long fan-out: serve the reports that came in, apply what is durable */
            sms_producer_poll(w->producer, 0);
            *appended += apply_durable(w, it, false);
        }
    }
}

/* Waits for the delivery report of every event items[0..n) produced,
 * applying a fan-out's durable events as they come in (their commands added
 * to *appended). After 30 s it flushes (waiting for every report, so none
 * arrives after the items are freed). what: "" or "tick " (the log line). */
static void await_reports(worker_t *w, item_t *items, size_t n, const char *what, size_t *appended) {
    uint64_t deadline = sms_mono_ms() + 30000;
    for (;;) {
        size_t waiting = 0;
        for (size_t i = 0; i < n; i++) waiting += items[i].n_produced - items[i].n_reported;
        if (waiting == 0) return;
        if (sms_mono_ms() >= deadline) {
            sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "%zu %sevents not acknowledged within 30 s", waiting,
                    what);
            if (sms_producer_flush(w->producer, 60000) != 0)
                sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "still not acknowledged after 90 s");
            return;
        }
        sms_producer_poll(w->producer, 2);
        for (size_t i = 0; i < n; i++)
            if (items[i].source && items[i].n_produced) *appended += apply_durable(w, &items[i], false);
    }
}

/* The tailer passes over the positions of it's applied events instead of
 * projecting them again. */
static void mark_applied(worker_t *w, const item_t *it) {
    if (it->evs == NULL) return;
    for (size_t e = 0; e < it->d.n_events; e++)
        if (it->evs[e].applied)
            sms_view_tail_mark_applied(w, sms_view_tail_event_topic(w, &it->d.events[e]), it->evs[e].partition,
                                       it->evs[e].offset);
}

static void item_close(item_t *it) {
    sms_decision_close(&it->d);
    sms_free(it->evs);
    if (it->decoded) sms_command_close(&it->cmd);
    if (it->source) sms_event_close(&it->src);
    sms_free(it->replay_summary);
}

/* ---- decode ---- */

/* A source event: kept in it->src when the view can take it; one it cannot
 * is passed over (deciding it again would refuse it again; its offset is
 * stored with the batch), once, at error level. */
static void decode_source(worker_t *w, item_t *it) {
    const rd_kafka_message_t *m = it->msg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    char why[SMS_QUARANTINE_REASON_MAX];
    if (sms_event_decode(m->payload, m->len, &it->src) != SMS_OK) {
        snprintf(why, sizeof why, "not an event envelope");
    } else if (w->ops->validate && w->ops->validate(topic, &it->src, why, sizeof why) != 0) {
        sms_event_close(&it->src);
    } else {
        it->source = true;
        return;
    }
    sms_log(SMS_LOG_ERROR, "source_event_refused", "%s[%d] offset %lld passed over: %s", topic, m->partition,
            (long long)m->offset, why);
}

static void batch_decode(batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        it->msg = b->msgs[i];
        sms_decision_init(&it->d);
        if (is_source_topic(b->w, it->msg)) {
            decode_source(b->w, it);
            b->n_sources += it->source;
            continue;
        }
        if (sms_command_decode(it->msg->payload, it->msg->len, &it->cmd) != SMS_OK ||
            !valid_reply_topic(it->cmd.reply_to)) {
            if (it->cmd.data) sms_command_close(&it->cmd);
            answer_undecodable(it);
            continue;
        }
        it->decoded = true;
    }
}

/* ---- dedupe + prefetch ---- */

/* Creates the decider's state for the batch's new commands (prefetched in
 * one pipeline). 0, or -1 when Redis failed. */
static int batch_state_begin(batch_t *b) {
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].decoded && !b->items[i].replay_summary) b->fresh[b->n_fresh++] = &b->items[i].cmd;
    const sms_worker_ops_t *ops = b->w->ops;
    b->table = sms_command_batch_begin(ops->commands, b->w->rc, b->fresh, b->n_fresh);
    b->state = b->table ? sms_command_batch_state(b->table) : NULL;
    return b->table ? 0 : -1;
}

/* Drops each command that is not done (no replay_summary: a done one is
 * still answered from its record) and is past its deadline
 * (sms_command_expired, with SMS_COMMAND_DEADLINE_MARGIN_MS for clock skew).
 * Its gateway answered 504 (outcome unknown) and stopped listening:
 * deciding it would spend the batch on an answer nobody reads while the
 * commands behind it expire in turn. So nothing is produced or recorded,
 * and the client's keyed retry, the way forward after a 504, is decided
 * later, exactly once. No reply either: that retry may be waiting at the
 * gateway under the same id, and this one's answer would be taken for its.
 * The item is left as if undecodable and never answered; its offset is
 * stored with the batch. */
static void batch_shed_expired(batch_t *b) {
    int64_t now = sms_now_ms();
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (!it->decoded || it->replay_summary ||
            !sms_command_expired(it->cmd.deadline, now, b->w->cfg->command_deadline_margin_ms))
            continue;
        sms_command_close(&it->cmd);
        it->decoded = false;
        b->n_shed++;
    }
}

/* Counts the batch's shed commands once it goes ahead (a batch fetched again
 * would count them twice); one log line a second at most. */
static void note_shed(batch_t *b) {
    worker_t *w = b->w;
    if (b->n_shed == 0) return;
    w->shed += b->n_shed;
    sms_metric_add(w->metrics.shed, b->n_shed);
    uint64_t now = sms_mono_ms();
    if (w->shed_logged_ms && now - w->shed_logged_ms < 1000) return;
    w->shed_logged_ms = now;
    sms_log(SMS_LOG_WARN, "commands_shed",
            "%zu commands of this batch were past their gateway's deadline and dropped undecided (%llu since start)",
            b->n_shed, (unsigned long long)w->shed);
}

/* The source events' reads, in one pipeline (ops.fan_out_prefetch). 0, or -1. */
static int batch_fan_out_prefetch(batch_t *b) {
    const worker_t *w = b->w;
    if (b->n_sources == 0 || w->ops->fan_out_prefetch == NULL) return 0;
    const char **topics = sms_malloc(b->n_sources * sizeof *topics);
    const sms_event_t **evs = sms_malloc(b->n_sources * sizeof *evs);
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].source) {
            topics[n] = rd_kafka_topic_name(b->items[i].msg->rkt);
            evs[n++] = &b->items[i].src;
        }
    int rc = w->ops->fan_out_prefetch(b->state, topics, evs, n);
    sms_free(topics);
    sms_free(evs);
    return rc;
}

static int batch_prepare(batch_t *b) {
    worker_t *w = b->w;
    bool built_before = false;
    if (dedupe(w, b->items, b->n, &built_before) != 0) return -1;
    batch_shed_expired(b);
    /* Who hears of a source event depends on facts learned from other topics
     * (a roster): everything acknowledged before it was written is in them. */
    if (b->n_sources && sms_view_tail_catch_up_to_end(w, false, true) != 0) return -1;
    if (batch_state_begin(b) != 0 || batch_fan_out_prefetch(b) != 0) return -1;
    /* Decide only on reads of a whole view: a drop (sms-admin rebuild-views,
     * FLUSHALL) removes the marker before any key, and a replay sets it only
     * once whole, so the marker there before and after the reads means none
     * of them saw a view being emptied or refilled (a fan-out would reach an
     * empty roster). Otherwise the batch is fetched again after the rebuild. */
    if (!built_before || sms_view_tail_is_built(w) != 1) {
        sms_log(SMS_LOG_WARN, "view_not_built", "the view is being dropped or rebuilt; the batch waits for it");
        w->need_catchup = true;
        return -1;
    }
    note_shed(b);
    phase_end(b, SMS_PHASE_PREP);
    return 0;
}

/* ---- decide + produce ---- */

/* Decides command item it at now. false when there is nothing to produce
 * now: not a new command, the same command twice in one batch (the second
 * is a replay of the first), or a stale decision deferred until the tailer
 * caught up. */
static bool decide_command(batch_t *b, item_t *it, int64_t now, sms_strmap_t *in_batch) {
    worker_t *w = b->w;
    if (!it->decoded || it->replay_summary) return false;
    if (sms_strmap_get(in_batch, it->cmd.id.ptr, it->cmd.id.len)) {
        it->replay_summary = sms_strdup("");
        return false;
    }
    sms_strmap_put(in_batch, it->cmd.id.ptr, it->cmd.id.len, it);
    sms_command_batch_decide(b->table, &it->cmd, now, &it->d);
    if (it->d.stale && it->d.n_events == 0 && !b->second_try && w->n_deferred < SMS_WORKER_BATCH_MAX) {
        it->deferred = true;
        w->deferred[w->n_deferred++] = it->msg;
        return false;
    }
    return true;
}

/* A decision whose events the view would refuse produces nothing. */
static void check_events(worker_t *w, item_t *it) {
    if (it->d.n_events == 0 || decision_events_valid(w, &it->d)) return;
    it->d.n_events = 0;
    if (it->source) { /* deciding it again would give the same events: passed over, logged */
        it->d.status = 200;
        it->retry = false;
    } else {
        sms_decision_fail(&it->d, 500, "internal",
                          "the service decided an event its own view would refuse; nothing was done");
    }
}

static void batch_decide(batch_t *b) {
    worker_t *w = b->w;
    int64_t now = sms_now_ms();
    sms_strmap_t in_batch; /* command id -> first item deciding it in this batch */
    sms_strmap_init(&in_batch);
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->source) {
            w->ops->fan_out(b->state, rd_kafka_topic_name(it->msg->rkt), &it->src, &it->d);
            it->retry = it->d.status >= 500; /* could not decide (Redis): fetched again */
        } else if (!decide_command(b, it, now, &in_batch)) {
            continue;
        }
        check_events(w, it);
        item_produce(w, it, &b->appended);
    }
    sms_strmap_close(&in_batch);
    phase_end(b, SMS_PHASE_DECIDE);
}

/* ---- await durable ---- */

static void batch_await(batch_t *b) {
    await_reports(b->w, b->items, b->n, "", &b->appended);
    for (size_t i = 0; i < b->n; i++) /* what is durable of a fan-out is in the view, even if the rest failed */
        if (b->items[i].source && b->items[i].n_produced) b->appended += apply_durable(b->w, &b->items[i], true);
    phase_end(b, SMS_PHASE_DURABLE);
}

/* ---- apply ---- */

/* Not all of it's events are durable: 503 if nothing was handed to Kafka,
 * else 504 (a failed delivery report does not prove the broker did not
 * write it). A source event is fetched again. */
static void item_not_durable(item_t *it) {
    sms_log(SMS_LOG_ERROR, "event_not_durable", "%s",
            it->dr_err > 0 ? rd_kafka_err2str((rd_kafka_resp_err_t)it->dr_err) : "not sent");
    if (it->n_produced == 0)
        decision_not_done(&it->d, "the change could not be handed to Kafka; nothing was done; retry");
    else
        decision_outcome_unknown(&it->d, "the change was not acknowledged by Kafka and may or may not be "
                                         "saved; retry with the same Idempotency-Key");
    it->n_produced = 0;
    it->retry = it->source;
}

/* Applies what is durable. What is not is answered 503/504: if it did land,
 * the tailer applies it, and a retry with the same key finds it. */
static void batch_apply(batch_t *b) {
    worker_t *w = b->w;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (!it->n_produced && !it->dr_err) continue;
        if (it->dr_err || it->n_delivered != it->d.n_events) {
            sms_metric_add(w->metrics.delivery_errors, it->d.n_events - it->n_delivered);
            item_not_durable(it);
            continue;
        }
        if (!it->source) b->appended += apply_durable(w, it, true); /* a fan-out's is applied already */
    }
    bool view_failed = sms_view_tail_read_replies(w, b->appended, "apply") != 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (!it->n_produced) continue;
        if (view_failed) /* durable but maybe not visible: the tailer applies it once Redis is back */
            decision_outcome_unknown(&it->d, "the change is saved but not visible yet; retry with the same "
                                             "Idempotency-Key for its result");
        else
            mark_applied(w, it);
    }
    phase_end(b, SMS_PHASE_APPLY);
}

/* ---- reply + store ---- */

/* Answers a command handled before from the view (after this batch's own
 * changes are in it). */
static void item_replay(worker_t *w, item_t *it) {
    const sms_worker_ops_t *ops = w->ops;
    const char *summary = it->replay_summary;
    char *fetched = NULL;
    if (*summary == '\0') { /* duplicate within this batch: its summary is in the view now */
        redisReply *r = redisCommand(w->rc, "HGET %scmds %b", w->prefix, it->cmd.id.ptr, it->cmd.id.len);
        if (r && r->type == REDIS_REPLY_STRING) fetched = sms_strndup(r->str, r->len);
        if (r) freeReplyObject(r);
        summary = fetched;
    }
    if (summary) sms_command_replay(ops->commands, w->rc, &it->cmd, summary, &it->d);
    else decision_outcome_unknown(&it->d, "the first copy of this command did not complete; retry with the same "
                                         "Idempotency-Key");
    sms_free(fetched);
}

/* A fan-out is one batch: where its time went, one line per batch. */
static void log_fan_out(const batch_t *b) {
    size_t n_events = 0;
    for (size_t i = 0; i < b->n; i++) n_events += b->items[i].source ? b->items[i].n_produced : 0;
    uint64_t us[SMS_PHASE_COUNT];
    for (int ph = 0; ph < SMS_PHASE_COUNT; ph++) us[ph] = b->w->phase_us[ph] - b->phase_start[ph];
    char phases[256];
    sms_batch_phases_format(phases, sizeof phases, us, 1.0);
    sms_log(SMS_LOG_INFO, "fan_out", "%zu source events -> %zu events (ms: %s)", b->n_sources, n_events, phases);
}

static void batch_reply(batch_t *b) {
    worker_t *w = b->w;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].replay_summary) item_replay(w, &b->items[i]);
    for (size_t i = 0; i < b->n; i++)
        if ((b->items[i].decoded && !b->items[i].deferred) || b->items[i].answer_only) send_reply(w, &b->items[i]);
    sms_producer_poll(w->producer, 0);
    /* A second try's offsets were stored with its first; storing them again
     * could move the committed position back behind later batches. */
    if (!b->second_try)
        for (size_t i = 0; i < b->n; i++)
            if (!source_retried(b->items, b->n, b->msgs[i])) sms_consumer_store(w->commands, b->msgs[i]);
    phase_end(b, SMS_PHASE_REPLY);
    if (b->n_sources) log_fan_out(b);
}

/* ---- the batch ---- */

static void batch_open(batch_t *b, worker_t *w, rd_kafka_message_t **msgs, size_t n, bool second_try) {
    memset(b, 0, sizeof *b);
    b->w = w;
    b->msgs = msgs;
    b->n = n;
    b->second_try = second_try;
    b->items = sms_calloc(n, sizeof *b->items);
    b->fresh = sms_calloc(n, sizeof *b->fresh);
    b->t0 = sms_mono_us();
    memcpy(b->phase_start, w->phase_us, sizeof b->phase_start);
}

/* Frees the batch; rc 0: its messages too (the deferred ones are w's now). */
static void batch_close(batch_t *b, int rc) {
    sms_command_batch_end(b->table); /* NULL-safe */
    for (size_t i = 0; i < b->n; i++) {
        item_close(&b->items[i]);
        if (rc == 0 && !b->items[i].deferred) rd_kafka_message_destroy(b->msgs[i]);
    }
    sms_free(b->fresh);
    sms_free(b->items);
}

int sms_batch_handle(worker_t *w, rd_kafka_message_t **msgs, size_t n, bool second_try) {
    batch_t b;
    batch_open(&b, w, msgs, n, second_try);
    batch_decode(&b);
    int rc = batch_prepare(&b);
    if (rc == 0) {
        batch_decide(&b);
        batch_await(&b);
        batch_apply(&b);
        batch_reply(&b);
    }
    batch_close(&b, rc);
    return rc;
}

/* ---- the periodic tick ---- */

/* Produces the tick's events, waits for them, applies what is durable. */
static int tick_write(worker_t *w, item_t *it) {
    size_t ne = it->d.n_events, appended = 0;
    item_produce(w, it, &appended);
    await_reports(w, it, 1, "tick ", &appended);
    if (it->n_delivered < ne)
        sms_log(SMS_LOG_WARN, "tick_not_durable", "%zu of %zu tick events not acknowledged; tried again next period",
                ne - it->n_delivered, ne);
    appended += apply_durable(w, it, true);
    if (sms_view_tail_read_replies(w, appended, "tick apply") != 0)
        return -1; /* durable but maybe not in the view: the tailer applies them */
    mark_applied(w, it);
    sms_log(SMS_LOG_INFO, "tick", "%zu events produced and applied", it->n_delivered);
    return 0;
}

int sms_batch_tick(worker_t *w) {
    /* A view being rebuilt (sms-admin rebuild-views) holds only part of the
     * log: no tick until it is whole again. */
    int built = sms_view_tail_is_built(w);
    if (built <= 0) return built;
    /* The view must hold what other instances (or this one before a crash)
     * already emitted, or the tick would emit it again. */
    if (sms_view_tail_catch_up_to_end(w, false, false) != 0) return -1;
    item_t it;
    memset(&it, 0, sizeof it);
    sms_decision_init(&it.d);
    it.d.status = 200;
    w->ops->tick(w->rc, w->cfg, sms_now_ms(), &it.d);
    int rc = 0;
    if (it.d.status < 500 && it.d.n_events && decision_events_valid(w, &it.d)) rc = tick_write(w, &it);
    item_close(&it);
    return rc;
}
