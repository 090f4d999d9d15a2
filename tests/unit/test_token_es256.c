/* test_token_es256.c - common/token.c's ES256 tokens and token_keys.c's key
 * directory: generate, load (private for the signer, public for the
 * verifier), mint/verify with kid, rotation (two keys live: the old kid
 * still verifies, the new key signs), JWKS, and the refusals: unknown kid,
 * ES256 where only HS256 is configured, an HS256 token "signed" with the
 * public key (algorithm confusion), tampering, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "alloc.h"
#include "error.h"
#include "token.h"

#define NOW ((int64_t)1800000000)
#define SECRET "unit-test-secret"

static char dir[64];

static int setup(void **s) {
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/sms-keys-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **s) {
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static sms_token_keys_t *load(bool priv) {
    char err[256];
    sms_token_keys_t *k = NULL;
    assert_int_equal(sms_token_keys_load(dir, priv, &k, err, sizeof err), 0);
    return k;
}

static char *header_of(const char *tok) {
    static char out[512];
    const char *dot = strchr(tok, '.');
    size_t n = (size_t)(dot - tok);
    /* base64url -> base64, then decode with OpenSSL-free arithmetic */
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 6 | (uint32_t)(strchr(tbl, tok[i]) - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = '\0';
    return out;
}

static void test_rotation_round_trip(void **s) {
    (void)s;
    char kid1[SMS_TOKEN_KID_MAX], kid2[SMS_TOKEN_KID_MAX], err[256];
    assert_int_equal(sms_token_key_generate(dir, kid1, err, sizeof err), 0);
    sms_token_keys_t *signer = load(true), *verifier = load(false);
    assert_string_equal(sms_token_keys_signing_kid(signer), kid1);
    assert_null(sms_token_keys_signing_kid(verifier)); /* public keys never sign */
    char *t1 = NULL;
    assert_int_equal(sms_token_mint_es256(signer, "u1", "lecturer", NOW, 900, &t1), 0);
    assert_non_null(strstr(header_of(t1), kid1));
    assert_non_null(strstr(header_of(t1), "ES256"));
    sms_token_claims_t c;
    assert_int_equal(sms_token_verify_any(t1, strlen(t1), SECRET, verifier, NOW, &c), SMS_OK);
    assert_string_equal(c.sub, "u1");
    assert_string_equal(c.role, "lecturer");
    assert_int_equal(c.exp, NOW + 900);
    assert_int_equal(sms_token_verify_any(t1, strlen(t1), SECRET, verifier, NOW + 900, &c), SMS_EEXPIRED);
    /* HS256-only verification refuses ES256 outright. */
    assert_int_equal(sms_token_verify(t1, strlen(t1), SECRET, NOW, &c), SMS_EBADALG);

    /* Rotate: a new key signs, the old one still verifies. */
    usleep(2000); /* a later kid */
    assert_int_equal(sms_token_key_generate(dir, kid2, err, sizeof err), 0);
    assert_true(strcmp(kid2, kid1) > 0);
    assert_true(sms_token_keys_stale(verifier, dir));
    sms_token_keys_free(signer);
    sms_token_keys_free(verifier);
    signer = load(true);
    verifier = load(false);
    assert_false(sms_token_keys_stale(verifier, dir));
    assert_int_equal(sms_token_keys_count(verifier), 2);
    char *t2 = NULL;
    assert_int_equal(sms_token_mint_es256(signer, "u2", "student", NOW, 900, &t2), 0);
    assert_non_null(strstr(header_of(t2), kid2));
    assert_int_equal(sms_token_verify_any(t1, strlen(t1), NULL, verifier, NOW, &c), SMS_OK);
    assert_int_equal(sms_token_verify_any(t2, strlen(t2), NULL, verifier, NOW, &c), SMS_OK);
    assert_string_equal(c.sub, "u2");

    /* JWKS lists both, as EC P-256 keys with x and y. */
    char *jwks = NULL;
    assert_int_equal(sms_token_jwks(verifier, &jwks), 0);
    cJSON *doc = cJSON_Parse(jwks);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
    assert_int_equal(cJSON_GetArraySize(keys), 2);
    const cJSON *k0 = cJSON_GetArrayItem(keys, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(k0, "kty")->valuestring, "EC");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(k0, "crv")->valuestring, "P-256");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(k0, "alg")->valuestring, "ES256");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(k0, "kid")->valuestring, kid1);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(k0, "x")->valuestring), 43);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(k0, "y")->valuestring), 43);
    assert_null(strstr(jwks, "PRIVATE"));
    cJSON_Delete(doc);
    sms_free(jwks);

    /* Tampering: one changed payload byte breaks the signature. */
    char *dot = strchr(t2, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    int r = sms_token_verify_any(t2, strlen(t2), NULL, verifier, NOW, &c);
    assert_true(r == SMS_EBADSIG || r == SMS_EPARSE);

    sms_free(t1);
    sms_free(t2);
    sms_token_keys_free(signer);
    sms_token_keys_free(verifier);
}

static void test_refusals(void **s) {
    (void)s;
    char kid[SMS_TOKEN_KID_MAX], err[256];
    assert_int_equal(sms_token_key_generate(dir, kid, err, sizeof err), 0);
    sms_token_keys_t *verifier = load(false), *signer = load(true);
    sms_token_claims_t c;
    /* Algorithm confusion: an HS256 token whose "secret" is the public key PEM. */
    size_t pem_len = 0;
    const char *pem = sms_token_keys_public_pem(verifier, kid, &pem_len);
    assert_non_null(pem);
    char *pemz = sms_strndup(pem, pem_len), *confused = NULL;
    assert_int_equal(sms_token_mint("u", "admin", NOW, 900, pemz, &confused), 0);
    assert_int_equal(sms_token_verify_any(confused, strlen(confused), SECRET, verifier, NOW, &c), SMS_EBADSIG);
    assert_int_equal(sms_token_verify_any(confused, strlen(confused), NULL, verifier, NOW, &c), SMS_EBADALG);
    /* ES256 where no keys are configured. */
    char *es = NULL;
    assert_int_equal(sms_token_mint_es256(signer, "u", "admin", NOW, 900, &es), 0);
    assert_int_equal(sms_token_verify_any(es, strlen(es), SECRET, NULL, NOW, &c), SMS_EBADALG);
    /* An unknown kid: keys from another directory. */
    char other[128];
    snprintf(other, sizeof other, "%s/other", dir);
    char kid2[SMS_TOKEN_KID_MAX];
    assert_int_equal(sms_token_key_generate(other, kid2, err, sizeof err), 0);
    sms_token_keys_t *stranger = NULL;
    assert_int_equal(sms_token_keys_load(other, false, &stranger, err, sizeof err), 0);
    assert_int_equal(sms_token_verify_any(es, strlen(es), SECRET, stranger, NOW, &c), SMS_EBADSIG);
    /* No private key: nothing to sign with. */
    char *none = NULL;
    assert_int_equal(sms_token_mint_es256(verifier, "u", "admin", NOW, 900, &none), -1);
    /* HS256 still works beside ES256. */
    char *hs = NULL;
    assert_int_equal(sms_token_mint("u", "lecturer", NOW, 900, SECRET, &hs), 0);
    assert_int_equal(sms_token_verify_any(hs, strlen(hs), SECRET, verifier, NOW, &c), SMS_OK);
    sms_free(hs);
    sms_free(es);
    sms_free(pemz);
    sms_free(confused);
    sms_token_keys_free(stranger);
    sms_token_keys_free(verifier);
    sms_token_keys_free(signer);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
