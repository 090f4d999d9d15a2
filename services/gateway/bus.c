/* bus.c - commands out, replies in, deadlines (see bus.h).
 *
 * Waiting requests live in a FIFO (deadlines are in send order, so only the
 * head can expire) and in a map by command id. Each entry has two owners:
 * the table (until answered) and the producer's delivery report (so a failed
 * send can still find it); it is freed when both let go. */
#include "bus.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "envelope.h"
#include "id.h"
#include "json_msgpack.h"
#include "kafka.h"
#include "log.h"
#include "strmap.h"

#define IDEMPOTENCY_KEY_MAX 200

typedef struct pending_s {
    struct pending_s *prev, *next;   /* FIFO by deadline */
    struct pending_s *same_id_next;  /* other requests waiting on the same command id */
    gw_bus_t *bus;
    gw_request_t *req;               /* NULL once answered */
    char *cmd_id;
    uint64_t deadline_ms;
    int refs;
} pending_t;

struct gw_bus_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    sms_producer_t *producer;
    sms_consumer_t *replies;
    char reply_topic[160];
    uv_poll_t producer_poll, replies_poll;
    uv_timer_t timer;         /* deadlines + a safety poll of both Kafka queues */
    uv_timer_t probe_timer;   /* Kafka reachability */
    uv_work_t probe_work;
    bool probing;
    atomic_bool kafka_ok;
    sms_strmap_t by_id;       /* cmd id -> first pending_t */
    pending_t fifo;           /* sentinel */
    size_t inflight;
    int closing_handles;
    bool closing;
    void (*done)(void *);
    void *done_data;
};

static void pending_release(pending_t *p) {
    if (--p->refs > 0) return;
    sms_free(p->cmd_id);
    sms_free(p);
}

/* Takes p out of the table (FIFO and map); p->req is left to the caller. */
static void pending_remove(gw_bus_t *bus, pending_t *p) {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = p;
    size_t n = strlen(p->cmd_id);
    pending_t *head = sms_strmap_get(&bus->by_id, p->cmd_id, n);
    if (head == p) {
        if (p->same_id_next) sms_strmap_put(&bus->by_id, p->cmd_id, n, p->same_id_next);
        else sms_strmap_del(&bus->by_id, p->cmd_id, n);
    } else {
        for (pending_t *q = head; q; q = q->same_id_next)
            if (q->same_id_next == p) { q->same_id_next = p->same_id_next; break; }
    }
    p->same_id_next = NULL;
    bus->inflight--;
}

static void answer_problem(gw_bus_t *bus, pending_t *p, int status, const char *code, const char *detail) {
    gw_request_t *req = p->req;
    p->req = NULL;
    pending_remove(bus, p);
    gw_respond_problem(req, status, code, detail, NULL, 0);
    pending_release(p);
}

/* ---- replies ---- */

static void handle_reply(gw_bus_t *bus, const rd_kafka_message_t *m) {
    sms_reply_t r;
    if (sms_reply_decode(m->payload, m->len, &r) != SMS_ENV_OK) {
        sms_log(SMS_LOG_WARN, "reply_undecodable", "offset %lld", (long long)m->offset);
        return;
    }
    pending_t *p = sms_strmap_get(&bus->by_id, r.id.ptr, r.id.len);
    if (p == NULL) { /* its request timed out or the client retried elsewhere */
        sms_reply_close(&r);
        return;
    }
    sms_buf_t body, headers;
    sms_buf_init(&body);
    sms_buf_init(&headers);
    sms_msgpack_to_json(r.body, &body);
    if (r.location.len) sms_buf_printf(&headers, "Location: %.*s\r\n", (int)r.location.len, r.location.ptr);
    int status = (int)r.status;
    gw_request_t *req = p->req;
    p->req = NULL;
    pending_remove(bus, p);
    gw_respond(req, status, status >= 400 ? "application/problem+json" : "application/json", body.data, body.len,
               headers.len ? headers.data : NULL);
    pending_release(p);
    sms_buf_close(&body);
    sms_buf_close(&headers);
    sms_reply_close(&r);
}

static void drain_replies(gw_bus_t *bus) {
    rd_kafka_message_t *m;
    while ((m = sms_consumer_poll(bus->replies, 0)) != NULL) {
        handle_reply(bus, m);
        rd_kafka_message_destroy(m);
    }
}

static void on_replies_readable(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    gw_bus_t *bus = h->data;
    sms_kafka_fd_drain(sms_consumer_event_fd(bus->replies));
    drain_replies(bus);
}

/* ---- delivery reports ---- */

static void on_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    (void)partition;
    (void)offset;
    pending_t *p = opaque;
    if (err && p->req) {
        sms_log(SMS_LOG_ERROR, "command_not_sent", "%s: %s", p->cmd_id, rd_kafka_err2str((rd_kafka_resp_err_t)err));
        answer_problem(p->bus, p, 503, "unavailable", "the command could not be written to Kafka; retry");
    }
    pending_release(p);
}

static void drain_deliveries(gw_bus_t *bus) {
    while (sms_producer_poll(bus->producer, 0) > 0) {
    }
}

static void on_producer_readable(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    gw_bus_t *bus = h->data;
    sms_kafka_fd_drain(sms_producer_event_fd(bus->producer));
    drain_deliveries(bus);
}

static void on_timer(uv_timer_t *t) {
    gw_bus_t *bus = t->data;
    /* The io-event fds only fire on empty -> non-empty; poll anyway in case a wakeup was missed. */
    drain_deliveries(bus);
    drain_replies(bus);
    uint64_t now = sms_mono_ms();
    char detail[200];
    while (bus->fifo.next != &bus->fifo && bus->fifo.next->deadline_ms <= now) {
        snprintf(detail, sizeof detail,
                 "no reply within %d ms; the change may still be applied, so retry with the same Idempotency-Key",
                 bus->cfg->reply_timeout_ms);
        answer_problem(bus, bus->fifo.next, 504, "timeout", detail);
    }
}

/* ---- Kafka reachability probe (metadata is blocking: thread pool) ---- */

static void probe_work(uv_work_t *w) {
    gw_bus_t *bus = w->data;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk = sms_producer_rk(bus->producer);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, bus->reply_topic, NULL);
    bool ok = rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    atomic_store(&bus->kafka_ok, ok);
}

static void finish_close(gw_bus_t *bus);

static void probe_done(uv_work_t *w, int status) {
    (void)status;
    gw_bus_t *bus = w->data;
    bus->probing = false;
    if (bus->closing && bus->closing_handles == 0) finish_close(bus);
}

static void on_probe_timer(uv_timer_t *t) {
    gw_bus_t *bus = t->data;
    if (bus->probing) return;
    bus->probing = true;
    bus->probe_work.data = bus;
    uv_queue_work(bus->loop, &bus->probe_work, probe_work, probe_done);
}

/* ---- setup ---- */

int gw_bus_new(uv_loop_t *loop, const sms_config_t *cfg, gw_bus_t **out) {
    char err[512];
    gw_bus_t *bus = sms_calloc(1, sizeof *bus);
    bus->loop = loop;
    bus->cfg = cfg;
    bus->fifo.prev = bus->fifo.next = &bus->fifo;
    sms_strmap_init(&bus->by_id);
    snprintf(bus->reply_topic, sizeof bus->reply_topic, "sms.replies.%s", cfg->gateway_id);

    /* Replies matter only while their request waits: an hour is plenty. */
    static const char *const reply_cfg[] = {"retention.ms", "3600000", NULL};
    sms_topic_spec_t spec = {bus->reply_topic, 1, reply_cfg};
    if (sms_kafka_create_topics(cfg, &spec, 1, 10000, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "reply_topic_failed", "%s: %s", bus->reply_topic, err);
        goto error;
    }
    sms_producer_opts_t popts = {.client_id = cfg->gateway_id, .linger_ms = 1, .on_delivery = on_delivery};
    if (sms_producer_new(cfg, &popts, &bus->producer, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_producer_failed", "%s", err);
        goto error;
    }
    char group[200];
    snprintf(group, sizeof group, "sms-gateway-%s", cfg->gateway_id);
    sms_consumer_opts_t copts = {.group_id = group, .client_id = cfg->gateway_id};
    if (sms_consumer_new(cfg, &copts, &bus->replies, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "kafka_consumer_failed", "%s", err);
        goto error;
    }
    /* Start at the current end, resolved now, so no reply to a request
     * accepted after this point can fall before our position. */
    int64_t end = -1;
    /* A topic just created may take a while to appear in metadata on a
     * loaded broker (seconds, at startup with everything else): wait up to a
     * minute rather than exit. */
    for (uint64_t deadline = sms_mono_ms() + 60000; end < 0 && sms_mono_ms() < deadline;) {
        end = sms_kafka_high_watermark(sms_consumer_rk(bus->replies), bus->reply_topic, 0, 5000);
        if (end < 0) uv_sleep(200);
    }
    if (end < 0 || sms_consumer_assign(bus->replies, bus->reply_topic, &end, 1) != 0) goto error;
    atomic_store(&bus->kafka_ok, true);

    uv_poll_init(loop, &bus->producer_poll, sms_producer_event_fd(bus->producer));
    uv_poll_init(loop, &bus->replies_poll, sms_consumer_event_fd(bus->replies));
    bus->producer_poll.data = bus->replies_poll.data = bus;
    uv_poll_start(&bus->producer_poll, UV_READABLE, on_producer_readable);
    uv_poll_start(&bus->replies_poll, UV_READABLE, on_replies_readable);
    uv_timer_init(loop, &bus->timer);
    uv_timer_init(loop, &bus->probe_timer);
    bus->timer.data = bus->probe_timer.data = bus;
    uv_timer_start(&bus->timer, on_timer, 50, 50);
    uv_timer_start(&bus->probe_timer, on_probe_timer, 2000, 2000);
    sms_log(SMS_LOG_INFO, "bus_ready", "replies on %s from offset %lld", bus->reply_topic, (long long)end);
    *out = bus;
    return 0;
error:
    if (bus->replies) sms_consumer_free(bus->replies);
    if (bus->producer) sms_producer_free(bus->producer);
    sms_strmap_close(&bus->by_id);
    sms_free(bus);
    return -1;
}

/* ---- sending ---- */

static bool printable_ascii(const char *s, size_t max) {
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < 0x21 || s[n] > 0x7e || n >= max) return false;
    return n > 0;
}

static bool valid_traceparent(const char *t) {
    /* 00-<32 hex>-<16 hex>-<2 hex> */
    if (strlen(t) != 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
    for (int i = 0; i < 55; i++) {
        if (i == 2 || i == 35 || i == 52) continue;
        char c = t[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

/* If-Match carries the resource version as a plain decimal integer
 * (schemas/openapi.yaml); entity-tag forms are refused rather than guessed. */
static bool parse_if_match(const char *s, int64_t *out) {
    if (*s < '0' || *s > '9' || strlen(s) > 18) return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 1) return false;
    *out = v;
    return true;
}

void gw_bus_send(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                 const cJSON *body) {
    gw_bus_send_from(bus, req, service, type, key, body, &(gw_bus_from_t){0});
}

void gw_bus_send_from(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                      const cJSON *body, const gw_bus_from_t *from) {
    const char *user = from->actor ? from->actor : gw_req_user(req);
    const char *role = from->role ? from->role : gw_req_role(req);
    const char *kafka_key = from->kafka_key;
    const char *idem = gw_req_header(req, "Idempotency-Key");
    const char *if_match = gw_req_header(req, "If-Match");
    const char *trace = gw_req_header(req, "traceparent");
    sms_command_head_t h = {0};
    char cmd_id[512];
    if (idem) {
        if (!printable_ascii(idem, IDEMPOTENCY_KEY_MAX)) {
            sms_problem_error_t e = {"Idempotency-Key", "must be 1 to 200 visible ASCII characters"};
            gw_respond_problem(req, 400, "validation", "the Idempotency-Key header is invalid", &e, 1);
            return;
        }
        /* Scoped to the user: two users' keys never collide. */
        snprintf(cmd_id, sizeof cmd_id, "%s:%s", user, idem);
    } else {
        char id[SMS_ID_SIZE];
        snprintf(cmd_id, sizeof cmd_id, "%s:%s", user, sms_id_new(id));
    }
    if (if_match) {
        if (!parse_if_match(if_match, &h.if_match)) {
            sms_problem_error_t e = {"If-Match", "must be the class version, a positive integer"};
            gw_respond_problem(req, 400, "validation", "the If-Match header is invalid", &e, 1);
            return;
        }
        h.has_if_match = true;
    }
    h.id = SMS_STR(cmd_id);
    h.type = SMS_STR(type);
    h.v = 1;
    h.time = sms_now_ms();
    h.actor = SMS_STR(user);
    h.role = SMS_STR(role);
    h.key = SMS_STR(key);
    h.reply_to = SMS_STR(bus->reply_topic);
    h.traceparent = trace && valid_traceparent(trace) ? SMS_STR(trace) : (sms_str_t){"", 0};

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_command_pack_head(&pk, &h);
    if (body) sms_json_to_msgpack(body, &pk);
    else msgpack_pack_map(&pk, 0);
    sms_command_pack_tail(&pk, &h);

    pending_t *p = sms_calloc(1, sizeof *p);
    p->bus = bus;
    p->req = req;
    p->cmd_id = sms_strdup(cmd_id);
    p->deadline_ms = sms_mono_ms() + (uint64_t)bus->cfg->reply_timeout_ms;
    p->refs = 2; /* the table, and the delivery report */

    char topic[128];
    snprintf(topic, sizeof topic, "sms.commands.%s", service);
    /* The Kafka key picks the partition, hence the one consumer that decides
     * the command: the caller's by default, the aggregate's when its state is
     * shared by many callers (a class's chat sequence). */
    int rc = sms_producer_send(bus->producer, topic, SMS_STR(kafka_key ? kafka_key : user), sb.data, sb.size, h.traceparent, p);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        sms_free(p->cmd_id);
        sms_free(p);
        gw_respond_problem_h(req, 503, "unavailable",
                             rc == SMS_KAFKA_EQUEUE ? "too many commands in flight; retry shortly"
                                                    : "the command could not be sent; retry",
                             NULL, 0, "Retry-After: 1\r\n");
        return;
    }
    p->prev = bus->fifo.prev;
    p->next = &bus->fifo;
    bus->fifo.prev->next = p;
    bus->fifo.prev = p;
    size_t n = strlen(cmd_id);
    pending_t *head = sms_strmap_get(&bus->by_id, cmd_id, n);
    if (head) { /* the same command is already waiting: queue behind it */
        while (head->same_id_next) head = head->same_id_next;
        head->same_id_next = p;
    } else {
        sms_strmap_put(&bus->by_id, cmd_id, n, p);
    }
    bus->inflight++;
}

bool gw_bus_kafka_ok(const gw_bus_t *bus) { return atomic_load(&((gw_bus_t *)bus)->kafka_ok); }
size_t gw_bus_inflight(const gw_bus_t *bus) { return bus->inflight; }

/* ---- closing ---- */

/* Frees the clients once no handle and no probe thread can touch them. */
static void finish_close(gw_bus_t *bus) {
    /* Delivery reports of what is still queued run during the flush in
     * sms_producer_free; their entries were answered already. */
    sms_producer_free(bus->producer);
    sms_consumer_free(bus->replies);
    sms_strmap_close(&bus->by_id);
    void (*done)(void *) = bus->done;
    void *data = bus->done_data;
    sms_free(bus);
    if (done) done(data);
}

static void on_handle_closed(uv_handle_t *h) {
    gw_bus_t *bus = h->data;
    if (--bus->closing_handles > 0 || bus->probing) return;
    finish_close(bus);
}

void gw_bus_close(gw_bus_t *bus, void (*done)(void *), void *data) {
    bus->done = done;
    bus->done_data = data;
    bus->closing = true;
    while (bus->fifo.next != &bus->fifo)
        answer_problem(bus, bus->fifo.next, 503, "unavailable", "the gateway is shutting down; retry");
    bus->closing_handles = 4;
    uv_close((uv_handle_t *)&bus->producer_poll, on_handle_closed);
    uv_close((uv_handle_t *)&bus->replies_poll, on_handle_closed);
    uv_close((uv_handle_t *)&bus->timer, on_handle_closed);
    uv_close((uv_handle_t *)&bus->probe_timer, on_handle_closed);
}
