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
#include "handlers.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "unit_helpers.h"

static void make_cmd(unit_cmd_t *f, const char *type, const char *key, const char *actor, const char *body) {
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR("lecturer"),
                            .key = SMS_STR(key)};
    unit_cmd_make(f, &h, body);
}

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
        unit_cmd_t f;
        make_cmd(&f, "roster.enroll", "c1", "u1", cases[i].body);
        classes_outcome_t *o = sms_calloc(1, sizeof *o);
        size_t n = classes_validate_roster(f.cmd.data, o);
        if (cases[i].bad_field) {
            assert_true(n > 0);
            if (!unit_has_error(&o->verdict, cases[i].bad_field)) fail_msg("case %zu: no error for %s", i, cases[i].bad_field);
        } else {
            assert_int_equal(n, 0);
        }
        sms_free(o);
        unit_cmd_free(&f);
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
    unit_cmd_t f;
    make_cmd(&f, "roster.enroll", "c1", "u1", text);
    classes_outcome_t *o = sms_calloc(1, sizeof *o);
    assert_int_equal(classes_validate_roster(f.cmd.data, o), 1);
    assert_true(unit_has_error(&o->verdict, "students"));
    sms_free(o);
    unit_cmd_free(&f);
    cJSON_free(text);
    cJSON_Delete(body);
}

/* Decides, then applies the overlay the way ops.c does. */
static void decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *body,
                   classes_outcome_t *o, unit_cmd_t *f) {
    make_cmd(f, type, key, actor, body);
    classes_decide(st, &f->cmd, 5000, "01ROSTERCLASS0000000000000", o);
    if (o->event_type && o->kind == CLASSES_REPLY_CLASS) classes_state_apply(st, classes_state_class(st, f->cmd.key), &o->after);
    if (o->event_type && o->kind == CLASSES_REPLY_ENROLL) {
        for (size_t i = 0; i < o->roster.enrolled; i++) {
            sms_str_t id;
            sms_mp_str(sms_mp_map_get(o->roster.added[i], "student_id"), &id.ptr, &id.len);
            classes_state_set_enrolled(st, o->after.id, id, true);
        }
        classes_state_set_roster_version(st, o->after.id, o->roster.roster_version);
    }
    if (o->event_type && o->kind == CLASSES_REPLY_UNENROLL) {
        classes_state_set_enrolled(st, o->after.id, o->roster.student_id, false);
        classes_state_set_roster_version(st, o->after.id, o->roster.roster_version);
    }
}

static void done(classes_outcome_t *o, unit_cmd_t *f) {
    classes_outcome_clear(o);
    unit_cmd_free(f);
}

static void test_decisions(void **state) {
    (void)state;
    classes_state_t st;
    classes_state_init(&st, NULL);
    classes_outcome_t *o = sms_calloc(1, sizeof *o);
    unit_cmd_t f;
    const char *cid = "01ROSTERCLASS0000000000000";
    const char *three = "{\"students\":[{\"student_id\":\"s1\",\"name\":\"Cy\",\"email\":\"c@x.edu\"},"
                        "{\"student_id\":\"s2\",\"name\":\"al\",\"email\":\"a@x.edu\"},"
                        "{\"student_id\":\"s3\",\"name\":\"Bo\",\"email\":\"b@x.edu\"}]}";

    decide(&st, "class.create", "", "u1", "{\"code\":\"R1\",\"name\":\"Roster\"}", o, &f);
    assert_int_equal(o->verdict.status, 201);
    done(o, &f);

    decide(&st, "roster.enroll", "nope", "u1", three, o, &f);
    assert_int_equal(o->verdict.status, 404);
    done(o, &f);
    decide(&st, "roster.enroll", cid, "u2", three, o, &f); /* another lecturer's class */
    assert_int_equal(o->verdict.status, 404);
    assert_null(o->event_type);
    done(o, &f);

    decide(&st, "roster.enroll", cid, "u1", three, o, &f);
    assert_int_equal(o->verdict.status, 200);
    assert_int_equal(o->kind, CLASSES_REPLY_ENROLL);
    assert_string_equal(o->event_type, "class.students_enrolled");
    assert_int_equal(o->roster.enrolled, 3);
    assert_int_equal(o->roster.already, 0);
    assert_int_equal(o->roster.roster_version, 1);
    assert_int_equal(o->roster.enrolled_at, 5000);
    assert_int_equal(o->after.version, 1); /* the class's own version is untouched */

    /* The event codec: pack, then read back what the projection reads. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    classes_pack_students_enrolled(&pk, &o->after, o->roster.roster_version, o->roster.added, o->roster.enrolled,
                                   o->roster.enrolled_at, o->roster.already);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_true(sms_mp_str_eq(sms_mp_map_get(&u.data, "class_id"), cid));
    assert_true(sms_mp_str_eq(sms_mp_map_get(&u.data, "lecturer_id"), "u1"));
    const msgpack_object *list = sms_mp_map_get(&u.data, "students");
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
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    done(o, &f);

    /* Again, plus one new: only the new one is enrolled. */
    decide(&st, "roster.enroll", cid, "u1",
           "{\"students\":[{\"student_id\":\"s1\",\"name\":\"Other name\",\"email\":\"z@x.edu\"},"
           "{\"student_id\":\"s4\",\"name\":\"Di\",\"email\":\"d@x.edu\"}]}", o, &f);
    assert_int_equal(o->verdict.status, 200);
    assert_int_equal(o->roster.enrolled, 1);
    assert_int_equal(o->roster.already, 1);
    assert_int_equal(o->roster.roster_version, 2);
    done(o, &f);
    decide(&st, "roster.enroll", cid, "u1", three, o, &f);
    assert_int_equal(o->verdict.status, 200);
    assert_int_equal(o->roster.already, 3);
    assert_null(o->event_type); /* nothing new: no event */
    done(o, &f);

    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s2\"}", o, &f);
    assert_int_equal(o->verdict.status, 200);
    assert_int_equal(o->kind, CLASSES_REPLY_UNENROLL);
    assert_true(o->roster.unenrolled);
    assert_string_equal(o->event_type, "class.student_unenrolled");
    assert_int_equal(o->roster.roster_version, 3);
    done(o, &f);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s2\"}", o, &f);
    assert_int_equal(o->verdict.status, 200);
    assert_false(o->roster.unenrolled);
    assert_null(o->event_type);
    done(o, &f);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"bad id\"}", o, &f);
    assert_int_equal(o->verdict.status, 400);
    done(o, &f);

    /* Inactive class: 409 for both. */
    decide(&st, "class.deactivate", cid, "u1", "{}", o, &f);
    assert_int_equal(o->verdict.status, 200);
    done(o, &f);
    decide(&st, "roster.enroll", cid, "u1", three, o, &f);
    assert_int_equal(o->verdict.status, 409);
    assert_string_equal(o->verdict.problem_code, "class_inactive");
    done(o, &f);
    decide(&st, "roster.unenroll", cid, "u1", "{\"student_id\":\"s1\"}", o, &f);
    assert_int_equal(o->verdict.status, 409);
    done(o, &f);

    sms_free(o);
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
