/* token.c - HS256 JSON Web Tokens on libjwt (see token.h).
 *
 * Called by the gateway's auth.c for every authenticated request, and by
 * sms-admin and tests to mint. The header is decoded and checked here (alg
 * must be exactly HS256) before libjwt sees the token, so "none" and other
 * algorithms never reach signature or claim handling; libjwt then verifies
 * the HMAC (constant-time compare in Debian's 1.10.2+deb12u1) and parses the
 * claims. */
#include "token.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* This file's own jwt.h shadows libjwt's <jwt.h> wherever common/ is on the
 * include path, so libjwt's header is named by where libjwt-dev puts it. */
#include <jwt.h>

#include "alloc.h"
#include "jwk.h"

/* Tokens are small; anything longer is not one of ours and is refused before
 * any decoding work. */
#define SMS_TOKEN_MAX_LEN 4096
#define SMS_TOKEN_MAX_HEADER 512

/* Decodes a base64url JSON object. Returns the parsed object (free with
 * cJSON_Delete) or NULL if it is not base64url, not JSON or not an object. */
static cJSON *decode_json_part(const char *part, size_t n) {
    char stack[SMS_TOKEN_MAX_HEADER];
    size_t cap = n / 4 * 3 + 4; /* decoded size, rounded up, plus the NUL */
    char *text = cap <= sizeof stack ? stack : sms_malloc(cap);
    cJSON *json = NULL;
    long len = sms_b64url_decode(part, n, (unsigned char *)text, cap - 1);
    if (len >= 0) text[len] = '\0';
    if (len > 0 && strlen(text) == (size_t)len) { /* an embedded NUL is not JSON we accept */
        json = cJSON_ParseWithLength(text, (size_t)len);
        if (json && !cJSON_IsObject(json)) {
            cJSON_Delete(json);
            json = NULL;
        }
    }
    if (text != stack) sms_free(text);
    return json;
}

/* Reads the JOSE header: a JSON object whose alg is a string; *alg is 1
 * for "HS256", 2 for "ES256", 0 for anything else ("none" first of all);
 * its kid (a string, if any) goes into kid. SMS_OK or SMS_EPARSE. */
static int read_header(const char *part, size_t n, int *alg, char kid[SMS_TOKEN_KID_MAX]) {
    if (n == 0 || n > SMS_TOKEN_MAX_HEADER) return SMS_EPARSE;
    cJSON *hdr = decode_json_part(part, n);
    if (hdr == NULL) return SMS_EPARSE;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    int r = SMS_OK;
    kid[0] = '\0';
    if (!cJSON_IsString(a)) r = SMS_EPARSE;
    else *alg = strcmp(a->valuestring, "HS256") == 0 ? 1 : strcmp(a->valuestring, "ES256") == 0 ? 2 : 0;
    if (cJSON_IsString(k) && strlen(k->valuestring) < SMS_TOKEN_KID_MAX) memcpy(kid, k->valuestring, strlen(k->valuestring) + 1);
    cJSON_Delete(hdr);
    return r;
}

static int role_known(const char *role) {
    return strcmp(role, "lecturer") == 0 || strcmp(role, "student") == 0 || strcmp(role, "admin") == 0;
}

/* Reads sub, role and exp from a verified token into out. */
static int read_claims(jwt_t *jwt, int64_t now_s, sms_token_claims_t *out) {
    const char *sub = jwt_get_grant(jwt, "sub"); /* NULL if absent or not a string */
    const char *role = jwt_get_grant(jwt, "role");
    if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof out->sub) return SMS_EBADCLAIMS;
    if (role == NULL || !role_known(role)) return SMS_EBADCLAIMS;
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    /* libjwt yields 0 for a missing exp (errno ENOENT) and also for a string,
     * real or bool exp (jansson's json_integer_value), so 0 and below mean
     * "no usable exp". */
    if (errno != 0 || exp <= 0) return SMS_EBADCLAIMS;
    if ((int64_t)exp <= now_s) return SMS_EEXPIRED;
    memcpy(out->sub, sub, strlen(sub) + 1);
    memcpy(out->role, role, strlen(role) + 1);
    out->exp = (int64_t)exp;
    return SMS_OK;
}

int sms_token_verify_any(const char *token, size_t len, const char *secret, const sms_token_keys_t *keys,
                         int64_t now_s, sms_token_claims_t *out) {
    if (token == NULL || len == 0 || len > SMS_TOKEN_MAX_LEN) return SMS_EPARSE;
    const char *dot1 = memchr(token, '.', len);
    if (dot1 == NULL) return SMS_EPARSE;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return SMS_EPARSE;

    int alg = 0;
    char kid[SMS_TOKEN_KID_MAX];
    int r = read_header(token, (size_t)(dot1 - token), &alg, kid);
    if (r != SMS_OK) return r;
    /* The key comes from what this side configured for the header's alg,
     * never from the token: an HS256 token cannot be checked with a public
     * key, nor an ES256 one with the secret. */
    const unsigned char *key = NULL;
    size_t key_len = 0;
    if (alg == 1) {
        if (secret == NULL || secret[0] == '\0') return keys ? SMS_EBADALG : SMS_EBADSIG;
        key = (const unsigned char *)secret;
        key_len = strlen(secret);
    } else if (alg == 2) {
        if (keys == NULL) return SMS_EBADALG;
        key = (const unsigned char *)sms_token_keys_public_pem(keys, kid, &key_len);
        if (key == NULL) return SMS_EBADSIG;
    } else {
        return SMS_EBADALG;
    }
    size_t payload_len = (size_t)(dot2 - dot1 - 1);
    size_t sig_len = len - (size_t)(dot2 + 1 - token);
    if (payload_len == 0 || sig_len == 0) return SMS_EPARSE;
    for (size_t i = 0; i < len; i++)
        if (token[i] != '.' && sms_b64url_value((unsigned char)token[i]) < 0) return SMS_EPARSE;

    char copy[SMS_TOKEN_MAX_LEN + 1];
    memcpy(copy, token, len);
    copy[len] = '\0';
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, copy, key, (int)key_len) != 0) {
        /* libjwt says EINVAL for both a bad signature and an unparsable
         * payload; tell them apart for the 401's detail. */
        cJSON *payload = decode_json_part(dot1 + 1, payload_len);
        r = payload ? SMS_EBADSIG : SMS_EPARSE;
        cJSON_Delete(payload);
        return r;
    }
    if (jwt_get_alg(jwt) != (alg == 1 ? JWT_ALG_HS256 : JWT_ALG_ES256)) r = SMS_EBADALG;
    else r = read_claims(jwt, now_s, out);
    jwt_free(jwt);
    return r;
}

int sms_token_verify(const char *token, size_t len, const char *secret, int64_t now_s,
                                sms_token_claims_t *out) {
    if (token == NULL || len == 0 || len > SMS_TOKEN_MAX_LEN) return SMS_EPARSE;
    if (secret == NULL || secret[0] == '\0') return SMS_EBADSIG;
    return sms_token_verify_any(token, len, secret, NULL, now_s, out);
}

int sms_token_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, const char *secret,
                 char **out) {
    *out = NULL;
    if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof(((sms_token_claims_t *)0)->sub)) return -1;
    if (role == NULL || !role_known(role) || secret == NULL || secret[0] == '\0' || ttl_s <= 0) return -1;
    jwt_t *jwt = NULL;
    char *encoded = NULL;
    int rc = -1;
    if (jwt_new(&jwt) != 0) goto done;
    if (jwt_add_grant(jwt, "sub", sub) != 0 || jwt_add_grant(jwt, "role", role) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) != 0)
        goto done;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0) goto done;
    encoded = jwt_encode_str(jwt); /* libjwt's malloc: released with free() below */
    if (encoded == NULL) goto done;
    *out = sms_strdup(encoded);
    rc = 0;
done:
    free(encoded);
    jwt_free(jwt);
    return rc;
}

int sms_token_mint_es256(const sms_token_keys_t *keys, const char *sub, const char *role, int64_t now_s,
                         int64_t ttl_s, char **out) {
    *out = NULL;
    size_t pem_len = 0;
    const char *kid = NULL;
    const char *pem = keys ? sms_token_keys_private_pem(keys, &pem_len, &kid) : NULL;
    if (pem == NULL) return -1;
    if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof(((sms_token_claims_t *)0)->sub)) return -1;
    if (role == NULL || !role_known(role) || ttl_s <= 0) return -1;
    jwt_t *jwt = NULL;
    char *encoded = NULL;
    int rc = -1;
    if (jwt_new(&jwt) != 0) goto done;
    if (jwt_add_grant(jwt, "sub", sub) != 0 || jwt_add_grant(jwt, "role", role) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) != 0 || jwt_add_header(jwt, "kid", kid) != 0)
        goto done;
    if (jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)pem, (int)pem_len) != 0) goto done;
    encoded = jwt_encode_str(jwt); /* libjwt's malloc: released with free() below */
    if (encoded == NULL) goto done;
    *out = sms_strdup(encoded);
    rc = 0;
done:
    free(encoded);
    jwt_free(jwt);
    return rc;
}
