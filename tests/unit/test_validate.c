/* test_validate.c - the four services' event validators (services/<svc>/
 * validate.c over common/event_check.c): every golden event vector is valid
 * for every service (its owner's and each learner's row, and the rest say
 * "not mine"); the vector with an empty data map is refused by exactly the
 * services that apply it; and vectors re-packed with one field removed, of
 * the wrong type or out of range are refused with an error naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "event_check.h"
#include "unit_helpers.h"

/* Every service has a validate.h: name them by path. */
#include "../../services/assignments/validate.h"
#include "../../services/classes/validate.h"
#include "../../services/grading/validate.h"
#include "../../services/notifications/validate.h"
#include "../../services/identity/validate.h"
/* and grading's event packing, to check what its decider writes */
#include "../../services/grading/schema.h"

typedef int (*validate_fn)(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

typedef struct service_s {
    const char *name;
    validate_fn validate;
} service_t;

static const service_t services[] = {
    {"classes", classes_event_validate},
    {"assignments", assignments_event_validate},
    {"grading", grading_event_validate},
    {"notifications", notifications_event_validate},
    {"identity", identity_event_validate},
};
#define N_SERVICES (sizeof services / sizeof services[0])

static validate_fn service_fn(const char *name) {
    for (size_t i = 0; i < N_SERVICES; i++)
        if (strcmp(services[i].name, name) == 0) return services[i].validate;
    fail_msg("no service %s", name);
    return NULL;
}

/* Each event vector, the topic it is written to, and the services whose
 * view (or fan-out) reads it there: the owner first. */
typedef struct vector_s {
    const char *name;
    const char *topic;
    const char *readers; /* space-separated service names */
} vector_t;

static const vector_t vectors[] = {
    {"class.created.v1", "sms.events.classes", "classes assignments"},
    {"class.updated.v1", "sms.events.classes", "classes assignments"},
    {"class.deactivated.v1", "sms.events.classes", "classes assignments"},
    {"class.students_enrolled.v1", "sms.events.classes", "classes assignments grading notifications"},
    {"class.student_unenrolled.v1", "sms.events.classes", "classes assignments grading notifications"},
    {"post.created.v1", "sms.events.posts", "classes notifications"},
    {"post.updated.v1", "sms.events.posts", "classes"},
    {"chat.message_posted.v1", "sms.events.chat", "classes"},
    {"assignment.created.v1", "sms.events.assignments", "assignments grading notifications"},
    {"assignment.updated.v1", "sms.events.assignments", "assignments grading notifications"},
    {"assignment.deleted.v1", "sms.events.assignments", "assignments grading"},
    {"assignment.due_soon.v1", "sms.events.assignments", "assignments notifications"},
    {"submission.created.v1", "sms.events.assignments", "assignments"},
    {"upload.completed.v1", "sms.events.assignments", "assignments"},
    {"upload.expired.v1", "sms.events.assignments", "assignments"},
    {"grade.changed.v1", "sms.events.grades", "grading assignments notifications"},
    {"grade.released.v1", "sms.events.grades", "grading assignments notifications"},
    {"grade.corrected.v1", "sms.events.grades", "grading"},
    {"notification.created.v1", "sms.notifications", "notifications"},
    {"notifications.read.v1", "sms.events.notifications", "notifications"},
    {"notifications.preferences_set.v1", "sms.events.notifications", "notifications"},
    {"webhook.registered.v1", "sms.events.notifications", "notifications"},
    {"webhook.deleted.v1", "sms.events.notifications", "notifications"},
    {"user.created.v1", "sms.events.identity", "identity"},
    {"user.password_set.v1", "sms.events.identity", "identity"},
    {"user.deactivated.v1", "sms.events.identity", "identity"},
    {"session.started.v1", "sms.events.identity", "identity"},
    {"session.rotated.v1", "sms.events.identity", "identity"},
    {"session.revoked.v1", "sms.events.identity", "identity"},
    /* On sms.notifications.dlq, which no view tails: valid for all, read by none. */
    {"notification.dead_lettered.v1", "sms.notifications.dlq", ""},
};
#define N_VECTORS (sizeof vectors / sizeof vectors[0])

static bool reads(const vector_t *v, const char *service) {
    size_t n = strlen(service);
    for (const char *p = v->readers; (p = strstr(p, service)) != NULL; p += n)
        if ((p == v->readers || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

static const vector_t *vector_named(const char *name) {
    for (size_t i = 0; i < N_VECTORS; i++)
        if (strcmp(vectors[i].name, name) == 0) return &vectors[i];
    return NULL;
}

/* ---- re-packing a vector with one change ---- */

typedef enum {
    V_DELETE,     /* remove the key (or array element) */
    V_NIL,
    V_BOOL,
    V_I64,
    V_U64,
    V_F64,
    V_STR,        /* s */
    V_REPEAT,     /* a string of n copies of s[0] */
    V_STR_ARRAY,  /* an array of n copies of s */
    V_DUP_FIRST,  /* the array's first element n times */
    V_EMPTY_MAP,
} value_kind_t;

typedef struct value_s {
    value_kind_t kind;
    int64_t i;
    uint64_t u;
    double f;
    const char *s;
    size_t n;
} value_t;

static void pack_value(msgpack_packer *pk, const value_t *v, const msgpack_object *orig) {
    switch (v->kind) {
    case V_DELETE: break;
    case V_NIL: msgpack_pack_nil(pk); break;
    case V_BOOL:
        if (v->i) msgpack_pack_true(pk);
        else msgpack_pack_false(pk);
        break;
    case V_I64: msgpack_pack_int64(pk, v->i); break;
    case V_U64: msgpack_pack_uint64(pk, v->u); break;
    case V_F64: msgpack_pack_double(pk, v->f); break;
    case V_STR:
        msgpack_pack_str(pk, strlen(v->s));
        msgpack_pack_str_body(pk, v->s, strlen(v->s));
        break;
    case V_REPEAT: {
        char *buf = sms_malloc(v->n + 1);
        memset(buf, v->s[0], v->n);
        msgpack_pack_str(pk, v->n);
        msgpack_pack_str_body(pk, buf, v->n);
        sms_free(buf);
        break;
    }
    case V_STR_ARRAY:
        msgpack_pack_array(pk, v->n);
        for (size_t i = 0; i < v->n; i++) {
            msgpack_pack_str(pk, strlen(v->s));
            msgpack_pack_str_body(pk, v->s, strlen(v->s));
        }
        break;
    case V_DUP_FIRST:
        assert_true(orig != NULL && orig->type == MSGPACK_OBJECT_ARRAY && orig->via.array.size > 0);
        msgpack_pack_array(pk, v->n);
        for (size_t i = 0; i < v->n; i++) msgpack_pack_object(pk, orig->via.array.ptr[0]);
        break;
    case V_EMPTY_MAP: msgpack_pack_map(pk, 0); break;
    }
}

/* Packs o with the value at path ("data.students.1.student_id": keys and
 * array indexes) changed to v (added when the key is missing). */
static void repack(msgpack_packer *pk, const msgpack_object *o, const char *path, const value_t *v) {
    const char *dot = strchr(path, '.');
    size_t seg = dot ? (size_t)(dot - path) : strlen(path);
    const char *rest = dot ? dot + 1 : NULL;
    if (o->type == MSGPACK_OBJECT_MAP) {
        bool found = false;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            found |= kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == seg &&
                     memcmp(kv->key.via.str.ptr, path, seg) == 0;
        }
        bool add = !found && rest == NULL && v->kind != V_DELETE;
        msgpack_pack_map(pk, o->via.map.size + (add ? 1 : 0) - (found && rest == NULL && v->kind == V_DELETE ? 1 : 0));
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            bool hit = kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == seg &&
                       memcmp(kv->key.via.str.ptr, path, seg) == 0;
            if (hit && rest == NULL && v->kind == V_DELETE) continue;
            msgpack_pack_object(pk, kv->key);
            if (!hit) msgpack_pack_object(pk, kv->val);
            else if (rest) repack(pk, &kv->val, rest, v);
            else pack_value(pk, v, &kv->val);
        }
        if (add) {
            msgpack_pack_str(pk, seg);
            msgpack_pack_str_body(pk, path, seg);
            pack_value(pk, v, NULL);
        }
        return;
    }
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    size_t index = (size_t)strtoul(path, NULL, 10);
    assert_true(index < o->via.array.size);
    bool del = rest == NULL && v->kind == V_DELETE;
    msgpack_pack_array(pk, o->via.array.size - (del ? 1 : 0));
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        if (i != index) msgpack_pack_object(pk, o->via.array.ptr[i]);
        else if (rest) repack(pk, &o->via.array.ptr[i], rest, v);
        else if (!del) pack_value(pk, v, &o->via.array.ptr[i]);
    }
}

/* A decoded event and the buffer it borrows from. */
typedef struct event_s {
    msgpack_sbuffer sb;
    sms_event_t ev;
} event_t;

/* The vector, with path changed to v when path is not NULL. */
static void event_load(event_t *e, const char *vector, const char *path, const value_t *v) {
    size_t len;
    char *raw = unit_vector(vector, "msgpack", &len);
    msgpack_sbuffer_init(&e->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &e->sb, msgpack_sbuffer_write);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, raw, len, NULL), MSGPACK_UNPACK_SUCCESS);
    if (path) repack(&pk, &u.data, path, v);
    else msgpack_pack_object(&pk, u.data);
    msgpack_unpacked_destroy(&u);
    sms_free(raw);
    assert_int_equal(sms_event_decode(e->sb.data, e->sb.size, &e->ev), SMS_OK);
}

static void event_free(event_t *e) {
    sms_event_close(&e->ev);
    msgpack_sbuffer_destroy(&e->sb);
}

/* ---- the golden vectors are valid ---- */

static void test_vectors_valid_everywhere(void **state) {
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        event_t e;
        event_load(&e, vectors[i].name, NULL, NULL);
        for (size_t s = 0; s < N_SERVICES; s++) {
            char err[256] = "";
            int rc = services[s].validate(vectors[i].topic, &e.ev, err, sizeof err);
            if (rc != 0) fail_msg("%s refuses %s: %s", services[s].name, vectors[i].name, err);
            assert_string_equal(err, "");
        }
        event_free(&e);
    }
}

/* An empty data map is refused by exactly the services that apply the event
 * from its topic: so the table rows that made the vectors valid did run. */
static void test_empty_data_refused_by_readers_only(void **state) {
    (void)state;
    const value_t empty = {.kind = V_EMPTY_MAP};
    for (size_t i = 0; i < N_VECTORS; i++) {
        event_t e;
        event_load(&e, vectors[i].name, "data", &empty);
        for (size_t s = 0; s < N_SERVICES; s++) {
            char err[256] = "";
            int rc = services[s].validate(vectors[i].topic, &e.ev, err, sizeof err);
            if (reads(&vectors[i], services[s].name)) {
                if (rc != -1) fail_msg("%s accepts %s with empty data", services[s].name, vectors[i].name);
                assert_non_null(strstr(err, "data."));
                assert_non_null(strstr(err, "is required"));
            } else if (rc != 0) {
                fail_msg("%s refuses %s, which it does not read: %s", services[s].name, vectors[i].name, err);
            }
        }
        event_free(&e);
    }
}

/* Every event vector in schemas/vectors/ is in the table above (a new one
 * must say who reads it). */
static void test_every_event_vector_listed(void **state) {
    (void)state;
    DIR *d = opendir(SMS_VECTORS_DIR);
    assert_non_null(d);
    size_t events = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        if (n < 9 || strcmp(de->d_name + n - 8, ".msgpack") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 8), de->d_name);
        size_t len;
        char *raw = unit_vector(name, "msgpack", &len);
        sms_event_t ev;
        if (sms_event_decode(raw, len, &ev) == SMS_OK) { /* commands and replies lack cause or type */
            events++;
            if (vector_named(name) == NULL) fail_msg("event vector %s is not in test_validate's table", name);
            sms_event_close(&ev);
        }
        sms_free(raw);
    }
    closedir(d);
    assert_int_equal(events, N_VECTORS);
}

/* ---- invalid variants ---- */

typedef struct variant_s {
    const char *service;
    const char *vector;
    const char *path;
    value_t value;
    const char *field; /* what the error must name; NULL: the variant is valid (0) */
} variant_t;

#define DEL {.kind = V_DELETE}
#define NIL {.kind = V_NIL}
#define BOOLV(b) {.kind = V_BOOL, .i = (b)}
#define I64(x) {.kind = V_I64, .i = (x)}
#define U64(x) {.kind = V_U64, .u = (x)}
#define F64(x) {.kind = V_F64, .f = (x)}
#define STR(x) {.kind = V_STR, .s = (x)}
#define REPEAT(c, k) {.kind = V_REPEAT, .s = (c), .n = (k)}
#define STRS(x, k) {.kind = V_STR_ARRAY, .s = (x), .n = (k)}
#define DUP(k) {.kind = V_DUP_FIRST, .n = (k)}

static const variant_t variants[] = {
    /* grading: the issue's poisoned scores, and what the grade script parses */
    {"grading", "grade.changed.v1", "data.score", F64(-92233720368547758.08), "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(1e17), "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(1e308), "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(INFINITY), "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(NAN), "data.score"},
    {"grading", "grade.changed.v1", "data.score", I64(-1), "data.score"},
    {"grading", "grade.changed.v1", "data.score", I64(INT64_MIN), "data.score"},
    {"grading", "grade.changed.v1", "data.score", U64(UINT64_MAX), "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(1000000.01), "data.score"},
    {"grading", "grade.changed.v1", "data.score", STR("18"), "data.score"},
    {"grading", "grade.changed.v1", "data.score", DEL, "data.score"},
    {"grading", "grade.changed.v1", "data.score", F64(-0.0), NULL},
    {"grading", "grade.changed.v1", "data.score", F64(1000000), NULL},
    {"grading", "grade.changed.v1", "data.score", F64(87.25), NULL},
    {"grading", "grade.changed.v1", "data.grade_version", I64(0), "data.grade_version"},
    {"grading", "grade.changed.v1", "data.grade_version", I64(-1), "data.grade_version"},
    {"grading", "grade.changed.v1", "data.grade_version", F64(1.0), "data.grade_version"},
    {"grading", "grade.changed.v1", "data.grade_version", I64(9007199254740992LL), "data.grade_version"},
    {"grading", "grade.changed.v1", "data.student_id", DEL, "data.student_id"},
    {"grading", "grade.changed.v1", "data.student_id", REPEAT("s", 65), "data.student_id"},
    {"grading", "grade.changed.v1", "data.student_id", STR("s 1"), "data.student_id"},
    {"grading", "grade.changed.v1", "data.student_id", I64(7), "data.student_id"},
    {"grading", "grade.changed.v1", "data.assignment_id", STR(""), "data.assignment_id"},
    {"grading", "grade.changed.v1", "data.class_id", DEL, "data.class_id"},
    {"grading", "grade.changed.v1", "data.feedback", REPEAT("f", 2001), "data.feedback"},
    {"grading", "grade.changed.v1", "data.feedback", STR("bad \xff byte"), "data.feedback"},
    {"grading", "grade.changed.v1", "data.feedback", NIL, "data.feedback"},
    {"grading", "grade.changed.v1", "data.previous_score", F64(-0.5), "data.previous_score"},
    {"grading", "grade.changed.v1", "data.previous_score", F64(17.5), NULL},
    {"grading", "grade.changed.v1", "data.previous_feedback", I64(1), "data.previous_feedback"},
    {"grading", "grade.changed.v1", "data.released", DEL, "data.released"},
    {"grading", "grade.changed.v1", "data.released", I64(1), "data.released"},
    {"grading", "grade.changed.v1", "data.changed_at", I64(-1), "data.changed_at"},
    {"grading", "grade.changed.v1", "data.changed_at", I64(SMS_EVENT_TIME_MAX + 1), "data.changed_at"},
    {"grading", "grade.changed.v1", "data.changed_by", STR(""), "data.changed_by"},
    {"grading", "grade.changed.v1", "time", I64(-1), "time"},
    {"grading", "grade.changed.v1", "v", I64(2), "v is not a version"},
    {"grading", "grade.released.v1", "data.score", F64(1e17), "data.score"},
    {"grading", "grade.released.v1", "data.grade_version", I64(0), "data.grade_version"},
    {"grading", "grade.released.v1", "v", I64(3), "v is not a version"},
    /* grading: learned events */
    {"grading", "assignment.created.v1", "data.max_score", F64(1e17), "data.max_score"},
    {"grading", "assignment.created.v1", "data.max_score", I64(0), "data.max_score"},
    {"grading", "assignment.created.v1", "data.max_score", F64(-20), "data.max_score"},
    {"grading", "assignment.created.v1", "data.version", I64(0), "data.version"},
    {"grading", "assignment.created.v1", "data.status", STR("closed"), "data.status"},
    {"grading", "assignment.created.v1", "data.title", DEL, NULL}, /* the view does not need it */
    {"grading", "assignment.created.v1", "v", I64(2), NULL},       /* learned, unknown version: not for this view */
    {"grading", "class.students_enrolled.v1", "data.students.1.student_id", DEL, "data.students[1].student_id"},
    {"grading", "class.students_enrolled.v1", "data.students.0", I64(1), "data.students[0]"},
    {"grading", "class.students_enrolled.v1", "data.students", STR("s-1"), "data.students"},
    {"grading", "class.students_enrolled.v1", "data.roster_version", I64(0), "data.roster_version"},
    {"grading", "class.students_enrolled.v1", "data.students", DUP(1000), NULL}, /* larger than a command's 500 */
    {"grading", "class.students_enrolled.v1", "data.students", DUP(10001), "data.students"},
    {"grading", "class.student_unenrolled.v1", "data.student_id", DEL, "data.student_id"},
    {"grading", "class.created.v1", "data.version", I64(0), NULL}, /* not an event grading applies */
    /* assignments: own events */
    {"assignments", "assignment.created.v1", "data.due_at", I64(1000000000000000LL), "data.due_at"},
    {"assignments", "assignment.created.v1", "data.due_at", I64(-1), "data.due_at"},
    {"assignments", "assignment.created.v1", "data.title", REPEAT("t", 201), "data.title"},
    {"assignments", "assignment.created.v1", "data.title", STR(""), "data.title"},
    {"assignments", "assignment.created.v1", "data.description", REPEAT("d", 5001), "data.description"},
    {"assignments", "assignment.created.v1", "data.max_score", F64(-5), "data.max_score"},
    {"assignments", "assignment.created.v1", "data.max_score", F64(1000000.5), "data.max_score"},
    {"assignments", "assignment.created.v1", "data.lecturer_id", REPEAT("l", 128), "data.lecturer_id"},
    {"assignments", "assignment.created.v1", "data.id", STR("a:b"), "data.id"},
    {"assignments", "assignment.created.v1", "v", I64(2), "v is not a version"},
    {"assignments", "assignment.updated.v1", "data.changed", STRS("due", 1), "data.changed[0]"},
    {"assignments", "assignment.updated.v1", "data.changed", DEL, "data.changed"},
    {"assignments", "assignment.due_soon.v1", "data.window_s", I64(10), "data.window_s"},
    {"assignments", "submission.created.v1", "data.upload_ids", STRS("01JDQ29Z8Y7X6W5V4T3S2R1Q0P", 11), "data.upload_ids"},
    {"assignments", "submission.created.v1", "data.upload_ids.0", STR("x"), "data.upload_ids[0]"},
    {"assignments", "submission.created.v1", "data.version", I64(0), "data.version"},
    {"assignments", "submission.created.v1", "data.text", REPEAT("x", 20001), "data.text"},
    {"assignments", "submission.created.v1", "data.late", STR("no"), "data.late"},
    {"assignments", "upload.completed.v1", "data.sha256", REPEAT("F", 64), "data.sha256"},
    {"assignments", "upload.completed.v1", "data.size", I64(0), "data.size"},
    {"assignments", "upload.expired.v1", "data.size", I64(0), "data.size"},
    {"assignments", "upload.expired.v1", "data.student_id", DEL, "data.student_id"},
    {"assignments", "upload.completed.v1", "data.upload_id", STR("01jdq29z8y7x6w5v4t3s2r1q0p"), "data.upload_id"},
    {"assignments", "upload.completed.v1", "data.student_id", DEL, NULL}, /* the actor is the owner */
    /* assignments: learned events, by topic */
    {"assignments", "grade.changed.v1", "data.grade_version", I64(0), "data.grade_version"},
    {"assignments", "grade.changed.v1", "data.score", F64(1e17), "data.score"},
    {"assignments", "grade.released.v1", "data.student_id", DEL, "data.student_id"},
    {"assignments", "class.created.v1", "data.status", STR("paused"), "data.status"},
    {"assignments", "class.created.v1", "data.lecturer_id", REPEAT("l", 128), "data.lecturer_id"},
    {"assignments", "class.created.v1", "data.code", DEL, NULL}, /* the view keeps no code */
    {"assignments", "class.students_enrolled.v1", "data.students.0.student_id", I64(5), "data.students[0].student_id"},
    /* classes */
    {"classes", "class.created.v1", "data.code", REPEAT("C", 65), "data.code"},
    {"classes", "class.created.v1", "data.name", STR(""), "data.name"},
    {"classes", "class.created.v1", "data.status", STR("paused"), "data.status"},
    {"classes", "class.created.v1", "data.version", I64(0), "data.version"},
    {"classes", "class.created.v1", "data.lecturer_id", DEL, "data.lecturer_id"},
    {"classes", "class.created.v1", "data.created_at", F64(1764061200000.0), "data.created_at"},
    {"classes", "class.created.v1", "v", I64(2), "v is not a version"},
    {"classes", "class.updated.v1", "data.changed", STRS("foo", 1), "data.changed[0]"},
    {"classes", "class.updated.v1", "data.changed", STRS("name", 0), "data.changed"},
    {"classes", "class.students_enrolled.v1", "data.students", DUP(10001), "data.students"},
    {"classes", "class.students_enrolled.v1", "data.students", DUP(1000), NULL}, /* as the e2e seeder writes */
    {"classes", "class.students_enrolled.v1", "data.students", STRS("x", 0), "data.students"},
    {"classes", "class.students_enrolled.v1", "data.already_enrolled", DEL, NULL}, /* read as 0 */
    {"classes", "class.students_enrolled.v1", "data.already_enrolled", I64(501), "data.already_enrolled"},
    {"classes", "class.students_enrolled.v1", "data.students.0.email", STR("not-an-email"), "data.students[0].email"},
    {"classes", "class.students_enrolled.v1", "data.students.1.name", REPEAT("n", 201), "data.students[1].name"},
    {"classes", "class.students_enrolled.v1", "data.already_enrolled", I64(-1), "data.already_enrolled"},
    {"classes", "class.student_unenrolled.v1", "data.roster_version", I64(0), "data.roster_version"},
    {"classes", "post.created.v1", "data.body", REPEAT("b", 10001), "data.body"},
    {"classes", "post.created.v1", "data.pinned", DEL, "data.pinned"},
    {"classes", "chat.message_posted.v1", "data.seq", I64(0), "data.seq"},
    {"classes", "chat.message_posted.v1", "data.author_role", STR("admin"), "data.author_role"},
    {"classes", "chat.message_posted.v1", "data.text", STR(""), "data.text"},
    /* notifications */
    {"notifications", "notification.created.v1", "data.id", STR("short"), "data.id"},
    {"notifications", "notification.created.v1", "data.kind", STR("spam"), "data.kind"},
    {"notifications", "notification.created.v1", "data.recipient_id", DEL, "data.recipient_id"},
    {"notifications", "notification.created.v1", "data.channel_hints", STRS("sms", 1), "data.channel_hints[0]"},
    {"notifications", "notification.created.v1", "data.body", REPEAT("b", 2049), "data.body"},
    {"notifications", "notifications.read.v1", "data.ids.0", STR("x"), "data.ids[0]"},
    {"notifications", "notifications.read.v1", "data.ids", STRS("01KAX90920YYEX8VW31Y7FV6Z6", 501), "data.ids"},
    {"notifications", "notifications.read.v1", "data.up_to", STR("x"), "data.up_to"},
    {"notifications", "notifications.read.v1", "data.marked", I64(-1), "data.marked"},
    {"notifications", "notifications.preferences_set.v1", "data.preferences.channels.email", STR("yes"),
     "data.preferences.channels.email"},
    {"notifications", "notifications.preferences_set.v1", "data.preferences.channels.inbox", BOOLV(0),
     "data.preferences.channels.inbox"},
    {"notifications", "notifications.preferences_set.v1", "data.preferences.kinds.grades", DEL,
     "data.preferences.kinds.grades"},
    {"notifications", "webhook.registered.v1", "data.url", STR("ftp://hooks.school.edu"), "data.url"},
    {"notifications", "webhook.registered.v1", "data.secret", STR("short"), "data.secret"},
    {"notifications", "webhook.registered.v1", "data.events", STRS("nope", 1), "data.events[0]"},
    {"notifications", "webhook.deleted.v1", "data.webhook_id", DEL, "data.webhook_id"},
    {"notifications", "class.students_enrolled.v1", "data.students.0.email", STR("a\nb@x.edu"),
     "data.students[0].email"},
    {"notifications", "post.created.v1", "data.title", DEL, "data.title"},
    {"notifications", "grade.changed.v1", "data.score", F64(-92233720368547758.08), "data.score"},
    {"notifications", "assignment.due_soon.v1", "data.window_s", I64(0), "data.window_s"},
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

static void test_invalid_variants(void **state) {
    (void)state;
    for (size_t i = 0; i < N_VARIANTS; i++) {
        const variant_t *t = &variants[i];
        const vector_t *vec = vector_named(t->vector);
        assert_non_null(vec);
        event_t e;
        event_load(&e, t->vector, t->path, &t->value);
        char err[256] = "";
        int rc = service_fn(t->service)(vec->topic, &e.ev, err, sizeof err);
        if (t->field == NULL) {
            if (rc != 0) fail_msg("variant %zu (%s %s %s) refused: %s", i, t->service, t->vector, t->path, err);
        } else {
            if (rc != -1) fail_msg("variant %zu (%s %s %s) accepted", i, t->service, t->vector, t->path);
            if (strstr(err, t->field) == NULL)
                fail_msg("variant %zu (%s %s %s): error \"%s\" does not name %s", i, t->service, t->vector, t->path,
                         err, t->field);
        }
        event_free(&e);
    }
}

/* The issue's event, as the error shows it. */
static void test_issue_score_message(void **state) {
    (void)state;
    const value_t v = F64(-92233720368547758.08);
    event_t e;
    event_load(&e, "grade.changed.v1", "data.score", &v);
    char err[256];
    assert_int_equal(grading_event_validate("sms.events.grades", &e.ev, err, sizeof err), -1);
    assert_string_equal(err, "grade.changed v1: data.score must be a number from 0 to 1000000 "
                             "(got -92233720368547760)");
    event_free(&e);
}

/* A learned event is checked only from the topic its view applies it from;
 * NULL or "" is the service's own events topic (a decision's default). */
static void test_topics(void **state) {
    (void)state;
    const value_t zero = I64(0);
    event_t e;
    event_load(&e, "grade.changed.v1", "data.grade_version", &zero);
    char err[256];
    assert_int_equal(assignments_event_validate("sms.events.grades", &e.ev, err, sizeof err), -1);
    assert_int_equal(assignments_event_validate("sms.events.classes", &e.ev, err, sizeof err), 0);
    assert_int_equal(notifications_event_validate("sms.events.grades", &e.ev, err, sizeof err), 0); /* only score, ids */
    assert_int_equal(grading_event_validate(NULL, &e.ev, err, sizeof err), -1);
    assert_int_equal(grading_event_validate("", &e.ev, err, sizeof err), -1);
    event_free(&e);

    const value_t big = I64(1000000000000000LL);
    event_load(&e, "assignment.created.v1", "data.due_at", &big);
    assert_int_equal(assignments_event_validate(NULL, &e.ev, err, sizeof err), -1);
    assert_int_equal(assignments_event_validate("sms.events.grades", &e.ev, err, sizeof err), 0);
    event_free(&e);

    const value_t none = DEL;
    event_load(&e, "notifications.read.v1", "data.user_id", &none);
    assert_int_equal(notifications_event_validate(NULL, &e.ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "data.user_id"));
    event_free(&e);
}

/* An unknown type is valid for every view (not for it), whatever its data. */
static void test_unknown_type(void **state) {
    (void)state;
    const value_t t = STR("grade.appealed");
    event_t e;
    event_load(&e, "grade.changed.v1", "type", &t);
    for (size_t s = 0; s < N_SERVICES; s++) {
        char err[64] = "x";
        assert_int_equal(services[s].validate("sms.events.grades", &e.ev, err, sizeof err), 0);
        assert_string_equal(err, "");
    }
    event_free(&e);
}

/* A short err buffer is cut, NUL-terminated; none at all is allowed. */
static void test_short_err(void **state) {
    (void)state;
    const value_t v = F64(1e17);
    event_t e;
    event_load(&e, "grade.changed.v1", "data.score", &v);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(grading_event_validate("sms.events.grades", &e.ev, err, sizeof err), -1);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_int_equal(grading_event_validate("sms.events.grades", &e.ev, NULL, 0), -1);
    event_free(&e);
}

/* What grading's decider packs (schema.c) for a grade change of h
 * hundredths, as a whole grade.changed event. */
static void pack_grade(msgpack_sbuffer *sb, int64_t h, int64_t grade_version) {
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, SMS_STR("01JDQ2B3C4D5E6F7G8H9J0K1M2"), SMS_STR("grade.changed"), GRADING_EVENT_VERSION,
                        1764070200000, SMS_STR("L1"), SMS_STR("A1"), SMS_STR("L1:k"));
    grading_change_t c = {.student_id = SMS_STR("s-1"), .score = h, .feedback = SMS_STR("ok"),
                          .grade_version = grade_version};
    grading_pack_changed(&pk, "A1", "C1", &c, SMS_STR("L1"), 1764070200000);
}

/* The decider's own packing: the largest score (max_score 1000000) and 0
 * pass; the issue's INT64_MIN hundredths (1e17 points overflowing) and a
 * grade_version 0 do not. */
static void test_grading_packed_events(void **state) {
    (void)state;
    const struct { int64_t h, version; int want; } cases[] = {
        {100000000, 1, 0}, {0, 1, 0}, {8725, 7, 0}, {INT64_MIN, 1, -1}, {100000001, 1, -1}, {-1, 1, -1}, {5000, 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer sb;
        pack_grade(&sb, cases[i].h, cases[i].version);
        sms_event_t ev;
        assert_int_equal(sms_event_decode(sb.data, sb.size, &ev), SMS_OK);
        char err[256] = "";
        int rc = grading_event_validate(NULL, &ev, err, sizeof err);
        if (rc != cases[i].want) fail_msg("case %zu (%lld hundredths, version %lld): %d %s", i, (long long)cases[i].h,
                                          (long long)cases[i].version, rc, err);
        sms_event_close(&ev);
        msgpack_sbuffer_destroy(&sb);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_valid_everywhere),
        cmocka_unit_test(test_empty_data_refused_by_readers_only),
        cmocka_unit_test(test_every_event_vector_listed),
        cmocka_unit_test(test_invalid_variants),
        cmocka_unit_test(test_issue_score_message),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_short_err),
        cmocka_unit_test(test_grading_packed_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
