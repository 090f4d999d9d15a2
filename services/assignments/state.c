/* state.c - per-batch cache and overlay of the assignments view (see
 * state.h): the wants of the command table's prefetch, read in one
 * pipeline (and a second round for submissions), and the decisions' overlay. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "msgpack_util.h"
#include "view.h"
#include "redis.h"

char assignments_absent, assignments_present;

void assignments_state_init(assignments_state_t *st, redisContext *rc) {
    memset(st, 0, sizeof *st);
    st->rc = rc;
    sms_strmap_init(&st->assignments);
    sms_strmap_init(&st->classes);
    sms_strmap_init(&st->enrolled);
    sms_strmap_init(&st->versions);
    sms_strmap_init(&st->uploads);
}

static void free_assignment(void *v) {
    assignments_assignment_clear(v);
    sms_free(v);
}

void assignments_state_close(assignments_state_t *st) {
    sms_strmap_free_values(&st->assignments, free_assignment, &assignments_absent);
    sms_strmap_free_values(&st->classes, sms_free, &assignments_absent);
    sms_strmap_free_values(&st->versions, sms_free, &assignments_absent);
    sms_strmap_free_values(&st->uploads, sms_free, &assignments_absent);
    sms_strmap_close(&st->assignments);
    sms_strmap_close(&st->classes);
    sms_strmap_close(&st->enrolled); /* values are markers */
    sms_strmap_close(&st->versions);
    sms_strmap_close(&st->uploads);
    sms_free(st->want_assignments.ids);
    sms_free(st->want_classes.ids);
    sms_free(st->want_uploads.ids);
    sms_free(st->want_submissions);
}

void assignments_from_hash(const redisReply *r, const char *id, size_t idlen, assignments_assignment_t *a) {
    memset(a, 0, sizeof *a);
    assignments_set(&a->id, id, idlen);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        redisReply *v = r->element[i + 1];
        if (!strcmp(f, "class_id")) assignments_set(&a->class_id, v->str, v->len);
        else if (!strcmp(f, "lecturer_id")) assignments_set(&a->lecturer_id, v->str, v->len);
        else if (!strcmp(f, "title")) assignments_set(&a->title, v->str, v->len);
        else if (!strcmp(f, "description")) assignments_set(&a->description, v->str, v->len);
        else if (!strcmp(f, "status")) assignments_set(&a->status, v->str, v->len);
        else if (!strcmp(f, "due_at")) a->due_at = atoll(v->str);
        else if (!strcmp(f, "max_score")) a->max_score = strtod(v->str, NULL);
        else if (!strcmp(f, "created_at")) a->created_at = atoll(v->str);
        else if (!strcmp(f, "updated_at")) a->updated_at = atoll(v->str);
        else if (!strcmp(f, "version")) a->version = atoll(v->str);
        else if (!strcmp(f, "submission_count")) a->submission_count = atoll(v->str);
        else if (!strcmp(f, "graded_count")) a->graded_count = atoll(v->str);
    }
    /* Strings the hash always has; guard against a half-written entry anyway. */
    char **strs[] = {&a->class_id, &a->lecturer_id, &a->title, &a->description, &a->status};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (*strs[i] == NULL) *strs[i] = sms_strdup("");
}

static void class_from_hash(const redisReply *r, assignments_class_t *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        const char *v = r->element[i + 1]->str;
        if (!strcmp(f, "lecturer_id")) snprintf(c->lecturer_id, sizeof c->lecturer_id, "%s", v);
        else if (!strcmp(f, "status")) snprintf(c->status, sizeof c->status, "%s", v);
        else if (!strcmp(f, "version")) c->version = atoll(v);
    }
}

/* "<a>\n<b>" into buf (cap bytes); returns its length, 0 if it does not fit. */
static size_t pair_key(char *buf, size_t cap, sms_str_t a, sms_str_t b) {
    if (a.len + b.len + 2 > cap) return 0;
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\n';
    memcpy(buf + a.len + 1, b.ptr, b.len);
    buf[a.len + 1 + b.len] = '\0';
    return a.len + 1 + b.len;
}

/* ---- what the batch wants ---- */

/* Adds id to list unless map knows it already (it is then marked absent
 * until its read says otherwise). Ids of 1..127 bytes only: longer ones
 * name nothing in the view. */
static void want(sms_strmap_t *map, assignments_want_list_t *list, sms_str_t id) {
    if (id.len == 0 || id.len >= 128 || sms_strmap_get(map, id.ptr, id.len) != NULL) return;
    sms_strmap_put(map, id.ptr, id.len, &assignments_absent);
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->ids = sms_realloc(list->ids, list->cap * sizeof *list->ids);
    }
    list->ids[list->n++] = id;
}

void assignments_state_want_assignment(assignments_state_t *st, sms_str_t id) {
    want(&st->assignments, &st->want_assignments, id);
}

void assignments_state_want_class(assignments_state_t *st, sms_str_t class_id) {
    want(&st->classes, &st->want_classes, class_id);
}

void assignments_state_want_upload(assignments_state_t *st, sms_str_t upload_id) {
    want(&st->uploads, &st->want_uploads, upload_id);
}

void assignments_state_want_submission(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student) {
    assignments_state_want_assignment(st, assignment_id);
    if (st->n_want_submissions == st->cap_want_submissions) {
        st->cap_want_submissions = st->cap_want_submissions ? st->cap_want_submissions * 2 : 16;
        st->want_submissions =
            sms_realloc(st->want_submissions, st->cap_want_submissions * sizeof *st->want_submissions);
    }
    st->want_submissions[st->n_want_submissions++] = (assignments_want_pair_t){assignment_id, student};
}

/* ---- reading it ---- */

/* First round: every wanted assignment, class and upload owner. */
static void send_first_round(assignments_state_t *st) {
    for (size_t i = 0; i < st->want_assignments.n; i++) {
        sms_str_t id = st->want_assignments.ids[i];
        redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT) "%b", id.ptr, id.len);
    }
    for (size_t i = 0; i < st->want_classes.n; i++) {
        sms_str_t id = st->want_classes.ids[i];
        redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_CLASS) "%b", id.ptr, id.len);
    }
    for (size_t i = 0; i < st->want_uploads.n; i++) {
        sms_str_t id = st->want_uploads.ids[i];
        redisAppendCommand(st->rc, "HGET " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UPLOAD) "%b " ASSIGNMENTS_FIELD_OWNER,
                           id.ptr, id.len);
    }
}

/* Reads one reply of a pipeline into *r: 0, or -1 (connection lost). */
static int read_one(assignments_state_t *st, redisReply **r) { return sms_redis_get_replies(st->rc, r, 1); }

static int read_first_round(assignments_state_t *st) {
    int rc = 0;
    redisReply *r;
    for (size_t i = 0; i < st->want_assignments.n; i++) {
        if (read_one(st, &r) != 0) return -1; /* the connection is unusable; the caller reconnects */
        sms_str_t id = st->want_assignments.ids[i];
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            assignments_assignment_t *a = sms_malloc(sizeof *a);
            assignments_from_hash(r, id.ptr, id.len, a);
            sms_strmap_put(&st->assignments, id.ptr, id.len, a); /* replaces the absent marker */
        }
        if (sms_redis_free_replies(&r, 1) != 0) rc = -1;
    }
    for (size_t i = 0; i < st->want_classes.n; i++) {
        if (read_one(st, &r) != 0) return -1;
        sms_str_t id = st->want_classes.ids[i];
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            assignments_class_t *cl = sms_malloc(sizeof *cl);
            class_from_hash(r, cl);
            sms_strmap_put(&st->classes, id.ptr, id.len, cl);
        }
        if (sms_redis_free_replies(&r, 1) != 0) rc = -1;
    }
    for (size_t i = 0; i < st->want_uploads.n; i++) {
        if (read_one(st, &r) != 0) return -1;
        sms_str_t id = st->want_uploads.ids[i];
        if (r->type == REDIS_REPLY_STRING) assignments_state_put_upload(st, id, (sms_str_t){r->str, r->len});
        if (sms_redis_free_replies(&r, 1) != 0) rc = -1;
    }
    return rc;
}

/* Second round, once the submissions' assignments are known (those of the
 * view; one created earlier in the batch is answered stale): the
 * assignment's class, the student's enrollment and latest version. */
static int submissions_round(assignments_state_t *st) {
    size_t sent = 0;
    for (size_t i = 0; i < st->n_want_submissions; i++) {
        assignments_want_pair_t *w = &st->want_submissions[i];
        const assignments_assignment_t *a = assignments_state_assignment(st, w->assignment_id);
        if (a == NULL) continue;
        st->want_submissions[sent++] = *w; /* keeps those asked, in order */
        redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_CLASS) "%s", a->class_id);
        redisAppendCommand(st->rc, "SISMEMBER " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ROSTER) "%s %b", a->class_id,
                           w->student.ptr, w->student.len);
        redisAppendCommand(st->rc, "HGET " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_SUBMISSION_VERSIONS) "%b %b",
                           w->assignment_id.ptr, w->assignment_id.len, w->student.ptr, w->student.len);
    }
    int rc = 0;
    for (size_t i = 0; i < sent; i++) {
        assignments_want_pair_t *w = &st->want_submissions[i];
        sms_str_t cid = SMS_STR(assignments_state_assignment(st, w->assignment_id)->class_id);
        redisReply *r[3];
        if (sms_redis_get_replies(st->rc, r, 3) != 0) return -1;
        if (sms_strmap_get(&st->classes, cid.ptr, cid.len) == NULL) {
            void *v = &assignments_absent;
            if (r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements > 0) {
                assignments_class_t *cl = sms_malloc(sizeof *cl);
                class_from_hash(r[0], cl);
                v = cl;
            }
            sms_strmap_put(&st->classes, cid.ptr, cid.len, v);
        }
        assignments_state_put_enrolled(st, cid, w->student, r[1]->type == REDIS_REPLY_INTEGER && r[1]->integer == 1);
        char key[300];
        size_t kn = pair_key(key, sizeof key, w->assignment_id, w->student);
        /* Only the first command of a (assignment, student) reads the view; later ones see the overlay. */
        if (kn && sms_strmap_get(&st->versions, key, kn) == NULL)
            assignments_state_put_submission_version(st, w->assignment_id, w->student,
                                                     r[2]->type == REDIS_REPLY_STRING ? atoll(r[2]->str) : 0);
        if (sms_redis_free_replies(r, 3) != 0) rc = -1;
    }
    return rc;
}

int assignments_state_fetch(void *state) {
    assignments_state_t *st = state;
    if (st->rc == NULL) return 0; /* unit tests: the state is filled by hand */
    send_first_round(st);
    if (read_first_round(st) != 0) return -1;
    return submissions_round(st);
}

void *assignments_state_new(redisContext *rc) {
    assignments_state_t *st = sms_malloc(sizeof *st);
    assignments_state_init(st, rc);
    return st;
}

void assignments_state_free(void *state) {
    assignments_state_close(state);
    sms_free(state);
}

const char *assignments_state_upload_owner(assignments_state_t *st, sms_str_t upload_id) {
    void *v = sms_strmap_get(&st->uploads, upload_id.ptr, upload_id.len);
    return v == &assignments_absent ? NULL : v;
}

void assignments_state_put_upload(assignments_state_t *st, sms_str_t upload_id, sms_str_t owner) {
    void *prev = sms_strmap_put(&st->uploads, upload_id.ptr, upload_id.len, sms_strndup(owner.ptr, owner.len));
    if (prev && prev != &assignments_absent) sms_free(prev);
}

const assignments_assignment_t *assignments_state_assignment(assignments_state_t *st, sms_str_t id) {
    void *v = sms_strmap_get(&st->assignments, id.ptr, id.len);
    return v == &assignments_absent ? NULL : v;
}

const assignments_class_t *assignments_state_class(assignments_state_t *st, sms_str_t class_id) {
    void *v = sms_strmap_get(&st->classes, class_id.ptr, class_id.len);
    return v == &assignments_absent ? NULL : v;
}

void assignments_state_put(assignments_state_t *st, const assignments_assignment_t *a) {
    assignments_assignment_t *copy = sms_malloc(sizeof *copy);
    assignments_assignment_copy(copy, a);
    void *prev = sms_strmap_put(&st->assignments, a->id, strlen(a->id), copy);
    if (prev && prev != &assignments_absent) free_assignment(prev);
}

void assignments_state_put_class(assignments_state_t *st, const char *class_id, const assignments_class_t *c) {
    assignments_class_t *copy = sms_malloc(sizeof *copy);
    *copy = *c;
    void *prev = sms_strmap_put(&st->classes, class_id, strlen(class_id), copy);
    if (prev && prev != &assignments_absent) sms_free(prev);
}

bool assignments_state_enrolled(assignments_state_t *st, sms_str_t class_id, sms_str_t student) {
    char key[300];
    size_t kn = pair_key(key, sizeof key, class_id, student);
    return kn && sms_strmap_get(&st->enrolled, key, kn) == &assignments_present;
}

void assignments_state_put_enrolled(assignments_state_t *st, sms_str_t class_id, sms_str_t student, bool enrolled) {
    char key[300];
    size_t kn = pair_key(key, sizeof key, class_id, student);
    if (kn) sms_strmap_put(&st->enrolled, key, kn, enrolled ? &assignments_present : &assignments_absent);
}

int64_t assignments_state_submission_version(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student) {
    char key[300];
    size_t kn = pair_key(key, sizeof key, assignment_id, student);
    const int64_t *v = kn ? sms_strmap_get(&st->versions, key, kn) : NULL;
    return v ? *v : 0;
}

void assignments_state_put_submission_version(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student,
                                              int64_t version) {
    char key[300];
    size_t kn = pair_key(key, sizeof key, assignment_id, student);
    if (kn == 0) return; /* ids are at most 127 bytes: never happens */
    int64_t *v = sms_malloc(sizeof *v);
    *v = version;
    sms_free(sms_strmap_put(&st->versions, key, kn, v));
}
