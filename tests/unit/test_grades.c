/* test_grades.c - grading's command table (commands.c, handlers.c) against
 * an in-memory batch state: all-or-nothing update-grades (a 1000-row request
 * with one bad row changes nothing and names the row), the errors' fields,
 * messages and order, duplicates, scores out of range, students not enrolled,
 * unchanged re-sends, release, corrections, replies of replayed commands;
 * plus score and record codecs. */
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
#include "commands.h"
#include "handlers.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "number.h"
#include "unit_helpers.h"

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

/* The last command decided, run through its row of grading's command table
 * (validate, then decide on the state filled by hand; decide overlays its
 * changes on the state itself), and its decision. */
static unit_cmd_t last;
static sms_decision_t d;
static bool have_last;

static int free_last(void **unused) {
    (void)unused;
    if (have_last) {
        unit_cmd_free(&last);
        sms_decision_close(&d);
    }
    have_last = false;
    return 0;
}

static void run(grading_state_t *st, const sms_command_head_t *h, const char *body) {
    free_last(NULL);
    unit_cmd_make(&last, h, body);
    have_last = true;
    sms_decision_init(&d);
    const sms_command_row_t *row = sms_command_find(&grading_commands, h->type);
    assert_non_null(row);
    void *args = sms_calloc(1, row->args_size ? row->args_size : 1);
    if (row->validate(&last.cmd, args, &d) == 0) row->decide(st, &last.cmd, args, 1700000000000, &d);
    if (row->args_clear) row->args_clear(args);
    sms_free(args);
}

static void decide(grading_state_t *st, const char *type, const char *actor, const char *body) {
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR("lecturer"),
                            .key = SMS_STR("A1")};
    run(st, &h, body);
}

static bool has_error(const char *field) {
    for (size_t i = 0; i < d.n_errors; i++)
        if (strcmp(d.errors[i].field, field) == 0) return true;
    return false;
}

/* Field key of event i's data (decoded afresh into ev: sms_event_close it). */
static const msgpack_object *event_field(size_t i, const char *key, sms_event_t *ev) {
    assert_true(i < d.n_events);
    assert_int_equal(sms_event_decode(d.events[i].event.data, d.events[i].event.size, ev), SMS_OK);
    return sms_mp_map_get(ev->data, key);
}

static int64_t event_i64(size_t i, const char *key) {
    sms_event_t ev;
    int64_t v = -1;
    assert_true(sms_mp_i64(event_field(i, key, &ev), &v));
    sms_event_close(&ev);
    return v;
}

/* A score of event i, in hundredths (-1: nil). */
static int64_t event_score(size_t i, const char *key) {
    sms_event_t ev;
    const msgpack_object *o = event_field(i, key, &ev);
    int64_t h = -1;
    assert_non_null(o);
    if (o->type != MSGPACK_OBJECT_NIL) assert_int_equal(sms_number_hundredths(o, 0, 100000000, &h), SMS_OK);
    sms_event_close(&ev);
    return h;
}

static bool event_bool(size_t i, const char *key) {
    sms_event_t ev;
    const msgpack_object *o = event_field(i, key, &ev);
    assert_true(o && o->type == MSGPACK_OBJECT_BOOLEAN);
    bool b = o->via.boolean;
    sms_event_close(&ev);
    return b;
}

static bool event_str_is(size_t i, const char *key, const char *want) {
    sms_event_t ev;
    bool eq = sms_mp_str_eq(event_field(i, key, &ev), want);
    sms_event_close(&ev);
    return eq;
}

static bool event_type_is(size_t i, const char *want) {
    sms_event_t ev;
    (void)event_field(i, "score", &ev);
    bool eq = ev.type.len == strlen(want) && memcmp(ev.type.ptr, want, ev.type.len) == 0;
    sms_event_close(&ev);
    return eq;
}

/* An integer of the reply body (-1: absent). */
static int64_t body_i64(const char *key) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, d.body.data, d.body.size, NULL), MSGPACK_UNPACK_SUCCESS);
    int64_t v = -1;
    if (!sms_mp_i64(sms_mp_map_get(&u.data, key), &v)) v = -1;
    msgpack_unpacked_destroy(&u);
    return v;
}

static void test_thousand_rows_one_bad(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 1000);
    char *body = sheet(1000, 737, "{\"student_id\":\"s0737\",\"score\":150}", false);
    decide(&st, "grades.update", "L1", body);
    assert_int_equal(d.status, 422);
    assert_string_equal(d.problem_code, "validation");
    assert_int_equal(d.n_errors, 1);
    assert_string_equal(d.errors[0].field, "grades[737].score");
    assert_string_equal(d.errors[0].message, "must be a number from 0 to 100 (the assignment's max_score)");
    assert_string_equal(d.detail, "1 problem in the grades; nothing was changed");
    assert_int_equal(d.n_events, 0); /* nothing changes */
    sms_free(body);

    body = sheet(1000, 1000, "", false); /* all good */
    decide(&st, "grades.update", "L1", body);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.n_events, 1000);
    assert_int_equal(body_i64("updated"), 1000);
    assert_int_equal(body_i64("unchanged"), 0);
    assert_int_equal(event_i64(5, "grade_version"), 1);
    assert_int_equal(event_score(5, "previous_score"), -1); /* none */
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
    decide(&st, "grades.update", "L1", b.data);
    assert_int_equal(d.status, 422);
    assert_int_equal(d.n_errors, GRADING_MAX_ERRORS);
    assert_int_equal(d.n_errors_total, 100);
    assert_string_equal(d.detail, "100 problems in the grades; nothing was changed (64 listed, and 36 more)");
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
        decide(&st, "grades.update", "L1", body);
        if (d.status != 422 || !has_error(cases[k].field))
            fail_msg("case %zu (%s): status %d, %zu errors, first %s", k, cases[k].row1, d.status, d.n_errors,
                     d.n_errors ? d.errors[0].field : "-");
        assert_int_equal(d.n_events, 0);
        grading_state_close(&st);
    }
}

/* The messages and their order within a row, and a student not enrolled
 * marks the failure stale (the worker catches up and decides again). */
static void test_row_messages_in_order(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 3);
    decide(&st, "grades.update", "L1",
           "{\"grades\":[{\"x\":1,\"student_id\":\"s0000\",\"y\":2,\"score\":1},"
           "{\"student_id\":\"s0000\",\"score\":1e17,\"feedback\":\"\\u0001\"},"
           "{\"student_id\":\"ghost\",\"score\":1}]}");
    assert_int_equal(d.status, 422);
    assert_true(d.stale);
    static const char *const want[][2] = {
        {"grades[0]", "has an unknown field (allowed: student_id, score, feedback)"},
        {"grades[0]", "has an unknown field (allowed: student_id, score, feedback)"},
        {"grades[1].student_id", "duplicate of grades[0]"},
        {"grades[1].score", "must be a number from 0 to 100 (the assignment's max_score)"},
        {"grades[1].feedback", "must be valid UTF-8 text without control characters"},
        {"grades[2].student_id", "is not enrolled in class C1"},
    };
    assert_int_equal(d.n_errors, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < d.n_errors; i++) {
        assert_string_equal(d.errors[i].field, want[i][0]);
        assert_string_equal(d.errors[i].message, want[i][1]);
    }
    assert_string_equal(d.detail, "6 problems in the grades; nothing was changed");
    grading_state_close(&st);
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
    decide(&st, "grades.update", "L1", b.data);
    assert_int_equal(d.status, 422);
    assert_int_equal(d.n_errors, 1);
    assert_string_equal(d.errors[0].field, "grades[1].feedback");
    assert_string_equal(d.errors[0].message, "must be at most 2000 characters (got 2001)");
    sms_buf_close(&b);
    grading_state_close(&st);
}

static void test_shape_and_access(void **unused) {
    (void)unused;
    grading_state_t st;
    grading_assignment_t *a = setup(&st, 2);
    decide(&st, "grades.update", "L1", "{\"grades\":[]}");
    assert_int_equal(d.status, 422);
    assert_true(has_error("grades"));
    assert_string_equal(d.detail, "the request is invalid; nothing was changed");
    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1}],\"release\":1}");
    assert_int_equal(d.status, 422);
    assert_true(has_error("release"));
    char *big = sheet(1001, 2000, "", false);
    decide(&st, "grades.update", "L1", big);
    assert_int_equal(d.status, 422);
    assert_string_equal(d.errors[0].message, "must hold 1 to 1000 grades (got 1001)");
    sms_free(big);
    /* Unknown top-level fields are named ('%' shown as '_'), before the others. */
    decide(&st, "grades.update", "L1", "{\"a%d\":1,\"grades\":7}");
    assert_int_equal(d.status, 422);
    assert_int_equal(d.n_errors, 2);
    assert_string_equal(d.errors[0].field, "a_d");
    assert_string_equal(d.errors[0].message, "unknown field");
    assert_string_equal(d.errors[1].field, "grades");
    assert_string_equal(d.errors[1].message, "must be an array of grades");
    /* Shape first, then the assignment: a bad body of a missing assignment is 422. */
    sms_command_head_t h = {.type = SMS_STR("grades.update"), .actor = SMS_STR("L1"), .role = SMS_STR("lecturer"),
                            .key = SMS_STR("A9")};
    run(&st, &h, "{}");
    assert_int_equal(d.status, 422);
    run(&st, &h, "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1}]}");
    assert_int_equal(d.status, 404);
    assert_true(d.stale); /* maybe only not learned yet */
    /* Only lecturers grade; command version 1 only. */
    h = (sms_command_head_t){.type = SMS_STR("grades.release"), .actor = SMS_STR("L1"), .role = SMS_STR("student"),
                             .key = SMS_STR("A1")};
    run(&st, &h, "{}");
    assert_int_equal(d.status, 403);
    assert_string_equal(d.detail, "only lecturers grade");
    h.role = SMS_STR("lecturer");
    h.v = 2;
    run(&st, &h, "{}");
    assert_int_equal(d.status, 400);
    assert_string_equal(d.problem_code, "unsupported_version");
    /* Another lecturer's assignment looks missing; a deleted one is 409. */
    const char *ok = "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1}]}";
    decide(&st, "grades.update", "L2", ok);
    assert_int_equal(d.status, 404);
    assert_false(d.stale);
    decide(&st, "grades.release", "L2", "{}");
    assert_int_equal(d.status, 404);
    a->deleted = true;
    decide(&st, "grades.update", "L1", ok);
    assert_int_equal(d.status, 409);
    grading_state_close(&st);
}

static void test_unchanged_resend_and_versions(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 3);
    const char *body = "{\"grades\":[{\"student_id\":\"s0000\",\"score\":87.5,\"feedback\":\"good\"},"
                       "{\"student_id\":\"s0001\",\"score\":60}]}";
    decide(&st, "grades.update", "L1", body);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.n_events, 2);
    assert_true(event_type_is(0, "grade.changed"));
    assert_int_equal(event_score(0, "score"), 8750);
    assert_false(event_bool(0, "released"));

    decide(&st, "grades.update", "L1", body); /* the same again (the overlay holds the first): nothing */
    assert_int_equal(d.status, 200);
    assert_int_equal(d.n_events, 0);
    assert_int_equal(body_i64("updated"), 0);
    assert_int_equal(body_i64("unchanged"), 2);

    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0000\",\"score\":90,\"feedback\":\"good\"}]}");
    assert_int_equal(d.n_events, 1);
    assert_int_equal(event_score(0, "previous_score"), 8750);
    assert_true(event_str_is(0, "previous_feedback", "good"));
    assert_int_equal(event_i64(0, "grade_version"), 2);

    /* Release the drafts: one change per draft, each released, in student order. */
    decide(&st, "grades.release", "L1", "{}");
    assert_int_equal(d.status, 200);
    assert_int_equal(body_i64("released"), 2);
    assert_int_equal(d.n_events, 2);
    assert_true(event_type_is(0, "grade.released"));
    assert_true(event_str_is(0, "student_id", "s0000"));
    assert_int_equal(event_i64(0, "grade_version"), 3);
    assert_int_equal(event_i64(1, "grade_version"), 2);
    decide(&st, "grades.release", "L1", "{}"); /* nothing left to release */
    assert_int_equal(d.n_events, 0);

    /* A released grade that changes stays released. */
    decide(&st, "grades.update", "L1", "{\"grades\":[{\"student_id\":\"s0001\",\"score\":61}]}");
    assert_int_equal(d.n_events, 1);
    assert_true(event_bool(0, "released"));
    grading_state_close(&st);
}

/* A replayed command is answered from its cmds record ("200 <n>") and the
 * request: unchanged = rows - n. */
static void test_replies(void **unused) {
    (void)unused;
    grading_state_t st;
    setup(&st, 3);
    decide(&st, "grades.update", "L1",
           "{\"grades\":[{\"student_id\":\"s0000\",\"score\":1},{\"student_id\":\"s0001\",\"score\":1},"
           "{\"student_id\":\"s0002\",\"score\":1}]}");
    sms_decision_t r;
    sms_decision_init(&r);
    sms_command_replay(&grading_commands, NULL, &last.cmd, "200 1", &r);
    assert_int_equal(r.status, 200);
    sms_decision_move(&d, &r);
    assert_int_equal(body_i64("updated"), 1);
    assert_int_equal(body_i64("unchanged"), 2);
    sms_decision_init(&r);
    sms_command_replay(&grading_commands, NULL, &last.cmd, "201 1", &r);
    assert_int_equal(r.status, 500);
    sms_decision_close(&r);
    decide(&st, "grades.release", "L1", "{}");
    sms_decision_init(&r);
    sms_command_replay(&grading_commands, NULL, &last.cmd, "200 4", &r);
    sms_decision_move(&d, &r);
    assert_int_equal(body_i64("released"), 4);
    assert_int_equal(body_i64("unchanged"), -1);
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
    const char *ok = "{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"typed as 1e17\","
                     "\"repairs\":\"sms.events.grades:2:1842\"}";
    decide(&st, "grades.correct", "L1", ok); /* role lecturer */
    assert_int_equal(d.status, 403);
    assert_string_equal(d.detail, "only admins correct grades");
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
        {"{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"x\",\"released\":\"yes\"}", "released"},
        {"{\"student_id\":\"s0001\",\"score\":16,\"reason\":\"x\",\"feedback\":[]}", "feedback"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&st, &h, bad[i].body);
        assert_int_equal(d.status, 422);
        assert_string_equal(d.errors[0].field, bad[i].field);
        assert_string_equal(d.detail, "the correction is invalid; nothing was changed");
    }
    run(&st, &h, "{}"); /* every field, in order */
    assert_int_equal(d.n_errors, 3);
    assert_string_equal(d.errors[0].field, "student_id");
    assert_string_equal(d.errors[1].field, "score");
    assert_string_equal(d.errors[2].field, "reason");
    h.key = SMS_STR("A9");
    run(&st, &h, ok); /* a missing assignment first */
    assert_int_equal(d.status, 404);
    assert_true(d.stale);
    h.key = SMS_STR("A1");
    run(&st, &h, ok);
    assert_int_equal(d.status, 200);
    assert_int_equal(body_i64("corrected"), 1);
    assert_int_equal(d.n_events, 1);
    assert_true(event_type_is(0, "grade.corrected"));
    assert_int_equal(event_score(0, "score"), 1600);
    assert_int_equal(event_i64(0, "grade_version"), 1);
    assert_int_equal(event_score(0, "previous_score"), -1);
    assert_false(event_bool(0, "released"));
    assert_true(event_str_is(0, "repairs", "sms.events.grades:2:1842"));
    assert_true(event_str_is(0, "reason", "typed as 1e17"));

    /* The event data, packed as the decider packs it, is the vector's byte for byte. */
    size_t n;
    char *text = unit_vector("grade.corrected.v1", "json", &n);
    cJSON *json = cJSON_Parse(text);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(json, "data");
    msgpack_sbuffer want, got;
    msgpack_packer pk;
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    assert_int_equal(sms_json_to_msgpack(jd, &pk), 0);
    msgpack_sbuffer_init(&got);
    msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
    grading_change_t c = {.student_id = SMS_STR("s-1002"), .score = 1600, .feedback = SMS_STR(""), .grade_version = 1};
    grading_pack_corrected(&pk, cJSON_GetObjectItemCaseSensitive(jd, "assignment_id")->valuestring,
                           cJSON_GetObjectItemCaseSensitive(jd, "class_id")->valuestring, &c, SMS_STR("ops-1"),
                           (int64_t)cJSON_GetObjectItemCaseSensitive(jd, "changed_at")->valuedouble,
                           SMS_STR(cJSON_GetObjectItemCaseSensitive(jd, "reason")->valuestring),
                           SMS_STR(cJSON_GetObjectItemCaseSensitive(jd, "repairs")->valuestring));
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
        cmocka_unit_test_teardown(test_row_messages_in_order, free_last),
        cmocka_unit_test_teardown(test_feedback_length, free_last),
        cmocka_unit_test_teardown(test_shape_and_access, free_last),
        cmocka_unit_test_teardown(test_unchanged_resend_and_versions, free_last),
        cmocka_unit_test_teardown(test_replies, free_last),
        cmocka_unit_test_teardown(test_codecs, free_last),
        cmocka_unit_test_teardown(test_correction, free_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
