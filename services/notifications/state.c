/* state.c - view reads for the notifications decisions (see state.h): the
 * commands' wants, sent in one pipeline by notif_state_fetch, and the
 * fan-out's roster and preferences reads. */
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "redis.h"
#include "view.h"

/* Keys one MGET or ZMSCORE names at most: the builder's capacity less the
 * command (and the zset key). Chunks are pipelined, so more only means more
 * commands in the same round trip. */
#define MGET_CHUNK (SMS_REDIS_ARGS_MAX - 1)
#define ZMSCORE_CHUNK (SMS_REDIS_ARGS_MAX - 2)
#define KEY_MAX 160

typedef enum { WANT_NEWEST, WANT_INBOX, WANT_PREFS, WANT_WEBHOOK } want_kind_t;

struct notif_want_s {
    const sms_command_t *cmd;
    want_kind_t kind;
    sms_str_t key;           /* the user, or the webhook id */
    const sms_str_t *ids;    /* WANT_INBOX */
    size_t n_ids;
    redisReply **replies;    /* n_replies, in the order sent; owned */
    size_t n_replies;
    bool failed;             /* a reply was an error or of the wrong type */
};

static void log_failed(redisContext *rc, const redisReply *r, const char *what) {
    sms_log(SMS_LOG_ERROR, "redis_failed", "%s: %s", what, r ? (r->str ? r->str : "unexpected reply") : rc->errstr);
}

void *notif_state_new(redisContext *rc) {
    notif_state_t *st = sms_calloc(1, sizeof *st);
    st->rc = rc;
    return st;
}

void notif_state_free(void *state) {
    notif_state_t *st = state;
    for (size_t i = 0; i < st->n_wants; i++) {
        for (size_t k = 0; k < st->wants[i].n_replies; k++)
            if (st->wants[i].replies[k]) freeReplyObject(st->wants[i].replies[k]);
        sms_free(st->wants[i].replies);
    }
    sms_free(st->wants);
    sms_strmap_free_values(&st->prefs, sms_free, NULL);
    sms_strmap_close(&st->prefs);
    sms_free(st);
}

static notif_want_t *want_add(notif_state_t *st, const sms_command_t *cmd, want_kind_t kind, sms_str_t key) {
    if (st->n_wants == st->cap_wants) {
        st->cap_wants = st->cap_wants ? st->cap_wants * 2 : 8;
        st->wants = sms_realloc(st->wants, st->cap_wants * sizeof *st->wants);
    }
    notif_want_t *w = &st->wants[st->n_wants++];
    *w = (notif_want_t){.cmd = cmd, .kind = kind, .key = key};
    return w;
}

void notif_state_want_newest(notif_state_t *st, const sms_command_t *cmd, sms_str_t user) {
    (void)want_add(st, cmd, WANT_NEWEST, user);
}

void notif_state_want_inbox(notif_state_t *st, const sms_command_t *cmd, sms_str_t user, const sms_str_t *ids,
                            size_t n) {
    notif_want_t *w = want_add(st, cmd, WANT_INBOX, user);
    w->ids = ids;
    w->n_ids = n;
}

void notif_state_want_prefs(notif_state_t *st, const sms_command_t *cmd, sms_str_t user) {
    (void)want_add(st, cmd, WANT_PREFS, user);
}

void notif_state_want_webhook(notif_state_t *st, const sms_command_t *cmd, sms_str_t webhook_id) {
    (void)want_add(st, cmd, WANT_WEBHOOK, webhook_id);
}

/* "<prefix><name><id>" into key (cut to KEY_MAX - 1 bytes); its length. */
static size_t key_of(char key[KEY_MAX], const char *name, sms_str_t id) {
    int n = snprintf(key, KEY_MAX, NOTIF_VIEW_PREFIX "%s%.*s", name, (int)id.len, id.ptr);
    return n < 0 ? 0 : (size_t)n < KEY_MAX ? (size_t)n : KEY_MAX - 1;
}

/* ZMSCORE <zset> ids..., ZMSCORE_CHUNK ids per command. Returns how many commands. */
static size_t append_zmscore(redisContext *rc, const char *name, sms_str_t user, const sms_str_t *ids, size_t n) {
    char key[KEY_MAX];
    size_t kl = key_of(key, name, user), sent = 0;
    for (size_t at = 0; at < n; at += ZMSCORE_CHUNK, sent++) {
        sms_redis_args_t a;
        sms_redis_args_init(&a);
        sms_redis_args_str(&a, "ZMSCORE");
        sms_redis_args_add(&a, key, kl);
        for (size_t i = at; i < n && i < at + ZMSCORE_CHUNK; i++) sms_redis_args_add(&a, ids[i].ptr, ids[i].len);
        (void)sms_redis_args_append(rc, &a); /* within capacity by the chunk size; a write error shows at the read */
    }
    return sent;
}

/* MGET prefs:<user> for users[0..n), MGET_CHUNK keys per command. Returns how many commands. */
static size_t append_mget_prefs(redisContext *rc, const sms_str_t *users, size_t n) {
    char keys[MGET_CHUNK][KEY_MAX]; /* reused per chunk: hiredis copies each command as it is appended */
    size_t sent = 0;
    for (size_t at = 0; at < n; at += MGET_CHUNK, sent++) {
        sms_redis_args_t a;
        sms_redis_args_init(&a);
        sms_redis_args_str(&a, "MGET");
        for (size_t i = at; i < n && i < at + MGET_CHUNK; i++)
            sms_redis_args_add(&a, keys[i - at], key_of(keys[i - at], NOTIF_VIEW_PREFS, users[i]));
        (void)sms_redis_args_append(rc, &a); /* within capacity by the chunk size; a write error shows at the read */
    }
    return sent;
}

/* Appends w's commands; returns how many. */
static size_t want_append(redisContext *rc, const notif_want_t *w) {
    switch (w->kind) {
    case WANT_NEWEST:
        redisAppendCommand(rc, "ZREVRANGEBYLEX " NOTIF_VIEW_KEY(NOTIF_VIEW_INBOX) "%b + - LIMIT 0 1", w->key.ptr,
                           w->key.len);
        redisAppendCommand(rc, "ZCARD " NOTIF_VIEW_KEY(NOTIF_VIEW_UNREAD) "%b", w->key.ptr, w->key.len);
        return 2;
    case WANT_INBOX:
        return append_zmscore(rc, NOTIF_VIEW_INBOX, w->key, w->ids, w->n_ids) +
               append_zmscore(rc, NOTIF_VIEW_UNREAD, w->key, w->ids, w->n_ids);
    case WANT_PREFS:
        return append_mget_prefs(rc, &w->key, 1);
    case WANT_WEBHOOK:
        redisAppendCommand(rc, "HGET " NOTIF_VIEW_KEY(NOTIF_VIEW_WEBHOOKS) " %b", w->key.ptr, w->key.len);
        return 1;
    }
    return 0;
}

/* Whether reply k of w has the type (and size) its read expects. */
static bool reply_ok(const notif_want_t *w, size_t k, const char **what) {
    const redisReply *r = w->replies[k];
    switch (w->kind) {
    case WANT_NEWEST:
        *what = k == 0 ? "newest" : "unread count";
        return r->type == (k == 0 ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER);
    case WANT_INBOX: {
        size_t chunks = w->n_replies / 2, chunk = k % chunks;
        size_t want = w->n_ids - chunk * ZMSCORE_CHUNK < ZMSCORE_CHUNK ? w->n_ids - chunk * ZMSCORE_CHUNK : ZMSCORE_CHUNK;
        *what = "inbox lookup";
        return r->type == REDIS_REPLY_ARRAY && r->elements == want;
    }
    case WANT_PREFS:
        *what = "prefs";
        return r->type == REDIS_REPLY_ARRAY && r->elements == 1;
    case WANT_WEBHOOK:
        *what = "webhook";
        return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
    }
    return false;
}

int notif_state_fetch(void *state) {
    notif_state_t *st = state;
    for (size_t i = 0; i < st->n_wants; i++) {
        notif_want_t *w = &st->wants[i];
        w->n_replies = want_append(st->rc, w);
        w->replies = sms_calloc(w->n_replies, sizeof *w->replies);
    }
    for (size_t i = 0; i < st->n_wants; i++) {
        notif_want_t *w = &st->wants[i];
        /* On a connection failure the replies read so far are freed and the rest never come. */
        if (sms_redis_get_replies(st->rc, w->replies, w->n_replies) != 0) {
            memset(w->replies, 0, w->n_replies * sizeof *w->replies);
            for (size_t j = i + 1; j < st->n_wants; j++) st->wants[j].n_replies = 0;
            return -1;
        }
        for (size_t k = 0; k < w->n_replies && !w->failed; k++) {
            const char *what = "";
            if (!reply_ok(w, k, &what)) {
                log_failed(st->rc, w->replies[k], what);
                w->failed = true;
            }
        }
    }
    return 0;
}

/* cmd's want of that kind (prefetched), or NULL. */
static const notif_want_t *want_of(const notif_state_t *st, const sms_command_t *cmd, want_kind_t kind) {
    for (size_t i = 0; i < st->n_wants; i++)
        if (st->wants[i].cmd == cmd && st->wants[i].kind == kind) return &st->wants[i];
    return NULL;
}

int notif_state_newest(const notif_state_t *st, const sms_command_t *cmd, char newest[SMS_ID_SIZE],
                       long long *unread) {
    const notif_want_t *w = want_of(st, cmd, WANT_NEWEST);
    if (w == NULL || w->failed) return -1;
    const redisReply *a = w->replies[0], *b = w->replies[1];
    newest[0] = '\0';
    if (a->elements == 1 && a->element[0]->type == REDIS_REPLY_STRING && a->element[0]->len == SMS_ID_LEN)
        memcpy(newest, a->element[0]->str, SMS_ID_SIZE);
    *unread = b->integer;
    return 0;
}

int notif_state_inbox(const notif_state_t *st, const sms_command_t *cmd, bool *in_inbox, bool *unread) {
    const notif_want_t *w = want_of(st, cmd, WANT_INBOX);
    if (w == NULL || w->failed) return -1;
    size_t chunks = w->n_replies / 2;
    for (size_t which = 0; which < 2; which++)
        for (size_t c = 0; c < chunks; c++) {
            const redisReply *r = w->replies[which * chunks + c];
            for (size_t i = 0; i < r->elements; i++)
                (which ? unread : in_inbox)[c * ZMSCORE_CHUNK + i] = r->element[i]->type != REDIS_REPLY_NIL;
        }
    return 0;
}

/* The preferences in one MGET element (defaults where unset or unreadable). */
static void prefs_of(const redisReply *e, notif_prefs_t *p) {
    notif_prefs_default(p);
    if (e->type == REDIS_REPLY_STRING) (void)notif_prefs_parse_json(e->str, e->len, p); /* unreadable: defaults */
}

int notif_state_user_prefs(const notif_state_t *st, const sms_command_t *cmd, notif_prefs_t *p) {
    const notif_want_t *w = want_of(st, cmd, WANT_PREFS);
    if (w == NULL || w->failed) return -1;
    prefs_of(w->replies[0]->element[0], p);
    return 0;
}

int notif_state_webhook(const notif_state_t *st, const sms_command_t *cmd, const char **json, size_t *len) {
    const notif_want_t *w = want_of(st, cmd, WANT_WEBHOOK);
    if (w == NULL || w->failed) return -1;
    const redisReply *r = w->replies[0];
    *json = r->type == REDIS_REPLY_STRING ? r->str : NULL;
    *len = r->type == REDIS_REPLY_STRING ? r->len : 0;
    return 0;
}

int notif_state_roster(notif_state_t *st, sms_str_t class_id, redisReply **out) {
    redisReply *r = redisCommand(st->rc, "HGETALL " NOTIF_VIEW_KEY(NOTIF_VIEW_ROSTER) "%b", class_id.ptr, class_id.len);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        log_failed(st->rc, r, "roster");
        if (r) freeReplyObject(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* Whether every one of users[0..n) was prefetched; fills prefs then. */
static bool prefs_prefetched(const notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs) {
    for (size_t i = 0; i < n; i++) {
        const notif_prefs_t *p = sms_strmap_get(&st->prefs, users[i].ptr, users[i].len);
        if (p == NULL) return false;
        prefs[i] = *p;
    }
    return n > 0;
}

/* Reads users[0..n)'s preferences into prefs, all MGETs pipelined: a class
 * of thousands costs one round trip. 0, or -1. */
static int read_prefs(notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs) {
    size_t chunks = append_mget_prefs(st->rc, users, n);
    int rc = 0;
    for (size_t c = 0; c < chunks; c++) {
        redisReply *r = NULL;
        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK || r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (rc == 0) log_failed(st->rc, r, "prefs");
            if (r) freeReplyObject(r);
            rc = -1;
            if (st->rc->err) break;
            continue;
        }
        size_t want = n - c * MGET_CHUNK < MGET_CHUNK ? n - c * MGET_CHUNK : MGET_CHUNK;
        if (r->elements != want) {
            /* Another command's reply: the connection is out of step with its
             * pipeline, and every later read on it would be too. Drop it (the
             * worker reconnects) rather than decide on a stranger's answer. */
            sms_log(SMS_LOG_ERROR, "redis_out_of_step", "prefs: an MGET of %zu keys answered %zu elements", want,
                    r->elements);
            freeReplyObject(r);
            st->rc->err = REDIS_ERR_PROTOCOL;
            return -1;
        }
        for (size_t i = 0; i < want; i++) prefs_of(r->element[i], &prefs[c * MGET_CHUNK + i]);
        freeReplyObject(r);
    }
    return rc;
}

int notif_state_prefs(notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs) {
    if (prefs_prefetched(st, users, n, prefs)) return 0;
    return read_prefs(st, users, n, prefs);
}

int notif_state_prefetch_prefs(notif_state_t *st, const sms_str_t *users, size_t n) {
    if (n == 0) return 0;
    notif_prefs_t *read = sms_malloc(n * sizeof *read);
    int rc = read_prefs(st, users, n, read);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        notif_prefs_t *p = sms_malloc(sizeof *p);
        *p = read[i];
        sms_free(sms_strmap_put(&st->prefs, users[i].ptr, users[i].len, p)); /* a duplicate: the same read */
    }
    sms_free(read);
    return rc;
}
