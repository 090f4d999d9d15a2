/* handlers.c - the identity commands' validate, prefetch and decide phases
 * (commands.h). Decide reads the batch state only, with one exception:
 * failed logins are counted in ephemeral Redis keys with a TTL
 * (view.h's IDENTITY_THROTTLE_*), throttle state that is not part of the
 * view and not rebuilt from the log. argon2id runs here, in the identity
 * service's thread (never in the gateway's loop). */
#include "commands.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "msgpack_util.h"
#include "state.h"
#include "text.h"
#include "redis.h"
#include "tokens.h"
#include "view.h"

identity_settings_t identity_settings;
identity_counters_t identity_counters;

static const char *const roles[] = {"lecturer", "student", "admin", NULL};
static const char *const admins[] = {"admin", NULL};
static const char *const anyone[] = {"public", "lecturer", "student", "admin", NULL};

static bool key_is(const char *k, size_t klen, const char *name) { return strlen(name) == klen && !memcmp(name, k, klen); }

/* A lower-cased email: local@domain, printable ASCII without spaces or
 * <>(),;:\"[], one '@', a dot in the domain. */
static bool email_ok(const char *s, size_t n, char *lower) {
    if (n < 3 || n > IDENTITY_EMAIL_MAX) return false;
    size_t at = n, ats = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 127 || strchr("<>(),;:\\\"[]", c)) return false;
        if (c == '@') at = i, ats++;
        lower[i] = (char)tolower(c);
    }
    lower[n] = '\0';
    if (ats != 1 || at == 0 || at + 1 >= n) return false;
    const char *dot = memchr(s + at + 1, '.', n - at - 1);
    return dot && dot != s + at + 1 && dot != s + n - 1;
}

/* The field value as a string, or an error "must be a string". */
static bool str_field(const msgpack_object *v, const char *f, sms_str_t *out, sms_decision_t *d) {
    const char *s;
    size_t n;
    if (!sms_mp_str(v, &s, &n)) {
        sms_decision_error(d, f, strlen(f), "must be a string");
        return false;
    }
    *out = (sms_str_t){s, n};
    return true;
}

/* A password: 12+ characters of UTF-8 text, at most SMS_PASSWORD_MAX_BYTES bytes. */
static void password_rule(sms_str_t pw, const char *f, sms_decision_t *d) {
    size_t chars = sms_text_chars(pw.ptr, pw.len);
    if (chars == (size_t)-1) sms_decision_error(d, f, strlen(f), "must be valid UTF-8 text without control characters");
    else if (chars < SMS_PASSWORD_MIN_CHARS || pw.len > SMS_PASSWORD_MAX_BYTES)
        sms_decision_error(d, f, strlen(f), "must be %d to %d characters long", SMS_PASSWORD_MIN_CHARS,
                           SMS_PASSWORD_MAX_BYTES);
}

static int finish(sms_decision_t *d, const char *what) {
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "%s", what);
    return -1;
}

int identity_body_create(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    identity_create_args_t *a = args;
    if (sms_command_check_sender(cmd, admins, "only an admin manages accounts", d) != 0) return -1;
    bool has_email = false, has_name = false, has_role = false;
    for (uint32_t i = 0; i < cmd->data->via.map.size; i++) {
        const msgpack_object_kv *kv = &cmd->data->via.map.ptr[i];
        const char *k;
        size_t kl;
        if (!sms_mp_str(&kv->key, &k, &kl)) continue;
        sms_str_t v;
        if (key_is(k, kl, "email")) {
            has_email = true;
            if (str_field(&kv->val, "email", &v, d) && !email_ok(v.ptr, v.len, a->email))
                sms_decision_error(d, "email", 5, "must be an email address like name@school.edu (at most %d characters)",
                                   IDENTITY_EMAIL_MAX);
            else a->email_len = v.len;
        } else if (key_is(k, kl, "name")) {
            has_name = true;
            if (!str_field(&kv->val, "name", &v, d)) continue;
            size_t chars = sms_text_chars(v.ptr, v.len);
            if (chars == (size_t)-1 || chars < 1 || chars > IDENTITY_NAME_MAX)
                sms_decision_error(d, "name", 4, "must be 1 to %d characters of text", IDENTITY_NAME_MAX);
            a->name = v;
        } else if (key_is(k, kl, "role")) {
            has_role = true;
            if (!str_field(&kv->val, "role", &v, d)) continue;
            size_t r = 0;
            while (roles[r] && !(strlen(roles[r]) == v.len && !memcmp(roles[r], v.ptr, v.len))) r++;
            if (!roles[r]) sms_decision_error(d, "role", 4, "must be lecturer, student or admin");
            a->role = v;
        } else if (key_is(k, kl, "student_id")) {
            if (kv->val.type == MSGPACK_OBJECT_NIL) continue;
            if (!str_field(&kv->val, "student_id", &v, d)) continue;
            if (!sms_id_name_valid(v.ptr, v.len, IDENTITY_STUDENT_ID_MAX))
                sms_decision_error(d, "student_id", 10, "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                                   IDENTITY_STUDENT_ID_MAX);
            a->student_id = v;
        } else if (key_is(k, kl, "password")) {
            if (!str_field(&kv->val, "password", &v, d)) continue;
            password_rule(v, "password", d);
            a->password = v;
            a->has_password = true;
        } else {
            sms_decision_error(d, k, kl, "unknown field");
        }
    }
    if (!has_email) sms_decision_error(d, "email", 5, "is required");
    if (!has_name) sms_decision_error(d, "name", 4, "is required");
    if (!has_role) sms_decision_error(d, "role", 4, "is required");
    if (a->student_id.len && !(a->role.len == 7 && !memcmp(a->role.ptr, "student", 7)))
        sms_decision_error(d, "student_id", 10, "is only for role student");
    return finish(d, "the account is invalid");
}

int identity_body_deactivate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    identity_id_args_t *a = args;
    if (sms_command_check_sender(cmd, admins, "only an admin manages accounts", d) != 0) return -1;
    const char *s;
    size_t n;
    if (!sms_mp_str(sms_mp_map_get(cmd->data, "id"), &s, &n) || !sms_id_name_valid(s, n, SMS_ID_LEN + 8)) {
        sms_decision_fail(d, 404, "not_found", "no such account");
        return -1;
    }
    a->id = (sms_str_t){s, n};
    return 0;
}

/* Login bodies are checked only for shape: a wrong email format is a failed
 * login (401) like any other, so the answer tells nothing about accounts. */
int identity_body_login(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    identity_login_args_t *a = args;
    if (sms_command_check_sender(cmd, anyone, "", d) != 0) return -1;
    for (uint32_t i = 0; i < cmd->data->via.map.size; i++) {
        const msgpack_object_kv *kv = &cmd->data->via.map.ptr[i];
        const char *k;
        size_t kl;
        if (!sms_mp_str(&kv->key, &k, &kl)) continue;
        sms_str_t v = {"", 0};
        if (key_is(k, kl, "email")) {
            if (str_field(&kv->val, "email", &v, d)) {
                if (v.len > IDENTITY_EMAIL_MAX) sms_decision_error(d, "email", 5, "must be at most %d bytes", IDENTITY_EMAIL_MAX);
                else {
                    for (size_t j = 0; j < v.len; j++) a->email[j] = (char)tolower((unsigned char)v.ptr[j]);
                    a->email[v.len] = '\0';
                    a->email_len = v.len;
                }
            }
        } else if (key_is(k, kl, "password")) {
            if (str_field(&kv->val, "password", &v, d) && v.len > SMS_PASSWORD_MAX_BYTES)
                sms_decision_error(d, "password", 8, "must be at most %d bytes", SMS_PASSWORD_MAX_BYTES);
            a->password = v;
        } else if (key_is(k, kl, "client_ip")) { /* set by the gateway, never by the client */
            if (sms_mp_str(&kv->val, &v.ptr, &v.len) && v.len > 0 && v.len <= IDENTITY_IP_MAX &&
                !memchr(v.ptr, '@', v.len))
                a->ip_key_len = (size_t)snprintf(a->ip_key, sizeof a->ip_key, "ip %.*s", (int)v.len, v.ptr);
        } else {
            sms_decision_error(d, k, kl, "unknown field");
        }
    }
    if (a->email_len == 0 && d->n_errors_total == 0) sms_decision_error(d, "email", 5, "is required");
    if (a->password.ptr == NULL) sms_decision_error(d, "password", 8, "is required");
    return finish(d, "the login body is invalid");
}

int identity_body_token(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    identity_token_args_t *a = args;
    if (sms_command_check_sender(cmd, anyone, "", d) != 0) return -1;
    sms_str_t tok = {NULL, 0};
    for (uint32_t i = 0; i < cmd->data->via.map.size; i++) {
        const msgpack_object_kv *kv = &cmd->data->via.map.ptr[i];
        const char *k;
        size_t kl;
        if (!sms_mp_str(&kv->key, &k, &kl)) continue;
        if (key_is(k, kl, "refresh_token")) {
            if (str_field(&kv->val, "refresh_token", &tok, d) && (tok.len == 0 || tok.len > 512))
                sms_decision_error(d, "refresh_token", 13, "must be a refresh token this API issued");
        } else {
            sms_decision_error(d, k, kl, "unknown field");
        }
    }
    if (tok.ptr == NULL && d->n_errors_total == 0) sms_decision_error(d, "refresh_token", 13, "is required");
    if (finish(d, "the body is invalid") != 0) return -1;
    identity_refresh_hash(tok.ptr, tok.len, a->hash);
    return 0;
}

int identity_body_password(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    identity_password_args_t *a = args;
    if (sms_command_check_sender(cmd, roles, "sign in to change your password", d) != 0) return -1;
    bool has_cur = false, has_new = false;
    for (uint32_t i = 0; i < cmd->data->via.map.size; i++) {
        const msgpack_object_kv *kv = &cmd->data->via.map.ptr[i];
        const char *k;
        size_t kl;
        if (!sms_mp_str(&kv->key, &k, &kl)) continue;
        if (key_is(k, kl, "current_password")) {
            has_cur = str_field(&kv->val, "current_password", &a->current, d) || true;
        } else if (key_is(k, kl, "new_password")) {
            has_new = true;
            if (str_field(&kv->val, "new_password", &a->next, d)) password_rule(a->next, "new_password", d);
        } else {
            sms_decision_error(d, k, kl, "unknown field");
        }
    }
    if (!has_cur) sms_decision_error(d, "current_password", 16, "is required");
    if (!has_new) sms_decision_error(d, "new_password", 12, "is required");
    return finish(d, "the body is invalid");
}

/* ---- prefetch ---- */

void identity_prefetch_create(void *state, const sms_command_t *cmd, const void *args) {
    (void)cmd;
    const identity_create_args_t *a = args;
    identity_state_want_email(state, (sms_str_t){a->email, a->email_len});
}

void identity_prefetch_id(void *state, const sms_command_t *cmd, const void *args) {
    (void)cmd;
    identity_state_want_id(state, ((const identity_id_args_t *)args)->id);
}

void identity_prefetch_login(void *state, const sms_command_t *cmd, const void *args) {
    (void)cmd;
    const identity_login_args_t *a = args;
    identity_state_want_email(state, (sms_str_t){a->email, a->email_len});
    if (a->ip_key_len) identity_state_want_fails(state, (sms_str_t){a->ip_key, a->ip_key_len});
}

void identity_prefetch_token(void *state, const sms_command_t *cmd, const void *args) {
    (void)cmd;
    const identity_token_args_t *a = args;
    identity_state_want_refresh(state, (sms_str_t){a->hash, strlen(a->hash)});
}

/* The signed-in user: the token's sub is the account id, or for a student
 * account with a roster id, that id (tokens.c) - read both ways. */
void identity_prefetch_actor(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    identity_state_want_id(state, cmd->actor);
}

/* ---- decide ---- */

static sms_str_t S(const char *s) { return (sms_str_t){s, strlen(s)}; }

static void reply_user(sms_decision_t *d, int status, const identity_account_t *a) {
    identity_user_t u = {S(a->id), S(a->email), S(a->name), S(a->role), S(a->student_id), S(""), S(a->status),
                         a->created_at};
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    identity_pack_user_public(&pk, &u);
    if (status == 201) snprintf(d->location, sizeof d->location, "/admin/users/%s", a->id);
}

void identity_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                            sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_create_args_t *a = args;
    sms_str_t email = {a->email, a->email_len};
    if (identity_state_by_email(st, email)) {
        sms_decision_error(d, "email", 5, "is already an account's email");
        sms_decision_fail(d, 409, "email_taken", "an account with this email exists");
        return;
    }
    char hash[SMS_PASSWORD_HASH_MAX] = "";
    if (a->has_password && sms_password_hash(a->password.ptr, a->password.len, &identity_settings.argon2, hash) != 0) {
        sms_decision_fail(d, 500, "internal", "the password could not be hashed");
        return;
    }
    char id[SMS_ID_SIZE], role[16], sid[IDENTITY_STUDENT_ID_MAX + 1], name[4 * IDENTITY_NAME_MAX + 1];
    sms_id_new(id);
    snprintf(role, sizeof role, "%.*s", (int)a->role.len, a->role.ptr);
    snprintf(sid, sizeof sid, "%.*s", (int)a->student_id.len, a->student_id.ptr);
    snprintf(name, sizeof name, "%.*s", (int)a->name.len, a->name.ptr);
    identity_account_t acc = {id, (char *)a->email, name, role, sid, "active", hash, now_ms};
    identity_user_t u = {S(id), email, a->name, a->role, a->student_id, S(hash), S("active"), now_ms};
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_USER_CREATED, IDENTITY_EVENT_VERSION, S(id));
    identity_pack_user_created(&pk, &u);
    reply_user(d, 201, identity_state_put_account(st, &acc));
    sodium_memzero(hash, sizeof hash);
}

/* The auth counters, logged at most every 10 s beside the worker's stats line. */
static void log_auth_stats(void) {
    static uint64_t last;
    uint64_t now = sms_mono_ms();
    if (now - last < 10000) return;
    last = now;
    sms_log(SMS_LOG_INFO, "auth_stats", "logins_ok=%llu login_failures=%llu throttled=%llu refresh_reuse=%llu",
            identity_counters.logins_ok, identity_counters.login_failures, identity_counters.throttled,
            identity_counters.refresh_reuse);
}

/* Counts a failed login for email: INCR its throttle key, which expires
 * IDENTITY_FAIL_WINDOW_S after the first failure (EXPIRE NX). Throttle
 * state, not the view: a Redis failure here is logged and the login is
 * still answered 401. */
static void count_one(identity_state_t *st, sms_str_t key) {
    identity_state_set_fails(st, key, identity_state_fails(st, key) + 1);
    if (st->rc == NULL) return;
    char tk[512];
    size_t tn = identity_throttle_key(key, tk, sizeof tk);
    redisAppendCommand(st->rc, "INCR %b", tk, tn);
    redisAppendCommand(st->rc, "EXPIRE %b %d NX", tk, tn, IDENTITY_FAIL_WINDOW_S);
    redisReply *r[2];
    if (sms_redis_get_replies(st->rc, r, 2) == 0) (void)sms_redis_free_replies(r, 2); /* errors logged there */
}

/* Counts a failed login for the account and for the client's address. */
static void count_failure(identity_state_t *st, sms_str_t email, sms_str_t ip_key) {
    identity_counters.login_failures++;
    count_one(st, email);
    if (ip_key.len) count_one(st, ip_key);
}

static void reset_failures(identity_state_t *st, sms_str_t email) {
    if (identity_state_fails(st, email) == 0) return;
    identity_state_set_fails(st, email, 0);
    if (st->rc == NULL) return;
    redisReply *r = redisCommand(st->rc, "DEL " IDENTITY_THROTTLE_ACCOUNT "%b", email.ptr, email.len);
    if (r == NULL) sms_log(SMS_LOG_WARN, "throttle_reset_failed", "redis not reachable");
    else freeReplyObject(r);
}

/* The token's subject: a student account linked to the roster is that
 * student id (the id rosters, grades and submissions know), else the account id. */
static const char *subject_of(const identity_account_t *a) {
    return strcmp(a->role, "student") == 0 && a->student_id[0] ? a->student_id : a->id;
}

/* The reply of a login or refresh: a new access token and refresh token. */
static int reply_pair(sms_decision_t *d, const identity_account_t *a, const char *refresh, int64_t now_ms) {
    char *access = NULL;
    if (identity_access_mint(subject_of(a), a->role, now_ms / 1000, identity_settings.access_ttl_s, &access) != 0) {
        sms_decision_fail(d, 500, "internal", "no access token could be signed");
        return -1;
    }
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 4);
    sms_mp_pack_kv_str(&pk, "access_token", access);
    sms_mp_pack_kv_str(&pk, "token_type", "Bearer");
    sms_mp_pack_kv_i64(&pk, "expires_in", identity_settings.access_ttl_s);
    sms_mp_pack_kv_str(&pk, "refresh_token", refresh);
    sms_free(access);
    return 0;
}

static void invalid_credentials(sms_decision_t *d) {
    sms_decision_fail(d, 401, "invalid_credentials", "the email or the password is wrong");
}

void identity_decide_login(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                           sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_login_args_t *a = args;
    sms_str_t email = {a->email, a->email_len};
    log_auth_stats();
    sms_str_t ip_key = {a->ip_key, a->ip_key_len};
    if (identity_state_fails(st, email) >= IDENTITY_FAILS_PER_ACCOUNT ||
        (ip_key.len && identity_state_fails(st, ip_key) >= IDENTITY_FAILS_PER_IP)) {
        identity_counters.throttled++;
        sms_decision_fail(d, 429, "too_many_attempts",
                          "too many failed logins for this account or from this address; retry after %d s",
                          IDENTITY_FAIL_WINDOW_S);
        return;
    }
    identity_account_t *acc = identity_state_by_email(st, email);
    bool ok;
    if (acc && strcmp(acc->status, "active") == 0 && acc->password_hash[0])
        ok = sms_password_verify(acc->password_hash, a->password.ptr, a->password.len);
    else
        ok = sms_password_verify_dummy(a->password.ptr, a->password.len, &identity_settings.argon2);
    if (!ok) {
        count_failure(st, email, ip_key);
        invalid_credentials(d);
        return;
    }
    reset_failures(st, email);
    sms_str_t uid = S(acc->id);
    if (sms_password_needs_rehash(acc->password_hash, &identity_settings.argon2)) {
        char hash[SMS_PASSWORD_HASH_MAX];
        if (sms_password_hash(a->password.ptr, a->password.len, &identity_settings.argon2, hash) == 0) {
            msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_PASSWORD_SET,
                                                        IDENTITY_EVENT_VERSION, uid);
            identity_pack_password_set(&pk, uid, hash, now_ms);
            identity_state_set_password(acc, hash);
            sodium_memzero(hash, sizeof hash);
        } /* else: the old hash still verifies; rehashed at a later login */
    }
    char token[IDENTITY_REFRESH_LEN + 1], hash[IDENTITY_HASH_HEX + 1], family[SMS_ID_SIZE];
    if (identity_refresh_new(token, hash) != 0) {
        sms_decision_fail(d, 500, "internal", "no refresh token could be made");
        return;
    }
    sms_id_new(family);
    int64_t expires_at = now_ms + identity_settings.refresh_ttl_s * 1000;
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_SESSION_STARTED,
                                                IDENTITY_EVENT_VERSION, uid);
    identity_pack_session_started(&pk, family, uid, hash, expires_at, now_ms);
    if (reply_pair(d, acc, token, now_ms) != 0) {
        d->n_events = 0;
        return;
    }
    identity_state_put_refresh(st, S(hash), S(family), uid, expires_at);
    identity_counters.logins_ok++;
    sodium_memzero(token, sizeof token);
}

static void invalid_token(sms_decision_t *d) {
    sms_decision_fail(d, 401, "invalid_token", "the refresh token is not valid (unknown, expired or revoked); log in again");
}

void identity_decide_refresh(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                             sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_token_args_t *a = args;
    identity_refresh_t *rt = identity_state_refresh(st, S(a->hash));
    if (rt == NULL) return invalid_token(d);
    sms_str_t family = S(rt->family), uid = S(rt->user);
    if (rt->used) {
        /* Token theft detection: whoever presents a used token (the thief or
         * the victim), the whole family stops working. */
        identity_counters.refresh_reuse++;
        sms_log(SMS_LOG_WARN, "refresh_token_reused", "family %s of user %s revoked", rt->family, rt->user);
        if (!identity_state_family_revoked(st, family)) {
            msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_SESSION_REVOKED,
                                                        IDENTITY_EVENT_VERSION, uid);
            identity_pack_session_revoked(&pk, family, uid, "reuse", now_ms);
            identity_state_revoke_family(st, family);
        }
        sms_decision_fail(d, 401, "refresh_token_reused",
                          "this refresh token was already used: every session it belongs to is revoked; log in again");
        return;
    }
    identity_account_t *acc = identity_state_by_id(st, uid);
    if (identity_state_family_revoked(st, family) || rt->expires_at <= now_ms || acc == NULL ||
        strcmp(acc->status, "active") != 0)
        return invalid_token(d);
    char token[IDENTITY_REFRESH_LEN + 1], hash[IDENTITY_HASH_HEX + 1];
    if (identity_refresh_new(token, hash) != 0) {
        sms_decision_fail(d, 500, "internal", "no refresh token could be made");
        return;
    }
    int64_t expires_at = now_ms + identity_settings.refresh_ttl_s * 1000;
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_SESSION_ROTATED,
                                                IDENTITY_EVENT_VERSION, uid);
    identity_pack_session_rotated(&pk, family, uid, a->hash, hash, expires_at, now_ms);
    if (reply_pair(d, acc, token, now_ms) != 0) {
        d->n_events = 0;
        return;
    }
    rt->used = true;
    identity_state_put_refresh(st, S(hash), family, uid, expires_at);
    sodium_memzero(token, sizeof token);
}

void identity_decide_logout(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                            sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_token_args_t *a = args;
    identity_refresh_t *rt = identity_state_refresh(st, S(a->hash));
    bool revoke = rt && !identity_state_family_revoked(st, S(rt->family));
    if (revoke) {
        sms_str_t family = S(rt->family), uid = S(rt->user);
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_SESSION_REVOKED,
                                                    IDENTITY_EVENT_VERSION, uid);
        identity_pack_session_revoked(&pk, family, uid, "logout", now_ms);
        identity_state_revoke_family(st, family);
    }
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "revoked");
    if (revoke) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
}

void identity_decide_deactivate(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_id_args_t *a = args;
    identity_account_t *acc = identity_state_by_id(st, a->id);
    if (acc == NULL) {
        sms_decision_fail(d, 404, "not_found", "no such account");
        return;
    }
    if (strcmp(acc->status, "active") == 0) {
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_USER_DEACTIVATED,
                                                    IDENTITY_EVENT_VERSION, a->id);
        identity_pack_user_deactivated(&pk, a->id, now_ms);
        identity_state_deactivate(st, acc);
    }
    reply_user(d, 200, acc);
}

void identity_decide_password(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                              sms_decision_t *d) {
    identity_state_t *st = state;
    const identity_password_args_t *a = args;
    identity_account_t *acc = identity_state_by_id(st, cmd->actor);
    if (acc == NULL || strcmp(acc->status, "active") != 0) {
        sms_decision_fail(d, 403, "forbidden", "this token belongs to no active account with a password");
        return;
    }
    if (!sms_password_verify(acc->password_hash, a->current.ptr, a->current.len)) {
        sms_decision_error(d, "current_password", 16, "is wrong");
        sms_decision_fail(d, 403, "wrong_password", "the current password is wrong");
        return;
    }
    char hash[SMS_PASSWORD_HASH_MAX];
    if (sms_password_hash(a->next.ptr, a->next.len, &identity_settings.argon2, hash) != 0) {
        sms_decision_fail(d, 500, "internal", "the password could not be hashed");
        return;
    }
    sms_str_t uid = S(acc->id);
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, IDENTITY_EVENT_PASSWORD_SET, IDENTITY_EVENT_VERSION, uid);
    identity_pack_password_set(&pk, uid, hash, now_ms);
    identity_state_set_password(acc, hash);
    sodium_memzero(hash, sizeof hash);
    d->status = 200;
    pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "changed");
    msgpack_pack_true(&pk);
}
