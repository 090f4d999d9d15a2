/* state.h - what the identity decider knows during one batch: the accounts
 * the commands name (by email or id), the refresh tokens they present (by
 * hash) with their family's status, and each email's recent login failures
 * (throttle counters, not the view). The rows' prefetch say what they want;
 * identity_state_fetch reads it in two pipelines (emails, tokens and ids;
 * then the accounts and families they point to); decisions overlay the
 * batch's own effects so later commands see them. Unit tests fill one by
 * hand (rc NULL). */
#ifndef IDENTITY_STATE_H
#define IDENTITY_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "strmap.h"

/* An account as the view has it; strings owned (identity_state frees them). */
typedef struct identity_account_s {
    char *id, *email, *name, *role, *student_id, *status, *password_hash;
    int64_t created_at;
} identity_account_t;

/* A refresh token's record (rt:<hash>) with its family's and user's state. */
typedef struct identity_refresh_s {
    char *family, *user; /* owned */
    int64_t expires_at;
    bool used;
    bool family_revoked;
} identity_refresh_t;

typedef struct identity_state_s {
    redisContext *rc;
    sms_strmap_t by_id;      /* id -> identity_account_t* (owned) or &identity_absent */
    sms_strmap_t by_email;   /* email -> identity_account_t* (borrowed from by_id) or &identity_absent */
    sms_strmap_t email_ids;  /* email -> the id the view maps it to (owned char*), during the fetch */
    sms_strmap_t fails;      /* email or "ip <address>" -> 1 + (intptr_t) failed logins counted (throttle) */
    sms_strmap_t refresh;    /* hash -> identity_refresh_t* (owned) or &identity_absent */
    sms_strmap_t families;   /* family -> &identity_absent (live) or &identity_revoked_mark (revoked) */
    sms_strmap_t want_email, want_id, want_refresh, want_fails; /* keys wanted (values markers) */
} identity_state_t;

extern char identity_absent, identity_revoked_mark;

void identity_state_init(identity_state_t *st, redisContext *rc);
void identity_state_close(identity_state_t *st);
void *identity_state_new(redisContext *rc);
int identity_state_fetch(void *state);
void identity_state_free(void *state);

/* Wants (prefetch): an account by lower-cased email (with its failure
 * count), by id, a refresh token by its SHA-256 hex. */
void identity_state_want_email(identity_state_t *st, sms_str_t email);
void identity_state_want_id(identity_state_t *st, sms_str_t id);
void identity_state_want_refresh(identity_state_t *st, sms_str_t hash);
/* A failure count by key: an email (its account) or "ip <address>". */
void identity_state_want_fails(identity_state_t *st, sms_str_t key);
/* The Redis key (view.h's IDENTITY_THROTTLE_*) of a failure-count key, into
 * out (cap bytes); returns its length. */
size_t identity_throttle_key(sms_str_t key, char *out, size_t cap);

/* Look-ups (NULL: absent). */
identity_account_t *identity_state_by_email(identity_state_t *st, sms_str_t email);
identity_account_t *identity_state_by_id(identity_state_t *st, sms_str_t id);
identity_refresh_t *identity_state_refresh(identity_state_t *st, sms_str_t hash);
int64_t identity_state_fails(identity_state_t *st, sms_str_t email);
bool identity_state_family_revoked(identity_state_t *st, sms_str_t family);

/* Overlay: a new account (copied), a password change, a deactivation, a
 * new refresh token, a used one, a revoked family, a failure counted. */
identity_account_t *identity_state_put_account(identity_state_t *st, const identity_account_t *a);
void identity_state_set_password(identity_account_t *a, const char *hash);
void identity_state_deactivate(identity_state_t *st, identity_account_t *a);
void identity_state_put_refresh(identity_state_t *st, sms_str_t hash, sms_str_t family, sms_str_t user,
                                int64_t expires_at);
void identity_state_revoke_family(identity_state_t *st, sms_str_t family);
void identity_state_set_fails(identity_state_t *st, sms_str_t email, int64_t n);

#endif
