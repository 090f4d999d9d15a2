/* token.h - JSON Web Tokens (libjwt): HS256 (a shared secret: sms-admin
 * and tests mint them) and ES256 (P-256 keys with a `kid`: the identity
 * service mints them at login, the gateway verifies them by kid and serves
 * the public keys as JWKS). Verification for the gateway, minting for
 * sms-admin, sms-identity and tests.
 *
 * sms_token_verify accepts HS256 only; sms_token_verify_any also ES256 by
 * kid. A token whose header says "none" or any other algorithm is rejected
 * before its claims are read, and an ES256 token is only ever checked
 * against an EC key (no algorithm confusion). Claims: sub (string), role
 * (lecturer|student|admin), exp (seconds since epoch, required). */
#ifndef SMS_TOKEN_H
#define SMS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* sms_token_verify returns SMS_OK or (error.h): SMS_EPARSE (not three
 * base64url parts / bad JSON), SMS_EBADALG (alg is not HS256, "none"
 * included), SMS_EBADSIG, SMS_EEXPIRED, SMS_EBADCLAIMS (sub/role/exp missing
 * or of the wrong type, unknown role). */

typedef struct sms_token_claims_s {
    char sub[128];
    char role[16];
    int64_t exp;
} sms_token_claims_t;

/* Verifies token (len bytes, not necessarily NUL-terminated) with secret at
 * time now_s (seconds since epoch). Fills *out on SMS_OK. */
int sms_token_verify(const char *token, size_t len, const char *secret, int64_t now_s,
                                sms_token_claims_t *out);

/* Mints an HS256 token for sub/role valid ttl_s seconds from now_s. Returns 0
 * and a NUL-terminated token in *out (free with sms_free), or -1. */
int sms_token_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, const char *secret,
                 char **out);

/* ---- ES256 keys (token_keys.c) ----
 * A key directory holds, per key, <kid>.key.pem (the private key, PKCS#8,
 * mode 0600: only the identity service reads it) and <kid>.pub.pem (its
 * public key: the gateway reads only these). kids are "k" + a time-ordered
 * id, so the greatest kid is the newest key: it signs, and every key in the
 * directory verifies (two keys live at once during a rotation). */
typedef struct sms_token_keys_s sms_token_keys_t;

#define SMS_TOKEN_KID_MAX 48

/* Loads dir's keys: with_private, the .key.pem files (their public halves
 * derived), else the .pub.pem files. 0 and *out (free with
 * sms_token_keys_free; it may hold no key), or -1 with err (an unreadable
 * directory or key file). */
int sms_token_keys_load(const char *dir, bool with_private, sms_token_keys_t **out, char *err, size_t errlen);
void sms_token_keys_free(sms_token_keys_t *keys);
size_t sms_token_keys_count(const sms_token_keys_t *keys);
/* The newest key's kid, or NULL when there is none (or no private key). */
const char *sms_token_keys_signing_kid(const sms_token_keys_t *keys);
/* Whether dir changed since keys were loaded from it (its mtime): a cheap
 * stat, for reloading after `sms-admin keys rotate`. */
bool sms_token_keys_stale(const sms_token_keys_t *keys, const char *dir);

/* Creates a new P-256 key in dir (created 0700 if missing): <kid>.key.pem
 * (0600) and <kid>.pub.pem, kid as above, written to kid_out. 0, or -1 with err. */
int sms_token_key_generate(const char *dir, char kid_out[SMS_TOKEN_KID_MAX], char *err, size_t errlen);

/* The public keys as a JWKS document ({"keys":[{kty EC, crv P-256, x, y,
 * kid, use sig, alg ES256}]}), NUL-terminated in *out (free with sms_free). 0 or -1. */
int sms_token_jwks(const sms_token_keys_t *keys, char **out);

/* Mints an ES256 token signed by the newest private key, header kid set.
 * 0 and *out (free with sms_free), or -1 (no private key, bad claims). */
int sms_token_mint_es256(const sms_token_keys_t *keys, const char *sub, const char *role, int64_t now_s,
                         int64_t ttl_s, char **out);

/* Verifies an HS256 token with secret (NULL/"": HS256 refused) or an ES256
 * token with the key its kid names among keys (NULL: ES256 refused).
 * SMS_EBADALG for any other alg; an ES256 token with an unknown or missing
 * kid is SMS_EBADSIG. Otherwise as sms_token_verify. */
int sms_token_verify_any(const char *token, size_t len, const char *secret, const sms_token_keys_t *keys,
                         int64_t now_s, sms_token_claims_t *out);
/* The PEM public key for kid (len in *len), or NULL: token.c's look-up. */
const char *sms_token_keys_public_pem(const sms_token_keys_t *keys, const char *kid, size_t *len);
/* The newest private key's PEM and kid, or NULL. */
const char *sms_token_keys_private_pem(const sms_token_keys_t *keys, size_t *len, const char **kid);

#endif
