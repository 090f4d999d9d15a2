/* auth.h - bearer-token checks for GW_ROUTE_AUTH routes.
 *
 * conn.c calls gw_auth_check with the request's Authorization header before
 * an AUTH route's handler runs; it verifies the JWT with common/jwt.h and the
 * route's role mask. A token that verified is remembered in a small cache
 * owned by the server, keyed by its exact bytes (compared in constant time),
 * with exp checked again on every use: a hit proves the same bytes verified
 * before, so it trusts nothing more than a full verification would, and
 * costs well under a µs instead of ~10 µs (libjwt + OpenSSL 3 HMAC). */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

/* Why a request was refused: status 401 or 403, a problem code
 * ("unauthorized", "forbidden"), a human detail (static or in detail_buf),
 * and the WWW-Authenticate line to add (NULL for 403). */
typedef struct gw_auth_failure_s {
    int status;
    const char *code;
    const char *detail;
    const char *www_authenticate; /* full header line ending "\r\n", or NULL */
    char detail_buf[96];
} gw_auth_failure_t;

/* Cache of verified tokens for one secret. Loop thread only. */
typedef struct gw_auth_cache_s gw_auth_cache_t;

#define GW_AUTH_CACHE_SLOTS 1024
#define GW_AUTH_CACHE_TOKEN_MAX 512 /* longer tokens are verified every time */

/* Returns a new empty cache (free with gw_auth_cache_free; NULL is a no-op). */
gw_auth_cache_t *gw_auth_cache_new(void);
/* ES256 beside HS256: the cache also verifies tokens signed by the public
 * keys of dir (SMS_JWT_KEYS_DIR; "" or NULL: HS256 only), loaded now and
 * again when a token fails on a kid while the directory changed since
 * (`sms-admin keys rotate`), at most once a second. A small blocking read of
 * a few PEM files: rare by construction. 0, or -1 with err (the directory
 * or a key in it is unreadable). */
int gw_auth_cache_set_keys_dir(gw_auth_cache_t *cache, const char *dir, char *err, size_t errlen);
void gw_auth_cache_free(gw_auth_cache_t *cache);

/* The GW_ROLE_* bit for a role name, 0 if unknown. */
unsigned gw_auth_role_bit(const char *role);

/* A second verifier, for tokens of another issuer (the gateway's OIDC
 * verifier, ../oidc.h). verify(data, token, len, now_s, claims, &detail)
 * returns GW_AUTH_NOT_MINE to leave the token to sms_token_verify, SMS_OK
 * with *claims filled, or a negative SMS_E* with detail, the 401's sentence
 * (static or owned by data, valid until the next call). Its tokens are not
 * put in this file's cache (it keeps its own). Loop thread only. */
#define GW_AUTH_NOT_MINE 1
typedef struct gw_auth_issuer_s {
    int (*verify)(void *data, const char *token, size_t len, int64_t now_s, sms_token_claims_t *claims,
                  const char **detail);
    void *data;
} gw_auth_issuer_t;

/* Installs issuer (copied; NULL removes it) for every later gw_auth_check in
 * this process. Call from the loop thread before or between requests. */
void gw_auth_set_issuer(const gw_auth_issuer_t *issuer);

/* Checks authorization (the header value, NULL if absent) against secret at
 * now_s and the allowed roles mask. cache may be NULL (verify every time);
 * one cache must only ever see one secret. Returns 0 and fills *claims, or
 * -1 and fills *fail; on a 403 *claims is filled too (who was refused). */
int gw_auth_check(gw_auth_cache_t *cache, const char *authorization, const char *secret, int64_t now_s,
                  unsigned roles, sms_token_claims_t *claims, gw_auth_failure_t *fail);

#endif
