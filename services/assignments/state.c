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

char assignments_absent, assignments_present;

void assignments_state_init(assignments_state_t *st, redisContext *rc) {
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

/* "<a>\n<b>" into buf (cap bytes); returns its length, 0 if it does not fit. */
static size_t pair_key(char *buf, size_t cap, sms_str_t a, sms_str_t b) {
    if (a.len + b.len + 2 > cap) return 0;
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\n';
    memcpy(buf + a.len + 1, b.ptr, b.len);
    buf[a.len + 1 + b.len] = '\0';
    return a.len + 1 + b.len;
}

static bool is_submission(const sms_command_t *c) {
    return c->type.len == 17 && memcmp(c->type.ptr, "submission.create", 17) == 0;
}

/* Second round for submissions, once their assignments are known: the
 * assignment's class, the student's enrollment and latest version. */
static int prefetch_submissions(assignments_state_t *st, const sms_command_t *const *cmds, size_t n) {
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        const assignments_assignment_t *a;
        if (!is_submission(cmds[i]) || (a = assignments_state_assignment(st, cmds[i]->key)) == NULL) continue;
        const sms_command_t *c = cmds[i];
        redisAppendCommand(st->rc, "HGETALL " ASSIGNMENTS_KEY_PREFIX "cls:%s", a->class_id);
        redisAppendCommand(st->rc, "SISMEMBER " ASSIGNMENTS_KEY_PREFIX "roster:%s %b", a->class_id, c->actor.ptr,
                           c->actor.len);
        redisAppendCommand(st->rc, "HGET " ASSIGNMENTS_KEY_PREFIX "sv:%b %b", c->key.ptr, c->key.len, c->actor.ptr,
                           c->actor.len);
        sent++;
    }
    int rc = 0;
    for (size_t i = 0, done = 0; i < n && done < sent; i++) {
        const assignments_assignment_t *a;
        if (!is_submission(cmds[i]) || (a = assignments_state_assignment(st, cmds[i]->key)) == NULL) continue;
        const sms_command_t *c = cmds[i];
        done++;
        redisReply *r[3];
        if (sms_redis_get_replies(st->rc, r, 3) != 0) return -1;
        sms_str_t cid = SMS_STR(a->class_id);
        if (sms_strmap_get(&st->classes, cid.ptr, cid.len) == NULL) {
            void *v = &assignments_absent;
            if (r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements > 0) {
                assignments_class_t *cl = sms_malloc(sizeof *cl);
                class_from_hash(r[0], cl);
                v = cl;
            }
            sms_strmap_put(&st->classes, cid.ptr, cid.len, v);
        }
        assignments_state_put_enrolled(st, cid, c->actor, r[1]->type == REDIS_REPLY_INTEGER && r[1]->integer == 1);
        char key[300];
        size_t kn = pair_key(key, sizeof key, c->key, c->actor);
        /* Only the first command of a (assignment, student) reads the view; later ones see the overlay. */
        if (kn && sms_strmap_get(&st->versions, key, kn) == NULL)
            assignments_state_put_submission_version(st, c->key, c->actor,
                                                     r[2]->type == REDIS_REPLY_STRING ? atoll(r[2]->str) : 0);
        if (sms_redis_free_replies(r, 3) != 0) rc = -1;
    }
    return rc;
}

static bool is_upload_complete(const sms_command_t *c) {
    return c->type.len == 15 && memcmp(c->type.ptr, "upload.complete", 15) == 0;
}

/* The upload ids cmd names: the one an upload.complete completes, or those
 * a submission lists (strings of a plausible length only; the decision
 * names the others). Fills ids (cap entries); returns how many. */
static size_t command_uploads(const sms_command_t *c, sms_str_t *ids, size_t cap) {
    size_t n = 0;
    sms_str_t id;
    if (is_upload_complete(c)) {
        if (sms_mp_str(sms_mp_map_get(c->data, "upload_id"), &id.ptr, &id.len) && id.len > 0 && id.len < 128)
            ids[n++] = id;
        return n;
    }
    const msgpack_object *list = is_submission(c) ? sms_mp_map_get(c->data, "upload_ids") : NULL;
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) return 0;
    for (uint32_t i = 0; i < list->via.array.size && n < cap; i++)
        if (sms_mp_str(&list->via.array.ptr[i], &id.ptr, &id.len) && id.len > 0 && id.len < 128) ids[n++] = id;
    return n;
}

/* Third round: the owner of every upload the batch names (one HGET each,
 * each id asked once; absent until the reply says otherwise). */
static int prefetch_uploads(assignments_state_t *st, const sms_command_t *const *cmds, size_t n) {
    sms_str_t *asked = NULL, ids[ASSIGNMENTS_SUBMISSION_UPLOADS_MAX];
    size_t n_asked = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = command_uploads(cmds[i], ids, ASSIGNMENTS_SUBMISSION_UPLOADS_MAX);
        for (size_t j = 0; j < k; j++) {
            if (sms_strmap_get(&st->uploads, ids[j].ptr, ids[j].len) != NULL) continue;
            sms_strmap_put(&st->uploads, ids[j].ptr, ids[j].len, &assignments_absent);
            if (n_asked == cap) {
                cap = cap ? cap * 2 : 64;
                asked = sms_realloc(asked, cap * sizeof *asked);
            }
            asked[n_asked++] = ids[j];
            redisAppendCommand(st->rc, "HGET " ASSIGNMENTS_KEY_PREFIX "upload:%b owner", ids[j].ptr, ids[j].len);
        }
    }
    char err[256];
    int rc = 0;
    for (size_t i = 0; i < n_asked; i++) {
        redisReply *r = sms_redis_get_reply(st->rc, err, sizeof err);
        if (r == NULL) {
            sms_log(SMS_LOG_ERROR, "redis_failed", "%s", err);
            rc = -1;
            break; /* the connection is unusable; the caller reconnects */
        }
        if (r->type == REDIS_REPLY_STRING) {
            assignments_state_put_upload(st, asked[i], (sms_str_t){r->str, r->len});
        } else if (r->type == REDIS_REPLY_ERROR) {
            sms_log(SMS_LOG_ERROR, "redis_error", "%s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    sms_free(asked);
    return rc;
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
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const sms_command_t *c = cmds[i];
        redisReply *r[2];
        if (sms_redis_get_replies(st->rc, r, 2) != 0) return -1; /* the connection is unusable; the caller reconnects */
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
        if (sms_redis_free_replies(r, 2) != 0) rc = -1;
    }
    if (rc != 0) return rc;
    if (prefetch_submissions(st, cmds, n) != 0) return -1;
    return prefetch_uploads(st, cmds, n);
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
