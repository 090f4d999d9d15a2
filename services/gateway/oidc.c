/* oidc.c - tokens of the school's OpenID Connect provider (see oidc.h): the
 * checks, the verified-token cache and the key set's hand-over to the loop.
 *
 * auth.c calls gw_oidc_verify on the loop for each token its own cache does
 * not know; main.c creates and closes the verifier. Keys come from
 * oidc_fetch.c's thread; signatures are checked with common/jwk.h. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "http/auth.h"
#include "log.h"
#include "oidc_internal.h"

#define SIG_MAX 1024 /* bytes of a decoded signature: an 8192-bit RSA one */

static const char *const sms_roles[] = {"lecturer", "student", "admin"};

/* ---- settings ------------------------------------------------------------- */

static int copy_setting(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* https://, or http:// to this machine only (a provider in tests, Keycloak's
 * dev mode): keys fetched in the clear from anywhere else could be anyone's. */
static int issuer_url_ok(const char *iss) {
    if (strncmp(iss, "https://", 8) == 0) return iss[8] != '\0' && iss[8] != '/';
    static const char *const local[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        size_t n = strlen(local[i]);
        if (strncmp(iss, local[i], n) == 0 && (iss[n] == '\0' || iss[n] == ':' || iss[n] == '/')) return 1;
    }
    return 0;
}

static void trim(const char **s, const char **e) {
    while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
}

/* "value=role,value=role"; empty: each of our role names maps to itself. */
static int parse_role_map(gw_oidc_t *o, const char *map, char *err, size_t errlen) {
    o->n_roles = 0;
    if (map[0] == '\0') {
        for (size_t i = 0; i < 3; i++) {
            memcpy(o->roles[i].value, sms_roles[i], strlen(sms_roles[i]) + 1);
            memcpy(o->roles[i].role, sms_roles[i], strlen(sms_roles[i]) + 1);
        }
        o->n_roles = 3;
        return 0;
    }
    const char *p = map;
    while (*p) {
        const char *end = strchr(p, ',');
        if (end == NULL) end = p + strlen(p);
        const char *eq = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == '=') eq = q; /* the last '=': a value may contain one, a role never does */
        const char *vs = p, *ve = eq ? eq : end, *rs = eq ? eq + 1 : end, *re = end;
        trim(&vs, &ve);
        trim(&rs, &re);
        size_t vn = (size_t)(ve - vs), rn = (size_t)(re - rs);
        int known = 0;
        for (size_t i = 0; i < 3; i++) known |= rn == strlen(sms_roles[i]) && strncmp(rs, sms_roles[i], rn) == 0;
        if (eq == NULL || vn == 0 || vn >= sizeof o->roles[0].value || !known) {
            snprintf(err, errlen, "SMS_OIDC_ROLE_MAP: '%.*s' is not value=lecturer|student|admin", (int)(end - p), p);
            return -1;
        }
        if (o->n_roles == GW_OIDC_ROLE_MAP_MAX) {
            snprintf(err, errlen, "SMS_OIDC_ROLE_MAP: more than %d entries", GW_OIDC_ROLE_MAP_MAX);
            return -1;
        }
        gw_oidc_role_t *r = &o->roles[o->n_roles++];
        memcpy(r->value, vs, vn);
        r->value[vn] = '\0';
        memcpy(r->role, rs, rn);
        r->role[rn] = '\0';
        p = *end ? end + 1 : end;
    }
    if (o->n_roles == 0) {
        snprintf(err, errlen, "SMS_OIDC_ROLE_MAP: no entries");
        return -1;
    }
    return 0;
}

static int load_settings(gw_oidc_t *o, const sms_config_t *cfg, char *err, size_t errlen) {
    if (!issuer_url_ok(cfg->oidc_issuer)) {
        snprintf(err, errlen, "SMS_OIDC_ISSUER: '%s' is not an https:// URL (http:// only to 127.0.0.1, localhost, [::1])",
                 cfg->oidc_issuer);
        return -1;
    }
    if (cfg->oidc_audience[0] == '\0') {
        snprintf(err, errlen, "SMS_OIDC_AUDIENCE: required with SMS_OIDC_ISSUER (the client id tokens must name in aud)");
        return -1;
    }
    if (cfg->oidc_subject_claim[0] == '\0' || cfg->oidc_role_claim[0] == '\0') {
        snprintf(err, errlen, "SMS_OIDC_SUBJECT_CLAIM and SMS_OIDC_ROLE_CLAIM must not be empty");
        return -1;
    }
    /* Every source fits: the config's fields are no larger than ours. */
    (void)copy_setting(o->issuer, sizeof o->issuer, cfg->oidc_issuer);
    (void)copy_setting(o->audience, sizeof o->audience, cfg->oidc_audience);
    (void)copy_setting(o->subject_claim, sizeof o->subject_claim, cfg->oidc_subject_claim);
    (void)copy_setting(o->role_claim, sizeof o->role_claim, cfg->oidc_role_claim);
    size_t n = strlen(o->issuer);
    while (n > 0 && o->issuer[n - 1] == '/') n--; /* "<issuer>/.well-known/..." with one slash */
    snprintf(o->discovery_url, sizeof o->discovery_url, "%.*s/.well-known/openid-configuration", (int)n, o->issuer);
    o->max_token_bytes = cfg->oidc_max_token_bytes;
    o->skew_s = cfg->oidc_clock_skew_s;
    o->refresh_min_s = cfg->oidc_refresh_min_s;
    o->ttl_s = cfg->oidc_jwks_ttl_s;
    o->http_timeout_ms = cfg->oidc_http_timeout_ms;
    return parse_role_map(o, cfg->oidc_role_map, err, errlen);
}

/* ---- the key set, from the fetch thread ---------------------------------- */

static void on_keys_ready(uv_async_t *h) {
    gw_oidc_t *o = h->data;
    pthread_mutex_lock(&o->mu);
    sms_jwks_t *set = o->pending;
    o->pending = NULL;
    pthread_mutex_unlock(&o->mu);
    if (set == NULL) return;
    sms_jwks_free(o->keys);
    o->keys = set;
    /* A key may have been withdrawn: tokens it signed must be checked again. */
    memset(o->cache, 0, sizeof o->cache);
}

static void on_closed(uv_handle_t *h) {
    gw_oidc_t *o = h->data;
    gw_oidc_fetch_destroy(o);
    sms_jwks_free(o->keys);
    sms_jwks_free(o->pending);
    sms_free(o);
}

int gw_oidc_new(uv_loop_t *loop, const sms_config_t *cfg, gw_oidc_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (cfg->oidc_issuer[0] == '\0') return 0;
    gw_oidc_t *o = sms_calloc(1, sizeof *o);
    if (load_settings(o, cfg, err, errlen) != 0) {
        sms_free(o);
        return -1;
    }
    /* Before any thread: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        sms_free(o);
        return -1;
    }
    o->loop = loop;
    int rc = uv_async_init(loop, &o->keys_ready, on_keys_ready);
    if (rc != 0) {
        snprintf(err, errlen, "uv_async_init: %s", uv_strerror(rc));
        sms_free(o);
        return -1;
    }
    o->keys_ready.data = o;
    if ((rc = gw_oidc_fetch_start(o)) != 0) {
        snprintf(err, errlen, "starting the OIDC fetch thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&o->keys_ready, on_closed);
        return -1;
    }
    sms_log(SMS_LOG_INFO, "oidc_enabled", "issuer %s, audience %s, subject claim %s, role claim %s (%zu mapped values)",
            o->issuer, o->audience, o->subject_claim, o->role_claim, o->n_roles);
    *out = o;
    return 0;
}

void gw_oidc_close(gw_oidc_t *o) {
    if (o == NULL) return;
    gw_oidc_fetch_stop(o);
    uv_close((uv_handle_t *)&o->keys_ready, on_closed);
}

size_t gw_oidc_key_count(const gw_oidc_t *o) { return o ? sms_jwks_count(o->keys) : 0; }

/* ---- a token's parts ------------------------------------------------------- */

typedef struct parts_s {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
} parts_t;

/* Splits a compact JWS into its three parts; the signature may be empty (an
 * unsecured "alg": "none" token, refused by its header with a clear reason). */
static int split(const char *t, size_t len, parts_t *p) {
    const char *d1 = memchr(t, '.', len);
    if (d1 == NULL) return -1;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) != NULL) return -1;
    p->header = t;
    p->header_len = (size_t)(d1 - t);
    p->payload = d1 + 1;
    p->payload_len = (size_t)(d2 - d1 - 1);
    p->sig = d2 + 1;
    p->sig_len = len - (size_t)(d2 + 1 - t);
    return p->header_len && p->payload_len ? 0 : -1;
}

/* A base64url JSON object, or NULL (bad base64url, an embedded NUL, not an object). */
static cJSON *decode_object(const char *part, size_t n) {
    size_t cap = n / 4 * 3 + 3;
    unsigned char *text = sms_malloc(cap);
    cJSON *json = NULL;
    long len = sms_b64url_decode(part, n, text, cap);
    if (len > 0 && memchr(text, '\0', (size_t)len) == NULL) {
        json = cJSON_ParseWithLength((const char *)text, (size_t)len);
        if (json && !cJSON_IsObject(json)) {
            cJSON_Delete(json);
            json = NULL;
        }
    }
    sms_free(text);
    return json;
}

/* The signature over "header.payload" with the set's key for kid and alg. */
static int check_signature(const sms_jwk_t *key, sms_jws_alg_t alg, const parts_t *p) {
    unsigned char sig[SIG_MAX];
    long n = sms_b64url_decode(p->sig, p->sig_len, sig, sizeof sig);
    if (n <= 0) return SMS_EBADSIG;
    return sms_jws_verify(key, alg, p->header, p->header_len + 1 + p->payload_len, sig, (size_t)n);
}

/* ---- claims ----------------------------------------------------------------- */

/* The claim named name: a top-level member of that exact name (claim names
 * may contain dots: "https://example.edu/roles"), else the dotted path walked
 * through nested objects (realm_access.roles). */
static const cJSON *find_claim(const cJSON *payload, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, name);
    if (v || strchr(name, '.') == NULL) return v;
    const cJSON *at = payload;
    const char *p = name;
    char part[128];
    while (at && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof part || !cJSON_IsObject(at)) return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        at = cJSON_GetObjectItemCaseSensitive(at, part);
        p = dot ? dot + 1 : p + n;
    }
    return at;
}

static int has_value(const cJSON *claim, const char *value) {
    if (cJSON_IsString(claim)) return strcmp(claim->valuestring, value) == 0;
    const cJSON *it;
    if (cJSON_IsArray(claim))
        cJSON_ArrayForEach(it, claim) if (cJSON_IsString(it) && strcmp(it->valuestring, value) == 0) return 1;
    return 0;
}

/* Our role for the role claim: the first entry of the map among its values. */
static const char *mapped_role(const gw_oidc_t *o, const cJSON *claim) {
    for (size_t i = 0; i < o->n_roles; i++)
        if (has_value(claim, o->roles[i].value)) return o->roles[i].role;
    return NULL;
}

/* A subject we can use as a user id: 1..127 bytes, no control characters. */
static int subject_ok(const cJSON *v, size_t cap) {
    if (!cJSON_IsString(v)) return 0;
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= cap) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f) return 0;
    return 1;
}

static int refuse(const char **detail, const char *why, int code) {
    *detail = why;
    return code;
}

/* exp, nbf, aud, the subject and the role, into *claims. */
static int check_claims(gw_oidc_t *o, const cJSON *payload, int64_t now_s, sms_token_claims_t *claims,
                        const char **detail) {
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(payload, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(payload, "nbf");
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(payload, "aud");
    if (!cJSON_IsNumber(exp) || !isfinite(exp->valuedouble) || exp->valuedouble <= 0 || exp->valuedouble > 1e13)
        return refuse(detail, "token has no usable expiry (exp)", SMS_EBADCLAIMS);
    int64_t exp_s = (int64_t)exp->valuedouble;
    if (exp_s + o->skew_s <= now_s) return refuse(detail, "token expired", SMS_EEXPIRED);
    if (nbf != NULL) {
        if (!cJSON_IsNumber(nbf) || !isfinite(nbf->valuedouble))
            return refuse(detail, "token's not-before (nbf) is not a number", SMS_EBADCLAIMS);
        if ((int64_t)nbf->valuedouble - o->skew_s > now_s)
            return refuse(detail, "token not valid yet: its not-before time (nbf) is in the future", SMS_EBADCLAIMS);
    }
    if (!has_value(aud, o->audience)) {
        snprintf(o->detail, sizeof o->detail, "wrong audience: the token's aud does not include %.120s", o->audience);
        return refuse(detail, o->detail, SMS_EBADCLAIMS);
    }
    const cJSON *sub = find_claim(payload, o->subject_claim);
    if (!subject_ok(sub, sizeof claims->sub)) {
        snprintf(o->detail, sizeof o->detail, "token has no usable subject claim %.60s (a string of 1 to %zu characters)",
                 o->subject_claim, sizeof claims->sub - 1);
        return refuse(detail, o->detail, SMS_EBADCLAIMS);
    }
    const cJSON *role_claim = find_claim(payload, o->role_claim);
    if (role_claim == NULL) {
        snprintf(o->detail, sizeof o->detail, "token has no role claim %.100s", o->role_claim);
        return refuse(detail, o->detail, SMS_EBADCLAIMS);
    }
    const char *role = mapped_role(o, role_claim);
    if (role == NULL) {
        snprintf(o->detail, sizeof o->detail, "no role: none of the token's %.100s values is mapped by SMS_OIDC_ROLE_MAP",
                 o->role_claim);
        return refuse(detail, o->detail, SMS_EBADCLAIMS);
    }
    memcpy(claims->sub, sub->valuestring, strlen(sub->valuestring) + 1);
    memcpy(claims->role, role, strlen(role) + 1);
    claims->exp = exp_s + o->skew_s;
    return SMS_OK;
}

/* ---- the verifier ----------------------------------------------------------- */

/* An unknown kid: the provider may have rotated its keys. Rate-limited, so a
 * stream of forged kids costs one fetch every refresh_min_s at most. */
static void ask_refresh(gw_oidc_t *o) {
    uint64_t now = sms_mono_ms();
    if (o->last_refresh_ask_ms != 0 && now - o->last_refresh_ask_ms < (uint64_t)o->refresh_min_s * 1000u) return;
    o->last_refresh_ask_ms = now;
    gw_oidc_fetch_wake(o);
}

static gw_oidc_slot_t *slot_for(gw_oidc_t *o, const unsigned char hash[32]) {
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return &o->cache[h % GW_OIDC_CACHE_SLOTS];
}

/* The header's checks and the key. Returns SMS_OK and *key, *alg. */
static int check_header(gw_oidc_t *o, const cJSON *hdr, const sms_jwk_t **key, sms_jws_alg_t *alg,
                        const char **detail) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    if (!cJSON_IsString(a)) return refuse(detail, "malformed token: its header has no alg", SMS_EPARSE);
    *alg = sms_jws_alg_from_name(a->valuestring);
    if (*alg == 0) {
        if (strcmp(a->valuestring, "none") == 0)
            return refuse(detail, "unsigned token (alg none) refused: the identity provider's tokens must be RS256 or ES256",
                          SMS_EBADALG);
        if (a->valuestring[0] == 'H' && a->valuestring[1] == 'S')
            return refuse(detail, "algorithm confusion refused: HMAC (HS*) is never accepted for the identity "
                                  "provider's tokens, only RS256 or ES256", SMS_EBADALG);
        return refuse(detail, "token algorithm not accepted: the identity provider's tokens must be RS256 or ES256",
                      SMS_EBADALG);
    }
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit") != NULL)
        return refuse(detail, "token header has critical extensions (crit), which are not supported", SMS_EPARSE);
    if (!cJSON_IsString(kid) || kid->valuestring[0] == '\0')
        return refuse(detail, "token header has no key id (kid)", SMS_EBADSIG);
    if (o->keys == NULL) {
        ask_refresh(o);
        return refuse(detail, "the identity provider's signing keys are not loaded yet; retry in a few seconds",
                      SMS_EBADSIG);
    }
    int alg_ok = 0;
    *key = sms_jwks_find(o->keys, kid->valuestring, *alg, &alg_ok);
    if (*key == NULL) {
        ask_refresh(o);
        return refuse(detail, "unknown signing key (kid): not in the identity provider's key set; the gateway "
                              "refreshes it, retry in a few seconds", SMS_EBADSIG);
    }
    if (!alg_ok) return refuse(detail, "the key named by kid is not a key for the token's alg", SMS_EBADALG);
    return SMS_OK;
}

/* A token whose iss is not ours: the issuer's only if one of its keys signed it. */
static int foreign_iss(gw_oidc_t *o, const cJSON *hdr, const parts_t *p) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    if (!cJSON_IsString(a) || !cJSON_IsString(kid) || o->keys == NULL) return 0;
    sms_jws_alg_t alg = sms_jws_alg_from_name(a->valuestring);
    int alg_ok = 0;
    const sms_jwk_t *key = alg ? sms_jwks_find(o->keys, kid->valuestring, alg, &alg_ok) : NULL;
    return key && alg_ok && check_signature(key, alg, p) == SMS_OK;
}

int gw_oidc_verify(void *oidc, const char *token, size_t len, int64_t now_s, sms_token_claims_t *claims,
                   const char **detail) {
    gw_oidc_t *o = oidc;
    unsigned char hash[32];
    SHA256((const unsigned char *)token, len, hash);
    gw_oidc_slot_t *slot = slot_for(o, hash);
    if (slot->used && CRYPTO_memcmp(slot->hash, hash, sizeof hash) == 0) {
        if (slot->claims.exp <= now_s) {
            slot->used = 0;
            return refuse(detail, "token expired", SMS_EEXPIRED);
        }
        *claims = slot->claims;
        return SMS_OK;
    }

    parts_t p;
    if (split(token, len, &p) != 0) return GW_AUTH_NOT_MINE;
    cJSON *payload = decode_object(p.payload, p.payload_len);
    if (payload == NULL) return GW_AUTH_NOT_MINE;
    cJSON *hdr = NULL;
    int r;
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(payload, "iss");
    int ours = cJSON_IsString(iss) && strcmp(iss->valuestring, o->issuer) == 0;
    hdr = decode_object(p.header, p.header_len);
    if (!ours) {
        r = hdr && foreign_iss(o, hdr, &p)
                ? refuse(detail, "wrong issuer: the token is signed by the identity provider but its iss is not "
                                 "SMS_OIDC_ISSUER", SMS_EBADCLAIMS)
                : GW_AUTH_NOT_MINE;
        goto done;
    }
    if (len > (size_t)o->max_token_bytes) {
        snprintf(o->detail, sizeof o->detail, "token too large: %zu bytes, at most %d accepted", len, o->max_token_bytes);
        r = refuse(detail, o->detail, SMS_EPARSE);
        goto done;
    }
    if (hdr == NULL) {
        r = refuse(detail, "malformed token: its header is not base64url JSON", SMS_EPARSE);
        goto done;
    }
    const sms_jwk_t *key = NULL;
    sms_jws_alg_t alg = 0;
    if ((r = check_header(o, hdr, &key, &alg, detail)) != SMS_OK) goto done;
    if ((r = check_signature(key, alg, &p)) != SMS_OK) {
        r = refuse(detail, "bad signature: not made by the identity provider's key", SMS_EBADSIG);
        goto done;
    }
    if ((r = check_claims(o, payload, now_s, claims, detail)) != SMS_OK) goto done;
    memcpy(slot->hash, hash, sizeof hash); /* only tokens that verified are ever stored */
    slot->claims = *claims;
    slot->used = 1;
done:
    cJSON_Delete(hdr);
    cJSON_Delete(payload);
    return r;
}
