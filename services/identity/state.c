/* state.c - the identity decider's batch state (see state.h): wants, two
 * pipelined reads of the view (keys from view.h), look-ups and overlay. */
#include "state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "redis.h"
#include "view.h"

char identity_absent, identity_revoked_mark;

void identity_state_init(identity_state_t *st, redisContext *rc) {
    memset(st, 0, sizeof *st);
    st->rc = rc;
    sms_strmap_init(&st->by_id);
    sms_strmap_init(&st->by_email);
    sms_strmap_init(&st->email_ids);
    sms_strmap_init(&st->fails);
    sms_strmap_init(&st->refresh);
    sms_strmap_init(&st->families);
    sms_strmap_init(&st->want_email);
    sms_strmap_init(&st->want_id);
    sms_strmap_init(&st->want_refresh);
    sms_strmap_init(&st->want_fails);
}

static void account_free(void *v) {
    identity_account_t *a = v;
    sms_free(a->id);
    sms_free(a->email);
    sms_free(a->name);
    sms_free(a->role);
    sms_free(a->student_id);
    sms_free(a->status);
    if (a->password_hash) {
        memset(a->password_hash, 0, strlen(a->password_hash)); /* do not leave hashes in freed memory */
        sms_free(a->password_hash);
    }
    sms_free(a);
}

static void refresh_free(void *v) {
    identity_refresh_t *r = v;
    sms_free(r->family);
    sms_free(r->user);
    sms_free(r);
}

void identity_state_close(identity_state_t *st) {
    sms_strmap_free_values(&st->by_id, account_free, &identity_absent);
    sms_strmap_free_values(&st->email_ids, sms_free, NULL);
    sms_strmap_free_values(&st->refresh, refresh_free, &identity_absent);
    sms_strmap_t *maps[] = {&st->by_id,   &st->by_email,  &st->email_ids, &st->fails,       &st->refresh,
                            &st->families, &st->want_email, &st->want_id, &st->want_refresh, &st->want_fails};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) sms_strmap_close(maps[i]);
}

void *identity_state_new(redisContext *rc) {
    identity_state_t *st = sms_malloc(sizeof *st);
    identity_state_init(st, rc);
    return st;
}

void identity_state_free(void *state) {
    identity_state_close(state);
    sms_free(state);
}

static void want(sms_strmap_t *m, sms_str_t k) {
    if (k.len > 0 && k.len <= 512 && !sms_strmap_get(m, k.ptr, k.len)) sms_strmap_put(m, k.ptr, k.len, &identity_absent);
}

void identity_state_want_email(identity_state_t *st, sms_str_t email) { want(&st->want_email, email); }
void identity_state_want_id(identity_state_t *st, sms_str_t id) { want(&st->want_id, id); }
void identity_state_want_refresh(identity_state_t *st, sms_str_t hash) { want(&st->want_refresh, hash); }
void identity_state_want_fails(identity_state_t *st, sms_str_t key) { want(&st->want_fails, key); }

size_t identity_throttle_key(sms_str_t key, char *out, size_t cap) {
    int n = key.len > 3 && memcmp(key.ptr, "ip ", 3) == 0
                ? snprintf(out, cap, IDENTITY_THROTTLE_IP "%.*s", (int)key.len - 3, key.ptr + 3)
                : snprintf(out, cap, IDENTITY_THROTTLE_ACCOUNT "%.*s", (int)key.len, key.ptr);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The keys of a want map, in slot order (borrowed from the map). */
static size_t keys_of(const sms_strmap_t *m, sms_str_t *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < m->cap && n < cap; i++) {
        const sms_strmap_entry_t *e = &m->slots[i];
        if (e->key && e->value) out[n++] = (sms_str_t){e->key, e->klen};
    }
    return n;
}

static char *dup_field(const redisReply *h, const char *field) {
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, field) == 0 &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return sms_strndup(h->element[i + 1]->str, h->element[i + 1]->len);
    return sms_strdup("");
}

/* u:<id>'s HGETALL reply into the state (absent when empty). */
static void put_account_reply(identity_state_t *st, sms_str_t id, const redisReply *h) {
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        if (!sms_strmap_get(&st->by_id, id.ptr, id.len)) sms_strmap_put(&st->by_id, id.ptr, id.len, &identity_absent);
        return;
    }
    identity_account_t *a = sms_calloc(1, sizeof *a);
    a->id = sms_strndup(id.ptr, id.len);
    a->email = dup_field(h, IDENTITY_FIELD_EMAIL);
    a->name = dup_field(h, IDENTITY_FIELD_NAME);
    a->role = dup_field(h, IDENTITY_FIELD_ROLE);
    a->student_id = dup_field(h, IDENTITY_FIELD_STUDENT_ID);
    a->status = dup_field(h, IDENTITY_FIELD_STATUS);
    a->password_hash = dup_field(h, IDENTITY_FIELD_PASSWORD);
    char *created = dup_field(h, IDENTITY_FIELD_CREATED_AT);
    a->created_at = strtoll(created, NULL, 10);
    sms_free(created);
    void *prev = sms_strmap_put(&st->by_id, id.ptr, id.len, a);
    if (prev && prev != &identity_absent) account_free(prev);
    sms_strmap_put(&st->by_email, a->email, strlen(a->email), a);
}

#define WANT_MAX 1024 /* per kind and batch: a batch holds at most 256 commands */

int identity_state_fetch(void *state) {
    identity_state_t *st = state;
    if (st->rc == NULL) return 0;
    static sms_str_t emails[WANT_MAX], ids[WANT_MAX], hashes[WANT_MAX], more[2 * WANT_MAX], fkeys[WANT_MAX];
    size_t ne = keys_of(&st->want_email, emails, WANT_MAX), ni = keys_of(&st->want_id, ids, WANT_MAX);
    size_t nh = keys_of(&st->want_refresh, hashes, WANT_MAX), nfk = keys_of(&st->want_fails, fkeys, WANT_MAX);
    /* 1: email -> id and failure counts; refresh records; accounts by id. */
    for (size_t i = 0; i < ne; i++) {
        redisAppendCommand(st->rc, "GET " IDENTITY_KEY_EMAIL "%b", emails[i].ptr, emails[i].len);
        redisAppendCommand(st->rc, "GET " IDENTITY_THROTTLE_ACCOUNT "%b", emails[i].ptr, emails[i].len);
    }
    for (size_t i = 0; i < nh; i++)
        redisAppendCommand(st->rc, "HGETALL " IDENTITY_KEY_REFRESH "%b", hashes[i].ptr, hashes[i].len);
    for (size_t i = 0; i < ni; i++) redisAppendCommand(st->rc, "HGETALL " IDENTITY_KEY_USER "%b", ids[i].ptr, ids[i].len);
    for (size_t i = 0; i < nfk; i++) {
        char tk[512];
        size_t tn = identity_throttle_key(fkeys[i], tk, sizeof tk);
        redisAppendCommand(st->rc, "GET %b", tk, tn);
    }
    size_t n1 = 2 * ne + nh + ni + nfk;
    redisReply **r = sms_calloc(n1 ? n1 : 1, sizeof *r);
    if (sms_redis_get_replies(st->rc, r, n1) != 0) {
        sms_free(r);
        return -1;
    }
    size_t nm = 0, k = 0;
    for (size_t i = 0; i < ne; i++, k += 2) {
        if (r[k]->type == REDIS_REPLY_STRING) {
            char *id = sms_strndup(r[k]->str, r[k]->len);
            sms_strmap_put(&st->email_ids, emails[i].ptr, emails[i].len, id);
            more[nm++] = (sms_str_t){id, r[k]->len};
        } else {
            sms_strmap_put(&st->by_email, emails[i].ptr, emails[i].len, &identity_absent);
        }
        int64_t fails = r[k + 1]->type == REDIS_REPLY_STRING ? strtoll(r[k + 1]->str, NULL, 10) : 0;
        sms_strmap_put(&st->fails, emails[i].ptr, emails[i].len, (void *)(intptr_t)(fails + 1)); /* +1: not NULL */
    }
    sms_str_t fam_of[WANT_MAX];
    size_t nf = 0;
    for (size_t i = 0; i < nh; i++, k++) {
        const redisReply *h = r[k];
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            sms_strmap_put(&st->refresh, hashes[i].ptr, hashes[i].len, &identity_absent);
            continue;
        }
        identity_refresh_t *rt = sms_calloc(1, sizeof *rt);
        rt->family = dup_field(h, IDENTITY_FIELD_FAMILY);
        rt->user = dup_field(h, IDENTITY_FIELD_USER);
        char *exp = dup_field(h, IDENTITY_FIELD_EXPIRES_AT), *used = dup_field(h, IDENTITY_FIELD_USED);
        rt->expires_at = strtoll(exp, NULL, 10);
        rt->used = strcmp(used, "1") == 0;
        sms_free(exp);
        sms_free(used);
        sms_strmap_put(&st->refresh, hashes[i].ptr, hashes[i].len, rt);
        fam_of[nf++] = (sms_str_t){rt->family, strlen(rt->family)};
        more[nm++] = (sms_str_t){rt->user, strlen(rt->user)};
    }
    for (size_t i = 0; i < ni; i++, k++) put_account_reply(st, ids[i], r[k]);
    for (size_t i = 0; i < nfk; i++, k++) {
        int64_t fails = r[k]->type == REDIS_REPLY_STRING ? strtoll(r[k]->str, NULL, 10) : 0;
        sms_strmap_put(&st->fails, fkeys[i].ptr, fkeys[i].len, (void *)(intptr_t)(fails + 1));
    }
    int rc = sms_redis_free_replies(r, n1);
    sms_free(r);
    if (rc != 0) return -1;
    /* 2: the accounts those emails and tokens name; the tokens' families. */
    for (size_t i = 0; i < nm; i++) redisAppendCommand(st->rc, "HGETALL " IDENTITY_KEY_USER "%b", more[i].ptr, more[i].len);
    for (size_t i = 0; i < nf; i++)
        redisAppendCommand(st->rc, "HGET " IDENTITY_KEY_FAMILY "%b " IDENTITY_FIELD_STATUS, fam_of[i].ptr, fam_of[i].len);
    size_t n2 = nm + nf;
    r = sms_calloc(n2 ? n2 : 1, sizeof *r);
    if (sms_redis_get_replies(st->rc, r, n2) != 0) {
        sms_free(r);
        return -1;
    }
    for (size_t i = 0; i < nm; i++) put_account_reply(st, more[i], r[i]);
    for (size_t i = 0; i < nf; i++) {
        bool revoked = r[nm + i]->type == REDIS_REPLY_STRING && strcmp(r[nm + i]->str, "revoked") == 0;
        sms_strmap_put(&st->families, fam_of[i].ptr, fam_of[i].len, revoked ? &identity_revoked_mark : &identity_absent);
    }
    rc = sms_redis_free_replies(r, n2);
    sms_free(r);
    /* An email the view maps to an id whose account is missing stays absent. */
    for (size_t i = 0; i < ne; i++)
        if (!sms_strmap_get(&st->by_email, emails[i].ptr, emails[i].len))
            sms_strmap_put(&st->by_email, emails[i].ptr, emails[i].len, &identity_absent);
    return rc;
}

identity_account_t *identity_state_by_email(identity_state_t *st, sms_str_t email) {
    void *v = sms_strmap_get(&st->by_email, email.ptr, email.len);
    return v == &identity_absent ? NULL : v;
}

identity_account_t *identity_state_by_id(identity_state_t *st, sms_str_t id) {
    void *v = sms_strmap_get(&st->by_id, id.ptr, id.len);
    return v == &identity_absent ? NULL : v;
}

identity_refresh_t *identity_state_refresh(identity_state_t *st, sms_str_t hash) {
    void *v = sms_strmap_get(&st->refresh, hash.ptr, hash.len);
    return v == &identity_absent ? NULL : v;
}

int64_t identity_state_fails(identity_state_t *st, sms_str_t email) {
    intptr_t v = (intptr_t)sms_strmap_get(&st->fails, email.ptr, email.len);
    return v > 0 ? (int64_t)v - 1 : 0;
}

bool identity_state_family_revoked(identity_state_t *st, sms_str_t family) {
    return sms_strmap_get(&st->families, family.ptr, family.len) == &identity_revoked_mark;
}

identity_account_t *identity_state_put_account(identity_state_t *st, const identity_account_t *src) {
    identity_account_t *a = sms_calloc(1, sizeof *a);
    a->id = sms_strdup(src->id);
    a->email = sms_strdup(src->email);
    a->name = sms_strdup(src->name);
    a->role = sms_strdup(src->role);
    a->student_id = sms_strdup(src->student_id ? src->student_id : "");
    a->status = sms_strdup(src->status ? src->status : "active");
    a->password_hash = sms_strdup(src->password_hash ? src->password_hash : "");
    a->created_at = src->created_at;
    void *prev = sms_strmap_put(&st->by_id, a->id, strlen(a->id), a);
    if (prev && prev != &identity_absent) account_free(prev);
    sms_strmap_put(&st->by_email, a->email, strlen(a->email), a);
    return a;
}

void identity_state_set_password(identity_account_t *a, const char *hash) {
    sms_free(a->password_hash);
    a->password_hash = sms_strdup(hash);
}

void identity_state_deactivate(identity_state_t *st, identity_account_t *a) {
    sms_free(a->status);
    a->status = sms_strdup("deactivated");
    /* Every family of the user is revoked by the projection; the batch's
     * later refreshes check the account's status too. */
    (void)st;
}

void identity_state_put_refresh(identity_state_t *st, sms_str_t hash, sms_str_t family, sms_str_t user,
                                int64_t expires_at) {
    identity_refresh_t *rt = sms_calloc(1, sizeof *rt);
    rt->family = sms_strndup(family.ptr, family.len);
    rt->user = sms_strndup(user.ptr, user.len);
    rt->expires_at = expires_at;
    void *prev = sms_strmap_put(&st->refresh, hash.ptr, hash.len, rt);
    if (prev && prev != &identity_absent) refresh_free(prev);
}

void identity_state_revoke_family(identity_state_t *st, sms_str_t family) {
    sms_strmap_put(&st->families, family.ptr, family.len, &identity_revoked_mark);
}

void identity_state_set_fails(identity_state_t *st, sms_str_t email, int64_t n) {
    sms_strmap_put(&st->fails, email.ptr, email.len, (void *)(intptr_t)(n + 1));
}
