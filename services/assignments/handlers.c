/* handlers.c - validate and decide assignments commands (see handlers.h);
 * the rows of commands.c call them, the answers are packed by replies.c. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "id.h"
#include "msgpack_util.h"
#include "number.h"
#include "replies.h"
#include "text.h"

/* max_score bounds in hundredths: grading keeps scores to two decimals, so a
 * max_score is at least 0.01 (0.001 or 5e-324 would be a max of 0) and at
 * most ASSIGNMENTS_MAX_SCORE_MAX points. */
#define MAX_SCORE_MIN_H 1
#define MAX_SCORE_MAX_H ((int64_t)(ASSIGNMENTS_MAX_SCORE_MAX * 100))

static bool same(sms_str_t a, const char *b) { return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0; }

static bool key_is(const char *k, size_t klen, const char *name) {
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* The checks every command makes first: the sender's role, then the
 * command's version (only v1 exists). */
static int check_sender(const sms_command_t *cmd, const char *role, const char *refusal, sms_decision_t *d) {
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    if (!same(cmd->role, role)) {
        sms_decision_fail(d, 403, "forbidden", "%s", refusal);
        return -1;
    }
    if (cmd->v != 1) {
        sms_decision_fail(d, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return -1;
    }
    return 0;
}

/* ---- assignment bodies ---- */

/* One body being decoded: the args it fills, what it saw, where errors go. */
typedef struct body_s {
    assignments_body_args_t *args;
    bool is_create;
    bool seen_class_id, seen_title, seen_due_at; /* the create's required fields, valid or not */
    size_t known;                                /* fields of the body that are assignment fields */
    sms_decision_t *d;
} body_t;

/* A text field of min..max characters (no edge spaces when min > 0); true if valid. */
static bool check_text(sms_decision_t *d, const char *k, size_t klen, const msgpack_object *v, size_t min,
                       size_t max) {
    const char *s;
    size_t n;
    if (!sms_mp_str(v, &s, &n)) {
        sms_decision_error(d, k, klen, "must be a string");
        return false;
    }
    size_t chars = sms_text_chars(s, n);
    if (chars == (size_t)-1) sms_decision_error(d, k, klen, "must be valid UTF-8 text without control characters");
    else if (chars < min || chars > max) sms_decision_error(d, k, klen, "must be %zu to %zu characters long (got %zu)", min, max, chars);
    else if (min > 0 && (s[0] == ' ' || s[n - 1] == ' ')) sms_decision_error(d, k, klen, "must not start or end with a space");
    else return true;
    return false;
}

/* Stores the first occurrence of a valid string field. */
static void keep_str(const msgpack_object *v, bool valid, sms_str_t *field, bool *has) {
    if (!valid || *has) return;
    *has = sms_mp_str(v, &field->ptr, &field->len);
}

static void body_class_id(body_t *b, const char *k, size_t klen, const msgpack_object *v) {
    const char *s;
    size_t n;
    b->seen_class_id = true;
    if (!b->is_create) {
        sms_decision_error(b->d, k, klen, "cannot be changed; create the assignment in the other class");
        return;
    }
    bool valid = sms_mp_str(v, &s, &n) && n > 0 && n <= 127;
    if (!valid) sms_decision_error(b->d, k, klen, "must be a class id");
    keep_str(v, valid, &b->args->class_id, &b->args->has_class_id);
}

static void body_title(body_t *b, const char *k, size_t klen, const msgpack_object *v) {
    b->seen_title = true;
    bool valid = check_text(b->d, k, klen, v, 1, ASSIGNMENTS_TITLE_MAX);
    keep_str(v, valid, &b->args->title, &b->args->has_title);
}

static void body_description(body_t *b, const char *k, size_t klen, const msgpack_object *v) {
    bool valid = check_text(b->d, k, klen, v, 0, ASSIGNMENTS_DESCRIPTION_MAX);
    keep_str(v, valid, &b->args->description, &b->args->has_description);
}

static void body_due_at(body_t *b, const char *k, size_t klen, const msgpack_object *v) {
    const char *s;
    size_t n;
    int64_t ms;
    b->seen_due_at = true;
    if (!sms_mp_str(v, &s, &n) || sms_rfc3339_parse(s, n, &ms) != 0 || ms < 0 || ms > ASSIGNMENTS_DUE_MAX) {
        sms_decision_error(b->d, k, klen, "must be an RFC 3339 date-time with a time zone (Z or +hh:mm) "
                                          "between 1970 and 9999, e.g. 2026-03-01T23:59:00Z");
        return;
    }
    if (!b->args->has_due_at) b->args->due_at = ms;
    b->args->has_due_at = true;
}

/* max_score as points rounded to hundredths, read before any arithmetic
 * (sms_number_hundredths). */
static void body_max_score(body_t *b, const char *k, size_t klen, const msgpack_object *v) {
    int64_t h;
    if (sms_number_hundredths(v, MAX_SCORE_MIN_H, MAX_SCORE_MAX_H, &h) != SMS_OK) {
        char m[SMS_NUMBER_MESSAGE_MAX];
        sms_decision_error(b->d, k, klen, "%s (kept to two decimals)",
                           sms_number_hundredths_message(m, sizeof m, MAX_SCORE_MIN_H, MAX_SCORE_MAX_H));
        return;
    }
    if (!b->args->has_max_score) b->args->max_score = (double)h / 100.0; /* the double nearest the two-decimal value */
    b->args->has_max_score = true;
}

/* The assignment body's fields, each decoded by its function. */
static const struct {
    const char *name;
    void (*decode)(body_t *b, const char *k, size_t klen, const msgpack_object *v);
} body_fields[] = {
    {"class_id", body_class_id}, {"title", body_title},         {"description", body_description},
    {"due_at", body_due_at},     {"max_score", body_max_score},
};

/* Decodes a create (class_id, title, due_at required) or update body in one
 * pass; 0, or -1 with the 400 in d. */
static int body_decode(const sms_command_t *cmd, bool is_create, assignments_body_args_t *args, sms_decision_t *d) {
    body_t b = {.args = args, .is_create = is_create, .d = d};
    const msgpack_object *data = cmd->data;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen, f = 0, n_fields = sizeof body_fields / sizeof body_fields[0];
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        while (f < n_fields && !key_is(k, klen, body_fields[f].name)) f++;
        if (f == n_fields) {
            sms_decision_error(d, k, klen, "unknown field");
            continue;
        }
        b.known++;
        body_fields[f].decode(&b, k, klen, &kv->val);
    }
    if (is_create) {
        if (!b.seen_class_id) sms_decision_error(d, "class_id", 8, "is required");
        if (!b.seen_title) sms_decision_error(d, "title", 5, "is required");
        if (!b.seen_due_at) sms_decision_error(d, "due_at", 6, "is required");
    } else if (b.known == 0 && d->n_errors_total == 0) {
        sms_decision_error(d, "body", 4, "must contain at least one of title, description, due_at, max_score");
    }
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the assignment body is invalid");
    return -1;
}

int assignments_validate_create(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_sender(cmd, "lecturer", "only lecturers manage assignments", d) != 0) return -1;
    return body_decode(cmd, true, args, d);
}

int assignments_validate_update(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_sender(cmd, "lecturer", "only lecturers manage assignments", d) != 0) return -1;
    return body_decode(cmd, false, args, d);
}

int assignments_validate_delete(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    (void)args;
    return check_sender(cmd, "lecturer", "only lecturers manage assignments", d);
}

/* ---- assignment decisions ---- */

/* Replaces *field by value; true if that changed it. */
static bool take_str(char **field, sms_str_t value) {
    if (*field && strlen(*field) == value.len && memcmp(*field, value.ptr, value.len) == 0) return false;
    assignments_set(field, value.ptr, value.len);
    return true;
}

/* Answers a (status) and, when event_type is set, writes it as that event
 * and records it in the state for the batch's later commands. */
static void emit_assignment(assignments_state_t *st, const sms_command_t *cmd, const assignments_assignment_t *a,
                            int status, const char *event_type, const char *const *changed, size_t n_changed,
                            int64_t now_ms, sms_decision_t *d) {
    assignments_answer_assignment(d, status, a, now_ms);
    if (event_type == NULL) return;
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, event_type, ASSIGNMENTS_EVENT_VERSION, SMS_STR(a->id));
    assignments_pack_snapshot(&pk, a, changed, n_changed);
    assignments_state_put(st, a);
}

void assignments_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d) {
    assignments_state_t *st = state;
    const assignments_body_args_t *b = args;
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    sms_str_t cid = b->class_id;
    /* Another lecturer's class is answered exactly like a missing one. */
    const assignments_class_t *cls = assignments_state_class(st, cid);
    if (cls == NULL || !same(cmd->actor, cls->lecturer_id)) {
        /* A class created a moment ago may not have reached us yet. */
        if (cls == NULL) sms_decision_stale(d, 404, "not_found", "no class %.*s", (int)cid.len, cid.ptr);
        else sms_decision_fail(d, 404, "not_found", "no class %.*s", (int)cid.len, cid.ptr);
        sms_decision_error(d, "class_id", 8, "no such class");
        return;
    }
    if (strcmp(cls->status, "active") != 0) {
        sms_decision_fail(d, 409, "class_inactive", "class %.*s is inactive: it takes no new assignments", (int)cid.len,
                          cid.ptr);
        sms_decision_error(d, "class_id", 8, "the class is inactive");
        return;
    }
    char new_id[SMS_ID_SIZE];
    assignments_assignment_t a = {0};
    sms_id_new(new_id);
    assignments_set(&a.id, new_id, strlen(new_id));
    assignments_set(&a.class_id, cid.ptr, cid.len);
    assignments_set(&a.lecturer_id, cmd->actor.ptr, cmd->actor.len);
    assignments_set(&a.status, "open", 4);
    assignments_set(&a.description, "", 0);
    (void)take_str(&a.title, b->title); /* required: validated */
    if (b->has_description) (void)take_str(&a.description, b->description);
    a.due_at = b->due_at;
    a.max_score = b->has_max_score ? b->max_score : ASSIGNMENTS_MAX_SCORE_DEFAULT;
    a.created_at = a.updated_at = now_ms;
    a.version = 1;
    emit_assignment(st, cmd, &a, 201, "assignment.created", NULL, 0, now_ms, d);
    assignments_assignment_clear(&a);
}

/* The caller's assignment, or 404 (another lecturer's is not shown to exist). */
static const assignments_assignment_t *owned(assignments_state_t *st, const sms_command_t *cmd, sms_decision_t *d) {
    const assignments_assignment_t *cur = assignments_state_assignment(st, cmd->key);
    if (cur == NULL || !same(cmd->actor, cur->lecturer_id)) {
        sms_decision_fail(d, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    return cur;
}

static bool if_match_fails(const sms_command_t *cmd, const assignments_assignment_t *cur, sms_decision_t *d) {
    if (!cmd->has_if_match || cmd->if_match == cur->version) return false;
    sms_decision_fail(d, 412, "precondition_failed", "If-Match is %lld but the assignment is at version %lld",
                      (long long)cmd->if_match, (long long)cur->version);
    return true;
}

/* The update's fields into a; returns how many changed (their names in changed). */
static size_t apply_update(const assignments_body_args_t *b, assignments_assignment_t *a, const char *changed[4]) {
    size_t n = 0;
    if (b->has_title && take_str(&a->title, b->title)) changed[n++] = "title";
    if (b->has_description && take_str(&a->description, b->description)) changed[n++] = "description";
    if (b->has_due_at && b->due_at != a->due_at) {
        a->due_at = b->due_at;
        changed[n++] = "due_at";
    }
    if (b->has_max_score && b->max_score != a->max_score) {
        a->max_score = b->max_score;
        changed[n++] = "max_score";
    }
    return n;
}

void assignments_decide_update(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d) {
    assignments_state_t *st = state;
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    const assignments_assignment_t *cur = owned(st, cmd, d);
    if (cur == NULL || if_match_fails(cmd, cur, d)) return;
    if (strcmp(cur->status, "deleted") == 0) {
        sms_decision_fail(d, 409, "assignment_deleted", "assignment %s is deleted and cannot be changed", cur->id);
        return;
    }
    assignments_assignment_t a;
    const char *changed[4];
    assignments_assignment_copy(&a, cur);
    size_t n_changed = apply_update(args, &a, changed);
    if (n_changed > 0) {
        a.version = cur->version + 1;
        a.updated_at = now_ms > cur->updated_at ? now_ms : cur->updated_at + 1;
    }
    /* Nothing to change: the current assignment is answered, nothing emitted. */
    emit_assignment(st, cmd, &a, 200, n_changed ? "assignment.updated" : NULL, changed, n_changed, now_ms, d);
    assignments_assignment_clear(&a);
}

void assignments_decide_delete(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d) {
    assignments_state_t *st = state;
    (void)args;
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    const assignments_assignment_t *cur = owned(st, cmd, d);
    if (cur == NULL || if_match_fails(cmd, cur, d)) return;
    assignments_assignment_t a;
    assignments_assignment_copy(&a, cur);
    bool deleted = strcmp(cur->status, "deleted") == 0; /* deleting twice is not an error */
    if (!deleted) {
        assignments_set(&a.status, "deleted", 7);
        a.version = cur->version + 1;
        a.updated_at = now_ms > cur->updated_at ? now_ms : cur->updated_at + 1;
    }
    emit_assignment(st, cmd, &a, 200, deleted ? NULL : "assignment.deleted", NULL, 0, now_ms, d);
    assignments_assignment_clear(&a);
}

/* ---- submissions ---- */

/* Upload ids are the gateway's (sms_id_new): 26 characters of Crockford base32. */
static bool upload_id_valid(const char *s, size_t n) {
    if (n != ASSIGNMENTS_UPLOAD_ID_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z'))) return false;
    return true;
}

static bool upload_id(const msgpack_object *o) {
    const char *s;
    size_t n;
    return sms_mp_str(o, &s, &n) && upload_id_valid(s, n);
}

/* Keeps the first occurrence of text and upload_ids (kv's key is k). */
static void keep_content(const msgpack_object_kv *kv, const char *k, size_t klen, bool *seen_text,
                         assignments_submission_args_t *out) {
    if (key_is(k, klen, "text") && !*seen_text) {
        *seen_text = true;
        (void)sms_mp_str(&kv->val, &out->text.ptr, &out->text.len); /* not a string: "" */
    } else if (key_is(k, klen, "upload_ids") && out->upload_ids == NULL) {
        out->upload_ids = &kv->val;
    }
}

void assignments_submission_content(const msgpack_object *data, assignments_submission_args_t *out) {
    bool seen_text = false;
    out->text = (sms_str_t){"", 0};
    out->upload_ids = NULL;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const char *k;
        size_t klen;
        if (sms_mp_str(&data->via.map.ptr[i].key, &k, &klen)) keep_content(&data->via.map.ptr[i], k, klen, &seen_text, out);
    }
}

/* upload_ids: an array of at most ASSIGNMENTS_SUBMISSION_UPLOADS_MAX upload
 * ids; errors name the array or its index. True if it lists any. */
static bool check_upload_ids(sms_decision_t *d, const char *k, size_t klen, const msgpack_object *v) {
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > ASSIGNMENTS_SUBMISSION_UPLOADS_MAX) {
        sms_decision_error(d, k, klen, "must be an array of at most %d upload ids", ASSIGNMENTS_SUBMISSION_UPLOADS_MAX);
        return false;
    }
    for (uint32_t j = 0; j < v->via.array.size; j++) {
        char f[32];
        int fn = snprintf(f, sizeof f, "upload_ids[%u]", j);
        if (!upload_id(&v->via.array.ptr[j])) sms_decision_error(d, f, (size_t)fn, "must be an upload id");
    }
    return v->via.array.size > 0;
}

/* A submission body: text (0..20000 characters), upload_ids (0..10 upload
 * ids), at least one of them non-empty, nothing else. (Whether the uploads
 * exist, are the student's and are listed once is the decision's 422.) */
int assignments_validate_submission(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_sender(cmd, "student", "only students submit", d) != 0) return -1;
    assignments_submission_args_t *a = args;
    const msgpack_object *data = cmd->data;
    bool content = false, seen_text = false;
    a->text = (sms_str_t){"", 0};
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen;
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        keep_content(kv, k, klen, &seen_text, a);
        if (key_is(k, klen, "text")) {
            if (check_text(d, k, klen, &kv->val, 0, ASSIGNMENTS_SUBMISSION_TEXT_MAX) && kv->val.via.str.size > 0)
                content = true;
        } else if (key_is(k, klen, "upload_ids")) {
            if (check_upload_ids(d, k, klen, &kv->val)) content = true;
        } else {
            sms_decision_error(d, k, klen, "unknown field");
        }
    }
    if (!content && d->n_errors_total == 0) sms_decision_error(d, "body", 4, "must have a non-empty text or upload_ids");
    if (d->n_errors_total > 0) {
        sms_decision_fail(d, 400, "validation", "the submission body is invalid");
        return -1;
    }
    return 0;
}

/* Each listed upload must be completed (upload.completed is in the view),
 * belong to the submitting student and be listed once. Another student's
 * upload is reported like a missing one, so ids cannot be probed. Adds one
 * error per bad index; returns how many. */
static size_t check_uploads(assignments_state_t *st, const sms_command_t *cmd, const msgpack_object *ids,
                            sms_decision_t *d) {
    size_t before = d->n_errors_total;
    if (ids == NULL) return 0;
    for (uint32_t j = 0; j < ids->via.array.size; j++) {
        char f[32];
        int fn = snprintf(f, sizeof f, "upload_ids[%u]", j);
        sms_str_t id;
        (void)sms_mp_str(&ids->via.array.ptr[j], &id.ptr, &id.len); /* validated: an upload id */
        bool twice = false;
        for (uint32_t m = 0; m < j && !twice; m++) twice = msgpack_object_equal(ids->via.array.ptr[m], ids->via.array.ptr[j]);
        const char *owner = assignments_state_upload_owner(st, id);
        if (twice) sms_decision_error(d, f, (size_t)fn, "is listed twice");
        else if (owner == NULL || !same(cmd->actor, owner))
            sms_decision_error(d, f, (size_t)fn, "no completed upload of yours has this id (PUT the file to its upload URL first)");
    }
    return d->n_errors_total - before;
}

/* Whether a (the command's assignment) takes submissions from cmd's student:
 * enrolled in its class (else 404, like a missing assignment), not deleted,
 * class active. Fills d when not. */
static bool submittable(assignments_state_t *st, const sms_command_t *cmd, const assignments_assignment_t *a,
                        sms_decision_t *d) {
    sms_str_t class_id = {a ? a->class_id : "", a ? strlen(a->class_id) : 0};
    /* An assignment or an enrollment of a moment ago may not have reached us yet. */
    if (a == NULL || !assignments_state_enrolled(st, class_id, cmd->actor)) {
        sms_decision_stale(d, 404, "not_found", "no assignment %.*s", (int)cmd->key.len, cmd->key.ptr);
        return false;
    }
    if (strcmp(a->status, "deleted") == 0) {
        sms_decision_fail(d, 409, "assignment_deleted", "assignment %s is deleted: it takes no submissions", a->id);
        return false;
    }
    const assignments_class_t *cls = assignments_state_class(st, class_id);
    if (cls == NULL || strcmp(cls->status, "active") != 0) {
        sms_decision_fail(d, 409, "class_inactive", "class %s is inactive: it takes no submissions", a->class_id);
        return false;
    }
    return true;
}

void assignments_decide_submission(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d) {
    assignments_state_t *st = state;
    const assignments_submission_args_t *in = args;
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    const assignments_assignment_t *a = assignments_state_assignment(st, cmd->key);
    if (!submittable(st, cmd, a, d)) return;
    if (check_uploads(st, cmd, in->upload_ids, d) > 0) {
        sms_decision_fail(d, 422, "invalid_uploads", "some upload ids cannot be attached: see errors");
        return;
    }
    assignments_submission_t s = {.assignment_id = SMS_STR(a->id), .class_id = SMS_STR(a->class_id),
                                  .student_id = cmd->actor, .submitted_at = now_ms, .late = now_ms > a->due_at,
                                  .text = in->text, .upload_ids = in->upload_ids};
    s.version = assignments_state_submission_version(st, cmd->key, cmd->actor) + 1;
    assignments_answer_submission(d, &s);
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, "submission.created", ASSIGNMENTS_EVENT_VERSION,
                                                s.assignment_id);
    assignments_pack_submission_data(&pk, &s);
    /* A later submission of this student in this batch is the next version. */
    assignments_state_put_submission_version(st, s.assignment_id, s.student_id, s.version);
}

/* ---- uploads ---- */

/* upload.complete: the gateway stored a file's bytes under a signed upload
 * URL that names the student; its metadata must be well-formed and the
 * student's own. */
int assignments_validate_upload(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_sender(cmd, "student", "only students upload", d) != 0) return -1;
    assignments_upload_t *u = args;
    if (assignments_read_upload(cmd->data, cmd->actor, u) != 0 || !upload_id_valid(u->upload_id.ptr, u->upload_id.len)) {
        sms_decision_fail(d, 400, "validation", "upload.complete needs upload_id, filename, content_type, size, sha256, stored_at");
        return -1;
    }
    if (u->student_id.len != cmd->actor.len || memcmp(u->student_id.ptr, cmd->actor.ptr, cmd->actor.len) != 0) {
        sms_decision_fail(d, 400, "validation", "an upload is completed by its own student");
        return -1;
    }
    return 0;
}

/* Records the upload's metadata once: a second completion of the same id is
 * a 409 (the first one stands). */
void assignments_decide_upload(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d) {
    assignments_state_t *st = state;
    const assignments_upload_t *u = args;
    d->errors_limit = ASSIGNMENTS_MAX_ERRORS;
    if (assignments_state_upload_owner(st, u->upload_id) != NULL) {
        sms_decision_fail(d, 409, "upload_exists", "upload %.*s was completed already; ask for a new upload URL",
                          (int)u->upload_id.len, u->upload_id.ptr);
        return;
    }
    assignments_answer_upload(d, u);
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, "upload.completed", ASSIGNMENTS_EVENT_VERSION, u->upload_id);
    assignments_pack_upload_data(&pk, u);
    /* A second completion of this id in the same batch is a 409. */
    assignments_state_put_upload(st, u->upload_id, u->student_id);
}
