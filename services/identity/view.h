/* view.h - the identity service's Redis view, stated once: the key prefix,
 * every key the projection writes (the parts named in each comment are
 * appended), the hash fields the gateway and the decider read, and the words
 * of the cmds records. Also the throttle keys, which are NOT part of the view
 * (ephemeral counters with a TTL, outside the view's prefix: a rebuild
 * neither drops nor recreates them). Needs no library header. */
#ifndef IDENTITY_VIEW_H
#define IDENTITY_VIEW_H

#define IDENTITY_KEY_PREFIX "sms:identity:"

/* u:<user id>: hash of the account (fields below). */
#define IDENTITY_KEY_USER IDENTITY_KEY_PREFIX "u:"
/* email:<lower-cased email>: string, the user id owning it (first created wins). */
#define IDENTITY_KEY_EMAIL IDENTITY_KEY_PREFIX "email:"
/* sid:<student id>: string, the student account linked to that roster id. */
#define IDENTITY_KEY_STUDENT IDENTITY_KEY_PREFIX "sid:"
/* users: zset (score 0) of lower-cased emails: lex order = the admin list's order. */
#define IDENTITY_KEY_USERS IDENTITY_KEY_PREFIX "users"
/* rt:<sha-256 hex of a refresh token>: hash family, user, expires_at (ms), used (0|1). */
#define IDENTITY_KEY_REFRESH IDENTITY_KEY_PREFIX "rt:"
/* fam:<family id>: hash user, status (live|revoked). */
#define IDENTITY_KEY_FAMILY IDENTITY_KEY_PREFIX "fam:"
/* ufam:<user id>: set of the user's family ids (deactivation revokes them all). */
#define IDENTITY_KEY_USER_FAMILIES IDENTITY_KEY_PREFIX "ufam:"
/* The worker's bookkeeping (common/worker.h). */
#define IDENTITY_KEY_CMDS IDENTITY_KEY_PREFIX "cmds"
#define IDENTITY_KEY_OFFSETS IDENTITY_KEY_PREFIX "offsets"
#define IDENTITY_KEY_META IDENTITY_KEY_PREFIX "meta"

/* Fields of u:<id>. */
#define IDENTITY_FIELD_ID "id"
#define IDENTITY_FIELD_EMAIL "email"
#define IDENTITY_FIELD_NAME "name"
#define IDENTITY_FIELD_ROLE "role"
#define IDENTITY_FIELD_STUDENT_ID "student_id" /* "" when none */
#define IDENTITY_FIELD_STATUS "status"         /* active | deactivated */
#define IDENTITY_FIELD_PASSWORD "pw"           /* encoded argon2id, "" when none: never read by the gateway */
#define IDENTITY_FIELD_CREATED_AT "created_at"
/* The public JSON without its status: {"id":..,"email":..,"name":..,"role":..,"student_id":..,"created_at":..}
 * (readers append ,"status":"<status>" before the closing brace). */
#define IDENTITY_FIELD_JSON "json"

/* Fields of rt:<hash> and fam:<family>. */
#define IDENTITY_FIELD_FAMILY "family"
#define IDENTITY_FIELD_USER "user"
#define IDENTITY_FIELD_EXPIRES_AT "expires_at"
#define IDENTITY_FIELD_USED "used"

/* Throttle counters (not the view): INCR + EXPIRE on each failed login. */
#define IDENTITY_THROTTLE_PREFIX "sms:throttle:identity:"
#define IDENTITY_THROTTLE_ACCOUNT IDENTITY_THROTTLE_PREFIX "acct:" /* <lower-cased email> */
#define IDENTITY_THROTTLE_IP IDENTITY_THROTTLE_PREFIX "ip:"        /* <client address> */

/* The cmds records (command id -> "<status> <words>"):
 *   user.create, user.deactivate   "<status> <user id>"
 *   auth.login, auth.refresh       "200 session <family id>"
 *   auth.logout                    "200 revoked <family id>"
 *   auth.password                  "200 password <user id>"
 *   auth.refresh of a used token   "401 reuse <family id>" */
#define IDENTITY_RECORD_SESSION "session"
#define IDENTITY_RECORD_REVOKED "revoked"
#define IDENTITY_RECORD_REUSE "reuse"
#define IDENTITY_RECORD_PASSWORD "password"

#endif
