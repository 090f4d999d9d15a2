/* validate.c - the classes view's event validator (see validate.h): one
 * check per event type, named in one table, with the bounds bodies.c
 * enforces. It covers what projection.c assumes: e.g. the upper-cased code
 * is copied into CLASSES_CODE_MAX * 4 bytes, so a longer code would be cut
 * without a word; every string is also copied with strlen (no NUL inside). */
#include "validate.h"

#include "event_check.h"
#include "commands.h"
#include "schema.h"

static const char *const class_changes[] = {"code", "name", "description", "term", NULL};

/* The snapshot every class event carries. */
static void check_snapshot(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "code", SMS_CHECK_TEXT, 0, 1, CLASSES_CODE_MAX, NULL);
    sms_check_str(c, d, "name", SMS_CHECK_TEXT, 0, 1, CLASSES_NAME_MAX, NULL);
    sms_check_str(c, d, "description", SMS_CHECK_TEXT, 0, 0, CLASSES_DESCRIPTION_MAX, NULL);
    sms_check_str(c, d, "term", SMS_CHECK_TEXT, 0, 0, CLASSES_TERM_MAX, NULL);
    sms_check_enum(c, d, "status", 0, (const char *const[]){"active", "inactive", NULL}, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_time(c, d, "created_at", NULL);
    sms_check_time(c, d, "updated_at", NULL);
    sms_check_counter(c, d, "version", NULL);
}

static void check_class_updated(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *changed = NULL;
    check_snapshot(c, d);
    if (sms_check_array(c, d, "changed", 0, 1, 4, &changed))
        sms_check_each_str(c, changed, "changed", SMS_CHECK_BYTES, 0, 0, class_changes);
}

/* A roster entry as bodies.c validated it (student_row). */
static void check_student(sms_check_t *c, const msgpack_object *s) {
    sms_str_t email;
    sms_check_str(c, s, "student_id", SMS_CHECK_ID, 0, 1, CLASSES_STUDENT_ID_MAX, NULL);
    sms_check_str(c, s, "name", SMS_CHECK_TEXT, 0, 1, CLASSES_STUDENT_NAME_MAX, NULL);
    if (sms_check_str(c, s, "email", SMS_CHECK_BYTES, 0, 0, CLASSES_EMAIL_MAX, &email) &&
        !classes_valid_email(email.ptr, email.len))
        sms_check_fail(c, "email", "must be an e-mail address (local@domain.tld, at most %d bytes)", CLASSES_EMAIL_MAX);
    sms_check_time(c, s, "enrolled_at", NULL);
}

static void check_enrolled(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *list = NULL;
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_counter(c, d, "roster_version", NULL);
    /* Producers other than this service (the tests' seeders) leave it out;
     * the projection reads it as 0. */
    sms_check_i64(c, d, "already_enrolled", SMS_CHECK_OPTIONAL, 0, CLASSES_ROSTER_MAX, NULL);
    /* At most CLASSES_ROSTER_MAX from a command, but the view applies more. */
    if (!sms_check_array(c, d, "students", 0, 1, SMS_EVENT_LIST_MAX, &list)) return;
    for (uint32_t i = 0; i < list->via.array.size && !c->failed; i++) {
        size_t saved;
        const msgpack_object *s = sms_check_item(c, list, "students", i, &saved);
        if (s == NULL) return;
        check_student(c, s);
        sms_check_leave(c, saved);
    }
}

static void check_unenrolled(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_counter(c, d, "roster_version", NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, 0, 1, CLASSES_STUDENT_ID_MAX, NULL);
}

static void check_post(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "lecturer_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_str(c, d, "author_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, 0, 1, CLASSES_POST_TITLE_MAX, NULL);
    sms_check_str(c, d, "body", SMS_CHECK_TEXT, 0, 1, CLASSES_POST_BODY_MAX, NULL);
    sms_check_bool(c, d, "pinned", 0, NULL);
    sms_check_time(c, d, "created_at", NULL);
}

static void check_post_updated(sms_check_t *c, const msgpack_object *d) {
    check_post(c, d);
    sms_check_time(c, d, "updated_at", NULL);
    sms_check_counter(c, d, "version", NULL);
}

static void check_chat(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_counter(c, d, "seq", NULL);
    sms_check_str(c, d, "author_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_enum(c, d, "author_role", 0, (const char *const[]){"lecturer", "student", NULL}, NULL);
    sms_check_str(c, d, "text", SMS_CHECK_TEXT, 0, 1, CLASSES_CHAT_TEXT_MAX, NULL);
    sms_check_time(c, d, "created_at", NULL);
}

/* projection.c applies each type from whichever of its topics it comes, so
 * no row names a topic. */
static const sms_event_rule_t rules[] = {
    {NULL, "class.created", CLASSES_EVENT_VERSION, true, check_snapshot},
    {NULL, "class.updated", CLASSES_EVENT_VERSION, true, check_class_updated},
    {NULL, "class.deactivated", CLASSES_EVENT_VERSION, true, check_snapshot},
    {NULL, "class.students_enrolled", CLASSES_EVENT_VERSION, true, check_enrolled},
    {NULL, "class.student_unenrolled", CLASSES_EVENT_VERSION, true, check_unenrolled},
    {NULL, "post.created", CLASSES_EVENT_VERSION, true, check_post},
    {NULL, "post.updated", CLASSES_EVENT_VERSION, true, check_post_updated},
    {NULL, "chat.message_posted", CLASSES_EVENT_VERSION, true, check_chat},
};

int classes_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    if (topic == NULL || topic[0] == '\0') topic = "sms.events.classes";
    return sms_check_event(rules, sizeof rules / sizeof rules[0], topic, ev, err, errlen);
}
