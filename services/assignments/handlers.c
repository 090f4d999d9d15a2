/* handlers.c - validate and decide assignment commands (see handlers.h). */
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "msgpack_util.h"
#include "number.h"
#include "text.h"

/* max_score bounds in hundredths: grading keeps scores to two decimals, so a
 * max_score is at least 0.01 (0.001 or 5e-324 would be a max of 0) and at
 * most ASSIGNMENTS_MAX_SCORE_MAX points. */
#define MAX_SCORE_MIN_H 1
#define MAX_SCORE_MAX_H ((int64_t)(ASSIGNMENTS_MAX_SCORE_MAX * 100))

/* max_score as points rounded to hundredths, if o is in range; read before
 * any arithmetic (sms_number_hundredths). */
static bool max_score_value(const msgpack_object *o, double *points) {
    int64_t h;
    if (sms_number_hundredths(o, MAX_SCORE_MIN_H, MAX_SCORE_MAX_H, &h) != SMS_NUMBER_OK) return false;
    *points = (double)h / 100.0; /* the double nearest the two-decimal value */
    return true;
}

/* due_at as ms, if the value is a valid RFC 3339 string in range. */
static bool due_value(const msgpack_object *o, int64_t *ms) {
    const char *s;
    size_t n;
    return sms_mp_str(o, &s, &n) && sms_rfc3339_parse(s, n, ms) == 0 && *ms >= 0 && *ms <= ASSIGNMENTS_DUE_MAX;
}

static bool is(const char *k, size_t klen, const char *name) { return strlen(name) == klen && memcmp(k, name, klen) == 0; }

static void check_text(assignments_outcome_t *out, const char *k, size_t klen, const msgpack_object *v, size_t min,
                       size_t max) {
    const char *s;
    size_t n;
    if (!sms_mp_str(v, &s, &n)) {
        sms_verdict_error(&out->verdict, k, klen, "must be a string");
        return;
    }
    size_t chars = sms_text_chars(s, n);
    if (chars == (size_t)-1) sms_verdict_error(&out->verdict, k, klen, "must be valid UTF-8 text without control characters");
    else if (chars < min || chars > max) sms_verdict_error(&out->verdict, k, klen, "must be %zu to %zu characters long (got %zu)", min, max, chars);
    else if (min > 0 && (s[0] == ' ' || s[n - 1] == ' ')) sms_verdict_error(&out->verdict, k, klen, "must not start or end with a space");
}

size_t assignments_validate_body(const msgpack_object *data, bool is_create, assignments_outcome_t *out) {
    size_t before = out->verdict.n_errors, known = 0;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen;
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        known++;
        if (is(k, klen, "class_id")) {
            const char *s;
            size_t n;
            if (!is_create) sms_verdict_error(&out->verdict, k, klen, "cannot be changed; create the assignment in the other class");
            else if (!sms_mp_str(&kv->val, &s, &n) || n == 0 || n > 127) sms_verdict_error(&out->verdict, k, klen, "must be a class id");
        } else if (is(k, klen, "title")) {
            check_text(out, k, klen, &kv->val, 1, ASSIGNMENTS_TITLE_MAX);
        } else if (is(k, klen, "description")) {
            check_text(out, k, klen, &kv->val, 0, ASSIGNMENTS_DESCRIPTION_MAX);
        } else if (is(k, klen, "due_at")) {
            int64_t ms;
            if (!due_value(&kv->val, &ms))
                sms_verdict_error(&out->verdict, k, klen, "must be an RFC 3339 date-time with a time zone (Z or +hh:mm) "
                                        "between 1970 and 9999, e.g. 2026-03-01T23:59:00Z");
        } else if (is(k, klen, "max_score")) {
            double d;
            char m[SMS_NUMBER_MESSAGE_MAX];
            if (!max_score_value(&kv->val, &d))
                sms_verdict_error(&out->verdict, k, klen, "%s (kept to two decimals)",
                                  sms_number_hundredths_message(m, sizeof m, MAX_SCORE_MIN_H, MAX_SCORE_MAX_H));
        } else {
            known--;
            sms_verdict_error(&out->verdict, k, klen, "unknown field");
        }
    }
    if (is_create) {
        static const char *const required[] = {"class_id", "title", "due_at"};
        for (size_t r = 0; r < 3; r++)
            if (sms_mp_map_get(data, required[r]) == NULL) sms_verdict_error(&out->verdict, required[r], strlen(required[r]), "is required");
    } else if (known == 0 && out->verdict.n_errors == before) {
        sms_verdict_error(&out->verdict, "body", 4, "must contain at least one of title, description, due_at, max_score");
    }
    return out->verdict.n_errors - before;
}

/* Copies a string field of the body into *field when present; true if it changed. */
static bool take_str(const msgpack_object *data, const char *name, char **field) {
    const char *s = "";
    size_t n = 0;
    if (!sms_mp_str(sms_mp_map_get(data, name), &s, &n)) return false; /* absent (validated before) */
    if (*field && strlen(*field) == n && memcmp(*field, s, n) == 0) return false;
    assignments_set(field, s, n);
    return true;
}

static bool take_due(const msgpack_object *data, int64_t *due) {
    const msgpack_object *v = sms_mp_map_get(data, "due_at");
    int64_t ms;
    if (v == NULL || !due_value(v, &ms) || ms == *due) return false;
    *due = ms;
    return true;
}

static bool take_score(const msgpack_object *data, double *score) {
    const msgpack_object *v = sms_mp_map_get(data, "max_score");
    double d;
    if (v == NULL || !max_score_value(v, &d) || d == *score) return false;
    *score = d;
    return true;
}

static bool same(sms_str_t a, const char *b) { return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0; }

static void decide_create(assignments_state_t *st, const sms_command_t *cmd, int64_t now, const char *new_id,
                          assignments_outcome_t *out) {
    if (assignments_validate_body(cmd->data, true, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the assignment body is invalid");
        return;
    }
    const char *cid;
    size_t clen;
    sms_mp_str(sms_mp_map_get(cmd->data, "class_id"), &cid, &clen); /* validated: a string */
    sms_str_t class_id = {cid, clen};
    /* Another lecturer's class is answered exactly like a missing one. */
    const assignments_class_t *cls = assignments_state_class(st, class_id);
    if (cls == NULL || !same(cmd->actor, cls->lecturer_id)) {
        out->verdict.stale = cls == NULL; /* a class created a moment ago may not have reached us yet */
        sms_verdict_fail(&out->verdict, 404, "not_found", "no class %.*s", (int)clen, cid);
        sms_verdict_error(&out->verdict, "class_id", 8, "no such class");
        return;
    }
    if (strcmp(cls->status, "active") != 0) {
        sms_verdict_fail(&out->verdict, 409, "class_inactive", "class %.*s is inactive: it takes no new assignments", (int)clen, cid);
        sms_verdict_error(&out->verdict, "class_id", 8, "the class is inactive");
        return;
    }
    assignments_assignment_t *a = &out->after;
    assignments_set(&a->id, new_id, strlen(new_id));
    assignments_set(&a->class_id, cid, clen);
    assignments_set(&a->lecturer_id, cmd->actor.ptr, cmd->actor.len);
    assignments_set(&a->status, "open", 4);
    assignments_set(&a->description, "", 0);
    take_str(cmd->data, "title", &a->title);
    take_str(cmd->data, "description", &a->description);
    take_due(cmd->data, &a->due_at);
    a->max_score = ASSIGNMENTS_MAX_SCORE_DEFAULT;
    take_score(cmd->data, &a->max_score);
    a->created_at = a->updated_at = now;
    a->version = 1;
    out->has_assignment = true;
    out->verdict.status = 201;
    out->event_type = "assignment.created";
}

/* The caller's assignment, or 404 (another lecturer's is not shown to exist). */
static const assignments_assignment_t *owned(assignments_state_t *st, const sms_command_t *cmd,
                                             assignments_outcome_t *out) {
    const assignments_assignment_t *cur = assignments_state_assignment(st, cmd->key);
    if (cur == NULL || !same(cmd->actor, cur->lecturer_id)) {
        sms_verdict_fail(&out->verdict, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    return cur;
}

static bool if_match_fails(const sms_command_t *cmd, const assignments_assignment_t *cur, assignments_outcome_t *out) {
    if (!cmd->has_if_match || cmd->if_match == cur->version) return false;
    sms_verdict_fail(&out->verdict, 412, "precondition_failed", "If-Match is %lld but the assignment is at version %lld",
         (long long)cmd->if_match, (long long)cur->version);
    return true;
}

static void decide_update(assignments_state_t *st, const sms_command_t *cmd, int64_t now, assignments_outcome_t *out) {
    if (assignments_validate_body(cmd->data, false, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the assignment body is invalid");
        return;
    }
    const assignments_assignment_t *cur = owned(st, cmd, out);
    if (cur == NULL || if_match_fails(cmd, cur, out)) return;
    if (strcmp(cur->status, "deleted") == 0) {
        sms_verdict_fail(&out->verdict, 409, "assignment_deleted", "assignment %s is deleted and cannot be changed", cur->id);
        return;
    }
    assignments_assignment_t *a = &out->after;
    assignments_assignment_copy(a, cur);
    out->has_assignment = true;
    if (take_str(cmd->data, "title", &a->title)) out->changed[out->n_changed++] = "title";
    if (take_str(cmd->data, "description", &a->description)) out->changed[out->n_changed++] = "description";
    if (take_due(cmd->data, &a->due_at)) out->changed[out->n_changed++] = "due_at";
    if (take_score(cmd->data, &a->max_score)) out->changed[out->n_changed++] = "max_score";
    out->verdict.status = 200;
    if (out->n_changed == 0) return; /* nothing to change: answer the current assignment, emit nothing */
    a->version = cur->version + 1;
    a->updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->event_type = "assignment.updated";
}

static void decide_delete(assignments_state_t *st, const sms_command_t *cmd, int64_t now, assignments_outcome_t *out) {
    const assignments_assignment_t *cur = owned(st, cmd, out);
    if (cur == NULL || if_match_fails(cmd, cur, out)) return;
    assignments_assignment_copy(&out->after, cur);
    out->has_assignment = true;
    out->verdict.status = 200;
    if (strcmp(cur->status, "deleted") == 0) return; /* deleting twice is not an error */
    assignments_set(&out->after.status, "deleted", 7);
    out->after.version = cur->version + 1;
    out->after.updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->event_type = "assignment.deleted";
}

/* ---- submissions ---- */

/* Upload ids are the gateway's (sms_id_new): 26 characters of Crockford base32. */
static bool upload_id(const msgpack_object *o) {
    const char *s;
    size_t n;
    if (!sms_mp_str(o, &s, &n) || n != 26) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z'))) return false;
    return true;
}

size_t assignments_validate_submission(const msgpack_object *data, assignments_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    bool content = false;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen;
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        if (is(k, klen, "text")) {
            const char *s;
            size_t n;
            check_text(out, k, klen, &kv->val, 0, ASSIGNMENTS_SUBMISSION_TEXT_MAX);
            if (sms_mp_str(&kv->val, &s, &n) && n > 0) content = true;
        } else if (is(k, klen, "upload_ids")) {
            const msgpack_object *v = &kv->val;
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > ASSIGNMENTS_SUBMISSION_UPLOADS_MAX) {
                sms_verdict_error(&out->verdict, k, klen, "must be an array of at most %d upload ids", ASSIGNMENTS_SUBMISSION_UPLOADS_MAX);
                continue;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                char f[32];
                int fn = snprintf(f, sizeof f, "upload_ids[%u]", j);
                if (!upload_id(&v->via.array.ptr[j])) sms_verdict_error(&out->verdict, f, (size_t)fn, "must be an upload id");
            }
            if (v->via.array.size > 0) content = true;
        } else {
            sms_verdict_error(&out->verdict, k, klen, "unknown field");
        }
    }
    if (!content && out->verdict.n_errors == before) sms_verdict_error(&out->verdict, "body", 4, "must have a non-empty text or upload_ids");
    return out->verdict.n_errors - before;
}

/* Each listed upload must be completed (upload.completed is in the view),
 * belong to the submitting student and be listed once. Another student's
 * upload is reported like a missing one, so ids cannot be probed. Adds one
 * error per bad index; returns how many. */
static size_t check_uploads(assignments_state_t *st, const sms_command_t *cmd, assignments_outcome_t *out) {
    const msgpack_object *ids = sms_mp_map_get(cmd->data, "upload_ids");
    size_t before = out->verdict.n_errors;
    if (ids == NULL) return 0;
    for (uint32_t j = 0; j < ids->via.array.size; j++) {
        char f[32];
        int fn = snprintf(f, sizeof f, "upload_ids[%u]", j);
        sms_str_t id;
        (void)sms_mp_str(&ids->via.array.ptr[j], &id.ptr, &id.len); /* validated: an upload id */
        bool twice = false;
        for (uint32_t m = 0; m < j && !twice; m++) twice = msgpack_object_equal(ids->via.array.ptr[m], ids->via.array.ptr[j]);
        const char *owner = assignments_state_upload_owner(st, id);
        if (twice) sms_verdict_error(&out->verdict, f, (size_t)fn, "is listed twice");
        else if (owner == NULL || !same(cmd->actor, owner))
            sms_verdict_error(&out->verdict, f, (size_t)fn, "no completed upload of yours has this id (PUT the file to its upload URL first)");
    }
    return out->verdict.n_errors - before;
}

/* upload.complete: the gateway stored a file's bytes under a signed upload
 * URL that names the student; this records its metadata once. A second
 * completion of the same id is a 409 (the first one stands). */
static void decide_upload(assignments_state_t *st, const sms_command_t *cmd, int64_t now, assignments_outcome_t *out) {
    (void)now;
    if (assignments_read_upload(cmd->data, cmd->actor, &out->upload) != 0 ||
        !upload_id(sms_mp_map_get(cmd->data, "upload_id"))) {
        sms_verdict_fail(&out->verdict, 400, "validation", "upload.complete needs upload_id, filename, content_type, size, sha256, stored_at");
        return;
    }
    if (out->upload.student_id.len != cmd->actor.len ||
        memcmp(out->upload.student_id.ptr, cmd->actor.ptr, cmd->actor.len) != 0) {
        sms_verdict_fail(&out->verdict, 400, "validation", "an upload is completed by its own student");
        return;
    }
    if (assignments_state_upload_owner(st, out->upload.upload_id) != NULL) {
        sms_verdict_fail(&out->verdict, 409, "upload_exists", "upload %.*s was completed already; ask for a new upload URL",
             (int)out->upload.upload_id.len, out->upload.upload_id.ptr);
        return;
    }
    out->has_upload = true;
    out->verdict.status = 200;
    out->event_type = "upload.completed";
}

/* A student's submission: only to an assignment of a class they are enrolled
 * in (else 404, like a missing assignment), not deleted, in an active class. */
static void decide_submission(assignments_state_t *st, const sms_command_t *cmd, int64_t now,
                              assignments_outcome_t *out) {
    if (assignments_validate_submission(cmd->data, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the submission body is invalid");
        return;
    }
    const assignments_assignment_t *a = assignments_state_assignment(st, cmd->key);
    sms_str_t class_id = {a ? a->class_id : "", a ? strlen(a->class_id) : 0};
    /* An assignment or an enrollment of a moment ago may not have reached us yet. */
    if (a == NULL || !assignments_state_enrolled(st, class_id, cmd->actor)) {
        out->verdict.stale = true;
        sms_verdict_fail(&out->verdict, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return;
    }
    if (strcmp(a->status, "deleted") == 0) {
        sms_verdict_fail(&out->verdict, 409, "assignment_deleted", "assignment %s is deleted: it takes no submissions", a->id);
        return;
    }
    const assignments_class_t *cls = assignments_state_class(st, class_id);
    if (cls == NULL || strcmp(cls->status, "active") != 0) {
        sms_verdict_fail(&out->verdict, 409, "class_inactive", "class %s is inactive: it takes no submissions", a->class_id);
        return;
    }
    if (check_uploads(st, cmd, out) > 0) {
        sms_verdict_fail(&out->verdict, 422, "invalid_uploads", "some upload ids cannot be attached: see errors");
        return;
    }
    assignments_submission_t *s = &out->sub;
    s->assignment_id = (sms_str_t){a->id, strlen(a->id)};
    s->class_id = class_id;
    s->student_id = cmd->actor;
    s->version = assignments_state_submission_version(st, cmd->key, cmd->actor) + 1;
    s->submitted_at = now;
    s->late = now > a->due_at;
    s->text = (sms_str_t){"", 0};
    (void)sms_mp_str(sms_mp_map_get(cmd->data, "text"), &s->text.ptr, &s->text.len); /* absent: "" */
    s->upload_ids = sms_mp_map_get(cmd->data, "upload_ids");
    out->has_submission = true;
    out->verdict.status = 201;
    out->event_type = "submission.created";
}

void assignments_decide(assignments_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                        assignments_outcome_t *out) {
    memset(out, 0, sizeof *out);
    out->verdict.limit = ASSIGNMENTS_MAX_ERRORS;
    if (same(cmd->type, "upload.complete")) {
        if (!same(cmd->role, "student")) sms_verdict_fail(&out->verdict, 403, "forbidden", "only students upload");
        else if (cmd->v != 1) sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        else decide_upload(st, cmd, now_ms, out);
        return;
    }
    if (same(cmd->type, "submission.create")) {
        if (!same(cmd->role, "student")) sms_verdict_fail(&out->verdict, 403, "forbidden", "only students submit");
        else if (cmd->v != 1) sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        else decide_submission(st, cmd, now_ms, out);
        return;
    }
    if (!same(cmd->role, "lecturer")) {
        sms_verdict_fail(&out->verdict, 403, "forbidden", "only lecturers manage assignments");
        return;
    }
    if (cmd->v != 1) {
        sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return;
    }
    if (same(cmd->type, "assignment.create")) decide_create(st, cmd, now_ms, new_id, out);
    else if (same(cmd->type, "assignment.update")) decide_update(st, cmd, now_ms, out);
    else if (same(cmd->type, "assignment.delete")) decide_delete(st, cmd, now_ms, out);
    else sms_verdict_fail(&out->verdict, 400, "unknown_command", "unknown command type %.*s", (int)cmd->type.len, cmd->type.ptr);
}

void assignments_outcome_clear(assignments_outcome_t *out) { assignments_assignment_clear(&out->after); }
