/* validate.c - the grading view's event validator (see validate.h): one
 * check per event type it applies, named in one table. Each check covers
 * what projection.c and its Lua assume: e.g. the grade script parses a
 * stored score with '%d+' (no sign), so a negative score, or one whose
 * hundredths do not fit, must never reach it. */
#include "validate.h"

#include "event_check.h"
#include "schema.h"

/* class.students_enrolled's name (asyncapi: the roster's 1..200 characters). */
#define ROSTER_NAME_MAX 200
#define ASSIGNMENT_TITLE_MAX 200

/* The fields grade.changed and grade.released share. */
static void check_grade_common(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "assignment_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, 0, 1, GRADING_STUDENT_ID_MAX, NULL);
    sms_check_score(c, d, "score", 0, NULL);
    sms_check_str(c, d, "feedback", SMS_CHECK_TEXT, 0, 0, GRADING_FEEDBACK_MAX, NULL);
    sms_check_counter(c, d, "grade_version", NULL);
}

static void check_grade_changed(sms_check_t *c, const msgpack_object *d) {
    check_grade_common(c, d);
    sms_check_score(c, d, "previous_score", SMS_CHECK_NULLABLE, NULL);
    sms_check_str(c, d, "previous_feedback", SMS_CHECK_TEXT, SMS_CHECK_NULLABLE, 0, GRADING_FEEDBACK_MAX, NULL);
    sms_check_bool(c, d, "released", 0, NULL);
    sms_check_str(c, d, "changed_by", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_time(c, d, "changed_at", NULL);
}

static void check_grade_released(sms_check_t *c, const msgpack_object *d) { check_grade_common(c, d); }

/* grade.corrected: grade.changed's fields plus the operator's reason and the
 * quarantined position it repairs (schema.h, handlers.c). */
static void check_grade_corrected(sms_check_t *c, const msgpack_object *d) {
    check_grade_changed(c, d);
    sms_check_str(c, d, "reason", SMS_CHECK_TEXT, 0, 1, GRADING_REASON_MAX, NULL);
    sms_check_str(c, d, "repairs", SMS_CHECK_TEXT, SMS_CHECK_NULLABLE, 1, 190, NULL);
}

/* assignment.created / updated / deleted: what the view keeps of them
 * (max_score is stored in hundredths, so it must fit like a score). */
static void check_assignment(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_enum(c, d, "status", 0, (const char *const[]){"open", "deleted", NULL}, NULL);
    sms_check_counter(c, d, "version", NULL);
    sms_check_number(c, d, "max_score", 0, 0.0, true, SMS_EVENT_SCORE_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, SMS_CHECK_OPTIONAL, 0, ASSIGNMENT_TITLE_MAX, NULL);
}

/* What grading reads of each student of a roster, besides the id. */
static void check_roster_student(sms_check_t *c, const msgpack_object *s) {
    sms_check_str(c, s, "name", SMS_CHECK_TEXT, SMS_CHECK_OPTIONAL, 0, ROSTER_NAME_MAX, NULL);
}

static void check_enrolled(sms_check_t *c, const msgpack_object *d) { sms_check_enrolled(c, d, check_roster_student); }

/* The projection applies these from whichever topic they come (it tails
 * grades, classes and assignments), so no row names a topic. */
static const sms_event_rule_t rules[] = {
    {NULL, GRADING_EVENT_CHANGED, GRADING_EVENT_VERSION, true, check_grade_changed},
    {NULL, GRADING_EVENT_RELEASED, GRADING_EVENT_VERSION, true, check_grade_released},
    {NULL, GRADING_EVENT_CORRECTED, GRADING_EVENT_VERSION, true, check_grade_corrected},
    {NULL, "assignment.created", 1, false, check_assignment},
    {NULL, "assignment.updated", 1, false, check_assignment},
    {NULL, "assignment.deleted", 1, false, check_assignment},
    {NULL, "class.students_enrolled", 1, false, check_enrolled},
    {NULL, "class.student_unenrolled", 1, false, sms_check_unenrolled},
};

int grading_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    if (topic == NULL || topic[0] == '\0') topic = GRADING_EVENTS_TOPIC;
    return sms_check_event(rules, sizeof rules / sizeof rules[0], topic, ev, err, errlen);
}
