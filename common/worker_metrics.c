/* worker_metrics.c - the worker's Prometheus series (worker_internal.h):
 * commands by type and answer class, events by topic and type (the business
 * counters: class.created, roster..., grade.released, post.created, ...),
 * batch size and phase durations (the stats line's figures), quarantined and
 * shed, delivery errors, and every 5 s off the batch path consumer lag per
 * topic/partition (kafka_metrics.c) and the producer queue. worker.c, batch.c and view_tail.c
 * call it; it serves them with metrics_http.c when SMS_METRICS_PORT is set.
 * Series met for the first time (a type, a partition) are registered then,
 * in small fixed tables searched without a lock (one thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "worker_internal.h"

static const char *const phase_labels[SMS_PHASE_COUNT] = {"prep", "decide", "durable", "apply", "reply"};
static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

#define SAMPLE_PERIOD_MS 5000

void sms_worker_metrics_start(worker_t *w) {
    worker_metrics_t *wm = &w->metrics;
    const char *svc = w->ops->service;
    wm->reg = sms_metrics_new();
    sms_metrics_t *m = wm->reg;
    wm->batch_size = sms_metrics_histogram(m, "sms_worker_batch_size", "Messages (commands, source events) per batch.",
                                           sms_metrics_size_buckets, SMS_METRICS_SIZE_BUCKETS, 1, "service", svc, NULL);
    wm->batch_duration = sms_metrics_histogram(m, "sms_worker_batch_duration_seconds", "One batch, all phases.",
                                               sms_metrics_latency_us, SMS_METRICS_LATENCY_BUCKETS, 1e-6, "service",
                                               svc, NULL);
    for (int ph = 0; ph < SMS_PHASE_COUNT; ph++)
        wm->phase[ph] = sms_metrics_histogram(
            m, "sms_worker_batch_phase_seconds",
            "A batch's phase: prep (dedupe+prefetch), decide (+produce), durable (delivery reports), apply (Redis "
            "projection scripts), reply (+offsets).",
            sms_metrics_latency_us, SMS_METRICS_LATENCY_BUCKETS, 1e-6, "service", svc, "phase", phase_labels[ph], NULL);
    wm->quarantined = sms_metrics_counter(m, "sms_worker_events_quarantined_total",
                                          "Events of the log the view could not apply (quarantine.h).", "service", svc,
                                          NULL);
    wm->shed = sms_metrics_counter(m, "sms_worker_commands_shed_total",
                                   "Commands dropped undecided past their deadline.", "service", svc, NULL);
    wm->delivery_errors = sms_metrics_counter(m, "sms_worker_delivery_errors_total",
                                              "Events or replies Kafka reported not delivered.", "service", svc, NULL);
    wm->producer_queue = sms_metrics_gauge(m, "sms_worker_producer_queue", "Messages in the producer's queue.",
                                           "service", svc, NULL);
    wm->rebuilds = sms_metrics_counter(m, "sms_worker_view_rebuilds_total",
                                       "Replays of the log from offset 0 (wiped view, sms-admin rebuild-views).",
                                       "service", svc, NULL);
    char group[128];
    snprintf(group, sizeof group, "sms-%s", svc);
    sms_kafka_lag_init(&wm->commands_lag, m, svc, group);
    snprintf(group, sizeof group, "sms-%s-tailer", svc);
    sms_kafka_lag_init(&wm->tailer_lag, m, svc, group);
    wm->redis_used = sms_metrics_gauge(m, "sms_redis_memory_used_bytes", "Redis INFO used_memory (sampled every 5 s).",
                                       "service", svc, NULL);
    wm->redis_max = sms_metrics_gauge(m, "sms_redis_memory_max_bytes", "Redis INFO maxmemory (0: no limit).",
                                      "service", svc, NULL);
    wm->up = sms_metrics_gauge(m, "sms_worker_ready", "1 once the view holds the log and commands are handled.",
                               "service", svc, NULL);
    if (w->cfg->metrics_port > 0) {
        int rc = sms_metrics_http_start(m, w->cfg->metrics_host, w->cfg->metrics_port, w->cfg->metrics_token,
                                        &wm->http);
        if (rc != 0)
            /* Metrics are for operators: a taken port must not stop the service. */
            sms_log(SMS_LOG_ERROR, "metrics_listen_failed", "%s:%d: %s", w->cfg->metrics_host, w->cfg->metrics_port,
                    strerror(-rc));
        else
            sms_log(SMS_LOG_INFO, "metrics_listening", "http://%s:%d/metrics", w->cfg->metrics_host,
                    sms_metrics_http_port(wm->http));
    }
}

void sms_worker_metrics_stop(worker_t *w) {
    sms_metrics_http_stop(w->metrics.http);
    w->metrics.http = NULL;
    sms_metrics_free(w->metrics.reg);
    w->metrics.reg = NULL;
}

void sms_worker_metrics_batch(worker_t *w, size_t n, uint64_t us, const uint64_t *phase_us) {
    worker_metrics_t *wm = &w->metrics;
    sms_metric_observe(wm->batch_size, n);
    sms_metric_observe(wm->batch_duration, us);
    for (int ph = 0; ph < SMS_PHASE_COUNT; ph++) sms_metric_observe(wm->phase[ph], phase_us[ph]);
}

void sms_worker_metrics_decision(worker_t *w, sms_str_t type, int status) {
    worker_metrics_t *wm = &w->metrics;
    int c = status / 100 - 1;
    if (c < 0 || c > 4) c = 4;
    if (type.len == 0 || type.len >= sizeof wm->cmds[0].type) type = (sms_str_t){"(unknown)", 9};
    for (size_t i = 0; i < wm->n_cmds; i++)
        if (wm->cmds[i].cls == c && strlen(wm->cmds[i].type) == type.len &&
            memcmp(wm->cmds[i].type, type.ptr, type.len) == 0) {
            sms_metric_inc(wm->cmds[i].m);
            return;
        }
    /* Types come from the gateway's routes (a command table has a dozen); the cap bounds the
     * series should anything else write to the commands topic. */
    if (wm->n_cmds == WORKER_METRICS_MAX_CMDS) return;
    char t[64];
    snprintf(t, sizeof t, "%.*s", (int)type.len, type.ptr);
    sms_metric_t *m = sms_metrics_counter(wm->reg, "sms_worker_commands_total",
                                          "Commands answered, by type and status class (decisions by outcome).",
                                          "service", w->ops->service, "type", t, "code", classes[c], NULL);
    memcpy(wm->cmds[wm->n_cmds].type, t, sizeof t);
    wm->cmds[wm->n_cmds].cls = c;
    wm->cmds[wm->n_cmds++].m = m;
    sms_metric_inc(m);
}

/* The "type" of a packed event (a map whose second key is "type": the
 * envelope's order), without unpacking it. 0, or -1. */
static int read_str(const unsigned char **p, const unsigned char *end, const char **s, size_t *n) {
    if (*p >= end) return -1;
    unsigned c = **p;
    size_t len, head;
    if ((c & 0xe0) == 0xa0) len = c & 0x1f, head = 1;
    else if (c == 0xd9 && end - *p >= 2) len = (*p)[1], head = 2;
    else if (c == 0xda && end - *p >= 3) len = ((size_t)(*p)[1] << 8) | (*p)[2], head = 3;
    else return -1;
    if ((size_t)(end - *p) < head + len) return -1;
    *s = (const char *)*p + head;
    *n = len;
    *p += head + len;
    return 0;
}

static int event_type(const void *data, size_t len, const char **type, size_t *tlen) {
    const unsigned char *p = data, *end = p + len;
    if (len < 1 || (p[0] & 0xf0) != 0x80) return -1; /* fixmap: the envelope has 8 keys */
    p++;
    const char *k;
    size_t kn;
    if (read_str(&p, end, &k, &kn) || kn != 2 || memcmp(k, "id", 2)) return -1;
    if (read_str(&p, end, &k, &kn)) return -1; /* the id */
    if (read_str(&p, end, &k, &kn) || kn != 4 || memcmp(k, "type", 4)) return -1;
    return read_str(&p, end, type, tlen);
}

void sms_worker_metrics_event(worker_t *w, const char *topic, const void *data, size_t len) {
    worker_metrics_t *wm = &w->metrics;
    const char *type;
    size_t tlen;
    if (event_type(data, len, &type, &tlen) != 0 || tlen >= sizeof wm->evs[0].type) type = "(unknown)", tlen = 9;
    for (size_t i = 0; i < wm->n_evs; i++)
        if (strlen(wm->evs[i].type) == tlen && memcmp(wm->evs[i].type, type, tlen) == 0 &&
            strcmp(wm->evs[i].topic, topic) == 0) {
            sms_metric_inc(wm->evs[i].m);
            return;
        }
    if (wm->n_evs == WORKER_METRICS_MAX_EVS) return;
    char t[64];
    snprintf(t, sizeof t, "%.*s", (int)tlen, type);
    sms_metric_t *m = sms_metrics_counter(wm->reg, "sms_worker_events_produced_total",
                                          "Events this process produced (durable or not yet), by topic and type.",
                                          "service", w->ops->service, "topic", topic, "type", t, NULL);
    memcpy(wm->evs[wm->n_evs].type, t, sizeof t);
    snprintf(wm->evs[wm->n_evs].topic, sizeof wm->evs[0].topic, "%s", topic);
    wm->evs[wm->n_evs++].m = m;
    sms_metric_inc(m);
}

/* One INFO memory on the worker's connection (a fraction of a ms, between
 * batches). A failure leaves rc->err set: the loop reconnects, as for any. */
static void sample_redis_memory(worker_t *w) {
    if (w->rc == NULL || w->rc->err) return;
    redisReply *r = redisCommand(w->rc, "INFO memory");
    if (r == NULL) return;
    if (r->type == REDIS_REPLY_STRING) {
        const char *used = strstr(r->str, "\r\nused_memory:"), *max = strstr(r->str, "\r\nmaxmemory:");
        if (used) sms_metric_set(w->metrics.redis_used, strtoll(used + 14, NULL, 10));
        if (max) sms_metric_set(w->metrics.redis_max, strtoll(max + 12, NULL, 10));
    }
    freeReplyObject(r);
}

void sms_worker_metrics_sample(worker_t *w) {
    worker_metrics_t *wm = &w->metrics;
    uint64_t now = sms_mono_ms();
    if (now - wm->last_sample_ms < SAMPLE_PERIOD_MS) return;
    wm->last_sample_ms = now;
    if (w->commands) sms_kafka_lag_sample(&wm->commands_lag, sms_consumer_rk(w->commands));
    if (w->tailer) sms_kafka_lag_sample(&wm->tailer_lag, sms_consumer_rk(w->tailer));
    if (w->producer) sms_metric_set(wm->producer_queue, sms_producer_outq(w->producer));
    sample_redis_memory(w);
}
