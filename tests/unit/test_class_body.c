/* test_class_body.c - the classes service's validation of class bodies and
 * its decisions (create/update/deactivate) against an in-memory state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "json_msgpack.h"
#include "unit_helpers.h"

static void make_cmd(unit_cmd_t *f, const char *type, const char *key, const char *actor, const char *body,
                     int64_t if_match) {
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR("lecturer"),
                            .key = SMS_STR(key), .has_if_match = if_match > 0, .if_match = if_match};
    unit_cmd_make(f, &h, body);
}

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
        unit_cmd_t f;
        make_cmd(&f, "class.create", "", "u1", cases[i].body, 0);
        classes_outcome_t o;
        memset(&o, 0, sizeof o);
        size_t n = classes_validate_body(f.cmd.data, cases[i].create, &o);
        if (cases[i].bad_field) {
            assert_true(n > 0);
            assert_true(unit_has_error(&o.verdict, cases[i].bad_field));
        } else {
            assert_int_equal(n, 0);
        }
        unit_cmd_free(&f);
    }
}

static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *body,
                   int64_t if_match, classes_outcome_t *o) {
    unit_cmd_t f;
    make_cmd(&f, type, key, actor, body, if_match);
    static int counter;
    char new_id[32];
    snprintf(new_id, sizeof new_id, "01TESTID%018d", counter++);
    classes_decide(st, &f.cmd, 1000, new_id, o);
    if (o->event_type) classes_state_apply(st, classes_state_class(st, f.cmd.key), &o->after);
    unit_cmd_free(&f);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    classes_outcome_t o;

    decide(&st, "class.create", "", "u1", "{\"code\":\"cs101\",\"name\":\"Intro\"}", 0, &o);
    assert_int_equal(o.verdict.status, 201);
    assert_string_equal(o.event_type, "class.created");
    assert_int_equal(o.after.version, 1);
    assert_string_equal(o.after.lecturer_id, "u1");
    classes_outcome_clear(&o);

    /* Same code, other case, same lecturer: taken. Another lecturer: fine. */
    decide(&st, "class.create", "", "u1", "{\"code\":\"CS101\",\"name\":\"Again\"}", 0, &o);
    assert_int_equal(o.verdict.status, 409);
    assert_null(o.event_type);
    classes_outcome_clear(&o);
    decide(&st, "class.create", "", "u2", "{\"code\":\"CS101\",\"name\":\"Theirs\"}", 0, &o);
    assert_int_equal(o.verdict.status, 201);
    classes_outcome_clear(&o);

    const char *id = "01TESTID000000000000000000"; /* the first class created */
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 2, &o);
    assert_int_equal(o.verdict.status, 412);
    classes_outcome_clear(&o);
    decide(&st, "class.update", id, "u3", "{\"name\":\"Intro 2\"}", 0, &o);
    assert_int_equal(o.verdict.status, 404); /* not the owner: not found */
    classes_outcome_clear(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 1, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.after.version, 2);
    assert_int_equal(o.n_changed, 1);
    assert_string_equal(o.changed[0], "name");
    classes_outcome_clear(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"Intro 2\"}", 0, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_null(o.event_type); /* nothing changed: no event */
    classes_outcome_clear(&o);

    decide(&st, "class.deactivate", id, "u1", "{}", 0, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_string_equal(o.after.status, "inactive");
    assert_int_equal(o.after.version, 3);
    classes_outcome_clear(&o);
    decide(&st, "class.deactivate", id, "u1", "{}", 0, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_null(o.event_type); /* deleting twice changes nothing */
    classes_outcome_clear(&o);
    decide(&st, "class.update", id, "u1", "{\"name\":\"x\"}", 0, &o);
    assert_int_equal(o.verdict.status, 409);
    classes_outcome_clear(&o);
    /* Its code is free again. */
    decide(&st, "class.create", "", "u1", "{\"code\":\"CS101\",\"name\":\"New\"}", 0, &o);
    assert_int_equal(o.verdict.status, 201);
    classes_outcome_clear(&o);

    classes_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
