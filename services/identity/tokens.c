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

/* The signing keys of SMS_JWT_KEYS_DIR, loaded at the first login and
 * again whenever the directory changed (a rotation: its new key signs from
 * then on). The worker's one thread only. */
static sms_token_keys_t *keys;

static const sms_token_keys_t *signing_keys(void) {
    const char *dir = identity_settings.keys_dir;
    if (dir[0] == '\0') return NULL;
    if (keys == NULL || sms_token_keys_stale(keys, dir)) {
        char err[256];
        sms_token_keys_t *k = NULL;
        if (sms_token_keys_load(dir, true, &k, err, sizeof err) == 0) {
            sms_token_keys_free(keys);
            keys = k;
            sms_log(SMS_LOG_INFO, "jwt_keys_loaded", "signing kid %s",
                    sms_token_keys_signing_kid(keys) ? sms_token_keys_signing_kid(keys) : "(none)");
        } else {
            sms_log(SMS_LOG_ERROR, "jwt_keys_unreadable", "%s", err); /* the keys loaded before still sign */
        }
    }
    return keys;
}

int identity_access_mint(const char *sub, const char *role, int64_t now_s, int64_t ttl_s, char **out) {
    const sms_token_keys_t *k = signing_keys();
    if (k && sms_token_keys_signing_kid(k)) {
        if (sms_token_mint_es256(k, sub, role, now_s, ttl_s, out) == 0) return 0;
        sms_log(SMS_LOG_ERROR, "token_mint_failed", "ES256 signing failed for role %s", role);
        return -1;
    }
    if (sms_token_mint(sub, role, now_s, ttl_s, identity_settings.jwt_secret, out) != 0) {
        sms_log(SMS_LOG_ERROR, "token_mint_failed", "no signing key could mint a token for role %s", role);
        return -1;
    }
    return 0;
}
