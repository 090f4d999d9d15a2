/* test_verdict.c - common/verdict.c: a decider's failure and field errors
 * (the listing limit, the total count, long field names cut) and the copy
 * into the worker's decision. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "verdict.h"
#include "worker.h"

static void test_fail_and_errors(void **state) {
    (void)state;
    sms_verdict_t v;
    memset(&v, 0, sizeof v);
    assert_false(sms_verdict_failed(&v));
    sms_verdict_fail(&v, 422, "validation", "%d problems", 2);
    sms_verdict_error(&v, "title", 5, "must be %d to %d characters long", 1, 200);
    sms_verdict_error(&v, "due_atXXX", 6, "is required");
    assert_true(sms_verdict_failed(&v));
    assert_int_equal(v.status, 422);
    assert_string_equal(v.problem_code, "validation");
    assert_string_equal(v.detail, "2 problems");
    assert_int_equal(v.n_errors, 2);
    assert_string_equal(v.errors[0].field, "title");
    assert_string_equal(v.errors[0].message, "must be 1 to 200 characters long");
    assert_string_equal(v.errors[1].field, "due_at"); /* field_len bytes only */
}

static void test_limit_and_total(void **state) {
    (void)state;
    sms_verdict_t v;
    memset(&v, 0, sizeof v);
    v.limit = 16;
    for (int i = 0; i < 40; i++) sms_verdict_error(&v, "f", 1, "row %d", i);
    assert_int_equal(v.n_errors, 16);
    assert_int_equal(v.n_errors_total, 40);
    assert_string_equal(v.errors[15].message, "row 15");
    /* A zeroed verdict lists up to SMS_VERDICT_MAX_ERRORS. */
    memset(&v, 0, sizeof v);
    for (int i = 0; i < 100; i++) sms_verdict_error(&v, "f", 1, "row %d", i);
    assert_int_equal(v.n_errors, SMS_VERDICT_MAX_ERRORS);
    assert_int_equal(v.n_errors_total, 100);
}

static void test_long_field_cut(void **state) {
    (void)state;
    sms_verdict_t v;
    memset(&v, 0, sizeof v);
    char field[200];
    memset(field, 'k', sizeof field);
    sms_verdict_error(&v, field, sizeof field, "unknown field");
    assert_int_equal(strlen(v.errors[0].field), SMS_VERDICT_FIELD_MAX);
}

static void decision_free_errors(sms_decision_t *d) {
    for (size_t i = 0; i < d->n_errors; i++) {
        sms_free((char *)d->errors[i].field);
        sms_free((char *)d->errors[i].message);
    }
    sms_free(d->errors);
}

static void test_to_decision(void **state) {
    (void)state;
    sms_verdict_t v;
    memset(&v, 0, sizeof v);
    sms_verdict_fail(&v, 404, "not_found", "no class %s", "C1");
    sms_verdict_error(&v, "class_id", 8, "no such class");
    v.stale = true;
    sms_decision_t d;
    memset(&d, 0, sizeof d);
    sms_verdict_to_decision(&v, &d);
    assert_int_equal(d.status, 404);
    assert_string_equal(d.problem_code, "not_found");
    assert_string_equal(d.detail, "no class C1");
    assert_true(d.stale);
    assert_int_equal(d.n_errors, 1);
    assert_string_equal(d.errors[0].field, "class_id");
    assert_string_equal(d.errors[0].message, "no such class");
    decision_free_errors(&d);

    v.stale = false;
    memset(&d, 0, sizeof d);
    sms_verdict_to_decision(&v, &d);
    assert_false(d.stale);
    decision_free_errors(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_and_errors),
        cmocka_unit_test(test_limit_and_total),
        cmocka_unit_test(test_long_field_cut),
        cmocka_unit_test(test_to_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
