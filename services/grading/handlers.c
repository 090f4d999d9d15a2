/* handlers.c - validate, decide and answer again grading's commands (see
 * handlers.h); commands.c's rows name these functions. */
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "msgpack_util.h"
#include "number.h"
#include "text.h"

/* ---- shared ---- */

static bool str_eq(sms_str_t s, const char *lit) { return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0; }

/* The index of key (a str) in names[0..n), or -1: how the decoders dispatch
 * on a map's keys in one pass. */
static int key_index(const msgpack_object *key, const char *const *names, int n) {
    if (key->type != MSGPACK_OBJECT_STR) return -1;
    for (int i = 0; i < n; i++)
        if (key->via.str.size == strlen(names[i]) && memcmp(key->via.str.ptr, names[i], key->via.str.size) == 0)
            return i;
    return -1;
}

/* Each of names' first value in map (NULL when absent), in one pass; calls
 * on_unknown(ctx, key) for every other key, in order, when given. */
static void map_fields(const msgpack_object *map, const char *const *names, int n, const msgpack_object **vals,
                       void (*on_unknown)(void *ctx, const msgpack_object *key), void *ctx) {
    for (int i = 0; i < n; i++) vals[i] = NULL;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        int i = key_index(&kv->key, names, n);
        if (i < 0) {
            if (on_unknown) on_unknown(ctx, &kv->key);
        } else if (vals[i] == NULL) {
            vals[i] = &kv->val;
        }
    }
}

/* A text field: absent/null, not a string, not text, too long, or text of
 * *chars code points (*out: the string, "" unless one). */
static grading_text_t text_check(const msgpack_object *v, size_t max, sms_str_t *out, size_t *chars) {
    *out = (sms_str_t){"", 0};
    *chars = 0;
    if (v == NULL || v->type == MSGPACK_OBJECT_NIL) return GRADING_TEXT_NONE;
    if (!sms_mp_str(v, &out->ptr, &out->len)) return GRADING_TEXT_NOT_STRING;
    if ((*chars = sms_text_chars(out->ptr, out->len)) == (size_t)-1) return GRADING_TEXT_INVALID;
    return *chars > max ? GRADING_TEXT_TOO_LONG : GRADING_TEXT_OK;
}

/* Who may send the command (role) and its version. 0, or -1 with d failed. */
static int check_sender(const sms_command_t *cmd, const char *role, const char *forbidden, sms_decision_t *d) {
    if (!str_eq(cmd->role, role)) {
        sms_decision_fail(d, 403, "forbidden", "%s", forbidden);
        return -1;
    }
    if (cmd->v != 1) {
        sms_decision_fail(d, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return -1;
    }
    return 0;
}

void grading_handle_prefetch(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    grading_state_want_assignment(state, cmd->key);
}

/* The assignment, or fails 404 (stale: one created a moment ago may not
 * have reached us yet). */
static grading_assignment_t *known_assignment(grading_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    grading_assignment_t *a = grading_state_assignment(st, cmd->key);
    if (a == NULL)
        sms_decision_stale(d, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
    return a;
}

/* The caller's assignment, not deleted; or fails 404 (another lecturer's
 * looks missing) / 409. */
static grading_assignment_t *owned_assignment(grading_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    grading_assignment_t *a = known_assignment(st, cmd, d);
    if (a == NULL) return NULL;
    if (!str_eq(cmd->actor, a->lecturer_id)) {
        sms_decision_fail(d, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    if (a->deleted) {
        sms_decision_fail(d, 409, "assignment_deleted", "assignment %s is deleted: its grades cannot be changed",
                          a->id);
        return NULL;
    }
    return a;
}

/* A change to student's grade cur (NULL: ungraded) on a new version. */
static void change_init(grading_change_t *c, sms_str_t student, const grading_grade_t *cur, int64_t score,
                        sms_str_t feedback, bool released) {
    c->student_id = student;
    c->had_previous = cur != NULL;
    c->previous_score = cur ? cur->score : 0;
    c->previous_feedback = cur ? cur->feedback : NULL;
    c->score = score;
    c->feedback = feedback;
    c->released = released;
    c->grade_version = (cur ? cur->version : 0) + 1;
}

/* The batch's later commands see the changes. Only once the events are
 * packed: a change borrows the grade it replaces (set_grade copies the
 * feedback before freeing the old grade). */
static void overlay(grading_assignment_t *a, const grading_change_t *changes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const grading_change_t *c = &changes[i];
        grading_state_set_grade(a, c->student_id, c->grade_version, c->score, c->released, c->feedback.ptr,
                                c->feedback.len);
    }
}

static void reply_count(sms_decision_t *d, const char *name, size_t n) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_kv_i64(&pk, name, (int64_t)n);
}

static void reply_updated(sms_decision_t *d, size_t changed, size_t unchanged) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_kv_i64(&pk, "updated", (int64_t)changed);
    sms_mp_pack_kv_i64(&pk, "unchanged", (int64_t)unchanged);
}

/* The grade events a replayed command applied, from its record; or fails 500. */
static int record_changed(const sms_command_record_t *rec, size_t *changed, sms_decision_t *d) {
    uint64_t n;
    if (rec->status != 200 || sms_command_record_u64(rec, 0, &n) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return -1;
    }
    *changed = (size_t)n;
    return 0;
}

/* ---- grades.update ---- */

static const char *const update_fields[] = {"grades", "release"};
static const char *const row_fields[] = {"student_id", "score", "feedback"};

/* A top-level key update-grades does not know: named as the reply has always
 * named it (at most 60 bytes, up to a NUL, '%' shown as '_'; "?" when not a
 * string). */
static void unknown_field(void *ctx, const msgpack_object *key) {
    const char *s = "?";
    size_t len = 1;
    (void)sms_mp_str(key, &s, &len); /* not a string: "?" */
    char f[72];
    snprintf(f, sizeof f, "%.*s", (int)(len > 60 ? 60 : len), s);
    for (char *p = f; *p; p++)
        if (*p == '%') *p = '_';
    sms_decision_error(ctx, f, strlen(f), "unknown field");
}

static void count_unknown(void *ctx, const msgpack_object *key) {
    (void)key;
    ((grading_row_t *)ctx)->n_unknown++;
}

/* Decodes rows[i]; seen: valid student id -> 1 + its first row index. */
static void decode_row(grading_row_t *r, const msgpack_object *row, size_t i, sms_strmap_t *seen) {
    r->feedback = (sms_str_t){"", 0};
    if (row->type != MSGPACK_OBJECT_MAP) return;
    r->is_map = true;
    const msgpack_object *v[3];
    map_fields(row, row_fields, 3, v, count_unknown, r);
    r->has_student_id = v[0] != NULL;
    r->student_id_ok = sms_mp_str(v[0], &r->student_id.ptr, &r->student_id.len) &&
                       sms_id_name_valid(r->student_id.ptr, r->student_id.len, GRADING_STUDENT_ID_MAX);
    if (r->student_id_ok) {
        r->duplicate_of = (uintptr_t)sms_strmap_get(seen, r->student_id.ptr, r->student_id.len);
        if (!r->duplicate_of) sms_strmap_put(seen, r->student_id.ptr, r->student_id.len, (void *)(uintptr_t)(i + 1));
    }
    r->score = v[1];
    r->feedback_check = text_check(v[2], GRADING_FEEDBACK_MAX, &r->feedback, &r->feedback_chars);
}

int grading_handle_update_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    grading_update_args_t *u = args;
    if (check_sender(cmd, "lecturer", "only lecturers grade", d) != 0) return -1;
    d->errors_limit = GRADING_MAX_ERRORS;
    const msgpack_object *v[2];
    map_fields(cmd->data, update_fields, 2, v, unknown_field, d);
    const msgpack_object *list = v[0], *rel = v[1];
    if (rel && rel->type != MSGPACK_OBJECT_BOOLEAN && rel->type != MSGPACK_OBJECT_NIL)
        sms_decision_error(d, "release", 7, "must be true or false");
    else if (rel && rel->type == MSGPACK_OBJECT_BOOLEAN)
        u->release = rel->via.boolean;
    if (list == NULL) sms_decision_error(d, "grades", 6, "is required");
    else if (list->type != MSGPACK_OBJECT_ARRAY) sms_decision_error(d, "grades", 6, "must be an array of grades");
    else if (list->via.array.size < 1 || list->via.array.size > GRADING_MAX_ITEMS)
        sms_decision_error(d, "grades", 6, "must hold 1 to %d grades (got %u)", GRADING_MAX_ITEMS,
                           list->via.array.size);
    if (d->n_errors_total) {
        sms_decision_fail(d, 422, "validation", "the request is invalid; nothing was changed");
        return -1;
    }
    u->n_rows = list->via.array.size;
    u->rows = sms_calloc(u->n_rows, sizeof *u->rows);
    sms_strmap_t seen;
    sms_strmap_init(&seen);
    for (size_t i = 0; i < u->n_rows; i++) decode_row(&u->rows[i], &list->via.array.ptr[i], i, &seen);
    sms_strmap_close(&seen);
    return 0;
}

void grading_handle_update_args_clear(void *args) {
    grading_update_args_t *u = args;
    sms_free(u->rows);
    u->rows = NULL;
    u->n_rows = 0;
}

static void row_error(sms_decision_t *d, size_t i, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A field error of row i: "grades[i]", or "grades[i].<field>". */
static void row_error(sms_decision_t *d, size_t i, const char *field, const char *fmt, ...) {
    char name[64], message[256];
    int n = field ? snprintf(name, sizeof name, "grades[%zu].%s", i, field)
                  : snprintf(name, sizeof name, "grades[%zu]", i);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    sms_decision_error(d, name, n < 0 ? 0 : (size_t)n, "%s", message);
}

/* Row i's errors against assignment a, in the order they have always been listed. */
static void check_row(const grading_state_t *st, const grading_assignment_t *a, const grading_row_t *r, size_t i,
                      sms_decision_t *d) {
    if (!r->is_map) {
        row_error(d, i, NULL, "must be an object with student_id, score and feedback");
        return;
    }
    for (uint32_t k = 0; k < r->n_unknown; k++)
        row_error(d, i, NULL, "has an unknown field (allowed: student_id, score, feedback)");
    if (!r->has_student_id) {
        row_error(d, i, "student_id", "is required");
    } else if (!r->student_id_ok) {
        row_error(d, i, "student_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                  GRADING_STUDENT_ID_MAX);
    } else if (r->duplicate_of) {
        row_error(d, i, "student_id", "duplicate of grades[%zu]", r->duplicate_of - 1);
    } else if (!grading_state_enrolled(st, a->class_id, r->student_id)) {
        d->stale = true; /* an enrollment a moment ago may not have reached us yet */
        row_error(d, i, "student_id", "is not enrolled in class %s", a->class_id);
    }
    int64_t score;
    if (r->score == NULL) {
        row_error(d, i, "score", "is required");
    } else if (sms_number_hundredths(r->score, 0, a->max_score, &score) != SMS_OK) {
        /* Checked before any arithmetic: 1e17 or 1e308 must not wrap into range. */
        char m[SMS_NUMBER_MESSAGE_MAX];
        row_error(d, i, "score", "%s (the assignment's max_score)",
                  sms_number_hundredths_message(m, sizeof m, 0, a->max_score));
    }
    if (r->feedback_check == GRADING_TEXT_NOT_STRING) row_error(d, i, "feedback", "must be a string");
    else if (r->feedback_check == GRADING_TEXT_INVALID)
        row_error(d, i, "feedback", "must be valid UTF-8 text without control characters");
    else if (r->feedback_check == GRADING_TEXT_TOO_LONG)
        row_error(d, i, "feedback", "must be at most %d characters (got %zu)", GRADING_FEEDBACK_MAX, r->feedback_chars);
}

/* The update's changes (rows equal to the current grade are counted in
 * *unchanged); owned by the caller (sms_free). */
static grading_change_t *update_changes(const grading_assignment_t *a, const grading_update_args_t *u, size_t *n,
                                        size_t *unchanged) {
    grading_change_t *changes = sms_calloc(u->n_rows, sizeof *changes);
    *n = *unchanged = 0;
    for (size_t i = 0; i < u->n_rows; i++) {
        const grading_row_t *r = &u->rows[i];
        int64_t h = 0;
        /* check_row accepted this score against the same bounds, so it reads the same here. */
        (void)sms_number_hundredths(r->score, 0, a->max_score, &h);
        const grading_grade_t *cur = grading_state_grade(a, r->student_id);
        /* A released grade stays released: a later correction is visible at once. */
        bool released = u->release || (cur && cur->released);
        if (cur && cur->score == h && cur->released == released && strlen(cur->feedback) == r->feedback.len &&
            memcmp(cur->feedback, r->feedback.ptr, r->feedback.len) == 0) {
            (*unchanged)++;
            continue;
        }
        change_init(&changes[(*n)++], r->student_id, cur, h, r->feedback, released);
    }
    return changes;
}

void grading_handle_update_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                  sms_decision_t *d) {
    grading_state_t *st = state;
    const grading_update_args_t *u = args;
    grading_assignment_t *a = owned_assignment(st, cmd, d);
    if (a == NULL) return;
    d->errors_limit = GRADING_MAX_ERRORS;
    for (size_t i = 0; i < u->n_rows; i++) check_row(st, a, &u->rows[i], i, d);
    if (d->n_errors_total) {
        size_t more = d->n_errors_total - d->n_errors;
        char tail[64] = "";
        if (more) snprintf(tail, sizeof tail, " (%zu listed, and %zu more)", d->n_errors, more);
        sms_decision_fail(d, 422, "validation", "%zu problem%s in the grades; nothing was changed%s",
                          d->n_errors_total, d->n_errors_total == 1 ? "" : "s", tail);
        return;
    }
    size_t n, unchanged;
    grading_change_t *changes = update_changes(a, u, &n, &unchanged);
    reply_updated(d, n, unchanged);
    for (size_t i = 0; i < n; i++) {
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, GRADING_EVENT_CHANGED,
                                                    GRADING_EVENT_VERSION, SMS_STR(a->id));
        grading_pack_changed(&pk, a->id, a->class_id, &changes[i], cmd->actor, now_ms);
    }
    overlay(a, changes, n);
    sms_free(changes);
}

/* unchanged = the request's rows - the grades it changed. */
void grading_handle_update_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                 sms_decision_t *d) {
    (void)rc;
    size_t changed;
    if (record_changed(rec, &changed, d) != 0) return;
    const msgpack_object *v[2];
    map_fields(cmd->data, update_fields, 2, v, NULL, NULL);
    size_t total = v[0] && v[0]->type == MSGPACK_OBJECT_ARRAY ? v[0]->via.array.size : 0;
    reply_updated(d, changed, total > changed ? total - changed : 0);
}

/* ---- grades.release ---- */

int grading_handle_release_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    (void)args; /* the body is not read */
    return check_sender(cmd, "lecturer", "only lecturers grade", d);
}

static int cmp_change(const void *x, const void *y) {
    const grading_change_t *a = x, *b = y;
    size_t n = a->student_id.len < b->student_id.len ? a->student_id.len : b->student_id.len;
    int c = memcmp(a->student_id.ptr, b->student_id.ptr, n);
    return c ? c : (a->student_id.len > b->student_id.len) - (a->student_id.len < b->student_id.len);
}

void grading_handle_release_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d) {
    (void)args;
    grading_assignment_t *a = owned_assignment(state, cmd, d);
    if (a == NULL) return;
    grading_change_t *changes = sms_calloc(a->grades.count ? a->grades.count : 1, sizeof *changes);
    size_t n = 0;
    for (size_t i = 0; i < a->grades.cap; i++) {
        const sms_strmap_entry_t *e = &a->grades.slots[i];
        const grading_grade_t *g = e->value;
        if (e->key == NULL || g == NULL || g->released) continue;
        change_init(&changes[n++], (sms_str_t){e->key, e->klen}, g, g->score, SMS_STR(g->feedback), true);
    }
    /* Events in student order, whatever the hash order. */
    if (n > 1) qsort(changes, n, sizeof *changes, cmp_change);
    reply_count(d, "released", n);
    for (size_t i = 0; i < n; i++) {
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, GRADING_EVENT_RELEASED,
                                                    GRADING_EVENT_VERSION, SMS_STR(a->id));
        grading_pack_released(&pk, a->id, a->class_id, &changes[i]);
    }
    overlay(a, changes, n);
    sms_free(changes);
}

void grading_handle_release_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    size_t changed;
    if (record_changed(rec, &changed, d) == 0) reply_count(d, "released", changed);
}

/* ---- grades.correct ---- */

static const char *const correct_fields[] = {"student_id", "score", "feedback", "reason", "repairs", "released"};

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

int grading_handle_correct_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    grading_correct_args_t *c = args;
    if (check_sender(cmd, "admin", "only admins correct grades", d) != 0) return -1;
    const msgpack_object *v[6];
    map_fields(cmd->data, correct_fields, 6, v, NULL, NULL); /* other keys are ignored */
    c->student_id_ok = sms_mp_str(v[0], &c->student_id.ptr, &c->student_id.len) &&
                       sms_id_name_valid(c->student_id.ptr, c->student_id.len, GRADING_STUDENT_ID_MAX);
    if (!c->student_id_ok) c->student_id = (sms_str_t){"", 0};
    c->score = v[1];
    size_t chars;
    grading_text_t t = text_check(v[2], GRADING_FEEDBACK_MAX, &c->feedback, &chars);
    c->feedback_ok = t == GRADING_TEXT_NONE || t == GRADING_TEXT_OK;
    c->reason_ok = text_check(v[3], GRADING_REASON_MAX, &c->reason, &chars) == GRADING_TEXT_OK && c->reason.len > 0;
    c->repairs = (sms_str_t){"", 0};
    c->repairs_ok = v[4] == NULL || v[4]->type == MSGPACK_OBJECT_NIL ||
                    (sms_mp_str(v[4], &c->repairs.ptr, &c->repairs.len) && valid_position(c->repairs));
    const msgpack_object *rel = v[5];
    c->has_released = rel && rel->type == MSGPACK_OBJECT_BOOLEAN;
    c->released = c->has_released && rel->via.boolean;
    c->released_ok = rel == NULL || c->has_released || rel->type == MSGPACK_OBJECT_NIL;
    return 0;
}

/* The correction's errors against assignment a (max_score), in order. */
static void check_correction(const grading_assignment_t *a, const grading_correct_args_t *c, sms_decision_t *d) {
    if (!c->student_id_ok)
        sms_decision_error(d, "student_id", 10, "is required: 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                           GRADING_STUDENT_ID_MAX);
    int64_t score;
    char m[SMS_NUMBER_MESSAGE_MAX];
    if (c->score == NULL) sms_decision_error(d, "score", 5, "is required");
    else if (sms_number_hundredths(c->score, 0, a->max_score, &score) != SMS_OK)
        sms_decision_error(d, "score", 5, "%s (the assignment's max_score)",
                           sms_number_hundredths_message(m, sizeof m, 0, a->max_score));
    if (!c->feedback_ok)
        sms_decision_error(d, "feedback", 8, "must be text of at most %d characters", GRADING_FEEDBACK_MAX);
    if (!c->reason_ok)
        sms_decision_error(d, "reason", 6, "is required: 1 to %d characters saying why", GRADING_REASON_MAX);
    if (!c->repairs_ok)
        sms_decision_error(d, "repairs", 7, "must be a quarantined event's position <topic>:<partition>:<offset>");
    if (!c->released_ok) sms_decision_error(d, "released", 8, "must be true or false");
}

void grading_handle_correct_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d) {
    const grading_correct_args_t *c = args;
    grading_assignment_t *a = known_assignment(state, cmd, d);
    if (a == NULL) return;
    d->errors_limit = GRADING_MAX_ERRORS;
    check_correction(a, c, d);
    if (d->n_errors_total) {
        sms_decision_fail(d, 422, "validation", "the correction is invalid; nothing was changed");
        return;
    }
    int64_t score = 0;
    (void)sms_number_hundredths(c->score, 0, a->max_score, &score); /* accepted above: reads the same */
    const grading_grade_t *cur = grading_state_grade(a, c->student_id);
    grading_change_t change;
    change_init(&change, c->student_id, cur, score, c->feedback, c->has_released ? c->released : cur && cur->released);
    reply_count(d, "corrected", 1);
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, GRADING_EVENT_CORRECTED, GRADING_EVENT_VERSION,
                                                SMS_STR(a->id));
    grading_pack_corrected(&pk, a->id, a->class_id, &change, cmd->actor, now_ms, c->reason, c->repairs);
    overlay(a, &change, 1);
}

void grading_handle_correct_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    size_t changed;
    if (record_changed(rec, &changed, d) == 0) reply_count(d, "corrected", changed);
}
