/* kafka_metrics.c - the consumer lag sampler (kafka_metrics.h). */
#include "kafka_metrics.h"

#include <stdio.h>
#include <string.h>

void sms_kafka_lag_init(sms_kafka_lag_t *l, sms_metrics_t *reg, const char *service, const char *group) {
    memset(l, 0, sizeof *l);
    l->reg = reg;
    snprintf(l->service, sizeof l->service, "%s", service);
    snprintf(l->group, sizeof l->group, "%s", group);
}

static sms_metric_t *gauge_for(sms_kafka_lag_t *l, const char *topic, int32_t partition) {
    for (size_t k = 0; k < l->n; k++)
        if (l->e[k].partition == partition && strcmp(l->e[k].topic, topic) == 0) return l->e[k].m;
    if (l->n == SMS_KAFKA_LAG_MAX) return NULL;
    char part[16];
    snprintf(part, sizeof part, "%d", (int)partition);
    sms_metric_t *m = sms_metrics_gauge(l->reg, "sms_kafka_consumer_lag",
                                        "Messages between a consumer's position and its partition's end.", "service",
                                        l->service, "group", l->group, "topic", topic, "partition", part, NULL);
    snprintf(l->e[l->n].topic, sizeof l->e[0].topic, "%s", topic);
    l->e[l->n].partition = partition;
    l->e[l->n++].m = m;
    return m;
}

void sms_kafka_lag_sample(sms_kafka_lag_t *l, rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rk == NULL || rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL) return;
    if (rd_kafka_position(rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &parts->elems[i];
            int64_t lo, hi;
            if (rd_kafka_get_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                hi < 0)
                continue; /* nothing fetched from it yet: no end known */
            /* No position yet (nothing consumed since the assignment): unknown, not 0. */
            if (tp->offset < 0) continue;
            sms_metric_set(gauge_for(l, tp->topic, tp->partition), hi > tp->offset ? hi - tp->offset : 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
}
