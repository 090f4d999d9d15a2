/* event_check.c - the event validators' table look-up, field getters and
 * error format (see event_check.h). Called by services/<svc>/validate.c. */
#include "event_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msgpack_util.h"
#include "text.h"

void sms_check_init(sms_check_t *c, const sms_event_t *ev, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->ev = ev;
    c->err = err;
    c->errlen = errlen;
    if (err && errlen) err[0] = '\0';
    c->path_len = (size_t)snprintf(c->path, sizeof c->path, "data.");
}

int sms_check_result(const sms_check_t *c) { return c->failed ? -1 : 0; }

/* The error head: "<type> v<v>: " (the type cut: it may be anything). */
static int head(const sms_check_t *c) {
    if (c->ev == NULL) return snprintf(c->err, c->errlen, "event: ");
    return snprintf(c->err, c->errlen, "%.*s v%lld: ", (int)(c->ev->type.len > 64 ? 64 : c->ev->type.len),
                    c->ev->type.ptr, (long long)c->ev->v);
}

static void vfail(sms_check_t *c, const char *prefix, const char *field, const char *fmt, va_list ap) {
    if (c->failed) return;
    c->failed = true;
    if (c->err == NULL || c->errlen == 0) return;
    int n = head(c);
    if (n < 0 || (size_t)n >= c->errlen) return;
    int m = snprintf(c->err + n, c->errlen - (size_t)n, "%s%s ", prefix, field);
    if (m < 0 || (size_t)(n + m) >= c->errlen) return;
    vsnprintf(c->err + n + m, c->errlen - (size_t)(n + m), fmt, ap);
}

bool sms_check_fail(sms_check_t *c, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(c, c->path, field, fmt, ap);
    va_end(ap);
    return false;
}

/* The envelope's fields (not under "data."). */
static bool envelope_fail(sms_check_t *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool envelope_fail(sms_check_t *c, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(c, "", field, fmt, ap);
    va_end(ap);
    return false;
}

static bool check_envelope(sms_check_t *c) {
    const sms_event_t *ev = c->ev;
    if (ev->id.len < 1 || ev->id.len > SMS_EVENT_EVENT_ID_MAX || memchr(ev->id.ptr, '\0', ev->id.len))
        return envelope_fail(c, "id", "must be 1 to %d bytes without NUL (got %zu bytes)", SMS_EVENT_EVENT_ID_MAX,
                             ev->id.len);
    if (ev->time < 0 || ev->time > SMS_EVENT_TIME_MAX)
        return envelope_fail(c, "time", "must be ms from 0 to %lld (got %lld)", (long long)SMS_EVENT_TIME_MAX,
                             (long long)ev->time);
    if (ev->data == NULL || ev->data->type != MSGPACK_OBJECT_MAP) return envelope_fail(c, "data", "must be a map");
    return true;
}

static bool str_eq(sms_str_t s, const char *lit) { return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0; }

static bool topic_matches(const char *row, const char *topic) {
    if (row == NULL) return true;
    return topic != NULL && strcmp(row, topic) == 0;
}

int sms_check_event(const sms_event_rule_t *rules, size_t n, const char *topic, const sms_event_t *ev, char *err,
                    size_t errlen) {
    if (err && errlen) err[0] = '\0';
    const sms_event_rule_t *own = NULL;
    for (size_t i = 0; i < n; i++) {
        const sms_event_rule_t *r = &rules[i];
        if (!topic_matches(r->topic, topic) || !str_eq(ev->type, r->type)) continue;
        if (r->v != ev->v) {
            if (r->own) own = r;
            continue;
        }
        sms_check_t c;
        sms_check_init(&c, ev, err, errlen);
        if (check_envelope(&c)) r->check(&c, ev->data);
        return sms_check_result(&c);
    }
    if (own) {
        sms_check_t c;
        sms_check_init(&c, ev, err, errlen);
        (void)envelope_fail(&c, "v", "is not a version this view applies (it knows v%lld)", (long long)own->v);
        return -1;
    }
    return 0; /* not an event this view applies */
}

/* ---- getters ---- */

/* Looks field up: *o the value, or NULL when absent (or nil and nullable).
 * False (with the error) when a required field is missing. */
static bool lookup(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags,
                   const msgpack_object **o) {
    *o = NULL;
    if (c->failed) return false;
    const msgpack_object *v = sms_mp_map_get(m, field);
    if (v == NULL) {
        if (flags & SMS_CHECK_OPTIONAL) return true;
        return sms_check_fail(c, field, "is required");
    }
    if (v->type == MSGPACK_OBJECT_NIL && (flags & SMS_CHECK_NULLABLE)) return true;
    *o = v;
    return true;
}

static bool id_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
}

/* Checks s against kind and bounds; on a failure records it on field. */
static bool check_str_value(sms_check_t *c, const char *field, sms_str_t s, sms_check_kind_t kind, size_t min,
                            size_t max) {
    switch (kind) {
    case SMS_CHECK_BYTES:
        if (s.len < min || s.len > max || memchr(s.ptr, '\0', s.len))
            return sms_check_fail(c, field, "must be %zu to %zu bytes without NUL (got %zu bytes)", min, max, s.len);
        return true;
    case SMS_CHECK_TEXT: {
        size_t chars = sms_text_chars(s.ptr, s.len);
        if (chars == (size_t)-1) return sms_check_fail(c, field, "must be valid UTF-8 text without control characters");
        if (chars < min || chars > max)
            return sms_check_fail(c, field, "must be %zu to %zu characters (got %zu)", min, max, chars);
        return true;
    }
    case SMS_CHECK_ID:
        for (size_t i = 0; i < s.len; i++)
            if (!id_char(s.ptr[i])) return sms_check_fail(c, field, "must be %zu to %zu of A-Z a-z 0-9 . _ -", min, max);
        if (s.len < min || s.len > max)
            return sms_check_fail(c, field, "must be %zu to %zu of A-Z a-z 0-9 . _ - (got %zu bytes)", min, max, s.len);
        return true;
    case SMS_CHECK_USER:
        for (size_t i = 0; i < s.len; i++)
            if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
                return sms_check_fail(c, field, "must be a user id without control bytes");
        if (s.len < min || s.len > max)
            return sms_check_fail(c, field, "must be a user id of %zu to %zu bytes (got %zu)", min, max, s.len);
        return true;
    case SMS_CHECK_ULID:
        if (s.len != 26) return sms_check_fail(c, field, "must be 26 of 0-9 A-Z (got %zu bytes)", s.len);
        for (size_t i = 0; i < s.len; i++)
            if (!((s.ptr[i] >= '0' && s.ptr[i] <= '9') || (s.ptr[i] >= 'A' && s.ptr[i] <= 'Z')))
                return sms_check_fail(c, field, "must be 26 of 0-9 A-Z");
        return true;
    case SMS_CHECK_HEX:
        for (size_t i = 0; i < s.len; i++)
            if (!((s.ptr[i] >= '0' && s.ptr[i] <= '9') || (s.ptr[i] >= 'a' && s.ptr[i] <= 'f')))
                return sms_check_fail(c, field, "must be lower-case hex digits");
        if (s.len < min || s.len > max)
            return sms_check_fail(c, field, "must be %zu to %zu hex digits (got %zu)", min, max, s.len);
        return true;
    }
    return sms_check_fail(c, field, "has an unknown check"); /* not reached: every kind is handled */
}

bool sms_check_str(sms_check_t *c, const msgpack_object *m, const char *field, sms_check_kind_t kind, unsigned flags,
                   size_t min, size_t max, sms_str_t *out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    sms_str_t s;
    if (!sms_mp_str(o, &s.ptr, &s.len)) return sms_check_fail(c, field, "must be a string");
    if (!check_str_value(c, field, s, kind, min, max)) return false;
    if (out) *out = s;
    return true;
}

bool sms_check_i64(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, int64_t min,
                   int64_t max, int64_t *out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    int64_t v;
    if (!sms_mp_i64(o, &v))
        return sms_check_fail(c, field, "must be an integer from %lld to %lld", (long long)min, (long long)max);
    if (v < min || v > max)
        return sms_check_fail(c, field, "must be an integer from %lld to %lld (got %lld)", (long long)min,
                              (long long)max, (long long)v);
    if (out) *out = v;
    return true;
}

bool sms_check_time(sms_check_t *c, const msgpack_object *m, const char *field, int64_t *out) {
    return sms_check_i64(c, m, field, 0, 0, SMS_EVENT_TIME_MAX, out);
}

bool sms_check_counter(sms_check_t *c, const msgpack_object *m, const char *field, int64_t *out) {
    return sms_check_i64(c, m, field, 0, 1, SMS_EVENT_COUNTER_MAX, out);
}

bool sms_check_number(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, double min,
                      bool min_exclusive, double max, double *out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    double v;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: v = (double)o->via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v = (double)o->via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: v = o->via.f64; break;
    default: return sms_check_fail(c, field, "must be a number");
    }
    const char *bound = min_exclusive ? "above" : "from";
    if (!isfinite(v)) return sms_check_fail(c, field, "must be a finite number %s %.17g to %.17g", bound, min, max);
    if (v < min || (min_exclusive && v == min) || v > max)
        return sms_check_fail(c, field, "must be a number %s %.17g to %.17g (got %.17g)", bound, min, max, v);
    if (out) *out = v;
    return true;
}

bool sms_check_score(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, double *out) {
    return sms_check_number(c, m, field, flags, 0.0, false, SMS_EVENT_SCORE_MAX, out);
}

bool sms_check_bool(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, bool *out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    if (o->type != MSGPACK_OBJECT_BOOLEAN) return sms_check_fail(c, field, "must be true or false");
    if (out) *out = o->via.boolean;
    return true;
}

static bool in_values(sms_str_t s, const char *const *values) {
    for (size_t i = 0; values[i]; i++)
        if (str_eq(s, values[i])) return true;
    return false;
}

/* "a, b or c" into out. */
static void list_values(const char *const *values, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; values[i] && used < cap; i++) {
        const char *sep = i == 0 ? "" : values[i + 1] ? ", " : " or ";
        int n = snprintf(out + used, cap - used, "%s%s", sep, values[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

bool sms_check_enum(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags,
                    const char *const *values, sms_str_t *out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    sms_str_t s;
    if (!sms_mp_str(o, &s.ptr, &s.len) || !in_values(s, values)) {
        char list[160];
        list_values(values, list, sizeof list);
        return sms_check_fail(c, field, "must be %s", list);
    }
    if (out) *out = s;
    return true;
}

bool sms_check_array(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags, size_t min,
                     size_t max, const msgpack_object **out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    if (o->type != MSGPACK_OBJECT_ARRAY) return sms_check_fail(c, field, "must be an array of %zu to %zu", min, max);
    if (o->via.array.size < min || o->via.array.size > max)
        return sms_check_fail(c, field, "must be an array of %zu to %zu (got %u)", min, max, o->via.array.size);
    if (out) *out = o;
    return true;
}

bool sms_check_map(sms_check_t *c, const msgpack_object *m, const char *field, unsigned flags,
                   const msgpack_object **out) {
    const msgpack_object *o;
    if (!lookup(c, m, field, flags, &o)) return false;
    if (o == NULL) return true;
    if (o->type != MSGPACK_OBJECT_MAP) return sms_check_fail(c, field, "must be a map");
    if (out) *out = o;
    return true;
}

bool sms_check_each_str(sms_check_t *c, const msgpack_object *arr, const char *field, sms_check_kind_t kind,
                        size_t min, size_t max, const char *const *values) {
    if (c->failed) return false;
    if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY) return true; /* absent optional array */
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s[%u]", field, i);
        sms_str_t s;
        if (!sms_mp_str(&arr->via.array.ptr[i], &s.ptr, &s.len)) return sms_check_fail(c, name, "must be a string");
        if (values) {
            if (!in_values(s, values)) {
                char list[160];
                list_values(values, list, sizeof list);
                return sms_check_fail(c, name, "must be %s", list);
            }
        } else if (!check_str_value(c, name, s, kind, min, max)) {
            return false;
        }
    }
    return true;
}

size_t sms_check_enter(sms_check_t *c, const char *field, long index) {
    size_t saved = c->path_len;
    size_t room = sizeof c->path - c->path_len;
    int n = index >= 0 ? snprintf(c->path + c->path_len, room, "%s[%ld].", field, index)
                       : snprintf(c->path + c->path_len, room, "%s.", field);
    if (n > 0) c->path_len += (size_t)n < room ? (size_t)n : room - 1;
    return saved;
}

void sms_check_leave(sms_check_t *c, size_t saved) {
    c->path_len = saved;
    c->path[saved] = '\0';
}

const msgpack_object *sms_check_item(sms_check_t *c, const msgpack_object *arr, const char *field, uint32_t i,
                                     size_t *saved) {
    if (c->failed || arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY || i >= arr->via.array.size) return NULL;
    const msgpack_object *o = &arr->via.array.ptr[i];
    if (o->type != MSGPACK_OBJECT_MAP) {
        char name[64];
        snprintf(name, sizeof name, "%s[%u]", field, i);
        (void)sms_check_fail(c, name, "must be a map");
        return NULL;
    }
    *saved = sms_check_enter(c, field, (long)i);
    return o;
}

void sms_check_enrolled(sms_check_t *c, const msgpack_object *d,
                        void (*student)(sms_check_t *c, const msgpack_object *s)) {
    const msgpack_object *list = NULL;
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_counter(c, d, "roster_version", NULL);
    if (!sms_check_array(c, d, "students", 0, 0, SMS_EVENT_LIST_MAX, &list)) return;
    for (uint32_t i = 0; i < list->via.array.size && !c->failed; i++) {
        size_t saved;
        const msgpack_object *s = sms_check_item(c, list, "students", i, &saved);
        if (s == NULL) return;
        sms_check_str(c, s, "student_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
        if (student) student(c, s);
        sms_check_leave(c, saved);
    }
}

void sms_check_unenrolled(sms_check_t *c, const msgpack_object *d) {
    sms_check_str(c, d, "class_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
    sms_check_counter(c, d, "roster_version", NULL);
    sms_check_str(c, d, "student_id", SMS_CHECK_ID, 0, 1, SMS_EVENT_ID_MAX, NULL);
}
