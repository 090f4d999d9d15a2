/* test_classes_post_update.c - post.update through the classes command
 * table: validation, the decision against an in-memory state (owner, post
 * of another class, If-Match, an edit that changes nothing, the version
 * continued by the overlay), and the post.updated codec byte for byte
 * against schemas/vectors/post.updated.v1. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "classes_unit.h"

#define CLASS_ID "01EDITCLASS000000000000000"
#define POST_ID "01EDITPOST0000000000000000"

static void test_validation(void **state) {
    (void)state;
    const struct {
        const char *body;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"post_id\":\"p1\",\"title\":\"New\"}", NULL},
        {"{\"post_id\":\"p1\",\"pinned\":false}", NULL},
        {"{\"post_id\":\"p1\"}", "body"},
        {"{\"title\":\"t\"}", "post_id"},
        {"{\"post_id\":\"p 1\",\"title\":\"t\"}", "post_id"},
        {"{\"post_id\":\"p1\",\"title\":\"  \"}", "title"},
        {"{\"post_id\":\"p1\",\"body\":\"\"}", "body"},
        {"{\"post_id\":\"p1\",\"pinned\":1}", "pinned"},
        {"{\"post_id\":\"p1\",\"title\":\"t\",\"x\":1}", "x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cu_run_t r;
        int rc = cu_validate("post.update", "lecturer", cases[i].body, &r);
        if (cases[i].bad_field == NULL) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(r.d.status, 400);
            if (!cu_has_error(&r, cases[i].bad_field)) fail_msg("case %zu: no error for %s", i, cases[i].bad_field);
        }
        cu_done(&r);
    }
    cu_run_t r;
    assert_int_equal(cu_validate("post.update", "student", "{\"post_id\":\"p1\",\"title\":\"t\"}", &r), -1);
    assert_int_equal(r.d.status, 403);
    cu_done(&r);
}

static void decide(classes_state_t *st, const char *key, const char *actor, const char *body, int64_t if_match,
                   int64_t now, cu_run_t *o) {
    cu_next_id(strcmp(key, "") == 0 ? CLASS_ID : POST_ID);
    cu_decide(st, key[0] ? "post.update" : "class.create", key, actor, "lecturer", body, if_match, now, o);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    cu_run_t run, *o = &run;
    decide(&st, "", "u1", "{\"code\":\"E1\",\"name\":\"Edits\"}", 0, 1000, o);
    assert_int_equal(o->d.status, 201);
    cu_done(o);
    /* The post as post.create left it in the view (never edited: version 1). */
    classes_post_t p = {.id = SMS_STR(POST_ID), .class_id = SMS_STR(CLASS_ID), .author_id = SMS_STR("u1"),
                        .title = SMS_STR("Welcome"), .body = SMS_STR("Notes"), .pinned = true, .created_at = 2000};
    classes_state_set_post(&st, &p);

    const char *edit = "{\"post_id\":\"" POST_ID "\",\"body\":\"Notes and slides\",\"pinned\":false}";
    decide(&st, CLASS_ID, "u2", edit, 0, 3000, o); /* another lecturer's class */
    assert_int_equal(o->d.status, 404);
    cu_done(o);
    decide(&st, CLASS_ID, "u1", "{\"post_id\":\"nope\",\"title\":\"x\"}", 0, 3000, o);
    assert_int_equal(o->d.status, 404);
    cu_done(o);
    decide(&st, CLASS_ID, "u1", edit, 2, 3000, o);
    assert_int_equal(o->d.status, 412);
    assert_string_equal(o->d.problem_code, "precondition_failed");
    cu_done(o);

    decide(&st, CLASS_ID, "u1", edit, 1, 3000, o);
    assert_int_equal(o->d.status, 200);
    assert_true(cu_event_is(o, "post.updated"));
    assert_int_equal(cu_event_i64(o, "version"), 2);
    assert_int_equal(cu_event_i64(o, "updated_at"), 3000);
    assert_int_equal(cu_event_i64(o, "created_at"), 2000);
    assert_true(sms_mp_str_eq(sms_mp_map_get(o->event.data, "lecturer_id"), "u1"));
    assert_true(sms_mp_str_eq(sms_mp_map_get(o->event.data, "title"), "Welcome")); /* kept */
    assert_int_equal(cu_body_bool(o, "pinned"), 0);
    assert_int_equal(cu_body_i64(o, "version"), 2);
    cu_done(o);

    /* The overlay: the next edit of the batch sees version 2. */
    decide(&st, CLASS_ID, "u1", "{\"post_id\":\"" POST_ID "\",\"title\":\"Hello\"}", 2, 2500, o);
    assert_int_equal(o->d.status, 200);
    assert_int_equal(cu_event_i64(o, "version"), 3);
    assert_int_equal(cu_event_i64(o, "updated_at"), 3001); /* never back in time */
    cu_done(o);
    /* Nothing differs: the post as it is, no event. */
    decide(&st, CLASS_ID, "u1", "{\"post_id\":\"" POST_ID "\",\"title\":\"Hello\"}", 0, 4000, o);
    assert_int_equal(o->d.status, 200);
    assert_false(o->has_event);
    assert_int_equal(cu_body_i64(o, "version"), 3);
    cu_done(o);
    classes_state_close(&st);
}

/* The vector decoded by the projection's reader, re-encoded by the service's
 * packer: the very bytes the Python generator wrote. */
static void test_event_vector(void **state) {
    (void)state;
    size_t blen;
    char *bytes = unit_vector("post.updated.v1", "msgpack", &blen);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(bytes, blen, &ev), SMS_OK);
    classes_post_t p;
    assert_int_equal(classes_read_post_updated(ev.data, &p), 0);
    assert_int_equal(p.version, 2);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, ev.id, ev.type, ev.v, ev.time, ev.actor, ev.key, ev.cause);
    classes_pack_post_updated(&pk, &p);
    assert_int_equal(sb.size, blen);
    assert_memory_equal(sb.data, bytes, blen);
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_post_json(&p, &json);
    sms_buf_putc(&json, '\0');
    assert_non_null(strstr(json.data, "\"updated_at\":\"2025-11-25T10:35:00.000Z\",\"version\":2}"));
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
