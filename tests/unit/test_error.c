/* test_error.c - common/error.h: one code space, one sms_strerror. Codes
 * are distinct, negative, out of errno's range when sms's own, and each has
 * its sentence; a -errno passes through to strerror. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "csv.h"
#include "envelope.h"
#include "error.h"
#include "kafka.h"
#include "number.h"
#include "signed_url.h"
#include "token.h"

static const int own[] = {SMS_EPARSE, SMS_EFIELD, SMS_ETYPE,  SMS_EWHOLE,  SMS_EQUEUE,    SMS_EQUOTE, SMS_EAFTER,
                          SMS_EBARE,  SMS_ETOOMANY, SMS_EBADALG, SMS_EBADSIG, SMS_EEXPIRED, SMS_EBADCLAIMS};
#define N_OWN (sizeof own / sizeof own[0])

static void test_codes_distinct_and_negative(void **state) {
    (void)state;
    for (size_t i = 0; i < N_OWN; i++) {
        assert_true(own[i] <= SMS_E_FIRST);
        assert_true(own[i] != SMS_ERANGE && own[i] != SMS_EINVAL);
        for (size_t j = i + 1; j < N_OWN; j++) assert_int_not_equal(own[i], own[j]);
    }
    assert_int_equal(SMS_OK, 0);
    assert_int_equal(SMS_ERANGE, -ERANGE);
    assert_int_equal(SMS_EINVAL, -EINVAL);
}

static void test_every_code_has_its_sentence(void **state) {
    (void)state;
    for (size_t i = 0; i < N_OWN; i++) {
        const char *s = sms_strerror(own[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = i + 1; j < N_OWN; j++) assert_string_not_equal(s, sms_strerror(own[j]));
    }
    assert_string_equal(sms_strerror(SMS_OK), "ok");
    assert_string_equal(sms_strerror(SMS_EQUOTE), "a quoted field is not closed");
    assert_string_equal(sms_strerror(SMS_ETOOMANY), "too many rows");
    assert_string_equal(sms_strerror(SMS_EBADSIG), "bad signature");
}

static void test_errno_passes_through(void **state) {
    (void)state;
    assert_string_equal(sms_strerror(-ENOENT), strerror(ENOENT));
    assert_string_equal(sms_strerror(SMS_ERANGE), "out of range");
    assert_string_equal(sms_strerror(SMS_EINVAL), strerror(EINVAL));
    assert_string_equal(sms_strerror(1), "unknown error");
    assert_string_equal(sms_strerror(SMS_E_FIRST - 999), "unknown error");
}

/* The modules answer in this space: a few real calls. */
static void test_modules_use_it(void **state) {
    (void)state;
    sms_event_t ev;
    assert_int_equal(sms_event_decode("\xc1", 1, &ev), SMS_EPARSE);
    sms_token_claims_t c;
    assert_int_equal(sms_token_verify("x", 1, "secret", 0, &c), SMS_EPARSE);
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    int64_t v;
    assert_int_equal(sms_number_int(&nil, 0, 10, &v), SMS_ETYPE);
    msgpack_object big = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 11};
    assert_int_equal(sms_number_int(&big, 0, 10, &v), SMS_ERANGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_distinct_and_negative),
        cmocka_unit_test(test_every_code_has_its_sentence),
        cmocka_unit_test(test_errno_passes_through),
        cmocka_unit_test(test_modules_use_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
