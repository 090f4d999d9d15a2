/* bodies.c - the validate phase of the classes commands (see commands.h):
 * who may send the command, its version, and its data decoded once into the
 * row's args struct, one pass over each msgpack map dispatching on the key.
 * Every failure goes into the worker's decision as the client sees it:
 * status, problem code, detail, and the field errors in the order the body
 * has them (at most CLASSES_MAX_ERRORS listed). Pure. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "id.h"
#include "msgpack_util.h"
#include "text.h"

#define STUDENT_ID_RULE "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', '-'"

static bool key_is(const char *k, size_t klen, const char *name) {
    return strlen(name) == klen && memcmp(name, k, klen) == 0;
}

/* What every command but chat.post checks first: a lecturer, version 1. */
static int lecturer_v1(const sms_command_t *cmd, sms_decision_t *d) {
    d->errors_limit = CLASSES_MAX_ERRORS;
    return sms_command_check_sender(cmd, (const char *const[]){"lecturer", NULL},
                                    "only lecturers manage classes and rosters", d);
}

/* ---- classes ---- */

typedef struct field_rule_s {
    const char *name;
    size_t min, max; /* in characters (UTF-8 code points) */
    bool required_on_create;
} field_rule_t;

/* Indexed by CLASSES_F_*. */
static const field_rule_t rules[CLASSES_N_FIELDS] = {
    {"code", 1, CLASSES_CODE_MAX, true},
    {"name", 1, CLASSES_NAME_MAX, true},
    {"description", 0, CLASSES_DESCRIPTION_MAX, false},
    {"term", 0, CLASSES_TERM_MAX, false},
};

/* One known field of a class body: an error for a bad value, else taken. */
static void class_field(const field_rule_t *rule, const msgpack_object *v, sms_str_t *out, sms_decision_t *d) {
    size_t klen = strlen(rule->name);
    const char *s;
    size_t n;
    if (!sms_mp_str(v, &s, &n)) {
        sms_decision_error(d, rule->name, klen, "must be a string");
        return;
    }
    size_t chars = sms_text_chars(s, n);
    if (chars == (size_t)-1) {
        sms_decision_error(d, rule->name, klen, "must be valid UTF-8 text without control characters");
        return;
    }
    /* Leading/trailing blanks would make "CS101 " and "CS101" different codes. */
    bool blank_edges = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    if (chars < rule->min || chars > rule->max)
        sms_decision_error(d, rule->name, klen, "must be %zu to %zu characters long (got %zu)", rule->min, rule->max,
                           chars);
    else if (blank_edges && rule->min > 0)
        sms_decision_error(d, rule->name, klen, "must not start or end with a space");
    *out = (sms_str_t){s, n};
}

/* A create (is_create: code and name required) or update (at least one field) body. */
static int class_body(const sms_command_t *cmd, classes_class_args_t *a, bool is_create, sms_decision_t *d) {
    if (lecturer_v1(cmd, d) != 0) return -1;
    const msgpack_object *data = cmd->data;
    size_t known = 0;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const char *k;
        size_t klen;
        if (!sms_mp_str(&kv->key, &k, &klen)) continue;
        size_t r = 0;
        while (r < CLASSES_N_FIELDS && !key_is(k, klen, rules[r].name)) r++;
        if (r == CLASSES_N_FIELDS) {
            sms_decision_error(d, k, klen, "unknown field");
            continue;
        }
        known++;
        sms_str_t value = {"", 0};
        class_field(&rules[r], &kv->val, &value, d);
        if (!a->has[r]) a->field[r] = value; /* the first of a repeated key counts */
        a->has[r] = true;
    }
    if (is_create) {
        for (size_t r = 0; r < CLASSES_N_FIELDS; r++)
            if (rules[r].required_on_create && !a->has[r])
                sms_decision_error(d, rules[r].name, strlen(rules[r].name), "is required");
    } else if (known == 0 && d->n_errors_total == 0) {
        sms_decision_error(d, "body", 4, "must contain at least one of code, name, description, term");
    }
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the class body is invalid");
    return -1;
}

int classes_body_class_create(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    return class_body(cmd, args, true, d);
}

int classes_body_class_update(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    return class_body(cmd, args, false, d);
}

int classes_body_class_deactivate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    (void)args; /* the body is not read */
    return lecturer_v1(cmd, d);
}

/* ---- rosters ---- */

bool classes_valid_student_id(const char *s, size_t n) { return sms_id_name_valid(s, n, CLASSES_STUDENT_ID_MAX); }

static bool domain_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* Whether the domain part is DNS-style labels ending in an alphabetic TLD of 2+ letters. */
static bool valid_domain(const char *d, const char *end) {
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
    return valid_domain(at + 1, s + n);
}

static const char *const student_fields[] = {"student_id", "name", "email"};

/* Checks value (the j-th of student_fields, NULL: absent) of students[i]
 * and stores it in out when valid. */
static void student_field(size_t i, size_t j, const msgpack_object *v, sms_str_t *out, sms_decision_t *d) {
    char f[72];
    int fn = snprintf(f, sizeof f, "students[%zu].%s", i, student_fields[j]);
    const char *s;
    size_t n;
    if (v == NULL) {
        sms_decision_error(d, f, (size_t)fn, "is required");
    } else if (!sms_mp_str(v, &s, &n)) {
        sms_decision_error(d, f, (size_t)fn, "must be a string");
    } else if (j == 0 && !classes_valid_student_id(s, n)) {
        sms_decision_error(d, f, (size_t)fn, STUDENT_ID_RULE, CLASSES_STUDENT_ID_MAX);
    } else if (j == 1) {
        size_t chars = sms_text_chars(s, n);
        bool blank = true;
        for (size_t c = 0; c < n; c++)
            if (s[c] != ' ') blank = false;
        if (chars == (size_t)-1 || memchr(s, '\n', n) || memchr(s, '\t', n))
            sms_decision_error(d, f, (size_t)fn, "must be valid UTF-8 text on one line without control characters");
        else if (chars < 1 || chars > CLASSES_STUDENT_NAME_MAX || blank)
            sms_decision_error(d, f, (size_t)fn, "must be 1 to %d characters long and not blank",
                               CLASSES_STUDENT_NAME_MAX);
        else *out = (sms_str_t){s, n};
    } else if (j == 2 && !classes_valid_email(s, n)) {
        sms_decision_error(d, f, (size_t)fn, "must be an email address like name@school.edu (at most %d characters)",
                           CLASSES_EMAIL_MAX);
    } else {
        *out = (sms_str_t){s, n};
    }
}

/* students[i]: unknown fields first (body order), then the three in order.
 * Fills *s; *sid is its student_id when that is a string (valid or not: the
 * duplicate check compares later rows with it). True if the row is valid. */
static bool student_row(const msgpack_object *row, size_t i, classes_student_t *s, sms_str_t *sid,
                        sms_decision_t *d) {
    size_t before = d->n_errors_total;
    char f[72];
    if (row->type != MSGPACK_OBJECT_MAP) {
        int fn = snprintf(f, sizeof f, "students[%zu]", i);
        sms_decision_error(d, f, (size_t)fn, "must be an object with student_id, name and email");
        return false;
    }
    const msgpack_object *v[3] = {NULL, NULL, NULL};
    for (uint32_t k = 0; k < row->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&row->via.map.ptr[k].key, &key, &klen)) continue;
        size_t j = 0;
        while (j < 3 && !key_is(key, klen, student_fields[j])) j++;
        if (j < 3) {
            if (v[j] == NULL) v[j] = &row->via.map.ptr[k].val;
            continue;
        }
        int fn = snprintf(f, sizeof f, "students[%zu].%.*s", i, (int)(klen > 32 ? 32 : klen), key);
        sms_decision_error(d, f, (size_t)fn, "unknown field");
    }
    if (v[0]) (void)sms_mp_str(v[0], &sid->ptr, &sid->len);
    sms_str_t *out[3] = {&s->student_id, &s->name, &s->email};
    for (size_t j = 0; j < 3; j++) student_field(i, j, v[j], out[j], d);
    return d->n_errors_total == before;
}

/* The "students" list: rows checked one by one, a valid row's id compared
 * with every earlier row's. */
static void student_rows(const msgpack_object *list, classes_enroll_args_t *a, sms_decision_t *d) {
    size_t n = list->via.array.size;
    if (n < 1 || n > CLASSES_ROSTER_MAX) {
        sms_decision_error(d, "students", 8, "must hold 1 to %d students (got %zu)", CLASSES_ROSTER_MAX, n);
        return;
    }
    sms_str_t sids[CLASSES_ROSTER_MAX]; /* each row's student_id when a string */
    for (size_t i = 0; i < n; i++) {
        sids[i] = (sms_str_t){NULL, 0};
        if (!student_row(&list->via.array.ptr[i], i, &a->students[i], &sids[i], d)) continue;
        /* Quadratic, but n <= 500 and only valid rows are compared. */
        for (size_t j = 0; j < i; j++) {
            if (sids[j].ptr && sids[j].len == sids[i].len && memcmp(sids[j].ptr, sids[i].ptr, sids[i].len) == 0) {
                char f[72];
                int fn = snprintf(f, sizeof f, "students[%zu].student_id", i);
                sms_decision_error(d, f, (size_t)fn, "duplicate of students[%zu]", j);
                break;
            }
        }
    }
    a->n = n;
}

int classes_body_enroll(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (lecturer_v1(cmd, d) != 0) return -1;
    classes_enroll_args_t *a = args;
    const msgpack_object *data = cmd->data, *list = NULL;
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&data->via.map.ptr[k].key, &key, &klen)) continue;
        if (!key_is(key, klen, "students")) sms_decision_error(d, key, klen, "unknown field");
        else if (list == NULL) list = &data->via.map.ptr[k].val;
    }
    if (list == NULL) sms_decision_error(d, "students", 8, "is required");
    else if (list->type != MSGPACK_OBJECT_ARRAY) sms_decision_error(d, "students", 8, "must be an array of students");
    else student_rows(list, a, d);
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the roster is invalid; nothing was enrolled");
    return -1;
}

int classes_body_unenroll(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (lecturer_v1(cmd, d) != 0) return -1;
    classes_unenroll_args_t *a = args;
    const msgpack_object *v = sms_mp_map_get(cmd->data, "student_id"); /* the one field read; others are ignored */
    if (sms_mp_str(v, &a->student_id.ptr, &a->student_id.len) &&
        classes_valid_student_id(a->student_id.ptr, a->student_id.len))
        return 0;
    sms_decision_error(d, "student_id", 10, STUDENT_ID_RULE, CLASSES_STUDENT_ID_MAX);
    sms_decision_fail(d, 400, "validation", "the student id is invalid");
    return -1;
}

/* ---- posts and chat ---- */

/* A text field of a post or chat body: a string of 1..max characters, not blank. */
static void text_field(const msgpack_object *v, const char *name, size_t max, sms_str_t *out, sms_decision_t *d) {
    size_t nlen = strlen(name);
    const char *s;
    size_t n;
    if (v == NULL) {
        sms_decision_error(d, name, nlen, "is required");
        return;
    }
    if (!sms_mp_str(v, &s, &n)) {
        sms_decision_error(d, name, nlen, "must be a string");
        return;
    }
    size_t chars = sms_text_chars(s, n);
    if (chars == (size_t)-1) {
        sms_decision_error(d, name, nlen, "must be valid UTF-8 text without control characters");
        return;
    }
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t') blank = false;
    if (chars < 1 || chars > max || blank)
        sms_decision_error(d, name, nlen, "must be 1 to %zu characters long and not blank (got %zu)", max, chars);
    else *out = (sms_str_t){s, n};
}

/* One pass over a post body: v[i] is the first value of known[i] (or
 * NULL); any other key is an "unknown field" error. */
static void post_fields(const msgpack_object *data, const char *const *known, size_t n, const msgpack_object **v,
                        sms_decision_t *d) {
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&data->via.map.ptr[k].key, &key, &klen)) continue;
        size_t j = 0;
        while (j < n && !key_is(key, klen, known[j])) j++;
        if (j == n) sms_decision_error(d, key, klen, "unknown field");
        else if (v[j] == NULL) v[j] = &data->via.map.ptr[k].val;
    }
}

int classes_body_post(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (lecturer_v1(cmd, d) != 0) return -1;
    classes_post_args_t *a = args;
    static const char *const known[] = {"title", "body", "pinned"};
    const msgpack_object *v[3] = {NULL, NULL, NULL};
    post_fields(cmd->data, known, 3, v, d);
    text_field(v[0], "title", CLASSES_POST_TITLE_MAX, &a->title, d);
    text_field(v[1], "body", CLASSES_POST_BODY_MAX, &a->body, d);
    if (v[2] && v[2]->type != MSGPACK_OBJECT_BOOLEAN) sms_decision_error(d, "pinned", 6, "must be true or false");
    else a->pinned = v[2] && v[2]->via.boolean;
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the post is invalid");
    return -1;
}

/* post.update: {post_id (the path's, set by the gateway), title?, body?,
 * pinned?}, each checked like post.create's, at least one of the three. */
int classes_body_post_update(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (lecturer_v1(cmd, d) != 0) return -1;
    classes_post_update_args_t *a = args;
    static const char *const known[] = {"title", "body", "pinned", "post_id"};
    const msgpack_object *v[4] = {NULL, NULL, NULL, NULL};
    post_fields(cmd->data, known, 4, v, d);
    if (!sms_mp_str(v[3], &a->post_id.ptr, &a->post_id.len) ||
        !sms_id_name_valid(a->post_id.ptr, a->post_id.len, SMS_ID_NAME_MAX))
        sms_decision_error(d, "post_id", 7, "must be a post id");
    if ((a->has_title = v[0] != NULL)) text_field(v[0], "title", CLASSES_POST_TITLE_MAX, &a->title, d);
    if ((a->has_body = v[1] != NULL)) text_field(v[1], "body", CLASSES_POST_BODY_MAX, &a->body, d);
    if (v[2] && v[2]->type != MSGPACK_OBJECT_BOOLEAN) sms_decision_error(d, "pinned", 6, "must be true or false");
    else if ((a->has_pinned = v[2] != NULL)) a->pinned = v[2]->via.boolean;
    if (!v[0] && !v[1] && !v[2] && d->n_errors_total == 0)
        sms_decision_error(d, "body", 4, "must contain at least one of title, body, pinned");
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the post is invalid");
    return -1;
}

int classes_body_chat(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    d->errors_limit = CLASSES_MAX_ERRORS;
    if (sms_command_check_sender(cmd, (const char *const[]){"lecturer", "student", NULL}, /* students chat too */
                                 "only the class's lecturer and its students chat", d) != 0)
        return -1;
    classes_chat_args_t *a = args;
    const msgpack_object *data = cmd->data, *text = NULL;
    for (uint32_t k = 0; k < data->via.map.size; k++) {
        const char *key;
        size_t klen;
        if (!sms_mp_str(&data->via.map.ptr[k].key, &key, &klen)) continue;
        if (!key_is(key, klen, "text")) sms_decision_error(d, key, klen, "unknown field");
        else if (text == NULL) text = &data->via.map.ptr[k].val;
    }
    text_field(text, "text", CLASSES_CHAT_TEXT_MAX, &a->text, d);
    if (d->n_errors_total == 0) return 0;
    sms_decision_fail(d, 400, "validation", "the chat message is invalid");
    return -1;
}
