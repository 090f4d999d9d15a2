/* test_grading_view.c - services/grading/view.h stands alone (included first,
 * before any other header, as the gateway will include it) and spells the
 * keys the grading view has always had: a changed name here is a changed
 * view, which every reader (the gateway's Lua) would miss. */
#include "view.h" /* first: it must need nothing else */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_keys(void **unused) {
    (void)unused;
    assert_string_equal(GRADING_VIEW_PREFIX, "sms:grading:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_ASSIGNMENT), "sms:grading:a:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_ROSTER), "sms:grading:cls:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_STUDENTS), "sms:grading:students:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_NAMES), "sms:grading:names:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_GRADES), "sms:grading:g:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_HISTORY), "sms:grading:h:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_STUDENT_GRADES), "sms:grading:sg:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_TOTALS), "sms:grading:tot:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_RANK), "sms:grading:rank:");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_CMDS), "sms:grading:cmds");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_OFFSETS), "sms:grading:offsets");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_META), "sms:grading:meta");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_QUARANTINE), "sms:grading:quarantine");
    assert_string_equal(GRADING_VIEW_KEY(GRADING_VIEW_INCOMPLETE), "sms:grading:incomplete:");
}

static void test_fields(void **unused) {
    (void)unused;
    /* a:<assignment>, as the gateway's sheet, student and submission scripts read it */
    assert_string_equal(GRADING_VIEW_A_CLASS_ID " " GRADING_VIEW_A_LECTURER_ID " " GRADING_VIEW_A_MAX " "
                        GRADING_VIEW_A_STATUS " " GRADING_VIEW_A_TITLE " " GRADING_VIEW_A_VERSION,
                        "class_id lecturer_id max status title version");
    assert_string_equal(GRADING_VIEW_A_DELETED, "deleted");
    assert_string_equal(GRADING_VIEW_ROSTER_VERSION, "roster_version");
    assert_string_equal(GRADING_VIEW_RECORD_LUA, "'^(%d+)|(%d+)|(%d)|([^|]*)|([^|]*)|(.*)$'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
