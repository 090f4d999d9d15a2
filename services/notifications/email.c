/* email.c - the email channel (see email.h): take or hold each
 * notification, send single mails at once and digests when due. */
#include "email.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"
#include "smtp.h"

#define DIGEST_USERS_PER_TICK 16
#define DIGEST_RETRY_MS 5000
#define TICK_MAX_MS 100

/* ARGV: 1 id, 2 user, 3 text, 4 now, 5 window ms. 'dup', 'held' or 'send'. */
static sms_redis_script_t take_script = {.source =
    "local p = 'sms:delivery:email:'\n"
    "if redis.call('SISMEMBER', p .. 'sent', ARGV[1]) == 1 then return 'dup' end\n"
    "if redis.call('HEXISTS', p .. 'pending:' .. ARGV[2], ARGV[1]) == 1 then return 'dup' end\n"
    "local now, w = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local win = tonumber(redis.call('GET', p .. 'win:' .. ARGV[2]) or '0')\n"
    "if win > now then\n"
    "  redis.call('HSET', p .. 'pending:' .. ARGV[2], ARGV[1], ARGV[3])\n"
    "  redis.call('ZADD', p .. 'due', 'NX', win, ARGV[2])\n"
    "  return 'held'\n"
    "end\n"
    "if w > 0 then redis.call('SET', p .. 'win:' .. ARGV[2], now + w, 'PX', w) end\n"
    "return 'send'\n"};

/* ARGV: 1 user, 2 now, 3 window ms, 4.. ids mailed in the digest. */
static sms_redis_script_t digest_done_script = {.source =
    "local p = 'sms:delivery:email:'\n"
    "local u, now, w = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "for i = 4, #ARGV do\n"
    "  redis.call('SADD', p .. 'sent', ARGV[i])\n"
    "  redis.call('HDEL', p .. 'pending:' .. u, ARGV[i])\n"
    "end\n"
    "if w > 0 then redis.call('SET', p .. 'win:' .. u, now + w, 'PX', w) end\n"
    "if redis.call('HLEN', p .. 'pending:' .. u) == 0 then redis.call('ZREM', p .. 'due', u)\n"
    "else redis.call('ZADD', p .. 'due', now + w, u) end\n"
    "return 1\n"};

static const char *const topics[] = {NOTIF_TOPIC, NULL};

typedef struct email_s {
    const sms_config_t *cfg;
} email_t;

static void *em_open(const sms_config_t *cfg, char *err, size_t errlen) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return NULL;
    }
    email_t *e = sms_calloc(1, sizeof *e);
    e->cfg = cfg;
    return e;
}

static void em_close(void *ch) {
    sms_free(ch);
    curl_global_cleanup();
}

static int em_redis_init(void *ch, redisContext *rc, char *err, size_t errlen) {
    (void)ch;
    if (sms_redis_script_load(rc, &take_script, err, errlen) != 0) return -1;
    return sms_redis_script_load(rc, &digest_done_script, err, errlen);
}

/* The address of user into out; 1 found, 0 none known, -1 Redis failed. */
static int address_of(redisContext *rc, const char *user, char *out, size_t cap) {
    redisReply *r = redisCommand(rc, "HGET sms:notifications:emails %s", user);
    if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r) freeReplyObject(r);
        return -1;
    }
    int found = r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < cap;
    if (found) memcpy(out, r->str, r->len + 1);
    freeReplyObject(r);
    return found;
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

static int em_handle(void *ch, redisContext *rc, const char *topic, const sms_event_t *ev, int64_t now) {
    email_t *e = ch;
    (void)topic;
    notif_message_t m;
    sms_str_t nid;
    if (ev == NULL || ev->type.len != strlen("notification.created") ||
        memcmp(ev->type.ptr, "notification.created", ev->type.len) != 0 || notif_read_message(ev->data, &m, &nid) != 0)
        return 0;
    if (!hints_have(ev->data, "email")) return 0; /* switched off by the recipient */
    char id[SMS_ID_SIZE], user[160], addr[320], now_s[24], win_s[24];
    snprintf(id, sizeof id, "%.*s", (int)nid.len, nid.ptr);
    snprintf(user, sizeof user, "%.*s", (int)m.recipient_id.len, m.recipient_id.ptr);
    int found = address_of(rc, user, addr, sizeof addr);
    if (found < 0) return -1;
    if (found == 0) {
        sms_log(SMS_LOG_INFO, "no_address", "notification %s: no email address known for %s", id, user);
        return 0;
    }
    sms_buf_t text;
    sms_buf_init(&text);
    render(&text, &m);
    snprintf(now_s, sizeof now_s, "%" PRId64, now);
    snprintf(win_s, sizeof win_s, "%" PRId64, (int64_t)e->cfg->email_digest_window_s * 1000);
    const char *argv[] = {"EVALSHA", take_script.sha, "0", id, user, text.data, now_s, win_s};
    size_t lens[] = {7, 40, 1, strlen(id), strlen(user), text.len, strlen(now_s), strlen(win_s)};
    redisReply *r = redisCommandArgv(rc, 8, argv, lens);
    int rc_out = -1;
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        if (r && r->type == REDIS_REPLY_ERROR) sms_log(SMS_LOG_ERROR, "redis_error", "%s", r->str);
    } else if (strcmp(r->str, "send") != 0) {
        rc_out = 0; /* dup, or held for the digest */
    } else {
        char subject[300], err[512];
        snprintf(subject, sizeof subject, "[sms] %.*s", (int)m.title.len, m.title.ptr);
        notif_mail_t mail = {.to = addr, .subject = subject, .text = text.data, .message_id = id, .ids_header = id};
        if (notif_smtp_send(e->cfg, &mail, err, sizeof err) != 0) {
            /* Not recorded: the core hands this message over again, and as
             * the window is now open it goes into the digest. */
            sms_log(SMS_LOG_WARN, "mail_failed", "notification %s to %s: %s", id, user, err);
        } else {
            redisReply *s = redisCommand(rc, "SADD sms:delivery:email:sent %s", id);
            rc_out = s && s->type == REDIS_REPLY_INTEGER ? 0 : -1;
            if (s) freeReplyObject(s);
        }
    }
    if (r) freeReplyObject(r);
    sms_buf_close(&text);
    return rc_out;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Mails user's held notifications as one digest. 0, or -1 on Redis failure. */
static int send_digest(email_t *e, redisContext *rc, const char *user, int64_t now) {
    char addr[320];
    int found = address_of(rc, user, addr, sizeof addr);
    if (found < 0) return -1;
    redisReply *h = redisCommand(rc, "HGETALL sms:delivery:email:pending:%s", user);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY) {
        if (h) freeReplyObject(h);
        return -1;
    }
    size_t n = h->elements / 2;
    char **entries = sms_malloc((n + 1) * sizeof *entries); /* "id\0text" pairs, sorted by id (= time) */
    for (size_t i = 0; i < n; i++) entries[i] = h->element[2 * i]->str;
    qsort(entries, n, sizeof *entries, cmp_str);
    sms_buf_t text, ids;
    sms_buf_init(&text);
    sms_buf_init(&ids);
    sms_buf_printf(&text, "%zu new notifications:\n\n", n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            if (h->element[2 * j]->str == entries[i]) sms_buf_printf(&text, "----\n%s\n", h->element[2 * j + 1]->str);
        sms_buf_printf(&ids, "%s%s", i ? "," : "", entries[i]);
    }
    int rc_out = 0;
    char subject[64], msgid[64], err[512];
    snprintf(subject, sizeof subject, "[sms] %zu new notifications", n);
    snprintf(msgid, sizeof msgid, "digest-%s-%zu@sms", n ? entries[0] : "none", n);
    notif_mail_t mail = {.to = addr, .subject = subject, .text = text.data, .message_id = msgid, .ids_header = ids.data};
    bool sent = n > 0 && found && notif_smtp_send(e->cfg, &mail, err, sizeof err) == 0;
    if (n > 0 && found && !sent) {
        sms_log(SMS_LOG_WARN, "mail_failed", "digest of %zu to %s: %s (again in %d ms)", n, user, err, DIGEST_RETRY_MS);
        redisReply *z = redisCommand(rc, "ZADD sms:delivery:email:due %lld %s", (long long)(now + DIGEST_RETRY_MS), user);
        rc_out = z && z->type == REDIS_REPLY_INTEGER ? 0 : -1;
        if (z) freeReplyObject(z);
    } else {
        if (!found) sms_log(SMS_LOG_INFO, "no_address", "digest of %zu dropped: no email address known for %s", n, user);
        /* Sent (or undeliverable): recorded, so none of them is taken again. */
        size_t argc = 6 + n;
        const char **argv = sms_malloc(argc * sizeof *argv);
        size_t *lens = sms_malloc(argc * sizeof *lens);
        char now_s[24], win_s[24];
        snprintf(now_s, sizeof now_s, "%" PRId64, now);
        snprintf(win_s, sizeof win_s, "%" PRId64, (int64_t)e->cfg->email_digest_window_s * 1000);
        argv[0] = "EVALSHA", argv[1] = digest_done_script.sha, argv[2] = "0";
        argv[3] = user, argv[4] = now_s, argv[5] = win_s;
        for (size_t i = 0; i < n; i++) argv[6 + i] = entries[i];
        for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
        redisReply *d = redisCommandArgv(rc, (int)argc, argv, lens);
        rc_out = d && d->type == REDIS_REPLY_INTEGER ? 0 : -1;
        if (d) freeReplyObject(d);
        sms_free(lens);
        sms_free(argv);
    }
    sms_buf_close(&ids);
    sms_buf_close(&text);
    sms_free(entries);
    freeReplyObject(h);
    return rc_out;
}

static int em_tick(void *ch, redisContext *rc, int64_t now) {
    email_t *e = ch;
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
    return more ? 0 : TICK_MAX_MS;
}

const notif_delivery_ops_t notif_email_ops = {
    .name = "email",
    .topics = topics,
    .open = em_open,
    .close = em_close,
    .redis_init = em_redis_init,
    .handle = em_handle,
    .tick = em_tick,
};
