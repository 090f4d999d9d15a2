/* commands.c - the identity service's command table (common/command_table.h):
 * one row per command type, the one place a type is named, and the replies
 * to a command handled before, read from the view with its cmds record's
 * words (view.h). A login or refresh answered before cannot be answered
 * again: its tokens were never stored. */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "msgpack_util.h"
#include "state.h"
#include "view.h"

static void unreadable_record(sms_decision_t *d) { sms_decision_fail(d, 500, "internal", "unreadable command record"); }

/* "<status> <user id>": the account as the view has it now. */
static void reply_user_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                              sms_decision_t *d) {
    (void)cmd;
    if (rec->argc != 1) return unreadable_record(d);
    identity_state_t st;
    identity_state_init(&st, rc);
    identity_state_want_id(&st, rec->argv[0]);
    identity_account_t *a = identity_state_fetch(&st) == 0 ? identity_state_by_id(&st, rec->argv[0]) : NULL;
    if (a) {
        identity_user_t u = {{a->id, strlen(a->id)},
                             {a->email, strlen(a->email)},
                             {a->name, strlen(a->name)},
                             {a->role, strlen(a->role)},
                             {a->student_id, strlen(a->student_id)},
                             {"", 0},
                             {a->status, strlen(a->status)},
                             a->created_at};
        d->status = rec->status;
        msgpack_packer pk = sms_decision_body(d);
        identity_pack_user_public(&pk, &u);
        if (rec->status == 201) snprintf(d->location, sizeof d->location, "/admin/users/%s", a->id);
    } else {
        sms_decision_done_unreadable(d);
    }
    identity_state_close(&st);
}

/* "200 session <family>" or "401 reuse <family>". */
static void reply_session_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                 sms_decision_t *d) {
    (void)rc, (void)cmd;
    if (rec->argc == 2 && sms_command_record_is(rec, 0, IDENTITY_RECORD_REUSE)) {
        sms_decision_fail(d, 401, "refresh_token_reused",
                          "this refresh token was already used: every session it belongs to is revoked; log in again");
        return;
    }
    if (rec->argc != 2 || !sms_command_record_is(rec, 0, IDENTITY_RECORD_SESSION)) return unreadable_record(d);
    sms_decision_fail(d, 409, "already_answered",
                      "this request was answered before and its tokens are not kept; send a new request "
                      "(a new Idempotency-Key)");
}

/* "200 revoked <family>". */
static void reply_logout_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                sms_decision_t *d) {
    (void)rc, (void)cmd;
    if (rec->argc != 2 || !sms_command_record_is(rec, 0, IDENTITY_RECORD_REVOKED)) return unreadable_record(d);
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "revoked");
    msgpack_pack_true(&pk);
}

/* "200 password <user id>". */
static void reply_password_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)rc, (void)cmd;
    if (rec->argc != 2 || !sms_command_record_is(rec, 0, IDENTITY_RECORD_PASSWORD)) return unreadable_record(d);
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "changed");
    msgpack_pack_true(&pk);
}

static const sms_command_row_t rows[] = {
    {"user.create", sizeof(identity_create_args_t), identity_body_create, identity_prefetch_create,
     identity_decide_create, reply_user_record, NULL},
    {"user.deactivate", sizeof(identity_id_args_t), identity_body_deactivate, identity_prefetch_id,
     identity_decide_deactivate, reply_user_record, NULL},
    {"auth.login", sizeof(identity_login_args_t), identity_body_login, identity_prefetch_login, identity_decide_login,
     reply_session_record, NULL},
    {"auth.refresh", sizeof(identity_token_args_t), identity_body_token, identity_prefetch_token,
     identity_decide_refresh, reply_session_record, NULL},
    {"auth.logout", sizeof(identity_token_args_t), identity_body_token, identity_prefetch_token,
     identity_decide_logout, reply_logout_record, NULL},
    {"auth.password", sizeof(identity_password_args_t), identity_body_password, identity_prefetch_actor,
     identity_decide_password, reply_password_record, NULL},
};

const sms_command_table_t identity_commands = {
    SMS_COMMAND_ROWS(rows),
    .state_new = identity_state_new,
    .state_fetch = identity_state_fetch,
    .state_free = identity_state_free,
};
