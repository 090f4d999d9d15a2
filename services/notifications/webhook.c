/* webhook.c - the webhook channel (see webhook.h): turns notifications
 * into scheduled deliveries in Redis, claims due ones, POSTs them with
 * curl multi, records each outcome, dead-letters after the horizon.
 *
 * Order of effects: a delivery is written to Redis (status pending, due
 * now) before the notification's offset is stored, so a crash loses none.
 * An attempt is claimed with a lease (due := now + lease) before the POST;
 * a crash mid-POST retries it when the lease ends, so a receiver may get a
 * delivery twice: it dedupes by X-SMS-Delivery-Id. A dead letter is
 * produced (acks=all, waited for) before the delivery is marked failed. */
#include "webhook.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "id.h"
#include "json_msgpack.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "msgpack_util.h"
#include "net_policy.h"
#include "redis.h"
#include "schema.h"
#include "view.h"
#include "webhooks.h"

#define INFLIGHT_MAX 64
#define LEASE_MS 60000      /* a claimed attempt is retried after this if its outcome was never recorded */
#define BACKOFF_CAP_MS 3600000
#define TICK_MAX_MS 100

/* ARGV: 1 id, 2 now, 3 webhook, 4 notification, 5 recipient, 6 kind, 7 url, 8 body,
 * 9 "new"|"revive", 10 attempts, 11 last error. A new delivery is written
 * once; a revived one (dlq replay) only if it is failed or unknown. */
static sms_redis_script_t schedule_script = {.source =
    "local p = 'sms:delivery:wh:'\n"
    "local k = p .. 'd:' .. ARGV[1]\n"
    "local st = redis.call('HGET', k, 'status')\n"
    "if ARGV[9] == 'new' then\n"
    "  if st then return 0 end\n"
    "elseif st then\n"
    "  if st ~= 'failed' then return 0 end\n"
    "  redis.call('ZREM', p .. 'st:' .. st, ARGV[1])\n"
    "end\n"
    "redis.call('HSET', k, 'webhook_id', ARGV[3], 'notification_id', ARGV[4], 'recipient_id', ARGV[5],\n"
    "  'kind', ARGV[6], 'url', ARGV[7], 'body', ARGV[8], 'status', 'pending', 'attempts', ARGV[10],\n"
    "  'last_error', ARGV[11], 'next_attempt_at', ARGV[2], 'first_attempt_at', ARGV[2], 'updated_at', ARGV[2])\n"
    "redis.call('ZADD', p .. 'st:pending', 0, ARGV[1])\n"
    "redis.call('ZADD', p .. 'due', ARGV[2], ARGV[1])\n"
    "return 1\n"};

/* ARGV: 1 now, 2 lease ms, 3 limit. Leases up to limit due deliveries;
 * returns 10 strings per delivery (secret '' = the webhook is gone), or
 * {'wait'} while the notifications view (which holds the secrets) is missing
 * or being rebuilt: a secret missing then would fail a live delivery. */
static sms_redis_script_t claim_script = {.source =
    "local p = 'sms:delivery:wh:'\n"
    "if redis.call('HEXISTS', '" NOTIF_VIEW_KEY(NOTIF_VIEW_META) "', '" NOTIF_VIEW_META_BUILT "') == 0 then return {'wait'} end\n"
    "local ids = redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZADD', p .. 'due', tonumber(ARGV[1]) + tonumber(ARGV[2]), id)\n"
    "  local f = redis.call('HMGET', p .. 'd:' .. id, 'webhook_id', 'url', 'body', 'attempts', 'first_attempt_at',\n"
    "    'notification_id', 'recipient_id', 'kind')\n"
    "  local s = redis.call('HGET', '" NOTIF_VIEW_KEY(NOTIF_VIEW_WHSECRET) "', f[1] or '')\n"
    "  out[#out + 1] = id\n"
    "  for i = 1, 8 do out[#out + 1] = f[i] or '' end\n"
    "  out[#out + 1] = s or ''\n"
    "end\n"
    "return out\n"};

/* ARGV: 1 id, 2 now, 3 sent|retrying|failed, 4 error, 5 next attempt ms ('' = none).
 * Returns the attempts made so far. */
static sms_redis_script_t finish_script = {.source =
    "local p = 'sms:delivery:wh:'\n"
    "local k = p .. 'd:' .. ARGV[1]\n"
    "local st = redis.call('HGET', k, 'status')\n"
    "if not st then redis.call('ZREM', p .. 'due', ARGV[1]) return 0 end\n"
    "redis.call('ZREM', p .. 'st:' .. st, ARGV[1])\n"
    "local n = redis.call('HINCRBY', k, 'attempts', 1)\n"
    "redis.call('HSET', k, 'status', ARGV[3], 'last_error', ARGV[4], 'updated_at', ARGV[2], 'next_attempt_at', ARGV[5])\n"
    "redis.call('ZADD', p .. 'st:' .. ARGV[3], 0, ARGV[1])\n"
    "if ARGV[3] == 'retrying' then redis.call('ZADD', p .. 'due', ARGV[5], ARGV[1])\n"
    "else redis.call('ZREM', p .. 'due', ARGV[1]) end\n"
    "return n\n"};

#define CLAIM_FIELDS 10

typedef struct transfer_s {
    CURL *easy;
    struct curl_slist *headers;
    char id[SMS_ID_SIZE];
    char *webhook_id, *url, *body, *notification_id, *recipient_id, *kind;
    int attempts;             /* made before this one */
    int64_t first_attempt_at;
    char error[CURL_ERROR_SIZE];
    bool refused;             /* the open-socket check refused an address this attempt resolved to */
    struct transfer_s *next;
} transfer_t;

typedef struct webhook_s {
    const sms_config_t *cfg;
    CURLM *multi;
    transfer_t *inflight;
    int n_inflight;
    sms_producer_t *dlq;
    int dlq_err;     /* the last dead letter's delivery report */
    bool dlq_done;
    sms_metric_t *sent, *retrying, *failed, *dead_letters; /* finish()'s outcomes (delivery.h's registry) */
} webhook_t;

/* The registrations (webhooks, whsecret), only while the view is whole: a
 * view that FLUSHALL wiped or sms-admin rebuild-views is replaying lists
 * no webhook, which would schedule nothing for a notification for good.
 * Returns {'wait'} or {'ok', id1, doc1, id2, doc2, ...}. */
static sms_redis_script_t hooks_script = {.source =
    "if redis.call('HEXISTS', '" NOTIF_VIEW_KEY(NOTIF_VIEW_META) "', '" NOTIF_VIEW_META_BUILT "') == 0 then return {'wait'} end\n"
    "local out = redis.call('HGETALL', '" NOTIF_VIEW_KEY(NOTIF_VIEW_WEBHOOKS) "')\n"
    "table.insert(out, 1, 'ok')\n"
    "return out\n"};

static const char *const topics[] = {NOTIF_TOPIC, NOTIF_RETRY_TOPIC, NULL};
static const char *const views[] = {NOTIF_VIEW_PREFIX, NULL};

void notif_webhook_sign(const char *secret, size_t secret_len, int64_t timestamp, const char *body, size_t body_len,
                        char out[65]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    sms_buf_t msg;
    sms_buf_init(&msg);
    sms_buf_printf(&msg, "%" PRId64 ".", timestamp);
    sms_buf_append(&msg, body, body_len);
    /* HMAC() fails only on OOM; an empty signature then fails verification
     * at the receiver, visibly. */
    if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg.data, msg.len, mac, &mac_len) == NULL)
        mac_len = 0;
    sms_buf_close(&msg);
    for (unsigned i = 0; i < mac_len && i < 32; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
    out[2 * (mac_len < 32 ? mac_len : 32)] = '\0';
}

int64_t notif_webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int failures, double rnd) {
    int64_t ceil = base_ms;
    for (int i = 1; i < failures && ceil < cap_ms; i++) ceil *= 2;
    if (ceil > cap_ms) ceil = cap_ms;
    return (int64_t)(rnd * (double)(ceil + 1));
}

void notif_dead_letter_pack(msgpack_packer *pk, const notif_dead_letter_t *d) {
    const char *channel = d->channel ? d->channel : "webhook";
    char actor[64];
    snprintf(actor, sizeof actor, "sms-notify-%s", channel);
    sms_event_pack_head(pk, SMS_STR(d->event_id), SMS_STR("notification.dead_lettered"), NOTIF_EVENT_VERSION,
                        d->failed_at, SMS_STR(actor), SMS_STR(d->delivery_id), SMS_STR(d->notification_id));
    msgpack_pack_map(pk, 12);
    sms_mp_pack_kv_str(pk, "delivery_id", d->delivery_id);
    sms_mp_pack_kv_str(pk, "channel", channel);
    sms_mp_pack_kv_str(pk, "webhook_id", d->webhook_id);
    sms_mp_pack_kv_str(pk, "url", d->url);
    sms_mp_pack_kv_str(pk, "notification_id", d->notification_id);
    sms_mp_pack_kv_str(pk, "recipient_id", d->recipient_id);
    sms_mp_pack_kv_str(pk, "kind", d->kind);
    sms_mp_pack_kv_str(pk, "payload", d->payload);
    sms_mp_pack_kv_i64(pk, "attempts", d->attempts);
    sms_mp_pack_kv_str(pk, "last_error", d->last_error);
    sms_mp_pack_kv_i64(pk, "first_attempt_at", d->first_attempt_at);
    sms_mp_pack_kv_i64(pk, "failed_at", d->failed_at);
}

static void on_dlq_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    webhook_t *w = opaque;
    (void)partition;
    (void)offset;
    w->dlq_err = err;
    w->dlq_done = true;
}

static void *wh_open(const sms_config_t *cfg, char *err, size_t errlen) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return NULL;
    }
    webhook_t *w = sms_calloc(1, sizeof *w);
    w->cfg = cfg;
    srandom((unsigned)(getpid() ^ (pid_t)time(NULL)));
    sms_producer_opts_t po = {.client_id = "sms-notify-webhook", .linger_ms = 0, .on_delivery = on_dlq_delivery};
    w->multi = curl_multi_init();
    if (w->multi == NULL || sms_producer_new(cfg, &po, &w->dlq, err, errlen) != 0) {
        if (w->multi) curl_multi_cleanup(w->multi);
        sms_free(w);
        curl_global_cleanup();
        if (!err[0]) snprintf(err, errlen, "curl_multi_init failed");
        return NULL;
    }
    sms_metrics_t *m = notif_delivery_metrics();
    static const char help[] = "Webhook POST attempts by outcome (failed: past the retry horizon, dead-lettered).";
    w->sent = sms_metrics_counter(m, "sms_webhook_deliveries_total", help, "outcome", "sent", NULL);
    w->retrying = sms_metrics_counter(m, "sms_webhook_deliveries_total", help, "outcome", "retrying", NULL);
    w->failed = sms_metrics_counter(m, "sms_webhook_deliveries_total", help, "outcome", "failed", NULL);
    w->dead_letters = sms_metrics_counter(m, "sms_dlq_letters_total", "Dead letters written to sms.notifications.dlq.",
                                          "channel", "webhook", NULL);
    return w;
}

static void transfer_free(transfer_t *t) {
    if (t->easy) curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    sms_free(t->webhook_id);
    sms_free(t->url);
    sms_free(t->body);
    sms_free(t->notification_id);
    sms_free(t->recipient_id);
    sms_free(t->kind);
    sms_free(t);
}

static void wh_close(void *ch) {
    webhook_t *w = ch;
    /* Transfers still running are abandoned: their leases make them due
     * again after a restart. */
    while (w->inflight) {
        transfer_t *t = w->inflight;
        w->inflight = t->next;
        curl_multi_remove_handle(w->multi, t->easy);
        transfer_free(t);
    }
    curl_multi_cleanup(w->multi);
    sms_producer_free(w->dlq);
    sms_free(w);
    curl_global_cleanup();
}

static int wh_redis_init(void *ch, redisContext *rc, char *err, size_t errlen) {
    (void)ch;
    if (sms_redis_script_load(rc, &schedule_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &claim_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &hooks_script, err, errlen) != 0) return -1;
    return sms_redis_script_load(rc, &finish_script, err, errlen);
}

static bool hints_have(const msgpack_object *data, const char *hint) {
    const msgpack_object *h = sms_mp_map_get(data, "channel_hints");
    if (h == NULL || h->type != MSGPACK_OBJECT_ARRAY) return false;
    for (uint32_t i = 0; i < h->via.array.size; i++)
        if (sms_mp_str_eq(&h->via.array.ptr[i], hint)) return true;
    return false;
}

static bool subscribes(const cJSON *wh, const char *kind) {
    const cJSON *ev;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(wh, "events")) {
        if (cJSON_IsString(ev) && (strcmp(ev->valuestring, "*") == 0 || strcmp(ev->valuestring, kind) == 0))
            return true;
    }
    return false;
}

/* Runs one script call with argv; 0 if Redis answered without error. */
static int run(redisContext *rc, int argc, const char **argv, const size_t *lens, long long *out) {
    redisReply *r = redisCommandArgv(rc, argc, argv, lens);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r && r->type == REDIS_REPLY_ERROR) sms_redis_log_error(NULL, r->str);
    if (ok && out) *out = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

static int schedule(redisContext *rc, const char *mode, const char *id, int64_t now, sms_str_t webhook,
                    sms_str_t notification, sms_str_t recipient, sms_str_t kind, sms_str_t url, sms_str_t body,
                    int64_t attempts, sms_str_t last_error) {
    char now_s[24], att[24];
    snprintf(now_s, sizeof now_s, "%" PRId64, now);
    snprintf(att, sizeof att, "%" PRId64, attempts);
    const char *argv[] = {"EVALSHA", schedule_script.sha, "0", id, now_s, webhook.ptr, notification.ptr,
                          recipient.ptr, kind.ptr, url.ptr, body.ptr, mode, att, last_error.ptr};
    size_t lens[] = {7, 40, 1, strlen(id), strlen(now_s), webhook.len, notification.len, recipient.len, kind.len,
                     url.len, body.len, strlen(mode), strlen(att), last_error.len};
    return run(rc, 14, argv, lens, NULL);
}

/* A notification: one delivery per subscribed webhook. */
static int handle_notification(redisContext *rc, const sms_event_t *ev, int64_t now) {
    notif_message_t m;
    sms_str_t nid;
    if (notif_read_message(ev->data, &m, &nid) != 0) {
        sms_log(SMS_LOG_WARN, "message_skipped", "%.*s is not a notification this version reads", (int)ev->id.len,
                ev->id.ptr);
        return 0;
    }
    if (!hints_have(ev->data, "webhook")) return 0; /* the recipient switched webhooks off */
    redisReply *hooks = redisCommand(rc, "EVALSHA %s 0", hooks_script.sha);
    if (hooks == NULL || hooks->type != REDIS_REPLY_ARRAY || hooks->elements < 1 ||
        hooks->element[0]->type != REDIS_REPLY_STRING) {
        if (hooks && hooks->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", hooks->str);
        if (hooks) freeReplyObject(hooks);
        return -1;
    }
    if (strcmp(hooks->element[0]->str, "wait") == 0) {
        freeReplyObject(hooks);
        return NOTIF_DELIVERY_NOT_READY;
    }
    int rc_out = 0;
    sms_buf_t body;
    sms_buf_init(&body);
    for (size_t i = 1; i + 1 < hooks->elements && rc_out == 0; i += 2) {
        const redisReply *hid = hooks->element[i], *doc = hooks->element[i + 1];
        cJSON *wh = cJSON_ParseWithLength(doc->str, doc->len);
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(wh, "url");
        if (wh && cJSON_IsString(url) && subscribes(wh, m.kind)) {
            /* The delivery id is derived, so a redelivered notification
             * schedules nothing new (the schedule script writes an id once). */
            char seed[128], did[SMS_ID_SIZE];
            int n = snprintf(seed, sizeof seed, "%.*s\n%.*s", (int)nid.len, nid.ptr, (int)hid->len, hid->str);
            sms_id_derive(ev->time, seed, (size_t)n, did);
            sms_buf_reset(&body);
            sms_buf_puts(&body, "{\"delivery_id\":\"");
            sms_buf_puts(&body, did);
            sms_buf_puts(&body, "\",\"webhook_id\":");
            sms_buf_json_str(&body, hid->str, hid->len);
            sms_buf_puts(&body, ",\"type\":\"notification.created\",\"notification\":");
            sms_msgpack_to_json(ev->data, &body);
            sms_buf_putc(&body, '}');
            rc_out = schedule(rc, "new", did, now, (sms_str_t){hid->str, hid->len}, nid, m.recipient_id,
                              SMS_STR(m.kind), SMS_STR(url->valuestring), (sms_str_t){body.data, body.len}, 0,
                              SMS_STR(""));
        }
        cJSON_Delete(wh);
    }
    sms_buf_close(&body);
    freeReplyObject(hooks);
    return rc_out;
}

/* A dead letter sent back by `sms-admin dlq replay`: scheduled again, with
 * a fresh horizon. */
static int handle_redrive(redisContext *rc, const sms_event_t *ev, int64_t now) {
    const msgpack_object *d = ev->data;
    sms_str_t id, webhook, notification, recipient, kind, url, payload, last_error = {"", 0};
    int64_t attempts = 0;
    const msgpack_object *channel = sms_mp_map_get(d, "channel");
    if (channel && !sms_mp_str_eq(channel, "webhook")) return 0; /* another channel's dead letter */
    if (!sms_mp_str(sms_mp_map_get(d, "delivery_id"), &id.ptr, &id.len) || id.len != SMS_ID_LEN ||
        !sms_mp_str(sms_mp_map_get(d, "webhook_id"), &webhook.ptr, &webhook.len) ||
        !sms_mp_str(sms_mp_map_get(d, "notification_id"), &notification.ptr, &notification.len) ||
        !sms_mp_str(sms_mp_map_get(d, "recipient_id"), &recipient.ptr, &recipient.len) ||
        !sms_mp_str(sms_mp_map_get(d, "kind"), &kind.ptr, &kind.len) ||
        !sms_mp_str(sms_mp_map_get(d, "url"), &url.ptr, &url.len) ||
        !sms_mp_str(sms_mp_map_get(d, "payload"), &payload.ptr, &payload.len)) {
        sms_log(SMS_LOG_WARN, "message_skipped", "redrive %.*s is malformed", (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    (void)sms_mp_str(sms_mp_map_get(d, "last_error"), &last_error.ptr, &last_error.len); /* optional */
    (void)sms_mp_i64(sms_mp_map_get(d, "attempts"), &attempts);                         /* optional */
    char did[SMS_ID_SIZE];
    snprintf(did, sizeof did, "%.*s", (int)id.len, id.ptr);
    sms_log(SMS_LOG_INFO, "redrive", "delivery %s scheduled again", did);
    return schedule(rc, "revive", did, now, webhook, notification, recipient, kind, url, payload, attempts, last_error);
}

static int wh_handle(void *ch, redisContext *rc, const notif_delivery_pos_t *pos, const sms_event_t *ev,
                     int64_t now) {
    const char *topic = pos->topic;
    (void)ch;
    if (ev == NULL) return 0; /* not an envelope: nothing this channel can deliver */
    if (strcmp(topic, NOTIF_TOPIC) == 0)
        return sms_str_is(ev->type, "notification.created") ? handle_notification(rc, ev, now) : 0;
    return sms_str_is(ev->type, "notification.dead_lettered") ? handle_redrive(rc, ev, now) : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *data) {
    (void)p;
    (void)data;
    return size * n;
}

/* curl's open-socket callback: the SSRF check on the address the name
 * resolved to, at connect time, so a name registered as public that
 * resolves (or rebinds) to loopback, link-local or private space is never
 * connected to. Refusing returns CURL_SOCKET_BAD (the attempt fails with
 * a connect error; finish() records only "target refused by policy"). */
static curl_socket_t open_checked_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    transfer_t *t = clientp;
    (void)purpose;
    if (!sms_net_addr_allowed(&a->addr)) {
        t->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static char *dup_reply(const redisReply *r) { return sms_strndup(r->str, r->len); }

static int start(webhook_t *w, redisContext *rc, redisReply **f, int64_t now) {
    transfer_t *t = sms_calloc(1, sizeof *t);
    snprintf(t->id, sizeof t->id, "%.*s", (int)f[0]->len, f[0]->str);
    t->webhook_id = dup_reply(f[1]);
    t->url = dup_reply(f[2]);
    t->body = dup_reply(f[3]);
    t->attempts = atoi(f[4]->str);
    t->first_attempt_at = strtoll(f[5]->str, NULL, 10);
    t->notification_id = dup_reply(f[6]);
    t->recipient_id = dup_reply(f[7]);
    t->kind = dup_reply(f[8]);
    if (f[9]->len == 0) { /* deleted since it was scheduled: nobody to deliver to */
        char now_s[24];
        snprintf(now_s, sizeof now_s, "%" PRId64, now);
        const char *argv[] = {"EVALSHA", finish_script.sha, "0", t->id, now_s, "failed", "webhook deleted", ""};
        size_t lens[] = {7, 40, 1, strlen(t->id), strlen(now_s), 6, 15, 0};
        int r = run(rc, 8, argv, lens, NULL);
        transfer_free(t);
        return r;
    }
    char sig[65], hdr[160];
    notif_webhook_sign(f[9]->str, f[9]->len, now / 1000, t->body, strlen(t->body), sig);
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    snprintf(hdr, sizeof hdr, "X-SMS-Signature: sha256=%s", sig);
    t->headers = curl_slist_append(t->headers, hdr);
    snprintf(hdr, sizeof hdr, "X-SMS-Timestamp: %" PRId64, now / 1000);
    t->headers = curl_slist_append(t->headers, hdr);
    snprintf(hdr, sizeof hdr, "X-SMS-Delivery-Id: %s", t->id);
    t->headers = curl_slist_append(t->headers, hdr);
    t->headers = curl_slist_append(t->headers, "X-SMS-Event: notification.created");
    t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
    t->easy = curl_easy_init();
    if (t->easy == NULL || t->headers == NULL) {
        transfer_free(t);
        return 0; /* the lease makes it due again */
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "sms-webhook/1");
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)w->cfg->webhook_timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg->webhook_timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, t);
    /* No proxy from the environment: it would be the address checked, and
     * it would reach whatever the URL names. No redirects either (curl's
     * default): a 30x answer is a failed attempt. */
    curl_easy_setopt(t->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(w->multi, t->easy) != CURLM_OK) {
        transfer_free(t);
        return 0;
    }
    t->next = w->inflight;
    w->inflight = t;
    w->n_inflight++;
    return 0;
}

/* Claims due deliveries up to the concurrency limit and starts them. */
static int claim(webhook_t *w, redisContext *rc, int64_t now) {
    int room = INFLIGHT_MAX - w->n_inflight;
    if (room <= 0) return 0;
    char now_s[24], lease[24], lim[16];
    snprintf(now_s, sizeof now_s, "%" PRId64, now);
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    snprintf(lim, sizeof lim, "%d", room);
    const char *argv[] = {"EVALSHA", claim_script.sha, "0", now_s, lease, lim};
    size_t lens[] = {7, 40, 1, strlen(now_s), strlen(lease), strlen(lim)};
    redisReply *r = redisCommandArgv(rc, 6, argv, lens);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r) {
            if (r->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", r->str);
            freeReplyObject(r);
        }
        return -1;
    }
    int rc_out = 0;
    /* {'wait'}: one element, fewer than CLAIM_FIELDS, so nothing starts. */
    for (size_t i = 0; i + CLAIM_FIELDS <= r->elements && rc_out == 0; i += CLAIM_FIELDS)
        rc_out = start(w, rc, &r->element[i], now);
    freeReplyObject(r);
    return rc_out;
}

/* Produces the dead letter and waits for its delivery report. 0 if durable. */
static int dead_letter(webhook_t *w, const transfer_t *t, const char *error, int64_t now) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char eid[SMS_ID_SIZE];
    notif_dead_letter_t dl = {
        .event_id = sms_id_new(eid), .delivery_id = t->id, .webhook_id = t->webhook_id, .url = t->url,
        .notification_id = t->notification_id, .recipient_id = t->recipient_id, .kind = t->kind, .payload = t->body,
        .attempts = t->attempts + 1, .last_error = error, .first_attempt_at = t->first_attempt_at, .failed_at = now,
    };
    notif_dead_letter_pack(&pk, &dl);
    w->dlq_done = false;
    int r = sms_producer_send(w->dlq, NOTIF_DLQ_TOPIC, SMS_STR(t->id), sb.data, sb.size, (sms_str_t){"", 0}, w);
    msgpack_sbuffer_destroy(&sb);
    if (r != 0) return -1;
    /* Rare (once per dead delivery) and must be durable before the state
     * says failed: waiting here is the simple, visible choice. */
    if (sms_producer_flush(w->dlq, 10000) != 0 || !w->dlq_done || w->dlq_err != 0) return -1;
    return 0;
}

static int finish(webhook_t *w, redisContext *rc, transfer_t *t, CURLcode code, int64_t now) {
    long http = 0;
    char error[CURL_ERROR_SIZE + 32];
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &http);
    bool ok = code == CURLE_OK && http >= 200 && http < 300;
    /* last_error is served by /admin/deliveries: curl's own message names
     * the address and port and how the connect failed, which would map the
     * network behind the consumer; only curl's generic text is kept. */
    if (code != CURLE_OK && t->refused) snprintf(error, sizeof error, "target refused by policy");
    else if (code != CURLE_OK) snprintf(error, sizeof error, "%s", curl_easy_strerror(code));
    if (code != CURLE_OK) /* the detail stays in the operator's log */
        sms_log(SMS_LOG_INFO, "webhook_attempt_failed", "delivery %s: %s", t->id,
                t->refused ? "target refused by policy" : t->error[0] ? t->error : curl_easy_strerror(code));
    else if (!ok) snprintf(error, sizeof error, "HTTP %ld", http);
    else error[0] = '\0';
    const char *status = "sent";
    char next_s[24] = "";
    if (ok) sms_metric_inc(w->sent);
    if (!ok) {
        int64_t horizon = (int64_t)w->cfg->webhook_retry_horizon_s * 1000;
        int64_t next = now + notif_webhook_backoff_ms(w->cfg->webhook_retry_base_ms, BACKOFF_CAP_MS, t->attempts + 1,
                                                      (double)random() / ((double)RAND_MAX + 1.0));
        if (now - t->first_attempt_at >= horizon) {
            if (dead_letter(w, t, error, now) != 0) {
                sms_log(SMS_LOG_ERROR, "dlq_failed", "delivery %s: dead letter not durable, tried again later", t->id);
                return 0; /* still leased: due again when the lease ends */
            }
            status = "failed";
            sms_metric_inc(w->failed);
            sms_metric_inc(w->dead_letters);
            sms_log(SMS_LOG_WARN, "dead_lettered", "delivery %s after %d attempts: %s", t->id, t->attempts + 1, error);
        } else {
            if (next > t->first_attempt_at + horizon) next = t->first_attempt_at + horizon; /* a last try at the horizon */
            status = "retrying";
            sms_metric_inc(w->retrying);
            snprintf(next_s, sizeof next_s, "%" PRId64, next);
        }
    }
    char now_s[24];
    snprintf(now_s, sizeof now_s, "%" PRId64, now);
    const char *argv[] = {"EVALSHA", finish_script.sha, "0", t->id, now_s, status, error, next_s};
    size_t lens[] = {7, 40, 1, strlen(t->id), strlen(now_s), strlen(status), strlen(error), strlen(next_s)};
    return run(rc, 8, argv, lens, NULL);
}

static void unlink_transfer(webhook_t *w, transfer_t *t) {
    for (transfer_t **p = &w->inflight; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            w->n_inflight--;
            return;
        }
}

static int wh_tick(void *ch, redisContext *rc, int64_t now) {
    webhook_t *w = ch;
    int running = 0, rc_out = 0;
    if (claim(w, rc, now) != 0) rc_out = -1;
    if (w->n_inflight == 0) return rc_out ? -1 : TICK_MAX_MS;
    /* Wait a little for sockets to be ready: this is the channel's idle
     * time too (the core then polls Kafka without waiting). */
    (void)curl_multi_poll(w->multi, NULL, 0, 20, NULL); /* a poll error shows up in perform */
    curl_multi_perform(w->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(w->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        transfer_t *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(w->multi, t->easy);
        unlink_transfer(w, t);
        if (finish(w, rc, t, code, sms_now_ms()) != 0) rc_out = -1; /* lease: attempted again later */
        transfer_free(t);
    }
    if (rc_out) return -1;
    return w->n_inflight ? 0 : TICK_MAX_MS;
}

const notif_delivery_ops_t notif_webhook_ops = {
    .name = "webhook",
    .topics = topics,
    .views = views,
    .open = wh_open,
    .close = wh_close,
    .redis_init = wh_redis_init,
    .handle = wh_handle,
    .tick = wh_tick,
};
