/* test_assignment_body.c - the assignments service's validation of bodies
 * and its decisions (create/update/delete) against an in-memory state. */
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

#define NOW 1735727400000LL /* 2025-01-01T10:30:00Z */

/* Builds a command whose data is the JSON text body (if_match 0: none). */
static void make_cmd(unit_cmd_t *f, const char *type, const char *key, const char *actor, const char *body,
                     int64_t if_match) {
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR("lecturer"),
                            .key = SMS_STR(key), .has_if_match = if_match > 0, .if_match = if_match};
    unit_cmd_make(f, &h, body);
}

/* A state with lecturer lec-a's active class C1 and inactive class C2, and lec-b's class C3. */
static void make_state(assignments_state_t *st) {
    assignments_state_init(st, NULL);
    assignments_class_t c = {.lecturer_id = "lec-a", .status = "active", .version = 1};
    assignments_state_put_class(st, "C1", &c);
    snprintf(c.status, sizeof c.status, "inactive");
    c.version = 2;
    assignments_state_put_class(st, "C2", &c);
    assignments_class_t other = {.lecturer_id = "lec-b", .status = "active", .version = 1};
    assignments_state_put_class(st, "C3", &other);
}

static void decide(assignments_state_t *st, const char *type, const char *key, const char *actor, const char *body,
                   int64_t if_match, int64_t now, assignments_outcome_t *out) {
    unit_cmd_t f;
    make_cmd(&f, type, key, actor, body, if_match);
    assignments_decide(st, &f.cmd, now, "A1", out);
    unit_cmd_free(&f);
}

/* Decides, then applies the overlay as ops.c does. */
static int run(assignments_state_t *st, const char *type, const char *key, const char *actor, const char *body,
               int64_t if_match, int64_t now, assignments_outcome_t *out) {
    decide(st, type, key, actor, body, if_match, now, out);
    if (out->event_type) assignments_state_put(st, &out->after);
    return out->verdict.status;
}

static void test_validation(void **state) {
    (void)state;
    static const struct {
        const char *body;
        bool create;
        const char *bad_field; /* NULL: valid */
    } cases[] = {
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, NULL},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00+02:00\",\"max_score\":12.5,"
         "\"description\":\"read ch. 1\\nthen 2\"}", true, NULL},
        {"{\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, "class_id"},
        {"{\"class_id\":\"C1\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, "title"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\"}", true, "due_at"},
        {"{\"class_id\":\"C1\",\"title\":\"\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, "title"},
        {"{\"class_id\":\"C1\",\"title\":\" HW1\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, "title"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"tomorrow\"}", true, "due_at"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00\"}", true, "due_at"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":1767225600000}", true, "due_at"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"1969-12-31T23:59:59Z\"}", true, "due_at"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\",\"max_score\":0}", true, "max_score"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\",\"max_score\":-1}", true, "max_score"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\",\"max_score\":\"10\"}", true, "max_score"},
        {"{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\",\"points\":10}", true, "points"},
        {"{\"class_id\":5,\"title\":\"HW1\",\"due_at\":\"2026-03-01T23:59:00Z\"}", true, "class_id"},
        {"{\"title\":\"HW2\"}", false, NULL},
        {"{\"max_score\":0.5}", false, NULL},
        {"{}", false, "body"},
        {"{\"class_id\":\"C1\"}", false, "class_id"},
        {"{\"description\":null}", false, "description"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unit_cmd_t f;
        make_cmd(&f, "x", "", "lec-a", cases[i].body, 0);
        assignments_outcome_t out;
        memset(&out, 0, sizeof out);
        size_t n = assignments_validate_body(f.cmd.data, cases[i].create, &out);
        if (cases[i].bad_field == NULL && n != 0)
            fail_msg("case %zu (%s): unexpected error on %s: %s", i, cases[i].body, out.verdict.errors[0].field,
                     out.verdict.errors[0].message);
        if (cases[i].bad_field && !unit_has_error(&out.verdict, cases[i].bad_field))
            fail_msg("case %zu (%s): no error on %s", i, cases[i].body, cases[i].bad_field);
        unit_cmd_free(&f);
    }
}

static void test_title_and_description_lengths(void **state) {
    (void)state;
    char body[16384];
    char title[600] = "";
    for (int i = 0; i < 200; i++) strcat(title, "\xc3\xa9"); /* 200 two-byte characters */
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
    unit_cmd_t f;
    assignments_outcome_t out;
    make_cmd(&f, "x", "", "lec-a", body, 0);
    memset(&out, 0, sizeof out);
    assert_int_equal(assignments_validate_body(f.cmd.data, false, &out), 0);
    unit_cmd_free(&f);
    snprintf(body, sizeof body, "{\"title\":\"%sx\"}", title);
    make_cmd(&f, "x", "", "lec-a", body, 0);
    memset(&out, 0, sizeof out);
    assert_int_equal(assignments_validate_body(f.cmd.data, false, &out), 1);
    assert_true(unit_has_error(&out.verdict, "title"));
    unit_cmd_free(&f);
    char desc[5100];
    memset(desc, 'd', 5001);
    desc[5001] = '\0';
    snprintf(body, sizeof body, "{\"description\":\"%s\"}", desc);
    make_cmd(&f, "x", "", "lec-a", body, 0);
    memset(&out, 0, sizeof out);
    assert_true(assignments_validate_body(f.cmd.data, false, &out) == 1 && unit_has_error(&out.verdict, "description"));
    unit_cmd_free(&f);
}

static void test_create(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_outcome_t out;
    decide(&st, "assignment.create", "", "lec-a",
           "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2025-01-02T12:30:00.5+02:00\"}", 0, NOW, &out);
    assert_int_equal(out.verdict.status, 201);
    assert_string_equal(out.event_type, "assignment.created");
    assert_string_equal(out.after.id, "A1");
    assert_string_equal(out.after.class_id, "C1");
    assert_string_equal(out.after.lecturer_id, "lec-a");
    assert_string_equal(out.after.status, "open");
    assert_string_equal(out.after.description, "");
    assert_int_equal(out.after.due_at, 1735813800500LL); /* 2025-01-02T10:30:00.500Z */
    assert_true(out.after.max_score == 100.0);
    assert_int_equal(out.after.version, 1);
    assert_int_equal(out.after.created_at, NOW);
    assert_string_equal(assignments_public_status(&out.after, NOW), "open");
    assert_string_equal(assignments_public_status(&out.after, 1735813800500LL), "closed");
    assignments_outcome_clear(&out);

    decide(&st, "assignment.create", "", "lec-a",
           "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2025-01-02T00:00:00Z\",\"max_score\":7.5}", 0, NOW, &out);
    assert_int_equal(out.verdict.status, 201);
    assert_true(out.after.max_score == 7.5);
    assignments_outcome_clear(&out);
    assignments_state_close(&st);
}

static void test_create_class_checks(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_outcome_t out;
    static const struct {
        const char *class_id;
        int status;
        const char *code;
    } cases[] = {
        {"C3", 404, "not_found"},      /* another lecturer's class */
        {"nope", 404, "not_found"},    /* unknown class */
        {"C2", 409, "class_inactive"}, /* inactive */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"class_id\":\"%s\",\"title\":\"HW\",\"due_at\":\"2026-01-01T00:00:00Z\"}",
                 cases[i].class_id);
        decide(&st, "assignment.create", "", "lec-a", body, 0, NOW, &out);
        assert_int_equal(out.verdict.status, cases[i].status);
        assert_string_equal(out.verdict.problem_code, cases[i].code);
        assert_true(unit_has_error(&out.verdict, "class_id"));
        assert_null(out.event_type);
        assignments_outcome_clear(&out);
    }
    /* Validation comes first. */
    decide(&st, "assignment.create", "", "lec-a", "{\"class_id\":\"C3\",\"title\":\"HW\"}", 0, NOW, &out);
    assert_int_equal(out.verdict.status, 400);
    assignments_outcome_clear(&out);
    assignments_state_close(&st);
}

static void test_update_and_if_match(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_outcome_t out;
    assert_int_equal(run(&st, "assignment.create", "", "lec-a",
                         "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-01-01T00:00:00Z\"}", 0, NOW, &out),
                     201);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.update", "A1", "lec-a", "{\"title\":\"HW one\"}", 2, NOW + 1, &out), 412);
    assert_string_equal(out.verdict.problem_code, "precondition_failed");
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.update", "A1", "lec-b", "{\"title\":\"mine\"}", 0, NOW + 1, &out), 404);
    assignments_outcome_clear(&out);
    assert_int_equal(run(&st, "assignment.update", "A9", "lec-a", "{\"title\":\"x\"}", 0, NOW + 1, &out), 404);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.update", "A1", "lec-a",
                         "{\"title\":\"HW one\",\"max_score\":50,\"due_at\":\"2026-01-01T01:00:00+01:00\"}", 1, NOW + 1,
                         &out),
                     200);
    assert_string_equal(out.event_type, "assignment.updated");
    assert_int_equal(out.n_changed, 2); /* the due_at is the same instant */
    assert_string_equal(out.changed[0], "title");
    assert_string_equal(out.changed[1], "max_score");
    assert_int_equal(out.after.version, 2);
    assert_int_equal(out.after.updated_at, NOW + 1);
    assignments_outcome_clear(&out);

    /* No change: 200, no event, same version. */
    assert_int_equal(run(&st, "assignment.update", "A1", "lec-a", "{\"title\":\"HW one\"}", 2, NOW + 2, &out), 200);
    assert_null(out.event_type);
    assert_int_equal(out.after.version, 2);
    assignments_outcome_clear(&out);

    /* A clock behind the last update still moves updated_at forward. */
    assert_int_equal(run(&st, "assignment.update", "A1", "lec-a", "{\"description\":\"d\"}", 0, NOW - 100, &out), 200);
    assert_int_equal(out.after.updated_at, NOW + 2);
    assignments_outcome_clear(&out);
    assignments_state_close(&st);
}

static void test_delete_twice_and_update_deleted(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_outcome_t out;
    run(&st, "assignment.create", "", "lec-a",
        "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-01-01T00:00:00Z\"}", 0, NOW, &out);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.delete", "A1", "lec-b", "{}", 0, NOW + 1, &out), 404);
    assignments_outcome_clear(&out);
    assert_int_equal(run(&st, "assignment.delete", "A1", "lec-a", "{}", 5, NOW + 1, &out), 412);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.delete", "A1", "lec-a", "{}", 0, NOW + 1, &out), 200);
    assert_string_equal(out.event_type, "assignment.deleted");
    assert_string_equal(out.after.status, "deleted");
    assert_int_equal(out.after.version, 2);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.delete", "A1", "lec-a", "{}", 0, NOW + 2, &out), 200);
    assert_null(out.event_type);
    assert_string_equal(out.after.status, "deleted");
    assert_int_equal(out.after.version, 2);
    assignments_outcome_clear(&out);

    assert_int_equal(run(&st, "assignment.update", "A1", "lec-a", "{\"title\":\"back\"}", 0, NOW + 3, &out), 409);
    assert_string_equal(out.verdict.problem_code, "assignment_deleted");
    assignments_outcome_clear(&out);
    assignments_state_close(&st);
}

static void test_unknown_command_type(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_outcome_t out;
    decide(&st, "assignment.archive", "A1", "lec-a", "{}", 0, NOW, &out);
    assert_int_equal(out.verdict.status, 400);
    assert_string_equal(out.verdict.problem_code, "unknown_command");
    assignments_outcome_clear(&out);
    assignments_state_close(&st);
}

static void test_snapshot_round_trip(void **state) {
    (void)state;
    assignments_assignment_t a = {0}, b;
    assignments_set(&a.id, "A1", 2);
    assignments_set(&a.class_id, "C1", 2);
    assignments_set(&a.lecturer_id, "lec-a", 5);
    assignments_set(&a.title, "HW", 2);
    assignments_set(&a.description, "", 0);
    assignments_set(&a.status, "open", 4);
    a.due_at = NOW;
    a.max_score = 12.5;
    a.created_at = a.updated_at = NOW - 5;
    a.version = 3;
    for (int k = 0; k < 2; k++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        assignments_pack_snapshot(&pk, &a, NULL, 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *score = NULL;
        for (uint32_t i = 0; i < u.data.via.map.size; i++)
            if (u.data.via.map.ptr[i].key.via.str.size == 9) score = &u.data.via.map.ptr[i].val;
        assert_non_null(score);
        /* Whole scores are ints on the wire, others floats. */
        assert_int_equal(score->type, k == 0 ? MSGPACK_OBJECT_FLOAT64 : MSGPACK_OBJECT_POSITIVE_INTEGER);
        assert_int_equal(assignments_read_snapshot(&u.data, &b), 0);
        assert_true(b.max_score == a.max_score);
        assert_string_equal(b.title, "HW");
        assert_int_equal(b.version, 3);
        assignments_assignment_clear(&b);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
        a.max_score = 100;
    }
    sms_buf_t doc;
    sms_buf_init(&doc);
    assignments_render_doc(&a, &doc);
    assert_string_equal(doc.data, "{\"id\":\"A1\",\"class_id\":\"C1\",\"title\":\"HW\",\"description\":\"\","
                                  "\"due_at\":\"2025-01-01T10:30:00.000Z\",\"max_score\":100,"
                                  "\"created_at\":\"2025-01-01T10:29:59.995Z\",\"updated_at\":\"2025-01-01T10:29:59.995Z\","
                                  "\"version\":3");
    sms_buf_close(&doc);
    assignments_assignment_clear(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_title_and_description_lengths),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_create_class_checks),
        cmocka_unit_test(test_update_and_if_match),
        cmocka_unit_test(test_delete_twice_and_update_deleted),
        cmocka_unit_test(test_unknown_command_type),
        cmocka_unit_test(test_snapshot_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
