/* test_grades.c - grading's decisions against an in-memory batch state:
 * all-or-nothing update-grades (a 1000-row request with one bad row changes
 * nothing and names the row), duplicates, scores out of range, students not
 * enrolled, unchanged re-sends, release; plus score and record codecs. */
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
#include "handlers.h"
#include "json_msgpack.h"
#include "unit_helpers.h"

static void make_cmd(unit_cmd_t *f, const char *type, const char *key, const char *actor, const char *body) {
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR("lecturer"),
                            .key = SMS_STR(key)};
    unit_cmd_make(f, &h, body);
}

/* Assignment A1 of lecturer L1 in class C1 (max 100), students s0000..s(n-1) enrolled. */
static grading_assignment_t *setup(grading_state_t *st, size_t n_students) {
    grading_state_init(st, NULL);
    grading_assignment_t *a = grading_state_put_assignment(st, "A1", "C1", "L1", 10000, false);
    for (size_t i = 0; i < n_students; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%04zu", i);
        grading_state_enroll(st, "C1", SMS_STR(id));
    }
    return a;
}

/* {"grades": [n rows s0000.. with score 50], "release": release}; row bad_at
 * (if < n) gets bad_row instead. */
static char *sheet(size_t n, size_t bad_at, const char *bad_row, bool release) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"grades\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) sms_buf_putc(&b, ',');
        if (i == bad_at) sms_buf_puts(&b, bad_row);
        else sms_buf_printf(&b, "{\"student_id\":\"s%04zu\",\"score\":50,\"feedback\":\"ok\"}", i);
    }
    sms_buf_printf(&b, "],\"release\":%s}", release ? "true" : "false");
    return sms_buf_take(&b, NULL);
}

/* The last command decided: an outcome's changes borrow its strings, so it
 * lives until the next decide (or the test's teardown). */
static unit_cmd_t last;
static bool have_last;

static int free_last(void **unused) {
    (void)unused;
    if (have_last) unit_cmd_free(&last);
    have_last = false;
    return 0;
}

static void decide(grading_state_t *st, const char *type, const char *actor, const char *body, grading_outcome_t *o) {
    free_last(NULL);
    make_cmd(&last, type, "A1", actor, body);
    have_last = true;
    grading_decide(st, &last.cmd, o);
}

/* Applies an outcome's changes to the state, as ops.c's overlay does. */
static void apply(grading_assignment_t *a, const grading_outcome_t *o) {
    for (size_t i = 0; i < o->n_changes; i++) {
        const grading_change_t *c = &o->changes[i];
        char *fb = sms_strndup(c->feedback.ptr, c->feedback.len);
        grading_state_set_grade(a, c->student_id, c->grade_version, c->score, c->released, fb, c->feedback.len);
        sms_free(fb);
    }
}

static void test_thousand_rows_one_bad(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 1000);
    char *body = sheet(1000, 737, "{\"student_id\":\"s0737\",\"score\":150}", false);
    grading_outcome_t o;
    decide(&st, "grades.update", "L1", body, &o);
    assert_int_equal(o.verdict.status, 422);
    assert_string_equal(o.verdict.problem_code, "validation");
    assert_int_equal(o.verdict.n_errors, 1);
    assert_string_equal(o.verdict.errors[0].field, "grades[737].score");
    assert_int_equal(o.n_changes, 0); /* nothing changes */
    grading_outcome_clear(&o);
    sms_free(body);

    body = sheet(1000, 1000, "", false); /* all good */
    decide(&st, "grades.update", "L1", body, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.n_changes, 1000);
    assert_int_equal(o.changes[5].grade_version, 1);
    assert_false(o.changes[5].had_previous);
    grading_outcome_clear(&o);
    sms_free(body);
    grading_state_close(&st);
}

static void test_many_bad_rows_are_counted(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 1000);
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"grades\":[");
    for (size_t i = 0; i < 100; i++)
        sms_buf_printf(&b, "%s{\"student_id\":\"s%04zu\",\"score\":\"x\"}", i ? "," : "", i);
    sms_buf_puts(&b, "]}");
    grading_outcome_t o;
    decide(&st, "grades.update", "L1", b.data, &o);
    assert_int_equal(o.verdict.status, 422);
    assert_int_equal(o.verdict.n_errors, GRADING_MAX_ERRORS);
    assert_int_equal(o.verdict.n_errors_total, 100);
    assert_non_null(strstr(o.verdict.detail, "and 36 more"));
    grading_outcome_clear(&o);
    sms_buf_close(&b);
    grading_state_close(&st);
}

static void test_row_errors(void **unused) {
    (void)unused;
    static const struct {
        const char *row1;  /* row 1; row 0 is always valid (s0000) */
        const char *field;
    } cases[] = {
        {"{\"student_id\":\"s0000\",\"score\":1}", "grades[1].student_id"},        /* duplicate */
        {"{\"student_id\":\"s0001\",\"score\":100.01}", "grades[1].score"},        /* > max */
        {"{\"student_id\":\"s0001\",\"score\":-1}", "grades[1].score"},
        {"{\"student_id\":\"s0001\",\"score\":\"90\"}", "grades[1].score"},        /* not a number */
        {"{\"student_id\":\"s0001\"}", "grades[1].score"},
        {"{\"student_id\":\"nobody\",\"score\":1}", "grades[1].student_id"},       /* not enrolled */
        {"{\"student_id\":\"bad id\",\"score\":1}", "grades[1].student_id"},
        {"{\"student_id\":\"s0001\",\"score\":1,\"feedback\":7}", "grades[1].feedback"},
        {"{\"student_id\":\"s0001\",\"score\":1,\"grade\":7}", "grades[1]"},
        {"[1]", "grades[1]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        grading_state_t st;
        setup(&st, 3);
        char body[512];
        snprintf(body, sizeof body, "{\"grades\":[{\"student_id\":\"s0000\",\"score\":100},%s]}", cases[k].row1);
        grading_outcome_t o;
        decide(&st, "grades.update", "L1", body, &o);
        if (o.verdict.status != 422 || !unit_has_error(&o.verdict, cases[k].field))
            fail_msg("case %zu (%s): status %d, %zu errors, first %s", k, cases[k].row1, o.verdict.status, o.verdict.n_errors,
                     o.verdict.n_errors ? o.verdict.errors[0].field : "-");
        assert_int_equal(o.n_changes, 0);
        grading_outcome_clear(&o);
        grading_state_close(&st);
    }
}

static void test_feedback_length(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 2);
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1,\"feedback\":\"");
    for (int i = 0; i < GRADING_FEEDBACK_MAX; i++) sms_buf_puts(&b, "\xc3\xa9"); /* 2000 characters is fine */
    sms_buf_puts(&b, "\"},{\"student_id\":\"s0001\",\"score\":1,\"feedback\":\"");
    for (int i = 0; i <= GRADING_FEEDBACK_MAX; i++) sms_buf_putc(&b, 'x');
    sms_buf_puts(&b, "\"}]}");
    grading_outcome_t o;
    decide(&st, "grades.update", "L1", b.data, &o);
    assert_int_equal(o.verdict.status, 422);
    assert_int_equal(o.verdict.n_errors, 1);
    assert_string_equal(o.verdict.errors[0].field, "grades[1].feedback");
    grading_outcome_clear(&o);
    sms_buf_close(&b);
    grading_state_close(&st);
}

static void test_shape_and_access(void **unused) {
    (void)unused;
    grading_state_t st;
    grading_assignment_t *a = setup(&st, 2);
    grading_outcome_t o;
    decide(&st, "grades.update", "L1", "{\"grades\":[]}", &o);
    assert_int_equal(o.verdict.status, 422);
    assert_true(unit_has_error(&o.verdict, "grades"));
    grading_outcome_clear(&o);
    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1}],\"release\":1}", &o);
    assert_int_equal(o.verdict.status, 422);
    assert_true(unit_has_error(&o.verdict, "release"));
    grading_outcome_clear(&o);
    char *big = sheet(1001, 2000, "", false);
    decide(&st, "grades.update", "L1", big, &o);
    assert_int_equal(o.verdict.status, 422);
    grading_outcome_clear(&o);
    sms_free(big);
    /* Another lecturer's assignment looks missing; a deleted one is 409. */
    const char *ok = "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1}]}";
    decide(&st, "grades.update", "L2", ok, &o);
    assert_int_equal(o.verdict.status, 404);
    grading_outcome_clear(&o);
    decide(&st, "grades.release", "L2", "{}", &o);
    assert_int_equal(o.verdict.status, 404);
    grading_outcome_clear(&o);
    a->deleted = true;
    decide(&st, "grades.update", "L1", ok, &o);
    assert_int_equal(o.verdict.status, 409);
    grading_outcome_clear(&o);
    grading_state_close(&st);
}

static void test_unchanged_resend_and_versions(void **unused) {
    (void)unused;
    grading_state_t st;
    grading_assignment_t *a = setup(&st, 3);
    const char *body = "{\"grades\":[{\"student_id\":\"s0000\",\"score\":87.5,\"feedback\":\"good\"},"
                       "{\"student_id\":\"s0001\",\"score\":60}]}";
    grading_outcome_t o;
    decide(&st, "grades.update", "L1", body, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.n_changes, 2);
    assert_int_equal(o.changes[0].score, 8750);
    assert_false(o.changes[0].released);
    apply(a, &o);
    grading_outcome_clear(&o);

    decide(&st, "grades.update", "L1", body, &o); /* the same again: nothing */
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.n_changes, 0);
    assert_int_equal(o.unchanged, 2);
    grading_outcome_clear(&o);

    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0000\",\"score\":90,\"feedback\":\"good\"}]}",
           &o);
    assert_int_equal(o.n_changes, 1);
    assert_true(o.changes[0].had_previous);
    assert_int_equal(o.changes[0].previous_score, 8750);
    assert_string_equal(o.changes[0].previous_feedback, "good");
    assert_int_equal(o.changes[0].grade_version, 2);
    apply(a, &o);
    grading_outcome_clear(&o);

    /* Release the drafts: one change per draft, each released, in student order. */
    decide(&st, "grades.release", "L1", "{}", &o);
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.kind, GRADING_RELEASE);
    assert_int_equal(o.n_changes, 2);
    assert_memory_equal(o.changes[0].student_id.ptr, "s0000", 5);
    assert_int_equal(o.changes[0].grade_version, 3);
    assert_int_equal(o.changes[1].grade_version, 2);
    assert_true(o.changes[1].released);
    apply(a, &o);
    grading_outcome_clear(&o);
    decide(&st, "grades.release", "L1", "{}", &o); /* nothing left to release */
    assert_int_equal(o.n_changes, 0);
    grading_outcome_clear(&o);

    /* A released grade that changes stays released. */
    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0001\",\"score\":61}]}", &o);
    assert_int_equal(o.n_changes, 1);
    assert_true(o.changes[0].released);
    grading_outcome_clear(&o);
    grading_state_close(&st);
}

static void test_codecs(void **unused) {
    (void)unused;
    assert_int_equal(grading_hundredths(87.5), 8750);
    assert_int_equal(grading_hundredths(0.1 + 0.2), 30);
    static const struct {
        int64_t h;
        const char *json;
    } s[] = {{0, "0"}, {8700, "87"}, {8750, "87.5"}, {8725, "87.25"}, {1, "0.01"}, {10, "0.1"}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        sms_buf_t b;
        sms_buf_init(&b);
        grading_score_json(&b, s[i].h);
        assert_string_equal(b.data, s[i].json);
        sms_buf_close(&b);
    }
    grading_grade_t g;
    const char *rec = "3|8750|1|2026-01-01T00:00:00.000Z|2026-01-01T00:00:00.000Z|a|b\nc";
    assert_int_equal(grading_record_parse(rec, strlen(rec), &g), 0);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.score, 8750);
    assert_true(g.released);
    assert_string_equal(g.feedback, "a|b\nc");
    grading_grade_clear(&g);
    assert_int_equal(grading_record_parse("x|1", 3, &g), -1);
}

/* grades.correct: only an admin; the body checked like update-grades rows;
 * the event's data packs to the golden vector's bytes. */
static void test_correction(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 3);
    grading_outcome_t o;
    const char *ok = "{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"typed as 1e17\","
                     "\"repairs\":\"sms.events.grades:2:1842\"}";
    decide(&st, "grades.correct", "L1", ok, &o); /* role lecturer */
    assert_int_equal(o.verdict.status, 403);
    grading_outcome_clear(&o);
    sms_command_head_t h = {.type = SMS_STR("grades.correct"), .actor = SMS_STR("ops-1"), .role = SMS_STR("admin"),
                            .key = SMS_STR("A1"), .v = 1};
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"student_id\":\"s0001\",\"score\":1e17,\"reason\":\"x\"}", "score"},
        {"{\"student_id\":\"s0001\",\"score\":-0.5,\"reason\":\"x\"}", "score"},
        {"{\"student_id\":\"s0001\",\"score\":16}", "reason"},
        {"{\"student_id\":\"s|1\",\"score\":16,\"reason\":\"x\"}", "student_id"},
        {"{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"x\",\"repairs\":\"nope\"}", "repairs"},
        {"{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"x\",\"repairs\":\"t:1:x\"}", "repairs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unit_cmd_t f;
        unit_cmd_make(&f, &h, bad[i].body);
        grading_decide(&st, &f.cmd, &o);
        assert_int_equal(o.verdict.status, 422);
        assert_string_equal(o.verdict.errors[0].field, bad[i].field);
        grading_outcome_clear(&o);
        unit_cmd_free(&f);
    }
    unit_cmd_t f;
    unit_cmd_make(&f, &h, ok);
    grading_decide(&st, &f.cmd, &o);
    assert_int_equal(o.verdict.status, 200);
    assert_int_equal(o.kind, GRADING_CORRECT);
    assert_int_equal(o.n_changes, 1);
    assert_int_equal(o.changes[0].score, 1600);
    assert_int_equal(o.changes[0].grade_version, 1);
    assert_false(o.changes[0].had_previous);
    assert_int_equal(o.repairs.len, strlen("sms.events.grades:2:1842"));
    grading_outcome_clear(&o);
    unit_cmd_free(&f);

    /* The event data, packed as ops.c packs it, is the vector's byte for byte. */
    size_t n;
    char *text = unit_vector("grade.corrected.v1", "json", &n);
    cJSON *json = cJSON_Parse(text);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(json, "data");
    msgpack_sbuffer want, got;
    msgpack_packer pk;
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    assert_int_equal(sms_json_to_msgpack(d, &pk), 0);
    msgpack_sbuffer_init(&got);
    msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
    grading_change_t c = {.student_id = SMS_STR("s-1002"), .score = 1600, .feedback = SMS_STR(""), .grade_version = 1};
    grading_pack_corrected(&pk, cJSON_GetObjectItemCaseSensitive(d, "assignment_id")->valuestring,
                           cJSON_GetObjectItemCaseSensitive(d, "class_id")->valuestring, &c, SMS_STR("ops-1"),
                           (int64_t)cJSON_GetObjectItemCaseSensitive(d, "changed_at")->valuedouble,
                           SMS_STR(cJSON_GetObjectItemCaseSensitive(d, "reason")->valuestring),
                           SMS_STR(cJSON_GetObjectItemCaseSensitive(d, "repairs")->valuestring));
    assert_int_equal(got.size, want.size);
    assert_memory_equal(got.data, want.data, want.size);
    msgpack_sbuffer_destroy(&want);
    msgpack_sbuffer_destroy(&got);
    cJSON_Delete(json);
    sms_free(text);
    grading_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_thousand_rows_one_bad, free_last),
        cmocka_unit_test_teardown(test_many_bad_rows_are_counted, free_last),
        cmocka_unit_test_teardown(test_row_errors, free_last),
        cmocka_unit_test_teardown(test_feedback_length, free_last),
        cmocka_unit_test_teardown(test_shape_and_access, free_last),
        cmocka_unit_test_teardown(test_unchanged_resend_and_versions, free_last),
        cmocka_unit_test_teardown(test_codecs, free_last),
        cmocka_unit_test_teardown(test_correction, free_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
