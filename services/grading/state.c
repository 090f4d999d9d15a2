/* state.c - per-batch cache and overlay of the grading view (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "projection.h"
#include "redis.h"

char grading_absent;

void grading_state_init(grading_state_t *st, redisContext *rc) {
    st->rc = rc;
    sms_strmap_init(&st->assignments);
    sms_strmap_init(&st->rosters);
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

int grading_state_prefetch(grading_state_t *st, const sms_command_t *const *cmds, size_t n) {
    /* 1: each distinct assignment's facts. */
    const sms_command_t **uniq = sms_calloc(n ? n : 1, sizeof *uniq);
    size_t nu = 0;
    sms_strmap_t seen;
    sms_strmap_init(&seen);
    for (size_t i = 0; i < n; i++) {
        if (cmds[i]->key.len == 0 || sms_strmap_get(&seen, cmds[i]->key.ptr, cmds[i]->key.len)) continue;
        sms_strmap_put(&seen, cmds[i]->key.ptr, cmds[i]->key.len, &grading_absent);
        uniq[nu++] = cmds[i];
        redisAppendCommand(st->rc, "HMGET " GRADING_KEY_PREFIX "a:%b class_id lecturer_id max status", cmds[i]->key.ptr,
                           cmds[i]->key.len);
    }
    sms_strmap_close(&seen);
    int rc = 0;
    redisReply **r = read_replies(st->rc, nu);
    if (r == NULL) {
        sms_free(uniq);
        return -1;
    }
    grading_assignment_t **known = sms_calloc(nu ? nu : 1, sizeof *known);
    size_t nk = 0;
    for (size_t i = 0; i < nu; i++) {
        const sms_command_t *c = uniq[i];
        redisReply *a = r[i];
        if (a->type == REDIS_REPLY_ERROR) {
            sms_log(SMS_LOG_ERROR, "redis_error", "%s", a->str);
            rc = -1;
            continue;
        }
        if (a->type != REDIS_REPLY_ARRAY || a->elements != 4 || a->element[0]->type != REDIS_REPLY_STRING ||
            a->element[1]->type != REDIS_REPLY_STRING) {
            sms_strmap_put(&st->assignments, c->key.ptr, c->key.len, &grading_absent);
            continue;
        }
        char *id = sms_strndup(c->key.ptr, c->key.len);
        char *max = reply_str(a->element[2]), *status = reply_str(a->element[3]);
        known[nk++] = grading_state_put_assignment(st, id, a->element[0]->str, a->element[1]->str,
                                                   max ? atoll(max) : 0, status && strcmp(status, "deleted") == 0);
        sms_free(id);
        sms_free(max);
        sms_free(status);
    }
    free_replies(r, nu);
    sms_free(uniq);
    /* 2: their grades and their classes' rosters. */
    for (size_t i = 0; i < nk; i++) {
        redisAppendCommand(st->rc, "HGETALL " GRADING_KEY_PREFIX "g:%s", known[i]->id);
        redisAppendCommand(st->rc, "ZRANGE " GRADING_KEY_PREFIX "students:%s 0 -1", known[i]->class_id);
    }
    r = rc == 0 ? read_replies(st->rc, 2 * nk) : NULL;
    if (r == NULL) {
        sms_free(known);
        return -1;
    }
    for (size_t i = 0; i < nk; i++) {
        redisReply *g = r[2 * i], *s = r[2 * i + 1];
        if (g->type != REDIS_REPLY_ARRAY || s->type != REDIS_REPLY_ARRAY) {
            sms_log(SMS_LOG_ERROR, "redis_error", "%s", g->type == REDIS_REPLY_ERROR ? g->str : s->str);
            rc = -1;
            continue;
        }
        for (size_t k = 0; k + 1 < g->elements; k += 2) {
            grading_grade_t rec;
            if (grading_record_parse(g->element[k + 1]->str, g->element[k + 1]->len, &rec) != 0) {
                sms_log(SMS_LOG_WARN, "grade_record_unreadable", "%s %s", known[i]->id, g->element[k]->str);
                continue;
            }
            grading_state_set_grade(known[i], (sms_str_t){g->element[k]->str, g->element[k]->len}, rec.version,
                                    rec.score, rec.released, rec.feedback, strlen(rec.feedback));
            grading_grade_clear(&rec);
        }
        sms_strmap_t *ro = roster(st, known[i]->class_id); /* an empty roster is still a known one */
        for (size_t k = 0; k < s->elements; k++)
            sms_strmap_put(ro, s->element[k]->str, s->element[k]->len, &grading_absent);
    }
    free_replies(r, 2 * nk);
    sms_free(known);
    return rc;
}
