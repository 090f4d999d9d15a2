/* dlq.c - reads sms.notifications.dlq from its start to its current end
 * (every partition, no consumer-group offsets stored): `list` prints each
 * dead letter as a JSON line; `replay` re-publishes the chosen ones,
 * unchanged, to sms.notifications.retry, where sms-notify-webhook schedules
 * them again (a delivery that is not `failed` any more is left alone, so a
 * double replay delivers once). */
#include "dlq.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "json_msgpack.h"
#include "kafka.h"
#include "msgpack_util.h"

#define DLQ_TOPIC "sms.notifications.dlq"
#define RETRY_TOPIC "sms.notifications.retry"
#define TIMEOUT_MS 15000

typedef struct replay_s {
    sms_producer_t *p;
    const char *only; /* delivery id, or NULL for all */
    long sent, failed;
} replay_t;

static void on_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    replay_t *r = opaque;
    (void)partition;
    (void)offset;
    if (err) r->failed++;
}

/* Calls fn for every message now in the topic. 0, or -1 (stderr). */
static int each_letter(const sms_config_t *cfg, int (*fn)(void *, const rd_kafka_message_t *, const msgpack_object *),
                       void *arg) {
    char err[512], group[64];
    sms_consumer_t *c = NULL;
    int rc = -1, n = 0;
    int64_t *ends = NULL, *starts = NULL;
    long left = 0;
    snprintf(group, sizeof group, "sms-admin-dlq-%d", (int)getpid()); /* offsets are never stored */
    sms_consumer_opts_t co = {.group_id = group, .client_id = group};
    if (sms_consumer_new(cfg, &co, &c, err, sizeof err) != 0) {
        fprintf(stderr, "sms-admin: kafka: %s\n", err);
        return -1;
    }
    n = sms_kafka_partitions(sms_consumer_rk(c), DLQ_TOPIC, TIMEOUT_MS);
    if (n <= 0) {
        fprintf(stderr, "sms-admin: no topic %s (run sms-admin create-topics)\n", DLQ_TOPIC);
        goto out;
    }
    ends = sms_calloc((size_t)n, sizeof *ends);
    starts = sms_calloc((size_t)n, sizeof *starts);
    for (int i = 0; i < n; i++) {
        int64_t lo = 0;
        ends[i] = sms_kafka_high_watermark(sms_consumer_rk(c), DLQ_TOPIC, i, TIMEOUT_MS);
        if (ends[i] < 0 || rd_kafka_query_watermark_offsets(sms_consumer_rk(c), DLQ_TOPIC, i, &lo, &ends[i],
                                                            TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "sms-admin: cannot read the end of %s[%d]\n", DLQ_TOPIC, i);
            goto out;
        }
        starts[i] = lo;
        left += ends[i] - lo;
    }
    if (left > 0 && sms_consumer_assign(c, DLQ_TOPIC, starts, n) != 0) {
        fprintf(stderr, "sms-admin: cannot assign %s\n", DLQ_TOPIC);
        goto out;
    }
    while (left > 0) {
        rd_kafka_message_t *m = sms_consumer_poll(c, TIMEOUT_MS);
        if (m == NULL) {
            fprintf(stderr, "sms-admin: %s: %ld messages not read within %d ms\n", DLQ_TOPIC, left, TIMEOUT_MS);
            goto out;
        }
        if (m->err == 0 && m->partition >= 0 && m->partition < n && m->offset < ends[m->partition]) {
            left--;
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            size_t off = 0;
            int r = 0;
            if (msgpack_unpack_next(&u, m->payload, m->len, &off) == MSGPACK_UNPACK_SUCCESS) r = fn(arg, m, &u.data);
            msgpack_unpacked_destroy(&u);
            if (r != 0) {
                rd_kafka_message_destroy(m);
                goto out;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
out:
    sms_free(ends);
    sms_free(starts);
    sms_consumer_free(c);
    return rc;
}

static int print_letter(void *arg, const rd_kafka_message_t *m, const msgpack_object *o) {
    (void)arg;
    (void)m;
    sms_buf_t b;
    sms_buf_init(&b);
    sms_msgpack_to_json(o, &b);
    printf("%s\n", b.data);
    sms_buf_close(&b);
    return 0;
}

static int replay_letter(void *arg, const rd_kafka_message_t *m, const msgpack_object *o) {
    replay_t *r = arg;
    const msgpack_object *data = sms_mp_map_get(o, "data");
    char id[64];
    if (!sms_mp_strcpy(sms_mp_map_get(data, "delivery_id"), id, sizeof id)) return 0;
    if (r->only && strcmp(r->only, id) != 0) return 0;
    int rc;
    while ((rc = sms_producer_send(r->p, RETRY_TOPIC, SMS_STR(id), m->payload, m->len, (sms_str_t){"", 0}, r)) ==
           SMS_EQUEUE)
        sms_producer_poll(r->p, 100);
    if (rc != 0) {
        fprintf(stderr, "sms-admin: producing to %s failed\n", RETRY_TOPIC);
        return -1;
    }
    r->sent++;
    sms_producer_poll(r->p, 0);
    return 0;
}

int admin_dlq_main(const sms_config_t *cfg, int argc, char **argv) {
    if (argc == 1 && !strcmp(argv[0], "list")) return each_letter(cfg, print_letter, NULL) == 0 ? 0 : 1;
    replay_t r = {0};
    bool all = argc == 2 && !strcmp(argv[0], "replay") && !strcmp(argv[1], "--all");
    if (argc == 3 && !strcmp(argv[0], "replay") && !strcmp(argv[1], "--id")) r.only = argv[2];
    if (!all && !r.only) {
        fprintf(stderr, "usage: sms-admin dlq list | dlq replay (--id DELIVERY_ID | --all)\n");
        return 2;
    }
    char err[512];
    sms_producer_opts_t po = {.client_id = "sms-admin-dlq", .linger_ms = 5, .on_delivery = on_delivery};
    if (sms_producer_new(cfg, &po, &r.p, err, sizeof err) != 0) {
        fprintf(stderr, "sms-admin: kafka: %s\n", err);
        return 1;
    }
    int rc = each_letter(cfg, replay_letter, &r);
    if (sms_producer_flush(r.p, TIMEOUT_MS) != 0 || r.failed) {
        fprintf(stderr, "sms-admin: %ld of %ld re-drives not acknowledged\n", r.failed, r.sent);
        rc = -1;
    }
    sms_producer_free(r.p);
    printf("replayed %ld\n", rc == 0 ? r.sent : 0);
    if (r.only && r.sent == 0 && rc == 0) {
        fprintf(stderr, "sms-admin: no dead letter with delivery id %s\n", r.only);
        return 1;
    }
    return rc == 0 ? 0 : 1;
}
