/* state.c - per-batch cache and overlay of the assignments view (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "msgpack_util.h"
#include "projection.h"
#include "redis.h"

char assignments_absent;

void assignments_state_init(assignments_state_t *st, redisContext *rc) {
    st->rc = rc;
    sms_strmap_init(&st->assignments);
    sms_strmap_init(&st->classes);
}

static void free_values(sms_strmap_t *m, void (*fn)(void *)) {
    for (size_t i = 0; i < m->cap; i++) {
        sms_strmap_entry_t *e = &m->slots[i];
        if (e->key && e->value && e->value != &assignments_absent) fn(e->value);
    }
}

static void free_assignment(void *v) {
    assignments_assignment_clear(v);
    sms_free(v);
}

void assignments_state_close(assignments_state_t *st) {
    free_values(&st->assignments, free_assignment);
    free_values(&st->classes, sms_free);
    sms_strmap_close(&st->assignments);
    sms_strmap_close(&st->classes);
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

/* The class a create names, if any. */
static bool body_class(const sms_command_t *c, const char **id, size_t *len) {
    return sms_mp_str(sms_mp_map_get(c->data, "class_id"), id, len) && *len > 0 && *len < 128;
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

int assignments_state_prefetch(assignments_state_t *st, const sms_command_t *const *cmds, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const sms_command_t *c = cmds[i];
        const char *cid;
        size_t clen;
        redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_KEY_PREFIX "a:%b", c->key.ptr, c->key.len);
        if (body_class(c, &cid, &clen))
            redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_KEY_PREFIX "cls:%b", cid, clen);
        else
            redisAppendCommand(st->rc, "PING");
    }
    char err[256];
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const sms_command_t *c = cmds[i];
        redisReply *r[2];
        for (int k = 0; k < 2; k++) {
            r[k] = sms_redis_get_reply(st->rc, err, sizeof err);
            if (r[k] == NULL) {
                sms_log(SMS_LOG_ERROR, "redis_failed", "%s", err);
                for (int j = 0; j < k; j++) freeReplyObject(r[j]);
                return -1; /* the connection is unusable; the caller reconnects */
            }
        }
        if (c->key.len && sms_strmap_get(&st->assignments, c->key.ptr, c->key.len) == NULL) {
            void *v = &assignments_absent;
            if (r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements > 0) {
                assignments_assignment_t *a = sms_malloc(sizeof *a);
                assignments_from_hash(r[0], c->key.ptr, c->key.len, a);
                v = a;
            }
            sms_strmap_put(&st->assignments, c->key.ptr, c->key.len, v);
        }
        const char *cid;
        size_t clen;
        if (body_class(c, &cid, &clen) && sms_strmap_get(&st->classes, cid, clen) == NULL) {
            void *v = &assignments_absent;
            if (r[1]->type == REDIS_REPLY_ARRAY && r[1]->elements > 0) {
                assignments_class_t *cl = sms_malloc(sizeof *cl);
                class_from_hash(r[1], cl);
                v = cl;
            }
            sms_strmap_put(&st->classes, cid, clen, v);
        }
        for (int k = 0; k < 2; k++) {
            if (r[k]->type == REDIS_REPLY_ERROR) {
                sms_log(SMS_LOG_ERROR, "redis_error", "%s", r[k]->str);
                rc = -1;
            }
            freeReplyObject(r[k]);
        }
    }
    return rc;
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
