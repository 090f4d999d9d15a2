/* test_submissions.c - the assignments service's submissions, run through
 * its command table's rows: body validation, the late flag, versions per
 * (assignment, student), the 409s and 404s, upload completion, and the
 * submission.created data round trip (no network). */
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
#include "assignments_unit.h"
#include "schema.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "unit_helpers.h"

#define DUE 1735727400000LL /* 2025-01-01T10:30:00Z */
#define UPLOAD "01JDQ1A3M4N5P6Q7R8S9T0V1W2"
#define UPLOAD_S2 "01JDQ1A3M4N5P6Q7R8S9T0V1W3" /* s-2's */
#define UPLOAD_NONE "01JDQ1A3M4N5P6Q7R8S9T0V1W4" /* never completed */

static void make_cmd(unit_cmd_t *f, const char *role, const char *key, const char *actor, const char *body) {
    sms_command_head_t h = {.type = SMS_STR("submission.create"), .actor = SMS_STR(actor), .role = SMS_STR(role),
                            .key = SMS_STR(key)};
    unit_cmd_make(f, &h, body);
}

static void put_assignment(assignments_state_t *st, const char *id, const char *class_id, const char *status) {
    assignments_assignment_t a = {0};
    assignments_set(&a.id, id, strlen(id));
    assignments_set(&a.class_id, class_id, strlen(class_id));
    assignments_set(&a.lecturer_id, "lec-a", 5);
    assignments_set(&a.title, "t", 1);
    assignments_set(&a.description, "", 0);
    assignments_set(&a.status, status, strlen(status));
    a.due_at = DUE;
    a.version = 1;
    assignments_state_put(st, &a);
    assignments_assignment_clear(&a);
}

/* Active class C1 (A1 open, A2 deleted), inactive class C2 (A3); s-1 is
 * enrolled in both, s-2 in neither. */
static void make_state(assignments_state_t *st) {
    assignments_state_init(st, NULL);
    assignments_class_t c = {.lecturer_id = "lec-a", .status = "active", .version = 1};
    assignments_state_put_class(st, "C1", &c);
    snprintf(c.status, sizeof c.status, "inactive");
    assignments_state_put_class(st, "C2", &c);
    put_assignment(st, "A1", "C1", "open");
    put_assignment(st, "A2", "C1", "deleted");
    put_assignment(st, "A3", "C2", "open");
    assignments_state_put_enrolled(st, SMS_STR("C1"), SMS_STR("s-1"), true);
    assignments_state_put_enrolled(st, SMS_STR("C2"), SMS_STR("s-1"), true);
    assignments_state_put_enrolled(st, SMS_STR("C1"), SMS_STR("s-2"), false);
    assignments_state_put_upload(st, SMS_STR(UPLOAD), SMS_STR("s-1"));
    assignments_state_put_upload(st, SMS_STR(UPLOAD_S2), SMS_STR("s-2"));
}

/* Runs a submission.create through its row (decide records the version in
 * st). Returns the status; release out with assignments_unit_out_close and
 * f with unit_cmd_free (the outcome's text borrows from it). */
static int submit(assignments_state_t *st, const char *role, const char *key, const char *actor, const char *body,
                  int64_t now, assignments_unit_out_t *out, unit_cmd_t *f) {
    make_cmd(f, role, key, actor, body);
    return assignments_unit_run(st, &f->cmd, now, out);
}

static int submit_status(assignments_state_t *st, const char *role, const char *key, const char *actor,
                         const char *body, int64_t now) {
    assignments_unit_out_t out;
    unit_cmd_t f;
    int status = submit(st, role, key, actor, body, now, &out, &f);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    return status;
}

/* The submission an outcome's event carries (borrowing from it). */
static void event_submission(const assignments_unit_out_t *out, assignments_submission_t *s) {
    assert_true(assignments_unit_event_is(out, "submission.created"));
    assert_int_equal(assignments_read_submission(out->ev.data, s), 0);
}

static void test_validation(void **state) {
    (void)state;
    static const struct { const char *body, *field; } bad[] = {
        {"{}", "body"},
        {"{\"text\":\"\"}", "body"},
        {"{\"text\":\"\",\"upload_ids\":[]}", "body"},
        {"{\"text\":5}", "text"},
        {"{\"upload_ids\":\"" UPLOAD "\"}", "upload_ids"},
        {"{\"upload_ids\":[\"x\"]}", "upload_ids[0]"},
        {"{\"upload_ids\":[\"" UPLOAD "\",7]}", "upload_ids[1]"},
        {"{\"text\":\"hi\",\"grade\":3}", "grade"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unit_cmd_t f;
        assignments_unit_out_t out;
        make_cmd(&f, "student", "A1", "s-1", bad[i].body);
        assert_int_equal(assignments_unit_validate(&f.cmd, &out), -1);
        assert_int_equal(out.d.status, 400);
        assert_string_equal(out.d.detail, "the submission body is invalid");
        if (!unit_has_error(&out.d, bad[i].field)) fail_msg("%s: no error for %s", bad[i].body, bad[i].field);
        assignments_unit_out_close(&out);
        unit_cmd_free(&f);
    }
    /* Eleven uploads are too many; 20000 characters of text are fine, 20001 not. */
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"upload_ids\":[");
    for (int i = 0; i < 11; i++) sms_buf_printf(&b, "%s\"01JDQ1A3M4N5P6Q7R8S9T0V1%02d\"", i ? "," : "", i);
    sms_buf_puts(&b, "]}");
    assignments_state_t st;
    make_state(&st);
    assert_int_equal(submit_status(&st, "student", "A1", "s-1", b.data, DUE - 1), 400);
    sms_buf_close(&b);
    char *text = sms_malloc(20000 + 32);
    int n = snprintf(text, 32, "{\"text\":\"");
    memset(text + n, 'x', 20000);
    strcpy(text + n + 20000, "\"}");
    assert_int_equal(submit_status(&st, "student", "A1", "s-1", text, DUE - 1), 201);
    memset(text + n, 'x', 20001);
    strcpy(text + n + 20001, "\"}");
    assert_int_equal(submit_status(&st, "student", "A1", "s-1", text, DUE - 1), 400);
    sms_free(text);
    assignments_state_close(&st);
}

static void test_versions_and_late(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    assignments_submission_t s;
    unit_cmd_t f;
    assert_int_equal(submit(&st, "student", "A1", "s-1", "{\"text\":\"v1\"}", DUE, &out, &f), 201);
    event_submission(&out, &s);
    assert_int_equal(s.version, 1);
    assert_false(s.late); /* at the due time exactly is on time */
    assert_int_equal(s.submitted_at, DUE);
    assert_true(s.text.len == 2 && memcmp(s.text.ptr, "v1", 2) == 0);
    assert_true(s.class_id.len == 2 && memcmp(s.class_id.ptr, "C1", 2) == 0);
    assert_string_equal(out.d.location, "/student/assignments/A1/submissions");
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assert_int_equal(submit(&st, "student", "A1", "s-1", "{\"upload_ids\":[\"" UPLOAD "\"]}", DUE + 1, &out, &f), 201);
    event_submission(&out, &s);
    assert_int_equal(s.version, 2);
    assert_true(s.late);
    assert_int_equal(s.text.len, 0);
    assert_int_equal(s.upload_ids->via.array.size, 1);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assignments_state_close(&st);
}

static void test_refusals(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    unit_cmd_t f;
    /* Not enrolled and unknown are both 404, and stale: the worker catches up and asks again. */
    assert_int_equal(submit(&st, "student", "A1", "s-2", "{\"text\":\"x\"}", DUE, &out, &f), 404);
    assert_true(out.d.stale);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assert_int_equal(submit(&st, "student", "NOPE", "s-1", "{\"text\":\"x\"}", DUE, &out, &f), 404);
    assert_true(out.d.stale);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assert_int_equal(submit(&st, "student", "A2", "s-1", "{\"text\":\"x\"}", DUE, &out, &f), 409);
    assert_string_equal(out.d.problem_code, "assignment_deleted");
    assert_false(out.d.stale);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assert_int_equal(submit(&st, "student", "A3", "s-1", "{\"text\":\"x\"}", DUE, &out, &f), 409);
    assert_string_equal(out.d.problem_code, "class_inactive");
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    /* Only students submit; lecturers' commands are still lecturers' only. */
    assert_int_equal(submit_status(&st, "lecturer", "A1", "lec-a", "{\"text\":\"x\"}", DUE), 403);
    assignments_state_close(&st);
}

/* Upload ids must be completed uploads of the submitting student, each once:
 * 422 naming every bad index, nothing recorded. */
static void test_upload_checks(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    unit_cmd_t f;
    assert_int_equal(submit(&st, "student", "A1", "s-1",
                            "{\"upload_ids\":[\"" UPLOAD "\",\"" UPLOAD_NONE "\",\"" UPLOAD_S2 "\",\"" UPLOAD "\"]}", DUE,
                            &out, &f), 422);
    assert_string_equal(out.d.problem_code, "invalid_uploads");
    assert_int_equal(out.d.n_errors, 3);
    assert_string_equal(out.d.errors[0].field, "upload_ids[1]");
    assert_string_equal(out.d.errors[1].field, "upload_ids[2]");
    assert_string_equal(out.d.errors[2].field, "upload_ids[3]");
    assert_non_null(strstr(out.d.errors[2].message, "twice"));
    assert_false(out.has_event);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    /* s-2's own upload is fine for s-2... who is not enrolled in C1: 404 comes first. */
    assert_int_equal(submit_status(&st, "student", "A1", "s-2", "{\"upload_ids\":[\"" UPLOAD_S2 "\"]}", DUE), 404);
    assert_int_equal(submit_status(&st, "student", "A1", "s-1", "{\"upload_ids\":[\"" UPLOAD "\"]}", DUE), 201);
    assignments_state_close(&st);
}

/* upload.complete records an upload once, for its own student only. */
static void test_upload_complete(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    static const char body[] = "{\"upload_id\":\"" UPLOAD_NONE "\",\"filename\":\"a.pdf\",\"content_type\":"
                               "\"application/pdf\",\"size\":3,\"sha256\":"
                               "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\"stored_at\":5}";
    assignments_unit_out_t out;
    unit_cmd_t f;
    sms_command_head_t h = {.type = SMS_STR("upload.complete"), .actor = SMS_STR("s-1"), .role = SMS_STR("student"),
                            .key = SMS_STR(UPLOAD_NONE)};
    unit_cmd_make(&f, &h, body);
    assert_int_equal(assignments_unit_run(&st, &f.cmd, DUE, &out), 200);
    assert_true(assignments_unit_event_is(&out, "upload.completed"));
    assignments_upload_t u;
    assert_int_equal(assignments_read_upload(out.ev.data, out.ev.actor, &u), 0);
    assert_int_equal(u.size, 3);
    assert_true(u.student_id.len == 3 && memcmp(u.student_id.ptr, "s-1", 3) == 0);
    assert_non_null(assignments_state_upload_owner(&st, SMS_STR(UPLOAD_NONE))); /* later commands see it */
    assignments_unit_out_close(&out);
    assert_int_equal(assignments_unit_run(&st, &f.cmd, DUE, &out), 409); /* a second completion of the same id */
    assert_string_equal(out.d.problem_code, "upload_exists");
    assignments_unit_out_close(&out);
    f.cmd.role = SMS_STR("lecturer");
    assert_int_equal(assignments_unit_run(&st, &f.cmd, DUE, &out), 403);
    assignments_unit_out_close(&out);
    f.cmd.role = SMS_STR("student");
    f.cmd.actor = SMS_STR("s-2"); /* the data names no student: the actor's own, so the sha256 etc. decide */
    assert_int_equal(assignments_unit_run(&st, &f.cmd, DUE, &out), 409);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assignments_state_close(&st);
}

/* upload.completed as schema.c packs it is byte for byte the golden vector. */
static void test_upload_vector(void **state) {
    (void)state;
    size_t n;
    char *bytes = unit_vector("upload.completed.v1", "msgpack", &n);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(bytes, n, &ev), SMS_OK);
    assignments_upload_t u;
    assert_int_equal(assignments_read_upload(ev.data, ev.actor, &u), 0);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, ev.id, ev.type, ev.v, ev.time, ev.actor, ev.key, ev.cause);
    assignments_pack_upload_data(&pk, &u);
    assert_int_equal(sb.size, n);
    assert_memory_equal(sb.data, bytes, n);
    msgpack_sbuffer_destroy(&sb);
    sms_event_close(&ev);
    sms_free(bytes);
}

static void test_event_round_trip(void **state) {
    (void)state;
    assignments_state_t st;
    make_state(&st);
    assignments_unit_out_t out;
    unit_cmd_t f;
    assert_int_equal(submit(&st, "student", "A1", "s-1", "{\"text\":\"essay\",\"upload_ids\":[\"" UPLOAD "\"]}",
                            DUE + 5, &out, &f), 201);
    const msgpack_object *data = out.ev.data;
    static const char *const keys[] = {"assignment_id", "class_id", "student_id", "version",
                                       "text", "upload_ids", "submitted_at", "late"};
    assert_int_equal(data->via.map.size, 8);
    for (size_t i = 0; i < 8; i++) assert_true(sms_mp_str_eq(&data->via.map.ptr[i].key, keys[i]));
    assignments_submission_t back;
    assert_int_equal(assignments_read_submission(data, &back), 0);
    assert_int_equal(back.version, 1);
    assert_int_equal(back.submitted_at, DUE + 5);
    assert_true(back.late);
    sms_buf_t json;
    sms_buf_init(&json);
    assignments_render_my_submission(&back, &json);
    assert_string_equal(json.data, "{\"version\":1,\"submitted_at\":\"2025-01-01T10:30:00.005Z\",\"late\":true}");
    sms_buf_reset(&json);
    assignments_render_submission_item(&back, &json);
    assert_string_equal(json.data, "{\"student_id\":\"s-1\",\"version\":1,\"submitted_at\":\"2025-01-01T10:30:00.005Z\","
                                   "\"late\":true,\"text\":\"essay\",\"upload_ids\":[\"" UPLOAD "\"]}");
    sms_buf_close(&json);
    assignments_unit_out_close(&out);
    unit_cmd_free(&f);
    assignments_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_versions_and_late),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_upload_checks),
        cmocka_unit_test(test_upload_complete),
        cmocka_unit_test(test_upload_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
