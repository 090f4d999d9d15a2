/* test_clock.c - RFC 3339 formatting and parsing (common/clock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "clock.h"

static int parse(const char *s, int64_t *ms) { return sms_rfc3339_parse(s, strlen(s), ms); }

static void test_parse_valid(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:00.001Z", 1},
        {"2025-01-01T10:30:00.123Z", 1735727400123},
        {"2025-01-01t10:30:00.123z", 1735727400123},
        {"2025-01-01T12:30:00.123+02:00", 1735727400123},
        {"2025-01-01T05:00:00.123-05:30", 1735727400123},
        {"2025-01-01T10:30:00.1239999Z", 1735727400123}, /* truncated, not rounded */
        {"2025-01-01T10:30:00.1Z", 1735727400100},
        {"2024-02-29T00:00:00Z", 1709164800000},
        {"2000-02-29T23:59:59Z", 951868799000},
        {"1969-12-31T23:59:59Z", -1000},
        {"2016-12-31T23:59:60Z", 1483228800000}, /* leap second: the next second */
        {"9999-12-31T23:59:59.999Z", 253402300799999},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -42;
        int rc = parse(cases[i].text, &ms);
        if (rc != 0 || ms != cases[i].ms) fail_msg("%s: rc %d ms %lld", cases[i].text, rc, (long long)ms);
    }
}

static void test_parse_invalid(void **state) {
    (void)state;
    static const char *const bad[] = {
        "", "2025", "2025-01-01", "2025-01-01T10:30:00", "2025-01-01 10:30:00Z", "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z", "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
        "2025-01-01T24:00:00Z", "2025-01-01T10:60:00Z", "2025-01-01T10:30:61Z", "2025-01-01T10:30:00.Z",
        "2025-01-01T10:30:00+0200", "2025-01-01T10:30:00+02", "2025-01-01T10:30:00+24:00",
        "2025-01-01T10:30:00Zjunk", "25-01-01T10:30:00Z", "2025-1-01T10:30:00Z", "+2025-01-01T10:30:00Z",
        "2025-01-01T10:30:00.12a3Z", "2025-01-01T10:30:00 Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -42;
        int rc = parse(bad[i], &ms);
        if (rc != -EINVAL || ms != -42) fail_msg("%s accepted (rc %d, ms %lld)", bad[i], rc, (long long)ms);
    }
}

static void test_length_is_respected(void **state) {
    (void)state;
    int64_t ms = 0;
    const char *s = "2025-01-01T10:30:00Z trailing";
    assert_int_equal(sms_rfc3339_parse(s, 20, &ms), 0);
    assert_int_equal(ms, 1735727400000);
    assert_int_equal(sms_rfc3339_parse(s, 19, &ms), -EINVAL);
}

static void test_round_trip(void **state) {
    (void)state;
    static const int64_t values[] = {0, 1, 999, 1735727400123, 951868799000, 253402300799999, -1000, -1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[SMS_RFC3339_LEN];
        int64_t back = 0;
        sms_rfc3339(values[i], out);
        assert_int_equal(parse(out, &back), 0);
        assert_int_equal(back, values[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
