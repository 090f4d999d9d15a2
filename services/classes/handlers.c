/* handlers.c - validate and decide class commands (see handlers.h). */
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "msgpack_util.h"
#include "text.h"

typedef struct field_rule_s {
    const char *name;
    size_t min, max; /* in characters (UTF-8 code points) */
    bool required_on_create;
} field_rule_t;

static const field_rule_t rules[] = {
    {"code", 1, CLASSES_CODE_MAX, true},
    {"name", 1, CLASSES_NAME_MAX, true},
    {"description", 0, CLASSES_DESCRIPTION_MAX, false},
    {"term", 0, CLASSES_TERM_MAX, false},
};
#define N_RULES (sizeof rules / sizeof rules[0])

size_t classes_validate_body(const msgpack_object *data, bool is_create, classes_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    size_t known = 0;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen;
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        const field_rule_t *rule = NULL;
        for (size_t r = 0; r < N_RULES; r++)
            if (strlen(rules[r].name) == klen && memcmp(rules[r].name, k, klen) == 0) rule = &rules[r];
        if (rule == NULL) {
            sms_verdict_error(&out->verdict, k, klen, "unknown field");
            continue;
        }
        known++;
        const char *s;
        size_t n;
        if (!sms_mp_str(&kv->val, &s, &n)) {
            sms_verdict_error(&out->verdict, k, klen, "must be a string");
            continue;
        }
        size_t chars = sms_text_chars(s, n);
        if (chars == (size_t)-1) {
            sms_verdict_error(&out->verdict, k, klen, "must be valid UTF-8 text without control characters");
            continue;
        }
        /* Leading/trailing blanks would make "CS101 " and "CS101" different codes. */
        bool blank_edges = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
        if (chars < rule->min || chars > rule->max)
            sms_verdict_error(&out->verdict, k, klen, "must be %zu to %zu characters long (got %zu)", rule->min, rule->max, chars);
        else if (blank_edges && rule->min > 0)
            sms_verdict_error(&out->verdict, k, klen, "must not start or end with a space");
    }
    if (is_create) {
        for (size_t r = 0; r < N_RULES; r++)
            if (rules[r].required_on_create && sms_mp_map_get(data, rules[r].name) == NULL)
                sms_verdict_error(&out->verdict, rules[r].name, strlen(rules[r].name), "is required");
    } else if (known == 0 && out->verdict.n_errors == before) {
        sms_verdict_error(&out->verdict, "body", 4, "must contain at least one of code, name, description, term");
    }
    return out->verdict.n_errors - before;
}

/* Copies a string field of the body into *field when present; returns true if it changed. */
static bool take_field(const msgpack_object *data, const char *name, char **field) {
    const msgpack_object *v = sms_mp_map_get(data, name);
    if (v == NULL) return false;
    const char *s = "";
    size_t n = 0;
    sms_mp_str(v, &s, &n); /* validated before: a string */
    if (*field && strlen(*field) == n && memcmp(*field, s, n) == 0) return false;
    classes_set(field, s, n);
    return true;
}

static bool same_code(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

static void decide_create(classes_state_t *st, const sms_command_t *cmd, int64_t now, const char *new_id,
                          classes_outcome_t *out) {
    if (classes_validate_body(cmd->data, true, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the class body is invalid");
        return;
    }
    classes_class_t *c = &out->after;
    classes_set(&c->id, new_id, strlen(new_id));
    classes_set(&c->lecturer_id, cmd->actor.ptr, cmd->actor.len);
    classes_set(&c->status, "active", 6);
    classes_set(&c->description, "", 0);
    classes_set(&c->term, "", 0);
    take_field(cmd->data, "code", &c->code);
    take_field(cmd->data, "name", &c->name);
    take_field(cmd->data, "description", &c->description);
    take_field(cmd->data, "term", &c->term);
    c->created_at = c->updated_at = now;
    c->version = 1;
    out->has_class = true;
    const char *holder = classes_state_code_holder(st, c->lecturer_id, c->code);
    if (holder) {
        sms_verdict_fail(&out->verdict, 409, "code_taken", "you already have an active class with code %s (id %s)", c->code, holder);
        sms_verdict_error(&out->verdict, "code", 4, "already used by one of your active classes");
        out->has_class = false;
        return;
    }
    out->verdict.status = 201;
    out->event_type = "class.created";
}

/* Finds the caller's class or fails with 404 (another lecturer's class is not shown to exist). */
static const classes_class_t *owned_class(classes_state_t *st, const sms_command_t *cmd, classes_outcome_t *out) {
    const classes_class_t *cur = classes_state_class(st, cmd->key);
    if (cur == NULL || strlen(cur->lecturer_id) != cmd->actor.len ||
        memcmp(cur->lecturer_id, cmd->actor.ptr, cmd->actor.len) != 0) {
        sms_verdict_fail(&out->verdict, 404, "not_found", "no class %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    return cur;
}

static void decide_update(classes_state_t *st, const sms_command_t *cmd, int64_t now, classes_outcome_t *out) {
    if (classes_validate_body(cmd->data, false, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the class body is invalid");
        return;
    }
    const classes_class_t *cur = owned_class(st, cmd, out);
    if (cur == NULL) return;
    if (cmd->has_if_match && cmd->if_match != cur->version) {
        sms_verdict_fail(&out->verdict, 412, "precondition_failed", "If-Match is %lld but the class is at version %lld",
             (long long)cmd->if_match, (long long)cur->version);
        return;
    }
    if (strcmp(cur->status, "active") != 0) {
        sms_verdict_fail(&out->verdict, 409, "class_inactive", "class %s is inactive and cannot be changed", cur->id);
        return;
    }
    classes_class_t *c = &out->after;
    classes_class_copy(c, cur);
    out->has_class = true;
    static const char *const names[] = {"code", "name", "description", "term"};
    char **fields[] = {&c->code, &c->name, &c->description, &c->term};
    for (size_t i = 0; i < 4; i++)
        if (take_field(cmd->data, names[i], fields[i])) out->changed[out->n_changed++] = names[i];
    if (out->n_changed == 0) { /* nothing to change: answer the current class, emit nothing */
        out->verdict.status = 200;
        return;
    }
    if (!same_code(cur->code, c->code)) {
        const char *holder = classes_state_code_holder(st, c->lecturer_id, c->code);
        if (holder && strcmp(holder, c->id) != 0) {
            sms_verdict_fail(&out->verdict, 409, "code_taken", "you already have an active class with code %s (id %s)", c->code, holder);
            sms_verdict_error(&out->verdict, "code", 4, "already used by one of your active classes");
            out->has_class = false;
            return;
        }
    }
    c->version = cur->version + 1;
    c->updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->verdict.status = 200;
    out->event_type = "class.updated";
}

static void decide_deactivate(classes_state_t *st, const sms_command_t *cmd, int64_t now, classes_outcome_t *out) {
    const classes_class_t *cur = owned_class(st, cmd, out);
    if (cur == NULL) return;
    if (cmd->has_if_match && cmd->if_match != cur->version) {
        sms_verdict_fail(&out->verdict, 412, "precondition_failed", "If-Match is %lld but the class is at version %lld",
             (long long)cmd->if_match, (long long)cur->version);
        return;
    }
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    out->verdict.status = 200;
    if (strcmp(cur->status, "inactive") == 0) return; /* deleting twice is not an error */
    classes_set(&out->after.status, "inactive", 8);
    out->after.version = cur->version + 1;
    out->after.updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->event_type = "class.deactivated";
}

/* ---- rosters ---- */

bool classes_valid_student_id(const char *s, size_t n) {
    if (n < 1 || n > CLASSES_STUDENT_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool domain_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* local@domain.tld: printable ASCII local part without specials, DNS-style
 * labels, an alphabetic TLD of 2+ letters. Deliberately simple: the school's
 * addresses, not every RFC 5322 form. */
bool classes_valid_email(const char *s, size_t n) {
    if (n < 6 || n > CLASSES_EMAIL_MAX) return false;
    const char *at = memchr(s, '@', n);
    if (at == NULL || at == s) return false;
    size_t local = (size_t)(at - s);
    if (local > 64) return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]@", c)) return false;
    }
    const char *d = at + 1, *end = s + n;
    size_t labels = 0, label_len = 0;
    const char *label = d;
    for (const char *p = d; p <= end; p++) {
        if (p == end || *p == '.') {
            if (label_len == 0 || label_len > 63 || label[0] == '-' || label[label_len - 1] == '-') return false;
            labels++;
            if (p == end) break;
            label = p + 1;
            label_len = 0;
        } else if (!domain_label_char(*p)) {
            return false;
        } else {
            label_len++;
        }
    }
    if (labels < 2 || label_len < 2) return false;
    for (size_t i = 0; i < label_len; i++) /* the TLD */
        if (!((label[i] >= 'a' && label[i] <= 'z') || (label[i] >= 'A' && label[i] <= 'Z'))) return false;
    return true;
}

static size_t validate_student(const msgpack_object *row, size_t i, classes_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    char f[72];
    int fn;
    if (row->type != MSGPACK_OBJECT_MAP) {
        fn = snprintf(f, sizeof f, "students[%zu]", i);
        sms_verdict_error(&out->verdict, f, (size_t)fn, "must be an object with student_id, name and email");
        return out->verdict.n_errors - before;
    }
    static const char *const known[] = {"student_id", "name", "email"};
    for (uint32_t k = 0; k < row->via.map.size; k++) {
        const char *key;
        size_t klen;
        bool ok = sms_mp_str(&row->via.map.ptr[k].key, &key, &klen);
        for (size_t j = 0; ok && j < 3; j++)
            if (strlen(known[j]) == klen && memcmp(known[j], key, klen) == 0) ok = false;
        if (ok) {
            fn = snprintf(f, sizeof f, "students[%zu].%.*s", i, (int)(klen > 32 ? 32 : klen), key);
            sms_verdict_error(&out->verdict, f, (size_t)fn, "unknown field");
        }
    }
    for (size_t j = 0; j < 3; j++) {
        fn = snprintf(f, sizeof f, "students[%zu].%s", i, known[j]);
        const msgpack_object *v = sms_mp_map_get(row, known[j]);
        const char *s;
        size_t n;
        if (v == NULL) {
            sms_verdict_error(&out->verdict, f, (size_t)fn, "is required");
        } else if (!sms_mp_str(v, &s, &n)) {
            sms_verdict_error(&out->verdict, f, (size_t)fn, "must be a string");
        } else if (j == 0 && !classes_valid_student_id(s, n)) {
            sms_verdict_error(&out->verdict, f, (size_t)fn, "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                      CLASSES_STUDENT_ID_MAX);
        } else if (j == 1) {
            size_t chars = sms_text_chars(s, n);
            bool blank = true;
            for (size_t c = 0; c < n; c++)
                if (s[c] != ' ') blank = false;
            if (chars == (size_t)-1 || memchr(s, '\n', n) || memchr(s, '\t', n))
                sms_verdict_error(&out->verdict, f, (size_t)fn, "must be valid UTF-8 text on one line without control characters");
            else if (chars < 1 || chars > CLASSES_STUDENT_NAME_MAX || blank)
                sms_verdict_error(&out->verdict, f, (size_t)fn, "must be 1 to %d characters long and not blank", CLASSES_STUDENT_NAME_MAX);
        } else if (j == 2 && !classes_valid_email(s, n)) {
            sms_verdict_error(&out->verdict, f, (size_t)fn, "must be an email address like name@school.edu (at most %d characters)",
                      CLASSES_EMAIL_MAX);
        }
    }
    return out->verdict.n_errors - before;
}

size_t classes_validate_roster(const msgpack_object *data, classes_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (sms_mp_str(&data->via.map.ptr[k].key, &key, &klen) && !(klen == 8 && memcmp(key, "students", 8) == 0))
            sms_verdict_error(&out->verdict, key, klen, "unknown field");
    }
    const msgpack_object *list = sms_mp_map_get(data, "students");
    if (list == NULL) {
        sms_verdict_error(&out->verdict, "students", 8, "is required");
        return out->verdict.n_errors - before;
    }
    if (list->type != MSGPACK_OBJECT_ARRAY) {
        sms_verdict_error(&out->verdict, "students", 8, "must be an array of students");
        return out->verdict.n_errors - before;
    }
    size_t n = list->via.array.size;
    if (n < 1 || n > CLASSES_ROSTER_MAX) {
        sms_verdict_error(&out->verdict, "students", 8, "must hold 1 to %d students (got %zu)", CLASSES_ROSTER_MAX, n);
        return out->verdict.n_errors - before;
    }
    const msgpack_object *rows = list->via.array.ptr;
    for (size_t i = 0; i < n; i++) {
        if (validate_student(&rows[i], i, out)) continue;
        const char *id, *other;
        size_t idn, on;
        sms_mp_str(sms_mp_map_get(&rows[i], "student_id"), &id, &idn);
        /* Quadratic, but n <= 500 and only valid rows are compared. */
        for (size_t j = 0; j < i; j++) {
            if (sms_mp_str(sms_mp_map_get(&rows[j], "student_id"), &other, &on) && on == idn &&
                memcmp(other, id, idn) == 0) {
                char f[72];
                int fn = snprintf(f, sizeof f, "students[%zu].student_id", i);
                sms_verdict_error(&out->verdict, f, (size_t)fn, "duplicate of students[%zu]", j);
                break;
            }
        }
    }
    return out->verdict.n_errors - before;
}

/* The caller's class, active, or fails 404/409 (what: what cannot change). */
static const classes_class_t *active_owned_class(classes_state_t *st, const sms_command_t *cmd,
                                                 classes_outcome_t *out, const char *what) {
    const classes_class_t *cur = owned_class(st, cmd, out);
    if (cur == NULL) return NULL;
    if (strcmp(cur->status, "active") != 0) {
        sms_verdict_fail(&out->verdict, 409, "class_inactive", "class %s is inactive: %s", cur->id, what);
        return NULL;
    }
    return cur;
}

static void decide_enroll(classes_state_t *st, const sms_command_t *cmd, int64_t now, classes_outcome_t *out) {
    out->kind = CLASSES_REPLY_ENROLL;
    if (classes_validate_roster(cmd->data, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the roster is invalid; nothing was enrolled");
        return;
    }
    const classes_class_t *cur = active_owned_class(st, cmd, out, "its roster cannot be changed");
    if (cur == NULL) return;
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    const msgpack_object *list = sms_mp_map_get(cmd->data, "students");
    classes_roster_outcome_t *r = &out->roster;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *row = &list->via.array.ptr[i];
        sms_str_t id;
        sms_mp_str(sms_mp_map_get(row, "student_id"), &id.ptr, &id.len);
        if (classes_state_enrolled(st, cur->id, id)) r->already++; /* name/email updates are out of scope */
        else r->added[r->enrolled++] = row;
    }
    r->enrolled_at = now;
    out->verdict.status = 200;
    if (r->enrolled == 0) return;
    r->roster_version = cur->roster_version + 1;
    out->event_type = "class.students_enrolled";
}

static void decide_unenroll(classes_state_t *st, const sms_command_t *cmd, classes_outcome_t *out) {
    out->kind = CLASSES_REPLY_UNENROLL;
    classes_roster_outcome_t *r = &out->roster;
    const msgpack_object *v = sms_mp_map_get(cmd->data, "student_id");
    if (!sms_mp_str(v, &r->student_id.ptr, &r->student_id.len) ||
        !classes_valid_student_id(r->student_id.ptr, r->student_id.len)) {
        sms_verdict_error(&out->verdict, "student_id", 10, "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'",
                  CLASSES_STUDENT_ID_MAX);
        sms_verdict_fail(&out->verdict, 400, "validation", "the student id is invalid");
        return;
    }
    const classes_class_t *cur = active_owned_class(st, cmd, out, "its roster cannot be changed");
    if (cur == NULL) return;
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    out->verdict.status = 200;
    if (!classes_state_enrolled(st, cur->id, r->student_id)) return; /* not enrolled: nothing to do */
    r->unenrolled = true;
    r->roster_version = cur->roster_version + 1;
    out->event_type = "class.student_unenrolled";
}

/* ---- posts ---- */

/* A text field of a post body: a string of min..max characters, not blank. */
static void validate_post_text(const msgpack_object *v, const char *name, size_t max, classes_outcome_t *out) {
    const char *s;
    size_t n;
    if (v == NULL) {
        sms_verdict_error(&out->verdict, name, strlen(name), "is required");
        return;
    }
    if (!sms_mp_str(v, &s, &n)) {
        sms_verdict_error(&out->verdict, name, strlen(name), "must be a string");
        return;
    }
    size_t chars = sms_text_chars(s, n);
    if (chars == (size_t)-1) {
        sms_verdict_error(&out->verdict, name, strlen(name), "must be valid UTF-8 text without control characters");
        return;
    }
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t') blank = false;
    if (chars < 1 || chars > max || blank)
        sms_verdict_error(&out->verdict, name, strlen(name), "must be 1 to %zu characters long and not blank (got %zu)", max, chars);
}

size_t classes_validate_post(const msgpack_object *data, classes_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    static const char *const known[] = {"title", "body", "pinned"};
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&data->via.map.ptr[k].key, &key, &klen)) continue;
        bool ok = false;
        for (size_t j = 0; j < 3; j++)
            if (strlen(known[j]) == klen && memcmp(known[j], key, klen) == 0) ok = true;
        if (!ok) sms_verdict_error(&out->verdict, key, klen, "unknown field");
    }
    validate_post_text(sms_mp_map_get(data, "title"), "title", CLASSES_POST_TITLE_MAX, out);
    validate_post_text(sms_mp_map_get(data, "body"), "body", CLASSES_POST_BODY_MAX, out);
    const msgpack_object *pinned = sms_mp_map_get(data, "pinned");
    if (pinned && pinned->type != MSGPACK_OBJECT_BOOLEAN) sms_verdict_error(&out->verdict, "pinned", 6, "must be true or false");
    return out->verdict.n_errors - before;
}

static void decide_post(classes_state_t *st, const sms_command_t *cmd, int64_t now, const char *new_id,
                        classes_outcome_t *out) {
    out->kind = CLASSES_REPLY_POST;
    if (classes_validate_post(cmd->data, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the post is invalid");
        return;
    }
    const classes_class_t *cur = active_owned_class(st, cmd, out, "nothing can be posted to it");
    if (cur == NULL) return;
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    classes_post_t *p = &out->post;
    p->id = SMS_STR(new_id);
    p->class_id = SMS_STR(out->after.id);
    p->lecturer_id = SMS_STR(out->after.lecturer_id);
    p->author_id = cmd->actor;
    sms_mp_str(sms_mp_map_get(cmd->data, "title"), &p->title.ptr, &p->title.len); /* validated: strings */
    sms_mp_str(sms_mp_map_get(cmd->data, "body"), &p->body.ptr, &p->body.len);
    const msgpack_object *pinned = sms_mp_map_get(cmd->data, "pinned");
    p->pinned = pinned && pinned->via.boolean;
    p->created_at = now;
    out->verdict.status = 201;
    out->event_type = "post.created";
}

/* ---- chat ---- */

size_t classes_validate_chat(const msgpack_object *data, classes_outcome_t *out) {
    size_t before = out->verdict.n_errors;
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&data->via.map.ptr[k].key, &key, &klen)) continue;
        if (klen != 4 || memcmp(key, "text", 4) != 0) sms_verdict_error(&out->verdict, key, klen, "unknown field");
    }
    validate_post_text(sms_mp_map_get(data, "text"), "text", CLASSES_CHAT_TEXT_MAX, out);
    return out->verdict.n_errors - before;
}

/* The class a chat author may write to: its own lecturer, or an enrolled
 * student. Anyone else gets the answer a missing class gets (404). */
static const classes_class_t *chat_class(classes_state_t *st, const sms_command_t *cmd, classes_outcome_t *out) {
    const classes_class_t *cur = classes_state_class(st, cmd->key);
    bool lecturer = cmd->role.len == 8 && memcmp(cmd->role.ptr, "lecturer", 8) == 0;
    bool allowed = false;
    if (cur && lecturer)
        allowed = strlen(cur->lecturer_id) == cmd->actor.len &&
                  memcmp(cur->lecturer_id, cmd->actor.ptr, cmd->actor.len) == 0;
    else if (cur)
        allowed = classes_state_enrolled(st, cur->id, cmd->actor);
    if (!allowed) {
        sms_verdict_fail(&out->verdict, 404, "not_found", "no class %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    if (strcmp(cur->status, "active") != 0) {
        sms_verdict_fail(&out->verdict, 409, "class_inactive", "class %s is inactive: its chat is closed", cur->id);
        return NULL;
    }
    return cur;
}

/* The sequence is decided here, by the one consumer of the class's command
 * partition: the view's last chat_seq plus the batch's earlier messages
 * (ops.c moves the overlay on after each accepted post). */
static void decide_chat(classes_state_t *st, const sms_command_t *cmd, int64_t now, const char *new_id,
                        classes_outcome_t *out) {
    out->kind = CLASSES_REPLY_CHAT;
    bool lecturer = cmd->role.len == 8 && memcmp(cmd->role.ptr, "lecturer", 8) == 0;
    bool student = cmd->role.len == 7 && memcmp(cmd->role.ptr, "student", 7) == 0;
    if (!lecturer && !student) {
        sms_verdict_fail(&out->verdict, 403, "forbidden", "only the class's lecturer and its students chat");
        return;
    }
    if (cmd->v != 1) {
        sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return;
    }
    if (classes_validate_chat(cmd->data, out)) {
        sms_verdict_fail(&out->verdict, 400, "validation", "the chat message is invalid");
        return;
    }
    const classes_class_t *cur = chat_class(st, cmd, out);
    if (cur == NULL) return;
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    classes_chat_t *m = &out->chat;
    m->id = SMS_STR(new_id);
    m->class_id = SMS_STR(out->after.id);
    m->seq = cur->chat_seq + 1;
    m->author_id = cmd->actor;
    m->author_role = cmd->role;
    sms_mp_str(sms_mp_map_get(cmd->data, "text"), &m->text.ptr, &m->text.len); /* validated: a string */
    m->created_at = now;
    out->verdict.status = 201;
    out->event_type = "chat.message_posted";
}

void classes_decide(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                    classes_outcome_t *out) {
    memset(out, 0, sizeof *out);
    out->verdict.limit = CLASSES_MAX_ERRORS;
    if (cmd->type.len == 9 && memcmp(cmd->type.ptr, "chat.post", 9) == 0) {
        decide_chat(st, cmd, now_ms, new_id, out); /* students chat too: its own role check */
        return;
    }
    if (cmd->role.len != 8 || memcmp(cmd->role.ptr, "lecturer", 8) != 0) {
        sms_verdict_fail(&out->verdict, 403, "forbidden", "only lecturers manage classes and rosters");
        return;
    }
    if (cmd->v != 1) {
        sms_verdict_fail(&out->verdict, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return;
    }
#define IS(t) (cmd->type.len == strlen(t) && memcmp(cmd->type.ptr, t, cmd->type.len) == 0)
    if (IS("class.create")) decide_create(st, cmd, now_ms, new_id, out);
    else if (IS("class.update")) decide_update(st, cmd, now_ms, out);
    else if (IS("class.deactivate")) decide_deactivate(st, cmd, now_ms, out);
    else if (IS("roster.enroll")) decide_enroll(st, cmd, now_ms, out);
    else if (IS("roster.unenroll")) decide_unenroll(st, cmd, out);
    else if (IS("post.create")) decide_post(st, cmd, now_ms, new_id, out);
    else sms_verdict_fail(&out->verdict, 400, "unknown_command", "unknown command type %.*s", (int)cmd->type.len, cmd->type.ptr);
#undef IS
}

void classes_outcome_clear(classes_outcome_t *out) { classes_class_clear(&out->after); }
