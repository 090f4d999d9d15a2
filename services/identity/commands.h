/* commands.h - the commands sms-identity accepts (its command table,
 * commands.c) and, for each, its typed args and the functions of its row
 * (handlers.c):
 *
 *   user.create      admin: {email, name, role, student_id?, password?} -> 201 the account
 *   user.deactivate  admin: {id} -> 200 the account (its sessions are revoked)
 *   auth.login       public: {email, password} -> 200 {access_token, token_type, expires_in, refresh_token}
 *   auth.refresh     public: {refresh_token} -> 200 a new pair; a used token revokes its family (401)
 *   auth.logout      public: {refresh_token} -> 200 {"revoked": bool}
 *   auth.password    any signed-in user: {current_password, new_password} -> 200 {"changed": true}
 *
 * Passwords and refresh tokens arrive in commands (the command topic's
 * retention is a week: services/admin/topics.c); they are never written to an
 * event, a reply, the view or a log line. */
#ifndef IDENTITY_COMMANDS_H
#define IDENTITY_COMMANDS_H

#include <hiredis/hiredis.h>

#include "command_table.h"
#include "decision.h"
#include "envelope.h"
#include "password.h"
#include "schema.h"

extern const sms_command_table_t identity_commands;

/* What the service's deciders need from the configuration (main.c sets it
 * before the worker starts; read-only afterwards). */
typedef struct identity_settings_s {
    sms_password_params_t argon2;
    int64_t access_ttl_s, refresh_ttl_s;
    char jwt_secret[256]; /* HS256 access tokens when no ES256 key is configured */
    char keys_dir[256];   /* SMS_JWT_KEYS_DIR: ES256 signing keys */
} identity_settings_t;
extern identity_settings_t identity_settings;

#define IDENTITY_FAILS_PER_ACCOUNT 5     /* failed logins within the window -> 429 */
#define IDENTITY_FAIL_WINDOW_S 900       /* 15 minutes */
#define IDENTITY_FAILS_PER_IP 50         /* failed logins from one client address within the window -> 429 */
#define IDENTITY_IP_MAX 63

typedef struct identity_create_args_s {
    char email[IDENTITY_EMAIL_MAX + 1]; /* lower-cased */
    size_t email_len;
    sms_str_t name, role, student_id, password; /* borrow the command; len 0: absent */
    bool has_password;
} identity_create_args_t;

typedef struct identity_login_args_s {
    char email[IDENTITY_EMAIL_MAX + 1];
    size_t email_len;
    sms_str_t password;
    /* "ip <address>" (the gateway's client_ip), the key of the per-address count; len 0: unknown */
    char ip_key[IDENTITY_IP_MAX + 4];
    size_t ip_key_len;
} identity_login_args_t;

typedef struct identity_token_args_s {
    char hash[IDENTITY_HASH_HEX + 1]; /* SHA-256 hex of the presented refresh token */
} identity_token_args_t;

typedef struct identity_id_args_s {
    sms_str_t id;
} identity_id_args_t;

typedef struct identity_password_args_s {
    sms_str_t current, next;
} identity_password_args_t;

int identity_body_create(const sms_command_t *cmd, void *args, sms_decision_t *d);
int identity_body_deactivate(const sms_command_t *cmd, void *args, sms_decision_t *d);
int identity_body_login(const sms_command_t *cmd, void *args, sms_decision_t *d);
int identity_body_token(const sms_command_t *cmd, void *args, sms_decision_t *d);
int identity_body_password(const sms_command_t *cmd, void *args, sms_decision_t *d);

void identity_prefetch_create(void *state, const sms_command_t *cmd, const void *args);
void identity_prefetch_id(void *state, const sms_command_t *cmd, const void *args);
void identity_prefetch_login(void *state, const sms_command_t *cmd, const void *args);
void identity_prefetch_token(void *state, const sms_command_t *cmd, const void *args);
void identity_prefetch_actor(void *state, const sms_command_t *cmd, const void *args);

void identity_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
void identity_decide_deactivate(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                sms_decision_t *d);
void identity_decide_login(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
void identity_decide_refresh(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
void identity_decide_logout(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
void identity_decide_password(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                              sms_decision_t *d);

/* Counters for the service's stats line (handlers.c). */
typedef struct identity_counters_s {
    unsigned long long logins_ok, login_failures, throttled, refresh_reuse;
} identity_counters_t;
extern identity_counters_t identity_counters;

#endif
