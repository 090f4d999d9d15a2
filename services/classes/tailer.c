/* tailer.c - keeps the Redis view equal to the event log: reads every
 * partition of sms.events.classes from the offsets recorded in the view and
 * applies each event through the projection (idempotent, version-gated).
 * Called by main.c's loop; uses the service's blocking Redis context. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "projection.h"
#include "redis.h"
#include "service.h"

#define TAIL_BATCH 512

static int self_key(char *buf, size_t cap, int32_t partition, int64_t offset) {
    return snprintf(buf, cap, "%d:%lld", partition, (long long)offset);
}

void classes_self_applied_add(classes_service_t *svc, int32_t partition, int64_t offset) {
    char key[48];
    int n = self_key(key, sizeof key, partition, offset);
    sms_strmap_put(&svc->self_applied, key, (size_t)n, svc);
}

bool classes_self_applied_take(classes_service_t *svc, int32_t partition, int64_t offset) {
    char key[48];
    int n = self_key(key, sizeof key, partition, offset);
    return sms_strmap_del(&svc->self_applied, key, (size_t)n) != NULL;
}

void classes_self_applied_clear(classes_service_t *svc) {
    sms_strmap_close(&svc->self_applied);
    sms_strmap_init(&svc->self_applied);
}

static int assign_from_view(classes_service_t *svc) {
    if (classes_projection_offsets(svc->rc, svc->tail_next, svc->n_partitions) != 0) return -1;
    return sms_consumer_assign(svc->tailer, CLASSES_TOPIC_EVENTS, svc->tail_next, svc->n_partitions);
}

/* Applies up to TAIL_BATCH messages, waiting at most timeout_ms for the first.
 * Returns the number applied, or -1 on a Redis failure. */
static int apply_some(classes_service_t *svc, int timeout_ms) {
    rd_kafka_message_t *msgs[TAIL_BATCH];
    size_t n = 0;
    while (n < TAIL_BATCH) {
        rd_kafka_message_t *m = sms_consumer_poll(svc->tailer, n == 0 ? timeout_ms : 0);
        if (m == NULL) break;
        msgs[n++] = m;
    }
    for (size_t i = 0; i < n; i++) {
        sms_event_t ev;
        int appended = 0;
        if (classes_self_applied_take(svc, msgs[i]->partition, msgs[i]->offset)) {
            /* Already in the view: just move the recorded offset past it. */
        } else if (sms_event_decode(msgs[i]->payload, msgs[i]->len, &ev) == SMS_ENV_OK) {
            appended = classes_projection_append(svc->rc, &ev, msgs[i]->partition, msgs[i]->offset);
            sms_event_close(&ev);
        } else {
            sms_log(SMS_LOG_WARN, "event_undecodable", "partition %d offset %lld skipped", msgs[i]->partition,
                    (long long)msgs[i]->offset);
        }
        /* Skipped events still move the recorded offset past them. */
        if (!appended) classes_projection_append_offset(svc->rc, msgs[i]->partition, msgs[i]->offset);
    }
    int rc = (int)n;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        redisReply *r = sms_redis_get_reply(svc->rc, err, sizeof err);
        if (r == NULL) {
            sms_log(SMS_LOG_ERROR, "redis_failed", "%s", err);
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            sms_log(SMS_LOG_ERROR, "projection_failed", "partition %d offset %lld: %s", msgs[i]->partition,
                    (long long)msgs[i]->offset, r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    if (rc >= 0)
        for (size_t i = 0; i < n; i++) svc->tail_next[msgs[i]->partition] = msgs[i]->offset + 1;
    for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
    return rc;
}

int classes_tailer_poll(classes_service_t *svc) { return apply_some(svc, 0) < 0 ? -1 : 0; }

/* Applies until every partition reached the high watermark taken at the start. */
static int catch_up_to_watermarks(classes_service_t *svc, bool progress) {
    rd_kafka_t *rk = sms_consumer_rk(svc->tailer);
    int64_t *hw = sms_calloc((size_t)svc->n_partitions, sizeof *hw);
    int64_t total = 0, done = 0;
    int rc = 0;
    for (int p = 0; p < svc->n_partitions; p++) {
        hw[p] = sms_kafka_high_watermark(rk, CLASSES_TOPIC_EVENTS, p, 5000);
        if (hw[p] < 0) { rc = -1; goto out; }
        total += hw[p] > svc->tail_next[p] ? hw[p] - svc->tail_next[p] : 0;
    }
    uint64_t started = sms_mono_ms(), last_report = started;
    for (;;) {
        bool behind = false;
        for (int p = 0; p < svc->n_partitions; p++)
            if (svc->tail_next[p] < hw[p]) behind = true;
        if (!behind || svc->stop) break;
        int n = apply_some(svc, 100);
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
    sms_free(hw);
    return rc;
}

int classes_tailer_rebuild(classes_service_t *svc) {
    sms_log(SMS_LOG_INFO, "view_rebuild", "dropping the classes view and replaying %s from offset 0",
            CLASSES_TOPIC_EVENTS);
    classes_self_applied_clear(svc); /* nothing is in the view any more */
    if (classes_projection_drop(svc->rc) != 0) return -1;
    if (assign_from_view(svc) != 0) return -1; /* no offsets recorded: every partition from 0 */
    if (catch_up_to_watermarks(svc, true) != 0) return -1;
    return classes_projection_mark_built(svc->rc);
}

int classes_tailer_catch_up(classes_service_t *svc) {
    int built = classes_projection_is_built(svc->rc);
    if (built < 0) return -1;
    if (!built) return classes_tailer_rebuild(svc);
    return catch_up_to_watermarks(svc, false);
}

/* Called once at start: positions the tailer where the view left off. */
int classes_tailer_start(classes_service_t *svc) {
    int built = classes_projection_is_built(svc->rc);
    if (built < 0) return -1;
    if (!built) return classes_tailer_rebuild(svc);
    if (assign_from_view(svc) != 0) return -1;
    return catch_up_to_watermarks(svc, true);
}
