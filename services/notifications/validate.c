/* validate.c - the notifications service's event validator (see
 * validate.h): one check per event type and topic, named in one table,
 * mirroring projection.c (which dispatches by topic) and, for the source
 * topics, what the fan-out (handlers.c notif_content_of) copies into a
 * notification. notif_read_message takes only 26-byte ids and recipients of
 * at most 128 bytes, and the replay of a preferences command parses the
 * stored JSON back, so every preference must be a boolean. */
#include "validate.h"

#include "event_check.h"
#include "handlers.h"
#include "msgpack_util.h"
#include "schema.h"
#include "webhooks.h"

/* Bounds of the notification.created the fan-out writes: a title is a
 * source title (at most 200 characters, 4 bytes each) behind a short
 * prefix, a body at most NOTIF_BODY_MAX bytes of text behind "Score: ...
 * Feedback: ", a link an API path naming two ids. */
#define TITLE_MAX 1024
#define BODY_MAX 2048
#define LINK_MAX 512
#define SOURCE_TYPE_MAX 64
/* Learned and consumed fields (asyncapi): */
#define STUDENT_ID_MAX 64
#define STUDENT_NAME_MAX 200
#define EMAIL_MAX 254
#define POST_TITLE_MAX 200
#define POST_BODY_MAX 10000
#define FEEDBACK_MAX 2000
#define ASSIGNMENT_TITLE_MAX 200
#define WINDOW_S_MIN 60 /* SMS_DUE_REMINDER_WINDOW_S's range (common/config.c) */
#define WINDOW_S_MAX 2592000
#define WEBHOOK_EVENTS_MAX 8

static const char *const kinds[] = {"post", "grade", "assignment", "due_reminder", NULL};
static const char *const channels[] = {"inbox", "email", "webhook", NULL};
static const char *const webhook_kinds[] = {"post", "grade", "assignment", "due_reminder", "*", NULL};

/* ---- own ---- */

static void check_notification(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *hints = NULL;
    sms_check_str(c, d, "id", SMS_CHECK_ULID, 0, 0, 0, NULL);
    sms_check_str(c, d, "recipient_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_enum(c, d, "kind", 0, kinds, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_BYTES, 0, 0, TITLE_MAX, NULL);
    sms_check_str(c, d, "body", SMS_CHECK_BYTES, 0, 0, BODY_MAX, NULL);
    sms_check_str(c, d, "link", SMS_CHECK_BYTES, 0, 0, LINK_MAX, NULL);
    if (sms_check_array(c, d, "channel_hints", 0, 1, 3, &hints))
        sms_check_each_str(c, hints, "channel_hints", SMS_CHECK_BYTES, 0, 0, channels);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "source_event_id", SMS_CHECK_BYTES, 0, 1, SMS_EVENT_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "source_type", SMS_CHECK_BYTES, 0, 1, SOURCE_TYPE_MAX, NULL);
    sms_check_time(c, d, "created_at", NULL);
}

static void check_read(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *ids = NULL;
    sms_str_t up_to = {"", 0};
    bool all = false;
    sms_check_str(c, d, "user_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    sms_check_bool(c, d, "all", 0, &all);
    /* A notification id when all is true, else "". */
    if (sms_check_str(c, d, "up_to", SMS_CHECK_BYTES, 0, 0, SMS_ID_LEN, &up_to) && (all || up_to.len))
        sms_check_str(c, d, "up_to", SMS_CHECK_ULID, 0, 0, 0, NULL);
    if (sms_check_array(c, d, "ids", 0, 0, NOTIF_READ_IDS_MAX, &ids))
        sms_check_each_str(c, ids, "ids", SMS_CHECK_ULID, 0, 0, NULL);
    sms_check_i64(c, d, "marked", 0, 0, SMS_EVENT_COUNTER_MAX, NULL);
}

/* {name: bool} for every name (the inbox: true when given). */
static void check_bools(sms_check_t *c, const msgpack_object *m, const char *group, const char *const *names,
                        const char *always_true) {
    const msgpack_object *o = NULL;
    if (!sms_check_map(c, m, group, 0, &o)) return;
    size_t saved = sms_check_enter(c, group, -1);
    bool v = true;
    if (always_true && sms_check_bool(c, o, always_true, SMS_CHECK_OPTIONAL, &v) && !v)
        sms_check_fail(c, always_true, "must be true (the inbox is always on)");
    for (size_t i = 0; names[i]; i++) sms_check_bool(c, o, names[i], 0, NULL);
    sms_check_leave(c, saved);
}

static void check_prefs(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *p = NULL;
    sms_check_str(c, d, "user_id", SMS_CHECK_USER, 0, 1, SMS_EVENT_USER_MAX, NULL);
    if (!sms_check_map(c, d, "preferences", 0, &p)) return;
    size_t saved = sms_check_enter(c, "preferences", -1);
    check_bools(c, p, "channels", (const char *const[]){"email", "webhook", NULL}, "inbox");
    check_bools(c, p, "kinds", (const char *const[]){"posts", "grades", "assignments", "due_reminders", NULL}, NULL);
    sms_check_leave(c, saved);
}

static void check_webhook_registered(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *events = NULL;
    sms_str_t url;
    sms_check_str(c, d, "webhook_id", SMS_CHECK_ULID, 0, 0, 0, NULL);
    if (sms_check_str(c, d, "url", SMS_CHECK_BYTES, 0, 1, NOTIF_WEBHOOK_URL_MAX, &url) &&
        !notif_webhook_url_ok(url.ptr, url.len))
        sms_check_fail(c, "url", "must be an http:// or https:// URL with a host and no credentials");
    if (sms_check_array(c, d, "events", 0, 1, WEBHOOK_EVENTS_MAX, &events))
        sms_check_each_str(c, events, "events", SMS_CHECK_BYTES, 0, 0, webhook_kinds);
    sms_check_str(c, d, "secret", SMS_CHECK_BYTES, 0, NOTIF_WEBHOOK_SECRET_MIN, NOTIF_WEBHOOK_SECRET_MAX, NULL);
    sms_check_time(c, d, "created_at", NULL);
}

static void check_webhook_deleted(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "webhook_id", SMS_CHECK_ULID, 0, 0, 0, NULL);
}

/* ---- learned: rosters (sms.events.classes) ---- */

/* What the notifications view reads of each student of a roster, besides the id. */
static void check_roster_student(sms_check_t *c, const msgpack_object *s) {
    sms_check_str(c, s, "name", SMS_CHECK_TEXT, SMS_CHECK_OPTIONAL, 0, STUDENT_NAME_MAX, NULL);
    /* where sms-notify-email mails the student */
    sms_check_str(c, s, "email", SMS_CHECK_USER, SMS_CHECK_OPTIONAL, 0, EMAIL_MAX, NULL);
}

static void check_enrolled(sms_check_t *c, const msgpack_object *d) { sms_check_enrolled(c, d, check_roster_student); }

/* ---- consumed by the fan-out (what notif_content_of reads) ---- */

static void check_post(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, 0, 1, POST_TITLE_MAX, NULL);
    sms_check_str(c, d, "body", SMS_CHECK_TEXT, 0, 1, POST_BODY_MAX, NULL);
}

static void check_grade_released(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, 0, 1, STUDENT_ID_MAX, NULL);
    sms_check_score(c, d, "score", 0, NULL);
    sms_check_str(c, d, "feedback", SMS_CHECK_TEXT, SMS_CHECK_OPTIONAL, 0, FEEDBACK_MAX, NULL);
}

static void check_grade_changed(sms_check_t *c, const msgpack_object *d) {
    check_grade_released(c, d);
    sms_check_bool(c, d, "released", 0, NULL);
}

static void check_assignment(sms_check_t *c, const msgpack_object *d) {
    const msgpack_object *changed = NULL;
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, 0, 1, ASSIGNMENT_TITLE_MAX, NULL);
    sms_check_time(c, d, "due_at", NULL);
    if (sms_check_array(c, d, "changed", SMS_CHECK_OPTIONAL, 0, 4, &changed))
        sms_check_each_str(c, changed, "changed", SMS_CHECK_BYTES, 0, 32, NULL);
}

static void check_due_soon(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, SMS_CHECK_OPTIONAL, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "title", SMS_CHECK_TEXT, 0, 1, ASSIGNMENT_TITLE_MAX, NULL);
    sms_check_time(c, d, "due_at", NULL);
    sms_check_i64(c, d, "window_s", 0, WINDOW_S_MIN, WINDOW_S_MAX, NULL);
    sms_check_enum(c, d, "status", SMS_CHECK_OPTIONAL, (const char *const[]){"open", "deleted", NULL}, NULL);
}

static const sms_event_rule_t rules[] = {
    {NOTIF_TOPIC, "notification.created", NOTIF_EVENT_VERSION, true, check_notification},
    {NOTIF_EVENTS_TOPIC, "notifications.read", NOTIF_EVENT_VERSION, true, check_read},
    {NOTIF_EVENTS_TOPIC, "notifications.preferences_set", NOTIF_EVENT_VERSION, true, check_prefs},
    {NOTIF_EVENTS_TOPIC, "webhook.registered", NOTIF_EVENT_VERSION, true, check_webhook_registered},
    {NOTIF_EVENTS_TOPIC, "webhook.deleted", NOTIF_EVENT_VERSION, true, check_webhook_deleted},
    {"sms.events.classes", "class.students_enrolled", 1, false, check_enrolled},
    {"sms.events.classes", "class.student_unenrolled", 1, false, sms_check_unenrolled},
    {"sms.events.posts", "post.created", 1, false, check_post},
    {"sms.events.grades", "grade.changed", 1, false, check_grade_changed},
    {"sms.events.grades", "grade.released", 1, false, check_grade_released},
    {"sms.events.assignments", "assignment.created", 1, false, check_assignment},
    {"sms.events.assignments", "assignment.updated", 1, false, check_assignment},
    {"sms.events.assignments", "assignment.due_soon", 1, false, check_due_soon},
};

int notifications_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    if (topic == NULL || topic[0] == '\0') topic = NOTIF_EVENTS_TOPIC;
    return sms_check_event(rules, sizeof rules / sizeof rules[0], topic, ev, err, errlen);
}
