/* worker.c - the pipeline shared by every service (see worker.h): setup
 * and teardown of its clients, the loop that alternates the tailer, the
 * tick and command batches, the stats line, sms_worker_main and
 * sms_worker_service_main. The tailer is view_tail.c, a batch batch.c, the
 * decision helpers decision.c (worker_internal.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "redis.h"
#include "worker_internal.h"

volatile sig_atomic_t sms_worker_stop_requested;

static void on_signal(int sig) {
    (void)sig;
    sms_worker_stop_requested = 1;
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
    sms_view_tail_seek_back(msgs, n); /* by topic and partition: a batch may hold source topics too */
    for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
}

static int setup(worker_t *w, bool commands) {
    char err[512], client[96];
    snprintf(client, sizeof client, "sms-%s", w->ops->service);
    /* 0: a batch produces its events in one tight loop and then waits for their reports, so
     * a linger only adds its own length to every batch, twice per command (events, reply).
     * What the batch produced meanwhile still goes out together: the broker thread takes
     * whatever is queued when it wakes, and more piles up behind the 5 requests in flight.
     * Measured against 5 ms (tests/bench.d/cpu_per_request.py, alternating runs): serial
     * POST p50 14.7-16.5 -> 2.0-2.7 ms; update-grades of 100 items at 10 connections
     * 108-110 -> 185-210 requests/s, p50 74-78 -> 39-43 ms, CPU per request 5.8 -> 4.3-4.9 ms. */
    sms_producer_opts_t popts = {.client_id = client, .linger_ms = 0, .on_delivery = sms_batch_on_delivery};
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
    for (const char *const *t = w->ops->learn_topics; t && *t && w->n_topics < SMS_WORKER_MAX_TOPICS; t++)
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
        if (attempt == 30 || sms_worker_stop_requested) return -1;
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
    for (int attempt = 1; !sms_worker_stop_requested; attempt++) {
        if ((w->rc == NULL || w->rc->err) && connect_redis(w) != 0) {
            sleep(1);
            continue;
        }
        if (sms_view_tail_catch_up(w, true) == 0) return 0;
        sms_log(SMS_LOG_WARN, "catch_up_retry", "the view could not be caught up with the log (attempt %d); retrying",
                attempt);
        sleep(1);
    }
    return -1;
}

/* The loop's clocks and the stats line's counters. */
typedef struct loop_s {
    uint64_t last_check;  /* the last look at the built marker (ms) */
    uint64_t last_tick;   /* 0: the first tick runs at once, a restart does not wait a period */
    int tick_ms;          /* 0: no tick */
    uint64_t last_stats;
    uint64_t n_batches, n_commands, busy_us;
} loop_t;

/* Whether the view is ready for commands: Redis connected, the view built
 * and caught up (after a wipe or a rebalance), what is new applied. */
static bool view_ready(worker_t *w, loop_t *l) {
    if (w->rc == NULL || w->rc->err) {
        if (connect_redis(w) != 0) {
            sleep(1);
            return false;
        }
        w->need_catchup = true;
    }
    if (!w->need_catchup && sms_mono_ms() - l->last_check >= 1000) {
        /* Notices a wiped view (no built marker). Only the marker is read
         * here: new events reach the view through sms_view_tail_apply_some
         * below on every turn, so no watermark queries (a broker round trip
         * per partition) stall the batch loop once a second. */
        l->last_check = sms_mono_ms();
        int built = sms_view_tail_is_built(w);
        if (built < 0) return false;
        if (!built) w->need_catchup = true;
    }
    if (w->need_catchup) {
        /* Rebuilds a wiped view; after a rebalance, applies everything up
         * to the current ends first. */
        if (sms_view_tail_catch_up(w, false) != 0) return false; /* no commands until the view holds the log */
        w->need_catchup = false;
    }
    return sms_view_tail_apply_some(w, 0) >= 0;
}

/* Catches up with every topic to its current end, then decides the
 * deferred commands again; this time their answers are final. 0, or -1
 * (kept for the next turn). */
static int retry_deferred(worker_t *w) {
    if (sms_view_tail_catch_up_to_end(w, false, false) != 0) return -1;
    size_t nd = w->n_deferred;
    rd_kafka_message_t *again[SMS_WORKER_BATCH_MAX];
    memcpy(again, w->deferred, nd * sizeof *again);
    w->n_deferred = 0;
    if (sms_batch_handle(w, again, nd, true) != 0) {
        memcpy(w->deferred, again, nd * sizeof *again); /* Redis failed: keep them */
        w->n_deferred = nd;
        sleep(1);
        return -1;
    }
    return 0;
}

/* Throughput comes from batch size; this line (every 10 s) shows whether it
 * does, and which phase of a batch the time goes to. */
static void stats_note(worker_t *w, loop_t *l, size_t n, uint64_t started) {
    l->n_batches++;
    l->n_commands += n;
    l->busy_us += sms_mono_us() - started;
    if (sms_mono_ms() - l->last_stats < 10000) return;
    char phases[256];
    sms_batch_phases_format(phases, sizeof phases, w->phase_us, (double)l->n_batches);
    memset(w->phase_us, 0, sizeof w->phase_us);
    sms_log(SMS_LOG_INFO, "stats",
            "%llu commands in %llu batches (%.1f per batch), %.2f ms per batch (%s); %llu events quarantined; "
            "%llu commands shed past their deadline",
            (unsigned long long)l->n_commands, (unsigned long long)l->n_batches,
            (double)l->n_commands / (double)l->n_batches, (double)l->busy_us / 1000.0 / (double)l->n_batches,
            phases, (unsigned long long)w->quarantined, (unsigned long long)w->shed);
    l->last_stats = sms_mono_ms();
    l->n_batches = l->n_commands = l->busy_us = 0;
}

/* Polls a batch of commands (and source events) and handles it. */
static void run_commands(worker_t *w, loop_t *l) {
    rd_kafka_message_t *msgs[SMS_WORKER_BATCH_MAX];
    size_t n = 0;
    while (n < SMS_WORKER_BATCH_MAX) {
        rd_kafka_message_t *m = sms_consumer_poll(w->commands, n == 0 ? 20 : 0);
        if (m == NULL) break;
        msgs[n++] = m;
    }
    if (n == 0) return;
    if (w->need_catchup) { /* assigned during that poll: the view must hold the log first */
        if (sms_view_tail_catch_up(w, false) != 0) {
            rewind_batch(msgs, n);
            return;
        }
        w->need_catchup = false;
    }
    uint64_t started = sms_mono_us();
    uint64_t phase_before[SMS_PHASE_COUNT];
    memcpy(phase_before, w->phase_us, sizeof phase_before);
    if (sms_batch_handle(w, msgs, n, false) != 0) {
        rewind_batch(msgs, n);
        sleep(1);
        return;
    }
    uint64_t phase_us[SMS_PHASE_COUNT];
    for (int ph = 0; ph < SMS_PHASE_COUNT; ph++) phase_us[ph] = w->phase_us[ph] - phase_before[ph];
    sms_worker_metrics_batch(w, n, sms_mono_us() - started, phase_us);
    stats_note(w, l, n, started);
}

/* One turn of the loop: the view first, then the tick, the deferred
 * commands and a new batch. -1 when the process must stop. */
static int serve_turn(worker_t *w, loop_t *l) {
    char err[512];
    if (sms_producer_fatal(w->producer, err, sizeof err)) {
        sms_log(SMS_LOG_ERROR, "kafka_fatal", "%s", err);
        return -1; /* the idempotent producer cannot go on; restart cleanly */
    }
    sms_worker_metrics_sample(w);
    bool ready = view_ready(w, l);
    sms_metric_set(w->metrics.up, ready);
    if (!ready) return 0;
    if (l->tick_ms > 0 && w->n_deferred == 0 &&
        (l->last_tick == 0 || sms_mono_ms() - l->last_tick >= (uint64_t)l->tick_ms)) {
        l->last_tick = sms_mono_ms();
        if (sms_batch_tick(w) != 0) return 0;
    }
    if (w->n_deferred && retry_deferred(w) != 0) return 0;
    run_commands(w, l);
    return 0;
}

static int serve(worker_t *w) {
    if (first_catch_up(w) != 0) return -1;
    const char *topics[SMS_WORKER_MAX_TOPICS + 1] = {w->commands_topic};
    size_t n_topics = 1;
    for (const char *const *t = w->ops->source_topics; t && *t && n_topics <= SMS_WORKER_MAX_TOPICS; t++)
        topics[n_topics++] = *t;
    if (sms_consumer_subscribe_topics(w->commands, topics, n_topics) != 0) return -1;
    sms_log(SMS_LOG_INFO, "ready", "handling %s", w->commands_topic);
    loop_t l = {.last_check = sms_mono_ms()};
    l.last_stats = l.last_check;
    l.tick_ms = w->ops->tick && w->ops->tick_period_ms ? w->ops->tick_period_ms(w->cfg) : 0;
    while (!sms_worker_stop_requested)
        if (serve_turn(w, &l) != 0) return -1;
    return 0;
}

int sms_worker_main(const sms_worker_ops_t *ops, const sms_config_t *cfg, bool rebuild_only) {
    if (ops->commands == NULL) {
        sms_log(SMS_LOG_ERROR, "no_commands", "%s has no command table (ops.commands)", ops->service);
        return 2;
    }
    worker_t w;
    memset(&w, 0, sizeof w);
    w.ops = ops;
    w.cfg = cfg;
    snprintf(w.prefix, sizeof w.prefix, "sms:%s:", ops->service);
    snprintf(w.commands_topic, sizeof w.commands_topic, "sms.commands.%s", ops->service);
    if (ops->events_topic) snprintf(w.events_topic, sizeof w.events_topic, "%s", ops->events_topic);
    else snprintf(w.events_topic, sizeof w.events_topic, "sms.events.%s", ops->service);
    sms_strmap_init(&w.self_applied);
    sms_rebuild_lock_init(&w.rebuild_lock, w.prefix);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (!rebuild_only) sms_worker_metrics_start(&w);
    int rc = setup(&w, !rebuild_only);
    if (rc == 0) rc = rebuild_only ? sms_view_tail_rebuild_exclusive(&w) : serve(&w);
    teardown(&w);
    if (!rebuild_only) sms_worker_metrics_stop(&w);
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
