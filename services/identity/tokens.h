/* tokens.h - the tokens a login hands out: opaque refresh tokens (32 random
 * bytes, base64url; only their SHA-256 is stored) and access tokens (JWTs:
 * ES256 with the newest key of SMS_JWT_KEYS_DIR, else HS256 with
 * SMS_JWT_SECRET). Called by handlers.c; no Redis, no Kafka. */
#ifndef IDENTITY_TOKENS_H
#define IDENTITY_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

#define IDENTITY_REFRESH_LEN 43 /* base64url of 32 bytes, unpadded */

/* A new refresh token (NUL-terminated) and its hash (hex, NUL-terminated). 0 or -1. */
int identity_refresh_new(char token[IDENTITY_REFRESH_LEN + 1], char hash[IDENTITY_HASH_HEX + 1]);
/* The hash of a presented token (any bytes). */
void identity_refresh_hash(const char *token, size_t n, char hash[IDENTITY_HASH_HEX + 1]);

/* An access token for sub/role valid ttl_s from now_s: 0 and *out (free with
 * sms_free), or -1 (no key and no secret, or a signing failure: logged). */
int identity_access_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, char **out);

#endif
