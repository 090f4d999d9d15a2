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

typedef enum {
    SMS_JWT_OK = 0,
    SMS_JWT_MALFORMED = -1,     /* not three base64url parts / bad JSON */
    SMS_JWT_BAD_ALG = -2,       /* alg is not HS256 (includes "none") */
    SMS_JWT_BAD_SIGNATURE = -3,
    SMS_JWT_EXPIRED = -4,
    SMS_JWT_BAD_CLAIMS = -5,    /* sub/role/exp missing or of the wrong type, unknown role */
} sms_jwt_result_t;

typedef struct sms_jwt_claims_s {
    char sub[128];
    char role[16];
    int64_t exp;
} sms_jwt_claims_t;

/* Verifies token (len bytes, not necessarily NUL-terminated) with secret at
 * time now_s (seconds since epoch). Fills *out on SMS_JWT_OK. */
sms_jwt_result_t sms_jwt_verify(const char *token, size_t len, const char *secret, int64_t now_s,
                                sms_jwt_claims_t *out);

/* A short human reason for a result ("token expired"). */
const char *sms_jwt_strerror(sms_jwt_result_t r);

/* Mints an HS256 token for sub/role valid ttl_s seconds from now_s. Returns 0
 * and a NUL-terminated token in *out (free with sms_free), or -1. */
int sms_jwt_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, const char *secret,
                 char **out);

#endif
