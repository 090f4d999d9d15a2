/* kafka.h - librdkafka wrappers: the idempotent producer, group and manual
 * consumers, topic administration, and an fd that wakes a libuv loop.
 *
 * Every producer is idempotent with acks=all; a delivery report reaches the
 * caller's on_delivery from sms_producer_poll()/flush() on the caller's
 * thread. Consumers never auto-store offsets: the caller stores a message's
 * offset (sms_consumer_store) only after it fully handled it; stored offsets
 * are committed in the background and on close. */
#ifndef SMS_KAFKA_H
#define SMS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#include "config.h"
#include "envelope.h"


/* ---- producer ---- */
typedef struct sms_producer_s sms_producer_t;

/* err is an rd_kafka_resp_err_t (0 = durable on all in-sync replicas). */
typedef void (*sms_delivery_fn)(void *opaque, int err, int32_t partition, int64_t offset);

/* The same report with rd_kafka_message_status(): for a failed message
 * (err != 0), RD_KAFKA_MSG_STATUS_NOT_PERSISTED means it was certainly not
 * written to the log, POSSIBLY_PERSISTED that it may have been (sent, no
 * acknowledgement: a timeout says nothing more). */
typedef void (*sms_delivery_status_fn)(void *opaque, int err, rd_kafka_msg_status_t status);

typedef struct sms_producer_opts_s {
    const char *client_id;
    int linger_ms;               /* 0 for lowest latency; a few ms for throughput */
    sms_delivery_fn on_delivery; /* may be NULL */
    /* may be NULL; when set, called instead of on_delivery */
    sms_delivery_status_fn on_delivery_status;
} sms_producer_opts_t;

int sms_producer_new(const sms_config_t *cfg, const sms_producer_opts_t *opts, sms_producer_t **out,
                     char *err, size_t errlen);
/* Copies value and key. Adds header content-type: application/msgpack and,
 * when traceparent.len > 0, traceparent. opaque goes to on_delivery.
 * Returns 0, SMS_EQUEUE, or another negative error (logged). */
int sms_producer_send(sms_producer_t *p, const char *topic, sms_str_t key, const void *value, size_t len,
                      sms_str_t traceparent, void *opaque);
/* The same for an event (value = an sms event envelope): also adds the
 * CloudEvents binary-mode headers ce_specversion, ce_id, ce_source
 * ("/sms/<service>"), ce_type, ce_time, ce_subject (common/cloudevents.h).
 * An envelope that does not decode is sent without them (logged). */
int sms_producer_send_event(sms_producer_t *p, const char *topic, const char *service, sms_str_t key,
                            const void *value, size_t len, sms_str_t traceparent, void *opaque);
/* Serves delivery reports for up to timeout_ms; returns how many were served. */
int sms_producer_poll(sms_producer_t *p, int timeout_ms);
/* Waits until every message is delivered or failed; 0, or -1 on timeout. */
int sms_producer_flush(sms_producer_t *p, int timeout_ms);
/* Non-zero (and a reason in err) when the idempotent producer hit a fatal error. */
int sms_producer_fatal(sms_producer_t *p, char *err, size_t errlen);
/* Messages waiting for delivery. */
int sms_producer_outq(sms_producer_t *p);
/* A readable fd for libuv: becomes readable when delivery reports wait.
 * After it fires, call sms_kafka_fd_drain() and sms_producer_poll(p, 0) until 0. */
int sms_producer_event_fd(sms_producer_t *p);
rd_kafka_t *sms_producer_rk(sms_producer_t *p);
/* Flushes (up to 10 s) and destroys. */
void sms_producer_free(sms_producer_t *p);

/* ---- consumer ---- */
typedef struct sms_consumer_s sms_consumer_t;

typedef struct sms_consumer_opts_s {
    const char *group_id;
    const char *client_id;
    /* fetch.wait.max.ms, 0 = 100. Not a latency setting: the broker answers
     * a waiting fetch as soon as a produce appends to one of its partitions.
     * It bounds how often an idle consumer polls the broker: at 2-10 ms the
     * dozen consumers of one deployment kept an idle broker at ~60 % of a
     * core, at 100 ms ~30 %, with serial command latency no worse (BENCHMARKS.md). */
    int fetch_wait_ms;
    /* auto.offset.reset for a group with no committed offset: NULL =
     * "earliest" (views and deciders need the whole log); "latest" for
     * side-effect consumers that must not act on history (delivery). */
    const char *offset_reset;
    /* Called after partitions were assigned (true) or before they are
     * revoked (false, stored offsets already committed). May be NULL. */
    void (*on_rebalance)(void *opaque, bool assigned);
    void *opaque;
} sms_consumer_opts_t;

int sms_consumer_new(const sms_config_t *cfg, const sms_consumer_opts_t *opts, sms_consumer_t **out,
                     char *err, size_t errlen);
/* Joins the group for topic (partitions are balanced across instances). */
int sms_consumer_subscribe(sms_consumer_t *c, const char *topic);
/* The same for n topics at once (one subscription replaces the previous). */
int sms_consumer_subscribe_topics(sms_consumer_t *c, const char *const *topics, size_t n);
/* Manually assigns every partition of topic; offsets[i] is the start of
 * partition i (or RD_KAFKA_OFFSET_BEGINNING/END); n must equal the
 * partition count. */
int sms_consumer_assign(sms_consumer_t *c, const char *topic, const int64_t *offsets, int n);
/* Next message or NULL after timeout_ms; errors that are only informational
 * (partition EOF) are consumed silently. Caller destroys with rd_kafka_message_destroy. */
rd_kafka_message_t *sms_consumer_poll(sms_consumer_t *c, int timeout_ms);
/* Marks m handled: its offset+1 will be committed. */
int sms_consumer_store(sms_consumer_t *c, const rd_kafka_message_t *m);
/* Commits stored offsets now (synchronously). */
int sms_consumer_commit(sms_consumer_t *c);
/* A readable fd for libuv that fires when messages wait (see producer fd). */
int sms_consumer_event_fd(sms_consumer_t *c);
rd_kafka_t *sms_consumer_rk(sms_consumer_t *c);
/* Leaves the group (committing stored offsets) and destroys. */
void sms_consumer_free(sms_consumer_t *c);

/* ---- helpers ---- */
/* Number of partitions of topic (metadata request), or negative on error. */
int sms_kafka_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms);
/* High watermark (next offset to be written) of topic/partition, or negative. */
int64_t sms_kafka_high_watermark(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms);
/* The high watermarks of every partition in l, written to each element's
 * offset: one ListOffsets request per broker for the whole list (instead of
 * a round trip per partition), falling back to sms_kafka_high_watermark for
 * a partition that request did not answer. 0, or -1 (logged). */
int sms_kafka_high_watermarks(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, int timeout_ms);
/* Value of header name in m, or NULL/0. */
const char *sms_kafka_header(const rd_kafka_message_t *m, const char *name, size_t *len);
void sms_kafka_fd_drain(int fd);

typedef struct sms_topic_spec_s {
    const char *name;
    int partitions;
    const char *const *configs; /* NULL-terminated name, value, name, value, ... */
} sms_topic_spec_t;

/* Creates the topics that do not exist yet (existing ones are left as they
 * are). Returns 0 or -1 with the first failure in err. */
int sms_kafka_create_topics(const sms_config_t *cfg, const sms_topic_spec_t *specs, size_t n, int timeout_ms,
                            char *err, size_t errlen);

#endif
