/* main.c - sms-classes: wires config, Kafka, Redis and the loop that
 * alternates between tailing sms.events.classes into the view and handling
 * batches of sms.commands.classes. `--rebuild-views` rebuilds the view from
 * offset 0 and exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "projection.h"
#include "redis.h"
#include "service.h"

static classes_service_t svc;

static void on_signal(int sig) {
    (void)sig;
    svc.stop = 1;
}

static void on_rebalance(void *opaque, bool assigned) {
    classes_service_t *s = opaque;
    if (assigned) s->need_catchup = true;
}

static int connect_redis(classes_service_t *s) {
    char err[256];
    if (s->rc) redisFree(s->rc);
    s->rc = sms_redis_connect(&s->cfg, err, sizeof err);
    if (s->rc == NULL || classes_projection_init(s->rc, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "redis_unavailable", "%s", err);
        if (s->rc) redisFree(s->rc);
        s->rc = NULL;
        return -1;
    }
    return 0;
}

/* Rewinds each partition of msgs to its first message, so a failed batch is
 * fetched again, then destroys the messages. */
static void rewind_batch(rd_kafka_message_t **msgs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i; j++)
            if (msgs[j]->partition == msgs[i]->partition) first = false;
        if (first) {
            rd_kafka_resp_err_t e = rd_kafka_seek(msgs[i]->rkt, msgs[i]->partition, msgs[i]->offset, 5000);
            if (e) sms_log(SMS_LOG_ERROR, "kafka_seek_failed", "%s", rd_kafka_err2str(e));
        }
    }
    for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
}

static int setup(classes_service_t *s, bool commands) {
    char err[512];
    sms_producer_opts_t popts = {.client_id = "sms-classes", .linger_ms = 1, .on_delivery = classes_on_delivery};
    if (sms_producer_new(&s->cfg, &popts, &s->producer, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_producer_failed", "%s", err);
        return -1;
    }
    sms_consumer_opts_t topts = {.group_id = "sms-classes-tailer", .client_id = "sms-classes-tailer", .fetch_wait_ms = 10};
    if (sms_consumer_new(&s->cfg, &topts, &s->tailer, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_consumer_failed", "%s", err);
        return -1;
    }
    s->n_partitions = sms_kafka_partitions(sms_consumer_rk(s->tailer), CLASSES_TOPIC_EVENTS, 10000);
    if (s->n_partitions <= 0) {
        sms_log(SMS_LOG_ERROR, "topic_missing", "%s does not exist: run `sms-admin create-topics`", CLASSES_TOPIC_EVENTS);
        return -1;
    }
    s->tail_next = sms_calloc((size_t)s->n_partitions, sizeof *s->tail_next);
    for (int attempt = 0; connect_redis(s) != 0; attempt++) {
        if (attempt == 30 || s->stop) return -1;
        sleep(1);
    }
    if (!commands) return 0;
    sms_consumer_opts_t copts = {.group_id = CLASSES_GROUP, .client_id = "sms-classes", .fetch_wait_ms = 2,
                                 .on_rebalance = on_rebalance, .opaque = s};
    if (sms_consumer_new(&s->cfg, &copts, &s->commands, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_consumer_failed", "%s", err);
        return -1;
    }
    return 0;
}

static void teardown(classes_service_t *s) {
    if (s->commands) sms_consumer_free(s->commands); /* commits what was stored */
    if (s->tailer) sms_consumer_free(s->tailer);
    if (s->producer) sms_producer_free(s->producer);
    if (s->rc) redisFree(s->rc);
    sms_free(s->tail_next);
    sms_strmap_close(&s->self_applied);
}

static int serve(classes_service_t *s) {
    if (classes_tailer_start(s) != 0) return -1;
    if (sms_consumer_subscribe(s->commands, CLASSES_TOPIC_COMMANDS) != 0) return -1;
    sms_log(SMS_LOG_INFO, "ready", "handling %s", CLASSES_TOPIC_COMMANDS);
    uint64_t last_check = sms_mono_ms(), last_stats = last_check;
    uint64_t n_batches = 0, n_commands = 0, busy_us = 0;
    rd_kafka_message_t *msgs[CLASSES_BATCH_MAX];
    while (!s->stop) {
        char err[512];
        if (sms_producer_fatal(s->producer, err, sizeof err)) {
            sms_log(SMS_LOG_ERROR, "kafka_fatal", "%s", err);
            return -1; /* the idempotent producer cannot go on; restart cleanly */
        }
        if (s->rc == NULL || s->rc->err) {
            if (connect_redis(s) != 0) { sleep(1); continue; }
            s->need_catchup = true;
        }
        if (sms_mono_ms() - last_check >= 1000 || s->need_catchup) {
            last_check = sms_mono_ms();
            /* Catch-up also notices a wiped view (meta gone) and rebuilds it. */
            if (classes_tailer_catch_up(s) != 0) continue;
            s->need_catchup = false;
        }
        if (classes_tailer_poll(s) != 0) continue;

        size_t n = 0;
        while (n < CLASSES_BATCH_MAX) {
            rd_kafka_message_t *m = sms_consumer_poll(s->commands, n == 0 ? 20 : 0);
            if (m == NULL) break;
            msgs[n++] = m;
        }
        if (n == 0) continue;
        if (s->need_catchup) { /* assigned during that poll: the view must hold the log first */
            if (classes_tailer_catch_up(s) != 0) { rewind_batch(msgs, n); continue; }
            s->need_catchup = false;
        }
        uint64_t started = sms_mono_us();
        if (classes_handle_batch(s, msgs, n) != 0) {
            rewind_batch(msgs, n);
            sleep(1);
            continue;
        }
        n_batches++;
        n_commands += n;
        busy_us += sms_mono_us() - started;
        if (sms_mono_ms() - last_stats >= 10000) {
            /* Throughput comes from batch size; this line shows whether it does. */
            sms_log(SMS_LOG_INFO, "stats", "%llu commands in %llu batches (%.1f per batch), %.2f ms per batch",
                    (unsigned long long)n_commands, (unsigned long long)n_batches,
                    (double)n_commands / (double)n_batches, (double)busy_us / 1000.0 / (double)n_batches);
            last_stats = sms_mono_ms();
            n_batches = n_commands = busy_us = 0;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    char err[256];
    bool rebuild = argc > 1 && strcmp(argv[1], "--rebuild-views") == 0;
    if (argc > 1 && !rebuild) {
        fprintf(stderr, "usage: %s [--rebuild-views]\n", argv[0]);
        return 2;
    }
    if (sms_config_load(&svc.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-classes: %s\n", err);
        return 2;
    }
    sms_log_init("classes", svc.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int rc = setup(&svc, !rebuild);
    if (rc == 0) rc = rebuild ? classes_tailer_rebuild(&svc) : serve(&svc);
    teardown(&svc);
    sms_log(rc == 0 ? SMS_LOG_INFO : SMS_LOG_ERROR, "exit", "%s", rc == 0 ? "clean" : "failed");
    return rc == 0 ? 0 : 1;
}
