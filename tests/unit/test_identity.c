/* test_identity.c - the identity service's deciders through its command
 * table, on one batch state without Redis (rc NULL: the overlay carries each
 * decision to the next): account creation and its refusals, login (right,
 * wrong, unknown, throttled), refresh rotation and reuse detection, logout,
 * deactivation; and that no reply carries a password or its hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "unit_helpers.h"

#include "../../services/identity/commands.h"
#include "../../services/identity/state.h"

#define NOW 1800000000000LL
#define PW "correct horse battery staple"

typedef struct run_s {
    unit_cmd_t f;
    sms_decision_t d;
} run_t;

static void decide(identity_state_t *st, const char *type, const char *role, const char *body, run_t *r) {
    memset(r, 0, sizeof *r);
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(strcmp(role, "public") ? "admin-1" : "anonymous"),
                            .role = SMS_STR(role), .key = SMS_STR("")};
    unit_cmd_make(&r->f, &h, body);
    sms_decision_init(&r->d);
    const sms_command_row_t *row = sms_command_find(&identity_commands, r->f.cmd.type);
    assert_non_null(row);
    void *args = sms_calloc(1, row->args_size ? row->args_size : 1);
    if (row->validate(&r->f.cmd, args, &r->d) == 0) row->decide(st, &r->f.cmd, args, NOW, &r->d);
    sms_free(args);
}

static void done(run_t *r) {
    sms_decision_close(&r->d);
    unit_cmd_free(&r->f);
}

/* The reply body's string field (copied into out), asserting it is there. */
static void body_str(const run_t *r, const char *field, char *out, size_t cap) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, r->d.body.data, r->d.body.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *m = &u.data;
    bool found = false;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.via.str.size == strlen(field) && !memcmp(kv->key.via.str.ptr, field, strlen(field)) &&
            kv->val.type == MSGPACK_OBJECT_STR) {
            snprintf(out, cap, "%.*s", (int)kv->val.via.str.size, kv->val.via.str.ptr);
            found = true;
        }
    }
    msgpack_unpacked_destroy(&u);
    assert_true(found);
}

static bool body_has(const run_t *r, const char *needle) {
    return memmem(r->d.body.data, r->d.body.size, needle, strlen(needle)) != NULL;
}

static bool event_is(const run_t *r, size_t i, const char *type) {
    if (i >= r->d.n_events) return false;
    const msgpack_sbuffer *sb = &r->d.events[i].event;
    return memmem(sb->data, sb->size, type, strlen(type)) != NULL;
}

static int setup(void **s) {
    (void)s;
    identity_settings.argon2 = (sms_password_params_t){1, 8192};
    identity_settings.access_ttl_s = 900;
    identity_settings.refresh_ttl_s = 3600;
    snprintf(identity_settings.jwt_secret, sizeof identity_settings.jwt_secret, "unit-secret");
    return 0;
}

static void test_account_login_refresh(void **s) {
    (void)s;
    identity_state_t st;
    identity_state_init(&st, NULL);
    run_t r;

    decide(&st, "user.create", "admin", "{\"email\":\"Ada@School.Test\",\"name\":\"Ada\",\"role\":\"lecturer\",\"password\":\"" PW "\"}", &r);
    assert_int_equal(r.d.status, 201);
    assert_true(event_is(&r, 0, "user.created"));
    assert_true(event_is(&r, 0, "$argon2id$")); /* the hash is in the event (rebuilds) */
    assert_false(body_has(&r, "$argon2")); /* ...and not in the reply */
    assert_false(body_has(&r, PW));
    assert_true(body_has(&r, "ada@school.test"));
    done(&r);

    decide(&st, "user.create", "admin", "{\"email\":\"ada@school.test\",\"name\":\"Ada 2\",\"role\":\"admin\"}", &r);
    assert_int_equal(r.d.status, 409);
    assert_int_equal(r.d.n_events, 0);
    done(&r);

    decide(&st, "auth.login", "public", "{\"email\":\"ADA@school.test\",\"password\":\"" PW "\"}", &r);
    assert_int_equal(r.d.status, 200);
    assert_true(event_is(&r, 0, "session.started"));
    assert_false(body_has(&r, PW));
    char refresh1[64], access[1024];
    body_str(&r, "refresh_token", refresh1, sizeof refresh1);
    body_str(&r, "access_token", access, sizeof access);
    assert_int_equal(strlen(refresh1), 43);
    assert_false(memmem(r.d.events[0].event.data, r.d.events[0].event.size, refresh1, 43)); /* only its hash */
    done(&r);

    char body[256];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", refresh1);
    decide(&st, "auth.refresh", "public", body, &r);
    assert_int_equal(r.d.status, 200);
    assert_true(event_is(&r, 0, "session.rotated"));
    char refresh2[64];
    body_str(&r, "refresh_token", refresh2, sizeof refresh2);
    assert_string_not_equal(refresh1, refresh2);
    done(&r);

    decide(&st, "auth.refresh", "public", body, &r); /* refresh1 again: reuse */
    assert_int_equal(r.d.status, 401);
    assert_string_equal(r.d.problem_code, "refresh_token_reused");
    assert_true(event_is(&r, 0, "session.revoked"));
    done(&r);

    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", refresh2);
    decide(&st, "auth.refresh", "public", body, &r); /* the family is revoked */
    assert_int_equal(r.d.status, 401);
    assert_string_equal(r.d.problem_code, "invalid_token");
    assert_int_equal(r.d.n_events, 0);
    done(&r);

    identity_state_close(&st);
}

static void test_failures_and_throttle(void **s) {
    (void)s;
    identity_state_t st;
    identity_state_init(&st, NULL);
    run_t r;
    decide(&st, "user.create", "admin", "{\"email\":\"t@school.test\",\"name\":\"T\",\"role\":\"student\",\"student_id\":\"s-9\",\"password\":\"" PW "\"}", &r);
    assert_int_equal(r.d.status, 201);
    done(&r);
    decide(&st, "auth.login", "public", "{\"email\":\"nobody@school.test\",\"password\":\"" PW "\"}", &r);
    assert_int_equal(r.d.status, 401);
    char unknown_detail[256];
    snprintf(unknown_detail, sizeof unknown_detail, "%s", r.d.detail);
    done(&r);
    for (int i = 0; i < 5; i++) {
        decide(&st, "auth.login", "public", "{\"email\":\"t@school.test\",\"password\":\"wrong wrong wrong\"}", &r);
        assert_int_equal(r.d.status, 401);
        assert_string_equal(r.d.problem_code, "invalid_credentials");
        assert_string_equal(r.d.detail, unknown_detail); /* the same answer as for an unknown email */
        done(&r);
    }
    decide(&st, "auth.login", "public", "{\"email\":\"t@school.test\",\"password\":\"" PW "\"}", &r);
    assert_int_equal(r.d.status, 429);
    done(&r);
    identity_state_close(&st);
}

/* 50 failures from one client address, each for another email: the address is throttled. */
static void test_address_throttle(void **s) {
    (void)s;
    identity_state_t st;
    identity_state_init(&st, NULL);
    run_t r;
    char body[200];
    for (int i = 0; i < IDENTITY_FAILS_PER_IP; i++) {
        snprintf(body, sizeof body, "{\"email\":\"u%d@school.test\",\"password\":\"x\",\"client_ip\":\"10.0.0.7\"}", i);
        decide(&st, "auth.login", "public", body, &r);
        assert_int_equal(r.d.status, 401);
        done(&r);
    }
    decide(&st, "auth.login", "public", "{\"email\":\"fresh@school.test\",\"password\":\"x\",\"client_ip\":\"10.0.0.7\"}", &r);
    assert_int_equal(r.d.status, 429);
    done(&r);
    decide(&st, "auth.login", "public", "{\"email\":\"fresh@school.test\",\"password\":\"x\",\"client_ip\":\"10.0.0.8\"}", &r);
    assert_int_equal(r.d.status, 401); /* another address is not */
    done(&r);
    identity_state_close(&st);
}

static void test_validation_and_roles(void **s) {
    (void)s;
    identity_state_t st;
    identity_state_init(&st, NULL);
    run_t r;
    decide(&st, "user.create", "lecturer", "{\"email\":\"x@school.test\",\"name\":\"X\",\"role\":\"admin\"}", &r);
    assert_int_equal(r.d.status, 403);
    done(&r);
    decide(&st, "user.create", "admin", "{\"email\":\"bad\",\"name\":\"\",\"role\":\"root\",\"password\":\"short\",\"x\":1}", &r);
    assert_int_equal(r.d.status, 400);
    assert_true(unit_has_error(&r.d, "email"));
    assert_true(unit_has_error(&r.d, "name"));
    assert_true(unit_has_error(&r.d, "role"));
    assert_true(unit_has_error(&r.d, "password"));
    assert_true(unit_has_error(&r.d, "x"));
    done(&r);
    decide(&st, "auth.login", "public", "{\"email\":\"x@school.test\"}", &r);
    assert_int_equal(r.d.status, 400);
    assert_true(unit_has_error(&r.d, "password"));
    done(&r);
    decide(&st, "user.deactivate", "admin", "{\"id\":\"01NOSUCH\"}", &r);
    assert_int_equal(r.d.status, 404);
    done(&r);
    identity_state_close(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_login_refresh),
        cmocka_unit_test(test_failures_and_throttle),
        cmocka_unit_test(test_address_throttle),
        cmocka_unit_test(test_validation_and_roles),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
