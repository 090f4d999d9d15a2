/* test_chat.c - the classes service's chat decisions: validation of
 * chat.post bodies, access (the class's lecturer or an enrolled student,
 * 404 for anyone else), 409 on an inactive class, the per-class sequence
 * continued through the batch overlay, and the chat.message_posted codec,
 * byte for byte against schemas/vectors/chat.message_posted.v1. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "classes_unit.h"
#include "json_msgpack.h"
#include "msgpack_util.h"

#define CLASS_ID "01CHATCLASS000000000000000"
#define MSG_ID "01CHATMSG00000000000000000"

static void test_validation(void **state) {
    (void)state;
    /* 2000 two-byte characters are fine (characters are counted, not bytes); 2001 are not. */
    char max_ok[4100], too_long[4200];
    int n = snprintf(max_ok, sizeof max_ok, "{\"text\":\"");
    for (int i = 0; i < 2000; i++) n += snprintf(max_ok + n, sizeof max_ok - (size_t)n, "\xc3\xa9");
    snprintf(max_ok + n, sizeof max_ok - (size_t)n, "\"}");
    snprintf(too_long, sizeof too_long, "{\"text\":\"x%s", max_ok + 9);
    const struct {
        const char *body;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"text\":\"hello\"}", NULL},
        {"{\"text\":\"line 1\\nline 2\"}", NULL},
        {max_ok, NULL},
        {"{}", "text"},
        {"{\"text\":\"\"}", "text"},
        {"{\"text\":\" \\n \"}", "text"},
        {"{\"text\":5}", "text"},
        {"{\"text\":\"hi\",\"author_id\":\"me\"}", "author_id"},
        {too_long, "text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cu_run_t r;
        int rc = cu_validate("chat.post", "lecturer", cases[i].body, &r);
        if (cases[i].bad_field == NULL) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_true(cu_has_error(&r, cases[i].bad_field));
        }
        cu_done(&r);
    }
}

/* Runs the command through the table (its overlay included: the class, and the chat sequence). */
static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *role,
                   const char *body, cu_run_t *o) {
    cu_next_id(strcmp(type, "class.create") == 0 ? CLASS_ID : MSG_ID);
    cu_decide(st, type, key, actor, role, body, 0, 7000, o);
}

/* Whether the first event's data field is the string s. */
static bool event_str_is(const cu_run_t *o, const char *field, const char *s) {
    return o->has_event && sms_mp_str_eq(sms_mp_map_get(o->event.data, field), s);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    cu_run_t run, *o = &run;
    const char *hi = "{\"text\":\"hi\"}";

    decide(&st, "class.create", "", "u1", "lecturer", "{\"code\":\"C1\",\"name\":\"Chat\"}", o);
    assert_int_equal(o->d.status, 201);
    cu_done(o);
    classes_state_set_enrolled(&st, CLASS_ID, SMS_STR("s1"), true);

    const struct {
        const char *key, *actor, *role;
        int status;
    } denied[] = {
        {"nope", "u1", "lecturer", 404}, /* missing class */
        {CLASS_ID, "u2", "lecturer", 404}, /* another lecturer's */
        {CLASS_ID, "s2", "student", 404},  /* not enrolled */
        {CLASS_ID, "a1", "admin", 403},
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        decide(&st, "chat.post", denied[i].key, denied[i].actor, denied[i].role, hi, o);
        assert_int_equal(o->d.status, denied[i].status);
        assert_false(o->has_event);
        cu_done(o);
    }
    decide(&st, "chat.post", CLASS_ID, "u1", "lecturer", "{\"text\":\"\"}", o);
    assert_int_equal(o->d.status, 400);
    assert_string_equal(o->d.problem_code, "validation");
    cu_done(o);

    /* The lecturer, then the student: one sequence, continued by the overlay. */
    decide(&st, "chat.post", CLASS_ID, "u1", "lecturer", hi, o);
    assert_int_equal(o->d.status, 201);
    assert_true(cu_event_is(o, "chat.message_posted"));
    assert_int_equal(cu_event_i64(o, "seq"), 1);
    assert_true(event_str_is(o, "author_role", "lecturer"));
    assert_int_equal(classes_state_class(&st, SMS_STR(CLASS_ID))->version, 1); /* chatting leaves the class alone */
    cu_done(o);
    decide(&st, "chat.post", CLASS_ID, "s1", "student", "{\"text\":\"hello \xe2\x9c\x93\"}", o);
    assert_int_equal(o->d.status, 201);
    assert_int_equal(cu_event_i64(o, "seq"), 2);
    assert_true(event_str_is(o, "author_id", "s1"));
    assert_true(event_str_is(o, "author_role", "student"));
    assert_int_equal(cu_event_i64(o, "created_at"), 7000);
    cu_done(o);

    /* Unenrolled (the overlay of a roster.unenroll in the same batch): 404. */
    classes_state_set_enrolled(&st, CLASS_ID, SMS_STR("s1"), false);
    decide(&st, "chat.post", CLASS_ID, "s1", "student", hi, o);
    assert_int_equal(o->d.status, 404);
    cu_done(o);

    /* Inactive class: 409, for the lecturer too. */
    decide(&st, "class.deactivate", CLASS_ID, "u1", "lecturer", "{}", o);
    assert_int_equal(o->d.status, 200);
    cu_done(o);
    decide(&st, "chat.post", CLASS_ID, "u1", "lecturer", hi, o);
    assert_int_equal(o->d.status, 409);
    assert_string_equal(o->d.problem_code, "class_inactive");
    assert_false(o->has_event);
    cu_done(o);

    classes_state_close(&st);
}

/* The vector decoded by the projection's reader, re-encoded by the service's
 * packer: the very bytes the Python generator wrote. */
static void test_event_vector(void **state) {
    (void)state;
    size_t blen;
    char *bytes = unit_vector("chat.message_posted.v1", "msgpack", &blen);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(bytes, blen, &ev), SMS_OK);
    classes_chat_t m;
    assert_int_equal(classes_read_chat(ev.data, &m), 0);
    assert_int_equal(m.seq, 1);
    assert_int_equal(m.author_role.len, 7);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, ev.id, ev.type, ev.v, ev.time, ev.actor, ev.key, ev.cause);
    classes_pack_chat(&pk, &m);
    assert_int_equal(sb.size, blen);
    assert_memory_equal(sb.data, bytes, blen);

    /* The view's document: the public form, cursor as a string. */
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_chat_json(&m, &json);
    sms_buf_putc(&json, '\0');
    assert_string_equal(json.data,
                        "{\"id\":\"01JDQ5Q2A0K1M2N3P4Q5R6S7T8\",\"class_id\":\"01JDQ0Z6Q3V5YB8C4N2M7K9T1A\","
                        "\"cursor\":\"1\",\"author_id\":\"s-1001\",\"author_role\":\"student\","
                        "\"text\":\"Is problem set 1 due on Friday? \xe2\x9c\x93\","
                        "\"created_at\":\"2025-11-25T10:40:00.000Z\"}");
    sms_buf_close(&json);
    msgpack_sbuffer_destroy(&sb);
    sms_event_close(&ev);
    sms_free(bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_event_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
