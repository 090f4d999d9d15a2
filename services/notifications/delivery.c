/* delivery.c - the delivery consumers' shared loop (see delivery.h):
 * poll sms.notifications in the channel's group, hand each message to the
 * channel, store its offset only once handled, run the channel's timers. */
#include "delivery.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "redis.h"

#define POLL_MAX_MS 100
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 5000

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL); /* an interrupting signal only ends the nap early */
}

typedef struct core_s {
    const notif_delivery_ops_t *ops;
    const sms_config_t *cfg;
    void *ch;
    redisContext *rc;
} core_t;

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
    if (k->rc == NULL) sms_log(SMS_LOG_WARN, "redis_unavailable", "%s", err);
    return k->rc;
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

/* 0: handled (offset stored); -1: to be handled again. */
static int handle(core_t *k, sms_consumer_t *c, const rd_kafka_message_t *m) {
    sms_event_t ev;
    bool decoded = sms_event_decode(m->payload, m->len, &ev) == SMS_ENV_OK;
    redisContext *rc = redis_ready(k);
    int r = rc ? k->ops->handle(k->ch, rc, rd_kafka_topic_name(m->rkt), decoded ? &ev : NULL, sms_now_ms()) : -1;
    if (decoded) sms_event_close(&ev);
    if (r != 0) {
        /* Reconnect before the next try: that also reloads the scripts a
         * FLUSHALL or a Redis restart dropped (NOSCRIPT). */
        if (k->rc) k->rc->err = REDIS_ERR_IO;
        return -1;
    }
    if (sms_consumer_store(c, m) != 0) sms_log(SMS_LOG_WARN, "offset_store_failed", "offset %lld", (long long)m->offset);
    return 0;
}

int notif_delivery_main(const notif_delivery_ops_t *ops, const sms_config_t *cfg) {
    char err[512], group[64];
    int rc_exit = 1;
    core_t k = {.ops = ops, .cfg = cfg};
    sms_consumer_t *c = NULL;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    k.ch = ops->open(cfg, err, sizeof err);
    if (k.ch == NULL) {
        sms_log(SMS_LOG_ERROR, "start_failed", "%s", err);
        return 1;
    }
    snprintf(group, sizeof group, "sms-notify-%s", ops->name);
    sms_consumer_opts_t co = {.group_id = group, .client_id = group, .offset_reset = "latest"};
    size_t n_topics = 0;
    while (ops->topics[n_topics]) n_topics++;
    if (sms_consumer_new(cfg, &co, &c, err, sizeof err) != 0 ||
        sms_consumer_subscribe_topics(c, ops->topics, n_topics) != 0) {
        sms_log(SMS_LOG_ERROR, "start_failed", "kafka: %s", err);
        goto out;
    }
    sms_log(SMS_LOG_INFO, "started", "group %s", group);
    int64_t paused_until = 0;
    int pause_ms = PAUSE_MIN_MS, wait_ms = POLL_MAX_MS;
    while (!stopping) {
        int64_t now = sms_now_ms();
        if (now >= paused_until) {
            rd_kafka_message_t *m = sms_consumer_poll(c, wait_ms < POLL_MAX_MS ? wait_ms : POLL_MAX_MS);
            if (m && m->err == 0) {
                if (handle(&k, c, m) != 0) {
                    rewind_to(c, m);
                    paused_until = sms_now_ms() + pause_ms;
                    sms_log(SMS_LOG_WARN, "handle_failed", "offset %lld: handled again in %d ms", (long long)m->offset,
                            pause_ms);
                    pause_ms = pause_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : pause_ms * 2;
                } else {
                    pause_ms = PAUSE_MIN_MS;
                }
            }
            if (m) rd_kafka_message_destroy(m);
        } else {
            /* Paused: keep serving the group (heartbeats run in librdkafka's
             * threads) but take no message until the backoff ends. */
            sleep_ms(wait_ms < 50 ? wait_ms : 50);
        }
        redisContext *rc = redis_ready(&k);
        wait_ms = rc ? ops->tick(k.ch, rc, sms_now_ms()) : POLL_MAX_MS;
        if (wait_ms < 0) {
            if (k.rc) k.rc->err = REDIS_ERR_IO; /* reconnect on the next round */
            wait_ms = POLL_MAX_MS;
        }
    }
    rc_exit = 0;
out:
    if (c) sms_consumer_free(c);
    ops->close(k.ch);
    if (k.rc) redisFree(k.rc);
    sms_log(SMS_LOG_INFO, "stopped", "exit code %d", rc_exit);
    return rc_exit;
}
