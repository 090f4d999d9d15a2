/* state.c - per-batch cache and overlay of the grading view (see state.h):
 * the rows' wants, one fetch of them (keys as view.h states them), and the
 * look-ups and overlay the deciders use. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "redis.h"
#include "view.h"

char grading_absent;

void grading_state_init(grading_state_t *st, redisContext *rc) {
    st->rc = rc;
    sms_strmap_init(&st->assignments);
    sms_strmap_init(&st->rosters);
    st->want = NULL;
    st->n_want = st->cap_want = 0;
    sms_strmap_init(&st->wanted);
}

static void free_grade(void *v) {
    grading_grade_clear(v);
    sms_free(v);
}

static void assignment_free(void *v) {
    grading_assignment_t *a = v;
    sms_strmap_free_values(&a->grades, free_grade, NULL);
    sms_strmap_close(&a->grades);
    sms_free(a->id);
    sms_free(a->class_id);
    sms_free(a->lecturer_id);
    sms_free(a);
}

static void roster_free(void *v) {
    sms_strmap_close(v); /* values are markers */
    sms_free(v);
}

void grading_state_close(grading_state_t *st) {
    sms_strmap_free_values(&st->assignments, assignment_free, &grading_absent);
    sms_strmap_free_values(&st->rosters, roster_free, NULL);
    sms_strmap_close(&st->assignments);
    sms_strmap_close(&st->rosters);
    sms_strmap_close(&st->wanted); /* values are markers */
    sms_free(st->want);
}

void *grading_state_new(redisContext *rc) {
    grading_state_t *st = sms_malloc(sizeof *st);
    grading_state_init(st, rc);
    return st;
}

void grading_state_free(void *state) {
    grading_state_close(state);
    sms_free(state);
}

void grading_state_want_assignment(grading_state_t *st, sms_str_t id) {
    if (id.len == 0 || sms_strmap_get(&st->wanted, id.ptr, id.len)) return;
    sms_strmap_put(&st->wanted, id.ptr, id.len, &grading_absent);
    if (st->n_want == st->cap_want) {
        st->cap_want = st->cap_want ? st->cap_want * 2 : 8;
        st->want = sms_realloc(st->want, st->cap_want * sizeof *st->want);
    }
    st->want[st->n_want++] = id;
}

grading_assignment_t *grading_state_put_assignment(grading_state_t *st, const char *id, const char *class_id,
                                                   const char *lecturer_id, int64_t max_score, bool deleted) {
    grading_assignment_t *a = sms_calloc(1, sizeof *a);
    a->id = sms_strdup(id);
    a->class_id = sms_strdup(class_id);
    a->lecturer_id = sms_strdup(lecturer_id);
    a->max_score = max_score;
    a->deleted = deleted;
    sms_strmap_init(&a->grades);
    void *prev = sms_strmap_put(&st->assignments, id, strlen(id), a);
    if (prev && prev != &grading_absent) assignment_free(prev);
    return a;
}

static sms_strmap_t *roster(grading_state_t *st, const char *class_id) {
    sms_strmap_t *r = sms_strmap_get(&st->rosters, class_id, strlen(class_id));
    if (r == NULL) {
        r = sms_malloc(sizeof *r);
        sms_strmap_init(r);
        sms_strmap_put(&st->rosters, class_id, strlen(class_id), r);
    }
    return r;
}

void grading_state_enroll(grading_state_t *st, const char *class_id, sms_str_t student) {
    sms_strmap_put(roster(st, class_id), student.ptr, student.len, &grading_absent);
}

void grading_state_set_grade(grading_assignment_t *a, sms_str_t student, int64_t version, int64_t score,
                             bool released, const char *feedback, size_t feedback_len) {
    grading_grade_t *g = sms_malloc(sizeof *g);
    g->version = version;
    g->score = score;
    g->released = released;
    g->feedback = sms_strndup(feedback, feedback_len);
    void *prev = sms_strmap_put(&a->grades, student.ptr, student.len, g);
    if (prev) free_grade(prev);
}

grading_assignment_t *grading_state_assignment(grading_state_t *st, sms_str_t id) {
    void *v = sms_strmap_get(&st->assignments, id.ptr, id.len);
    return v == &grading_absent ? NULL : v;
}

bool grading_state_enrolled(const grading_state_t *st, const char *class_id, sms_str_t student) {
    const sms_strmap_t *r = sms_strmap_get(&st->rosters, class_id, strlen(class_id));
    return r && sms_strmap_get(r, student.ptr, student.len) != NULL;
}

const grading_grade_t *grading_state_grade(const grading_assignment_t *a, sms_str_t student) {
    return sms_strmap_get(&a->grades, student.ptr, student.len);
}

/* Reads n replies; NULL (logged) when the connection failed. */
static redisReply **read_replies(redisContext *rc, size_t n) {
    redisReply **r = sms_calloc(n ? n : 1, sizeof *r);
    if (sms_redis_get_replies(rc, r, n) != 0) {
        sms_free(r);
        return NULL;
    }
    return r;
}

static void free_replies(redisReply **r, size_t n) {
    for (size_t i = 0; i < n; i++) freeReplyObject(r[i]);
    sms_free(r);
}

static char *reply_str(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING ? sms_strndup(r->str, r->len) : NULL;
}

/* 1: each wanted assignment's facts, into st; known[] (st's) gets the
 * assignments the view knows, *nk how many. 0, or -1 (Redis: logged). */
static int fetch_assignments(grading_state_t *st, grading_assignment_t **known, size_t *nk) {
    *nk = 0;
    for (size_t i = 0; i < st->n_want; i++)
        redisAppendCommand(st->rc,
                           "HMGET " GRADING_VIEW_KEY(GRADING_VIEW_ASSIGNMENT) "%b " GRADING_VIEW_A_CLASS_ID
                           " " GRADING_VIEW_A_LECTURER_ID " " GRADING_VIEW_A_MAX " " GRADING_VIEW_A_STATUS,
                           st->want[i].ptr, st->want[i].len);
    redisReply **r = read_replies(st->rc, st->n_want);
    if (r == NULL) return -1;
    int rc = 0;
    for (size_t i = 0; i < st->n_want; i++) {
        sms_str_t key = st->want[i];
        redisReply *a = r[i];
        if (a->type == REDIS_REPLY_ERROR) {
            sms_log(SMS_LOG_ERROR, "redis_error", "%s", a->str);
            rc = -1;
            continue;
        }
        if (a->type != REDIS_REPLY_ARRAY || a->elements != 4 || a->element[0]->type != REDIS_REPLY_STRING ||
            a->element[1]->type != REDIS_REPLY_STRING) {
            sms_strmap_put(&st->assignments, key.ptr, key.len, &grading_absent);
            continue;
        }
        char *id = sms_strndup(key.ptr, key.len);
        char *max = reply_str(a->element[2]), *status = reply_str(a->element[3]);
        known[(*nk)++] = grading_state_put_assignment(st, id, a->element[0]->str, a->element[1]->str,
                                                      max ? atoll(max) : 0,
                                                      status && strcmp(status, GRADING_VIEW_A_DELETED) == 0);
        sms_free(id);
        sms_free(max);
        sms_free(status);
    }
    free_replies(r, st->n_want);
    return rc;
}

/* Adds a g:<assignment> hash's records to a (an unreadable one is logged and
 * left out). */
static void put_grades(grading_assignment_t *a, const redisReply *g) {
    for (size_t k = 0; k + 1 < g->elements; k += 2) {
        grading_grade_t rec;
        if (grading_record_parse(g->element[k + 1]->str, g->element[k + 1]->len, &rec) != 0) {
            sms_log(SMS_LOG_WARN, "grade_record_unreadable", "%s %s", a->id, g->element[k]->str);
            continue;
        }
        grading_state_set_grade(a, (sms_str_t){g->element[k]->str, g->element[k]->len}, rec.version, rec.score,
                                rec.released, rec.feedback, strlen(rec.feedback));
        grading_grade_clear(&rec);
    }
}

/* 2: the known assignments' grades and their classes' rosters. 0, or -1. */
static int fetch_grades(grading_state_t *st, grading_assignment_t *const *known, size_t nk) {
    for (size_t i = 0; i < nk; i++) {
        redisAppendCommand(st->rc, "HGETALL " GRADING_VIEW_KEY(GRADING_VIEW_GRADES) "%s", known[i]->id);
        redisAppendCommand(st->rc, "ZRANGE " GRADING_VIEW_KEY(GRADING_VIEW_STUDENTS) "%s 0 -1", known[i]->class_id);
    }
    redisReply **r = read_replies(st->rc, 2 * nk);
    if (r == NULL) return -1;
    int rc = 0;
    for (size_t i = 0; i < nk; i++) {
        redisReply *g = r[2 * i], *s = r[2 * i + 1];
        if (g->type != REDIS_REPLY_ARRAY || s->type != REDIS_REPLY_ARRAY) {
            sms_log(SMS_LOG_ERROR, "redis_error", "%s", g->type == REDIS_REPLY_ERROR ? g->str : s->str);
            rc = -1;
            continue;
        }
        put_grades(known[i], g);
        sms_strmap_t *ro = roster(st, known[i]->class_id); /* an empty roster is still a known one */
        for (size_t k = 0; k < s->elements; k++)
            sms_strmap_put(ro, s->element[k]->str, s->element[k]->len, &grading_absent);
    }
    free_replies(r, 2 * nk);
    return rc;
}

int grading_state_fetch(void *state) {
    grading_state_t *st = state;
    grading_assignment_t **known = sms_calloc(st->n_want ? st->n_want : 1, sizeof *known);
    size_t nk = 0;
    int rc = fetch_assignments(st, known, &nk);
    if (rc == 0) rc = fetch_grades(st, known, nk);
    sms_free(known);
    return rc;
}
