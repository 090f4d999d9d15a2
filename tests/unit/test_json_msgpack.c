/* test_json_msgpack.c - common/json_msgpack.c's nesting limits: the text scan
 * the gateway runs on every JSON body (depths, the reported path, brackets
 * inside strings, truncation, 100000 levels), the tree check, and that
 * SMS_JSON_MAX_DEPTH plus a command's envelope really unpacks with
 * msgpack-c (and where msgpack-c's stack ends). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "json_msgpack.h"

/* {"a":{"a":...{"a":1}...}} with depth objects. Caller frees. */
static char *nested_objects(int depth) {
    size_t n = (size_t)depth * 6 + 2;
    char *s = malloc(n + 1), *p = s;
    for (int i = 0; i < depth; i++) p += i + 1 < depth ? sprintf(p, "{\"a\":") : sprintf(p, "{\"a\":1");
    for (int i = 0; i < depth; i++) *p++ = '}';
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state) {
    (void)state;
    char path[256];
    int depths[] = {1, 2, 23, 24, 25, 30, 31, 32, 999, 100000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        char *s = nested_objects(depths[i]);
        int deep = sms_json_text_too_deep(s, strlen(s), SMS_JSON_MAX_DEPTH, path, sizeof path);
        assert_int_equal(deep, depths[i] > SMS_JSON_MAX_DEPTH);
        if (deep) {
            /* The 25th object is the value of a.a....a (24 names). */
            char want[256] = "a";
            for (int k = 1; k < SMS_JSON_MAX_DEPTH; k++) strcat(want, ".a");
            assert_string_equal(path, want);
        }
        free(s);
    }
}

static void test_paths(void **state) {
    (void)state;
    char path[64];
    const char *s = "{\"x\":1,\"list\":[0,{\"y\":[[1]]},2]}";
    assert_int_equal(sms_json_text_too_deep(s, strlen(s), 5, path, sizeof path), 0);
    assert_int_equal(sms_json_text_too_deep(s, strlen(s), 4, path, sizeof path), 1);
    assert_string_equal(path, "list[1].y[0]");
    assert_int_equal(sms_json_text_too_deep(s, strlen(s), 2, path, sizeof path), 1);
    assert_string_equal(path, "list[1]");
    /* Brackets, quotes and escapes inside strings are not structure. */
    const char *t = "{\"k\\\"{[\":\"[[[[{{{{\\\"\",\"b\":[]}";
    assert_int_equal(sms_json_text_too_deep(t, strlen(t), 1, path, sizeof path), 1);
    assert_string_equal(path, "b");
    assert_int_equal(sms_json_text_too_deep(t, strlen(t), 2, path, sizeof path), 0);
    /* Arrays at the root. */
    assert_int_equal(sms_json_text_too_deep("[[[]]]", 6, 2, path, sizeof path), 1);
    assert_string_equal(path, "[0][0]");
    /* Not JSON at all: no verdict on validity, only on depth. */
    assert_int_equal(sms_json_text_too_deep("\"unterminated [[[[", 18, 1, path, sizeof path), 0);
    assert_int_equal(sms_json_text_too_deep("]]]}}}", 6, 1, path, sizeof path), 0);
    assert_int_equal(sms_json_text_too_deep("", 0, 1, path, sizeof path), 0);
}

static void test_path_truncated(void **state) {
    (void)state;
    char path[16];
    const char *s = "{\"a_very_long_member_name\":{\"b\":{}}}";
    assert_int_equal(sms_json_text_too_deep(s, strlen(s), 2, path, sizeof path), 1);
    assert_int_equal(strlen(path), sizeof path - 1);
    assert_string_equal(path, "a_very_long_...");
}

static void test_tree(void **state) {
    (void)state;
    char *ok = nested_objects(SMS_JSON_MAX_DEPTH), *deep = nested_objects(SMS_JSON_MAX_DEPTH + 1);
    cJSON *a = cJSON_Parse(ok), *b = cJSON_Parse(deep);
    assert_non_null(a);
    assert_non_null(b);
    assert_false(sms_json_too_deep(a, SMS_JSON_MAX_DEPTH));
    assert_true(sms_json_too_deep(b, SMS_JSON_MAX_DEPTH));
    cJSON *n = cJSON_CreateNumber(1);
    assert_false(sms_json_too_deep(n, 0));
    cJSON_Delete(n);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(ok);
    free(deep);
}

/* A command-like envelope {"id":..., "data": <body>} around a body of the
 * limit's depth unpacks; msgpack-c's own limit is real and close by. */
static int unpacks(int body_depth) {
    char *s = nested_objects(body_depth);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "id", 2);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "x", 1);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    assert_int_equal(sms_json_to_msgpack(j, &pk), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int ok = msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS;
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    cJSON_Delete(j);
    free(s);
    return ok;
}

static void test_bus_carries_the_limit(void **state) {
    (void)state;
    assert_true(unpacks(SMS_JSON_MAX_DEPTH));
    /* msgpack-c holds 32 open containers: the envelope and 31 levels of
     * body are the most one message carries, with no room for a service
     * that nests part of a body one level further (an event's data). */
    assert_true(unpacks(31));
    assert_false(unpacks(32));
}

/* Map keys that are not strings: scalars are quoted JSON, containers a fixed
 * name, so keys nested in keys cost linear text (quoting the JSON of a map
 * key re-escaped every level inside it: 2^depth bytes). */
static void test_non_string_keys(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    enum { DEPTH = 12 }; /* 2^12-fold before the fix: far past the bound below */
    for (int i = 0; i < DEPTH; i++) {
        msgpack_pack_map(&pk, 1);
        msgpack_pack_map(&pk, 1); /* the key: a map */
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "q", 1);
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "\"", 1);
    }
    msgpack_pack_int(&pk, 7);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    sms_buf_t out;
    sms_buf_init(&out);
    assert_int_equal(sms_msgpack_to_json(&up.data, &out), 0);
    assert_true(out.len < 20 * DEPTH);
    cJSON *j = cJSON_Parse(out.data);
    assert_non_null(j);
    cJSON_Delete(j);
    sms_buf_reset(&out);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_int(&pk, -5), msgpack_pack_true(&pk);
    msgpack_pack_nil(&pk), msgpack_pack_int(&pk, 1);
    msgpack_pack_array(&pk, 0), msgpack_pack_int(&pk, 2);
    msgpack_unpacked_destroy(&up);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(sms_msgpack_to_json(&up.data, &out), 0);
    assert_string_equal(out.data, "{\"-5\":true,\"null\":1,\"[array]\":2}");
    sms_buf_close(&out);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_limit),   cmocka_unit_test(test_paths),
        cmocka_unit_test(test_path_truncated), cmocka_unit_test(test_tree),
        cmocka_unit_test(test_bus_carries_the_limit), cmocka_unit_test(test_non_string_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
