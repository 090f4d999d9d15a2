/* test_notifications_commands.c - the notifications command table without
 * I/O: every command type has its row, each row's validate decodes the
 * data once into its args and fails as the service always answered
 * (status, problem code, field errors in order), and replies are read back
 * from the cmds records the projection writes (a webhook's record with a
 * URL of 2048 bytes included). No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "commands.h"
#include "handlers.h"
#include "unit_helpers.h"
#include "webhooks.h"
#include "worker.h"

#define ID_A "01KAX90920YYEX8VW31Y7FV6Z6"
#define ID_B "01KAX90920YYEX8VW31Y7FV6Z7"

static const sms_command_row_t *row(const char *type) {
    return sms_command_find(&notifications_commands, (sms_str_t){type, strlen(type)});
}

/* Runs type's validate on body into args (zeroed, of the row's size), sent
 * with role. */
static int validate_as(const char *role, const char *type, const char *body, void *args, sms_decision_t *d,
                       unit_cmd_t *f) {
    sms_command_head_t h = {.type = {type, strlen(type)}, .actor = SMS_STR("s-1"), .role = {role, strlen(role)}};
    unit_cmd_make(f, &h, body);
    const sms_command_row_t *r = row(type);
    assert_non_null(r);
    memset(args, 0, r->args_size);
    sms_decision_init(d);
    return r->validate(&f->cmd, args, d);
}

/* As the gateway sends it: webhooks as the admin, the rest as a student. */
static int validate(const char *type, const char *body, void *args, sms_decision_t *d, unit_cmd_t *f) {
    return validate_as(strncmp(type, "webhooks.", 9) == 0 ? "admin" : "student", type, body, args, d, f);
}

/* Issue 12: the service trusted the envelope's role for admin-only
 * commands; a lecturer (or student, or no role) is refused with 403. */
static void test_webhook_commands_are_the_admins(void **state) {
    (void)state;
    static const char *const roles[] = {"lecturer", "student", "", "Admin"};
    const char *bodies[][2] = {
        {"webhooks.register", "{\"url\": \"https://h.example/x\", \"secret\": \"0123456789abcdef\", \"events\": [\"*\"]}"},
        {"webhooks.delete", "{\"id\": \"" ID_A "\"}"},
    };
    union { notif_webhook_register_args_t r; notif_webhook_delete_args_t del; } a;
    for (size_t b = 0; b < 2; b++) {
        for (size_t i = 0; i < sizeof roles / sizeof *roles; i++) {
            unit_cmd_t f;
            sms_decision_t d;
            assert_int_equal(validate_as(roles[i], bodies[b][0], bodies[b][1], &a, &d, &f), -1);
            assert_int_equal(d.status, 403);
            assert_string_equal(d.problem_code, "forbidden");
            sms_decision_close(&d);
            unit_cmd_free(&f);
        }
        unit_cmd_t f;
        sms_decision_t d;
        assert_int_equal(validate_as("admin", bodies[b][0], bodies[b][1], &a, &d, &f), 0);
        sms_decision_close(&d);
        unit_cmd_free(&f);
    }
}

/* The SSRF policy at registration: 422 naming url (common/net_policy). */
static void test_webhook_register_refuses_internal_targets(void **state) {
    (void)state;
    static const char *const urls[] = {"http://169.254.169.254/", "http://127.0.0.1:6379/", "http://[::1]:9092/",
                                       "http://user:pw@example.com/", "http://10.1.2.3/", "http://localhost/"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"url\": \"%s\", \"secret\": \"0123456789abcdef\", \"events\": [\"*\"]}",
                 urls[i]);
        unit_cmd_t f;
        sms_decision_t d;
        notif_webhook_register_args_t a;
        assert_int_equal(validate("webhooks.register", body, &a, &d, &f), -1);
        assert_int_equal(d.status, 422);
        assert_int_equal(d.n_errors, 1);
        assert_string_equal(d.errors[0].field, "url");
        sms_decision_close(&d);
        unit_cmd_free(&f);
    }
}

static void test_every_type_has_a_row(void **state) {
    (void)state;
    const char *types[] = {"notifications.read", "notifications.preferences_set", "webhooks.register", "webhooks.delete"};
    for (size_t i = 0; i < 4; i++) {
        const sms_command_row_t *r = row(types[i]);
        assert_non_null(r);
        assert_non_null(r->validate);
        assert_non_null(r->decide);
        assert_non_null(r->reply);
    }
    assert_null(row("notifications.unknown"));
}

static void test_read_ids_once_each(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_decision_t d;
    notif_read_args_t a;
    assert_int_equal(validate("notifications.read", "{\"ids\": [\"" ID_A "\", \"" ID_B "\", \"" ID_A "\"]}", &a, &d, &f), 0);
    assert_false(a.all);
    assert_int_equal(a.n_ids, 2);
    assert_memory_equal(a.ids[0].ptr, ID_A, SMS_ID_LEN);
    assert_memory_equal(a.ids[1].ptr, ID_B, SMS_ID_LEN);
    notif_read_args_clear(&a);
    sms_decision_close(&d);
    unit_cmd_free(&f);

    assert_int_equal(validate("notifications.read", "{\"all\": true}", &a, &d, &f), 0);
    assert_true(a.all);
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

static void test_read_failures_in_order(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_decision_t d;
    notif_read_args_t a;
    assert_int_equal(validate("notifications.read", "{\"x\": 1, \"all\": false, \"ids\": [\"short\"]}", &a, &d, &f), -1);
    assert_int_equal(d.status, 422);
    assert_string_equal(d.problem_code, "validation");
    assert_string_equal(d.detail, "invalid read request");
    assert_int_equal(d.n_errors, 4);
    assert_string_equal(d.errors[0].field, "x");
    assert_string_equal(d.errors[0].message, "is not a known field");
    assert_string_equal(d.errors[1].field, "all");
    assert_string_equal(d.errors[2].field, "ids");
    assert_string_equal(d.errors[2].message, "send either ids or all, not both");
    assert_string_equal(d.errors[3].field, "ids[0]");
    sms_decision_close(&d);
    unit_cmd_free(&f);

    assert_int_equal(validate("notifications.read", "{}", &a, &d, &f), -1);
    assert_int_equal(d.n_errors, 1);
    assert_string_equal(d.errors[0].message, "is required (or all: true)");
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

static void test_prefs_args_merge_last_wins(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_decision_t d;
    notif_prefs_args_t a;
    assert_int_equal(validate("notifications.preferences_set",
                              "{\"channels\": {\"inbox\": true, \"webhook\": true}, \"kinds\": {\"posts\": false}}", &a,
                              &d, &f),
                     0);
    notif_prefs_t p;
    notif_prefs_default(&p);
    notif_prefs_merge(&a, &p);
    assert_true(p.webhook && p.email && !p.posts && p.grades && p.assignments && p.due_reminders);
    sms_decision_close(&d);
    unit_cmd_free(&f);

    assert_int_equal(validate("notifications.preferences_set", "{\"channels\": 3, \"color\": \"red\"}", &a, &d, &f), -1);
    assert_int_equal(d.status, 422);
    assert_string_equal(d.detail, "invalid notification preferences");
    assert_int_equal(d.n_errors, 2);
    assert_string_equal(d.errors[0].field, "channels");
    assert_string_equal(d.errors[0].message, "must be an object");
    assert_string_equal(d.errors[1].field, "color");
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

static void test_webhook_register_checks(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_decision_t d;
    notif_webhook_register_args_t a;
    assert_int_equal(validate("webhooks.register", "{\"url\": \"ftp://x\", \"secret\": \"short\", \"events\": [\"spam\"]}",
                              &a, &d, &f),
                     -1);
    assert_int_equal(d.status, 422);
    assert_string_equal(d.detail, "invalid webhook");
    assert_int_equal(d.n_errors, 3);
    assert_string_equal(d.errors[0].field, "url");
    assert_string_equal(d.errors[1].field, "secret");
    assert_string_equal(d.errors[2].field, "events");
    sms_decision_close(&d);
    unit_cmd_free(&f);

    assert_int_equal(validate("webhooks.register",
                              "{\"url\": \"https://h.example/x\", \"secret\": \"0123456789abcdef\", "
                              "\"events\": [\"post\", \"grade\", \"post\"], \"url\": \"ignored\"}",
                              &a, &d, &f),
                     0);
    assert_int_equal(a.n_events, 2);
    assert_int_equal(a.url.len, strlen("https://h.example/x")); /* the first url */
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

static void test_webhook_delete_not_an_id(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_decision_t d;
    notif_webhook_delete_args_t a;
    assert_int_equal(validate("webhooks.delete", "{\"id\": \"nope\"}", &a, &d, &f), -1);
    assert_int_equal(d.status, 404);
    assert_string_equal(d.problem_code, "not_found");
    assert_string_equal(d.detail, "no such webhook");
    sms_decision_close(&d);
    unit_cmd_free(&f);
    assert_int_equal(validate("webhooks.delete", "{\"id\": \"" ID_A "\"}", &a, &d, &f), 0);
    assert_string_equal(a.id, ID_A);
    sms_decision_close(&d);
    unit_cmd_free(&f);
}

/* Replays cmd's record through the table, as the worker does. */
static void replay(const char *type, const char *summary, sms_decision_t *d) {
    sms_command_t cmd = {.type = {type, strlen(type)}};
    sms_decision_init(d);
    sms_command_replay(&notifications_commands, NULL, &cmd, summary, d);
}

static void test_replies_from_records(void **state) {
    (void)state;
    sms_decision_t d;
    replay("notifications.read", "200 7", &d);
    assert_int_equal(d.status, 200);
    assert_true(d.body.size > 0);
    sms_decision_close(&d);
    replay("notifications.read", "200 x", &d);
    assert_int_equal(d.status, 500);
    sms_decision_close(&d);
    replay("notifications.preferences_set",
           "200 {\"channels\":{\"inbox\":true,\"email\":true,\"webhook\":false},"
           "\"kinds\":{\"posts\":true,\"grades\":false,\"assignments\":true,\"due_reminders\":true}}",
           &d);
    assert_int_equal(d.status, 200);
    sms_decision_close(&d);

    /* A registration's record holds its URL: 2048 bytes of it still read back. */
    char url[NOTIF_WEBHOOK_URL_MAX + 1];
    memset(url, 'a', sizeof url - 1);
    memcpy(url, "https://", 8);
    url[sizeof url - 1] = '\0';
    size_t cap = sizeof url + 200;
    char *summary = sms_malloc(cap);
    snprintf(summary, cap, "201 {\"id\":\"" ID_A "\",\"url\":\"%s\",\"events\":[\"post\"],\"created_at\":1}", url);
    replay("webhooks.register", summary, &d);
    assert_int_equal(d.status, 201);
    assert_string_equal(d.location, "/admin/webhooks/" ID_A);
    sms_decision_close(&d);
    sms_free(summary);
    replay("webhooks.delete", "200 {\"id\":\"" ID_A "\"}", &d);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.location, "");
    sms_decision_close(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_has_a_row),
        cmocka_unit_test(test_read_ids_once_each),
        cmocka_unit_test(test_read_failures_in_order),
        cmocka_unit_test(test_prefs_args_merge_last_wins),
        cmocka_unit_test(test_webhook_register_checks),
        cmocka_unit_test(test_webhook_delete_not_an_id),
        cmocka_unit_test(test_webhook_commands_are_the_admins),
        cmocka_unit_test(test_webhook_register_refuses_internal_targets),
        cmocka_unit_test(test_replies_from_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
