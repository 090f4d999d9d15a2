/* handlers.c - validate and decide class commands (see handlers.h). */
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "msgpack_util.h"

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

static void add_error(classes_outcome_t *out, const char *field, size_t flen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_error(classes_outcome_t *out, const char *field, size_t flen, const char *fmt, ...) {
    if (out->n_errors == CLASSES_MAX_ERRORS) return;
    size_t i = out->n_errors++;
    snprintf(out->fields[i], sizeof out->fields[i], "%.*s", (int)(flen > 64 ? 64 : flen), field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->messages[i], sizeof out->messages[i], fmt, ap);
    va_end(ap);
    out->errors[i].field = out->fields[i];
    out->errors[i].message = out->messages[i];
}

static void fail(classes_outcome_t *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(classes_outcome_t *out, int status, const char *code, const char *fmt, ...) {
    out->status = status;
    out->problem_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
}

/* Counts code points; returns (size_t)-1 for invalid UTF-8 or control characters. */
static size_t text_length(const char *s, size_t n) {
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return (size_t)-1;
        if (len == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t') return (size_t)-1;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] >> 6) != 2) return (size_t)-1;
        i += len;
        chars++;
    }
    return chars;
}

size_t classes_validate_body(const msgpack_object *data, bool is_create, classes_outcome_t *out) {
    size_t before = out->n_errors;
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
            add_error(out, k, klen, "unknown field");
            continue;
        }
        known++;
        const char *s;
        size_t n;
        if (!sms_mp_str(&kv->val, &s, &n)) {
            add_error(out, k, klen, "must be a string");
            continue;
        }
        size_t chars = text_length(s, n);
        if (chars == (size_t)-1) {
            add_error(out, k, klen, "must be valid UTF-8 text without control characters");
            continue;
        }
        /* Leading/trailing blanks would make "CS101 " and "CS101" different codes. */
        bool blank_edges = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
        if (chars < rule->min || chars > rule->max)
            add_error(out, k, klen, "must be %zu to %zu characters long (got %zu)", rule->min, rule->max, chars);
        else if (blank_edges && rule->min > 0)
            add_error(out, k, klen, "must not start or end with a space");
    }
    if (is_create) {
        for (size_t r = 0; r < N_RULES; r++)
            if (rules[r].required_on_create && sms_mp_map_get(data, rules[r].name) == NULL)
                add_error(out, rules[r].name, strlen(rules[r].name), "is required");
    } else if (known == 0 && out->n_errors == before) {
        add_error(out, "body", 4, "must contain at least one of code, name, description, term");
    }
    return out->n_errors - before;
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
        fail(out, 400, "validation", "the class body is invalid");
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
        fail(out, 409, "code_taken", "you already have an active class with code %s (id %s)", c->code, holder);
        add_error(out, "code", 4, "already used by one of your active classes");
        out->has_class = false;
        return;
    }
    out->status = 201;
    out->event_type = "class.created";
}

/* Finds the caller's class or fails with 404 (another lecturer's class is not shown to exist). */
static const classes_class_t *owned_class(classes_state_t *st, const sms_command_t *cmd, classes_outcome_t *out) {
    const classes_class_t *cur = classes_state_class(st, cmd->key);
    if (cur == NULL || strlen(cur->lecturer_id) != cmd->actor.len ||
        memcmp(cur->lecturer_id, cmd->actor.ptr, cmd->actor.len) != 0) {
        fail(out, 404, "not_found", "no class %.*s", (int)cmd->key.len, cmd->key.ptr);
        return NULL;
    }
    return cur;
}

static void decide_update(classes_state_t *st, const sms_command_t *cmd, int64_t now, classes_outcome_t *out) {
    if (classes_validate_body(cmd->data, false, out)) {
        fail(out, 400, "validation", "the class body is invalid");
        return;
    }
    const classes_class_t *cur = owned_class(st, cmd, out);
    if (cur == NULL) return;
    if (cmd->has_if_match && cmd->if_match != cur->version) {
        fail(out, 412, "precondition_failed", "If-Match is %lld but the class is at version %lld",
             (long long)cmd->if_match, (long long)cur->version);
        return;
    }
    if (strcmp(cur->status, "active") != 0) {
        fail(out, 409, "class_inactive", "class %s is inactive and cannot be changed", cur->id);
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
        out->status = 200;
        return;
    }
    if (!same_code(cur->code, c->code)) {
        const char *holder = classes_state_code_holder(st, c->lecturer_id, c->code);
        if (holder && strcmp(holder, c->id) != 0) {
            fail(out, 409, "code_taken", "you already have an active class with code %s (id %s)", c->code, holder);
            add_error(out, "code", 4, "already used by one of your active classes");
            out->has_class = false;
            return;
        }
    }
    c->version = cur->version + 1;
    c->updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->status = 200;
    out->event_type = "class.updated";
}

static void decide_deactivate(classes_state_t *st, const sms_command_t *cmd, int64_t now, classes_outcome_t *out) {
    const classes_class_t *cur = owned_class(st, cmd, out);
    if (cur == NULL) return;
    if (cmd->has_if_match && cmd->if_match != cur->version) {
        fail(out, 412, "precondition_failed", "If-Match is %lld but the class is at version %lld",
             (long long)cmd->if_match, (long long)cur->version);
        return;
    }
    classes_class_copy(&out->after, cur);
    out->has_class = true;
    out->status = 200;
    if (strcmp(cur->status, "inactive") == 0) return; /* deleting twice is not an error */
    classes_set(&out->after.status, "inactive", 8);
    out->after.version = cur->version + 1;
    out->after.updated_at = now > cur->updated_at ? now : cur->updated_at + 1;
    out->event_type = "class.deactivated";
}

void classes_decide(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                    classes_outcome_t *out) {
    memset(out, 0, sizeof *out);
    if (cmd->role.len != 8 || memcmp(cmd->role.ptr, "lecturer", 8) != 0) {
        fail(out, 403, "forbidden", "only lecturers manage classes");
        return;
    }
    if (cmd->v != 1) {
        fail(out, 400, "unsupported_version", "command version %lld is not supported", (long long)cmd->v);
        return;
    }
#define IS(t) (cmd->type.len == strlen(t) && memcmp(cmd->type.ptr, t, cmd->type.len) == 0)
    if (IS("class.create")) decide_create(st, cmd, now_ms, new_id, out);
    else if (IS("class.update")) decide_update(st, cmd, now_ms, out);
    else if (IS("class.deactivate")) decide_deactivate(st, cmd, now_ms, out);
    else fail(out, 400, "unknown_command", "unknown command type %.*s", (int)cmd->type.len, cmd->type.ptr);
#undef IS
}

void classes_outcome_clear(classes_outcome_t *out) { classes_class_clear(&out->after); }
