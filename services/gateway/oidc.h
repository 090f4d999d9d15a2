/* oidc.h - school SSO: the gateway accepts access tokens of one OpenID
 * Connect provider (SMS_OIDC_ISSUER) beside its own.
 *
 * main.c creates it and installs gw_oidc_verify as auth.c's second verifier
 * (gw_auth_set_issuer). A fetch thread (libcurl, never the loop) reads
 * <issuer>/.well-known/openid-configuration, then its jwks_uri, and hands
 * each parsed key set (common/jwk.h) to the loop through a uv_async_t; it
 * fetches again every SMS_OIDC_JWKS_TTL_S, after a failure (backing off 1 s
 * to 30 s), and when a token names an unknown kid (at most once every
 * SMS_OIDC_REFRESH_MIN_S). A token with an unknown kid is answered 401 at
 * once, never held: its client retries after the refresh has landed.
 *
 * A token is the issuer's when its payload's iss is SMS_OIDC_ISSUER exactly,
 * or when it is signed by one of the issuer's keys (then a wrong iss is
 * refused as such). It must be RS256 or ES256 with a kid of the set, contain
 * SMS_OIDC_AUDIENCE in aud, have exp (and nbf, if any) valid with
 * SMS_OIDC_CLOCK_SKEW_S of leeway, a subject claim (SMS_OIDC_SUBJECT_CLAIM)
 * and a role claim (SMS_OIDC_ROLE_CLAIM: a name, or a dotted path such as
 * realm_access.roles; a string or an array of strings) one of whose values
 * SMS_OIDC_ROLE_MAP maps to lecturer, student or admin (the first entry of
 * the map that matches wins). Verified tokens are cached by SHA-256 until
 * their exp; a new key set empties the cache. */
#ifndef GW_OIDC_H
#define GW_OIDC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "token.h"

typedef struct gw_oidc_s gw_oidc_t;

/* Creates the verifier for cfg's SMS_OIDC_* on loop and starts its fetch
 * thread. Returns 0 and *out (NULL when SMS_OIDC_ISSUER is empty: nothing to
 * do), or -1 with a sentence naming the variable in err (bad issuer URL, no
 * audience, a malformed role map). Close with gw_oidc_close. */
int gw_oidc_new(uv_loop_t *loop, const sms_config_t *cfg, gw_oidc_t **out, char *err, size_t errlen);

/* auth.h's gw_auth_issuer_t.verify, data = the gw_oidc_t: GW_AUTH_NOT_MINE,
 * SMS_OK with *claims (claims->exp includes the skew leeway), or a negative
 * SMS_E* with *detail (static, or this verifier's buffer: valid until the
 * next call). Loop thread only. */
int gw_oidc_verify(void *oidc, const char *token, size_t len, int64_t now_s, sms_token_claims_t *claims,
                   const char **detail);

/* Keys currently loaded (0 before the first fetch landed). Loop thread. */
size_t gw_oidc_key_count(const gw_oidc_t *o);

/* Stops the fetch thread (an HTTP transfer in progress is aborted within
 * about a second; this waits for it) and closes the async handle; the memory
 * is freed in its close callback. NULL is a no-op. Loop thread. */
void gw_oidc_close(gw_oidc_t *o);

#endif
