/* test_positions.c - sms_positions_collect (common/view_tail.c): the positions a
 * run of events reaches, as project_many implementations record them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker.h"

static void test_last_offset_per_partition(void **state) {
    (void)state;
    const int32_t parts[] = {0, 1, -1, 0, 1, 2};
    const int64_t offs[] = {10, 20, 99, 11, 25, 5};
    sms_positions_t p;
    assert_int_equal(sms_positions_collect(&p, parts, offs, 6), 6);
    assert_int_equal(p.k, 3);
    assert_int_equal(p.partition[0], 0);
    assert_int_equal(p.next[0], 12);
    assert_int_equal(p.partition[1], 1);
    assert_int_equal(p.next[1], 26);
    assert_int_equal(p.partition[2], 2);
    assert_int_equal(p.next[2], 6);
}

static void test_only_own_writes(void **state) {
    (void)state;
    const int32_t parts[] = {-1, -1};
    const int64_t offs[] = {7, 8};
    sms_positions_t p;
    assert_int_equal(sms_positions_collect(&p, parts, offs, 2), 2);
    assert_int_equal(p.k, 0);
}

static void test_stops_before_one_partition_too_many(void **state) {
    (void)state;
    int32_t parts[SMS_POSITIONS_MAX + 3];
    int64_t offs[SMS_POSITIONS_MAX + 3];
    for (int i = 0; i < SMS_POSITIONS_MAX + 3; i++) {
        parts[i] = i == SMS_POSITIONS_MAX + 1 ? 0 : i; /* a known partition after the limit does not count */
        offs[i] = 100 + i;
    }
    sms_positions_t p;
    assert_int_equal(sms_positions_collect(&p, parts, offs, SMS_POSITIONS_MAX + 3), SMS_POSITIONS_MAX);
    assert_int_equal(p.k, SMS_POSITIONS_MAX);
    assert_int_equal(p.next[SMS_POSITIONS_MAX - 1], 100 + SMS_POSITIONS_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_offset_per_partition),
        cmocka_unit_test(test_only_own_writes),
        cmocka_unit_test(test_stops_before_one_partition_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
