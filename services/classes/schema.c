/* schema.c - class snapshot (events) and public representation (HTTP) codecs. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "json_msgpack.h"
#include "msgpack_util.h"

void classes_class_clear(classes_class_t *c) {
    sms_free(c->id);
    sms_free(c->code);
    sms_free(c->name);
    sms_free(c->description);
    sms_free(c->term);
    sms_free(c->status);
    sms_free(c->lecturer_id);
    memset(c, 0, sizeof *c);
}

static char *dup_or_null(const char *s) { return s ? sms_strdup(s) : NULL; }

void classes_class_copy(classes_class_t *dst, const classes_class_t *src) {
    dst->id = dup_or_null(src->id);
    dst->code = dup_or_null(src->code);
    dst->name = dup_or_null(src->name);
    dst->description = dup_or_null(src->description);
    dst->term = dup_or_null(src->term);
    dst->status = dup_or_null(src->status);
    dst->lecturer_id = dup_or_null(src->lecturer_id);
    dst->created_at = src->created_at;
    dst->updated_at = src->updated_at;
    dst->version = src->version;
    dst->roster_version = src->roster_version;
    dst->chat_seq = src->chat_seq;
}

void classes_set(char **field, const char *value, size_t len) {
    sms_free(*field);
    *field = sms_strndup(value, len);
}

static const char *nz(const char *s) { return s ? s : ""; }

void classes_pack_snapshot(msgpack_packer *pk, const classes_class_t *c, const char *const *changed,
                           size_t n_changed) {
    msgpack_pack_map(pk, 10 + (changed ? 1 : 0));
    sms_mp_pack_kv_str(pk, "id", nz(c->id));
    sms_mp_pack_kv_str(pk, "code", nz(c->code));
    sms_mp_pack_kv_str(pk, "name", nz(c->name));
    sms_mp_pack_kv_str(pk, "description", nz(c->description));
    sms_mp_pack_kv_str(pk, "term", nz(c->term));
    sms_mp_pack_kv_str(pk, "status", nz(c->status));
    sms_mp_pack_kv_str(pk, "lecturer_id", nz(c->lecturer_id));
    sms_mp_pack_kv_i64(pk, "created_at", c->created_at);
    sms_mp_pack_kv_i64(pk, "updated_at", c->updated_at);
    sms_mp_pack_kv_i64(pk, "version", c->version);
    if (changed) {
        sms_mp_pack_str(pk, "changed");
        msgpack_pack_array(pk, n_changed);
        for (size_t i = 0; i < n_changed; i++) sms_mp_pack_str(pk, changed[i]);
    }
}

int classes_read_snapshot(const msgpack_object *data, classes_class_t *out) {
    static const char *const strs[] = {"id", "code", "name", "description", "term", "status", "lecturer_id"};
    char **fields[] = {&out->id, &out->code, &out->name, &out->description, &out->term, &out->status,
                       &out->lecturer_id};
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        *fields[i] = sms_mp_strdup(sms_mp_map_get(data, strs[i]));
        if (*fields[i] == NULL) goto error;
    }
    if (!sms_mp_i64(sms_mp_map_get(data, "created_at"), &out->created_at) ||
        !sms_mp_i64(sms_mp_map_get(data, "updated_at"), &out->updated_at) ||
        !sms_mp_i64(sms_mp_map_get(data, "version"), &out->version))
        goto error;
    return 0;
error:
    classes_class_clear(out);
    return -1;
}

void classes_pack_public(msgpack_packer *pk, const classes_class_t *c) {
    char created[SMS_RFC3339_LEN], updated[SMS_RFC3339_LEN];
    msgpack_pack_map(pk, 10);
    sms_mp_pack_kv_str(pk, "id", nz(c->id));
    sms_mp_pack_kv_str(pk, "code", nz(c->code));
    sms_mp_pack_kv_str(pk, "name", nz(c->name));
    sms_mp_pack_kv_str(pk, "description", nz(c->description));
    sms_mp_pack_kv_str(pk, "term", nz(c->term));
    sms_mp_pack_kv_str(pk, "status", nz(c->status));
    sms_mp_pack_kv_str(pk, "lecturer_id", nz(c->lecturer_id));
    sms_mp_pack_kv_str(pk, "created_at", sms_rfc3339(c->created_at, created));
    sms_mp_pack_kv_str(pk, "updated_at", sms_rfc3339(c->updated_at, updated));
    sms_mp_pack_kv_i64(pk, "version", c->version);
}

void classes_render_json(const classes_class_t *c, sms_buf_t *out) {
    /* One definition of the public shape: pack it, then render that as JSON. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    classes_pack_public(&pk, c);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) sms_msgpack_to_json(&u.data, out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- roster events ---- */

static void pack_kv_strn(msgpack_packer *pk, const char *key, const char *s, size_t n) {
    sms_mp_pack_str(pk, key);
    sms_mp_pack_strn(pk, s, n);
}

void classes_pack_students_enrolled(msgpack_packer *pk, const classes_class_t *c, int64_t roster_version,
                                    const classes_student_t *const *students, size_t n, int64_t enrolled_at,
                                    size_t already_enrolled) {
    msgpack_pack_map(pk, 5);
    sms_mp_pack_kv_str(pk, "class_id", nz(c->id));
    sms_mp_pack_kv_str(pk, "lecturer_id", nz(c->lecturer_id));
    sms_mp_pack_kv_i64(pk, "roster_version", roster_version);
    sms_mp_pack_str(pk, "students");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 4);
        pack_kv_strn(pk, "student_id", students[i]->student_id.ptr, students[i]->student_id.len);
        pack_kv_strn(pk, "name", students[i]->name.ptr, students[i]->name.len);
        pack_kv_strn(pk, "email", students[i]->email.ptr, students[i]->email.len);
        sms_mp_pack_kv_i64(pk, "enrolled_at", enrolled_at);
    }
    sms_mp_pack_kv_i64(pk, "already_enrolled", (int64_t)already_enrolled);
}

void classes_pack_student_unenrolled(msgpack_packer *pk, const classes_class_t *c, int64_t roster_version,
                                     sms_str_t student_id) {
    msgpack_pack_map(pk, 4);
    sms_mp_pack_kv_str(pk, "class_id", nz(c->id));
    sms_mp_pack_kv_str(pk, "lecturer_id", nz(c->lecturer_id));
    sms_mp_pack_kv_i64(pk, "roster_version", roster_version);
    pack_kv_strn(pk, "student_id", student_id.ptr, student_id.len);
}

int classes_read_student(const msgpack_object *item, classes_student_t *out) {
    memset(out, 0, sizeof *out);
    const char *s;
    size_t n;
    if (!sms_mp_str(sms_mp_map_get(item, "student_id"), &s, &n)) return -1;
    out->student_id = (sms_str_t){s, n};
    if (!sms_mp_str(sms_mp_map_get(item, "name"), &s, &n)) return -1;
    out->name = (sms_str_t){s, n};
    if (!sms_mp_str(sms_mp_map_get(item, "email"), &s, &n)) return -1;
    out->email = (sms_str_t){s, n};
    return sms_mp_i64(sms_mp_map_get(item, "enrolled_at"), &out->enrolled_at) ? 0 : -1;
}

void classes_render_student_json(const classes_student_t *s, sms_buf_t *out) {
    char at[SMS_RFC3339_LEN];
    sms_buf_puts(out, "{\"student_id\":");
    sms_buf_json_str(out, s->student_id.ptr, s->student_id.len);
    sms_buf_puts(out, ",\"name\":");
    sms_buf_json_str(out, s->name.ptr, s->name.len);
    sms_buf_puts(out, ",\"email\":");
    sms_buf_json_str(out, s->email.ptr, s->email.len);
    sms_buf_puts(out, ",\"enrolled_at\":\"");
    sms_buf_puts(out, sms_rfc3339(s->enrolled_at, at));
    sms_buf_puts(out, "\"}");
}

/* ---- posts ---- */

/* The fields post.created and post.updated share; the map header is the caller's. */
static void pack_post_fields(msgpack_packer *pk, const classes_post_t *p) {
    pack_kv_strn(pk, "id", p->id.ptr, p->id.len);
    pack_kv_strn(pk, "class_id", p->class_id.ptr, p->class_id.len);
    pack_kv_strn(pk, "lecturer_id", p->lecturer_id.ptr, p->lecturer_id.len);
    pack_kv_strn(pk, "author_id", p->author_id.ptr, p->author_id.len);
    pack_kv_strn(pk, "title", p->title.ptr, p->title.len);
    pack_kv_strn(pk, "body", p->body.ptr, p->body.len);
    sms_mp_pack_str(pk, "pinned");
    if (p->pinned) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    sms_mp_pack_kv_i64(pk, "created_at", p->created_at);
}

void classes_pack_post(msgpack_packer *pk, const classes_post_t *p) {
    msgpack_pack_map(pk, 8);
    pack_post_fields(pk, p);
}

void classes_pack_post_updated(msgpack_packer *pk, const classes_post_t *p) {
    msgpack_pack_map(pk, 10);
    pack_post_fields(pk, p);
    sms_mp_pack_kv_i64(pk, "updated_at", p->updated_at);
    sms_mp_pack_kv_i64(pk, "version", p->version);
}

int classes_read_post_updated(const msgpack_object *data, classes_post_t *out) {
    if (classes_read_post(data, out) != 0) return -1;
    if (!sms_mp_i64(sms_mp_map_get(data, "updated_at"), &out->updated_at)) return -1;
    return sms_mp_i64(sms_mp_map_get(data, "version"), &out->version) ? 0 : -1;
}

int classes_read_post(const msgpack_object *data, classes_post_t *out) {
    static const char *const strs[] = {"id", "class_id", "lecturer_id", "author_id", "title", "body"};
    sms_str_t *fields[] = {&out->id, &out->class_id, &out->lecturer_id, &out->author_id, &out->title, &out->body};
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!sms_mp_str(sms_mp_map_get(data, strs[i]), &fields[i]->ptr, &fields[i]->len)) return -1;
    const msgpack_object *pinned = sms_mp_map_get(data, "pinned");
    if (pinned == NULL || pinned->type != MSGPACK_OBJECT_BOOLEAN) return -1;
    out->pinned = pinned->via.boolean;
    return sms_mp_i64(sms_mp_map_get(data, "created_at"), &out->created_at) ? 0 : -1;
}

void classes_pack_post_public(msgpack_packer *pk, const classes_post_t *p) {
    char at[SMS_RFC3339_LEN];
    bool edited = p->version > 1;
    msgpack_pack_map(pk, edited ? 9 : 7);
    pack_kv_strn(pk, "id", p->id.ptr, p->id.len);
    pack_kv_strn(pk, "class_id", p->class_id.ptr, p->class_id.len);
    pack_kv_strn(pk, "author_id", p->author_id.ptr, p->author_id.len);
    pack_kv_strn(pk, "title", p->title.ptr, p->title.len);
    pack_kv_strn(pk, "body", p->body.ptr, p->body.len);
    sms_mp_pack_str(pk, "pinned");
    if (p->pinned) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    sms_mp_pack_kv_str(pk, "created_at", sms_rfc3339(p->created_at, at));
    if (!edited) return;
    sms_mp_pack_kv_str(pk, "updated_at", sms_rfc3339(p->updated_at, at));
    sms_mp_pack_kv_i64(pk, "version", p->version);
}

void classes_render_post_json(const classes_post_t *p, sms_buf_t *out) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    classes_pack_post_public(&pk, p);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) sms_msgpack_to_json(&u.data, out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- chat ---- */

void classes_pack_chat(msgpack_packer *pk, const classes_chat_t *m) {
    msgpack_pack_map(pk, 7);
    pack_kv_strn(pk, "id", m->id.ptr, m->id.len);
    pack_kv_strn(pk, "class_id", m->class_id.ptr, m->class_id.len);
    sms_mp_pack_kv_i64(pk, "seq", m->seq);
    pack_kv_strn(pk, "author_id", m->author_id.ptr, m->author_id.len);
    pack_kv_strn(pk, "author_role", m->author_role.ptr, m->author_role.len);
    pack_kv_strn(pk, "text", m->text.ptr, m->text.len);
    sms_mp_pack_kv_i64(pk, "created_at", m->created_at);
}

int classes_read_chat(const msgpack_object *data, classes_chat_t *out) {
    static const char *const strs[] = {"id", "class_id", "author_id", "author_role", "text"};
    sms_str_t *fields[] = {&out->id, &out->class_id, &out->author_id, &out->author_role, &out->text};
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!sms_mp_str(sms_mp_map_get(data, strs[i]), &fields[i]->ptr, &fields[i]->len)) return -1;
    if (!sms_mp_i64(sms_mp_map_get(data, "seq"), &out->seq) || out->seq < 1) return -1;
    return sms_mp_i64(sms_mp_map_get(data, "created_at"), &out->created_at) ? 0 : -1;
}

void classes_pack_chat_public(msgpack_packer *pk, const classes_chat_t *m) {
    char at[SMS_RFC3339_LEN], cursor[24];
    snprintf(cursor, sizeof cursor, "%lld", (long long)m->seq);
    msgpack_pack_map(pk, 7);
    pack_kv_strn(pk, "id", m->id.ptr, m->id.len);
    pack_kv_strn(pk, "class_id", m->class_id.ptr, m->class_id.len);
    sms_mp_pack_kv_str(pk, "cursor", cursor);
    pack_kv_strn(pk, "author_id", m->author_id.ptr, m->author_id.len);
    pack_kv_strn(pk, "author_role", m->author_role.ptr, m->author_role.len);
    pack_kv_strn(pk, "text", m->text.ptr, m->text.len);
    sms_mp_pack_kv_str(pk, "created_at", sms_rfc3339(m->created_at, at));
}

void classes_render_chat_json(const classes_chat_t *m, sms_buf_t *out) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    classes_pack_chat_public(&pk, m);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) sms_msgpack_to_json(&u.data, out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}
