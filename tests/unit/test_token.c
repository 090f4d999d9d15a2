/* test_token.c - common/token.c: mint/verify round trip, expiry, signatures,
 * algorithm confusion ("none", HS512), malformed tokens and claim checks.
 * Hand-made tokens are signed here with OpenSSL's HMAC so that claims
 * sms_token_mint refuses to produce can still carry a valid signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alloc.h"
#include "token.h"

#define SECRET "unit-test-secret"
#define NOW ((int64_t)1800000000)

static void b64url(const unsigned char *in, size_t n, char *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        if (i + 1 < n) out[o++] = tbl[v >> 6 & 63];
        if (i + 2 < n) out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
}

/* header.payload.signature with an HS256 signature made with secret
 * (sig_alg "none": empty signature). */
static void make_token(const char *header, const char *payload, const char *secret, char *out, size_t cap) {
    char h[512], p[1024];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    int n = snprintf(out, cap, "%s.%s", h, p);
    assert_true(n > 0 && (size_t)n < cap);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (secret) {
        assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, (size_t)n, mac,
                             &mac_len));
    }
    char sig[128];
    b64url(mac, mac_len, sig);
    assert_true((size_t)n + 1 + strlen(sig) < cap);
    strcat(out, ".");
    strcat(out, sig);
}

static int verify(const char *tok, sms_token_claims_t *c) {
    return sms_token_verify(tok, strlen(tok), SECRET, NOW, c);
}

static void test_round_trip(void **state) {
    (void)state;
    char *tok = NULL;
    assert_int_equal(sms_token_mint("lect-1", "lecturer", NOW, 3600, SECRET, &tok), 0);
    assert_non_null(tok);
    sms_token_claims_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(verify(tok, &c), SMS_OK);
    assert_string_equal(c.sub, "lect-1");
    assert_string_equal(c.role, "lecturer");
    assert_int_equal(c.exp, NOW + 3600);
    /* Length-delimited: trailing bytes after len are not part of the token. */
    char padded[2048];
    snprintf(padded, sizeof padded, "%sGARBAGE", tok);
    assert_int_equal(sms_token_verify(padded, strlen(tok), SECRET, NOW, &c), SMS_OK);
    assert_int_equal(sms_token_verify(tok, strlen(tok), "other-secret", NOW, &c), SMS_EBADSIG);
    assert_int_equal(sms_token_verify(tok, strlen(tok), "", NOW, &c), SMS_EBADSIG);
    sms_free(tok);

    static const char *const roles[] = {"student", "admin"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(sms_token_mint("u", roles[i], NOW, 60, SECRET, &tok), 0);
        assert_int_equal(verify(tok, &c), SMS_OK);
        assert_string_equal(c.role, roles[i]);
        sms_free(tok);
    }
}

static void test_expiry(void **state) {
    (void)state;
    char *tok = NULL;
    sms_token_claims_t c;
    assert_int_equal(sms_token_mint("u", "student", NOW - 100, 50, SECRET, &tok), 0);
    assert_int_equal(verify(tok, &c), SMS_EEXPIRED);
    sms_free(tok);
    assert_int_equal(sms_token_mint("u", "student", NOW - 100, 100, SECRET, &tok), 0); /* exp == now: expired */
    assert_int_equal(verify(tok, &c), SMS_EEXPIRED);
    sms_free(tok);
    assert_int_equal(sms_token_mint("u", "student", NOW - 100, 101, SECRET, &tok), 0);
    assert_int_equal(verify(tok, &c), SMS_OK);
    sms_free(tok);
}

static void test_tampered(void **state) {
    (void)state;
    char *tok = NULL;
    sms_token_claims_t c;
    assert_int_equal(sms_token_mint("u", "student", NOW, 60, SECRET, &tok), 0);
    /* Swap in a payload claiming admin, keep the old signature. */
    char forged[1024], payload[128];
    const char *claims = "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1900000000}";
    b64url((const unsigned char *)claims, strlen(claims), payload);
    const char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok, payload, dot2);
    assert_int_equal(verify(forged, &c), SMS_EBADSIG);
    /* Flip one signature character. */
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tok, &c), SMS_EBADSIG);
    sms_free(tok);
}

static void test_algorithms(void **state) {
    (void)state;
    char tok[2048];
    sms_token_claims_t c;
    const char *claims = "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1900000000}";
    make_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, NULL, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"alg\":\"none\"}", claims, SECRET, tok, sizeof tok); /* "none" even with a signature */
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"alg\":\"None\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"alg\":\"RS256\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"alg\":\"hs256\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADALG);
    make_token("{\"typ\":\"JWT\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EPARSE);
    make_token("{\"alg\":256}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EPARSE);
    make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_OK);
    assert_string_equal(c.role, "admin");
}

static void test_malformed(void **state) {
    (void)state;
    sms_token_claims_t c;
    static const char *const bad[] = {
        "", "abc", "a.b", "a.b.c.d", "..", "a..c", "eyJhbGciOiJIUzI1NiJ9..sig", "eyJhbGciOiJIUzI1NiJ9.e30.",
        "!!!.e30.abc", "bm90IGpzb24.e30.abc", /* header "not json" */
        "W10.e30.abc",                        /* header [] */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = sms_token_verify(bad[i], strlen(bad[i]), SECRET, NOW, &c);
        if (r != SMS_EPARSE) fail_msg("token '%s' gave %d", bad[i], r);
    }
    assert_int_equal(sms_token_verify(NULL, 0, SECRET, NOW, &c), SMS_EPARSE);
    /* A valid header with a payload that is not JSON, correctly signed. */
    char tok[2048];
    make_token("{\"alg\":\"HS256\"}", "not json", SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EPARSE);
    /* Characters outside base64url in the signature. */
    make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1900000000}", SECRET, tok, sizeof tok);
    strcat(tok, "=");
    assert_int_equal(verify(tok, &c), SMS_EPARSE);
    /* Oversized. */
    static char huge[8192];
    memset(huge, 'a', sizeof huge - 1);
    huge[10] = '.';
    huge[20] = '.';
    assert_int_equal(sms_token_verify(huge, strlen(huge), SECRET, NOW, &c), SMS_EPARSE);
}

static void test_claims(void **state) {
    (void)state;
    char tok[2048], longsub[200];
    sms_token_claims_t c;
    memset(longsub, 'x', 128);
    longsub[128] = '\0';
    char payload[512];
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char *const bad[] = {
        "{\"role\":\"admin\",\"exp\":1900000000}",
        "{\"sub\":\"\",\"role\":\"admin\",\"exp\":1900000000}",
        "{\"sub\":42,\"role\":\"admin\",\"exp\":1900000000}",
        "{\"sub\":\"u\",\"exp\":1900000000}",
        "{\"sub\":\"u\",\"role\":\"teacher\",\"exp\":1900000000}",
        "{\"sub\":\"u\",\"role\":[\"admin\"],\"exp\":1900000000}",
        "{\"sub\":\"u\",\"role\":\"admin\"}",
        "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":\"1900000000\"}",
        "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1.9e9}",
        "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":true}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_token(hdr, bad[i], SECRET, tok, sizeof tok);
        int r = verify(tok, &c);
        if (r != SMS_EBADCLAIMS) fail_msg("claims %s gave %d", bad[i], r);
    }
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"role\":\"admin\",\"exp\":1900000000}", longsub);
    make_token(hdr, payload, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_EBADCLAIMS);
    longsub[127] = '\0'; /* 127 bytes: fits with its NUL */
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"role\":\"admin\",\"exp\":1900000000}", longsub);
    make_token(hdr, payload, SECRET, tok, sizeof tok);
    assert_int_equal(verify(tok, &c), SMS_OK);
    assert_int_equal(strlen(c.sub), 127);
}

static void test_mint_refuses(void **state) {
    (void)state;
    char *tok = (char *)1;
    char longsub[200];
    memset(longsub, 'x', 150);
    longsub[150] = '\0';
    assert_int_equal(sms_token_mint("u", "teacher", NOW, 60, SECRET, &tok), -1);
    assert_null(tok);
    assert_int_equal(sms_token_mint("", "admin", NOW, 60, SECRET, &tok), -1);
    assert_int_equal(sms_token_mint(longsub, "admin", NOW, 60, SECRET, &tok), -1);
    assert_int_equal(sms_token_mint("u", "admin", NOW, 60, "", &tok), -1);
    assert_int_equal(sms_token_mint("u", "admin", NOW, 0, SECRET, &tok), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_expiry),     cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_algorithms), cmocka_unit_test(test_malformed),  cmocka_unit_test(test_claims),
        cmocka_unit_test(test_mint_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
