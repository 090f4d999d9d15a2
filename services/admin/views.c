/* views.c - canonical checksums and drops of the services' Redis views (see views.h). */
#include "views.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"

/* The worker's bookkeeping keys (common/worker.h), the same for every service. */
static const char *const bookkeeping[] = {"offsets", "meta", NULL};

const admin_view_t admin_views[] = {
    {"classes", "sms:classes:", bookkeeping},
    {"assignments", "sms:assignments:", bookkeeping},
    {"grading", "sms:grading:", bookkeeping},
    {"notifications", "sms:notifications:", bookkeeping},
    {"identity", "sms:identity:", bookkeeping},
};
const size_t admin_n_views = sizeof admin_views / sizeof admin_views[0];

const admin_view_t *admin_view_find(const char *service) {
    for (size_t i = 0; i < admin_n_views; i++)
        if (strcmp(admin_views[i].service, service) == 0) return &admin_views[i];
    return NULL;
}

typedef struct keylist_s {
    char **keys;
    size_t n, cap;
} keylist_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_bookkeeping(const admin_view_t *v, const char *key) {
    const char *suffix = key + strlen(v->prefix);
    for (const char *const *b = v->bookkeeping; *b; b++)
        if (strcmp(suffix, *b) == 0) return true;
    return false;
}

/* Collects the view's keys, sorted. */
static int list_keys(redisContext *rc, const admin_view_t *v, keylist_t *out) {
    char cursor[32] = "0";
    memset(out, 0, sizeof *out);
    do {
        redisReply *r = redisCommand(rc, "SCAN %s MATCH %s* COUNT 1000", cursor, v->prefix);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->keys = sms_realloc(out->keys, out->cap * sizeof *out->keys);
            }
            out->keys[out->n++] = sms_strdup(r->element[1]->element[i]->str);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    qsort(out->keys, out->n, sizeof *out->keys, cmp_str);
    return 0;
}

static void keylist_free(keylist_t *l) {
    for (size_t i = 0; i < l->n; i++) sms_free(l->keys[i]);
    sms_free(l->keys);
}

/* Hashes a length-prefixed string so that concatenations cannot collide. */
static void feed(EVP_MD_CTX *md, const char *s, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    EVP_DigestUpdate(md, len, sizeof len);
    EVP_DigestUpdate(md, s, n);
}

typedef struct pair_s {
    redisReply *a, *b;
} pair_t;

static int cmp_pair(const void *x, const void *y) {
    const pair_t *p = x, *q = y;
    size_t n = p->a->len < q->a->len ? p->a->len : q->a->len;
    int c = memcmp(p->a->str, q->a->str, n);
    return c ? c : (p->a->len > q->a->len) - (p->a->len < q->a->len);
}

/* Feeds an array reply; pairs (hash) or singles (set) sorted, zsets as given (already ordered). */
static void feed_array(EVP_MD_CTX *md, redisReply *r, size_t stride, bool sort) {
    size_t n = r->elements / stride;
    pair_t *items = sms_calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i].a = r->element[i * stride];
        items[i].b = stride == 2 ? r->element[i * stride + 1] : NULL;
    }
    if (sort) qsort(items, n, sizeof *items, cmp_pair);
    for (size_t i = 0; i < n; i++) {
        feed(md, items[i].a->str, items[i].a->len);
        if (items[i].b) feed(md, items[i].b->str, items[i].b->len);
    }
    sms_free(items);
}

long admin_view_checksum(redisContext *rc, const admin_view_t *v, char hex[65]) {
    keylist_t keys;
    if (list_keys(rc, v, &keys) != 0) return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    long count = 0, rc_out = 0;
    for (size_t i = 0; i < keys.n && rc_out == 0; i++) {
        const char *key = keys.keys[i];
        if (is_bookkeeping(v, key)) continue;
        redisReply *t = redisCommand(rc, "TYPE %s", key);
        if (t == NULL || t->type != REDIS_REPLY_STATUS) {
            if (t) freeReplyObject(t);
            rc_out = -1;
            break;
        }
        redisReply *r = NULL;
        if (!strcmp(t->str, "string")) r = redisCommand(rc, "GET %s", key);
        else if (!strcmp(t->str, "hash")) r = redisCommand(rc, "HGETALL %s", key);
        else if (!strcmp(t->str, "set")) r = redisCommand(rc, "SMEMBERS %s", key);
        else if (!strcmp(t->str, "zset")) r = redisCommand(rc, "ZRANGE %s 0 -1 WITHSCORES", key);
        else if (!strcmp(t->str, "list")) r = redisCommand(rc, "LRANGE %s 0 -1", key);
        else if (!strcmp(t->str, "none")) { freeReplyObject(t); continue; } /* deleted meanwhile */
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "sms-admin: cannot read %s (%s)\n", key, t->str);
            rc_out = -1;
        } else {
            feed(md, key, strlen(key));
            feed(md, t->str, strlen(t->str));
            if (r->type == REDIS_REPLY_STRING) feed(md, r->str, r->len);
            else if (!strcmp(t->str, "hash")) feed_array(md, r, 2, true);
            else if (!strcmp(t->str, "set")) feed_array(md, r, 1, true);
            else feed_array(md, r, 1, false);
            count++;
        }
        if (r) freeReplyObject(r);
        freeReplyObject(t);
    }
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    keylist_free(&keys);
    return rc_out ? -1 : count;
}

int admin_view_drop(redisContext *rc, const admin_view_t *v) {
    keylist_t keys;
    if (list_keys(rc, v, &keys) != 0) return -1;
    char meta[128];
    snprintf(meta, sizeof meta, "%smeta", v->prefix);
    int rc_out = 0;
    /* Not built from the first deletion on: readers that trust the marker
     * (the delivery consumers' lookups, the reminder scan) must never see
     * built = 1 on a view half deleted. `rebuilding` keeps the service from
     * replaying while we delete; the UNLINK of meta below starts its replay. */
    redisReply *m = redisCommand(rc, "EVAL %s 1 %s", "redis.call('HSET', KEYS[1], 'rebuilding', 'sms-admin') "
                                                     "redis.call('HDEL', KEYS[1], 'built') return 1", meta);
    if (m == NULL || m->type != REDIS_REPLY_INTEGER) rc_out = -1;
    if (m) freeReplyObject(m);
    if (rc_out) {
        keylist_free(&keys);
        return -1;
    }
    for (size_t i = 0; i < keys.n; i++) {
        if (strcmp(keys.keys[i], meta) == 0) continue;
        redisReply *r = redisCommand(rc, "UNLINK %s", keys.keys[i]);
        if (r == NULL) rc_out = -1;
        else freeReplyObject(r);
    }
    /* The built marker goes last: the service starts its replay when it is
     * gone, and must not start while we are still deleting (we would delete
     * what it had already rebuilt). */
    redisReply *r = redisCommand(rc, "UNLINK %s", meta);
    if (r == NULL) rc_out = -1;
    else freeReplyObject(r);
    keylist_free(&keys);
    return rc_out;
}

int admin_view_built(redisContext *rc, const admin_view_t *v) {
    redisReply *r = redisCommand(rc, "HEXISTS %smeta built", v->prefix);
    int built = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (r) freeReplyObject(r);
    return built;
}

/* The error the rebuilding service last reported (meta rebuild_error), or "". */
static void rebuild_error(redisContext *rc, const admin_view_t *v, char *out, size_t cap) {
    out[0] = '\0';
    redisReply *r = redisCommand(rc, "HGET %smeta rebuild_error", v->prefix);
    if (r && r->type == REDIS_REPLY_STRING) snprintf(out, cap, "%s", r->str);
    if (r) freeReplyObject(r);
}

int admin_view_rebuild(redisContext *rc, const admin_view_t *v, long timeout_s) {
    fprintf(stderr, "%s: dropping the view\n", v->service);
    if (admin_view_drop(rc, v) != 0) return 1;
    uint64_t start = sms_mono_ms();
    char last[512] = "", now[512];
    for (;;) {
        int built = admin_view_built(rc, v);
        if (built < 0) return 1;
        if (built) break;
        rebuild_error(rc, v, now, sizeof now);
        if (now[0] && strcmp(now, last) != 0) { /* say why it is not finishing, once per new reason */
            fprintf(stderr, "\n%s: the rebuild failed and is being retried: %s\n", v->service, now);
            snprintf(last, sizeof last, "%s", now);
        }
        if (sms_mono_ms() - start > (uint64_t)timeout_s * 1000) {
            fprintf(stderr, "%s: not rebuilt after %ld s; %s\n", v->service, timeout_s,
                    last[0] ? last : "is the service running?");
            return 1;
        }
        fprintf(stderr, "\r%s: waiting for sms-%s to replay the log... %llus", v->service, v->service,
                (unsigned long long)((sms_mono_ms() - start) / 1000));
        usleep(200 * 1000);
    }
    fprintf(stderr, "\n%s: rebuilt in %llu ms\n", v->service, (unsigned long long)(sms_mono_ms() - start));
    return 0;
}
