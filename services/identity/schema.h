/* schema.h - the identity service's shapes: event types and bounds, the
 * msgpack data of its events on sms.events.identity, and the public JSON of
 * an account. Used by handlers.c, projection.c and validate.c; no I/O.
 *
 * Events (key = user id, so one account's events are in order):
 *   user.created      {id, email, name, role, student_id|nil, password_hash, created_at}
 *   user.password_set {id, password_hash, set_at}
 *   user.deactivated  {id, deactivated_at}
 *   session.started   {family_id, user_id, token_hash, expires_at, started_at}
 *   session.rotated   {family_id, user_id, old_hash, new_hash, expires_at, rotated_at}
 *   session.revoked   {family_id, user_id, reason: logout|reuse, revoked_at}
 * password_hash is an encoded argon2id string ("" = no password yet): the
 * view is rebuilt from the log, so the hash is in the log; it is in no reply
 * and no log line. token_hash/old_hash/new_hash are SHA-256 hex of refresh
 * tokens: the tokens themselves are never stored. */
#ifndef IDENTITY_SCHEMA_H
#define IDENTITY_SCHEMA_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define IDENTITY_SERVICE "identity"
#define IDENTITY_EVENTS_TOPIC "sms.events.identity"
#define IDENTITY_EVENT_VERSION 1

#define IDENTITY_EVENT_USER_CREATED "user.created"
#define IDENTITY_EVENT_PASSWORD_SET "user.password_set"
#define IDENTITY_EVENT_USER_DEACTIVATED "user.deactivated"
#define IDENTITY_EVENT_SESSION_STARTED "session.started"
#define IDENTITY_EVENT_SESSION_ROTATED "session.rotated"
#define IDENTITY_EVENT_SESSION_REVOKED "session.revoked"

#define IDENTITY_EMAIL_MAX 254
#define IDENTITY_NAME_MAX 200      /* characters */
#define IDENTITY_STUDENT_ID_MAX 64 /* like the roster's */
#define IDENTITY_HASH_HEX 64       /* SHA-256 hex */
#define IDENTITY_PASSWORD_HASH_MAX 127

/* An account as events carry it and the decider sees it. Strings borrow
 * (an event, a command or the batch state). */
typedef struct identity_user_s {
    sms_str_t id, email, name, role, student_id; /* student_id.len 0: none */
    sms_str_t password_hash;                     /* "" when none */
    sms_str_t status;                            /* "active" | "deactivated" */
    int64_t created_at;
} identity_user_t;

/* The public JSON of u without its status (view.h IDENTITY_FIELD_JSON), into b. */
void identity_user_json(const identity_user_t *u, sms_buf_t *b);
/* The public form as a msgpack map (a reply body), status included. */
void identity_pack_user_public(msgpack_packer *pk, const identity_user_t *u);

/* Event data packers (the envelope head is packed before them). */
void identity_pack_user_created(msgpack_packer *pk, const identity_user_t *u);
void identity_pack_password_set(msgpack_packer *pk, sms_str_t id, const char *hash, int64_t at);
void identity_pack_user_deactivated(msgpack_packer *pk, sms_str_t id, int64_t at);
void identity_pack_session_started(msgpack_packer *pk, const char *family, sms_str_t user, const char *hash,
                                   int64_t expires_at, int64_t at);
void identity_pack_session_rotated(msgpack_packer *pk, sms_str_t family, sms_str_t user, const char *old_hash,
                                   const char *new_hash, int64_t expires_at, int64_t at);
void identity_pack_session_revoked(msgpack_packer *pk, sms_str_t family, sms_str_t user, const char *reason,
                                   int64_t at);

/* A string field of an event's data map ("" when absent or not a string). */
sms_str_t identity_data_str(const msgpack_object *data, const char *field);
/* An integer field (0 when absent or not an integer). */
int64_t identity_data_i64(const msgpack_object *data, const char *field);

#endif
