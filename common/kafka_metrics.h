/* kafka_metrics.h - consumer lag per topic/partition as Prometheus gauges
 * (sms_kafka_consumer_lag{service,group,topic,partition}), sampled off the
 * hot path by the worker (worker_metrics.c) and the delivery consumers
 * (services/notifications/delivery.c) every few seconds. Lag = the high
 * watermark librdkafka cached from its last fetch response (no broker round
 * trip) minus the consumer's position. One thread per sms_kafka_lag_t. */
#ifndef SMS_KAFKA_METRICS_H
#define SMS_KAFKA_METRICS_H

#include <librdkafka/rdkafka.h>

#include "metrics.h"

#define SMS_KAFKA_LAG_MAX 128 /* partitions tracked per sampler; more are not reported */

typedef struct sms_kafka_lag_s {
    sms_metrics_t *reg;  /* borrowed */
    char service[64];
    char group[128];
    size_t n;
    struct {
        char topic[128];
        int32_t partition;
        sms_metric_t *m;
    } e[SMS_KAFKA_LAG_MAX];
} sms_kafka_lag_t;

/* A caller-owned sampler for group's consumer in service (nothing to close). */
void sms_kafka_lag_init(sms_kafka_lag_t *l, sms_metrics_t *reg, const char *service, const char *group);
/* Sets the gauge of every partition assigned to rk (a gauge appears the
 * first time its partition is assigned and keeps its last value after). */
void sms_kafka_lag_sample(sms_kafka_lag_t *l, rd_kafka_t *rk);

#endif
