/* schema.c - the identity events' msgpack data and the account's public
 * forms (see schema.h). */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "msgpack_util.h"

static void json_str(sms_buf_t *b, sms_str_t s) { sms_buf_json_str(b, s.ptr, s.len); }

void identity_user_json(const identity_user_t *u, sms_buf_t *b) {
    sms_buf_puts(b, "{\"id\":");
    json_str(b, u->id);
    sms_buf_puts(b, ",\"email\":");
    json_str(b, u->email);
    sms_buf_puts(b, ",\"name\":");
    json_str(b, u->name);
    sms_buf_puts(b, ",\"role\":");
    json_str(b, u->role);
    sms_buf_puts(b, ",\"student_id\":");
    if (u->student_id.len) json_str(b, u->student_id);
    else sms_buf_puts(b, "null");
    char when[40];
    sms_rfc3339(u->created_at, when);
    sms_buf_puts(b, ",\"created_at\":\"");
    sms_buf_puts(b, when);
    sms_buf_puts(b, "\"}");
}

static void pack_kv(msgpack_packer *pk, const char *k, sms_str_t v) {
    sms_mp_pack_str(pk, k);
    sms_mp_pack_strn(pk, v.ptr, v.len);
}

void identity_pack_user_public(msgpack_packer *pk, const identity_user_t *u) {
    msgpack_pack_map(pk, 7);
    pack_kv(pk, "id", u->id);
    pack_kv(pk, "email", u->email);
    pack_kv(pk, "name", u->name);
    pack_kv(pk, "role", u->role);
    sms_mp_pack_str(pk, "student_id");
    if (u->student_id.len) sms_mp_pack_strn(pk, u->student_id.ptr, u->student_id.len);
    else msgpack_pack_nil(pk);
    pack_kv(pk, "status", u->status.len ? u->status : SMS_STR("active"));
    char when[40];
    sms_rfc3339(u->created_at, when);
    sms_mp_pack_kv_str(pk, "created_at", when);
}

void identity_pack_user_created(msgpack_packer *pk, const identity_user_t *u) {
    msgpack_pack_map(pk, 7);
    pack_kv(pk, "id", u->id);
    pack_kv(pk, "email", u->email);
    pack_kv(pk, "name", u->name);
    pack_kv(pk, "role", u->role);
    sms_mp_pack_str(pk, "student_id");
    if (u->student_id.len) sms_mp_pack_strn(pk, u->student_id.ptr, u->student_id.len);
    else msgpack_pack_nil(pk);
    pack_kv(pk, "password_hash", u->password_hash);
    sms_mp_pack_kv_i64(pk, "created_at", u->created_at);
}

void identity_pack_password_set(msgpack_packer *pk, sms_str_t id, const char *hash, int64_t at) {
    msgpack_pack_map(pk, 3);
    pack_kv(pk, "id", id);
    sms_mp_pack_kv_str(pk, "password_hash", hash);
    sms_mp_pack_kv_i64(pk, "set_at", at);
}

void identity_pack_user_deactivated(msgpack_packer *pk, sms_str_t id, int64_t at) {
    msgpack_pack_map(pk, 2);
    pack_kv(pk, "id", id);
    sms_mp_pack_kv_i64(pk, "deactivated_at", at);
}

void identity_pack_session_started(msgpack_packer *pk, const char *family, sms_str_t user, const char *hash,
                                   int64_t expires_at, int64_t at) {
    msgpack_pack_map(pk, 5);
    sms_mp_pack_kv_str(pk, "family_id", family);
    pack_kv(pk, "user_id", user);
    sms_mp_pack_kv_str(pk, "token_hash", hash);
    sms_mp_pack_kv_i64(pk, "expires_at", expires_at);
    sms_mp_pack_kv_i64(pk, "started_at", at);
}

void identity_pack_session_rotated(msgpack_packer *pk, sms_str_t family, sms_str_t user, const char *old_hash,
                                   const char *new_hash, int64_t expires_at, int64_t at) {
    msgpack_pack_map(pk, 6);
    pack_kv(pk, "family_id", family);
    pack_kv(pk, "user_id", user);
    sms_mp_pack_kv_str(pk, "old_hash", old_hash);
    sms_mp_pack_kv_str(pk, "new_hash", new_hash);
    sms_mp_pack_kv_i64(pk, "expires_at", expires_at);
    sms_mp_pack_kv_i64(pk, "rotated_at", at);
}

void identity_pack_session_revoked(msgpack_packer *pk, sms_str_t family, sms_str_t user, const char *reason,
                                   int64_t at) {
    msgpack_pack_map(pk, 4);
    pack_kv(pk, "family_id", family);
    pack_kv(pk, "user_id", user);
    sms_mp_pack_kv_str(pk, "reason", reason);
    sms_mp_pack_kv_i64(pk, "revoked_at", at);
}

sms_str_t identity_data_str(const msgpack_object *data, const char *field) {
    const char *s = NULL;
    size_t n = 0;
    if (!sms_mp_str(sms_mp_map_get(data, field), &s, &n)) return (sms_str_t){"", 0};
    return (sms_str_t){s, n};
}

int64_t identity_data_i64(const msgpack_object *data, const char *field) {
    int64_t v = 0;
    if (!sms_mp_i64(sms_mp_map_get(data, field), &v)) return 0;
    return v;
}
