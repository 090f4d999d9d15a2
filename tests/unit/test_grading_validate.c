/* test_grading_validate.c - services/grading/validate.c: every golden vector
 * of an event the grading view applies is valid, and variants that
 * projection.c could not apply (the INT64_MIN score, 1e17, a
 * negative score, a missing student, version 0, an unknown own version) are
 * refused with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "json_msgpack.h"
#include "unit_helpers.h"
#include "validate.h"

/* Validates the envelope json (as packed by sms_json_to_msgpack); err gets why. */
static int validate_json(const cJSON *json, char *err, size_t errlen) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(sms_json_to_msgpack(json, &pk), 0);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(sb.data, sb.size, &ev), SMS_ENV_OK);
    err[0] = '\0';
    int rc = grading_event_validate("sms.events.grades", &ev, err, errlen);
    sms_event_close(&ev);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static cJSON *vector_json(const char *name) {
    size_t n;
    char *text = unit_vector(name, "json", &n);
    cJSON *json = cJSON_Parse(text);
    sms_free(text);
    assert_non_null(json);
    return json;
}

static void test_vectors_are_valid(void **state) {
    (void)state;
    const char *names[] = {"grade.changed.v1", "grade.released.v1", "assignment.created.v1",
                           "assignment.updated.v1", "assignment.deleted.v1", "class.students_enrolled.v1",
                           "class.student_unenrolled.v1", "class.created.v1", "assignment.due_soon.v1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* the msgpack bytes as Python wrote them */
        size_t n;
        char *bytes = unit_vector(names[i], "msgpack", &n);
        sms_event_t ev;
        assert_int_equal(sms_event_decode(bytes, n, &ev), SMS_ENV_OK);
        char err[256] = "";
        if (grading_event_validate("sms.events.grades", &ev, err, sizeof err) != 0) fail_msg("%s: %s", names[i], err);
        sms_event_close(&ev);
        sms_free(bytes);
    }
}

/* grade.changed with data[field] replaced by value (NULL: removed) must be
 * refused, naming field. */
static void refused(const char *field, cJSON *value) {
    cJSON *json = vector_json("grade.changed.v1");
    cJSON *data = cJSON_GetObjectItemCaseSensitive(json, "data");
    if (value) cJSON_ReplaceItemInObjectCaseSensitive(data, field, value);
    else cJSON_DeleteItemFromObjectCaseSensitive(data, field);
    char err[256];
    if (validate_json(json, err, sizeof err) != -1) fail_msg("%s: accepted", field);
    if (strncmp(err, field, strlen(field)) != 0) fail_msg("%s: err names another field: %s", field, err);
    cJSON_Delete(json);
}

static void test_invalid_variants(void **state) {
    (void)state;
    refused("score", cJSON_CreateNumber(-92233720368547758.08)); /* what the 1e17 overflow wrote */
    refused("score", cJSON_CreateNumber(1e17));
    refused("score", cJSON_CreateNumber(1e308));
    refused("score", cJSON_CreateNumber(-1));
    refused("score", cJSON_CreateString("18"));
    refused("score", NULL);
    refused("previous_score", cJSON_CreateNumber(-5));
    refused("student_id", NULL);
    refused("student_id", cJSON_CreateString(""));
    refused("student_id", cJSON_CreateString("a|b")); /* the view's record separator */
    refused("assignment_id", cJSON_CreateNumber(7));
    refused("grade_version", cJSON_CreateNumber(0));
    refused("grade_version", cJSON_CreateNumber(1.5));
    refused("released", cJSON_CreateString("false"));
    refused("changed_at", cJSON_CreateNumber(-1));
    char big[2100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused("feedback", cJSON_CreateString(big));
}

static void test_versions(void **state) {
    (void)state;
    char err[256];
    /* An own type of a version this binary does not know cannot be applied. */
    cJSON *json = vector_json("grade.changed.v1");
    cJSON_ReplaceItemInObjectCaseSensitive(json, "v", cJSON_CreateNumber(2));
    assert_int_equal(validate_json(json, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 2"));
    cJSON_Delete(json);
    /* A learned type of another version is not for this view: valid, passed over. */
    json = vector_json("class.student_unenrolled.v1");
    cJSON_ReplaceItemInObjectCaseSensitive(json, "v", cJSON_CreateNumber(2));
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "data"), "student_id");
    assert_int_equal(validate_json(json, err, sizeof err), 0);
    cJSON_Delete(json);
    /* And at v1 the same hole is refused. */
    json = vector_json("class.student_unenrolled.v1");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "data"), "student_id");
    assert_int_equal(validate_json(json, err, sizeof err), -1);
    assert_non_null(strstr(err, "student_id"));
    cJSON_Delete(json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_are_valid),
        cmocka_unit_test(test_invalid_variants),
        cmocka_unit_test(test_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
