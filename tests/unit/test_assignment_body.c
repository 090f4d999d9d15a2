/* test_assignment_body.c - the assignments service's validation of bodies
 * and its decisions (create/update/delete), run through its command table's
 * rows against an in-memory state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "assignments_unit.h"
#include "commands.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "schema.h"
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

/* Runs a command through its row (decide records its effect in st).
 * Returns the status; release out with assignments_unit_out_close. */
static int run(assignments_state_t *st, const char *type, const char *key, const char *actor, const char *body,
               int64_t if_match, int64_t now, assignments_unit_out_t *out) {
    unit_cmd_t f;
    make_cmd(&f, type, key, actor, body, if_match);
    int status = assignments_unit_run(st, &f.cmd, now, out);
    unit_cmd_free(&f);
    return status;
}

/* The assignment an outcome's event carries (cleared by the caller). */
static void event_snapshot(const assignments_unit_out_t *out, assignments_assignment_t *a) {
    assert_true(out->has_event);
    assert_int_equal(assignments_read_snapshot(out->ev.data, a), 0);
}

static int64_t body_version(const assignments_unit_out_t *out) {
    int64_t v = -1;
    assert_true(sms_mp_i64(assignments_unit_body(out, "version"), &v));
    return v;
}

static bool body_status_is(const assignments_unit_out_t *out, const char *s) {
    return sms_mp_str_eq(assignments_unit_body(out, "status"), s);
}

/* Validates body as a create or an update; returns how many errors it found. */
static size_t validate(const char *body, bool create, assignments_unit_out_t *out) {
    unit_cmd_t f;
    make_cmd(&f, create ? "assignment.create" : "assignment.update", "A1", "lec-a", body, 0);
    int rc = assignments_unit_validate(&f.cmd, out);
    unit_cmd_free(&f);
    assert_true((rc == 0) == (out->d.n_errors_total == 0));
    return out->d.n_errors_total;
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
        assignments_unit_out_t out;
        size_t n = validate(cases[i].body, cases[i].create, &out);
        if (cases[i].bad_field == NULL && n != 0)
            fail_msg("case %zu (%s): unexpected error on %s: %s", i, cases[i].body, out.d.errors[0].field,
                     out.d.errors[0].message);
        if (cases[i].bad_field && !unit_has_error(&out.d, cases[i].bad_field))
            fail_msg("case %zu (%s): no error on %s", i, cases[i].body, cases[i].bad_field);
        if (cases[i].bad_field) {
            assert_int_equal(out.d.status, 400);
            assert_string_equal(out.d.problem_code, "validation");
            assert_string_equal(out.d.detail, "the assignment body is invalid");
        }
        assignments_unit_out_close(&out);
    }
}

/* Errors come in the body's order, then the missing required fields; at
 * most ASSIGNMENTS_MAX_ERRORS are listed, all are counted. */
static void test_error_order_and_limit(void **state) {
    (void)state;
    assignments_unit_out_t out;
    assert_int_equal(validate("{\"max_score\":0,\"zz\":1,\"class_id\":5}", true, &out), 5);
    static const char *const fields[] = {"max_score", "zz", "class_id", "title", "due_at"};
    assert_int_equal(out.d.n_errors, 5);
    for (size_t i = 0; i < 5; i++) assert_string_equal(out.d.errors[i].field, fields[i]);
    assert_string_equal(out.d.errors[3].message, "is required");
    assignments_unit_out_close(&out);
    char body[1024] = "{";
    for (int i = 0; i < 20; i++) snprintf(body + strlen(body), sizeof body - strlen(body), "%s\"f%d\":1", i ? "," : "", i);
    strcat(body, "}");
    assert_int_equal(validate(body, false, &out), 20);
    assert_int_equal(out.d.n_errors, 16);
    assignments_unit_out_close(&out);
}

/* Only lecturers manage assignments; only version 1 exists. */
static void test_sender_checks(void **state) {
    (void)state;
    unit_cmd_t f;
    assignments_unit_out_t out;
    sms_command_head_t h = {.type = SMS_STR("assignment.delete"), .actor = SMS_STR("s-1"), .role = SMS_STR("student"),
                            .key = SMS_STR("A1")};
    unit_cmd_make(&f, &h, "{}");
    assert_int_equal(assignments_unit_validate(&f.cmd, &out), -1);
    assert_int_equal(out.d.status, 403);
    assert_string_equal(out.d.detail, "only lecturers manage assignments");
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    h.role = SMS_STR("lecturer");
    h.v = 2;
    unit_cmd_make(&f, &h, "{}");
    assert_int_equal(assignments_unit_validate(&f.cmd, &out), -1);
    assert_int_equal(out.d.status, 400);
    assert_string_equal(out.d.problem_code, "unsupported_version");
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
}

static void test_title_and_description_lengths(void **state) {
    (void)state;
    char body[16384];
    char title[600] = "";
    for (int i = 0; i < 200; i++) strcat(title, "\xc3\xa9"); /* 200 two-byte characters */
    assignments_unit_out_t out;
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
    assert_int_equal(validate(body, false, &out), 0);
    assignments_unit_out_close(&out);
    snprintf(body, sizeof body, "{\"title\":\"%sx\"}", title);
    assert_int_equal(validate(body, false, &out), 1);
    assert_true(unit_has_error(&out.d, "title"));
    assignments_unit_out_close(&out);
    char desc[5100];
    memset(desc, 'd', 5001);
    desc[5001] = '\0';
    snprintf(body, sizeof body, "{\"description\":\"%s\"}", desc);
    assert_true(validate(body, false, &out) == 1 && unit_has_error(&out.d, "description"));
    assignments_unit_out_close(&out);
}

static void test_create(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    assignments_assignment_t a;
    assert_int_equal(run(&st, "assignment.create", "", "lec-a",
                         "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2025-01-02T12:30:00.5+02:00\"}", 0, NOW,
                         &out),
                     201);
    assert_true(assignments_unit_event_is(&out, "assignment.created"));
    event_snapshot(&out, &a);
    assert_int_equal(strlen(a.id), 26); /* a new id */
    char location[128];
    snprintf(location, sizeof location, "/lecturer/assignments/%s", a.id);
    assert_string_equal(out.d.location, location);
    assert_non_null(assignments_state_assignment(&st, SMS_STR(a.id))); /* later commands see it */
    assert_string_equal(a.class_id, "C1");
    assert_string_equal(a.lecturer_id, "lec-a");
    assert_string_equal(a.status, "open");
    assert_string_equal(a.description, "");
    assert_int_equal(a.due_at, 1735813800500LL); /* 2025-01-02T10:30:00.500Z */
    assert_true(a.max_score == 100.0);
    assert_int_equal(a.version, 1);
    assert_int_equal(a.created_at, NOW);
    assert_string_equal(assignments_public_status(&a, NOW), "open");
    assert_string_equal(assignments_public_status(&a, 1735813800500LL), "closed");
    assert_true(body_status_is(&out, "open"));
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.create", "", "lec-a",
                         "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2025-01-02T00:00:00Z\",\"max_score\":7.5}",
                         0, NOW, &out),
                     201);
    event_snapshot(&out, &a);
    assert_true(a.max_score == 7.5);
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);
    assignments_state_close(&st);
}

static void test_create_class_checks(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    static const struct {
        const char *class_id;
        int status;
        const char *code;
        bool stale;
    } cases[] = {
        {"C3", 404, "not_found", false},      /* another lecturer's class */
        {"nope", 404, "not_found", true},     /* unknown class: maybe not learned yet */
        {"C2", 409, "class_inactive", false}, /* inactive */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"class_id\":\"%s\",\"title\":\"HW\",\"due_at\":\"2026-01-01T00:00:00Z\"}",
                 cases[i].class_id);
        assert_int_equal(run(&st, "assignment.create", "", "lec-a", body, 0, NOW, &out), cases[i].status);
        assert_string_equal(out.d.problem_code, cases[i].code);
        assert_true(out.d.stale == cases[i].stale);
        assert_true(unit_has_error(&out.d, "class_id"));
        assert_false(out.has_event);
        assignments_unit_out_close(&out);
    }
    /* Validation comes first. */
    assert_int_equal(run(&st, "assignment.create", "", "lec-a", "{\"class_id\":\"C3\",\"title\":\"HW\"}", 0, NOW, &out),
                     400);
    assignments_unit_out_close(&out);
    assignments_state_close(&st);
}

/* Creates an assignment of lec-a in C1 at now; its id into id. */
static void create_one(assignments_state_t *st, int64_t now, char id[64]) {
    assignments_unit_out_t out;
    assignments_assignment_t a;
    assert_int_equal(run(st, "assignment.create", "", "lec-a",
                         "{\"class_id\":\"C1\",\"title\":\"HW1\",\"due_at\":\"2026-01-01T00:00:00Z\"}", 0, now, &out),
                     201);
    event_snapshot(&out, &a);
    snprintf(id, 64, "%s", a.id);
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);
}

static void test_update_and_if_match(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    assignments_assignment_t a;
    char id[64];
    create_one(&st, NOW, id);

    assert_int_equal(run(&st, "assignment.update", id, "lec-a", "{\"title\":\"HW one\"}", 2, NOW + 1, &out), 412);
    assert_string_equal(out.d.problem_code, "precondition_failed");
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.update", id, "lec-b", "{\"title\":\"mine\"}", 0, NOW + 1, &out), 404);
    assignments_unit_out_close(&out);
    assert_int_equal(run(&st, "assignment.update", "A9", "lec-a", "{\"title\":\"x\"}", 0, NOW + 1, &out), 404);
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.update", id, "lec-a",
                         "{\"title\":\"HW one\",\"max_score\":50,\"due_at\":\"2026-01-01T01:00:00+01:00\"}", 1, NOW + 1,
                         &out),
                     200);
    assert_true(assignments_unit_event_is(&out, "assignment.updated"));
    const msgpack_object *changed = sms_mp_map_get(out.ev.data, "changed");
    assert_non_null(changed);
    assert_int_equal(changed->via.array.size, 2); /* the due_at is the same instant */
    assert_true(sms_mp_str_eq(&changed->via.array.ptr[0], "title"));
    assert_true(sms_mp_str_eq(&changed->via.array.ptr[1], "max_score"));
    event_snapshot(&out, &a);
    assert_int_equal(a.version, 2);
    assert_int_equal(a.updated_at, NOW + 1);
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);

    /* No change: 200, no event, same version. */
    assert_int_equal(run(&st, "assignment.update", id, "lec-a", "{\"title\":\"HW one\"}", 2, NOW + 2, &out), 200);
    assert_false(out.has_event);
    assert_int_equal(body_version(&out), 2);
    assignments_unit_out_close(&out);

    /* A clock behind the last update still moves updated_at forward. */
    assert_int_equal(run(&st, "assignment.update", id, "lec-a", "{\"description\":\"d\"}", 0, NOW - 100, &out), 200);
    event_snapshot(&out, &a);
    assert_int_equal(a.updated_at, NOW + 2);
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);
    assignments_state_close(&st);
}

static void test_delete_twice_and_update_deleted(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    assignments_assignment_t a;
    char id[64];
    create_one(&st, NOW, id);

    assert_int_equal(run(&st, "assignment.delete", id, "lec-b", "{}", 0, NOW + 1, &out), 404);
    assignments_unit_out_close(&out);
    assert_int_equal(run(&st, "assignment.delete", id, "lec-a", "{}", 5, NOW + 1, &out), 412);
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.delete", id, "lec-a", "{}", 0, NOW + 1, &out), 200);
    assert_true(assignments_unit_event_is(&out, "assignment.deleted"));
    event_snapshot(&out, &a);
    assert_string_equal(a.status, "deleted");
    assert_int_equal(a.version, 2);
    assignments_assignment_clear(&a);
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.delete", id, "lec-a", "{}", 0, NOW + 2, &out), 200);
    assert_false(out.has_event);
    assert_true(body_status_is(&out, "deleted"));
    assert_int_equal(body_version(&out), 2);
    assignments_unit_out_close(&out);

    assert_int_equal(run(&st, "assignment.update", id, "lec-a", "{\"title\":\"back\"}", 0, NOW + 3, &out), 409);
    assert_string_equal(out.d.problem_code, "assignment_deleted");
    assignments_unit_out_close(&out);
    assignments_state_close(&st);
}

/* A type is accepted only if the table has its row (the batch answers the
 * rest 400 unknown_command). */
static void test_unknown_command_type(void **state) {
    (void)state;
    assert_null(sms_command_find(&assignments_commands, SMS_STR("assignment.archive")));
    static const char *const known[] = {"assignment.create", "assignment.update", "assignment.delete",
                                        "submission.create", "upload.complete"};
    assert_int_equal(assignments_commands.n_rows, 5);
    for (size_t i = 0; i < 5; i++) assert_non_null(sms_command_find(&assignments_commands, SMS_STR(known[i])));
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
        cmocka_unit_test(test_error_order_and_limit),
        cmocka_unit_test(test_sender_checks),
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
