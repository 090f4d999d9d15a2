/* validate.c - grading's event validator (see validate.h): a table of event
 * types, one check each, over small field readers that say which field is
 * wrong and why. Pure: no I/O, the same event always gets the same answer. */
#include "validate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "msgpack_util.h"
#include "number.h"
#include "schema.h"
#include "text.h"

typedef struct check_s {
    const msgpack_object *data;
    char *err;
    size_t errlen;
    bool failed;
} check_t;

static void fail(check_t *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first failure only: "<field>: <why>". */
static void fail(check_t *c, const char *field, const char *fmt, ...) {
    if (c->failed) return;
    c->failed = true;
    int n = snprintf(c->err, c->errlen, "%s: ", field);
    if (n < 0 || (size_t)n >= c->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A string of 1..max bytes of the id alphabet (what rosters and the gateway accept). */
static void id_field(check_t *c, const char *field, size_t max) {
    const char *s;
    size_t n;
    if (!sms_mp_str(sms_mp_map_get(c->data, field), &s, &n)) {
        fail(c, field, "is required and must be a string");
        return;
    }
    if (n < 1 || n > max) {
        fail(c, field, "must be 1 to %zu characters (got %zu)", max, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-' || ch == ':' || ch == '@')) {
            fail(c, field, "must hold only A-Z, a-z, 0-9 and . _ - : @");
            return;
        }
    }
}

/* Valid UTF-8 text of at most max code points; optional: absent or nil is fine. */
static void text_field(check_t *c, const char *field, size_t max, bool optional) {
    const msgpack_object *o = sms_mp_map_get(c->data, field);
    if (optional && (o == NULL || o->type == MSGPACK_OBJECT_NIL)) return;
    const char *s;
    size_t n, chars;
    if (!sms_mp_str(o, &s, &n)) fail(c, field, "is required and must be a string");
    else if ((chars = sms_text_chars(s, n)) == (size_t)-1) fail(c, field, "must be valid UTF-8 text");
    else if (chars > max) fail(c, field, "must be at most %zu characters (got %zu)", max, chars);
}

/* Who acted (a token's sub: any text), 1..256 bytes. */
static void actor_field(check_t *c, const char *field) {
    const char *s;
    size_t n;
    if (!sms_mp_str(sms_mp_map_get(c->data, field), &s, &n) || n < 1 || n > 256)
        fail(c, field, "is required: a string of 1 to 256 bytes");
}

static void int_field(check_t *c, const char *field, int64_t min, int64_t max) {
    int64_t v;
    if (sms_number_int(sms_mp_map_get(c->data, field), min, max, &v) != SMS_NUMBER_OK)
        fail(c, field, "must be an integer from %lld to %lld", (long long)min, (long long)max);
}

/* A score in points that is 0..GRADING_POINTS_MAX once in hundredths (the
 * view's Lua reads scores as unsigned digits: a negative one breaks it). */
static void points_field(check_t *c, const char *field, bool nullable) {
    const msgpack_object *o = sms_mp_map_get(c->data, field);
    if (nullable && o && o->type == MSGPACK_OBJECT_NIL) return;
    int64_t h;
    if (sms_number_hundredths(o, 0, (int64_t)GRADING_POINTS_MAX * 100, &h) != SMS_NUMBER_OK)
        fail(c, field, "must be a number from 0 to %d", GRADING_POINTS_MAX);
}

static void bool_field(check_t *c, const char *field) {
    const msgpack_object *o = sms_mp_map_get(c->data, field);
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN) fail(c, field, "is required and must be true or false");
}

/* The grade fields every grade event has. */
static void grade_common(check_t *c) {
    id_field(c, "assignment_id", GRADING_ID_MAX);
    id_field(c, "class_id", GRADING_ID_MAX);
    id_field(c, "student_id", GRADING_STUDENT_ID_MAX);
    points_field(c, "score", false);
    text_field(c, "feedback", GRADING_FEEDBACK_MAX, false);
    int_field(c, "grade_version", 1, SMS_NUMBER_SAFE_MAX);
}

static void check_changed(check_t *c) {
    grade_common(c);
    points_field(c, "previous_score", true);
    text_field(c, "previous_feedback", GRADING_FEEDBACK_MAX, true);
    bool_field(c, "released");
    actor_field(c, "changed_by");
    int_field(c, "changed_at", 0, SMS_NUMBER_SAFE_MAX);
}

static void check_released(check_t *c) { grade_common(c); }

static void check_corrected(check_t *c) {
    check_changed(c);
    text_field(c, "reason", 500, false);
    const msgpack_object *r = sms_mp_map_get(c->data, "repairs");
    const char *s;
    size_t n;
    if (r && r->type != MSGPACK_OBJECT_NIL && (!sms_mp_str(r, &s, &n) || n == 0 || n > 190))
        fail(c, "repairs", "must be nil or a position of 1 to 190 characters");
}

static void check_assignment(check_t *c) {
    id_field(c, "id", GRADING_ID_MAX);
    id_field(c, "class_id", GRADING_ID_MAX);
    actor_field(c, "lecturer_id");
    int_field(c, "version", 1, SMS_NUMBER_SAFE_MAX);
    points_field(c, "max_score", false);
    const char *s;
    size_t n;
    if (!sms_mp_str(sms_mp_map_get(c->data, "status"), &s, &n) || n < 1 || n > 32)
        fail(c, "status", "is required: a short string (open, deleted)");
    text_field(c, "title", 1000, true);
}

static void check_enrolled(check_t *c) {
    id_field(c, "class_id", GRADING_ID_MAX);
    int_field(c, "roster_version", 1, SMS_NUMBER_SAFE_MAX);
    const msgpack_object *list = sms_mp_map_get(c->data, "students");
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size > GRADING_ROSTER_MAX) {
        fail(c, "students", "must be an array of at most %d students", GRADING_ROSTER_MAX);
        return;
    }
    for (uint32_t i = 0; i < list->via.array.size && !c->failed; i++) {
        check_t row = {&list->via.array.ptr[i], c->err, c->errlen, false};
        if (row.data->type != MSGPACK_OBJECT_MAP) {
            fail(c, "students", "entry %u is not an object", i);
            return;
        }
        id_field(&row, "student_id", GRADING_STUDENT_ID_MAX);
        text_field(&row, "name", 200, true);
        c->failed = row.failed;
    }
}

static void check_unenrolled(check_t *c) {
    id_field(c, "class_id", GRADING_ID_MAX);
    id_field(c, "student_id", GRADING_STUDENT_ID_MAX);
    int_field(c, "roster_version", 1, SMS_NUMBER_SAFE_MAX);
}

/* Every type the grading view applies, named once. own: written by this
 * service, so a version this binary does not know cannot be applied; a
 * learned type of another version is not for this view (projection.c). */
static const struct {
    const char *type;
    bool own;
    void (*check)(check_t *c);
} event_types[] = {
    {"grade.changed", true, check_changed},
    {"grade.released", true, check_released},
    {"grade.corrected", true, check_corrected},
    {"assignment.created", false, check_assignment},
    {"assignment.updated", false, check_assignment},
    {"assignment.deleted", false, check_assignment},
    {"class.students_enrolled", false, check_enrolled},
    {"class.student_unenrolled", false, check_unenrolled},
};

int grading_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen) {
    (void)topic; /* types are unique across the topics grading reads */
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++) {
        const char *t = event_types[i].type;
        if (ev->type.len != strlen(t) || memcmp(ev->type.ptr, t, ev->type.len) != 0) continue;
        if (ev->v != GRADING_EVENT_VERSION) {
            if (!event_types[i].own) return 0;
            snprintf(err, errlen, "v: %s version %lld is not one this binary applies", t, (long long)ev->v);
            return -1;
        }
        check_t c = {ev->data, err, errlen, false};
        event_types[i].check(&c);
        return c.failed ? -1 : 0;
    }
    return 0;
}
