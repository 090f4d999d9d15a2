/* token.h - HS256 JSON Web Tokens (libjwt): verification for the gateway,
 * minting for sms-admin and tests.
 *
 * Only HS256 is accepted: a token whose header says "none" or any other
 * algorithm is rejected before its claims are read. Claims: sub (string),
 * role (lecturer|student|admin), exp (seconds since epoch, required). */
#ifndef SMS_TOKEN_H
#define SMS_TOKEN_H

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

#endif
