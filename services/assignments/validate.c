/* validate.c - the assignments view's event validator (see validate.h): one
 * check per event type and topic, named in one table, mirroring how
 * projection.c dispatches (grades topic: grade events; classes topic: class
 * and roster events; its own topic: the rest). It covers what the projection
 * and its Lua assume: list members pad due_at and created_at to 15 digits
 * and the reminder scan cuts the id after them, ids are copied into
 * 128-byte buffers, and a grade record is parsed back with '^(%d+)|' (a
 * grade_version below 1 would make that parse fail and the script error). */
#include "validate.h"

#include "uploads_expiry.h"

#include "event_check.h"
#include "msgpack_util.h"
#include "schema.h"

/* The learned class event's fields (asyncapi ClassData). */
#define CLASS_STUDENT_ID_MAX 64
#define GRADE_FEEDBACK_MAX 2000 /* grading's bound (asyncapi grade.changed feedback) */
#define WINDOW_S_MIN 60        /* SMS_DUE_REMINDER_WINDOW_S's range (common/config.c) */
#define WINDOW_S_MAX 2592000

static const char *const assignment_changes[] = {"title", "description", "due_at", "max_score", NULL};

/* The snapshot every assignment event carries (handlers.c's bounds). */
static void check_snapshot(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, 0, 1, ASSIGNMENTS_TITLE_MAX, NULL);
    sms_check_str(c, d, "description", SMS_CHECK_TEXT, 0, 0, ASSIGNMENTS_DESCRIPTION_MAX, NULL);
    sms_check_i64(c, d, "due_at", 0, 0, ASSIGNMENTS_DUE_MAX, NULL);
    sms_check_number(c, d, "max_score", 0, 0.0, true, ASSIGNMENTS_MAX_SCORE_MAX, NULL);
    sms_check_enum(c, d, "status", 0, (const char *const[]){"open", "deleted", NULL}, NULL);
    sms_check_time(c, d, "created_at", NULL);
    sms_check_time(c, d, "updated_at", NULL);
    sms_check_counter(c, d, "version", NULL);
}

static void check_updated(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *changed = NULL;
    check_snapshot(c, d);
    if (sms_check_array(c, d, "changed", 0, 1, 4, &changed))
        sms_check_each_str(c, changed, "changed", SMS_CHECK_BYTES, 0, 0, assignment_changes);
}

static void check_due_soon(sms_check_t *c, const msgpack_object *d) {
    check_snapshot(c, d);
    sms_check_i64(c, d, "window_s", 0, WINDOW_S_MIN, WINDOW_S_MAX, NULL);
}

static void check_submission(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *ids = NULL;
    sms_check_str(c, d, "assignment_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_counter(c, d, "version", NULL);
    sms_check_str(c, d, "text", SMS_CHECK_TEXT, 0, 0, ASSIGNMENTS_SUBMISSION_TEXT_MAX, NULL);
    if (sms_check_array(c, d, "upload_ids", 0, 0, ASSIGNMENTS_SUBMISSION_UPLOADS_MAX, &ids))
        sms_check_each_str(c, ids, "upload_ids", SMS_CHECK_ULID, 0, 0, NULL);
    sms_check_time(c, d, "submitted_at", NULL);
    sms_check_bool(c, d, "late", 0, NULL);
}

/* assignments_read_upload's rules, field by field. */
static void check_upload(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "upload_id", SMS_CHECK_ULID, 0, 0, 0, NULL);
    /* Absent: the owner is the event's actor, which must then be a user id. */
    if (sms_mp_map_get(d, "student_id") != NULL)
        sms_check_str(c, d, "student_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    else if (c->ev->actor.len < 1 || c->ev->actor.len > SMS_EVENT_USER_MAX)
        sms_check_fail(c, "student_id", "is required when the actor is not a user id");
    sms_check_str(c, d, "filename", SMS_CHECK_BYTES, 0, 1, ASSIGNMENTS_FILENAME_MAX, NULL);
    sms_check_str(c, d, "content_type", SMS_CHECK_BYTES, 0, 1, ASSIGNMENTS_CONTENT_TYPE_MAX, NULL);
    sms_check_i64(c, d, "size", 0, 1, INT64_MAX, NULL);
    sms_check_str(c, d, "sha256", SMS_CHECK_HEX, 0, 64, 64, NULL);
    sms_check_time(c, d, "stored_at", NULL);
}

static void check_upload_expired(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "upload_id", SMS_CHECK_ULID, 0, 0, 0, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_i64(c, d, "size", 0, 1, INT64_MAX, NULL);
    sms_check_time(c, d, "stored_at", NULL);
    sms_check_time(c, d, "expired_at", NULL);
}

/* Learned from sms.events.classes: what cls:<id> keeps. */
static void check_class(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_enum(c, d, "status", 0, (const char *const[]){"active", "inactive", NULL}, NULL);
    sms_check_counter(c, d, "version", NULL);
}

static void check_enrolled(sms_check_t *c, const msgpack_object *d) { sms_check_enrolled(c, d, NULL); }

/* Learned from sms.events.grades: what gr:<assignment> keeps. */
static void check_grade_common(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "assignment_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, 0, 1, CLASS_STUDENT_ID_MAX, NULL);
    sms_check_str(c, d, "feedback", SMS_CHECK_TEXT, 0, 0, GRADE_FEEDBACK_MAX, NULL);
    sms_check_score(c, d, "score", 0, NULL);
    sms_check_counter(c, d, "grade_version", NULL);
}

static void check_grade_changed(sms_check_t *c, const msgpack_object *d) {
    check_grade_common(c, d);
    sms_check_bool(c, d, "released", 0, NULL);
    sms_check_time(c, d, "changed_at", NULL);
}

static const sms_event_rule_t rules[] = {
    {ASSIGNMENTS_EVENTS_TOPIC, "assignment.created", ASSIGNMENTS_EVENT_VERSION, true, check_snapshot},
    {ASSIGNMENTS_EVENTS_TOPIC, "assignment.updated", ASSIGNMENTS_EVENT_VERSION, true, check_updated},
    {ASSIGNMENTS_EVENTS_TOPIC, "assignment.deleted", ASSIGNMENTS_EVENT_VERSION, true, check_snapshot},
    {ASSIGNMENTS_EVENTS_TOPIC, "assignment.due_soon", ASSIGNMENTS_EVENT_VERSION, true, check_due_soon},
    {ASSIGNMENTS_EVENTS_TOPIC, "submission.created", ASSIGNMENTS_EVENT_VERSION, true, check_submission},
    {ASSIGNMENTS_EVENTS_TOPIC, "upload.completed", ASSIGNMENTS_EVENT_VERSION, true, check_upload},
    {ASSIGNMENTS_EVENTS_TOPIC, ASSIGNMENTS_UPLOAD_EXPIRED_TYPE, ASSIGNMENTS_EVENT_VERSION, true, check_upload_expired},
    {ASSIGNMENTS_CLASSES_TOPIC, "class.created", 1, false, check_class},
    {ASSIGNMENTS_CLASSES_TOPIC, "class.updated", 1, false, check_class},
    {ASSIGNMENTS_CLASSES_TOPIC, "class.deactivated", 1, false, check_class},
    {ASSIGNMENTS_CLASSES_TOPIC, "class.students_enrolled", 1, false, check_enrolled},
    {ASSIGNMENTS_CLASSES_TOPIC, "class.student_unenrolled", 1, false, sms_check_unenrolled},
    {ASSIGNMENTS_GRADES_TOPIC, "grade.changed", 1, false, check_grade_changed},
    {ASSIGNMENTS_GRADES_TOPIC, "grade.released", 1, false, check_grade_common},
};

int assignments_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    if (topic == NULL || topic[0] == '\0') topic = ASSIGNMENTS_EVENTS_TOPIC;
    return sms_check_event(rules, sizeof rules / sizeof rules[0], topic, ev, err, errlen);
}
