/* auth.c - bearer-token checks and the verified-token cache (see auth.h).
 * Called by conn.c per request on AUTH routes; calls sms_token_verify. */
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "alloc.h"
#include "log.h"
#include "router.h"

/* RFC 6750 3 and openapi.yaml: no error parameter when no token was sent. */
static const char www_none[] = "WWW-Authenticate: Bearer\r\n";
static const char www_invalid[] = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";

typedef struct slot_s {
    uint16_t len; /* 0: empty */
    char token[GW_AUTH_CACHE_TOKEN_MAX];
    sms_token_claims_t claims;
} slot_t;

struct gw_auth_cache_s {
    uint64_t seed; /* random: which slot a token lands in is not up to the client */
    sms_token_keys_t *keys; /* ES256 public keys, or NULL */
    char keys_dir[256];
    uint64_t keys_checked_ms; /* the last reload attempt (mono) */
    slot_t slots[GW_AUTH_CACHE_SLOTS];
};

gw_auth_cache_t *gw_auth_cache_new(void) {
    gw_auth_cache_t *c = sms_calloc(1, sizeof *c);
    if (uv_random(NULL, NULL, &c->seed, sizeof c->seed, 0, NULL) != 0)
        c->seed = (uint64_t)(uintptr_t)c ^ uv_hrtime(); /* only spreads slots; secrecy is not needed */
    return c;
}

void gw_auth_cache_free(gw_auth_cache_t *cache) {
    if (cache) sms_token_keys_free(cache->keys);
    sms_free(cache);
}

int gw_auth_cache_set_keys_dir(gw_auth_cache_t *cache, const char *dir, char *err, size_t errlen) {
    if (dir == NULL || dir[0] == '\0') return 0;
    if (dir != cache->keys_dir) snprintf(cache->keys_dir, sizeof cache->keys_dir, "%s", dir); /* a reload passes its own */
    sms_token_keys_t *k = NULL;
    if (sms_token_keys_load(dir, false, &k, err, errlen) != 0) return -1;
    sms_token_keys_free(cache->keys);
    cache->keys = k;
    return 0;
}

/* After a failed ES256 check: reloads the keys when their directory changed
 * (a rotation added a kid), at most once a second. Whether it reloaded. */
static bool reload_keys(gw_auth_cache_t *cache) {
    if (cache == NULL || cache->keys_dir[0] == '\0') return false;
    uint64_t now = uv_hrtime() / 1000000;
    if (now - cache->keys_checked_ms < 1000 || !sms_token_keys_stale(cache->keys, cache->keys_dir)) return false;
    cache->keys_checked_ms = now;
    char err[256];
    if (gw_auth_cache_set_keys_dir(cache, cache->keys_dir, err, sizeof err) != 0) {
        sms_log(SMS_LOG_WARN, "jwt_keys_reload_failed", "%s", err);
        return false;
    }
    sms_log(SMS_LOG_INFO, "jwt_keys_reloaded", "%zu keys", sms_token_keys_count(cache->keys));
    return true;
}

static slot_t *slot_for(gw_auth_cache_t *cache, const char *token, size_t len) {
    uint64_t h = cache->seed ^ 0xcbf29ce484222325ull; /* FNV-1a, seeded */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)token[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    return &cache->slots[h % GW_AUTH_CACHE_SLOTS];
}

static gw_auth_issuer_t issuer; /* verify NULL: none (gw_auth_set_issuer) */

void gw_auth_set_issuer(const gw_auth_issuer_t *other) {
    if (other) issuer = *other;
    else memset(&issuer, 0, sizeof issuer);
}

/* Verifies token, through the cache when there is one; *detail is set when
 * the other issuer refused it. */
static int verify(gw_auth_cache_t *cache, const char *token, size_t len, const char *secret,
                               int64_t now_s, sms_token_claims_t *claims, const char **detail) {
    slot_t *slot = NULL;
    if (cache && len <= GW_AUTH_CACHE_TOKEN_MAX) {
        slot = slot_for(cache, token, len);
        /* Constant time: how long a comparison takes must not tell a client
         * how much of someone else's cached token it guessed. */
        if (slot->len == len && CRYPTO_memcmp(slot->token, token, len) == 0) {
            if (slot->claims.exp <= now_s) {
                slot->len = 0;
                return SMS_EEXPIRED;
            }
            *claims = slot->claims;
            return SMS_OK;
        }
    }
    if (issuer.verify) { /* a cache miss only: our own cached tokens never pay for this */
        int r = issuer.verify(issuer.data, token, len, now_s, claims, detail);
        if (r != GW_AUTH_NOT_MINE) return r;
        *detail = NULL;
    }
    const sms_token_keys_t *keys = cache ? cache->keys : NULL;
    int r = keys ? sms_token_verify_any(token, len, secret, keys, now_s, claims)
                 : sms_token_verify(token, len, secret, now_s, claims);
    if (r == SMS_EBADSIG && keys && reload_keys(cache))
        r = sms_token_verify_any(token, len, secret, cache->keys, now_s, claims);
    if (r == SMS_OK && slot) { /* only tokens that verified are ever stored */
        memcpy(slot->token, token, len);
        slot->len = (uint16_t)len;
        slot->claims = *claims;
    }
    return r;
}

unsigned gw_auth_role_bit(const char *role) {
    if (strcmp(role, "lecturer") == 0) return GW_ROLE_LECTURER;
    if (strcmp(role, "student") == 0) return GW_ROLE_STUDENT;
    if (strcmp(role, "admin") == 0) return GW_ROLE_ADMIN;
    return 0;
}

static int unauthorized(gw_auth_failure_t *fail, const char *detail, const char *www) {
    fail->status = 401;
    fail->code = "unauthorized";
    fail->detail = detail;
    fail->www_authenticate = www;
    return -1;
}

static void describe_roles(unsigned roles, char *out, size_t cap) {
    static const char *const names[] = {"lecturer", "student", "admin"};
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!(roles & (1u << i))) continue;
        int n = snprintf(out + off, cap - off, "%s%s", off ? " or " : "", names[i]);
        if (n < 0 || (size_t)n >= cap - off) break;
        off += (size_t)n;
    }
}

/* The 401's reason: error.h's sentence, said of a token. */
static const char *token_reason(int r) {
    switch (r) {
    case SMS_EPARSE: return "malformed token";
    case SMS_EEXPIRED: return "token expired";
    default: return sms_strerror(r);
    }
}

int gw_auth_check(gw_auth_cache_t *cache, const char *authorization, const char *secret, int64_t now_s,
                  unsigned roles, sms_token_claims_t *claims, gw_auth_failure_t *fail) {
    if (authorization == NULL || authorization[0] == '\0') return unauthorized(fail, "missing token", www_none);
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return unauthorized(fail, "missing token: the Authorization scheme must be Bearer", www_none);
    const char *token = authorization + 7;
    while (*token == ' ') token++;
    size_t len = strlen(token);
    if (len == 0) return unauthorized(fail, "missing token", www_none);
    const char *detail = NULL;
    int r = verify(cache, token, len, secret, now_s, claims, &detail);
    if (r != SMS_OK) return unauthorized(fail, detail ? detail : token_reason(r), www_invalid);
    if ((gw_auth_role_bit(claims->role) & roles) == 0) {
        char allowed[40];
        describe_roles(roles, allowed, sizeof allowed);
        snprintf(fail->detail_buf, sizeof fail->detail_buf, "This route needs role %s.", allowed);
        fail->status = 403;
        fail->code = "forbidden";
        fail->detail = fail->detail_buf;
        fail->www_authenticate = NULL;
        return -1;
    }
    return 0;
}
