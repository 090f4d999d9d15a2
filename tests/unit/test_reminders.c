/* test_reminders.c - the assignments service's due-date reminders without
 * I/O: which due dates the scan reminds (the window's bounds), the event's
 * time and derived id, and the assignment.due_soon bytes against the golden
 * vector; and what notifications make of it (kind due_reminder). Vectors from
 * schemas/vectors; no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "msgpack_util.h"
#include "reminders.h"
#include "schema.h"
#include "unit_helpers.h"
#include "uploads_expiry.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)

static void test_window_bounds(void **state) {
    (void)state;
    const int64_t now = 1764061200000LL;
    assert_true(assignments_reminder_due(now, now + HOUR, DAY));
    assert_true(assignments_reminder_due(now, now + 1, DAY));
    assert_true(assignments_reminder_due(now, now + DAY, DAY));       /* the window's end is in it */
    assert_false(assignments_reminder_due(now, now + DAY + 1, DAY));  /* just outside */
    assert_false(assignments_reminder_due(now, now + 3 * DAY, DAY));
    assert_false(assignments_reminder_due(now, now, DAY));            /* due now: too late */
    assert_false(assignments_reminder_due(now, now - HOUR, DAY));     /* past */
}

static void test_time_is_when_it_entered_the_window(void **state) {
    (void)state;
    const int64_t due = 1764629940000LL;
    /* due date set long before: the window's start */
    assert_int_equal(assignments_reminder_time(due, due - 10 * DAY, DAY), due - DAY);
    /* set inside the window (created an hour before due): then */
    assert_int_equal(assignments_reminder_time(due, due - HOUR, DAY), due - HOUR);
    /* never after the due date (a due date set in the past is never reminded anyway) */
    assert_int_equal(assignments_reminder_time(due, due + HOUR, DAY), due);
}

static void test_derived_id(void **state) {
    (void)state;
    char a[SMS_ID_SIZE], b[SMS_ID_SIZE], c[SMS_ID_SIZE], d[SMS_ID_SIZE];
    assignments_reminder_id("asg-1", 1764629940000LL, 1764543540000LL, a);
    assignments_reminder_id("asg-1", 1764629940000LL, 1764543540000LL, b);
    assert_string_equal(a, b); /* two instances, or a re-emit: the same id */
    assignments_reminder_id("asg-1", 1764629940001LL, 1764543540000LL, c);
    assert_string_not_equal(a, c); /* another due date: another reminder */
    assignments_reminder_id("asg-2", 1764629940000LL, 1764543540000LL, d);
    assert_string_not_equal(a, d);
    assert_int_equal(strlen(a), SMS_ID_LEN);
    assert_memory_equal(a, c, 10); /* the time part */
}

/* The vector's assignment, read back and packed as the scan does. */
static void test_event_equals_vector(void **state) {
    (void)state;
    size_t len;
    char *vec = unit_vector("assignment.due_soon.v1", "msgpack", &len);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(vec, len, &ev), SMS_OK);
    assignments_assignment_t a;
    assert_int_equal(assignments_read_snapshot(ev.data, &a), 0);
    int64_t window_s = 86400;
    int64_t at = assignments_reminder_time(a.due_at, a.updated_at, window_s * 1000);
    char id[SMS_ID_SIZE];
    assignments_reminder_id(a.id, a.due_at, at, id);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, SMS_STR(id), SMS_STR(ASSIGNMENTS_DUE_SOON_TYPE), ASSIGNMENTS_EVENT_VERSION, at,
                        SMS_STR(ASSIGNMENTS_REMINDER_ACTOR), SMS_STR(a.id), (sms_str_t){"", 0});
    assignments_pack_due_soon(&pk, &a, window_s);
    assert_int_equal(sb.size, len);
    assert_memory_equal(sb.data, vec, len);
    msgpack_sbuffer_destroy(&sb);
    assignments_assignment_clear(&a);
    sms_event_close(&ev);
    sms_free(vec);
}

/* upload.expired's derived id equals the vector's (schemas/vectors/generate.py). */
static void test_upload_expired_id_equals_vector(void **state) {
    (void)state;
    char id[SMS_ID_SIZE];
    assert_string_equal(assignments_upload_expired_id("01JDQ29Z8Y7X6W5V4T3S2R1Q0Q", INT64_C(1764154800000), id),
                        "01KAZX3XW0WT45GJBC4PWDF18B");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_bounds),
        cmocka_unit_test(test_time_is_when_it_entered_the_window),
        cmocka_unit_test(test_derived_id),
        cmocka_unit_test(test_event_equals_vector),
        cmocka_unit_test(test_upload_expired_id_equals_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
