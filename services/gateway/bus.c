/* bus.c - commands out, replies in, deadlines (see bus.h).
 *
 * A command whose client sent an Idempotency-Key is first bound to that key
 * in Redis (the request's fingerprint), then produced. Waiting requests live
 * in their command topic's FIFO (a lane: deadlines are in send order, so
 * only a head can expire) and in a map by command id. Each produced entry
 * has two owners: the table (until answered) and the producer's delivery
 * report (so a failed send can still find it); it is freed when both let go.
 *
 * Admission: a lane refuses a write at once, 503 overloaded, before anything
 * is bound or produced, while it holds SMS_GATEWAY_MAX_INFLIGHT commands, or
 * its oldest has waited over SMS_GATEWAY_MAX_WAIT_MS, or what it holds would
 * take longer than that at the rate the service answers when busy (the
 * service is behind: what is admitted now would only wait into a 504).
 *
 * What a failure answers follows what may have happened: 503 only when the
 * command was certainly not produced (refused at admission, Redis or Kafka
 * refused it before, or librdkafka reports it NOT_PERSISTED), 504 once it
 * may have been. */
#include "bus.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "envelope.h"
#include "id.h"
#include "json_msgpack.h"
#include "kafka.h"
#include "log.h"
#include "strmap.h"

/* A client key stays bound to its first request this long (openapi.yaml). */
#define IDEM_TTL_S "86400"
#define IDEM_PREFIX "sms:gateway:idem:"
#define FINGERPRINT_HEX 32 /* 128 bits of SHA-256: plenty to tell two requests apart */
/* An escaped sub (3 bytes per byte at most), ':', the key, NUL. */
#define CMD_ID_MAX (3 * 128 + 1 + GW_IDEMPOTENCY_KEY_MAX + 1)

struct lane_s;

typedef struct pending_s {
    struct pending_s *prev, *next;   /* its lane's FIFO, by deadline */
    struct pending_s *same_id_next;  /* other requests waiting on the same command id */
    gw_bus_t *bus;
    struct lane_s *lane;             /* its command topic; admitted there until answered */
    gw_request_t *req;               /* NULL once answered */
    char *cmd_id;
    uint64_t sent_ms, deadline_ms;   /* monotonic: produced, and answered 504 if no reply by then */
    int refs;
    /* A client key's binding (keyed): the request's fingerprint, and
     * whether this request created the binding. Generated keys are not bound. */
    bool keyed;
    char fingerprint[FINGERPRINT_HEX + 1];
    bool bound_here;
    /* Until produced (while the binding is being made): what to send. */
    msgpack_sbuffer cmd;
    char *kafka_key;
    char traceparent[56];
} pending_t;

/* One command topic (sms.commands.<service>): what admission counts and the
 * FIFO the deadlines run down. Made on the topic's first command, freed with
 * the bus: there is one per service. */
typedef struct lane_s {
    struct lane_s *next;        /* every lane, for the timer and close */
    char topic[128];
    pending_t fifo;             /* sentinel: produced, waiting for a reply, in send order */
    size_t admitted;            /* binding or waiting: answered requests have left */
    /* How fast the service answers while it has a backlog: replies per
     * second over periods of DRAIN_PERIOD_MS in which the lane never
     * emptied (idle time says nothing of capacity); 0 until measured. A new
     * command's wait is predicted from it: admitted / drain_per_s. */
    double drain_per_s;
    uint64_t period_start_ms;
    uint32_t period_replies;
    bool period_busy;
    /* 503 overloaded since the last stats line: at the in-flight limit, and
     * behind (the oldest waited too long). */
    uint64_t refused_full, refused_behind;
} lane_t;

struct gw_bus_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    sms_redis_t *redis;       /* borrowed: idempotency bindings */
    unsigned char fingerprint_key[32]; /* keys the bindings' fingerprints (fingerprint_key_derive) */
    sms_producer_t *producer;
    sms_consumer_t *replies;
    char reply_topic[160];
    uv_poll_t producer_poll, replies_poll;
    uv_timer_t timer;         /* deadlines + a safety poll of both Kafka queues */
    uv_timer_t probe_timer;   /* Kafka reachability */
    uv_work_t probe_work;
    bool probing;
    atomic_bool kafka_ok;
    atomic_int probe_failures; /* consecutive failed probes */
    sms_strmap_t by_id;       /* cmd id -> first pending_t */
    sms_strmap_t lanes_by_service; /* service -> lane_t (owned: the lanes list) */
    lane_t *lanes;
    uint64_t refused_total;   /* 503 overloaded since start (gw_bus_refused) */
    uint64_t reply_timeouts;  /* 504s for no reply in time since start (gw_bus_reply_timeouts) */
    uint64_t last_stats_ms;
    size_t inflight;          /* produced, waiting for a reply */
    size_t binding;           /* waiting for Redis before producing */
    int closing_handles;
    bool closing;
    void (*done)(void *);
    void *done_data;
};

static void pending_release(pending_t *p) {
    if (--p->refs > 0) return;
    msgpack_sbuffer_destroy(&p->cmd);
    sms_free(p->kafka_key);
    sms_free(p->cmd_id);
    sms_free(p);
}

/* A request of lane was answered: it no longer counts. An empty lane makes
 * the current period useless for measuring the drain. */
static void lane_leave(lane_t *lane) {
    if (--lane->admitted == 0) lane->period_busy = false;
}

/* Takes p out of the table (FIFO and map) and out of its lane's count;
 * p->req is left to the caller. */
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
    lane_leave(p->lane);
}

/* Problem details for the outcomes of a command (the body also carries its
 * idempotency_key, see gw_req_set_command_key). */
#define DETAIL_NOT_SENT "nothing was done; retry the same request (with the same Idempotency-Key, which is safe)"
#define DETAIL_UNKNOWN                                                                                           \
    "the change may or may not have been applied; retry the same request with the same Idempotency-Key to "    \
    "learn the outcome: it is never applied twice"

static void answer_problem(gw_bus_t *bus, pending_t *p, int status, const char *code, const char *detail) {
    gw_request_t *req = p->req;
    p->req = NULL;
    pending_remove(bus, p);
    gw_respond_problem_h(req, status, code, detail, NULL, 0, status == 503 ? "Retry-After: 1\r\n" : NULL);
    pending_release(p);
}

/* ---- idempotency bindings (Redis: IDEM_PREFIX<cmd id> -> fingerprint) ---- */

/* Deletes the binding only while it still holds this request's fingerprint. */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

static int binding_key(const pending_t *p, char *out, size_t n) {
    int w = snprintf(out, n, IDEM_PREFIX "%s", p->cmd_id);
    return w < 0 || (size_t)w >= n ? -1 : w;
}

static void on_released(redisReply *r, void *data) {
    (void)data;
    /* Kept, the binding only refuses a different request under the key
     * until it expires: the safe direction. */
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        sms_log(SMS_LOG_WARN, "idempotency_release_failed", "%s", r ? r->str : "redis not reachable");
}

/* Nothing was done under p's key (not produced, or the service refused the
 * command, so it recorded nothing): the client may use the key again for a
 * corrected request, as a rejected command is decided afresh anyway. */
static void binding_release(gw_bus_t *bus, const pending_t *p) {
    char key[CMD_ID_MAX + sizeof IDEM_PREFIX];
    int kn = binding_key(p, key, sizeof key);
    if (!p->keyed || kn < 0) return;
    const char *argv[] = {"EVAL", release_lua, "1", key, p->fingerprint};
    size_t lens[] = {4, sizeof release_lua - 1, 1, (size_t)kn, FINGERPRINT_HEX};
    if (sms_redis_cmd(bus->redis, on_released, NULL, 5, argv, lens) != 0) on_released(NULL, NULL);
}

/* ---- replies ---- */

static void handle_reply(gw_bus_t *bus, const rd_kafka_message_t *m) {
    sms_reply_t r;
    if (sms_reply_decode(m->payload, m->len, &r) != SMS_OK) {
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
    /* A service's 429 is a throttle (identity's failed logins): its window,
     * 15 minutes, bounds the wait (services/identity/README.md). */
    if (status == 429) sms_buf_puts(&headers, "Retry-After: 900\r\n");
    p->lane->period_replies++;
    if (status >= 400 && status < 500) binding_release(bus, p);
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

static void on_delivery(void *opaque, int err, rd_kafka_msg_status_t status) {
    pending_t *p = opaque;
    if (err && p->req) {
        /* rd_kafka_message_status(), not the error code, says whether the
         * broker may have the command: a timeout after sending (with
         * retries of the idempotent producer) can still be in the log. */
        bool not_sent = status == RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
        sms_log(SMS_LOG_ERROR, "command_not_delivered", "%s: %s (%s)", p->cmd_id,
                rd_kafka_err2str((rd_kafka_resp_err_t)err), not_sent ? "not persisted" : "possibly persisted");
        if (not_sent) {
            if (p->bound_here) binding_release(p->bus, p);
            answer_problem(p->bus, p, 503, "unavailable", "the command could not be written to Kafka; " DETAIL_NOT_SENT);
        } else {
            answer_problem(p->bus, p, 504, "timeout", "Kafka did not confirm the command; " DETAIL_UNKNOWN);
        }
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

/* Every 10 s with refusals in it: how many each lane refused, and why. */
#define STATS_PERIOD_MS 10000

static void log_admission_stats(gw_bus_t *bus, uint64_t now) {
    if (now - bus->last_stats_ms < STATS_PERIOD_MS) return;
    bus->last_stats_ms = now;
    for (lane_t *l = bus->lanes; l; l = l->next) {
        if (l->refused_full + l->refused_behind == 0) continue;
        sms_log(SMS_LOG_WARN, "overload_refused",
                "%s: %llu writes answered 503 overloaded in %d s (%llu at %d in flight, %llu behind: the oldest "
                "or the predicted wait over %d ms); %zu admitted now, the service answers %.0f/s when busy",
                l->topic, (unsigned long long)(l->refused_full + l->refused_behind), STATS_PERIOD_MS / 1000,
                (unsigned long long)l->refused_full, bus->cfg->gateway_max_inflight,
                (unsigned long long)l->refused_behind, bus->cfg->gateway_max_wait_ms, l->admitted, l->drain_per_s);
        l->refused_full = l->refused_behind = 0;
    }
}

#define DRAIN_PERIOD_MS 1000

/* Closes lane's measuring period once it is DRAIN_PERIOD_MS old: a busy
 * one (never empty) with replies is a sample of the service's capacity,
 * averaged in; a quieter one can only show that capacity is higher. */
static void lane_measure_drain(lane_t *l, uint64_t now) {
    uint64_t elapsed = now - l->period_start_ms;
    if (elapsed < DRAIN_PERIOD_MS) return;
    double sample = l->period_replies * 1000.0 / (double)elapsed;
    if (l->period_busy && l->period_replies > 0)
        l->drain_per_s = l->drain_per_s > 0 ? (l->drain_per_s + sample) / 2 : sample;
    else if (sample > l->drain_per_s)
        l->drain_per_s = sample;
    l->period_start_ms = now;
    l->period_replies = 0;
    l->period_busy = l->admitted > 0;
}

static void on_timer(uv_timer_t *t) {
    gw_bus_t *bus = t->data;
    /* The io-event fds only fire on empty -> non-empty; poll anyway in case a wakeup was missed. */
    drain_deliveries(bus);
    drain_replies(bus);
    uint64_t now = sms_mono_ms();
    char detail[320];
    for (lane_t *l = bus->lanes; l; l = l->next) {
        while (l->fifo.next != &l->fifo && l->fifo.next->deadline_ms <= now) {
            snprintf(detail, sizeof detail, "no reply within %d ms; " DETAIL_UNKNOWN, bus->cfg->reply_timeout_ms);
            bus->reply_timeouts++;
            answer_problem(bus, l->fifo.next, 504, "timeout", detail);
        }
        lane_measure_drain(l, now);
    }
    log_admission_stats(bus, now);
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
    if (ok) atomic_store(&bus->probe_failures, 0);
    else atomic_fetch_add(&bus->probe_failures, 1);
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

/* The fingerprints' key, the same in every gateway of a deployment (they
 * share SMS_JWT_SECRET, without which no gateway starts), and not the
 * secret itself. */
static int fingerprint_key_derive(gw_bus_t *bus) {
    static const char label[] = "sms idempotency fingerprint key v1";
    const char *secret = bus->cfg->jwt_secret;
    unsigned int n = 0;
    if (secret[0] == '\0' || HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)label,
                                  sizeof label - 1, bus->fingerprint_key, &n) == NULL ||
        n != sizeof bus->fingerprint_key) {
        sms_log(SMS_LOG_ERROR, "fingerprint_key_failed", "no key for idempotency fingerprints (is SMS_JWT_SECRET set?)");
        return -1;
    }
    return 0;
}

int gw_bus_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis, gw_bus_t **out) {
    char err[512];
    gw_bus_t *bus = sms_calloc(1, sizeof *bus);
    bus->loop = loop;
    bus->cfg = cfg;
    bus->redis = redis;
    sms_strmap_init(&bus->by_id);
    sms_strmap_init(&bus->lanes_by_service);
    bus->last_stats_ms = sms_mono_ms();
    snprintf(bus->reply_topic, sizeof bus->reply_topic, "sms.replies.%s", cfg->gateway_id);
    if (fingerprint_key_derive(bus) != 0) goto error;

    /* Replies matter only while their request waits: an hour is plenty. */
    static const char *const reply_cfg[] = {"retention.ms", "3600000", NULL};
    sms_topic_spec_t spec = {bus->reply_topic, 1, reply_cfg};
    if (sms_kafka_create_topics(cfg, &spec, 1, 10000, err, sizeof err) != 0) {
        sms_log(SMS_LOG_ERROR, "reply_topic_failed", "%s: %s", bus->reply_topic, err);
        goto error;
    }
    sms_producer_opts_t popts = {.client_id = cfg->gateway_id, .linger_ms = 1, .on_delivery_status = on_delivery};
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
    sms_strmap_close(&bus->lanes_by_service);
    sms_free(bus);
    return -1;
}

/* ---- sending ---- */

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

/* The command id of (user, key): "<user>:<key>" with '%' and ':' in user
 * escaped as %25 and %3A. The first ':' then always ends the user, so two
 * different pairs never give one id (sub "a" with key "b:c" and sub "a:b"
 * with key "c" were one id before), and ids of ordinary subs (no ':' or
 * '%') are what they always were, so commands already in the log and their
 * dedupe records still match a retry. */
static void derive_cmd_id(const char *user, const char *key, char out[CMD_ID_MAX]) {
    size_t n = 0;
    for (const char *u = user; *u; u++) {
        if (*u == '%' || *u == ':') n += (size_t)snprintf(out + n, 4, "%%%02X", (unsigned char)*u);
        else out[n++] = *u;
    }
    out[n++] = ':';
    memcpy(out + n, key, strlen(key) + 1);
}

/* Hex of the first 128 bits of SHA-256(method LF path LF msgpack(data)): the
 * request a key was first used for. Packed data, not the JSON text, so
 * whitespace does not make a retry a different request. */
static void fingerprint(const gw_bus_t *bus, const gw_request_t *req, const msgpack_sbuffer *data,
                        char out[FINGERPRINT_HEX + 1]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_printf(&b, "%s\n%s\n", gw_req_method(req), gw_req_path(req));
    sms_buf_append(&b, data->data, data->size);
    /* HMAC, not a plain hash: a binding sits in Redis for a day, and a plain
     * hash of a login's body there could be tested against guessed passwords
     * offline by anyone who reads Redis. On failure (never seen) the digest
     * is all zeros: a retry then compares equal only to another such. */
    if (HMAC(EVP_sha256(), bus->fingerprint_key, sizeof bus->fingerprint_key, (const unsigned char *)b.data, b.len,
             d, &dn) == NULL || dn < FINGERPRINT_HEX / 2)
        memset(d, 0, sizeof d);
    sms_buf_close(&b);
    for (int i = 0; i < FINGERPRINT_HEX / 2; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}


/* Before the command is produced: answers p's request (which leaves its
 * lane), frees p. */
static void answer_unsent(pending_t *p, int status, const char *code, const char *detail,
                          const sms_problem_error_t *errs, size_t n_errs) {
    gw_request_t *req = p->req;
    p->req = NULL;
    lane_leave(p->lane);
    gw_respond_problem_h(req, status, code, detail, errs, n_errs, status == 503 ? "Retry-After: 1\r\n" : NULL);
    pending_release(p);
}

/* Produces p's command and puts p in the table, or answers 503. */
static void produce(gw_bus_t *bus, pending_t *p) {
    if (bus->closing) {
        if (p->bound_here) binding_release(bus, p);
        answer_unsent(p, 503, "unavailable", "the gateway is shutting down; " DETAIL_NOT_SENT, NULL, 0);
        return;
    }
    /* Refs: the table, and the delivery report (taken only if sent). */
    p->refs = 2;
    /* Not before the envelope's deadline (taken when the request was
     * admitted, a binding round trip ago): a service that drops a command
     * past that deadline drops only what this gateway answered already. */
    p->sent_ms = sms_mono_ms();
    p->deadline_ms = p->sent_ms + (uint64_t)bus->cfg->reply_timeout_ms;
    /* The Kafka key picks the partition, hence the one consumer that decides
     * the command: the caller's by default, the aggregate's when its state is
     * shared by many callers (a class's chat sequence). */
    int rc = sms_producer_send(bus->producer, p->lane->topic, SMS_STR(p->kafka_key), p->cmd.data, p->cmd.size,
                               SMS_STR(p->traceparent), p);
    msgpack_sbuffer_destroy(&p->cmd);
    msgpack_sbuffer_init(&p->cmd);
    if (rc != 0) { /* never enqueued: certainly not produced */
        p->refs = 1;
        if (p->bound_here) binding_release(bus, p);
        answer_unsent(p, 503, "unavailable",
                      rc == SMS_EQUEUE ? "too many commands in flight; " DETAIL_NOT_SENT
                                             : "the command could not be sent; " DETAIL_NOT_SENT,
                      NULL, 0);
        return;
    }
    pending_t *fifo = &p->lane->fifo;
    p->prev = fifo->prev;
    p->next = fifo;
    fifo->prev->next = p;
    fifo->prev = p;
    size_t n = strlen(p->cmd_id);
    pending_t *head = sms_strmap_get(&bus->by_id, p->cmd_id, n);
    if (head) { /* the same command is already waiting: queue behind it */
        while (head->same_id_next) head = head->same_id_next;
        head->same_id_next = p;
    } else {
        sms_strmap_put(&bus->by_id, p->cmd_id, n, p);
    }
    bus->inflight++;
}

/* SET ... NX GET answered: nil when this request bound the key, else the
 * fingerprint of the request that did. */
static void on_bound(redisReply *r, void *data) {
    pending_t *p = data;
    gw_bus_t *bus = p->bus;
    bus->binding--;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r && sms_redis_error_is_oom(r->str)) sms_redis_log_error("idempotency bind", r->str);
        else sms_log(SMS_LOG_ERROR, "idempotency_bind_failed", "%s: %s", p->cmd_id, r ? r->str : "redis not reachable");
        answer_unsent(p, 503, "unavailable",
                      r ? "the data store could not record the Idempotency-Key; " DETAIL_NOT_SENT
                        : "the data store is not reachable; " DETAIL_NOT_SENT,
                      NULL, 0);
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {
        p->bound_here = true;
    } else if (r->type != REDIS_REPLY_STRING || r->len != FINGERPRINT_HEX ||
               memcmp(r->str, p->fingerprint, FINGERPRINT_HEX) != 0) {
        sms_problem_error_t e = {"Idempotency-Key",
                                 "was used for a different request (method, path or body) in the last 24 hours; "
                                 "send a new request with a new key"};
        answer_unsent(p, 422, "idempotency_key_reused",
                      "this Idempotency-Key belongs to another request; nothing was done", &e, 1);
        return;
    }
    produce(bus, p);
}

void gw_bus_send(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                 const cJSON *body) {
    gw_bus_send_from(bus, req, service, type, key, body, &(gw_bus_from_t){0});
}

/* The request's headers and body, checked before anything is built: answers
 * 400 (or 500) and returns false, else sets *idem (the client's key, or one
 * generated into generated), *has_key and h->if_match. */
static bool send_checks(gw_request_t *req, const char *user, const cJSON *body, char generated[SMS_ID_SIZE],
                        const char **idem, int *has_key, sms_command_head_t *h) {
    const char *if_match = gw_req_header(req, "If-Match");
    *has_key = gw_req_idempotency_key(req, idem);
    if (*has_key < 0) {
        sms_problem_error_t e = {"Idempotency-Key", "must be 1 to 200 visible ASCII characters"};
        gw_respond_problem(req, 400, "validation", "the Idempotency-Key header is invalid", &e, 1);
        return false;
    }
    if (!*has_key) *idem = sms_id_new(generated);
    /* From here on every answer names the key, so a client can retry with it. */
    gw_req_set_command_key(req, *idem);
    if (strlen(user) > 127) { /* the JWT module bounds subs; a signed URL's actor is an id */
        gw_respond_problem(req, 500, "internal", "the caller's id is too long", NULL, 0);
        return false;
    }
    if (if_match) {
        if (!parse_if_match(if_match, &h->if_match)) {
            sms_problem_error_t e = {"If-Match", "must be the class version, a positive integer"};
            gw_respond_problem(req, 400, "validation", "the If-Match header is invalid", &e, 1);
            return false;
        }
        h->has_if_match = true;
    }
    /* Bodies from clients were measured as text (conn.c); this catches a
     * tree built in code before it becomes a command no service can read. */
    if (body && sms_json_too_deep(body, SMS_JSON_MAX_DEPTH)) {
        char message[96];
        snprintf(message, sizeof message, "is nested more than %d arrays or objects deep (the limit)",
                 SMS_JSON_MAX_DEPTH);
        sms_problem_error_t e = {"body", message};
        gw_respond_problem(req, 400, "validation", "the body is nested too deeply", &e, 1);
        return false;
    }
    return true;
}

/* A new pending command for req (one ref: the caller's), admitted to lane,
 * its id derived from the caller and the key, keyed on Kafka by kafka_key
 * (NULL: user). */
static pending_t *pending_new(gw_bus_t *bus, gw_request_t *req, lane_t *lane, const char *user, const char *idem,
                              int has_key, const char *kafka_key) {
    const char *trace = gw_req_header(req, "traceparent");
    pending_t *p = sms_calloc(1, sizeof *p);
    char cmd_id[CMD_ID_MAX];
    derive_cmd_id(user, idem, cmd_id);
    p->bus = bus;
    p->lane = lane;
    lane->admitted++;
    p->req = req;
    p->cmd_id = sms_strdup(cmd_id);
    p->refs = 1;
    p->keyed = has_key;
    p->kafka_key = sms_strdup(kafka_key ? kafka_key : user);
    if (trace && valid_traceparent(trace)) memcpy(p->traceparent, trace, 56);
    return p;
}

/* Packs p->cmd (envelope head, body as msgpack data, tail) from h, whose
 * if_match send_checks set; a keyed command's fingerprint is taken of the
 * data. */
static void pack_command(gw_bus_t *bus, pending_t *p, sms_command_head_t *h, const char *type, const char *key,
                         const char *user, const char *role, const cJSON *body) {
    h->id = SMS_STR(p->cmd_id);
    h->type = SMS_STR(type);
    h->v = 1;
    h->time = sms_now_ms();
    h->actor = SMS_STR(user);
    h->role = SMS_STR(role);
    h->key = SMS_STR(key);
    h->reply_to = SMS_STR(bus->reply_topic);
    h->traceparent = SMS_STR(p->traceparent);
    /* When this gateway stops waiting (on the wall clock, which the service
     * shares up to SMS_COMMAND_DEADLINE_MARGIN_MS): a service that takes the
     * command later drops it undecided (batch.c). */
    h->deadline = h->time + bus->cfg->reply_timeout_ms;

    /* data first, on its own, for the fingerprint; then the envelope around it. */
    msgpack_sbuffer data;
    msgpack_packer pk;
    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, msgpack_sbuffer_write);
    if (body) (void)sms_json_to_msgpack(body, &pk); /* always 0 */
    else msgpack_pack_map(&pk, 0);
    msgpack_sbuffer_init(&p->cmd);
    msgpack_packer_init(&pk, &p->cmd, msgpack_sbuffer_write);
    sms_command_pack_head(&pk, h);
    msgpack_sbuffer_write(&p->cmd, data.data, data.size);
    sms_command_pack_tail(&pk, h);
    if (p->keyed) fingerprint(bus, p->req, &data, p->fingerprint);
    msgpack_sbuffer_destroy(&data);
}

/* Binds a client's key to p's request before anything is produced, so a
 * second request under it can be compared (one round trip, pipelined with
 * the gateway's other Redis traffic); on_bound produces. */
static void bind_key(gw_bus_t *bus, pending_t *p) {
    char bkey[CMD_ID_MAX + sizeof IDEM_PREFIX];
    int kn = binding_key(p, bkey, sizeof bkey);
    const char *argv[] = {"SET", bkey, p->fingerprint, "NX", "GET", "EX", IDEM_TTL_S};
    size_t lens[] = {3, (size_t)kn, FINGERPRINT_HEX, 2, 3, 2, sizeof IDEM_TTL_S - 1};
    if (kn < 0 || sms_redis_cmd(bus->redis, on_bound, p, 7, argv, lens) != 0) {
        answer_unsent(p, 503, "unavailable", "the data store is not reachable; " DETAIL_NOT_SENT, NULL, 0);
        return;
    }
    bus->binding++;
}

/* ---- admission ---- */

/* service's lane, made on its first command. */
static lane_t *lane_of(gw_bus_t *bus, const char *service) {
    size_t n = strlen(service);
    lane_t *l = sms_strmap_get(&bus->lanes_by_service, service, n);
    if (l) return l;
    l = sms_calloc(1, sizeof *l);
    snprintf(l->topic, sizeof l->topic, "sms.commands.%s", service);
    l->fifo.prev = l->fifo.next = &l->fifo;
    l->period_start_ms = sms_mono_ms();
    l->next = bus->lanes;
    bus->lanes = l;
    sms_strmap_put(&bus->lanes_by_service, service, n, l);
    return l;
}

/* Answers req 503 overloaded: why (full: at the in-flight limit, else the
 * service is behind: the oldest has waited `waited` ms, the ones admitted
 * need about `predicted` ms), nothing done, and when to retry. */
static void refuse_overloaded(gw_bus_t *bus, lane_t *lane, gw_request_t *req, bool full, uint64_t waited,
                              uint64_t predicted) {
    /* Behind: about as long as the service seems to need to catch up; full:
     * a batch or two. */
    uint64_t wait = waited > predicted ? waited : predicted;
    uint64_t retry_s = full ? 1 : (wait + 999) / 1000;
    char detail[400], header[40];
    int n = full ? snprintf(detail, sizeof detail, "%zu commands for %s are in flight (the limit); ", lane->admitted,
                            lane->topic)
                 : snprintf(detail, sizeof detail,
                            "%s is behind: its oldest command has waited %llu ms for a reply, and the %zu in flight "
                            "need about %llu ms more; ",
                            lane->topic, (unsigned long long)waited, lane->admitted, (unsigned long long)predicted);
    snprintf(detail + n, sizeof detail - (size_t)n,
             "nothing was done; retry after %llu s (the same request, with the same Idempotency-Key, is safe)",
             (unsigned long long)retry_s);
    snprintf(header, sizeof header, "Retry-After: %llu\r\n", (unsigned long long)retry_s);
    if (full) lane->refused_full++;
    else lane->refused_behind++;
    bus->refused_total++;
    gw_respond_problem_h(req, 503, "overloaded", detail, NULL, 0, header);
}

/* Whether lane takes one more command now; if not, req is answered 503
 * overloaded and nothing else happens (no binding, no produce), so a retry
 * under the same key is a first attempt. Behind is either sign that a new
 * command would wait past SMS_GATEWAY_MAX_WAIT_MS: the oldest has waited
 * that long (a stalled service), or the queue ahead of it, at the rate the
 * service drains it, takes that long (a slow one: a deep queue fills in an
 * instant under many clients, long before its oldest shows it). O(1): a
 * count, the head of the FIFO and the drain rate. */
static bool admit(gw_bus_t *bus, lane_t *lane, gw_request_t *req) {
    const sms_config_t *cfg = bus->cfg;
    uint64_t max_wait = (uint64_t)cfg->gateway_max_wait_ms;
    uint64_t waited = lane->fifo.next != &lane->fifo ? sms_mono_ms() - lane->fifo.next->sent_ms : 0;
    uint64_t predicted = lane->drain_per_s > 0 ? (uint64_t)((double)lane->admitted * 1000.0 / lane->drain_per_s) : 0;
    bool full = lane->admitted >= (size_t)cfg->gateway_max_inflight;
    /* The drain rate is measured in busy periods, which at a modest load
     * (a lane never quite empty) show the offered rate, not the service's
     * capacity: trusted alone it refused ~10,000 writes of a healthy
     * 100-connection run. So a prediction counts only once the oldest has
     * waited a quarter of the bound, a sign the service is really behind. */
    bool behind = waited > max_wait || (predicted > max_wait && waited > max_wait / 4);
    if (!full && !behind) return true;
    refuse_overloaded(bus, lane, req, full, waited, predicted);
    return false;
}

void gw_bus_send_from(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                      const cJSON *body, const gw_bus_from_t *from) {
    const char *user = from->actor ? from->actor : gw_req_user(req);
    const char *role = from->role ? from->role : gw_req_role(req);
    sms_command_head_t h = {0};
    char generated[SMS_ID_SIZE];
    const char *idem = NULL;
    int has_key;
    if (!send_checks(req, user, body, generated, &idem, &has_key, &h)) return;

    /* With no broker reachable a command would wait in the local queue past
     * its deadline and get an unknown-outcome 504; refused now, nothing was
     * done, and the client can be told so. Two failed probes in a row (4 s),
     * so one slow metadata answer on a busy machine refuses nothing. */
    if (atomic_load(&bus->probe_failures) >= 2) {
        gw_respond_problem_h(req, 503, "unavailable", "Kafka is not reachable; " DETAIL_NOT_SENT, NULL, 0,
                             "Retry-After: 1\r\n");
        return;
    }
    lane_t *lane = lane_of(bus, service);
    if (!admit(bus, lane, req)) return;
    pending_t *p = pending_new(bus, req, lane, user, idem, has_key, from->kafka_key);
    pack_command(bus, p, &h, type, key, user, role, body);
    /* A generated key is new by construction: nothing to bind. */
    if (!has_key) produce(bus, p);
    else bind_key(bus, p);
}

bool gw_bus_kafka_ok(const gw_bus_t *bus) { return atomic_load(&((gw_bus_t *)bus)->kafka_ok); }
size_t gw_bus_inflight(const gw_bus_t *bus) { return bus->inflight + bus->binding; }
uint64_t gw_bus_refused(const gw_bus_t *bus) { return bus->refused_total; }
uint64_t gw_bus_reply_timeouts(const gw_bus_t *bus) { return bus->reply_timeouts; }

/* ---- closing ---- */

/* Frees the clients once no handle and no probe thread can touch them. */
static void finish_close(gw_bus_t *bus) {
    /* Delivery reports of what is still queued run during the flush in
     * sms_producer_free; their entries were answered already. */
    sms_producer_free(bus->producer);
    sms_consumer_free(bus->replies);
    sms_strmap_close(&bus->by_id);
    sms_strmap_close(&bus->lanes_by_service);
    while (bus->lanes) {
        lane_t *l = bus->lanes;
        bus->lanes = l->next;
        sms_free(l);
    }
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
    /* Produced already: the outcome is unknown, not "nothing was done". */
    for (lane_t *l = bus->lanes; l; l = l->next)
        while (l->fifo.next != &l->fifo)
            answer_problem(bus, l->fifo.next, 504, "timeout", "the gateway is shutting down; " DETAIL_UNKNOWN);
    bus->closing_handles = 4;
    uv_close((uv_handle_t *)&bus->producer_poll, on_handle_closed);
    uv_close((uv_handle_t *)&bus->replies_poll, on_handle_closed);
    uv_close((uv_handle_t *)&bus->timer, on_handle_closed);
    uv_close((uv_handle_t *)&bus->probe_timer, on_handle_closed);
}
