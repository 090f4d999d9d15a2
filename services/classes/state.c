/* state.c - per-batch cache and overlay of the class view (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "msgpack_util.h"
#include "projection.h"
#include "redis.h"

char classes_absent, classes_present;

void classes_state_init(classes_state_t *st, redisContext *rc) {
    st->rc = rc;
    sms_strmap_init(&st->classes);
    sms_strmap_init(&st->codes);
    sms_strmap_init(&st->enrolled);
}

static void free_class(void *v) {
    classes_class_clear(v);
    sms_free(v);
}

void classes_state_close(classes_state_t *st) {
    sms_strmap_free_values(&st->classes, free_class, &classes_absent);
    sms_strmap_free_values(&st->codes, sms_free, &classes_absent);
    sms_strmap_close(&st->classes);
    sms_strmap_close(&st->codes);
    sms_strmap_close(&st->enrolled); /* values are markers, nothing to free */
}

void classes_code_key(const char *lecturer, const char *code, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s\n", lecturer);
    size_t i = n > 0 ? (size_t)n : 0;
    for (; *code && i + 1 < cap; code++, i++) out[i] = (*code >= 'a' && *code <= 'z') ? (char)(*code - 32) : *code;
    out[i < cap ? i : cap - 1] = '\0';
}

/* The code a command's body asks for, if any. */
static bool body_code(const sms_command_t *c, const char **code, size_t *len) {
    return sms_mp_str(sms_mp_map_get(c->data, "code"), code, len) && *len > 0 && *len <= CLASSES_CODE_MAX * 4;
}

void classes_class_from_hash(const redisReply *r, const char *id, size_t idlen, classes_class_t *c) {
    memset(c, 0, sizeof *c);
    classes_set(&c->id, id, idlen);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        redisReply *v = r->element[i + 1];
        if (!strcmp(f, "code")) classes_set(&c->code, v->str, v->len);
        else if (!strcmp(f, "name")) classes_set(&c->name, v->str, v->len);
        else if (!strcmp(f, "description")) classes_set(&c->description, v->str, v->len);
        else if (!strcmp(f, "term")) classes_set(&c->term, v->str, v->len);
        else if (!strcmp(f, "status")) classes_set(&c->status, v->str, v->len);
        else if (!strcmp(f, "lecturer_id")) classes_set(&c->lecturer_id, v->str, v->len);
        else if (!strcmp(f, "created_at")) c->created_at = atoll(v->str);
        else if (!strcmp(f, "updated_at")) c->updated_at = atoll(v->str);
        else if (!strcmp(f, "version")) c->version = atoll(v->str);
        else if (!strcmp(f, "roster_version")) c->roster_version = atoll(v->str);
        else if (!strcmp(f, "chat_seq")) c->chat_seq = atoll(v->str);
    }
}

static bool is_type(const sms_command_t *c, const char *t) {
    return c->type.len == strlen(t) && memcmp(c->type.ptr, t, c->type.len) == 0;
}

/* The student ids a roster command names (at most CLASSES_ROSTER_MAX, each
 * plausibly valid; the decider validates properly), or a student's own id
 * for a chat post (its access rule is enrolment). Returns how many. */
static size_t roster_ids(const sms_command_t *c, sms_str_t *ids) {
    size_t n = 0;
    if (is_type(c, "chat.post")) {
        bool student = c->role.len == 7 && memcmp(c->role.ptr, "student", 7) == 0;
        if (student && c->actor.len > 0 && c->actor.len <= CLASSES_STUDENT_ID_MAX) {
            ids[0] = c->actor;
            n = 1;
        }
    } else if (is_type(c, "roster.unenroll")) {
        if (sms_mp_str(sms_mp_map_get(c->data, "student_id"), &ids[0].ptr, &ids[0].len) && ids[0].len > 0 &&
            ids[0].len <= CLASSES_STUDENT_ID_MAX)
            n = 1;
    } else if (is_type(c, "roster.enroll")) {
        const msgpack_object *list = sms_mp_map_get(c->data, "students");
        if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size > CLASSES_ROSTER_MAX) return 0;
        for (uint32_t i = 0; i < list->via.array.size; i++)
            if (sms_mp_str(sms_mp_map_get(&list->via.array.ptr[i], "student_id"), &ids[n].ptr, &ids[n].len) &&
                ids[n].len > 0 && ids[n].len <= CLASSES_STUDENT_ID_MAX)
                n++;
    }
    return n;
}

static size_t enrolled_key(const char *class_id, size_t class_len, sms_str_t student, char *out, size_t cap) {
    int n = snprintf(out, cap, "%.*s\n%.*s", (int)class_len, class_id, (int)student.len, student.ptr);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Appends HMGET rdoc:<class> ids... (one command for the whole batch of ids), or PING. */
static void append_roster_lookup(redisContext *rc, const sms_command_t *c, sms_str_t *ids) {
    size_t n = c->key.len ? roster_ids(c, ids) : 0;
    if (n == 0) {
        redisAppendCommand(rc, "PING");
        return;
    }
    const char **argv = sms_calloc(n + 2, sizeof *argv);
    size_t *lens = sms_calloc(n + 2, sizeof *lens);
    char *key = sms_malloc(c->key.len + 32);
    int kn = snprintf(key, c->key.len + 32, CLASSES_KEY_PREFIX "rdoc:%.*s", (int)c->key.len, c->key.ptr);
    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = (size_t)kn;
    for (size_t i = 0; i < n; i++) {
        argv[2 + i] = ids[i].ptr;
        lens[2 + i] = ids[i].len;
    }
    redisAppendCommandArgv(rc, (int)(n + 2), argv, lens);
    sms_free(key);
    sms_free(lens);
    sms_free(argv);
}

static void take_roster_lookup(classes_state_t *st, const sms_command_t *c, sms_str_t *ids, const redisReply *r) {
    size_t n = c->key.len ? roster_ids(c, ids) : 0;
    if (n == 0 || r->type != REDIS_REPLY_ARRAY || r->elements != n) return;
    char key[256];
    for (size_t i = 0; i < n; i++) {
        size_t kn = enrolled_key(c->key.ptr, c->key.len, ids[i], key, sizeof key);
        if (sms_strmap_get(&st->enrolled, key, kn) == NULL)
            sms_strmap_put(&st->enrolled, key, kn,
                           r->element[i]->type == REDIS_REPLY_STRING ? &classes_present : &classes_absent);
    }
}

int classes_state_prefetch(classes_state_t *st, const sms_command_t *const *cmds, size_t n) {
    char codekey[512];
    sms_str_t *ids = sms_calloc(CLASSES_ROSTER_MAX, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        const sms_command_t *c = cmds[i];
        redisAppendCommand(st->rc, "HGETALL " CLASSES_KEY_PREFIX "c:%b", c->key.ptr, c->key.len);
        const char *code;
        size_t len;
        if (body_code(c, &code, &len)) {
            char *lec = sms_strndup(c->actor.ptr, c->actor.len), *cd = sms_strndup(code, len);
            classes_code_key("", cd, codekey, sizeof codekey);
            redisAppendCommand(st->rc, "SMEMBERS " CLASSES_KEY_PREFIX "code:%s:%s", lec, codekey + 1);
            sms_free(lec);
            sms_free(cd);
        } else {
            redisAppendCommand(st->rc, "PING");
        }
        append_roster_lookup(st->rc, c, ids);
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const sms_command_t *c = cmds[i];
        redisReply *r[3];
        if (sms_redis_get_replies(st->rc, r, 3) != 0) {
            sms_free(ids);
            return -1; /* the connection is unusable; the caller reconnects */
        }
        if (c->key.len && sms_strmap_get(&st->classes, c->key.ptr, c->key.len) == NULL) {
            void *v = &classes_absent;
            if (r[0]->type == REDIS_REPLY_ARRAY && r[0]->elements > 0) {
                classes_class_t *cl = sms_malloc(sizeof *cl);
                classes_class_from_hash(r[0], c->key.ptr, c->key.len, cl);
                v = cl;
            }
            sms_strmap_put(&st->classes, c->key.ptr, c->key.len, v);
        }
        const char *code;
        size_t len;
        if (body_code(c, &code, &len)) {
            char *lec = sms_strndup(c->actor.ptr, c->actor.len), *cd = sms_strndup(code, len);
            classes_code_key(lec, cd, codekey, sizeof codekey);
            if (sms_strmap_get(&st->codes, codekey, strlen(codekey)) == NULL) {
                void *v = &classes_absent;
                if (r[1]->type == REDIS_REPLY_ARRAY && r[1]->elements > 0)
                    v = sms_strndup(r[1]->element[0]->str, r[1]->element[0]->len);
                sms_strmap_put(&st->codes, codekey, strlen(codekey), v);
            }
            sms_free(lec);
            sms_free(cd);
        }
        take_roster_lookup(st, c, ids, r[2]);
        if (sms_redis_free_replies(r, 3) != 0) rc = -1;
    }
    sms_free(ids);
    return rc;
}

const classes_class_t *classes_state_class(classes_state_t *st, sms_str_t id) {
    void *v = sms_strmap_get(&st->classes, id.ptr, id.len);
    return v == &classes_absent ? NULL : v;
}

const char *classes_state_code_holder(classes_state_t *st, const char *lecturer, const char *code) {
    char key[512];
    classes_code_key(lecturer, code, key, sizeof key);
    void *v = sms_strmap_get(&st->codes, key, strlen(key));
    return v == &classes_absent ? NULL : v;
}

static void put_owned(sms_strmap_t *m, const char *key, size_t klen, void *value, void (*fn)(void *)) {
    void *prev = sms_strmap_put(m, key, klen, value);
    if (prev && prev != &classes_absent) fn(prev);
}

void classes_state_apply(classes_state_t *st, const classes_class_t *before, const classes_class_t *after) {
    char key[512];
    if (before && strcmp(before->status, "active") == 0) {
        classes_code_key(before->lecturer_id, before->code, key, sizeof key);
        put_owned(&st->codes, key, strlen(key), &classes_absent, sms_free);
    }
    if (strcmp(after->status, "active") == 0) {
        classes_code_key(after->lecturer_id, after->code, key, sizeof key);
        put_owned(&st->codes, key, strlen(key), sms_strdup(after->id), sms_free);
    }
    classes_class_t *copy = sms_malloc(sizeof *copy);
    classes_class_copy(copy, after);
    put_owned(&st->classes, after->id, strlen(after->id), copy, free_class);
}

bool classes_state_enrolled(classes_state_t *st, const char *class_id, sms_str_t student) {
    char key[256];
    size_t kn = enrolled_key(class_id, strlen(class_id), student, key, sizeof key);
    return sms_strmap_get(&st->enrolled, key, kn) == &classes_present;
}

void classes_state_set_enrolled(classes_state_t *st, const char *class_id, sms_str_t student, bool enrolled) {
    char key[256];
    size_t kn = enrolled_key(class_id, strlen(class_id), student, key, sizeof key);
    sms_strmap_put(&st->enrolled, key, kn, enrolled ? &classes_present : &classes_absent);
}

void classes_state_set_roster_version(classes_state_t *st, const char *class_id, int64_t roster_version) {
    void *v = sms_strmap_get(&st->classes, class_id, strlen(class_id));
    if (v && v != &classes_absent) ((classes_class_t *)v)->roster_version = roster_version;
}

void classes_state_set_chat_seq(classes_state_t *st, const char *class_id, int64_t chat_seq) {
    void *v = sms_strmap_get(&st->classes, class_id, strlen(class_id));
    if (v && v != &classes_absent) ((classes_class_t *)v)->chat_seq = chat_seq;
}
