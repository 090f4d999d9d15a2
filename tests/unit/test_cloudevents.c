/* test_cloudevents.c - common/cloudevents.c: the ce_* Kafka headers built
 * from the golden grade.released vector (schemas/vectors), the ce_type and
 * ce_time mappings, and what it refuses (no header is added then). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevents.h"
#include "error.h"
#include "unit_helpers.h"

static void assert_header(rd_kafka_headers_t *h, const char *name, const char *want) {
    const void *v;
    size_t n;
    assert_int_equal(rd_kafka_header_get_last(h, name, &v, &n), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
}

static void test_grade_released_vector(void **state) {
    (void)state;
    size_t len;
    char *bytes = unit_vector("grade.released.v1", "msgpack", &len);
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    assert_int_equal(sms_ce_headers_add(h, "grading", bytes, len), SMS_OK);
    assert_int_equal(rd_kafka_header_cnt(h), 6);
    assert_header(h, "ce_specversion", "1.0");
    assert_header(h, "ce_id", "01JDQ2C4D5E6F7G8H9J0K1M2N3");
    assert_header(h, "ce_source", "/sms/grading");
    assert_header(h, "ce_type", "org.sms.grade.released.v1");
    assert_header(h, "ce_time", "2025-11-25T12:30:00.000Z");
    assert_header(h, "ce_subject", "01JDQ1A2B3C4D5E6F7G8H9J0KM");
    rd_kafka_headers_destroy(h);
    free(bytes);
}

static void test_type_and_time(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(sms_ce_type(out, sizeof out, SMS_STR("class.students_enrolled"), 2), 34);
    assert_string_equal(out, "org.sms.class.students_enrolled.v2");
    assert_int_equal(sms_ce_type(out, 10, SMS_STR("class.created"), 1), SMS_EFIELD);

    assert_int_equal(sms_ce_time(out, sizeof out, 0), 24);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    assert_int_equal(sms_ce_time(out, sizeof out, 1764073800007), 24);
    assert_string_equal(out, "2025-11-25T12:30:00.007Z");
    assert_int_equal(sms_ce_time(out, sizeof out, INT64_C(253402300799999)), 24);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    assert_int_equal(sms_ce_time(out, sizeof out, INT64_C(253402300800000)), SMS_EFIELD);
    assert_int_equal(sms_ce_time(out, sizeof out, -1), SMS_EFIELD);
    assert_int_equal(sms_ce_time(out, 24, 0), SMS_EFIELD); /* no room for the NUL */
}

static void test_refuses_non_envelopes(void **state) {
    (void)state;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    const unsigned char not_msgpack[] = {0xc1};
    const unsigned char empty_map[] = {0x80};
    assert_int_equal(sms_ce_headers_add(h, "classes", not_msgpack, sizeof not_msgpack), SMS_EPARSE);
    assert_int_equal(sms_ce_headers_add(h, "classes", empty_map, sizeof empty_map), SMS_EFIELD);
    assert_int_equal(rd_kafka_header_cnt(h), 0);
    rd_kafka_headers_destroy(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grade_released_vector),
        cmocka_unit_test(test_type_and_time),
        cmocka_unit_test(test_refuses_non_envelopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
