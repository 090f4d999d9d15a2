/* projection.c - identity events -> the identity view (see projection.h):
 * a table of event types, each naming its script, the data fields passed as
 * its arguments and the cmds record its command gets. */
#include "projection.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"
#include "view.h"

/* Every script starts with the same four ARGV: 1 cause, 2 its cmds record
 * ("" = none), 3 "<topic>:<partition>" ("" = applied right after
 * production), 4 next offset; the event's own fields follow from ARGV[5]. */
#define BOOKKEEPING                                                                          \
    "if ARGV[3] ~= '' then redis.call('HSET', '" IDENTITY_KEY_OFFSETS "', ARGV[3], ARGV[4]) end\n" \
    "if ARGV[2] ~= '' then redis.call('HSET', '" IDENTITY_KEY_CMDS "', ARGV[1], ARGV[2]) end\n"

/* user.created: 5 id, 6 email, 7 name, 8 role, 9 student_id, 10 password_hash, 11 created_at, 12 json. */
static sms_redis_script_t user_script = {.source =
    BOOKKEEPING
    "local id, email, sid = ARGV[5], ARGV[6], ARGV[9]\n"
    "local k = '" IDENTITY_KEY_USER "' .. id\n"
    "if redis.call('EXISTS', k) == 1 then return 0 end\n"
    "redis.call('HSET', k, '" IDENTITY_FIELD_ID "', id, '" IDENTITY_FIELD_EMAIL "', email,\n"
    "  '" IDENTITY_FIELD_NAME "', ARGV[7], '" IDENTITY_FIELD_ROLE "', ARGV[8], '" IDENTITY_FIELD_STUDENT_ID "', sid,\n"
    "  '" IDENTITY_FIELD_STATUS "', 'active', '" IDENTITY_FIELD_PASSWORD "', ARGV[10],\n"
    "  '" IDENTITY_FIELD_CREATED_AT "', ARGV[11], '" IDENTITY_FIELD_JSON "', ARGV[12])\n"
    "redis.call('SETNX', '" IDENTITY_KEY_EMAIL "' .. email, id)\n"
    "redis.call('ZADD', '" IDENTITY_KEY_USERS "', 0, email)\n"
    "if sid ~= '' then redis.call('SETNX', '" IDENTITY_KEY_STUDENT "' .. sid, id) end\n"
    "return 1\n"};

/* user.password_set: 5 id, 6 password_hash. */
static sms_redis_script_t password_script = {.source =
    BOOKKEEPING
    "local k = '" IDENTITY_KEY_USER "' .. ARGV[5]\n"
    "if redis.call('EXISTS', k) == 0 then return 0 end\n"
    "redis.call('HSET', k, '" IDENTITY_FIELD_PASSWORD "', ARGV[6])\n"
    "return 1\n"};

/* user.deactivated: 5 id. Revokes every family of the user. */
static sms_redis_script_t deactivate_script = {.source =
    BOOKKEEPING
    "local id = ARGV[5]\n"
    "local k = '" IDENTITY_KEY_USER "' .. id\n"
    "if redis.call('EXISTS', k) == 0 then return 0 end\n"
    "redis.call('HSET', k, '" IDENTITY_FIELD_STATUS "', 'deactivated')\n"
    "for _, f in ipairs(redis.call('SMEMBERS', '" IDENTITY_KEY_USER_FAMILIES "' .. id)) do\n"
    "  redis.call('HSET', '" IDENTITY_KEY_FAMILY "' .. f, '" IDENTITY_FIELD_STATUS "', 'revoked')\n"
    "end\n"
    "return 1\n"};

/* session.started: 5 family_id, 6 user_id, 7 token_hash, 8 expires_at. A
 * family of a deactivated user starts revoked (order-independent). */
static sms_redis_script_t started_script = {.source =
    BOOKKEEPING
    "local fam, user = ARGV[5], ARGV[6]\n"
    "local rt = '" IDENTITY_KEY_REFRESH "' .. ARGV[7]\n"
    "if redis.call('EXISTS', rt) == 0 then\n"
    "  redis.call('HSET', rt, '" IDENTITY_FIELD_FAMILY "', fam, '" IDENTITY_FIELD_USER "', user,\n"
    "    '" IDENTITY_FIELD_EXPIRES_AT "', ARGV[8], '" IDENTITY_FIELD_USED "', '0')\n"
    "end\n"
    "local fk = '" IDENTITY_KEY_FAMILY "' .. fam\n"
    "if redis.call('EXISTS', fk) == 0 then\n"
    "  redis.call('HSET', fk, '" IDENTITY_FIELD_USER "', user, '" IDENTITY_FIELD_STATUS "', 'live')\n"
    "end\n"
    "redis.call('SADD', '" IDENTITY_KEY_USER_FAMILIES "' .. user, fam)\n"
    "if redis.call('HGET', '" IDENTITY_KEY_USER "' .. user, '" IDENTITY_FIELD_STATUS "') == 'deactivated' then\n"
    "  redis.call('HSET', fk, '" IDENTITY_FIELD_STATUS "', 'revoked')\n"
    "end\n"
    "return 1\n"};

/* session.rotated: 5 family_id, 6 user_id, 7 old_hash, 8 new_hash, 9 expires_at. */
static sms_redis_script_t rotated_script = {.source =
    BOOKKEEPING
    "redis.call('HSET', '" IDENTITY_KEY_REFRESH "' .. ARGV[7], '" IDENTITY_FIELD_USED "', '1')\n"
    "local rt = '" IDENTITY_KEY_REFRESH "' .. ARGV[8]\n"
    "if redis.call('EXISTS', rt) == 0 then\n"
    "  redis.call('HSET', rt, '" IDENTITY_FIELD_FAMILY "', ARGV[5], '" IDENTITY_FIELD_USER "', ARGV[6],\n"
    "    '" IDENTITY_FIELD_EXPIRES_AT "', ARGV[9], '" IDENTITY_FIELD_USED "', '0')\n"
    "end\n"
    "return 1\n"};

/* session.revoked: 5 family_id, 6 user_id. */
static sms_redis_script_t revoked_script = {.source =
    BOOKKEEPING
    "redis.call('HSET', '" IDENTITY_KEY_FAMILY "' .. ARGV[5], '" IDENTITY_FIELD_USER "', ARGV[6],\n"
    "  '" IDENTITY_FIELD_STATUS "', 'revoked')\n"
    "return 1\n"};

/* The record a command gets from its event: record (cap bytes) for ev, "" for none. */
typedef void (*record_fn)(const sms_event_t *ev, char *record, size_t cap);

static void record_created(const sms_event_t *ev, char *out, size_t cap) {
    sms_str_t id = identity_data_str(ev->data, "id");
    snprintf(out, cap, "201 %.*s", (int)id.len, id.ptr);
}

static void record_deactivated(const sms_event_t *ev, char *out, size_t cap) {
    sms_str_t id = identity_data_str(ev->data, "id");
    snprintf(out, cap, "200 %.*s", (int)id.len, id.ptr);
}

/* A login's rehash writes user.password_set before session.started, whose
 * record then replaces this one. */
static void record_password(const sms_event_t *ev, char *out, size_t cap) {
    sms_str_t id = identity_data_str(ev->data, "id");
    snprintf(out, cap, "200 " IDENTITY_RECORD_PASSWORD " %.*s", (int)id.len, id.ptr);
}

static void record_session(const sms_event_t *ev, char *out, size_t cap) {
    sms_str_t f = identity_data_str(ev->data, "family_id");
    snprintf(out, cap, "200 " IDENTITY_RECORD_SESSION " %.*s", (int)f.len, f.ptr);
}

static void record_revoked(const sms_event_t *ev, char *out, size_t cap) {
    sms_str_t f = identity_data_str(ev->data, "family_id");
    bool reuse = sms_mp_str_eq(sms_mp_map_get(ev->data, "reason"), "reuse");
    snprintf(out, cap, "%s %.*s", reuse ? "401 " IDENTITY_RECORD_REUSE : "200 " IDENTITY_RECORD_REVOKED, (int)f.len,
             f.ptr);
}

#define MAX_FIELDS 8

typedef struct event_row_s {
    const char *type;
    sms_redis_script_t *script;
    const char *fields[MAX_FIELDS]; /* data fields, in ARGV order from 5; a leading '#' = an integer */
    record_fn record;
} event_row_t;

static const event_row_t rows[] = {
    {IDENTITY_EVENT_USER_CREATED, &user_script,
     {"id", "email", "name", "role", "student_id", "password_hash", "#created_at", NULL}, record_created},
    {IDENTITY_EVENT_PASSWORD_SET, &password_script, {"id", "password_hash", NULL}, record_password},
    {IDENTITY_EVENT_USER_DEACTIVATED, &deactivate_script, {"id", NULL}, record_deactivated},
    {IDENTITY_EVENT_SESSION_STARTED, &started_script, {"family_id", "user_id", "token_hash", "#expires_at", NULL},
     record_session},
    {IDENTITY_EVENT_SESSION_ROTATED, &rotated_script,
     {"family_id", "user_id", "old_hash", "new_hash", "#expires_at", NULL}, record_session},
    {IDENTITY_EVENT_SESSION_REVOKED, &revoked_script, {"family_id", "user_id", NULL}, record_revoked},
};

int identity_projection_init(redisContext *rc, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (sms_redis_script_load(rc, rows[i].script, err, errlen) != 0) return -1;
    return 0;
}

/* user.created's last argument: the public JSON (without status). */
static void user_json(const sms_event_t *ev, sms_buf_t *b) {
    identity_user_t u = {
        .id = identity_data_str(ev->data, "id"),
        .email = identity_data_str(ev->data, "email"),
        .name = identity_data_str(ev->data, "name"),
        .role = identity_data_str(ev->data, "role"),
        .student_id = identity_data_str(ev->data, "student_id"),
        .created_at = identity_data_i64(ev->data, "created_at"),
    };
    identity_user_json(&u, b);
}

int identity_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                               int64_t offset) {
    const event_row_t *row = NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !row; i++)
        if (ev->type.len == strlen(rows[i].type) && memcmp(ev->type.ptr, rows[i].type, ev->type.len) == 0)
            row = &rows[i];
    if (row == NULL) {
        sms_log(SMS_LOG_WARN, "event_skipped", "%.*s %.*s is not an identity event this version understands",
                (int)ev->type.len, ev->type.ptr, (int)ev->id.len, ev->id.ptr);
        return 0;
    }
    char record[200], part[160] = "", next[24] = "", nums[MAX_FIELDS][24];
    row->record(ev, record, sizeof record);
    if (partition >= 0) {
        snprintf(part, sizeof part, "%s:%d", topic, partition);
        snprintf(next, sizeof next, "%lld", (long long)offset + 1);
    }
    sms_redis_args_t a;
    sms_redis_args_init(&a);
    sms_redis_args_add(&a, "EVALSHA", 7);
    sms_redis_args_add(&a, row->script->sha, 40);
    sms_redis_args_add(&a, "0", 1);
    sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
    sms_redis_args_str(&a, record);
    sms_redis_args_str(&a, part);
    sms_redis_args_str(&a, next);
    for (size_t i = 0; i < MAX_FIELDS && row->fields[i]; i++) {
        const char *f = row->fields[i];
        if (f[0] == '#') {
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)identity_data_i64(ev->data, f + 1));
            sms_redis_args_str(&a, nums[i]);
        } else {
            sms_str_t v = identity_data_str(ev->data, f);
            sms_redis_args_add(&a, v.ptr, v.len);
        }
    }
    sms_buf_t json;
    sms_buf_init(&json);
    if (row->script == &user_script) {
        user_json(ev, &json);
        sms_redis_args_add(&a, json.data, json.len);
    }
    int appended = sms_redis_args_append(rc, &a) == 0;
    sms_buf_close(&json);
    return appended;
}
