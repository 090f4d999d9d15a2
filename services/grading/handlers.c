/* handlers.c - validate and decide grading commands (see handlers.h). */
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "msgpack_util.h"
#include "number.h"
#include "text.h"

static void row_error(grading_outcome_t *out, const char *fmt_field, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A field error named by a row: fmt_field is a printf format taking the row
 * index ("grades[%zu].score"). */
static void row_error(grading_outcome_t *out, const char *fmt_field, size_t index, const char *fmt, ...) {
    char field[SMS_VERDICT_FIELD_MAX + 8], message[160];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int flen = snprintf(field, sizeof field, fmt_field, index);
#pragma GCC diagnostic pop
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    size_t n = flen < 0 ? 0 : (size_t)flen < sizeof field ? (size_t)flen : sizeof field - 1;
    sms_verdict_error(&out->verdict, field, n, "%s", message);
}

bool grading_valid_student_id(const char *s, size_t n) {
    if (n < 1 || n > GRADING_STUDENT_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* Code points of valid UTF-8 text (newlines and tabs allowed, other control
 * characters not); (size_t)-1 otherwise. */
static bool str_is(sms_str_t s, const char *lit) { return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0; }

/* The caller's assignment, not deleted; or fails 404/409. */
static grading_assignment_t *owned_assignment(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out) {
    grading_assignment_t *a = grading_state_assignment(st, cmd->key);
    if (a == NULL || !str_is(cmd->actor, a->lecturer_id)) {
        out->verdict.stale = a == NULL; /* an assignment created a moment ago may not have reached us yet */
        sms_verdict_fail(&out->verdict, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    if (a->deleted) {
        sms_verdict_fail(&out->verdict, 409, "assignment_deleted", "assignment %s is deleted: its grades cannot be changed", a->id);
        return NULL;
    }
    out->assignment = a;
    return a;
}

/* The top-level shape: {"grades": [1..1000 rows], "release"?: bool}. */
static void validate_shape(const msgpack_object *data, const msgpack_object **rows, size_t *n, bool *release,
                           grading_outcome_t *out) {
    *rows = NULL;
    *n = 0;
    *release = false;
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const msgpack_object *key = &data->via.map.ptr[k].key;
        if (!sms_mp_str_eq(key, "grades") && !sms_mp_str_eq(key, "release")) {
            const char *s = "?";
            size_t len = 1;
            sms_mp_str(key, &s, &len);
            char f[72];
            snprintf(f, sizeof f, "%.*s", (int)(len > 60 ? 60 : len), s);
            for (char *p = f; *p; p++)
                if (*p == '%') *p = '_'; /* f becomes a format below */
            row_error(out, f, 0, "unknown field");
        }
    }
    const msgpack_object *rel = sms_mp_map_get(data, "release");
    if (rel && rel->type != MSGPACK_OBJECT_BOOLEAN && rel->type != MSGPACK_OBJECT_NIL)
        row_error(out, "release", 0, "must be true or false");
    else if (rel && rel->type == MSGPACK_OBJECT_BOOLEAN)
        *release = rel->via.boolean;
    const msgpack_object *list = sms_mp_map_get(data, "grades");
    if (list == NULL) row_error(out, "grades", 0, "is required");
    else if (list->type != MSGPACK_OBJECT_ARRAY) row_error(out, "grades", 0, "must be an array of grades");
    else if (list->via.array.size < 1 || list->via.array.size > GRADING_MAX_ITEMS)
        row_error(out, "grades", 0, "must hold 1 to %d grades (got %u)", GRADING_MAX_ITEMS, list->via.array.size);
    else {
        *rows = list->via.array.ptr;
        *n = list->via.array.size;
    }
}

/* One row against the assignment; seen: student id -> 1 + first row index. */
static void validate_row(const grading_state_t *st, const grading_assignment_t *a, const msgpack_object *row,
                         size_t i, sms_strmap_t *seen, grading_outcome_t *out) {
    if (row->type != MSGPACK_OBJECT_MAP) {
        row_error(out, "grades[%zu]", i, "must be an object with student_id, score and feedback");
        return;
    }
    for (uint32_t k = 0; k < row->via.map.size; k++) {
        const msgpack_object *key = &row->via.map.ptr[k].key;
        if (!sms_mp_str_eq(key, "student_id") && !sms_mp_str_eq(key, "score") && !sms_mp_str_eq(key, "feedback"))
            row_error(out, "grades[%zu]", i, "has an unknown field (allowed: student_id, score, feedback)");
    }
    sms_str_t id;
    const msgpack_object *v = sms_mp_map_get(row, "student_id");
    if (v == NULL) {
        row_error(out, "grades[%zu].student_id", i, "is required");
    } else if (!sms_mp_str(v, &id.ptr, &id.len) || !grading_valid_student_id(id.ptr, id.len)) {
        row_error(out, "grades[%zu].student_id", i, "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                  GRADING_STUDENT_ID_MAX);
    } else {
        uintptr_t first = (uintptr_t)sms_strmap_get(seen, id.ptr, id.len);
        if (first) row_error(out, "grades[%zu].student_id", i, "duplicate of grades[%zu]", (size_t)(first - 1));
        else sms_strmap_put(seen, id.ptr, id.len, (void *)(uintptr_t)(i + 1));
        if (!first && !grading_state_enrolled(st, a->class_id, id)) {
            out->verdict.stale = true; /* an enrollment a moment ago may not have reached us yet */
            row_error(out, "grades[%zu].student_id", i, "is not enrolled in class %s", a->class_id);
        }
    }
    int64_t score;
    v = sms_mp_map_get(row, "score");
    if (v == NULL) {
        row_error(out, "grades[%zu].score", i, "is required");
    } else if (sms_number_hundredths(v, 0, a->max_score, &score) != SMS_NUMBER_OK) {
        /* Checked before any arithmetic: 1e17 or 1e308 must not wrap into range. */
        char m[SMS_NUMBER_MESSAGE_MAX];
        row_error(out, "grades[%zu].score", i, "%s (the assignment's max_score)",
                  sms_number_hundredths_message(m, sizeof m, 0, a->max_score));
    }
    v = sms_mp_map_get(row, "feedback");
    const char *fb;
    size_t fbn;
    if (v && v->type != MSGPACK_OBJECT_NIL) {
        size_t chars;
        if (!sms_mp_str(v, &fb, &fbn)) row_error(out, "grades[%zu].feedback", i, "must be a string");
        else if ((chars = sms_text_chars(fb, fbn)) == (size_t)-1)
            row_error(out, "grades[%zu].feedback", i, "must be valid UTF-8 text without control characters");
        else if (chars > GRADING_FEEDBACK_MAX)
            row_error(out, "grades[%zu].feedback", i, "must be at most %d characters (got %zu)", GRADING_FEEDBACK_MAX,
                      chars);
    }
}

static grading_change_t *add_change(grading_outcome_t *out, size_t cap) {
    if (out->changes == NULL) out->changes = sms_calloc(cap ? cap : 1, sizeof *out->changes);
    return &out->changes[out->n_changes++];
}

static void decide_update(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out) {
    out->kind = GRADING_UPDATE;
    const msgpack_object *rows;
    size_t n;
    bool release;
    validate_shape(cmd->data, &rows, &n, &release, out);
    if (out->verdict.n_errors_total) {
        sms_verdict_fail(&out->verdict, 422, "validation", "the request is invalid; nothing was changed");
        return;
    }
    const grading_assignment_t *a = owned_assignment(st, cmd, out);
    if (a == NULL) return;
    sms_strmap_t seen;
    sms_strmap_init(&seen);
    for (size_t i = 0; i < n; i++) validate_row(st, a, &rows[i], i, &seen, out);
    sms_strmap_close(&seen);
    if (out->verdict.n_errors_total) {
        size_t more = out->verdict.n_errors_total - out->verdict.n_errors;
        char tail[64] = "";
        if (more) snprintf(tail, sizeof tail, " (%zu listed, and %zu more)", out->verdict.n_errors, more);
        sms_verdict_fail(&out->verdict, 422, "validation", "%zu problem%s in the grades; nothing was changed%s", out->verdict.n_errors_total,
             out->verdict.n_errors_total == 1 ? "" : "s", tail);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sms_str_t id, fb = {"", 0};
        int64_t h = 0;
        sms_mp_str(sms_mp_map_get(&rows[i], "student_id"), &id.ptr, &id.len);
        /* validate_row accepted this score against the same bounds, so it reads the same here. */
        (void)sms_number_hundredths(sms_mp_map_get(&rows[i], "score"), 0, a->max_score, &h);
        sms_mp_str(sms_mp_map_get(&rows[i], "feedback"), &fb.ptr, &fb.len); /* absent or null: "" */
        const grading_grade_t *cur = grading_state_grade(a, id);
        /* A released grade stays released: a later correction is visible at once. */
        bool released = release || (cur && cur->released);
        if (cur && cur->score == h && cur->released == released && strlen(cur->feedback) == fb.len &&
            memcmp(cur->feedback, fb.ptr, fb.len) == 0) {
            out->unchanged++;
            continue;
        }
        grading_change_t *c = add_change(out, n);
        c->student_id = id;
        c->had_previous = cur != NULL;
        c->previous_score = cur ? cur->score : 0;
        c->previous_feedback = cur ? cur->feedback : NULL;
        c->score = h;
        c->feedback = fb;
        c->released = released;
        c->grade_version = (cur ? cur->version : 0) + 1;
    }
    out->verdict.status = 200;
}

static int cmp_change(const void *x, const void *y) {
    const grading_change_t *a = x, *b = y;
    size_t n = a->student_id.len < b->student_id.len ? a->student_id.len : b->student_id.len;
    int c = memcmp(a->student_id.ptr, b->student_id.ptr, n);
    return c ? c : (a->student_id.len > b->student_id.len) - (a->student_id.len < b->student_id.len);
}

static void decide_release(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out) {
    out->kind = GRADING_RELEASE;
    const grading_assignment_t *a = owned_assignment(st, cmd, out);
    if (a == NULL) return;
    for (size_t i = 0; i < a->grades.cap; i++) {
        const sms_strmap_entry_t *e = &a->grades.slots[i];
        const grading_grade_t *g = e->value;
        if (e->key == NULL || g == NULL || g->released) continue;
        grading_change_t *c = add_change(out, a->grades.count);
        c->student_id = (sms_str_t){e->key, e->klen};
        c->had_previous = true;
        c->previous_score = c->score = g->score;
        c->previous_feedback = g->feedback;
        c->feedback = SMS_STR(g->feedback);
        c->released = true;
        c->grade_version = g->version + 1;
    }
    /* Events in student order, whatever the hash order. */
    if (out->n_changes > 1) qsort(out->changes, out->n_changes, sizeof *out->changes, cmp_change);
    out->verdict.status = 200;
}

/* "<topic>:<partition>:<offset>", as common/quarantine.h writes positions. */
static bool valid_position(sms_str_t s) {
    if (s.len < 5 || s.len > 190) return false;
    const char *end = s.ptr + s.len, *c2 = NULL, *c1 = NULL;
    for (const char *p = end - 1; p > s.ptr && (!c2 || !c1); p--)
        if (*p == ':') {
            if (!c2) c2 = p;
            else c1 = p;
        }
    if (!c1 || c1 == s.ptr || c2 - c1 < 2 || end - c2 < 2 || c2 - c1 > 11 || end - c2 > 20) return false;
    for (const char *p = c1 + 1; p < end; p++)
        if (p != c2 && (*p < '0' || *p > '9')) return false;
    return true;
}

/* grades.correct: {student_id, score, feedback?, released?, reason, repairs?}
 * on any existing assignment; one grade.corrected event even when nothing
 * else changes (it records the repair). */
static void decide_correct(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out) {
    out->kind = GRADING_CORRECT;
    const msgpack_object *d = cmd->data;
    grading_assignment_t *a = grading_state_assignment(st, cmd->key);
    if (a == NULL) {
        out->verdict.stale = true;
        sms_verdict_fail(&out->verdict, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return;
    }
    sms_str_t sid = {"", 0}, fb = {"", 0}, reason = {"", 0}, repairs = {"", 0};
    int64_t score = 0; /* hundredths */
    const msgpack_object *v = sms_mp_map_get(d, "student_id");
    if (!v || !sms_mp_str(v, &sid.ptr, &sid.len) || !grading_valid_student_id(sid.ptr, sid.len))
        row_error(out, "student_id", 0, "is required: 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                  GRADING_STUDENT_ID_MAX);
    v = sms_mp_map_get(d, "score");
    char m[SMS_NUMBER_MESSAGE_MAX];
    if (v == NULL) row_error(out, "score", 0, "is required");
    else if (sms_number_hundredths(v, 0, a->max_score, &score) != SMS_NUMBER_OK)
        row_error(out, "score", 0, "%s (the assignment's max_score)",
                  sms_number_hundredths_message(m, sizeof m, 0, a->max_score));
    v = sms_mp_map_get(d, "feedback");
    size_t chars;
    if (v && v->type != MSGPACK_OBJECT_NIL &&
        (!sms_mp_str(v, &fb.ptr, &fb.len) || (chars = sms_text_chars(fb.ptr, fb.len)) == (size_t)-1 ||
         chars > GRADING_FEEDBACK_MAX))
        row_error(out, "feedback", 0, "must be text of at most %d characters", GRADING_FEEDBACK_MAX);
    v = sms_mp_map_get(d, "reason");
    if (!v || !sms_mp_str(v, &reason.ptr, &reason.len) || reason.len == 0 ||
        (chars = sms_text_chars(reason.ptr, reason.len)) == (size_t)-1 || chars > GRADING_REASON_MAX)
        row_error(out, "reason", 0, "is required: 1 to %d characters saying why", GRADING_REASON_MAX);
    v = sms_mp_map_get(d, "repairs");
    if (v && v->type != MSGPACK_OBJECT_NIL && (!sms_mp_str(v, &repairs.ptr, &repairs.len) || !valid_position(repairs)))
        row_error(out, "repairs", 0, "must be a quarantined event's position <topic>:<partition>:<offset>");
    const msgpack_object *rel = sms_mp_map_get(d, "released");
    if (rel && rel->type != MSGPACK_OBJECT_BOOLEAN && rel->type != MSGPACK_OBJECT_NIL)
        row_error(out, "released", 0, "must be true or false");
    if (out->verdict.n_errors_total) {
        sms_verdict_fail(&out->verdict, 422, "validation", "the correction is invalid; nothing was changed");
        return;
    }
    const grading_grade_t *cur = grading_state_grade(a, sid);
    grading_change_t *c = add_change(out, 1);
    c->student_id = sid;
    c->had_previous = cur != NULL;
    c->previous_score = cur ? cur->score : 0;
    c->previous_feedback = cur ? cur->feedback : NULL;
    c->score = score;
    c->feedback = fb;
    c->released = rel && rel->type == MSGPACK_OBJECT_BOOLEAN ? rel->via.boolean : cur && cur->released;
    c->grade_version = (cur ? cur->version : 0) + 1;
    out->reason = reason;
    out->repairs = repairs;
    out->assignment = a;
    out->verdict.status = 200;
}

void grading_decide(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out) {
    memset(out, 0, sizeof *out);
    out->verdict.limit = GRADING_MAX_ERRORS;
    if (str_is(cmd->type, "grades.correct")) {
        if (!str_is(cmd->role, "admin")) sms_verdict_fail(&out->verdict, 403, "forbidden", "only admins correct grades");
        else if (cmd->v != 1)
            sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported",
                             (long long)cmd->v);
        else decide_correct(st, cmd, out);
        return;
    }
    if (!str_is(cmd->role, "lecturer")) {
        sms_verdict_fail(&out->verdict, 403, "forbidden", "only lecturers grade");
        return;
    }
    if (cmd->v != 1) {
        sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return;
    }
    if (str_is(cmd->type, "grades.update")) decide_update(st, cmd, out);
    else if (str_is(cmd->type, "grades.release")) decide_release(st, cmd, out);
    else sms_verdict_fail(&out->verdict, 400, "unknown_command", "unknown command type %.*s", (int)cmd->type.len, cmd->type.ptr);
}

void grading_outcome_clear(grading_outcome_t *out) {
    sms_free(out->changes);
    out->changes = NULL;
    out->n_changes = 0;
}
