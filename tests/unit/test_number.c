/* test_number.c - common/number.c: the strict readers of client numbers.
 * Numbers go the way a request body goes (JSON text -> cJSON -> msgpack via
 * json_msgpack.c -> reader), plus msgpack values the JSON edge cannot make
 * (u64 past int64, NaN) and decimal text (query parameters). No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json_msgpack.h"
#include "number.h"

/* The msgpack value a JSON number (or any JSON value) becomes at the edge. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_unpacked u;
} edge_t;

static const msgpack_object *edge(edge_t *e, const char *json) {
    char text[400];
    snprintf(text, sizeof text, "[%s]", json);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    msgpack_sbuffer_init(&e->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &e->sb, msgpack_sbuffer_write);
    assert_int_equal(sms_json_to_msgpack(cJSON_GetArrayItem(j, 0), &pk), 0);
    cJSON_Delete(j);
    msgpack_unpacked_init(&e->u);
    assert_int_equal(msgpack_unpack_next(&e->u, e->sb.data, e->sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    return &e->u.data;
}

static void edge_free(edge_t *e) {
    msgpack_unpacked_destroy(&e->u);
    msgpack_sbuffer_destroy(&e->sb);
}

/* sms_number_hundredths of a JSON number against [min_h, max_h]; *out is
 * left at -777 when the reader refuses. */
static int hundredths(const char *json, int64_t min_h, int64_t max_h, int64_t *out) {
    edge_t e;
    *out = -777;
    int rc = sms_number_hundredths(edge(&e, json), min_h, max_h, out);
    edge_free(&e);
    return rc;
}

static int integer(const char *json, int64_t min, int64_t max, int64_t *out) {
    edge_t e;
    *out = -777;
    int rc = sms_number_int(edge(&e, json), min, max, out);
    edge_free(&e);
    return rc;
}

static int text(const char *s, int64_t min, int64_t max, int64_t *out) {
    *out = -777;
    return sms_number_parse_int(s, strlen(s), min, max, out);
}

/* What the JSON edge makes of the hostile values: the premise of the rest. */
static void test_edge_types(void **state) {
    (void)state;
    static const struct {
        const char *json;
        msgpack_object_type type;
    } cases[] = {
        {"1e17", MSGPACK_OBJECT_POSITIVE_INTEGER},   /* whole and < 2^63: an int */
        {"9007199254740993", MSGPACK_OBJECT_POSITIVE_INTEGER}, /* already 2^53 here */
        {"1e308", MSGPACK_OBJECT_FLOAT64},
        {"9223372036854775808", MSGPACK_OBJECT_FLOAT64},  /* 2^63 */
        {"18446744073709551616", MSGPACK_OBJECT_FLOAT64}, /* 2^64 */
        {"100000000000000000000", MSGPACK_OBJECT_FLOAT64},
        {"1e400", MSGPACK_OBJECT_FLOAT64},                /* strtod: infinity */
        {"-0", MSGPACK_OBJECT_POSITIVE_INTEGER},          /* the int 0 */
        {"-0.0", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"5e-324", MSGPACK_OBJECT_FLOAT64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        edge_t e;
        const msgpack_object *o = edge(&e, cases[i].json);
        if (o->type != cases[i].type) fail_msg("%s became msgpack type %d", cases[i].json, (int)o->type);
        if (i == 1) assert_int_equal(o->via.u64, UINT64_C(9007199254740992));
        if (i == 6) assert_true(isinf(o->via.f64));
        edge_free(&e);
    }
}

/* A score against max_score 100 (10000 hundredths). */
static void test_hundredths_hostile(void **state) {
    (void)state;
    static const char *const out_of_range[] = {
        "1e17", "1e308", "-1e308", "9007199254740993", "9223372036854775808", "18446744073709551616",
        "100000000000000000000", "-9223372036854775809", "1e16", "92233720368547758.08", "-1", "-0.005",
        "100.005", "100.01", "101",
    };
    int64_t h;
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        int rc = hundredths(out_of_range[i], 0, 10000, &h);
        if (rc != SMS_ERANGE) fail_msg("%s: rc %d, h %lld", out_of_range[i], rc, (long long)h);
        assert_int_equal(h, -777);
    }
    static const char *const not_numbers[] = {"1e400", "-1e400", "\"90\"", "null", "true", "[1]", "{}"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        int rc = hundredths(not_numbers[i], 0, 10000, &h);
        if (rc != SMS_ETYPE) fail_msg("%s: rc %d", not_numbers[i], rc);
    }
    assert_int_equal(sms_number_hundredths(NULL, 0, 10000, &h), SMS_ETYPE);
}

static void test_hundredths_values(void **state) {
    (void)state;
    static const struct {
        const char *json;
        int64_t h;
    } ok[] = {
        {"100", 10000}, {"100.0", 10000}, {"100.004", 10000}, {"99.995", 10000}, {"0", 0},
        {"-0", 0}, {"-0.0", 0}, {"-0.004", 0}, {"5e-324", 0}, {"2.2250738585072014e-308", 0},
        {"87.5", 8750}, {"65.25", 6525}, {"0.01", 1}, {"0.015", 2}, {"1e2", 10000}, {"1E-2", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t h;
        int rc = hundredths(ok[i].json, 0, 10000, &h);
        if (rc != SMS_OK || h != ok[i].h) fail_msg("%s: rc %d, h %lld", ok[i].json, rc, (long long)h);
    }
    /* A max_score's lower bound of one hundredth: tiny values round to 0 and fail. */
    int64_t h;
    assert_int_equal(hundredths("5e-324", 1, 100000000, &h), SMS_ERANGE);
    assert_int_equal(hundredths("0.004", 1, 100000000, &h), SMS_ERANGE);
    assert_int_equal(hundredths("0.005", 1, 100000000, &h), SMS_OK);
    assert_int_equal(h, 1);
    assert_int_equal(hundredths("1000000", 1, 100000000, &h), SMS_OK);
    assert_int_equal(h, 100000000);
    assert_int_equal(hundredths("1000000.01", 1, 100000000, &h), SMS_ERANGE);
}

/* Values only a non-JSON client could put on the bus, and bounds past 2^53. */
static void test_hundredths_raw(void **state) {
    (void)state;
    int64_t h = -777;
    msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = UINT64_MAX};
    assert_int_equal(sms_number_hundredths(&o, 0, INT64_MAX, &h), SMS_ERANGE);
    o.via.u64 = (uint64_t)INT64_MAX + 1;
    assert_int_equal(sms_number_hundredths(&o, 0, INT64_MAX, &h), SMS_ERANGE);
    o = (msgpack_object){.type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = INT64_MIN};
    assert_int_equal(sms_number_hundredths(&o, INT64_MIN, 0, &h), SMS_ERANGE);
    o = (msgpack_object){.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = NAN};
    assert_int_equal(sms_number_hundredths(&o, 0, 10000, &h), SMS_ETYPE);
    o.via.f64 = -INFINITY;
    assert_int_equal(sms_number_hundredths(&o, INT64_MIN, INT64_MAX, &h), SMS_ETYPE);
    o = (msgpack_object){.type = MSGPACK_OBJECT_FLOAT32, .via.f64 = 0.5};
    assert_int_equal(sms_number_hundredths(&o, 0, 10000, &h), SMS_OK);
    assert_int_equal(h, 50);
    /* Bounds are clamped to +-(2^53 - 1) hundredths, so the product never overflows. */
    assert_int_equal(sms_number_double_hundredths(1e15, INT64_MIN, INT64_MAX, &h), SMS_ERANGE);
    assert_int_equal(sms_number_double_hundredths(-1e15, INT64_MIN, INT64_MAX, &h), SMS_ERANGE);
    assert_int_equal(sms_number_double_hundredths(1e308, INT64_MIN, INT64_MAX, &h), SMS_ERANGE);
    assert_int_equal(sms_number_double_hundredths(9e13, INT64_MIN, INT64_MAX, &h), SMS_OK);
    assert_int_equal(h, INT64_C(9000000000000000));
    assert_int_equal(sms_number_double_hundredths(-0.0, 0, 0, &h), SMS_OK);
    assert_int_equal(h, 0);
}

static void test_int(void **state) {
    (void)state;
    int64_t v;
    static const char *const out_of_range[] = {
        "1e17", "1e308", "-1e308", "9007199254740993", "9223372036854775808", "18446744073709551616",
        "100000000000000000000", "0", "101", "-1", "-9223372036854775809",
    };
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        int rc = integer(out_of_range[i], 1, 100, &v);
        if (rc != SMS_ERANGE) fail_msg("%s: rc %d", out_of_range[i], rc);
        assert_int_equal(v, -777);
    }
    /* Past 2^53 nothing is in range, whatever the caller's bounds. */
    assert_int_equal(integer("9007199254740993", 0, INT64_MAX, &v), SMS_ERANGE);
    assert_int_equal(integer("9007199254740991", 0, INT64_MAX, &v), SMS_OK);
    assert_int_equal(v, SMS_NUMBER_SAFE_MAX);
    assert_int_equal(integer("-9007199254740993", INT64_MIN, 0, &v), SMS_ERANGE);
    assert_int_equal(integer("1", 1, 100, &v), SMS_OK);
    assert_int_equal(v, 1);
    assert_int_equal(integer("100", 1, 100, &v), SMS_OK);
    assert_int_equal(v, 100);
    assert_int_equal(integer("1e2", 1, 100, &v), SMS_OK);
    assert_int_equal(v, 100);
    assert_int_equal(integer("100.0", 1, 100, &v), SMS_OK);
    assert_int_equal(v, 100);
    assert_int_equal(integer("-0", 0, 30, &v), SMS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(integer("-0.0", 0, 30, &v), SMS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(integer("-5", -10, 30, &v), SMS_OK);
    assert_int_equal(v, -5);
    assert_int_equal(integer("5e-324", 0, 30, &v), SMS_EWHOLE);
    assert_int_equal(integer("2.5", 0, 30, &v), SMS_EWHOLE);
    assert_int_equal(integer("1e400", 0, 30, &v), SMS_ETYPE);
    assert_int_equal(integer("\"5\"", 0, 30, &v), SMS_ETYPE);
    assert_int_equal(integer("null", 0, 30, &v), SMS_ETYPE);
    assert_int_equal(sms_number_int(NULL, 0, 30, &v), SMS_ETYPE);
    msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = UINT64_MAX};
    assert_int_equal(sms_number_int(&o, INT64_MIN, INT64_MAX, &v), SMS_ERANGE);
    o.via.u64 = 5;
    assert_int_equal(sms_number_int(&o, -10, -1, &v), SMS_ERANGE);
    assert_int_equal(sms_number_int(&o, 6, 10, &v), SMS_ERANGE);
    o = (msgpack_object){.type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = INT64_MIN};
    assert_int_equal(sms_number_int(&o, INT64_MIN, INT64_MAX, &v), SMS_ERANGE);
    o = (msgpack_object){.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = NAN};
    assert_int_equal(sms_number_int(&o, 0, 10, &v), SMS_ETYPE);
    /* cJSON straight (the gateway's upload fields). */
    cJSON *j = cJSON_Parse("[1e17, 3, 2.5, \"3\", 1e400]");
    assert_non_null(j);
    assert_int_equal(sms_number_json_int(cJSON_GetArrayItem(j, 0), 1, 26214400, &v), SMS_ERANGE);
    assert_int_equal(sms_number_json_int(cJSON_GetArrayItem(j, 1), 1, 26214400, &v), SMS_OK);
    assert_int_equal(v, 3);
    assert_int_equal(sms_number_json_int(cJSON_GetArrayItem(j, 2), 1, 26214400, &v), SMS_EWHOLE);
    assert_int_equal(sms_number_json_int(cJSON_GetArrayItem(j, 3), 1, 26214400, &v), SMS_ETYPE);
    assert_int_equal(sms_number_json_int(cJSON_GetArrayItem(j, 4), 1, 26214400, &v), SMS_ETYPE);
    assert_int_equal(sms_number_json_int(NULL, 1, 10, &v), SMS_ETYPE);
    cJSON_Delete(j);
}

static void test_parse_int(void **state) {
    (void)state;
    int64_t v;
    static const char *const not_integers[] = {"", "-", "+5", " 5", "5 ", "1e3", "1.0", "0x10", "--1", "5-", "١"};
    for (size_t i = 0; i < sizeof not_integers / sizeof not_integers[0]; i++) {
        int rc = text(not_integers[i], -100, 100, &v);
        if (rc != SMS_ETYPE) fail_msg("\"%s\": rc %d", not_integers[i], rc);
        assert_int_equal(v, -777);
    }
    assert_int_equal(sms_number_parse_int("5\0" "5", 3, 0, 100, &v), SMS_ETYPE); /* embedded NUL */
    static const char *const out_of_range[] = {
        "9007199254740992", "9007199254740993", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "100000000000000000000", "-9223372036854775809",
        "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        int rc = text(out_of_range[i], INT64_MIN, INT64_MAX, &v);
        if (rc != SMS_ERANGE) fail_msg("%s: rc %d", out_of_range[i], rc);
    }
    assert_int_equal(text("9007199254740991", INT64_MIN, INT64_MAX, &v), SMS_OK);
    assert_int_equal(v, SMS_NUMBER_SAFE_MAX);
    assert_int_equal(text("-9007199254740991", INT64_MIN, INT64_MAX, &v), SMS_OK);
    assert_int_equal(v, -SMS_NUMBER_SAFE_MAX);
    assert_int_equal(text("0", 0, 30, &v), SMS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(text("-0", 0, 30, &v), SMS_ETYPE);
    assert_int_equal(text("-000", -1, 30, &v), SMS_ETYPE);
    assert_int_equal(text("007", 0, 30, &v), SMS_OK);
    assert_int_equal(v, 7);
    assert_int_equal(text("30", 0, 30, &v), SMS_OK);
    assert_int_equal(v, 30);
    assert_int_equal(text("31", 0, 30, &v), SMS_ERANGE);
    assert_int_equal(text("-1", 0, 30, &v), SMS_ERANGE);
    assert_int_equal(text("-1", -1, 30, &v), SMS_OK);
    assert_int_equal(v, -1);
    assert_int_equal(text("-2", -1, 30, &v), SMS_ERANGE);
}

static void test_messages(void **state) {
    (void)state;
    char m[SMS_NUMBER_MESSAGE_MAX], t[24];
    assert_string_equal(sms_number_hundredths_message(m, sizeof m, 0, 10000), "must be a number from 0 to 100");
    assert_string_equal(sms_number_hundredths_message(m, sizeof m, 1, 100000000), "must be a number from 0.01 to 1000000");
    assert_string_equal(sms_number_hundredths_message(m, sizeof m, 0, 1250), "must be a number from 0 to 12.5");
    assert_string_equal(sms_number_int_message(m, sizeof m, 1, 100), "must be an integer from 1 to 100");
    assert_string_equal(sms_number_int_message(m, sizeof m, 0, INT64_MAX), "must be an integer from 0 to 9007199254740991");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, 8750), "87.5");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, 6525), "65.25");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, 1), "0.01");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, 10), "0.1");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, -5), "-0.05");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, 0), "0");
    assert_string_equal(sms_number_hundredths_text(t, sizeof t, INT64_MIN), "-92233720368547758.08");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_types),   cmocka_unit_test(test_hundredths_hostile),
        cmocka_unit_test(test_hundredths_values), cmocka_unit_test(test_hundredths_raw),
        cmocka_unit_test(test_int),          cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
