/* test_problem.c - problem+json documents: fields, escaping, msgpack twin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "json_msgpack.h"
#include "problem.h"

static void test_json_fields(void **state) {
    (void)state;
    sms_buf_t b;
    sms_buf_init(&b);
    sms_problem_error_t errs[] = {{"code", "is required"}, {"na\"me", "bad \\ value\n"}};
    sms_problem_json(&b, 400, "validation", "the class body is invalid", errs, 2, "req-1");
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "https://sms.example/problems/validation");
    assert_string_equal(cJSON_GetObjectItem(j, "title")->valuestring, "Bad Request");
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 400);
    assert_string_equal(cJSON_GetObjectItem(j, "detail")->valuestring, "the class body is invalid");
    assert_string_equal(cJSON_GetObjectItem(j, "request_id")->valuestring, "req-1");
    cJSON *e = cJSON_GetObjectItem(j, "errors");
    assert_int_equal(cJSON_GetArraySize(e), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 1), "field")->valuestring, "na\"me");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 1), "message")->valuestring, "bad \\ value\n");
    cJSON_Delete(j);
    sms_buf_close(&b);
}

static void test_minimal_and_reasons(void **state) {
    (void)state;
    sms_buf_t b;
    sms_buf_init(&b);
    sms_problem_json(&b, 404, "not_found", NULL, NULL, 0, NULL);
    assert_string_equal(b.data, "{\"type\":\"https://sms.example/problems/not_found\",\"title\":\"Not Found\",\"status\":404}");
    sms_buf_close(&b);
    assert_string_equal(sms_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(sms_http_reason(599), "Unknown");
}

static void test_msgpack_matches_json(void **state) {
    (void)state;
    sms_problem_error_t errs[] = {{"code", "already used"}};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_problem_pack(&pk, 409, "code_taken", "taken", errs, 1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    sms_buf_t from_mp, direct;
    sms_buf_init(&from_mp);
    sms_buf_init(&direct);
    sms_msgpack_to_json(&u.data, &from_mp);
    sms_problem_json(&direct, 409, "code_taken", "taken", errs, 1, NULL);
    assert_string_equal(from_mp.data, direct.data);
    sms_buf_close(&from_mp);
    sms_buf_close(&direct);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_minimal_and_reasons),
        cmocka_unit_test(test_msgpack_matches_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
