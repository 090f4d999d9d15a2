/* test_roster.c - the classes service's roster decisions: validation of
 * enroll bodies (per-row errors), enroll/unenroll against an in-memory
 * state and its overlay, and the roster event codecs. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "classes_unit.h"
#include "json_msgpack.h"
#include "msgpack_util.h"

static void test_syntax(void **state) {
    (void)state;
    assert_true(classes_valid_student_id("s-1.a_B", 7));
    assert_false(classes_valid_student_id("", 0));
    assert_false(classes_valid_student_id("a b", 3));
    assert_false(classes_valid_student_id("é", 2));
    char long_id[66];
    memset(long_id, 'a', 65);
    assert_true(classes_valid_student_id(long_id, 64));
    assert_false(classes_valid_student_id(long_id, 65));
    static const char *const good[] = {"a@b.co", "jane.doe+x@mail.school.edu", "x_y@a-b.org"};
    static const char *const bad[] = {"", "a@b", "@b.co", "a@.co", "a@b.c", "a b@c.de", "a@b..co", "a@b.c0m",
                                      "a@@b.co", "a@-b.co", "a@b.co ", "ab.co"};
    for (size_t i = 0; i < 3; i++) assert_true(classes_valid_email(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(classes_valid_email(bad[i], strlen(bad[i])));
    char email[260];
    memset(email, 'a', sizeof email);
    memcpy(email + 200, "@b.co", 5); /* local part of 200: too long */
    assert_false(classes_valid_email(email, 205));
}

static void test_validation(void **state) {
    (void)state;
    static const struct {
        const char *body;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"Ann\",\"email\":\"ann@x.edu\"}]}", NULL},
        {"{\"students\":[]}", "students"},
        {"{}", "students"},
        {"{\"students\":{}}", "students"},
        {"{\"students\":[1]}", "students[0]"},
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"Ann\",\"email\":\"bad\"}]}", "students[0].email"},
        {"{\"students\":[{\"student_id\":\"s 1\",\"name\":\"Ann\",\"email\":\"a@x.edu\"}]}", "students[0].student_id"},
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"  \",\"email\":\"a@x.edu\"}]}", "students[0].name"},
        {"{\"students\":[{\"student_id\":\"s1\",\"email\":\"a@x.edu\"}]}", "students[0].name"},
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"A\",\"email\":\"a@x.edu\",\"x\":1}]}", "students[0].x"},
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"A\",\"email\":\"a@x.edu\"}],\"extra\":1}", "extra"},
        {"{\"students\":[{\"student_id\":\"s1\",\"name\":\"A\",\"email\":\"a@x.edu\"},"
         "{\"student_id\":\"s2\",\"name\":\"B\",\"email\":\"b@x.edu\"},"
         "{\"student_id\":\"s1\",\"name\":\"C\",\"email\":\"c@x.edu\"}]}", "students[2].student_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cu_run_t r;
        int rc = cu_validate("roster.enroll", "lecturer", cases[i].body, &r);
        if (cases[i].bad_field) {
            assert_int_equal(rc, -1);
            if (!cu_has_error(&r, cases[i].bad_field)) fail_msg("case %zu: no error for %s", i, cases[i].bad_field);
        } else {
            assert_int_equal(rc, 0);
        }
        cu_done(&r);
    }
}

static void test_too_many_rows(void **state) {
    (void)state;
    cJSON *body = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(body, "students");
    for (int i = 0; i < CLASSES_ROSTER_MAX + 1; i++) {
        char id[16], email[32];
        snprintf(id, sizeof id, "s%d", i);
        snprintf(email, sizeof email, "s%d@x.edu", i);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "student_id", id);
        cJSON_AddStringToObject(s, "name", "N");
        cJSON_AddStringToObject(s, "email", email);
        cJSON_AddItemToArray(list, s);
    }
    char *text = cJSON_PrintUnformatted(body);
    cu_run_t r;
    assert_int_equal(cu_validate("roster.enroll", "lecturer", text, &r), -1);
    assert_int_equal(r.d.n_errors, 1);
    assert_true(cu_has_error(&r, "students"));
    cu_done(&r);
    cJSON_free(text);
    cJSON_Delete(body);
}

/* Runs the command through the table (its overlay included). */
static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *body,
                   cu_run_t *o) {
    cu_next_id("01ROSTERCLASS0000000000000");
    cu_decide(st, type, key, actor, "lecturer", body, 0, 5000, o);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    cu_run_t run, *o = &run;
    const char *cid = "01ROSTERCLASS0000000000000";
    const char *three = "{\"students\":[{\"student_id\":\"s1\",\"name\":\"Cy\",\"email\":\"c@x.edu\"},"
                        "{\"student_id\":\"s2\",\"name\":\"al\",\"email\":\"a@x.edu\"},"
                        "{\"student_id\":\"s3\",\"name\":\"Bo\",\"email\":\"b@x.edu\"}]}";

    decide(&st, "class.create", "", "u1", "{\"code\":\"R1\",\"name\":\"Roster\"}", o);
    assert_int_equal(o->d.status, 201);
    cu_done(o);

    decide(&st, "roster.enroll", "nope", "u1", three, o);
    assert_int_equal(o->d.status, 404);
    cu_done(o);
    decide(&st, "roster.enroll", cid, "u2", three, o); /* another lecturer's class */
    assert_int_equal(o->d.status, 404);
    assert_false(o->has_event);
    cu_done(o);

    decide(&st, "roster.enroll", cid, "u1", three, o);
    assert_int_equal(o->d.status, 200);
    assert_true(cu_event_is(o, "class.students_enrolled"));
    assert_int_equal(cu_body_i64(o, "enrolled"), 3);
    assert_int_equal(cu_body_i64(o, "already_enrolled"), 0);
    assert_int_equal(cu_event_i64(o, "roster_version"), 1);
    assert_int_equal(classes_state_class(&st, SMS_STR(cid))->version, 1); /* the class's own version is untouched */

    /* The event's data as the projection reads it. */
    assert_true(sms_mp_str_eq(sms_mp_map_get(o->event.data, "class_id"), cid));
    assert_true(sms_mp_str_eq(sms_mp_map_get(o->event.data, "lecturer_id"), "u1"));
    const msgpack_object *list = sms_mp_map_get(o->event.data, "students");
    assert_non_null(list);
    assert_int_equal(list->via.array.size, 3);
    classes_student_t s;
    assert_int_equal(classes_read_student(&list->via.array.ptr[1], &s), 0);
    assert_int_equal(s.enrolled_at, 5000);
    assert_int_equal(s.name.len, 2);
    assert_memory_equal(s.name.ptr, "al", 2);
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_student_json(&s, &json);
    assert_string_equal(json.data, "{\"student_id\":\"s2\",\"name\":\"al\",\"email\":\"a@x.edu\","
                                   "\"enrolled_at\":\"1970-01-01T00:00:05.000Z\"}");
    sms_buf_close(&json);
    cu_done(o);

    /* Again, plus one new: only the new one is enrolled. */
    decide(&st, "roster.enroll", cid, "u1",
           "{\"students\":[{\"student_id\":\"s1\",\"name\":\"Other name\",\"email\":\"z@x.edu\"},"
           "{\"student_id\":\"s4\",\"name\":\"Di\",\"email\":\"d@x.edu\"}]}", o);
    assert_int_equal(o->d.status, 200);
    assert_int_equal(cu_body_i64(o, "enrolled"), 1);
    assert_int_equal(cu_body_i64(o, "already_enrolled"), 1);
    assert_int_equal(cu_event_i64(o, "roster_version"), 2);
    cu_done(o);
    decide(&st, "roster.enroll", cid, "u1", three, o);
    assert_int_equal(o->d.status, 200);
    assert_int_equal(cu_body_i64(o, "already_enrolled"), 3);
    assert_false(o->has_event); /* nothing new: no event */
    cu_done(o);

    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s2\"}", o);
    assert_int_equal(o->d.status, 200);
    assert_int_equal(cu_body_bool(o, "unenrolled"), 1);
    assert_true(cu_event_is(o, "class.student_unenrolled"));
    assert_int_equal(cu_event_i64(o, "roster_version"), 3);
    cu_done(o);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s2\"}", o);
    assert_int_equal(o->d.status, 200);
    assert_int_equal(cu_body_bool(o, "unenrolled"), 0);
    assert_false(o->has_event);
    cu_done(o);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"bad id\"}", o);
    assert_int_equal(o->d.status, 400);
    cu_done(o);

    /* Inactive class: 409 for both. */
    decide(&st, "class.deactivate", cid, "u1", "{}", o);
    assert_int_equal(o->d.status, 200);
    cu_done(o);
    decide(&st, "roster.enroll", cid, "u1", three, o);
    assert_int_equal(o->d.status, 409);
    assert_string_equal(o->d.problem_code, "class_inactive");
    cu_done(o);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s1\"}", o);
    assert_int_equal(o->d.status, 409);
    cu_done(o);

    classes_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_too_many_rows),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
