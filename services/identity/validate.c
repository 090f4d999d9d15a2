/* validate.c - the identity view's event validator (see validate.h): what
 * projection.c and its Lua assume of each event, one check per type. */
#include "validate.h"

#include "event_check.h"
#include "schema.h"

static const char *const roles[] = {"lecturer", "student", "admin", NULL};

static void check_user_created(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "email", SMS_CHECK_USER, 0, 3, IDENTITY_EMAIL_MAX, NULL);
    sms_check_str(c, d, "name", SMS_CHECK_TEXT, 0, 1, IDENTITY_NAME_MAX, NULL);
    sms_check_enum(c, d, "role", 0, roles, NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, SMS_CHECK_NULLABLE, 1, IDENTITY_STUDENT_ID_MAX, NULL);
    sms_check_str(c, d, "password_hash", SMS_CHECK_USER, 0, 0, IDENTITY_PASSWORD_HASH_MAX, NULL);
    sms_check_time(c, d, "created_at", NULL);
}

static void check_password_set(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "password_hash", SMS_CHECK_USER, 0, 1, IDENTITY_PASSWORD_HASH_MAX, NULL);
    sms_check_time(c, d, "set_at", NULL);
}

static void check_user_deactivated(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_time(c, d, "deactivated_at", NULL);
}

static void check_family(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "family_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_str(c, d, "user_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
}

static void check_session_started(sms_check_t *c, const msgpack_object *d) {
    check_family(c, d);
    sms_check_str(c, d, "token_hash", SMS_CHECK_HEX, 0, IDENTITY_HASH_HEX, IDENTITY_HASH_HEX, NULL);
    sms_check_time(c, d, "expires_at", NULL);
    sms_check_time(c, d, "started_at", NULL);
}

static void check_session_rotated(sms_check_t *c, const msgpack_object *d) {
    check_family(c, d);
    sms_check_str(c, d, "old_hash", SMS_CHECK_HEX, 0, IDENTITY_HASH_HEX, IDENTITY_HASH_HEX, NULL);
    sms_check_str(c, d, "new_hash", SMS_CHECK_HEX, 0, IDENTITY_HASH_HEX, IDENTITY_HASH_HEX, NULL);
    sms_check_time(c, d, "expires_at", NULL);
    sms_check_time(c, d, "rotated_at", NULL);
}

static void check_session_revoked(sms_check_t *c, const msgpack_object *d) {
    check_family(c, d);
    sms_check_enum(c, d, "reason", 0, (const char *const[]){"logout", "reuse", NULL}, NULL);
    sms_check_time(c, d, "revoked_at", NULL);
}

static const sms_event_rule_t rules[] = {
    {NULL, IDENTITY_EVENT_USER_CREATED, IDENTITY_EVENT_VERSION, true, check_user_created},
    {NULL, IDENTITY_EVENT_PASSWORD_SET, IDENTITY_EVENT_VERSION, true, check_password_set},
    {NULL, IDENTITY_EVENT_USER_DEACTIVATED, IDENTITY_EVENT_VERSION, true, check_user_deactivated},
    {NULL, IDENTITY_EVENT_SESSION_STARTED, IDENTITY_EVENT_VERSION, true, check_session_started},
    {NULL, IDENTITY_EVENT_SESSION_ROTATED, IDENTITY_EVENT_VERSION, true, check_session_rotated},
    {NULL, IDENTITY_EVENT_SESSION_REVOKED, IDENTITY_EVENT_VERSION, true, check_session_revoked},
};

int identity_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    (void)topic; /* one topic: the rows name none */
    return sms_check_event(rules, sizeof rules / sizeof rules[0], NULL, ev, err, errlen);
}
