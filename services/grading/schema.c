/* schema.c - scores, grade records and grading event data (see schema.h). */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "msgpack_util.h"

void grading_grade_clear(grading_grade_t *g) {
    sms_free(g->feedback);
    g->feedback = NULL;
}

int64_t grading_hundredths(double points) { return (int64_t)llround(points * 100.0); }

void grading_pack_score(msgpack_packer *pk, int64_t h) {
    if (h % 100 == 0) msgpack_pack_int64(pk, h / 100);
    else msgpack_pack_double(pk, (double)h / 100.0);
}

void grading_score_json(sms_buf_t *b, int64_t h) {
    if (h < 0) {
        sms_buf_putc(b, '-');
        h = -h;
    }
    sms_buf_printf(b, "%lld", (long long)(h / 100));
    int64_t f = h % 100;
    if (f == 0) return;
    if (f % 10 == 0) sms_buf_printf(b, ".%lld", (long long)(f / 10));
    else sms_buf_printf(b, ".%02lld", (long long)f);
}

/* Reads a decimal integer field ending at '|'; advances *p. */
static bool field_i64(const char **p, const char *end, int64_t *out) {
    const char *s = *p;
    int64_t v = 0;
    if (s == end || *s < '0' || *s > '9') return false;
    for (; s < end && *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
    if (s == end || *s != '|') return false;
    *out = v;
    *p = s + 1;
    return true;
}

static bool skip_field(const char **p, const char *end) {
    const char *bar = memchr(*p, '|', (size_t)(end - *p));
    if (bar == NULL) return false;
    *p = bar + 1;
    return true;
}

int grading_record_parse(const char *s, size_t n, grading_grade_t *out) {
    const char *p = s, *end = s + n;
    int64_t released;
    memset(out, 0, sizeof *out);
    if (!field_i64(&p, end, &out->version) || !field_i64(&p, end, &out->score) || !field_i64(&p, end, &released) ||
        !skip_field(&p, end) || !skip_field(&p, end))
        return -1;
    out->released = released == 1;
    out->feedback = sms_strndup(p, (size_t)(end - p));
    return 0;
}

static void pack_kv_strn(msgpack_packer *pk, const char *key, sms_str_t v) {
    sms_mp_pack_str(pk, key);
    sms_mp_pack_strn(pk, v.ptr, v.len);
}

static void pack_changed_fields(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                                const grading_change_t *c, sms_str_t changed_by, int64_t changed_at);

void grading_pack_changed(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                          const grading_change_t *c, sms_str_t changed_by, int64_t changed_at) {
    msgpack_pack_map(pk, 11);
    pack_changed_fields(pk, assignment_id, class_id, c, changed_by, changed_at);
}

void grading_pack_corrected(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                            const grading_change_t *c, sms_str_t changed_by, int64_t changed_at, sms_str_t reason,
                            sms_str_t repairs) {
    msgpack_pack_map(pk, 13);
    pack_changed_fields(pk, assignment_id, class_id, c, changed_by, changed_at);
    pack_kv_strn(pk, "reason", reason);
    sms_mp_pack_str(pk, "repairs");
    if (repairs.len) sms_mp_pack_strn(pk, repairs.ptr, repairs.len);
    else msgpack_pack_nil(pk);
}

/* The 11 entries grade.changed and grade.corrected share, in this order. */
static void pack_changed_fields(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                                const grading_change_t *c, sms_str_t changed_by, int64_t changed_at) {
    sms_mp_pack_kv_str(pk, "assignment_id", assignment_id);
    sms_mp_pack_kv_str(pk, "class_id", class_id);
    pack_kv_strn(pk, "student_id", c->student_id);
    sms_mp_pack_str(pk, "previous_score");
    if (c->had_previous) grading_pack_score(pk, c->previous_score);
    else msgpack_pack_nil(pk);
    sms_mp_pack_str(pk, "score");
    grading_pack_score(pk, c->score);
    sms_mp_pack_str(pk, "previous_feedback");
    if (c->had_previous) sms_mp_pack_str(pk, c->previous_feedback ? c->previous_feedback : "");
    else msgpack_pack_nil(pk);
    pack_kv_strn(pk, "feedback", c->feedback);
    sms_mp_pack_str(pk, "released");
    if (c->released) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    pack_kv_strn(pk, "changed_by", changed_by);
    sms_mp_pack_kv_i64(pk, "changed_at", changed_at);
    sms_mp_pack_kv_i64(pk, "grade_version", c->grade_version);
}

void grading_pack_released(msgpack_packer *pk, const char *assignment_id, const char *class_id,
                           const grading_change_t *c) {
    msgpack_pack_map(pk, 6);
    sms_mp_pack_kv_str(pk, "assignment_id", assignment_id);
    sms_mp_pack_kv_str(pk, "class_id", class_id);
    pack_kv_strn(pk, "student_id", c->student_id);
    sms_mp_pack_str(pk, "score");
    grading_pack_score(pk, c->score);
    pack_kv_strn(pk, "feedback", c->feedback);
    sms_mp_pack_kv_i64(pk, "grade_version", c->grade_version);
}
