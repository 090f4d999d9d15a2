/* test_quarantine.c - common/quarantine.c: which Redis errors quarantine an
 * event (those of the command itself) and which are retried (Redis's state),
 * and the position format the quarantine hash is keyed by. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "quarantine.h"

static void test_deterministic_errors(void **state) {
    (void)state;
    /* The poisoned grade: Lua compared a number with nil. */
    assert_true(sms_quarantine_is_deterministic(
        "ERR user_script:18: attempt to compare number with nil script: 0f1e, on @user_script:18."));
    assert_true(sms_quarantine_is_deterministic("ERR Error running script (call to f_x): @user_script:1: bad"));
    assert_true(sms_quarantine_is_deterministic("WRONGTYPE Operation against a key holding the wrong kind of value"));
    assert_true(sms_quarantine_is_deterministic("ERR value is not an integer or out of range"));
}

static void test_transient_errors(void **state) {
    (void)state;
    assert_false(sms_quarantine_is_deterministic(NULL));
    assert_false(sms_quarantine_is_deterministic("OOM command not allowed when used memory > 'maxmemory'."));
    assert_false(sms_quarantine_is_deterministic("LOADING Redis is loading the dataset in memory"));
    assert_false(sms_quarantine_is_deterministic("BUSY Redis is busy running a script."));
    assert_false(sms_quarantine_is_deterministic("NOSCRIPT No matching script. Please use EVAL."));
    assert_false(sms_quarantine_is_deterministic("READONLY You can't write against a read only replica."));
    assert_false(sms_quarantine_is_deterministic("MISCONF Redis is configured to save RDB snapshots"));
    assert_false(sms_quarantine_is_deterministic("ERR max number of clients reached"));
}

static void test_position(void **state) {
    (void)state;
    char buf[64];
    size_t n = sms_quarantine_position(buf, sizeof buf, "sms.events.grades", 3, 1234567890123LL);
    assert_string_equal(buf, "sms.events.grades:3:1234567890123");
    assert_int_equal(n, strlen(buf));
    char small[8];
    n = sms_quarantine_position(small, sizeof small, "sms.events.grades", 3, 1);
    assert_int_equal(n, sizeof small - 1);
    assert_int_equal(small[n], '\0');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_errors),
        cmocka_unit_test(test_transient_errors),
        cmocka_unit_test(test_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
