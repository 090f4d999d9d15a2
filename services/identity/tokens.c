/* tokens.c - refresh and access tokens (see tokens.h): libsodium for the
 * random bytes, SHA-256 and base64url; common/token.h for the JWTs. */
#include "tokens.h"

#include <sodium.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "token.h"

int identity_refresh_new(char token[IDENTITY_REFRESH_LEN + 1], char hash[IDENTITY_HASH_HEX + 1]) {
    unsigned char raw[32];
    if (sodium_init() < 0) return -1;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, IDENTITY_REFRESH_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    identity_refresh_hash(token, IDENTITY_REFRESH_LEN, hash);
    return 0;
}

void identity_refresh_hash(const char *token, size_t n, char hash[IDENTITY_HASH_HEX + 1]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, n);
    sodium_bin2hex(hash, IDENTITY_HASH_HEX + 1, h, sizeof h);
}

int identity_access_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, char **out) {
    if (sms_token_mint(sub, role, now_s, ttl_s, identity_settings.jwt_secret, out) != 0) {
        sms_log(SMS_LOG_ERROR, "token_mint_failed", "no signing key could mint a token for role %s", role);
        return -1;
    }
    return 0;
}
