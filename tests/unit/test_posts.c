/* test_posts.c - the classes service's post decisions: validation of
 * post.create bodies, the decision against an in-memory state (owner,
 * inactive class), the post.created codec and the view's sort member. No I/O. */
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
#include "projection.h"

#define CLASS_ID "01POSTCLASS000000000000000"
#define POST_ID "01POSTPOST0000000000000000"

static void test_validation(void **state) {
    (void)state;
    char long_title[260], long_body[10200], body_max[10001];
    int n = snprintf(long_title, sizeof long_title, "{\"title\":\"%0201d\",\"body\":\"b\"}", 0);
    assert_true(n > 0);
    memset(body_max, 'x', 10000);
    body_max[10000] = '\0';
    snprintf(long_body, sizeof long_body, "{\"title\":\"t\",\"body\":\"%sx\"}", body_max);
    char ok_max[10200];
    snprintf(ok_max, sizeof ok_max, "{\"title\":\"t\",\"body\":\"%s\"}", body_max);
    const struct {
        const char *body;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"title\":\"Hi\",\"body\":\"Welcome\"}", NULL},
        {"{\"title\":\"Hi\",\"body\":\"Welcome\",\"pinned\":true}", NULL},
        {"{\"title\":\"Hi\",\"body\":\"line 1\\nline 2\",\"pinned\":false}", NULL},
        {ok_max, NULL},
        {"{\"body\":\"b\"}", "title"},
        {"{\"title\":\"t\"}", "body"},
        {"{\"title\":\"\",\"body\":\"b\"}", "title"},
        {"{\"title\":\"   \",\"body\":\"b\"}", "title"},
        {"{\"title\":1,\"body\":\"b\"}", "title"},
        {"{\"title\":\"t\",\"body\":\"\"}", "body"},
        {"{\"title\":\"t\",\"body\":\"b\",\"pinned\":\"yes\"}", "pinned"},
        {"{\"title\":\"t\",\"body\":\"b\",\"extra\":1}", "extra"},
        {long_title, "title"},
        {long_body, "body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cu_run_t r;
        int rc = cu_validate("post.create", "lecturer", cases[i].body, &r);
        if (cases[i].bad_field == NULL) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_true(cu_has_error(&r, cases[i].bad_field));
        }
        cu_done(&r);
    }
}

/* Runs the command through the table; what it creates gets new_id. */
static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *role,
                   const char *body, const char *new_id, cu_run_t *o) {
    cu_next_id(new_id);
    cu_decide(st, type, key, actor, role, body, 0, 7000, o);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    cu_run_t run, *o = &run;
    const char *post = "{\"title\":\"Welcome\",\"body\":\"Notes are online.\",\"pinned\":true}";

    decide(&st, "class.create", "", "u1", "lecturer", "{\"code\":\"P1\",\"name\":\"Posts\"}", CLASS_ID, o);
    assert_int_equal(o->d.status, 201);
    cu_done(o);

    decide(&st, "post.create", "nope", "u1", "lecturer", post, POST_ID, o);
    assert_int_equal(o->d.status, 404);
    cu_done(o);
    decide(&st, "post.create", CLASS_ID, "u2", "lecturer", post, POST_ID, o); /* another lecturer's class */
    assert_int_equal(o->d.status, 404);
    assert_false(o->has_event);
    cu_done(o);
    decide(&st, "post.create", CLASS_ID, "s1", "student", post, POST_ID, o);
    assert_int_equal(o->d.status, 403);
    cu_done(o);
    decide(&st, "post.create", CLASS_ID, "u1", "lecturer", "{\"title\":\"\",\"body\":\"b\",\"x\":1}", POST_ID, o);
    assert_int_equal(o->d.status, 400);
    assert_string_equal(o->d.problem_code, "validation");
    assert_true(cu_has_error(o, "title"));
    assert_true(cu_has_error(o, "x"));
    assert_false(o->has_event);
    cu_done(o);

    decide(&st, "post.create", CLASS_ID, "u1", "lecturer", post, POST_ID, o);
    assert_int_equal(o->d.status, 201);
    assert_true(cu_event_is(o, "post.created"));
    assert_int_equal(cu_event_i64(o, "created_at"), 7000);
    assert_int_equal(cu_body_bool(o, "pinned"), 1);
    assert_int_equal(classes_state_class(&st, SMS_STR(CLASS_ID))->version, 1); /* posting leaves the class alone */

    /* The event's data as the projection reads it. */
    const msgpack_object *data = o->event.data;
    assert_int_equal(data->via.map.size, 8);
    static const char *const order[] = {"id", "class_id", "lecturer_id", "author_id", "title", "body", "pinned",
                                        "created_at"};
    for (size_t i = 0; i < 8; i++) assert_true(sms_mp_str_eq(&data->via.map.ptr[i].key, order[i]));
    classes_post_t back;
    assert_int_equal(classes_read_post(data, &back), 0);
    assert_int_equal(back.id.len, strlen(POST_ID));
    assert_memory_equal(back.id.ptr, POST_ID, back.id.len);
    assert_memory_equal(back.class_id.ptr, CLASS_ID, back.class_id.len);
    assert_memory_equal(back.lecturer_id.ptr, "u1", 2);
    assert_memory_equal(back.author_id.ptr, "u1", 2);
    assert_memory_equal(back.title.ptr, "Welcome", 7);
    assert_true(back.pinned);
    assert_int_equal(back.created_at, 7000);
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_post_json(&back, &json);
    sms_buf_putc(&json, '\0');
    assert_non_null(strstr(json.data, "\"pinned\":true"));
    assert_non_null(strstr(json.data, "\"created_at\":\"1970-01-01T00:00:07.000Z\""));
    assert_null(strstr(json.data, "lecturer_id"));
    sms_buf_close(&json);
    cu_done(o);

    /* Default pinned = false. */
    decide(&st, "post.create", CLASS_ID, "u1", "lecturer", "{\"title\":\"t\",\"body\":\"b\"}", POST_ID, o);
    assert_int_equal(o->d.status, 201);
    assert_int_equal(cu_body_bool(o, "pinned"), 0);
    cu_done(o);

    /* Inactive class: 409. */
    decide(&st, "class.deactivate", CLASS_ID, "u1", "lecturer", "{}", CLASS_ID, o);
    assert_int_equal(o->d.status, 200);
    cu_done(o);
    decide(&st, "post.create", CLASS_ID, "u1", "lecturer", post, POST_ID, o);
    assert_int_equal(o->d.status, 409);
    assert_string_equal(o->d.problem_code, "class_inactive");
    assert_false(o->has_event);
    cu_done(o);

    classes_state_close(&st);
}

/* Reverse lex order of members = pinned first, then newest. */
static void test_member_order(void **state) {
    (void)state;
    char pinned_old[64], pinned_new[64], plain_new[64], plain_old[64];
    classes_post_member(true, 1000, "A", 1, pinned_old, sizeof pinned_old);
    classes_post_member(true, 2000, "B", 1, pinned_new, sizeof pinned_new);
    classes_post_member(false, 1764066600000, "C", 1, plain_new, sizeof plain_new);
    classes_post_member(false, 5, "D", 1, plain_old, sizeof plain_old);
    assert_string_equal(pinned_old, "10000000001000:A");
    assert_true(strcmp(pinned_new, pinned_old) > 0);
    assert_true(strcmp(pinned_old, plain_new) > 0);
    assert_true(strcmp(plain_new, plain_old) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_member_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
