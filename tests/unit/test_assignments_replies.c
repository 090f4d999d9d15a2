/* test_assignments_replies.c - the assignments service's answers of
 * replayed commands from their cmds records (read as words, no sscanf) and
 * the record and member formats view.h states; no network (the replies
 * that would read Redis are checked only where they refuse a record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgpack_util.h"
#include "replies.h"
#include "unit_helpers.h"
#include "view.h"

static void make_submission(unit_cmd_t *f, const char *body) {
    sms_command_head_t h = {.type = SMS_STR("submission.create"), .actor = SMS_STR("s-1"), .role = SMS_STR("student"),
                            .key = SMS_STR("A1")};
    unit_cmd_make(f, &h, body);
}

/* What the projection writes for a submission is what the reply reads. */
static void test_submission_record(void **state) {
    (void)state;
    char summary[200];
    snprintf(summary, sizeof summary, ASSIGNMENTS_RECORD_SUB_FORMAT, 2, "A1", 3LL, 1735727400005LL, 1);
    assert_string_equal(summary, "201 A1 3 1735727400005 1");
    sms_command_record_t rec;
    assert_int_equal(sms_command_record_parse(summary, &rec), 0);
    unit_cmd_t f;
    make_submission(&f, "{\"text\":\"essay\",\"upload_ids\":[\"01JDQ1A3M4N5P6Q7R8S9T0V1W2\"]}");
    sms_decision_t d;
    sms_decision_init(&d);
    assignments_reply_submission(NULL, &f.cmd, &rec, &d);
    assert_int_equal(d.status, 201);
    assert_string_equal(d.location, "/student/assignments/A1/submissions");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, d.body.data, d.body.size, NULL), MSGPACK_UNPACK_SUCCESS);
    int64_t version;
    assert_true(sms_mp_i64(sms_mp_map_get(&u.data, "version"), &version) && version == 3);
    assert_true(sms_mp_str_eq(sms_mp_map_get(&u.data, "submitted_at"), "2025-01-01T10:30:00.005Z"));
    assert_true(sms_mp_str_eq(sms_mp_map_get(&u.data, "text"), "essay"));
    assert_true(sms_mp_str_eq(sms_mp_map_get(&u.data, "student_id"), "s-1"));
    const msgpack_object *late = sms_mp_map_get(&u.data, "late");
    assert_true(late && late->type == MSGPACK_OBJECT_BOOLEAN && late->via.boolean);
    assert_int_equal(sms_mp_map_get(&u.data, "upload_ids")->via.array.size, 1);
    msgpack_unpacked_destroy(&u);
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

/* A record lacking its words is a 500, before any read of the view. */
static void test_unreadable_records(void **state) {
    (void)state;
    unit_cmd_t f;
    make_submission(&f, "{\"text\":\"x\"}");
    static const char *const bad[] = {"201 A1 3 17", "201 A1 x 17 0", "201 A1 3 -1 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sms_command_record_t rec;
        assert_int_equal(sms_command_record_parse(bad[i], &rec), 0);
        sms_decision_t d;
        sms_decision_init(&d);
        assignments_reply_submission(NULL, &f.cmd, &rec, &d);
        assert_int_equal(d.status, 500);
        assert_string_equal(d.detail, "unreadable command record");
        sms_decision_close(&d);
    }
    sms_command_record_t rec;
    assert_int_equal(sms_command_record_parse("200", &rec), 0);
    sms_decision_t d;
    sms_decision_init(&d);
    assignments_reply_assignment(NULL, &f.cmd, &rec, &d); /* rc is never used */
    assert_int_equal(d.status, 500);
    sms_decision_close(&d);
    sms_decision_init(&d);
    assignments_reply_upload(NULL, &f.cmd, &rec, &d);
    assert_int_equal(d.status, 500);
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

/* d:/n: members put the id where readers cut it (string.sub(m, 17)). */
static void test_member_format(void **state) {
    (void)state;
    char m[64];
    snprintf(m, sizeof m, ASSIGNMENTS_VIEW_MEMBER_FORMAT, 1735727400000LL, "A1");
    assert_string_equal(m, "001735727400000:A1");
    assert_string_equal(m + atoi(ASSIGNMENTS_VIEW_MEMBER_ID_AT) - 1, "A1");
    assert_string_equal(ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT), "sms:assignments:a:");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submission_record),
        cmocka_unit_test(test_unreadable_records),
        cmocka_unit_test(test_member_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
