/* test_decision.c - common/decision.c: a decider's failure and field errors
 * (the listing limit, the total count, long field names cut), stale
 * failures, and handing a decision over (sms_decision_move). No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "decision.h"
#include "text.h"

static void test_fail_and_errors(void **state) {
    (void)state;
    sms_decision_t d;
    sms_decision_init(&d);
    assert_int_equal(d.status, 500);
    sms_decision_fail(&d, 422, "validation", "%d problems", 2);
    sms_decision_error(&d, "title", 5, "must be %d to %d characters long", 1, 200);
    sms_decision_error(&d, "due_atXXX", 6, "is required");
    assert_int_equal(d.status, 422);
    assert_string_equal(d.problem_code, "validation");
    assert_string_equal(d.detail, "2 problems");
    assert_false(d.stale);
    assert_int_equal(d.n_errors, 2);
    assert_string_equal(d.errors[0].field, "title");
    assert_string_equal(d.errors[0].message, "must be 1 to 200 characters long");
    assert_string_equal(d.errors[1].field, "due_at"); /* field_len bytes only */
    sms_decision_close(&d);
}

static void test_limit_and_total(void **state) {
    (void)state;
    sms_decision_t d;
    sms_decision_init(&d);
    d.errors_limit = 16;
    for (int i = 0; i < 40; i++) sms_decision_error(&d, "f", 1, "row %d", i);
    assert_int_equal(d.n_errors, 16);
    assert_int_equal(d.n_errors_total, 40);
    assert_string_equal(d.errors[15].message, "row 15");
    sms_decision_close(&d);
    /* As initialised it lists up to SMS_DECISION_MAX_ERRORS. */
    sms_decision_init(&d);
    for (int i = 0; i < 100; i++) sms_decision_error(&d, "f", 1, "row %d", i);
    assert_int_equal(d.n_errors, SMS_DECISION_MAX_ERRORS);
    assert_int_equal(d.n_errors_total, 100);
    sms_decision_close(&d);
}

static void test_long_field_cut(void **state) {
    (void)state;
    sms_decision_t d;
    sms_decision_init(&d);
    char field[200];
    memset(field, 'k', sizeof field);
    sms_decision_error(&d, field, sizeof field, "unknown field");
    assert_int_equal(strlen(d.errors[0].field), 64);
    sms_decision_close(&d);
}

static void test_stale(void **state) {
    (void)state;
    sms_decision_t d;
    sms_decision_init(&d);
    sms_decision_stale(&d, 404, "not_found", "no class %s", "C1");
    assert_true(d.stale);
    assert_int_equal(d.status, 404);
    assert_string_equal(d.detail, "no class C1");
    sms_decision_close(&d);
}

/* A detail or message cut at its buffer never ends inside a UTF-8 sequence
 * (an id of 200 "é" echoed into "no class %s" was cut mid-character). */
static void test_cut_keeps_utf8(void **state) {
    (void)state;
    char id[401];
    for (int i = 0; i < 200; i++) id[2 * i] = (char)0xc3, id[2 * i + 1] = (char)0xa9;
    id[400] = '\0';
    for (int shift = 0; shift < 2; shift++) {
        sms_decision_t d;
        sms_decision_init(&d);
        sms_decision_fail(&d, 404, "not_found", "%sno class %s", shift ? "x" : "", id);
        assert_int_not_equal(sms_text_chars(d.detail, strlen(d.detail)), (size_t)-1);
        assert_true(strlen(d.detail) >= sizeof d.detail - 2);
        sms_decision_error(&d, id + shift * 0, 400, "bad %s%s", shift ? "x" : "", id);
        assert_int_not_equal(sms_text_chars(d.errors[0].message, strlen(d.errors[0].message)), (size_t)-1);
        assert_int_not_equal(sms_text_chars(d.errors[0].field, strlen(d.errors[0].field)), (size_t)-1);
        sms_decision_close(&d);
    }
    assert_int_equal(sms_text_utf8_cut("ab\xc3", 3), 2);
    assert_int_equal(sms_text_utf8_cut("ab\xe2\x82", 4), 2);
    assert_int_equal(sms_text_utf8_cut("ab\xe2\x82\xac", 5), 5);
    assert_int_equal(sms_text_utf8_cut("\xf0\x9f\x98", 3), 0);
    assert_int_equal(sms_text_utf8_cut("abc", 3), 3);
    assert_int_equal(sms_text_utf8_cut("", 0), 0);
}

/* A batch keeps a validation failure and hands it to the worker's decision. */
static void test_move(void **state) {
    (void)state;
    sms_decision_t src, dst;
    sms_decision_init(&src);
    sms_decision_init(&dst);
    sms_decision_fail(&src, 400, "validation", "bad");
    sms_decision_error(&src, "name", 4, "is required");
    msgpack_packer pk = sms_decision_body(&dst); /* dst's old buffers are freed by the move */
    msgpack_pack_nil(&pk);
    sms_decision_move(&dst, &src);
    assert_int_equal(dst.status, 400);
    assert_int_equal(dst.n_errors, 1);
    assert_string_equal(dst.errors[0].field, "name");
    assert_int_equal(src.n_errors, 0);
    assert_null(src.errors);
    sms_decision_init(&src);
    sms_decision_close(&src);
    sms_decision_close(&dst);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_and_errors), cmocka_unit_test(test_limit_and_total),
        cmocka_unit_test(test_long_field_cut),  cmocka_unit_test(test_stale),
        cmocka_unit_test(test_move),            cmocka_unit_test(test_cut_keeps_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
