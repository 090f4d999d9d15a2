/* kafka.c - librdkafka producer/consumer/admin wrappers (see kafka.h).
 * Settings follow FACTS.md: nagle off, eager assignors and short sessions so
 * restarts rebalance quickly; fetch waits of 100 ms (see kafka.h: a waiting
 * fetch returns when data arrives, so a short wait only burns broker CPU). */
#include "kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cloudevents.h"
#include "clock.h"
#include "log.h"

struct sms_producer_s {
    rd_kafka_t *rk;
    sms_delivery_fn on_delivery;
    sms_delivery_status_fn on_delivery_status;
    int fds[2]; /* io-event pipe: [0] read end for the loop, [1] written by librdkafka */
};

struct sms_consumer_s {
    rd_kafka_t *rk;
    void (*on_rebalance)(void *opaque, bool assigned);
    void *opaque;
    rd_kafka_queue_t *queue; /* the consumer queue (forwarded main queue) */
    int fds[2];
};

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errlen) {
    if (rd_kafka_conf_set(conf, name, value, err, errlen) != RD_KAFKA_CONF_OK) return -1;
    return 0;
}

static int conf_set_all(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen) {
    for (; kv[0]; kv += 2)
        if (conf_set(conf, kv[0], kv[1], err, errlen) != 0) return -1;
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    sms_log_level_t l = level <= 3 ? SMS_LOG_ERROR : level <= 4 ? SMS_LOG_WARN : level <= 6 ? SMS_LOG_INFO : SMS_LOG_DEBUG;
    sms_log(l, "kafka", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    /* Transport errors are retried by librdkafka itself; they are worth a warning, not an exit. */
    sms_log(err == RD_KAFKA_RESP_ERR__FATAL ? SMS_LOG_ERROR : SMS_LOG_WARN, "kafka_error", "%s: %s",
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *base_conf(const sms_config_t *cfg, const char *client_id, char *err, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[] = {
        "bootstrap.servers", cfg->kafka_brokers,
        "client.id", client_id,
        "socket.nagle.disable", "true",
        "log.connection.close", "false",
        NULL,
    };
    if (conf_set_all(conf, kv, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

static int make_pipe(int fds[2]) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
    return 0;
}

void sms_kafka_fd_drain(int fd) {
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

/* ---------------- producer ---------------- */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sms_producer_t *p = opaque;
    if (p->on_delivery_status) p->on_delivery_status(m->_private, m->err, rd_kafka_message_status(m));
    else if (p->on_delivery) p->on_delivery(m->_private, m->err, m->partition, m->offset);
}

int sms_producer_new(const sms_config_t *cfg, const sms_producer_opts_t *opts, sms_producer_t **out,
                     char *err, size_t errlen) {
    sms_producer_t *p = sms_calloc(1, sizeof *p);
    p->fds[0] = p->fds[1] = -1;
    p->on_delivery = opts->on_delivery;
    p->on_delivery_status = opts->on_delivery_status;
    rd_kafka_conf_t *conf = base_conf(cfg, opts->client_id, err, errlen);
    if (conf == NULL) goto error;
    char linger[16];
    snprintf(linger, sizeof linger, "%d", opts->linger_ms);
    const char *kv[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "linger.ms", linger,
        "compression.type", "lz4",
        "message.timeout.ms", "30000",
        NULL,
    };
    if (conf_set_all(conf, kv, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        goto error;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto error;
    }
    conf = NULL; /* now owned by p->rk */
    if (make_pipe(p->fds) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto error;
    }
    rd_kafka_queue_t *main_q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(main_q, p->fds[1], "1", 1);
    rd_kafka_queue_destroy(main_q);
    *out = p;
    return 0;
error:
    if (p->rk) rd_kafka_destroy(p->rk);
    if (p->fds[0] >= 0) close(p->fds[0]);
    if (p->fds[1] >= 0) close(p->fds[1]);
    sms_free(p);
    return -1;
}

/* Hands the record to librdkafka, which then owns hdrs (destroyed here if
 * the produce is refused). */
static int produce(sms_producer_t *p, const char *topic, sms_str_t key, const void *value, size_t len,
                   rd_kafka_headers_t *hdrs, void *opaque) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key.ptr, key.len),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0; /* hdrs now owned by the message */
    rd_kafka_headers_destroy(hdrs);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) return SMS_EQUEUE;
    sms_log(SMS_LOG_ERROR, "kafka_produce_failed", "%s: %s", topic, rd_kafka_err2str(e));
    return -1;
}

static rd_kafka_headers_t *base_headers(sms_str_t traceparent, size_t extra) {
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2 + extra);
    rd_kafka_header_add(hdrs, "content-type", -1, "application/msgpack", -1);
    if (traceparent.len) rd_kafka_header_add(hdrs, "traceparent", -1, traceparent.ptr, (ssize_t)traceparent.len);
    return hdrs;
}

int sms_producer_send(sms_producer_t *p, const char *topic, sms_str_t key, const void *value, size_t len,
                      sms_str_t traceparent, void *opaque) {
    return produce(p, topic, key, value, len, base_headers(traceparent, 0), opaque);
}

int sms_producer_send_event(sms_producer_t *p, const char *topic, const char *service, sms_str_t key,
                            const void *value, size_t len, sms_str_t traceparent, void *opaque) {
    rd_kafka_headers_t *hdrs = base_headers(traceparent, 6);
    int rc = sms_ce_headers_add(hdrs, service, value, len);
    if (rc != SMS_OK) {
        /* The decider's own envelope did not decode: the event is still the
         * record (its service's validator passed it), only without ce_*. */
        sms_log(SMS_LOG_WARN, "cloudevents_headers_missing", "%s: event envelope not decodable (%s)", topic,
                sms_strerror(rc));
    }
    return produce(p, topic, key, value, len, hdrs, opaque);
}

int sms_producer_poll(sms_producer_t *p, int timeout_ms) { return rd_kafka_poll(p->rk, timeout_ms); }

int sms_producer_flush(sms_producer_t *p, int timeout_ms) {
    return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int sms_producer_fatal(sms_producer_t *p, char *err, size_t errlen) {
    return rd_kafka_fatal_error(p->rk, err, errlen) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

int sms_producer_outq(sms_producer_t *p) { return rd_kafka_outq_len(p->rk); }
int sms_producer_event_fd(sms_producer_t *p) { return p->fds[0]; }
rd_kafka_t *sms_producer_rk(sms_producer_t *p) { return p->rk; }

void sms_producer_free(sms_producer_t *p) {
    if (p == NULL) return;
    if (rd_kafka_flush(p->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        sms_log(SMS_LOG_ERROR, "kafka_flush_timeout", "%d messages not delivered", rd_kafka_outq_len(p->rk));
    rd_kafka_destroy(p->rk);
    close(p->fds[0]);
    close(p->fds[1]);
    sms_free(p);
}

/* ---------------- consumer ---------------- */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    sms_consumer_t *c = opaque;
    /* The KIP-848 protocol (group.protocol=consumer) rebalances incrementally: parts is what is
     * added or taken away, not the whole assignment. */
    bool incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        sms_log(SMS_LOG_INFO, "kafka_assigned", "%d partitions", parts->cnt);
        if (incremental) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                sms_log(SMS_LOG_ERROR, "kafka_assign_failed", "%s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        if (c->on_rebalance) c->on_rebalance(c->opaque, true);
    } else if (incremental) {
        sms_log(SMS_LOG_INFO, "kafka_revoked", "%d partitions", parts->cnt);
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            sms_log(SMS_LOG_WARN, "kafka_commit_failed", "%s", rd_kafka_err2str(e));
        if (c->on_rebalance) c->on_rebalance(c->opaque, false);
        rd_kafka_error_t *ue = rd_kafka_incremental_unassign(rk, parts);
        if (ue) {
            sms_log(SMS_LOG_ERROR, "kafka_unassign_failed", "%s", rd_kafka_error_string(ue));
            rd_kafka_error_destroy(ue);
        }
    } else {
        sms_log(SMS_LOG_INFO, "kafka_revoked", "%d partitions", parts->cnt);
        /* Everything handled so far was stored; commit it before another
         * member takes these partitions, so it does not redo our work. */
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            sms_log(SMS_LOG_WARN, "kafka_commit_failed", "%s", rd_kafka_err2str(e));
        if (c->on_rebalance) c->on_rebalance(c->opaque, false);
        rd_kafka_assign(rk, NULL);
    }
}

int sms_consumer_new(const sms_config_t *cfg, const sms_consumer_opts_t *opts, sms_consumer_t **out,
                     char *err, size_t errlen) {
    sms_consumer_t *c = sms_calloc(1, sizeof *c);
    c->fds[0] = c->fds[1] = -1;
    c->on_rebalance = opts->on_rebalance;
    c->opaque = opts->opaque;
    rd_kafka_conf_t *conf = base_conf(cfg, opts->client_id, err, errlen);
    if (conf == NULL) goto error;
    char fetch_wait[16];
    snprintf(fetch_wait, sizeof fetch_wait, "%d", opts->fetch_wait_ms > 0 ? opts->fetch_wait_ms : 100);
    const char *kv[] = {
        "group.id", opts->group_id,
        "enable.auto.commit", "true",
        "auto.commit.interval.ms", "1000",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", opts->offset_reset ? opts->offset_reset : "earliest",
        "fetch.wait.max.ms", fetch_wait,
        "fetch.error.backoff.ms", "50",
        "enable.partition.eof", "false",
        NULL,
    };
    /* The group's timing: the client's with the classic protocol; with KIP-848 the broker's
     * (group.consumer.* in deploy/ctl), and librdkafka refuses these three. */
    const char *classic_kv[] = {
        "session.timeout.ms", "6000",
        "heartbeat.interval.ms", "500",
        "partition.assignment.strategy", "range,roundrobin",
        NULL,
    };
    const char *consumer_kv[] = {"group.protocol", "consumer", NULL};
    bool kip848 = strcmp(cfg->kafka_group_protocol, "consumer") == 0;
    if (conf_set_all(conf, kv, err, errlen) != 0 || conf_set_all(conf, kip848 ? consumer_kv : classic_kv, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        goto error;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (c->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto error;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    if (make_pipe(c->fds) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto error;
    }
    rd_kafka_queue_io_event_enable(c->queue, c->fds[1], "1", 1);
    *out = c;
    return 0;
error:
    if (c->queue) rd_kafka_queue_destroy(c->queue);
    if (c->rk) rd_kafka_destroy(c->rk);
    if (c->fds[0] >= 0) close(c->fds[0]);
    if (c->fds[1] >= 0) close(c->fds[1]);
    sms_free(c);
    return -1;
}

int sms_consumer_subscribe(sms_consumer_t *c, const char *topic) { return sms_consumer_subscribe_topics(c, &topic, 1); }

int sms_consumer_subscribe_topics(sms_consumer_t *c, const char *const *topics, size_t n) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) sms_log(SMS_LOG_ERROR, "kafka_subscribe_failed", "%s: %s", n ? topics[0] : "", rd_kafka_err2str(e));
    return e ? -1 : 0;
}

int sms_consumer_assign(sms_consumer_t *c, const char *topic, const int64_t *offsets, int n) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) rd_kafka_topic_partition_list_add(l, topic, i)->offset = offsets[i];
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) sms_log(SMS_LOG_ERROR, "kafka_assign_failed", "%s: %s", topic, rd_kafka_err2str(e));
    return e ? -1 : 0;
}

rd_kafka_message_t *sms_consumer_poll(sms_consumer_t *c, int timeout_ms) {
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
        if (m == NULL) return NULL;
        if (!m->err) return m;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sms_log(SMS_LOG_WARN, "kafka_consume_error", "%s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        timeout_ms = 0;
    }
}

int sms_consumer_store(sms_consumer_t *c, const rd_kafka_message_t *m) {
    rd_kafka_resp_err_t e = rd_kafka_offset_store(m->rkt, m->partition, m->offset);
    (void)c;
    if (e) sms_log(SMS_LOG_WARN, "kafka_offset_store_failed", "%s", rd_kafka_err2str(e));
    return e ? -1 : 0;
}

int sms_consumer_commit(sms_consumer_t *c) {
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
    /* NO_OFFSET: nothing stored since the last commit; not an error. */
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        sms_log(SMS_LOG_WARN, "kafka_commit_failed", "%s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int sms_consumer_event_fd(sms_consumer_t *c) { return c->fds[0]; }
rd_kafka_t *sms_consumer_rk(sms_consumer_t *c) { return c->rk; }

void sms_consumer_free(sms_consumer_t *c) {
    if (c == NULL) return;
    rd_kafka_queue_destroy(c->queue);
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    close(c->fds[0]);
    close(c->fds[1]);
    sms_free(c);
}

/* ---------------- helpers ---------------- */

int sms_kafka_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int n = -1;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0)
        n = md->topics[0].partition_cnt;
    else
        sms_log(SMS_LOG_WARN, "kafka_metadata_failed", "%s: %s", topic,
                rd_kafka_err2str(e ? e : (md && md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN)));
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

int64_t sms_kafka_high_watermark(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms) {
    int64_t lo, hi;
    uint64_t deadline = sms_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_resp_err_t e;
    /* Right after topic creation a partition may have no leader yet, or not
     * be in this client's metadata yet (local "unknown partition"): that
     * passes within moments, so wait for it instead of failing the caller. */
    while ((e = rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, timeout_ms)) ==
               RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
           e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        if (sms_mono_ms() >= deadline) break;
        usleep(100 * 1000);
    }
    if (e) {
        sms_log(SMS_LOG_WARN, "kafka_watermark_failed", "%s[%d]: %s", topic, partition, rd_kafka_err2str(e));
        return -1;
    }
    return hi;
}

int sms_kafka_high_watermarks(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, int timeout_ms) {
    /* ListOffsets with the timestamp -1 (RD_KAFKA_OFFSET_END) answers "latest":
     * the high watermark, for all partitions of a broker at once. */
    for (int i = 0; i < l->cnt; i++) l->elems[i].offset = RD_KAFKA_OFFSET_END;
    /* At most 2 s here: a partition without a leader yet (just created) is
     * then waited for by the fallback, with the whole timeout, as before. */
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms < 2000 ? timeout_ms : 2000);
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0) continue;
        tp->offset = sms_kafka_high_watermark(rk, tp->topic, tp->partition, timeout_ms);
        if (tp->offset < 0) return -1;
    }
    return 0;
}

const char *sms_kafka_header(const rd_kafka_message_t *m, const char *name, size_t *len) {
    rd_kafka_headers_t *hdrs;
    const void *val;
    size_t n;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &val, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return NULL;
    if (len) *len = n;
    return val;
}

int sms_kafka_create_topics(const sms_config_t *cfg, const sms_topic_spec_t *specs, size_t n, int timeout_ms,
                            char *err, size_t errlen) {
    int rc = -1;
    rd_kafka_conf_t *conf = base_conf(cfg, "sms-admin", err, errlen);
    if (conf == NULL) return -1;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_NewTopic_t **topics = sms_calloc(n, sizeof *topics);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    for (size_t i = 0; i < n; i++) {
        topics[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, 1, err, errlen);
        if (topics[i] == NULL) goto done;
        for (const char *const *kv = specs[i].configs; kv && kv[0]; kv += 2)
            if (rd_kafka_NewTopic_set_config(topics[i], kv[0], kv[1])) {
                snprintf(err, errlen, "%s: bad config %s", specs[i].name, kv[0]);
                goto done;
            }
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, NULL, 0);
    rd_kafka_CreateTopics(rk, topics, n, ao, q);
    rd_kafka_AdminOptions_destroy(ao);
    ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (ev == NULL) {
        snprintf(err, errlen, "CreateTopics: no answer within %d ms", timeout_ms + 2000);
        goto done;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        goto done;
    }
    size_t cnt;
    const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, errlen, "%s: %s", rd_kafka_topic_result_name(res[i]), rd_kafka_topic_result_error_string(res[i]));
            goto done;
        }
    }
    rc = 0;
done:
    if (ev) rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        if (topics[i]) rd_kafka_NewTopic_destroy(topics[i]);
    sms_free(topics);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}
