/* test_password.c - common/password.c: argon2id hash/verify round trip,
 * wrong and empty passwords, malformed hashes, the dummy verification and
 * the rehash check when the parameters change. Cheap parameters: the cost
 * is the service's concern, not the wrapper's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "password.h"

static const sms_password_params_t cheap = {1, 8192};
static const sms_password_params_t other = {2, 8192};

static void test_round_trip(void **s) {
    (void)s;
    char h[SMS_PASSWORD_HASH_MAX];
    assert_int_equal(sms_password_hash("correct horse battery", 21, &cheap, h), 0);
    assert_memory_equal(h, "$argon2id$", 10);
    assert_null(strstr(h, "correct horse")); /* the hash carries no plaintext */
    assert_true(sms_password_verify(h, "correct horse battery", 21));
    assert_false(sms_password_verify(h, "correct horse batterY", 21));
    assert_false(sms_password_verify(h, "", 0));
}

static void test_salted(void **s) {
    (void)s;
    char a[SMS_PASSWORD_HASH_MAX], b[SMS_PASSWORD_HASH_MAX];
    assert_int_equal(sms_password_hash("same password!", 14, &cheap, a), 0);
    assert_int_equal(sms_password_hash("same password!", 14, &cheap, b), 0);
    assert_string_not_equal(a, b);
}

static void test_malformed(void **s) {
    (void)s;
    assert_false(sms_password_verify("", "x", 1));
    assert_false(sms_password_verify(NULL, "x", 1));
    assert_false(sms_password_verify("$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA", "x", 1));
    assert_false(sms_password_verify("$argon2id$garbage", "x", 1));
    char h[SMS_PASSWORD_HASH_MAX];
    static char big[SMS_PASSWORD_MAX_BYTES + 2];
    memset(big, 'a', sizeof big - 1);
    assert_int_equal(sms_password_hash(big, sizeof big - 1, &cheap, h), -1);
    sms_password_params_t bad = {0, 8192};
    assert_int_equal(sms_password_hash("whatever pass", 13, &bad, h), -1);
}

static void test_dummy(void **s) {
    (void)s;
    assert_false(sms_password_verify_dummy("sms dummy password: no account has it", 37, &cheap));
    assert_false(sms_password_verify_dummy("anything at all", 15, &cheap));
}

static void test_needs_rehash(void **s) {
    (void)s;
    char h[SMS_PASSWORD_HASH_MAX];
    assert_int_equal(sms_password_hash("a long password", 15, &cheap, h), 0);
    assert_false(sms_password_needs_rehash(h, &cheap));
    assert_true(sms_password_needs_rehash(h, &other));
    assert_true(sms_password_needs_rehash("", &cheap));
}

int main(void) {
    assert_int_equal(sms_password_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_salted),     cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_dummy),      cmocka_unit_test(test_needs_rehash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
