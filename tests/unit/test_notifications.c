/* test_notifications.c - the notifications service without I/O: the fan-out
 * message packs to the golden vector's bytes (derived id included), what
 * source events say and to whom (drafts notify nobody), preferences and
 * read-command validation. Vectors from schemas/vectors; no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "handlers.h"
#include "msgpack_util.h"
#include "schema.h"
#include "unit_helpers.h"

static bool str_is(sms_str_t s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

/* The post.created vector fanned out to s-1001 gives notification.created's bytes. */
static void test_message_equals_vector(void **state) {
    (void)state;
    size_t plen, nlen;
    char *post = unit_vector("post.created.v1", "msgpack", &plen), *want = unit_vector("notification.created.v1", "msgpack", &nlen);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(post, plen, &ev), SMS_OK);
    notif_content_t c;
    assert_true(notif_content_of("sms.events.posts", &ev, &c));
    assert_string_equal(c.kind, "post");
    assert_int_equal(c.student_id.len, 0); /* the whole class */
    char id[SMS_ID_SIZE];
    sms_str_t rcpt = SMS_STR("s-1001");
    notif_message_t m = {.id = notif_derive_id(ev.id, rcpt, ev.time, id), .recipient_id = rcpt, .kind = c.kind,
                         .title = {c.title.data, c.title.len}, .body = {c.body.data, c.body.len},
                         .link = {c.link.data, c.link.len}, .class_id = c.class_id, .source_event_id = ev.id,
                         .source_type = ev.type, .created_at = ev.time};
    notif_prefs_t prefs;
    notif_prefs_default(&prefs);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    notif_pack_message(&pk, &m, ev.actor, &prefs);
    assert_int_equal(sb.size, nlen);
    assert_memory_equal(sb.data, want, nlen);
    /* and it reads back */
    sms_event_t back;
    assert_int_equal(sms_event_decode(sb.data, sb.size, &back), SMS_OK);
    notif_message_t r;
    sms_str_t rid;
    assert_int_equal(notif_read_message(back.data, &r, &rid), 0);
    assert_true(str_is(rid, id) && str_is(r.recipient_id, "s-1001") && strcmp(r.kind, "post") == 0);
    sms_event_close(&back);
    msgpack_sbuffer_destroy(&sb);
    notif_content_close(&c);
    sms_event_close(&ev);
    sms_free(post);
    sms_free(want);
}

static void test_derived_id_is_stable_and_per_recipient(void **state) {
    (void)state;
    char a[SMS_ID_SIZE], b[SMS_ID_SIZE], c[SMS_ID_SIZE];
    notif_derive_id(SMS_STR("ev-1"), SMS_STR("s-1"), 1764066600000, a);
    notif_derive_id(SMS_STR("ev-1"), SMS_STR("s-1"), 1764066600000, b);
    notif_derive_id(SMS_STR("ev-1"), SMS_STR("s-2"), 1764066600000, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), SMS_ID_LEN);
    assert_memory_equal(a, c, 10); /* the time part: sorts by the source event's time */
}

static void test_draft_grade_notifies_nobody(void **state) {
    (void)state;
    size_t len;
    char *draft = unit_vector("grade.changed.v1", "msgpack", &len);
    sms_event_t ev;
    notif_content_t c;
    assert_int_equal(sms_event_decode(draft, len, &ev), SMS_OK);
    assert_false(notif_content_of("sms.events.grades", &ev, &c)); /* released: false */
    notif_content_close(&c);
    sms_event_close(&ev);
    sms_free(draft);
    char *rel = unit_vector("grade.released.v1", "msgpack", &len);
    assert_int_equal(sms_event_decode(rel, len, &ev), SMS_OK);
    assert_true(notif_content_of("sms.events.grades", &ev, &c));
    assert_true(str_is(c.student_id, "s-1001"));
    assert_string_equal(c.body.data, "Score: 18. Feedback: Good structure.");
    notif_content_close(&c);
    sms_event_close(&ev);
    sms_free(rel);
}

static void test_assignment_events(void **state) {
    (void)state;
    size_t len;
    sms_event_t ev;
    notif_content_t c;
    const char *names[] = {"assignment.created.v1", "assignment.updated.v1", "assignment.deleted.v1"};
    const bool tells[] = {true, true, false}; /* the update changed due_at */
    for (int i = 0; i < 3; i++) {
        char *b = unit_vector(names[i], "msgpack", &len);
        assert_int_equal(sms_event_decode(b, len, &ev), SMS_OK);
        assert_int_equal(notif_content_of("sms.events.assignments", &ev, &c), tells[i]);
        if (tells[i]) assert_int_equal(c.student_id.len, 0);
        notif_content_close(&c);
        sms_event_close(&ev);
        sms_free(b);
    }
}

static void test_due_soon_is_a_due_reminder_to_the_class(void **state) {
    (void)state;
    size_t len;
    sms_event_t ev;
    notif_content_t c;
    char *b = unit_vector("assignment.due_soon.v1", "msgpack", &len);
    assert_int_equal(sms_event_decode(b, len, &ev), SMS_OK);
    assert_true(notif_content_of("sms.events.assignments", &ev, &c));
    assert_string_equal(c.kind, "due_reminder");
    assert_int_equal(c.student_id.len, 0); /* every enrolled student */
    assert_true(str_is(c.class_id, "01JDQ0Z6Q3V5YB8C4N2M7K9T1A"));
    assert_string_equal(c.title.data, "Due in 24 h: Problem set 1");
    assert_string_equal(c.body.data, "Due 2025-12-01T22:59:00.000Z");
    assert_string_equal(c.link.data, "/student/classes/01JDQ0Z6Q3V5YB8C4N2M7K9T1A/assignments#01JDQ1A2B3C4D5E6F7G8H9J0KM");
    notif_content_close(&c);
    /* read from another topic, it is nothing */
    assert_false(notif_content_of("sms.events.posts", &ev, &c));
    notif_content_close(&c);
    sms_event_close(&ev);
    sms_free(b);
}

/* Packs a JSON-ish map given as key/value pairs of msgpack-encoded objects. */
static msgpack_unpacked unpack(const msgpack_sbuffer *sb) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    return u;
}

/* The preferences row's validate, then the merge into *p (as its decide does). */
static int validate_prefs(const msgpack_object *data, notif_prefs_t *p, sms_decision_t *d) {
    sms_command_t cmd = {.data = data};
    notif_prefs_args_t a;
    if (notif_prefs_validate(&cmd, &a, d) != 0) return -1;
    notif_prefs_merge(&a, p);
    return 0;
}

static void test_prefs_merge_and_validation(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_str(&pk, "channels");
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "webhook");
    msgpack_pack_true(&pk);
    sms_mp_pack_str(&pk, "kinds");
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "posts");
    msgpack_pack_false(&pk);
    msgpack_unpacked u = unpack(&sb);
    notif_prefs_t p;
    notif_prefs_default(&p);
    sms_decision_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(validate_prefs(&u.data, &p, &d), 0);
    assert_true(p.webhook && p.email && !p.posts && p.grades);
    sms_buf_t json;
    sms_buf_init(&json);
    notif_prefs_json(&p, &json);
    notif_prefs_t q;
    assert_int_equal(notif_prefs_parse_json(json.data, json.len, &q), 0);
    assert_memory_equal(&p, &q, sizeof p);
    assert_true(notif_prefs_kind_on(&p, "grade") && !notif_prefs_kind_on(&p, "post"));
    sms_buf_close(&json);
    msgpack_unpacked_destroy(&u);

    /* inbox off and an unknown kind: both named, nothing changed */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_str(&pk, "channels");
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "inbox");
    msgpack_pack_false(&pk);
    sms_mp_pack_str(&pk, "kinds");
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "spam");
    msgpack_pack_true(&pk);
    u = unpack(&sb);
    notif_prefs_t before = p;
    assert_int_equal(validate_prefs(&u.data, &p, &d), -1);
    assert_int_equal(d.status, 422);
    assert_int_equal(d.n_errors, 2);
    assert_string_equal(d.errors[0].field, "channels.inbox");
    assert_string_equal(d.errors[1].field, "kinds.spam");
    assert_memory_equal(&p, &before, sizeof p);
    for (size_t i = 0; i < d.n_errors; i++) {
        sms_free((char *)d.errors[i].field);
        sms_free((char *)d.errors[i].message);
    }
    sms_free(d.errors);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_equals_vector),
        cmocka_unit_test(test_derived_id_is_stable_and_per_recipient),
        cmocka_unit_test(test_draft_grade_notifies_nobody),
        cmocka_unit_test(test_assignment_events),
        cmocka_unit_test(test_due_soon_is_a_due_reminder_to_the_class),
        cmocka_unit_test(test_prefs_merge_and_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
