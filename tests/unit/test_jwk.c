/* test_jwk.c - common/jwk.c: JWKS parsing (which keys are kept, which left out) and RS256 /
 * ES256 checks, with keys generated here by OpenSSL and signatures made here. No network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "jwk.h"

static EVP_PKEY *rsa2048, *rsa1024, *p256;

static void b64url(const unsigned char *in, size_t n, char *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        if (i + 1 < n) out[o++] = tbl[v >> 6 & 63];
        if (i + 2 < n) out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
}

static void bn_param(EVP_PKEY *k, const char *name, char *out) {
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    unsigned char buf[512];
    int n = BN_bn2bin(bn, buf);
    b64url(buf, (size_t)n, out);
    BN_free(bn);
}

static void rsa_jwk(EVP_PKEY *k, const char *kid, const char *extra, char *out, size_t cap) {
    char n[800], e[16];
    bn_param(k, OSSL_PKEY_PARAM_RSA_N, n);
    bn_param(k, OSSL_PKEY_PARAM_RSA_E, e);
    snprintf(out, cap, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, n, e, extra);
}

static void ec_jwk(EVP_PKEY *k, const char *kid, int break_point, char *out, size_t cap) {
    unsigned char pub[65];
    size_t len = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len), 1);
    assert_int_equal(len, 65);
    if (break_point) pub[64] ^= 1; /* y off the curve */
    char x[64], y[64];
    b64url(pub + 1, 32, x);
    b64url(pub + 33, 32, y);
    snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"use\":\"sig\",\"x\":\"%s\",\"y\":\"%s\"}", kid, x, y);
}

static size_t sign(EVP_PKEY *k, const char *input, unsigned char *sig, size_t cap, int es256) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = cap;
    unsigned char der[128];
    unsigned char *dst = es256 ? der : sig;
    if (es256) n = sizeof der;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, dst, &n, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(md);
    if (!es256) return n;
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    assert_non_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    return 64;
}

static sms_jwks_t *set_of_all(size_t *skipped) {
    static char doc[16384];
    char a[1200], b[1200], c[400], d[1200], e[400], f[1200];
    rsa_jwk(rsa2048, "rsa", ",\"use\":\"sig\",\"alg\":\"RS256\"", a, sizeof a);
    rsa_jwk(rsa2048, "enc", ",\"use\":\"enc\",\"alg\":\"RSA-OAEP\"", b, sizeof b);
    ec_jwk(p256, "ec", 0, c, sizeof c);
    rsa_jwk(rsa1024, "small", "", d, sizeof d);
    ec_jwk(p256, "offcurve", 1, e, sizeof e);
    rsa_jwk(rsa2048, "ec", "", f, sizeof f); /* a second "ec": the first one wins */
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s,%s,%s,%s,%s,{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}", a, b, c,
             d, e, f);
    sms_jwks_t *set = NULL;
    char err[128];
    assert_int_equal(sms_jwks_parse(doc, strlen(doc), &set, skipped, err, sizeof err), SMS_OK);
    return set;
}

static void test_parse_keeps_only_usable_signing_keys(void **state) {
    (void)state;
    size_t skipped = 0;
    sms_jwks_t *set = set_of_all(&skipped);
    assert_int_equal(sms_jwks_count(set), 2);
    assert_int_equal(skipped, 5); /* enc, 1024-bit, off-curve, duplicate kid, symmetric */
    int ok = 0;
    assert_non_null(sms_jwks_find(set, "rsa", SMS_JWS_RS256, &ok));
    assert_true(ok);
    assert_non_null(sms_jwks_find(set, "ec", SMS_JWS_ES256, &ok));
    assert_true(ok);
    assert_non_null(sms_jwks_find(set, "ec", SMS_JWS_RS256, &ok));
    assert_false(ok);
    assert_null(sms_jwks_find(set, "enc", SMS_JWS_RS256, &ok));
    assert_null(sms_jwks_find(set, "small", SMS_JWS_RS256, &ok));
    assert_null(sms_jwks_find(set, "offcurve", SMS_JWS_ES256, &ok));
    sms_jwks_free(set);
}

static void test_parse_refuses_non_jwks(void **state) {
    (void)state;
    const char *bad[] = {"", "[]", "{\"keys\":{}}", "{\"nokeys\":[]}", "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sms_jwks_t *set = (sms_jwks_t *)1;
        char err[128];
        assert_int_equal(sms_jwks_parse(bad[i], strlen(bad[i]), &set, NULL, err, sizeof err), SMS_EPARSE);
        assert_null(set);
    }
}

static void test_rs256_and_es256_signatures(void **state) {
    (void)state;
    sms_jwks_t *set = set_of_all(NULL);
    const sms_jwk_t *rsa = sms_jwks_find(set, "rsa", SMS_JWS_RS256, NULL);
    const sms_jwk_t *ec = sms_jwks_find(set, "ec", SMS_JWS_ES256, NULL);
    const char *input = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";
    unsigned char sig[512];
    size_t n = sign(rsa2048, input, sig, sizeof sig, 0);
    assert_int_equal(sms_jws_verify(rsa, SMS_JWS_RS256, input, strlen(input), sig, n), SMS_OK);
    assert_int_equal(sms_jws_verify(rsa, SMS_JWS_RS256, input, strlen(input) - 1, sig, n), SMS_EBADSIG);
    assert_int_equal(sms_jws_verify(rsa, SMS_JWS_RS256, input, strlen(input), sig, n - 1), SMS_EBADSIG);
    assert_int_equal(sms_jws_verify(rsa, SMS_JWS_ES256, input, strlen(input), sig, n), SMS_EBADALG);

    n = sign(p256, input, sig, sizeof sig, 1);
    assert_int_equal(sms_jws_verify(ec, SMS_JWS_ES256, input, strlen(input), sig, n), SMS_OK);
    sig[10] ^= 0x40;
    assert_int_equal(sms_jws_verify(ec, SMS_JWS_ES256, input, strlen(input), sig, n), SMS_EBADSIG);
    assert_int_equal(sms_jws_verify(ec, SMS_JWS_ES256, input, strlen(input), sig, 63), SMS_EBADSIG);
    assert_int_equal(sms_jws_verify(ec, SMS_JWS_RS256, input, strlen(input), sig, n), SMS_EBADALG);
    sms_jwks_free(set);
}

static void test_only_rs256_and_es256_names(void **state) {
    (void)state;
    assert_int_equal(sms_jws_alg_from_name("RS256"), SMS_JWS_RS256);
    assert_int_equal(sms_jws_alg_from_name("ES256"), SMS_JWS_ES256);
    const char *no[] = {"none", "HS256", "RS384", "PS256", "EdDSA", "rs256", ""};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) assert_int_equal(sms_jws_alg_from_name(no[i]), 0);
    assert_int_equal(sms_jws_alg_from_name(NULL), 0);
}

static void test_b64url_decode(void **state) {
    (void)state;
    unsigned char out[8];
    assert_int_equal(sms_b64url_decode("aGk", 3, out, sizeof out), 2);
    assert_memory_equal(out, "hi", 2);
    assert_int_equal(sms_b64url_decode("a", 1, out, sizeof out), -1);     /* impossible length */
    assert_int_equal(sms_b64url_decode("aGk=", 4, out, sizeof out), -1);  /* padding is not base64url */
    assert_int_equal(sms_b64url_decode("a+/A", 4, out, sizeof out), -1);  /* base64, not base64url */
    assert_int_equal(sms_b64url_decode("AAAAAAAAAAAA", 12, out, sizeof out), -1); /* 9 bytes > 8 */
}

static int setup(void **state) {
    (void)state;
    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return rsa2048 && rsa1024 && p256 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(p256);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_keeps_only_usable_signing_keys),
        cmocka_unit_test(test_parse_refuses_non_jwks),
        cmocka_unit_test(test_rs256_and_es256_signatures),
        cmocka_unit_test(test_only_rs256_and_es256_names),
        cmocka_unit_test(test_b64url_decode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
