/* test_command_table.c - common/command_table.c without Redis: reading a
 * cmds record into words (sms_command_record_*), finding a row, and a batch
 * run through a fake table whose state and rows are this file's functions
 * (validation failures and unknown types answered from the decision,
 * prefetch once per valid command, one fetch, decide in order, args_clear
 * and state_free at the end, replay from a record). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "command_table.h"
#include "decision.h"

/* ---------------- records ---------------- */

static void test_record_good(void **state) {
    (void)state;
    sms_command_record_t rec;
    assert_int_equal(sms_command_record_parse("201 cls-1 12", &rec), 0);
    assert_int_equal(rec.status, 201);
    assert_int_equal(rec.argc, 2);
    assert_int_equal(rec.argv[0].len, 5);
    assert_memory_equal(rec.argv[0].ptr, "cls-1", 5);
    assert_true(sms_command_record_is(&rec, 0, "cls-1"));
    assert_false(sms_command_record_is(&rec, 0, "cls-"));
    assert_false(sms_command_record_is(&rec, 0, "cls-12"));
    assert_false(sms_command_record_is(&rec, 2, "cls-1")); /* past argc */
    uint64_t n = 0;
    assert_int_equal(sms_command_record_u64(&rec, 1, &n), 0);
    assert_int_equal(n, 12);

    assert_int_equal(sms_command_record_parse("204", &rec), 0); /* a status alone */
    assert_int_equal(rec.status, 204);
    assert_int_equal(rec.argc, 0);

    /* exactly SMS_COMMAND_RECORD_WORDS words */
    assert_int_equal(sms_command_record_parse("200 a b c d e f g h", &rec), 0);
    assert_int_equal(rec.argc, SMS_COMMAND_RECORD_WORDS);
    assert_true(sms_command_record_is(&rec, 7, "h"));
}

static void test_record_bad_status(void **state) {
    (void)state;
    sms_command_record_t rec;
    const char *bad[] = {"", "20 x", "2001 x", "abc x", "2x1 x", "099 x", "600 x", " 200 x", "-20 x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sms_command_record_parse(bad[i], &rec), -1);
    assert_int_equal(sms_command_record_parse("100", &rec), 0);
    assert_int_equal(sms_command_record_parse("599 x", &rec), 0);
}

static void test_record_bad_words(void **state) {
    (void)state;
    sms_command_record_t rec;
    assert_int_equal(sms_command_record_parse("200 a b c d e f g h i", &rec), -1); /* too many words */
    assert_int_equal(sms_command_record_parse("200 a  b", &rec), -1);             /* two spaces */
    assert_int_equal(sms_command_record_parse("200  a", &rec), -1);
    /* A trailing space ends the record (today's behaviour, kept: a
     * projection writing "<status> " .. concat(words) with no words). */
    assert_int_equal(sms_command_record_parse("200 a ", &rec), 0);
    assert_int_equal(rec.argc, 1);
    assert_int_equal(sms_command_record_parse("200 ", &rec), 0);
    assert_int_equal(rec.argc, 0);
}

static void test_record_too_long(void **state) {
    (void)state;
    sms_command_record_t rec;
    char text[sizeof rec.text + 8];
    memset(text, 'x', sizeof text);
    memcpy(text, "200 ", 4);
    text[sizeof rec.text] = '\0'; /* strlen == sizeof text: no room for the NUL */
    assert_int_equal(sms_command_record_parse(text, &rec), -1);
    text[sizeof rec.text - 1] = '\0'; /* the longest that fits */
    assert_int_equal(sms_command_record_parse(text, &rec), 0);
    assert_int_equal(rec.argc, 1);
    assert_int_equal(rec.argv[0].len, sizeof rec.text - 1 - 4);
}

static void test_record_u64(void **state) {
    (void)state;
    sms_command_record_t rec;
    uint64_t n = 7;
    assert_int_equal(sms_command_record_parse("200 0 9999999999999999999 10000000000000000000 12a -1 +1", &rec), 0);
    assert_int_equal(sms_command_record_u64(&rec, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sms_command_record_u64(&rec, 1, &n), 0); /* 19 digits: the most read */
    assert_true(n == 9999999999999999999ULL);
    n = 7;
    assert_int_equal(sms_command_record_u64(&rec, 2, &n), -1); /* 20 digits */
    assert_int_equal(sms_command_record_u64(&rec, 3, &n), -1); /* not a number */
    assert_int_equal(sms_command_record_u64(&rec, 4, &n), -1); /* no sign */
    assert_int_equal(sms_command_record_u64(&rec, 5, &n), -1);
    assert_int_equal(sms_command_record_u64(&rec, 6, &n), -1); /* absent */
    assert_int_equal(n, 7);                                    /* untouched on failure */
}

/* ---------------- the fake table ---------------- */

typedef struct fake_state_s {
    int fetches;
    bool fail_fetch;
    char prefetched[64]; /* command ids (one letter each), in prefetch order */
    char decided[64];    /* the same, in decide order */
} fake_state_t;

/* What the table's calls did, across a test (reset by reset_calls). */
static struct {
    int news, frees, clears, replies;
    bool fail_fetch;
    fake_state_t last; /* a copy of the state when it was freed */
} calls;

static void reset_calls(bool fail_fetch) {
    memset(&calls, 0, sizeof calls);
    calls.fail_fetch = fail_fetch;
}

static void *fake_state_new(redisContext *rc) {
    assert_null(rc); /* no Redis in this test */
    calls.news++;
    fake_state_t *st = sms_calloc(1, sizeof *st);
    st->fail_fetch = calls.fail_fetch;
    return st;
}

static int fake_state_fetch(void *state) {
    fake_state_t *st = state;
    st->fetches++;
    return st->fail_fetch ? -1 : 0;
}

static void fake_state_free(void *state) {
    calls.frees++;
    calls.last = *(fake_state_t *)state;
    sms_free(state);
}

static void append_id(char *log, const sms_command_t *cmd) {
    size_t n = strlen(log);
    assert_true(n + cmd->id.len < 64);
    memcpy(log + n, cmd->id.ptr, cmd->id.len);
    log[n + cmd->id.len] = '\0';
}

/* t.ok's args: a heap copy of the command's key (freed by args_clear). */
typedef struct ok_args_s {
    char *key;
} ok_args_t;

static int ok_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    ok_args_t *a = args;
    assert_null(a->key); /* zeroed */
    if (cmd->key.len == 3 && memcmp(cmd->key.ptr, "bad", 3) == 0) {
        sms_decision_fail(d, 422, "invalid", "the key is bad");
        sms_decision_error(d, "key", 3, "must not be %s", "bad");
        return -1;
    }
    a->key = sms_strndup(cmd->key.ptr, cmd->key.len);
    return 0;
}

static void ok_prefetch(void *state, const sms_command_t *cmd, const void *args) {
    fake_state_t *st = state;
    assert_int_equal(st->fetches, 0); /* before the one fetch */
    assert_non_null(((const ok_args_t *)args)->key);
    append_id(st->prefetched, cmd);
}

static void ok_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d) {
    fake_state_t *st = state;
    assert_int_equal(st->fetches, 1); /* after it */
    assert_int_equal(now_ms, 42);
    append_id(st->decided, cmd);
    d->status = 201;
    snprintf(d->location, sizeof d->location, "/x/%s", ((const ok_args_t *)args)->key);
}

static void ok_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec, sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    calls.replies++;
    d->status = rec->status;
    snprintf(d->location, sizeof d->location, "/x/%.*s", (int)rec->argv[0].len, rec->argv[0].ptr);
}

static void ok_args_clear(void *args) {
    ok_args_t *a = args;
    sms_free(a->key);
    calls.clears++;
}

static void bare_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d) {
    (void)now_ms;
    assert_null(args); /* args_size 0 */
    append_id(((fake_state_t *)state)->decided, cmd);
    d->status = 200;
}

static const sms_command_row_t fake_rows[] = {
    {.type = "t.ok", .args_size = sizeof(ok_args_t), .validate = ok_validate, .prefetch = ok_prefetch,
     .decide = ok_decide, .reply = ok_reply, .args_clear = ok_args_clear},
    {.type = "t.bare", .decide = bare_decide}, /* no args, validate, prefetch, reply or args_clear */
};

static const sms_command_table_t fake_table = {SMS_COMMAND_ROWS(fake_rows), fake_state_new, fake_state_fetch,
                                               fake_state_free};

static sms_command_t make_cmd(const char *id, const char *type, const char *key) {
    sms_command_t c;
    memset(&c, 0, sizeof c);
    c.id = SMS_STR(id);
    c.type = SMS_STR(type);
    c.key = SMS_STR(key);
    return c;
}

static void test_find(void **state) {
    (void)state;
    assert_ptr_equal(sms_command_find(&fake_table, SMS_STR("t.ok")), &fake_rows[0]);
    assert_ptr_equal(sms_command_find(&fake_table, SMS_STR("t.bare")), &fake_rows[1]);
    assert_null(sms_command_find(&fake_table, SMS_STR("t.o")));   /* a prefix of a type */
    assert_null(sms_command_find(&fake_table, SMS_STR("t.okk"))); /* a type as a prefix */
    assert_null(sms_command_find(&fake_table, SMS_STR("")));
    assert_ptr_equal(sms_command_find(&fake_table, (sms_str_t){"t.ok.more", 4}), &fake_rows[0]); /* by length */
}

static void test_batch(void **state) {
    (void)state;
    reset_calls(false);
    sms_command_t c[] = {make_cmd("a", "t.ok", "k1"), make_cmd("b", "t.ok", "bad"), make_cmd("c", "t.nope", ""),
                         make_cmd("d", "t.ok", "k4"), make_cmd("e", "t.bare", "")};
    const sms_command_t *cmds[] = {&c[0], &c[1], &c[2], &c[3], &c[4]};
    sms_command_batch_t *b = sms_command_batch_begin(&fake_table, NULL, cmds, 5);
    assert_non_null(b);
    fake_state_t *st = sms_command_batch_state(b);
    assert_int_equal(calls.news, 1);
    assert_int_equal(st->fetches, 1);
    assert_string_equal(st->prefetched, "ad"); /* once per valid command that has a prefetch */

    sms_decision_t d[5];
    for (int i = 0; i < 5; i++) {
        sms_decision_init(&d[i]);
        sms_command_batch_decide(b, cmds[i], 42, &d[i]);
    }
    assert_int_equal(d[0].status, 201);
    assert_string_equal(d[0].location, "/x/k1");
    assert_int_equal(d[1].status, 422); /* validate's failure, carried into the decision */
    assert_string_equal(d[1].problem_code, "invalid");
    assert_string_equal(d[1].detail, "the key is bad");
    assert_int_equal(d[1].n_errors, 1);
    assert_string_equal(d[1].errors[0].field, "key");
    assert_string_equal(d[1].errors[0].message, "must not be bad");
    assert_int_equal(d[2].status, 400);
    assert_string_equal(d[2].problem_code, "unknown_command");
    assert_string_equal(d[2].detail, "unknown command type t.nope");
    assert_int_equal(d[3].status, 201);
    assert_string_equal(d[3].location, "/x/k4");
    assert_int_equal(d[4].status, 200);
    assert_string_equal(st->decided, "ade"); /* in order; failures never reach decide */

    sms_command_t stranger = make_cmd("z", "t.ok", "k");
    sms_decision_t dz;
    sms_decision_init(&dz);
    sms_command_batch_decide(b, &stranger, 42, &dz);
    assert_int_equal(dz.status, 500);
    assert_string_equal(dz.problem_code, "internal");
    sms_decision_close(&dz);

    assert_int_equal(calls.clears, 0);
    sms_command_batch_end(b);
    assert_int_equal(calls.clears, 3); /* every slot with t.ok args, the failed one's included */
    assert_int_equal(calls.frees, 1);
    for (int i = 0; i < 5; i++) sms_decision_close(&d[i]);
}

/* The batch's decisions may skip commands (replays, duplicates): each is
 * still matched to its own slot. */
static void test_batch_skips(void **state) {
    (void)state;
    reset_calls(false);
    sms_command_t c[] = {make_cmd("a", "t.ok", "k1"), make_cmd("b", "t.bare", ""), make_cmd("c", "t.ok", "k3")};
    const sms_command_t *cmds[] = {&c[0], &c[1], &c[2]};
    sms_command_batch_t *b = sms_command_batch_begin(&fake_table, NULL, cmds, 3);
    assert_non_null(b);
    sms_decision_t d;
    sms_decision_init(&d);
    sms_command_batch_decide(b, cmds[2], 42, &d);
    assert_string_equal(d.location, "/x/k3");
    sms_decision_close(&d);
    sms_decision_init(&d);
    sms_command_batch_decide(b, cmds[0], 42, &d);
    assert_string_equal(d.location, "/x/k1");
    sms_decision_close(&d);
    assert_string_equal(((fake_state_t *)sms_command_batch_state(b))->decided, "ca");
    sms_command_batch_end(b);
    assert_int_equal(calls.clears, 2);
    assert_int_equal(calls.frees, 1);
}

static void test_batch_empty(void **state) {
    (void)state;
    reset_calls(false);
    sms_command_batch_t *b = sms_command_batch_begin(&fake_table, NULL, NULL, 0);
    assert_non_null(b);
    assert_int_equal(((fake_state_t *)sms_command_batch_state(b))->fetches, 1);
    sms_command_batch_end(b);
    assert_int_equal(calls.frees, 1);
    sms_command_batch_end(NULL); /* nothing */
}

/* state_fetch fails (Redis): NULL, and nothing is held (args cleared, state freed). */
static void test_batch_fetch_fails(void **state) {
    (void)state;
    reset_calls(true);
    sms_command_t c[] = {make_cmd("a", "t.ok", "k1"), make_cmd("b", "t.ok", "k2")};
    const sms_command_t *cmds[] = {&c[0], &c[1]};
    assert_null(sms_command_batch_begin(&fake_table, NULL, cmds, 2));
    assert_int_equal(calls.news, 1);
    assert_int_equal(calls.frees, 1);
    assert_int_equal(calls.clears, 2);
    assert_int_equal(calls.last.fetches, 1);
    assert_string_equal(calls.last.prefetched, "ab");
    assert_string_equal(calls.last.decided, "");
}

static void test_replay(void **state) {
    (void)state;
    reset_calls(false);
    sms_command_t ok = make_cmd("a", "t.ok", "k1"), bare = make_cmd("b", "t.bare", ""),
                  nope = make_cmd("c", "t.nope", "");
    sms_decision_t d;
    sms_decision_init(&d);
    sms_command_replay(&fake_table, NULL, &ok, "201 k1", &d);
    assert_int_equal(calls.replies, 1);
    assert_int_equal(d.status, 201);
    assert_string_equal(d.location, "/x/k1");
    sms_decision_close(&d);

    const struct {
        const sms_command_t *cmd;
        const char *summary;
    } bad[] = {{&ok, "2x1 k1"}, {&ok, "201 a  b"}, {&bare, "200"}, {&nope, "200"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sms_decision_init(&d);
        sms_command_replay(&fake_table, NULL, bad[i].cmd, bad[i].summary, &d);
        assert_int_equal(d.status, 500); /* unreadable record, no reply function, unknown type */
        assert_string_equal(d.problem_code, "internal");
        sms_decision_close(&d);
    }
    assert_int_equal(calls.replies, 1);
}

static void test_check_sender(void **state) {
    (void)state;
    sms_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.role = SMS_STR("student");
    cmd.v = 1;
    sms_decision_t d;
    sms_decision_init(&d);
    assert_int_equal(sms_command_check_sender(&cmd, (const char *const[]){"lecturer", NULL}, "lecturers only", &d), -1);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.problem_code, "forbidden");
    assert_string_equal(d.detail, "lecturers only");
    sms_decision_close(&d);
    sms_decision_init(&d);
    assert_int_equal(sms_command_check_sender(&cmd, (const char *const[]){"lecturer", "student", NULL}, "x", &d), 0);
    cmd.v = 2; /* the role is checked first, then the version */
    assert_int_equal(sms_command_check_sender(&cmd, (const char *const[]){"student", NULL}, "x", &d), -1);
    assert_int_equal(d.status, 400);
    assert_string_equal(d.problem_code, "unsupported_version");
    sms_decision_close(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_sender),
        cmocka_unit_test(test_record_good),   cmocka_unit_test(test_record_bad_status),
        cmocka_unit_test(test_record_bad_words), cmocka_unit_test(test_record_too_long),
        cmocka_unit_test(test_record_u64),    cmocka_unit_test(test_find),
        cmocka_unit_test(test_batch),         cmocka_unit_test(test_batch_skips),
        cmocka_unit_test(test_batch_empty),   cmocka_unit_test(test_batch_fetch_fails),
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
