/* test_class_body.c - the classes service's validation of class bodies and
 * its decisions (create/update/deactivate) against an in-memory state, each
 * run through the service's command table (classes_unit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "classes_unit.h"
#include "json_msgpack.h"

static void test_validation(void **state) {
    (void)state;
    static const struct {
        const char *body;
        bool create;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"code\":\"CS101\",\"name\":\"Intro\"}", true, NULL},
        {"{\"code\":\"CS101\",\"name\":\"Intro\",\"description\":null}", true, "description"},
        {"{\"code\":\"CS101\",\"name\":\"Intro\",\"description\":\"a\\u0001b\"}", true, "description"},
        {"{\"code\":\"CS101\",\"name\":\"Intro\",\"description\":\"a\\nb\\tc\",\"term\":\"2025-fall\"}", true, NULL},
        {"{\"name\":\"Intro\"}", true, "code"},
        {"{\"code\":\"\",\"name\":\"Intro\"}", true, "code"},
        {"{\"code\":\"CS101\",\"name\":5}", true, "name"},
        {"{\"code\":\"CS101\",\"name\":\"Intro\",\"lecturer_id\":\"x\"}", true, "lecturer_id"},
        {"{\"code\":\"CS101 \",\"name\":\"Intro\"}", true, "code"},
        {"{\"code\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"name\":\"x\"}", true, "code"},
        {"{\"code\":\"\\u00e9\\u00e9\",\"name\":\"\\u00e9\"}", true, NULL}, /* counted in characters */
        {"{}", false, "body"},
        {"{\"term\":\"2026\"}", false, NULL},
        {"{\"code\":null}", false, "code"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cu_run_t r;
        int rc = cu_validate(cases[i].create ? "class.create" : "class.update", "lecturer", cases[i].body, &r);
        if (cases[i].bad_field) {
            assert_int_equal(rc, -1);
            assert_int_equal(r.d.status, 400);
            assert_true(cu_has_error(&r, cases[i].bad_field));
        } else {
            assert_int_equal(rc, 0);
        }
        cu_done(&r);
    }
}

/* Runs the command; a created class gets the next of the test's ids. */
static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *body,
                   int64_t if_match, cu_run_t *o) {
    static int counter;
    char new_id[32];
    snprintf(new_id, sizeof new_id, "01TESTID%018d", counter++);
    cu_next_id(new_id);
    cu_decide(st, type, key, actor, "lecturer", body, if_match, 1000, o);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    cu_run_t o;

    decide(&st, "class.create", "", "u1", "{\"code\":\"cs101\",\"name\":\"Intro\"}", 0, &o);
    assert_int_equal(o.d.status, 201);
    assert_true(cu_event_is(&o, "class.created"));
    assert_int_equal(cu_event_i64(&o, "version"), 1);
    assert_true(cu_body_str_is(&o, "lecturer_id", "u1"));
    cu_done(&o);

    /* Same code, other case, same lecturer: taken. Another lecturer: fine. */
    decide(&st, "class.create", "", "u1", "{\"code\":\"CS101\",\"name\":\"Again\"}", 0, &o);
    assert_int_equal(o.d.status, 409);
    assert_false(o.has_event);
    cu_done(&o);
    decide(&st, "class.create", "", "u2", "{\"code\":\"CS101\",\"name\":\"Theirs\"}", 0, &o);
    assert_int_equal(o.d.status, 201);
    cu_done(&o);

    const char *id = "01TESTID000000000000000000"; /* the first class created */
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 2, &o);
    assert_int_equal(o.d.status, 412);
    cu_done(&o);
    decide(&st, "class.update", id, "u3", "{\"name\":\"Intro 2\"}", 0, &o);
    assert_int_equal(o.d.status, 404); /* not the owner: not found */
    cu_done(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 1, &o);
    assert_int_equal(o.d.status, 200);
    assert_int_equal(cu_event_i64(&o, "version"), 2);
    const msgpack_object *changed = sms_mp_map_get(o.event.data, "changed");
    assert_non_null(changed);
    assert_int_equal(changed->via.array.size, 1);
    assert_true(sms_mp_str_eq(&changed->via.array.ptr[0], "name"));
    cu_done(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 0, &o);
    assert_int_equal(o.d.status, 200);
    assert_false(o.has_event); /* nothing changed: no event */
    cu_done(&o);

    decide(&st, "class.deactivate", id, "u1", "{}", 0, &o);
    assert_int_equal(o.d.status, 200);
    assert_true(cu_body_str_is(&o, "status", "inactive"));
    assert_int_equal(cu_body_i64(&o, "version"), 3);
    cu_done(&o);
    decide(&st, "class.deactivate", id, "u1", "{}", 0, &o);
    assert_int_equal(o.d.status, 200);
    assert_false(o.has_event); /* deleting twice changes nothing */
    cu_done(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"x\"}", 0, &o);
    assert_int_equal(o.d.status, 409);
    cu_done(&o);
    /* Its code is free again. */
    decide(&st, "class.create", "", "u1", "{\"code\":\"CS101\",\"name\":\"New\"}", 0, &o);
    assert_int_equal(o.d.status, 201);
    cu_done(&o);

    classes_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
