/* schema.c - assignment snapshot (events) and public representation (HTTP) codecs. */
#include "schema.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "json_msgpack.h"
#include "msgpack_util.h"

void assignments_assignment_clear(assignments_assignment_t *a) {
    sms_free(a->id);
    sms_free(a->class_id);
    sms_free(a->lecturer_id);
    sms_free(a->title);
    sms_free(a->description);
    sms_free(a->status);
    memset(a, 0, sizeof *a);
}

static char *dup_or_null(const char *s) { return s ? sms_strdup(s) : NULL; }

void assignments_assignment_copy(assignments_assignment_t *dst, const assignments_assignment_t *src) {
    *dst = *src; /* the numbers; the strings are copied below */
    dst->id = dup_or_null(src->id);
    dst->class_id = dup_or_null(src->class_id);
    dst->lecturer_id = dup_or_null(src->lecturer_id);
    dst->title = dup_or_null(src->title);
    dst->description = dup_or_null(src->description);
    dst->status = dup_or_null(src->status);
}

void assignments_set(char **field, const char *value, size_t len) {
    sms_free(*field);
    *field = sms_strndup(value, len);
}

static const char *nz(const char *s) { return s ? s : ""; }

void assignments_pack_score(msgpack_packer *pk, double score) {
    /* Whole scores are ints on the wire (2^53: every whole double below is exact). */
    if (score == floor(score) && fabs(score) < 9007199254740992.0) msgpack_pack_int64(pk, (int64_t)score);
    else msgpack_pack_double(pk, score);
}

/* The snapshot's 11 fields, in a map of 11 + n_extra (the caller packs the extra pairs). */
static void pack_snapshot_fields(msgpack_packer *pk, const assignments_assignment_t *a, uint32_t n_extra) {
    msgpack_pack_map(pk, 11 + n_extra);
    sms_mp_pack_kv_str(pk, "id", nz(a->id));
    sms_mp_pack_kv_str(pk, "class_id", nz(a->class_id));
    sms_mp_pack_kv_str(pk, "lecturer_id", nz(a->lecturer_id));
    sms_mp_pack_kv_str(pk, "title", nz(a->title));
    sms_mp_pack_kv_str(pk, "description", nz(a->description));
    sms_mp_pack_kv_i64(pk, "due_at", a->due_at);
    sms_mp_pack_str(pk, "max_score");
    assignments_pack_score(pk, a->max_score);
    sms_mp_pack_kv_str(pk, "status", nz(a->status));
    sms_mp_pack_kv_i64(pk, "created_at", a->created_at);
    sms_mp_pack_kv_i64(pk, "updated_at", a->updated_at);
    sms_mp_pack_kv_i64(pk, "version", a->version);
}

void assignments_pack_snapshot(msgpack_packer *pk, const assignments_assignment_t *a, const char *const *changed,
                               size_t n_changed) {
    pack_snapshot_fields(pk, a, changed ? 1 : 0);
    if (changed) {
        sms_mp_pack_str(pk, "changed");
        msgpack_pack_array(pk, n_changed);
        for (size_t i = 0; i < n_changed; i++) sms_mp_pack_str(pk, changed[i]);
    }
}

void assignments_pack_due_soon(msgpack_packer *pk, const assignments_assignment_t *a, int64_t window_s) {
    pack_snapshot_fields(pk, a, 1);
    sms_mp_pack_kv_i64(pk, "window_s", window_s);
}

static bool number(const msgpack_object *o, double *out) {
    if (o == NULL) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return true;
    default: return false;
    }
}

int assignments_read_snapshot(const msgpack_object *data, assignments_assignment_t *out) {
    static const char *const strs[] = {"id", "class_id", "lecturer_id", "title", "description", "status"};
    char **fields[] = {&out->id, &out->class_id, &out->lecturer_id, &out->title, &out->description, &out->status};
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        *fields[i] = sms_mp_strdup(sms_mp_map_get(data, strs[i]));
        if (*fields[i] == NULL) goto error;
    }
    if (!sms_mp_i64(sms_mp_map_get(data, "due_at"), &out->due_at) ||
        !number(sms_mp_map_get(data, "max_score"), &out->max_score) ||
        !sms_mp_i64(sms_mp_map_get(data, "created_at"), &out->created_at) ||
        !sms_mp_i64(sms_mp_map_get(data, "updated_at"), &out->updated_at) ||
        !sms_mp_i64(sms_mp_map_get(data, "version"), &out->version))
        goto error;
    return 0;
error:
    assignments_assignment_clear(out);
    return -1;
}

const char *assignments_public_status(const assignments_assignment_t *a, int64_t now_ms) {
    if (strcmp(nz(a->status), "deleted") == 0) return "deleted";
    return a->due_at <= now_ms ? "closed" : "open";
}

/* The fields every representation shares, in order (9 pairs). */
static void pack_common(msgpack_packer *pk, const assignments_assignment_t *a) {
    char due[SMS_RFC3339_LEN], created[SMS_RFC3339_LEN], updated[SMS_RFC3339_LEN];
    sms_mp_pack_kv_str(pk, "id", nz(a->id));
    sms_mp_pack_kv_str(pk, "class_id", nz(a->class_id));
    sms_mp_pack_kv_str(pk, "title", nz(a->title));
    sms_mp_pack_kv_str(pk, "description", nz(a->description));
    sms_mp_pack_kv_str(pk, "due_at", sms_rfc3339(a->due_at, due));
    sms_mp_pack_str(pk, "max_score");
    assignments_pack_score(pk, a->max_score);
    sms_mp_pack_kv_str(pk, "created_at", sms_rfc3339(a->created_at, created));
    sms_mp_pack_kv_str(pk, "updated_at", sms_rfc3339(a->updated_at, updated));
    sms_mp_pack_kv_i64(pk, "version", a->version);
}

void assignments_pack_public(msgpack_packer *pk, const assignments_assignment_t *a, int64_t now_ms) {
    msgpack_pack_map(pk, 12);
    pack_common(pk, a);
    sms_mp_pack_kv_str(pk, "status", assignments_public_status(a, now_ms));
    sms_mp_pack_kv_i64(pk, "submission_count", a->submission_count);
    sms_mp_pack_kv_i64(pk, "graded_count", a->graded_count);
}

void assignments_render_doc(const assignments_assignment_t *a, sms_buf_t *out) {
    /* One definition of the shared fields: pack them, render as JSON, drop the '}'. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    pack_common(&pk, a);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t start = out->len;
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) sms_msgpack_to_json(&u.data, out);
    if (out->len > start && out->data[out->len - 1] == '}') out->data[--out->len] = '\0';
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- submissions ---- */

static void pack_kv_strn(msgpack_packer *pk, const char *key, sms_str_t v) {
    sms_mp_pack_str(pk, key);
    sms_mp_pack_strn(pk, v.ptr, v.len);
}

static void pack_uploads(msgpack_packer *pk, const msgpack_object *ids) {
    sms_mp_pack_str(pk, "upload_ids");
    uint32_t n = ids && ids->type == MSGPACK_OBJECT_ARRAY ? ids->via.array.size : 0;
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const char *s = "";
        size_t len = 0;
        (void)sms_mp_str(&ids->via.array.ptr[i], &s, &len); /* validated: strings; else packed as "" */
        sms_mp_pack_strn(pk, s, len);
    }
}

static void pack_bool(msgpack_packer *pk, const char *key, bool v) {
    sms_mp_pack_str(pk, key);
    if (v) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
}

void assignments_pack_submission_data(msgpack_packer *pk, const assignments_submission_t *s) {
    msgpack_pack_map(pk, 8);
    pack_kv_strn(pk, "assignment_id", s->assignment_id);
    pack_kv_strn(pk, "class_id", s->class_id);
    pack_kv_strn(pk, "student_id", s->student_id);
    sms_mp_pack_kv_i64(pk, "version", s->version);
    pack_kv_strn(pk, "text", s->text);
    pack_uploads(pk, s->upload_ids);
    sms_mp_pack_kv_i64(pk, "submitted_at", s->submitted_at);
    pack_bool(pk, "late", s->late);
}

int assignments_read_submission(const msgpack_object *data, assignments_submission_t *out) {
    memset(out, 0, sizeof *out);
    const msgpack_object *late = sms_mp_map_get(data, "late");
    out->upload_ids = sms_mp_map_get(data, "upload_ids");
    if (!sms_mp_str(sms_mp_map_get(data, "assignment_id"), &out->assignment_id.ptr, &out->assignment_id.len) ||
        !sms_mp_str(sms_mp_map_get(data, "class_id"), &out->class_id.ptr, &out->class_id.len) ||
        !sms_mp_str(sms_mp_map_get(data, "student_id"), &out->student_id.ptr, &out->student_id.len) ||
        !sms_mp_str(sms_mp_map_get(data, "text"), &out->text.ptr, &out->text.len) ||
        !sms_mp_i64(sms_mp_map_get(data, "version"), &out->version) ||
        !sms_mp_i64(sms_mp_map_get(data, "submitted_at"), &out->submitted_at) || late == NULL ||
        late->type != MSGPACK_OBJECT_BOOLEAN || out->upload_ids == NULL ||
        out->upload_ids->type != MSGPACK_OBJECT_ARRAY || out->version < 1)
        return -1;
    out->late = late->via.boolean;
    return 0;
}

void assignments_pack_submission_public(msgpack_packer *pk, const assignments_submission_t *s) {
    char at[SMS_RFC3339_LEN];
    msgpack_pack_map(pk, 7);
    pack_kv_strn(pk, "assignment_id", s->assignment_id);
    pack_kv_strn(pk, "student_id", s->student_id);
    sms_mp_pack_kv_i64(pk, "version", s->version);
    pack_kv_strn(pk, "text", s->text);
    pack_uploads(pk, s->upload_ids);
    sms_mp_pack_kv_str(pk, "submitted_at", sms_rfc3339(s->submitted_at, at));
    pack_bool(pk, "late", s->late);
}

/* Renders what pack(pk, s) packs as JSON onto out. */
static void render_json(void (*pack)(msgpack_packer *, const assignments_submission_t *),
                        const assignments_submission_t *s, sms_buf_t *out) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack(&pk, s);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) sms_msgpack_to_json(&u.data, out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_item(msgpack_packer *pk, const assignments_submission_t *s) {
    char at[SMS_RFC3339_LEN];
    msgpack_pack_map(pk, 6);
    pack_kv_strn(pk, "student_id", s->student_id);
    sms_mp_pack_kv_i64(pk, "version", s->version);
    sms_mp_pack_kv_str(pk, "submitted_at", sms_rfc3339(s->submitted_at, at));
    pack_bool(pk, "late", s->late);
    pack_kv_strn(pk, "text", s->text);
    pack_uploads(pk, s->upload_ids);
}

static void pack_mine(msgpack_packer *pk, const assignments_submission_t *s) {
    char at[SMS_RFC3339_LEN];
    msgpack_pack_map(pk, 3);
    sms_mp_pack_kv_i64(pk, "version", s->version);
    sms_mp_pack_kv_str(pk, "submitted_at", sms_rfc3339(s->submitted_at, at));
    pack_bool(pk, "late", s->late);
}

void assignments_render_submission_item(const assignments_submission_t *s, sms_buf_t *out) {
    render_json(pack_item, s, out);
}

void assignments_render_my_submission(const assignments_submission_t *s, sms_buf_t *out) {
    render_json(pack_mine, s, out);
}

/* ---- uploads ---- */

void assignments_pack_upload_data(msgpack_packer *pk, const assignments_upload_t *u) {
    msgpack_pack_map(pk, 7);
    pack_kv_strn(pk, "upload_id", u->upload_id);
    pack_kv_strn(pk, "student_id", u->student_id);
    pack_kv_strn(pk, "filename", u->filename);
    pack_kv_strn(pk, "content_type", u->content_type);
    sms_mp_pack_kv_i64(pk, "size", u->size);
    pack_kv_strn(pk, "sha256", u->sha256);
    sms_mp_pack_kv_i64(pk, "stored_at", u->stored_at);
}

static bool sha256_hex(sms_str_t s) {
    if (s.len != 64) return false;
    for (size_t i = 0; i < s.len; i++)
        if (!((s.ptr[i] >= '0' && s.ptr[i] <= '9') || (s.ptr[i] >= 'a' && s.ptr[i] <= 'f'))) return false;
    return true;
}

/* The fields of upload data, where each goes in assignments_upload_t. */
static const struct {
    const char *name;
    bool is_int;      /* int64_t, else sms_str_t */
    bool required;
    size_t offset;
} upload_fields[] = {
    {"upload_id", false, true, offsetof(assignments_upload_t, upload_id)},
    {"student_id", false, false, offsetof(assignments_upload_t, student_id)},
    {"filename", false, true, offsetof(assignments_upload_t, filename)},
    {"content_type", false, true, offsetof(assignments_upload_t, content_type)},
    {"sha256", false, true, offsetof(assignments_upload_t, sha256)},
    {"size", true, true, offsetof(assignments_upload_t, size)},
    {"stored_at", true, true, offsetof(assignments_upload_t, stored_at)},
};
#define N_UPLOAD_FIELDS (sizeof upload_fields / sizeof upload_fields[0])

/* One pass over data: each known field's first occurrence, typed. -1 if one
 * has the wrong type or a required one is missing. */
static int decode_upload(const msgpack_object *data, assignments_upload_t *out) {
    if (data == NULL || data->type != MSGPACK_OBJECT_MAP) return -1;
    bool seen[N_UPLOAD_FIELDS] = {false};
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        size_t f = 0;
        while (f < N_UPLOAD_FIELDS && !sms_mp_str_eq(&kv->key, upload_fields[f].name)) f++;
        if (f == N_UPLOAD_FIELDS || seen[f]) continue;
        seen[f] = true;
        char *field = (char *)out + upload_fields[f].offset;
        bool ok = upload_fields[f].is_int ? sms_mp_i64(&kv->val, (int64_t *)(void *)field)
                                          : sms_mp_str(&kv->val, &((sms_str_t *)(void *)field)->ptr,
                                                       &((sms_str_t *)(void *)field)->len);
        if (!ok) return -1;
    }
    for (size_t f = 0; f < N_UPLOAD_FIELDS; f++)
        if (upload_fields[f].required && !seen[f]) return -1;
    return 0;
}

int assignments_read_upload(const msgpack_object *data, sms_str_t student, assignments_upload_t *out) {
    memset(out, 0, sizeof *out);
    out->student_id = student; /* unless the data names the student */
    if (decode_upload(data, out) != 0) return -1;
    if (out->upload_id.len != ASSIGNMENTS_UPLOAD_ID_LEN || out->student_id.len == 0 || out->student_id.len > 127 ||
        out->filename.len == 0 || out->filename.len > ASSIGNMENTS_FILENAME_MAX || out->content_type.len == 0 ||
        out->content_type.len > ASSIGNMENTS_CONTENT_TYPE_MAX || out->size < 1 || out->stored_at < 0 ||
        !sha256_hex(out->sha256))
        return -1;
    return 0;
}

void assignments_pack_upload_public(msgpack_packer *pk, const assignments_upload_t *u) {
    msgpack_pack_map(pk, 5);
    pack_kv_strn(pk, "upload_id", u->upload_id);
    pack_kv_strn(pk, "filename", u->filename);
    pack_kv_strn(pk, "content_type", u->content_type);
    sms_mp_pack_kv_i64(pk, "size", u->size);
    pack_kv_strn(pk, "sha256", u->sha256);
}

void assignments_render_upload_doc(const assignments_upload_t *u, sms_buf_t *out) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assignments_pack_upload_public(&pk, u);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    if (msgpack_unpack_next(&unpacked, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS)
        sms_msgpack_to_json(&unpacked.data, out);
    msgpack_unpacked_destroy(&unpacked);
    msgpack_sbuffer_destroy(&sb);
}
