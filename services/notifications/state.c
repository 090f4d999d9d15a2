/* state.c - view reads for the notifications decisions (see state.h). */
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

#define P "sms:notifications:"

static int failed(notif_state_t *st, redisReply *r, const char *what) {
    sms_log(SMS_LOG_ERROR, "redis_failed", "%s: %s", what, r ? (r->str ? r->str : "unexpected reply") : st->rc->errstr);
    if (r) freeReplyObject(r);
    return -1;
}

int notif_state_roster(notif_state_t *st, sms_str_t class_id, redisReply **out) {
    redisReply *r = redisCommand(st->rc, "HGETALL " P "roster:%b", class_id.ptr, class_id.len);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) return failed(st, r, "roster");
    *out = r;
    return 0;
}

#define MGET_CHUNK 1000

int notif_state_prefs(notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs) {
    /* One MGET per chunk, all pipelined: a class of thousands costs one round trip. */
    const char **argv = sms_malloc((MGET_CHUNK + 1) * sizeof *argv);
    size_t *lens = sms_malloc((MGET_CHUNK + 1) * sizeof *lens);
    char (*keys)[160] = sms_malloc(MGET_CHUNK * sizeof *keys);
    size_t chunks = 0;
    int rc = 0;
    for (size_t at = 0; at < n; at += MGET_CHUNK, chunks++) {
        size_t m = n - at < MGET_CHUNK ? n - at : MGET_CHUNK;
        argv[0] = "MGET";
        lens[0] = 4;
        for (size_t i = 0; i < m; i++) {
            int kl = snprintf(keys[i], sizeof keys[i], P "prefs:%.*s", (int)users[at + i].len, users[at + i].ptr);
            argv[i + 1] = keys[i];
            lens[i + 1] = (size_t)kl < sizeof keys[i] ? (size_t)kl : sizeof keys[i] - 1;
        }
        redisAppendCommandArgv(st->rc, (int)m + 1, argv, lens);
    }
    for (size_t c = 0; c < chunks; c++) {
        redisReply *r = NULL;
        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK || r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (rc == 0) failed(st, r, "prefs");
            else if (r) freeReplyObject(r);
            rc = -1;
            if (st->rc->err) break;
            continue;
        }
        for (size_t i = 0; i < r->elements; i++) {
            notif_prefs_t *p = &prefs[c * MGET_CHUNK + i];
            notif_prefs_default(p);
            if (r->element[i]->type == REDIS_REPLY_STRING)
                (void)notif_prefs_parse_json(r->element[i]->str, r->element[i]->len, p); /* unreadable: defaults */
        }
        freeReplyObject(r);
    }
    sms_free(keys);
    sms_free(lens);
    sms_free(argv);
    return rc;
}

int notif_state_inbox_has(notif_state_t *st, sms_str_t user, const sms_str_t *ids, size_t n, bool *in_inbox,
                          bool *unread) {
    for (int which = 0; which < 2; which++) {
        const char **argv = sms_malloc((n + 2) * sizeof *argv);
        size_t *lens = sms_malloc((n + 2) * sizeof *lens);
        char key[200];
        int kl = snprintf(key, sizeof key, P "%s:%.*s", which ? "unreadz" : "inbox", (int)user.len, user.ptr);
        argv[0] = "ZMSCORE";
        lens[0] = 7;
        argv[1] = key;
        lens[1] = (size_t)kl;
        for (size_t i = 0; i < n; i++) {
            argv[i + 2] = ids[i].ptr;
            lens[i + 2] = ids[i].len;
        }
        redisReply *r = redisCommandArgv(st->rc, (int)n + 2, argv, lens);
        sms_free(lens);
        sms_free(argv);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n) return failed(st, r, "inbox lookup");
        for (size_t i = 0; i < n; i++) (which ? unread : in_inbox)[i] = r->element[i]->type != REDIS_REPLY_NIL;
        freeReplyObject(r);
    }
    return 0;
}

int notif_state_newest(notif_state_t *st, sms_str_t user, char newest[SMS_ID_SIZE], long long *unread) {
    redisAppendCommand(st->rc, "ZREVRANGEBYLEX " P "inbox:%b + - LIMIT 0 1", user.ptr, user.len);
    redisAppendCommand(st->rc, "ZCARD " P "unreadz:%b", user.ptr, user.len);
    redisReply *a = NULL, *b = NULL;
    if (redisGetReply(st->rc, (void **)&a) != REDIS_OK || a == NULL || a->type != REDIS_REPLY_ARRAY) {
        if (!st->rc->err && redisGetReply(st->rc, (void **)&b) == REDIS_OK && b) freeReplyObject(b);
        return failed(st, a, "newest");
    }
    if (redisGetReply(st->rc, (void **)&b) != REDIS_OK || b == NULL || b->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(a);
        return failed(st, b, "unread count");
    }
    newest[0] = '\0';
    if (a->elements == 1 && a->element[0]->type == REDIS_REPLY_STRING && a->element[0]->len == SMS_ID_LEN)
        memcpy(newest, a->element[0]->str, SMS_ID_SIZE);
    *unread = b->integer;
    freeReplyObject(a);
    freeReplyObject(b);
    return 0;
}
