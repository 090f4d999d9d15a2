/* test_signed_url.c - common/signed_url: signatures over method, path,
 * expiry, size and bound data; verification (constant-time compare,
 * expiry only for genuine URLs, every part tamper-evident); the URL
 * builder and encoder; and the upload key that config.c derives from
 * SMS_JWT_SECRET. The expected signatures were computed with Python's hmac
 * from the message layout documented in signed_url.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "signed_url.h"

#define KEY "test-secret"
#define KLEN (sizeof KEY - 1)
#define PATH "/uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV"
#define BOUND "type=application/pdf\nname=essay.pdf\nuser=stu-1"
#define EXPIRES 1700000000

static sms_signed_url_t put_url(void) {
    return (sms_signed_url_t){.method = "PUT", .path = PATH, .expires = EXPIRES, .size = 42, .bound = BOUND};
}

static void test_known_vectors(void **state) {
    (void)state;
    char sig[SMS_SIGNED_URL_SIG_LEN + 1];
    sms_signed_url_t u = put_url();
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &u, sig), 0);
    assert_string_equal(sig, "4c0d5e01eecbd8d5d19ace8ad9defcb40a8f9da93c8a3cac0504e1a02e9e17d0");
    sms_signed_url_t g = {.method = "GET", .path = "/files/01ARZ3NDEKTSV4RRFFQ69G5FAV", .expires = EXPIRES, .size = -1};
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &g, sig), 0);
    assert_string_equal(sig, "d616c3aebec1ae746203c66ba07b50dbebeec754f573c7752952f473c9e9050a");
}

static void test_roundtrip_and_expiry(void **state) {
    (void)state;
    char sig[SMS_SIGNED_URL_SIG_LEN + 1];
    sms_signed_url_t u = put_url();
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &u, sig), 0);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &u, sig, EXPIRES - 600), SMS_OK);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &u, sig, EXPIRES), SMS_OK); /* inclusive */
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &u, sig, EXPIRES + 1), SMS_EEXPIRED);
    /* Hex of either case is the same signature. */
    for (char *p = sig; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &u, sig, EXPIRES), SMS_OK);
}

/* Changing any one part of a genuine URL makes it BAD, never EXPIRED, even
 * when it is also past its expiry. */
static void test_tamper_each_part(void **state) {
    (void)state;
    char sig[SMS_SIGNED_URL_SIG_LEN + 1];
    sms_signed_url_t good = put_url();
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &good, sig), 0);
    sms_signed_url_t t;

    t = good, t.method = "GET";
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.path = "/uploads/01ARZ3NDEKTSV4RRFFQ69G5FAW";
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.path = "/files/01ARZ3NDEKTSV4RRFFQ69G5FAV";
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.expires = EXPIRES + 3600; /* stretching the lifetime */
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.expires = EXPIRES - 1; /* tampered and expired: still just BAD */
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES + 10), SMS_EBADSIG);
    t = good, t.size = 43;
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.size = -1; /* dropping the size binding */
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.bound = "type=text/html\nname=essay.pdf\nuser=stu-1";
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    t = good, t.bound = NULL;
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &t, sig, EXPIRES), SMS_EBADSIG);
    assert_int_equal(sms_signed_url_verify("other-secret", 12, &good, sig, EXPIRES), SMS_EBADSIG);

    /* The signature itself: each position flipped, cut short, too long, not hex, absent. */
    for (int i = 0; i < SMS_SIGNED_URL_SIG_LEN; i++) {
        char bad[SMS_SIGNED_URL_SIG_LEN + 1];
        memcpy(bad, sig, sizeof bad);
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, bad, EXPIRES), SMS_EBADSIG);
    }
    char buf[SMS_SIGNED_URL_SIG_LEN + 2];
    memcpy(buf, sig, SMS_SIGNED_URL_SIG_LEN - 1);
    buf[SMS_SIGNED_URL_SIG_LEN - 1] = '\0';
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, buf, EXPIRES), SMS_EBADSIG);
    snprintf(buf, sizeof buf, "%s0", sig);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, buf, EXPIRES), SMS_EBADSIG);
    memcpy(buf, sig, sizeof sig);
    buf[5] = 'g';
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, buf, EXPIRES), SMS_EBADSIG);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, "", EXPIRES), SMS_EBADSIG);
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &good, NULL, EXPIRES), SMS_EBADSIG);
}

static void test_refuses_ambiguous_parts(void **state) {
    (void)state;
    char sig[SMS_SIGNED_URL_SIG_LEN + 1] = "x";
    sms_signed_url_t u = put_url();
    u.path = "/uploads/a\n99";
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &u, sig), -EINVAL);
    assert_string_equal(sig, "");
    assert_int_equal(sms_signed_url_verify(KEY, KLEN, &u, "00", EXPIRES), SMS_EBADSIG);
    u = put_url();
    u.method = NULL;
    assert_int_equal(sms_signed_url_sign(KEY, KLEN, &u, sig), -EINVAL);
    u = put_url();
    assert_int_equal(sms_signed_url_sign("", 0, &u, sig), -EINVAL); /* no key: no URL */
    assert_int_equal(sms_signed_url_verify("", 0, &u, "4c0d5e01eecbd8d5d19ace8ad9defcb40a8f9da93c8a3cac0504e1a02e9e17d0",
                                           EXPIRES),
                     SMS_EBADSIG);
}

static void test_build_and_encode(void **state) {
    (void)state;
    sms_buf_t b;
    sms_buf_init(&b);
    sms_signed_url_t u = put_url();
    assert_int_equal(sms_signed_url_build(KEY, KLEN, &u, "&type=application%2Fpdf", &b), 0);
    assert_string_equal(b.data, PATH "?expires=1700000000&size=42&type=application%2Fpdf"
                                     "&sig=4c0d5e01eecbd8d5d19ace8ad9defcb40a8f9da93c8a3cac0504e1a02e9e17d0");
    sms_buf_reset(&b);
    sms_signed_url_t g = {.method = "GET", .path = "/files/01ARZ3NDEKTSV4RRFFQ69G5FAV", .expires = EXPIRES, .size = -1};
    assert_int_equal(sms_signed_url_build(KEY, KLEN, &g, NULL, &b), 0);
    assert_string_equal(b.data, "/files/01ARZ3NDEKTSV4RRFFQ69G5FAV?expires=1700000000"
                                "&sig=d616c3aebec1ae746203c66ba07b50dbebeec754f573c7752952f473c9e9050a");
    sms_buf_reset(&b);
    assert_int_equal(sms_signed_url_build("", 0, &g, NULL, &b), -EINVAL);
    assert_int_equal(b.len, 0);
    const char raw[] = "a b/c+d&e=f\"\xc3\xa9~_.-Z9";
    sms_url_encode(&b, raw, sizeof raw - 1);
    assert_string_equal(b.data, "a%20b%2Fc%2Bd%26e%3Df%22%C3%A9~_.-Z9");
    sms_buf_close(&b);
}

/* Without SMS_UPLOAD_SECRET the key is hex(HMAC-SHA256(SMS_JWT_SECRET,
 * "sms upload url signing key v1")); with it, it is taken as given. */
static void test_config_upload_key(void **state) {
    (void)state;
    sms_config_t cfg;
    char err[128];
    setenv("SMS_JWT_SECRET", "jwt-secret", 1);
    unsetenv("SMS_UPLOAD_SECRET");
    unsetenv("SMS_UPLOAD_LIMIT");
    unsetenv("SMS_UPLOAD_TTL_S");
    assert_int_equal(sms_config_load(&cfg, err, sizeof err), 0);
    assert_string_equal(cfg.upload_secret, "35a99e1c67d184b9b7be3dc9d32b0e960cde1fb5a2872275a6289e5a914128ec");
    assert_int_equal(cfg.upload_limit, 26214400);
    assert_int_equal(cfg.upload_ttl_s, 900);
    setenv("SMS_UPLOAD_SECRET", "explicit", 1);
    setenv("SMS_UPLOAD_TTL_S", "0", 1);
    assert_int_equal(sms_config_load(&cfg, err, sizeof err), -1); /* out of bounds */
    setenv("SMS_UPLOAD_TTL_S", "60", 1);
    assert_int_equal(sms_config_load(&cfg, err, sizeof err), 0);
    assert_string_equal(cfg.upload_secret, "explicit");
    assert_int_equal(cfg.upload_ttl_s, 60);
    unsetenv("SMS_UPLOAD_SECRET");
    unsetenv("SMS_UPLOAD_TTL_S");
    unsetenv("SMS_JWT_SECRET");
    assert_int_equal(sms_config_load(&cfg, err, sizeof err), 0);
    assert_string_equal(cfg.upload_secret, ""); /* nothing to derive from */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_roundtrip_and_expiry),
        cmocka_unit_test(test_tamper_each_part),
        cmocka_unit_test(test_refuses_ambiguous_parts),
        cmocka_unit_test(test_build_and_encode),
        cmocka_unit_test(test_config_upload_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
