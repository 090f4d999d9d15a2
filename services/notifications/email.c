/* email.c - the email channel (see email.h): take or hold each
 * notification, send single mails at once and digests when due; wait for
 * the notifications view (the addresses) and for the relay; dead-letter
 * what waited past SMS_EMAIL_RETRY_HORIZON_S. */
#include "email.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "id.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"
#include "smtp.h"
#include "view.h"
#include "webhook.h"

#define DIGEST_USERS_PER_TICK 16
#define VIEW_RETRY_MS 1000       /* a digest whose address view is not built is looked at again after this */
#define RELAY_BACKOFF_MIN_MS 1000
#define RELAY_BACKOFF_MAX_MS 30000
#define TICK_MAX_MS 100

/* ARGV: 1 id, 2 user, 3 text, 4 now, 5 window ms, 6 'take'|'hold', 7 due
 * (ms) of a hold outside a window, 8 the most held at once, 9 the message's
 * position ("<partition> <offset>", kept in pos:<user> to release it later).
 * 'dup' (mailed or dead-lettered), 'pending' (held already: a redelivery),
 * 'held', 'full' (held max reached: not taken) or 'send'. 'hold' (the relay
 * is down, or the mail just failed) never answers 'send'. */
static sms_redis_script_t take_script = {.source =
    "local p = 'sms:delivery:email:'\n"
    "if redis.call('SISMEMBER', p .. 'sent', ARGV[1]) == 1 then return 'dup' end\n"
    "if redis.call('SISMEMBER', p .. 'dead', ARGV[1]) == 1 then return 'dup' end\n"
    "if redis.call('HEXISTS', p .. 'pending:' .. ARGV[2], ARGV[1]) == 1 then\n"
    "  redis.call('HSET', p .. 'pos:' .. ARGV[2], ARGV[1], ARGV[9])\n"
    "  return 'pending'\n"
    "end\n"
    "local now, w = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local win = tonumber(redis.call('GET', p .. 'win:' .. ARGV[2]) or '0')\n"
    "if win > now or ARGV[6] == 'hold' then\n"
    "  if tonumber(redis.call('GET', p .. 'nheld') or '0') >= tonumber(ARGV[8]) then return 'full' end\n"
    "  redis.call('HSET', p .. 'pending:' .. ARGV[2], ARGV[1], ARGV[3])\n"
    "  redis.call('HSET', p .. 'pos:' .. ARGV[2], ARGV[1], ARGV[9])\n"
    "  redis.call('INCR', p .. 'nheld')\n"
    "  redis.call('ZADD', p .. 'due', 'NX', win > now and win or tonumber(ARGV[7]), ARGV[2])\n"
    "  return 'held'\n"
    "end\n"
    "if w > 0 then redis.call('SET', p .. 'win:' .. ARGV[2], now + w, 'PX', w) end\n"
    "return 'send'\n"};

/* ARGV: 1 user, 2 now, 3 window ms, 4 'sent'|'dead', 5.. ids mailed in the
 * digest (or dead-lettered). Records them (never taken again), drops them
 * from pending, and schedules the rest of the user's pending (if any) at
 * the end of the new window. */
static sms_redis_script_t digest_done_script = {.source =
    "local p = 'sms:delivery:email:'\n"
    "local u, now, w = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "for i = 5, #ARGV do\n"
    "  redis.call('SADD', p .. ARGV[4], ARGV[i])\n"
    "  if redis.call('HDEL', p .. 'pending:' .. u, ARGV[i]) == 1 then redis.call('DECR', p .. 'nheld') end\n"
    "  redis.call('HDEL', p .. 'pos:' .. u, ARGV[i])\n"
    "end\n"
    "if ARGV[4] == 'sent' and w > 0 then redis.call('SET', p .. 'win:' .. u, now + w, 'PX', w) end\n"
    "if redis.call('HLEN', p .. 'pending:' .. u) == 0 then redis.call('ZREM', p .. 'due', u)\n"
    "else redis.call('ZADD', p .. 'due', now + w, u) end\n"
    "return 1\n"};

/* The address of ARGV[1], only while the notifications view is whole: a
 * view that FLUSHALL wiped or rebuild-views is replaying knows no address,
 * which says nothing about the student. {'wait'}, {'none'} or {'ok', addr}. */
static sms_redis_script_t address_script = {.source =
    "if redis.call('HEXISTS', '" NOTIF_VIEW_KEY(NOTIF_VIEW_META) "', '" NOTIF_VIEW_META_BUILT "') == 0 then return {'wait'} end\n"
    "local a = redis.call('HGET', '" NOTIF_VIEW_KEY(NOTIF_VIEW_EMAILS) "', ARGV[1])\n"
    "if not a or a == '' then return {'none'} end\n"
    "return {'ok', a}\n"};

static const char *const topics[] = {NOTIF_TOPIC, NULL};
static const char *const views[] = {NOTIF_VIEW_PREFIX, NULL};

typedef struct email_s {
    const sms_config_t *cfg;
    sms_producer_t *dlq;
    int dlq_err;            /* the last dead letter's delivery report */
    bool dlq_done;
    /* The relay: after a failed mail no mail is tried before relay_retry_at
     * (backoff doubling to RELAY_BACKOFF_MAX_MS): new mail is held, and the
     * wait is logged with the count once per NOTIF_DELIVERY_REPORT_MS. */
    int64_t relay_retry_at, relay_backoff_ms, relay_down_since, last_waiting_log;
    char relay_error[256];
    long long held;         /* nheld as last read, for the health file */
    sms_metric_t *sent, *failed, *dead_letters; /* mails (digests count once); delivery.h's registry */
} email_t;

static void on_dlq_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    email_t *e = opaque;
    (void)partition;
    (void)offset;
    e->dlq_err = err;
    e->dlq_done = true;
}

static void *em_open(const sms_config_t *cfg, char *err, size_t errlen) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return NULL;
    }
    email_t *e = sms_calloc(1, sizeof *e);
    e->cfg = cfg;
    e->held = -1;
    sms_producer_opts_t po = {.client_id = "sms-notify-email", .linger_ms = 0, .on_delivery = on_dlq_delivery};
    if (sms_producer_new(cfg, &po, &e->dlq, err, errlen) != 0) {
        sms_free(e);
        curl_global_cleanup();
        return NULL;
    }
    sms_metrics_t *m = notif_delivery_metrics();
    static const char help[] = "Mails handed to the relay by outcome (failed: the relay refused; held and retried).";
    e->sent = sms_metrics_counter(m, "sms_email_mails_total", help, "outcome", "sent", NULL);
    e->failed = sms_metrics_counter(m, "sms_email_mails_total", help, "outcome", "failed", NULL);
    e->dead_letters = sms_metrics_counter(m, "sms_dlq_letters_total", "Dead letters written to sms.notifications.dlq.",
                                          "channel", "email", NULL);
    return e;
}

static void em_close(void *ch) {
    email_t *e = ch;
    sms_producer_free(e->dlq);
    sms_free(e);
    curl_global_cleanup();
}

static long long em_backlog(void *ch) { return ((email_t *)ch)->held; }

static int em_redis_init(void *ch, redisContext *rc, char *err, size_t errlen) {
    (void)ch;
    if (sms_redis_script_load(rc, &take_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &address_script, err, errlen) != 0) return -1;
    return sms_redis_script_load(rc, &digest_done_script, err, errlen);
}

enum { ADDR_NONE = 0, ADDR_FOUND = 1, ADDR_WAIT = 2 };

/* The address of user into out: ADDR_FOUND, ADDR_NONE (final: the view is
 * whole), ADDR_WAIT (the view is not), -1 Redis failed. */
static int address_of(redisContext *rc, const char *user, char *out, size_t cap) {
    const char *argv[] = {"EVALSHA", address_script.sha, "0", user};
    size_t lens[] = {7, 40, 1, strlen(user)};
    redisReply *r = redisCommandArgv(rc, 4, argv, lens);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) {
        if (r && r->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", r->str);
        if (r) freeReplyObject(r);
        return -1;
    }
    int found = ADDR_NONE;
    if (strcmp(r->element[0]->str, "wait") == 0) found = ADDR_WAIT;
    else if (strcmp(r->element[0]->str, "ok") == 0 && r->elements == 2 && r->element[1]->len < cap) {
        memcpy(out, r->element[1]->str, r->element[1]->len + 1);
        found = ADDR_FOUND;
    }
    freeReplyObject(r);
    return found;
}

static bool relay_down(const email_t *e, int64_t now) { return now < e->relay_retry_at; }

static void relay_failed(email_t *e, int64_t now, const char *err) {
    if (e->relay_down_since == 0) {
        e->relay_down_since = now;
        e->relay_backoff_ms = RELAY_BACKOFF_MIN_MS;
        sms_log(SMS_LOG_WARN, "relay_down", "%s: %s; mail is held and retried", e->cfg->smtp_url, err);
    } else {
        e->relay_backoff_ms = e->relay_backoff_ms * 2 > RELAY_BACKOFF_MAX_MS ? RELAY_BACKOFF_MAX_MS
                                                                             : e->relay_backoff_ms * 2;
    }
    snprintf(e->relay_error, sizeof e->relay_error, "%s", err);
    e->relay_retry_at = now + e->relay_backoff_ms;
}

static void relay_ok(email_t *e, int64_t now) {
    if (e->relay_down_since)
        sms_log(SMS_LOG_INFO, "relay_up", "%s accepts mail again after %lld ms", e->cfg->smtp_url,
                (long long)(now - e->relay_down_since));
    e->relay_down_since = 0;
    e->relay_retry_at = 0;
}

/* The ms timestamp of a ULID-layout id (its first 10 characters). */
static int64_t id_time_ms(const char *id) {
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int64_t t = 0;
    for (int i = 0; i < 10 && id[i]; i++) {
        const char *p = strchr(alphabet, id[i]);
        if (p == NULL) return 0;
        t = t * 32 + (p - alphabet);
    }
    return t;
}

static bool hints_have(const msgpack_object *data, const char *hint) {
    const msgpack_object *h = sms_mp_map_get(data, "channel_hints");
    if (h == NULL || h->type != MSGPACK_OBJECT_ARRAY) return false;
    for (uint32_t i = 0; i < h->via.array.size; i++)
        if (sms_mp_str_eq(&h->via.array.ptr[i], hint)) return true;
    return false;
}

/* The text of one notification (also a digest entry). */
static void render(sms_buf_t *b, const notif_message_t *m) {
    sms_buf_printf(b, "%.*s\n\n%.*s\n\n%.*s\n", (int)m->title.len, m->title.ptr, (int)m->body.len, m->body.ptr,
                   (int)m->link.len, m->link.ptr);
}

static int em_handle(void *ch, redisContext *rc, const notif_delivery_pos_t *pos, const sms_event_t *ev,
                     int64_t now) {
    email_t *e = ch;
    notif_message_t m;
    sms_str_t nid;
    if (ev == NULL || !sms_str_is(ev->type, "notification.created") || notif_read_message(ev->data, &m, &nid) != 0)
        return 0;
    if (!hints_have(ev->data, "email")) return 0; /* switched off by the recipient */
    char id[SMS_ID_SIZE], user[160], addr[320], now_s[24], win_s[24];
    snprintf(id, sizeof id, "%.*s", (int)nid.len, nid.ptr);
    snprintf(user, sizeof user, "%.*s", (int)m.recipient_id.len, m.recipient_id.ptr);
    int found = address_of(rc, user, addr, sizeof addr);
    if (found < 0) return -1;
    if (found == ADDR_WAIT) return NOTIF_DELIVERY_NOT_READY; /* the core waits for the view */
    if (found == ADDR_NONE) {
        sms_log(SMS_LOG_WARN, "no_address", "notification %s: no email address known for %s", id, user);
        return 0;
    }
    sms_buf_t text;
    sms_buf_init(&text);
    render(&text, &m);
    int rc_out = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* Held at once while the relay is down; after a failed send, held
         * (attempt 1) so that the digest retries it. */
        const char *mode = attempt || relay_down(e, now) ? "hold" : "take";
        char due_s[24], max_s[24], pos_s[48];
        snprintf(pos_s, sizeof pos_s, "%d %" PRId64, (int)pos->partition, pos->offset);
        snprintf(now_s, sizeof now_s, "%" PRId64, now);
        snprintf(win_s, sizeof win_s, "%" PRId64, (int64_t)e->cfg->email_digest_window_s * 1000);
        snprintf(due_s, sizeof due_s, "%" PRId64, e->relay_retry_at > now ? e->relay_retry_at : now);
        snprintf(max_s, sizeof max_s, "%d", e->cfg->email_held_max);
        const char *argv[] = {"EVALSHA", take_script.sha, "0", id, user, text.data, now_s, win_s, mode, due_s, max_s,
                              pos_s};
        size_t lens[] = {7, 40, 1, strlen(id), strlen(user), text.len, strlen(now_s), strlen(win_s), 4,
                         strlen(due_s), strlen(max_s), strlen(pos_s)};
        redisReply *r = redisCommandArgv(rc, 12, argv, lens);
        if (r == NULL || r->type != REDIS_REPLY_STRING) {
            if (r && r->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", r->str);
            if (r) freeReplyObject(r);
            rc_out = -1;
            break;
        }
        bool send = strcmp(r->str, "send") == 0, full = strcmp(r->str, "full") == 0;
        bool held = strcmp(r->str, "held") == 0 || strcmp(r->str, "pending") == 0;
        freeReplyObject(r);
        if (full) {
            rc_out = NOTIF_DELIVERY_FULL; /* stays in Kafka until the backlog drains */
            break;
        }
        if (!send) {
            /* Held (for the digest or the relay): only in Redis, so its offset
             * waits until the digest is out (notif_delivery_release). */
            rc_out = held ? NOTIF_DELIVERY_HELD : 0;
            break;
        }
        char subject[300], err[512];
        snprintf(subject, sizeof subject, "[sms] %.*s", (int)m.title.len, m.title.ptr);
        notif_mail_t mail = {.to = addr, .subject = subject, .text = text.data, .message_id = id, .ids_header = id};
        if (notif_smtp_send(e->cfg, &mail, err, sizeof err) == 0) {
            sms_metric_inc(e->sent);
            relay_ok(e, sms_now_ms());
            redisReply *s = redisCommand(rc, "SADD sms:delivery:email:sent %s", id);
            rc_out = s && s->type == REDIS_REPLY_INTEGER ? 0 : -1;
            if (s) freeReplyObject(s);
            break;
        }
        sms_metric_inc(e->failed);
        sms_log(SMS_LOG_WARN, "mail_failed", "notification %s to %s: %s (held, retried)", id, user, err);
        relay_failed(e, sms_now_ms(), err);
    }
    sms_buf_close(&text);
    return rc_out;
}

/* Dead-letters one held notification (notification.dead_lettered, channel
 * "email", on sms.notifications.dlq) and waits until it is durable.
 * 0 if durable. */
static int dead_letter(email_t *e, const char *id, const char *user, const char *addr, const char *text,
                       int64_t now) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char eid[SMS_ID_SIZE], url[340];
    snprintf(url, sizeof url, "mailto:%s", addr);
    notif_dead_letter_t dl = {
        .channel = "email", .event_id = sms_id_new(eid), .delivery_id = id, .webhook_id = "", .url = url,
        .notification_id = id, .recipient_id = user, .kind = "", .payload = text, .attempts = 1,
        .last_error = e->relay_error[0] ? e->relay_error : "relay not reachable", .first_attempt_at = id_time_ms(id),
        .failed_at = now,
    };
    notif_dead_letter_pack(&pk, &dl);
    e->dlq_done = false;
    int r = sms_producer_send(e->dlq, NOTIF_DLQ_TOPIC, SMS_STR(id), sb.data, sb.size, (sms_str_t){"", 0}, e);
    msgpack_sbuffer_destroy(&sb);
    if (r != 0) return -1;
    /* Rare, and must be durable before the mail is forgotten: waiting here
     * is the simple, visible choice (this process does nothing else). */
    if (sms_producer_flush(e->dlq, 10000) != 0 || !e->dlq_done || e->dlq_err != 0) return -1;
    return 0;
}

/* Records ids (argv-ready) as 'sent' or 'dead' for user, then releases
 * their positions. 0, or -1. */
static int record(email_t *e, redisContext *rc, const char *user, const char *what, char **ids, size_t n,
                  int64_t now) {
    /* Read before the script drops them; released only once it has run. */
    for (size_t i = 0; i < n; i++) redisAppendCommand(rc, "HGET sms:delivery:email:pos:%s %s", user, ids[i]);
    int32_t *parts = sms_calloc(n + 1, sizeof *parts);
    int64_t *offs = sms_calloc(n + 1, sizeof *offs);
    bool *have = sms_calloc(n + 1, sizeof *have);
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK || r == NULL) {
            sms_free(parts), sms_free(offs), sms_free(have);
            return -1;
        }
        int part;
        long long off;
        if (r->type == REDIS_REPLY_STRING && sscanf(r->str, "%d %lld", &part, &off) == 2)
            parts[i] = part, offs[i] = off, have[i] = true;
        freeReplyObject(r);
    }
    size_t argc = 7 + n;
    const char **argv = sms_malloc(argc * sizeof *argv);
    size_t *lens = sms_malloc(argc * sizeof *lens);
    char now_s[24], win_s[24];
    snprintf(now_s, sizeof now_s, "%" PRId64, now);
    snprintf(win_s, sizeof win_s, "%" PRId64, (int64_t)e->cfg->email_digest_window_s * 1000);
    argv[0] = "EVALSHA", argv[1] = digest_done_script.sha, argv[2] = "0";
    argv[3] = user, argv[4] = now_s, argv[5] = win_s, argv[6] = what;
    for (size_t i = 0; i < n; i++) argv[7 + i] = ids[i];
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *d = redisCommandArgv(rc, (int)argc, argv, lens);
    int rc_out = d && d->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (d && d->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", d->str);
    if (d) freeReplyObject(d);
    for (size_t i = 0; i < n && rc_out == 0; i++)
        if (have[i]) notif_delivery_release(NOTIF_TOPIC, parts[i], offs[i]);
    sms_free(have);
    sms_free(offs);
    sms_free(parts);
    sms_free(lens);
    sms_free(argv);
    return rc_out;
}

static int reschedule(redisContext *rc, const char *user, int64_t at) {
    redisReply *z = redisCommand(rc, "ZADD sms:delivery:email:due %lld %s", (long long)at, user);
    int rc_out = z && z->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (z) freeReplyObject(z);
    return rc_out;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The text held for id in the HGETALL reply h. */
static const char *held_text(const redisReply *h, const char *id) {
    for (size_t j = 0; j + 1 < h->elements; j += 2)
        if (h->element[j]->str == id) return h->element[j + 1]->str;
    return "";
}

/* Mails user's held notifications as one digest (one held notification as
 * a mail of its own), or, while the relay is down, dead-letters those that
 * waited past the horizon and waits. 0, or -1 on Redis failure. */
static int send_digest(email_t *e, redisContext *rc, const char *user, int64_t now) {
    char addr[320];
    int found = address_of(rc, user, addr, sizeof addr);
    if (found < 0) return -1;
    if (found == ADDR_WAIT) return reschedule(rc, user, now + VIEW_RETRY_MS); /* nothing is final */
    redisReply *h = redisCommand(rc, "HGETALL sms:delivery:email:pending:%s", user);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY) {
        if (h) freeReplyObject(h);
        return -1;
    }
    size_t n = h->elements / 2;
    char **entries = sms_malloc((n + 1) * sizeof *entries); /* the ids, sorted (= time order) */
    for (size_t i = 0; i < n; i++) entries[i] = h->element[2 * i]->str;
    qsort(entries, n, sizeof *entries, cmp_str);
    int rc_out = 0;
    if (found == ADDR_NONE) {
        /* The view is whole and has no address for this user: final. */
        sms_log(SMS_LOG_WARN, "no_address", "digest of %zu dropped: no email address known for %s", n, user);
        rc_out = record(e, rc, user, "sent", entries, n, now);
        goto out;
    }
    if (relay_down(e, now)) {
        /* Past the horizon: dead-lettered (oldest first; they are sorted). */
        int64_t horizon = (int64_t)e->cfg->email_retry_horizon_s * 1000;
        size_t dead = 0;
        while (dead < n && id_time_ms(entries[dead]) + horizon <= now &&
               dead_letter(e, entries[dead], user, addr, held_text(h, entries[dead]), now) == 0)
            dead++;
        if (dead) {
            sms_metric_add(e->dead_letters, dead);
            sms_log(SMS_LOG_WARN, "dead_lettered", "%zu mails to %s held past %d s (relay: %s)", dead, user,
                    e->cfg->email_retry_horizon_s, e->relay_error);
            if (record(e, rc, user, "dead", entries, dead, now) != 0) rc_out = -1;
        }
        if (rc_out == 0 && dead < n) rc_out = reschedule(rc, user, e->relay_retry_at);
        goto out;
    }
    sms_buf_t text, ids;
    sms_buf_init(&text);
    sms_buf_init(&ids);
    char subject[300], msgid[64], err[512];
    if (n == 1) {
        /* One mail held (its first send failed, or the relay was down): sent
         * as it would have been, not as a digest of one. */
        const char *t = held_text(h, entries[0]);
        snprintf(subject, sizeof subject, "[sms] %.*s", (int)strcspn(t, "\n"), t);
        snprintf(msgid, sizeof msgid, "%s", entries[0]);
        sms_buf_puts(&text, t);
    } else {
        snprintf(subject, sizeof subject, "[sms] %zu new notifications", n);
        snprintf(msgid, sizeof msgid, "digest-%s-%zu@sms", n ? entries[0] : "none", n);
        sms_buf_printf(&text, "%zu new notifications:\n\n", n);
        for (size_t i = 0; i < n; i++) sms_buf_printf(&text, "----\n%s\n", held_text(h, entries[i]));
    }
    for (size_t i = 0; i < n; i++) sms_buf_printf(&ids, "%s%s", i ? "," : "", entries[i]);
    notif_mail_t mail = {.to = addr, .subject = subject, .text = text.data, .message_id = msgid, .ids_header = ids.data};
    if (n > 0 && notif_smtp_send(e->cfg, &mail, err, sizeof err) != 0) {
        sms_metric_inc(e->failed);
        relay_failed(e, sms_now_ms(), err);
        sms_log(SMS_LOG_WARN, "mail_failed", "digest of %zu to %s: %s (again in %lld ms)", n, user, err,
                (long long)e->relay_backoff_ms);
        rc_out = reschedule(rc, user, e->relay_retry_at);
    } else {
        if (n > 0) {
            sms_metric_inc(e->sent);
            relay_ok(e, sms_now_ms());
        }
        /* Sent (or nothing left): recorded, so none of them is taken again. */
        rc_out = record(e, rc, user, "sent", entries, n, now);
    }
    sms_buf_close(&ids);
    sms_buf_close(&text);
out:
    sms_free(entries);
    freeReplyObject(h);
    return rc_out;
}

/* Once per report period while mail waits: how much, and why. */
static int report_waiting(email_t *e, redisContext *rc, int64_t now) {
    if (now - e->last_waiting_log < NOTIF_DELIVERY_REPORT_MS) return 0;
    e->last_waiting_log = now;
    redisReply *r = redisCommand(rc, "GET sms:delivery:email:nheld");
    if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r) freeReplyObject(r);
        return -1;
    }
    e->held = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    if (e->held > 0 && e->relay_down_since)
        sms_log(SMS_LOG_WARN, "mail_waiting", "%lld mails held: relay %s down for %lld ms (%s); next try in %lld ms",
                e->held, e->cfg->smtp_url, (long long)(now - e->relay_down_since), e->relay_error,
                (long long)(e->relay_retry_at > now ? e->relay_retry_at - now : 0));
    return 0;
}

static int em_tick(void *ch, redisContext *rc, int64_t now) {
    email_t *e = ch;
    if (report_waiting(e, rc, now) != 0) return -1;
    redisReply *r = redisCommand(rc, "ZRANGEBYSCORE sms:delivery:email:due -inf %lld LIMIT 0 %d", (long long)now,
                                 DIGEST_USERS_PER_TICK);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return -1;
    }
    int rc_out = 0;
    for (size_t i = 0; i < r->elements && rc_out == 0; i++) rc_out = send_digest(e, rc, r->element[i]->str, now);
    int more = r->elements == DIGEST_USERS_PER_TICK;
    freeReplyObject(r);
    if (rc_out) return -1;
    return more && !relay_down(e, sms_now_ms()) ? 0 : TICK_MAX_MS;
}

const notif_delivery_ops_t notif_email_ops = {
    .name = "email",
    .topics = topics,
    .views = views,
    .open = em_open,
    .close = em_close,
    .redis_init = em_redis_init,
    .handle = em_handle,
    .tick = em_tick,
    .backlog = em_backlog,
};
