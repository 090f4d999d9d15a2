/* state.c - per-batch cache and overlay of the class view: what the rows
 * want, read in one pipeline, then looked up and overlaid (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "msgpack_util.h"
#include "redis.h"
#include "view.h"

char classes_absent, classes_present;

void classes_state_init(classes_state_t *st, redisContext *rc) {
    memset(st, 0, sizeof *st);
    st->rc = rc;
    sms_strmap_init(&st->classes);
    sms_strmap_init(&st->codes);
    sms_strmap_init(&st->enrolled);
    sms_strmap_init(&st->posts);
}

static void free_post(void *v) { cJSON_Delete(v); }

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
    sms_strmap_free_values(&st->posts, free_post, &classes_absent);
    sms_strmap_close(&st->posts);
    sms_free(st->want_posts);
    sms_free(st->want_classes);
    sms_free(st->want_codes);
    sms_free(st->want_rosters);
    sms_free(st->want_students);
}

void *classes_state_new(redisContext *rc) {
    classes_state_t *st = sms_malloc(sizeof *st);
    classes_state_init(st, rc);
    return st;
}

void classes_state_free(void *state) {
    classes_state_close(state);
    sms_free(state);
}

void classes_code_key(const char *lecturer, const char *code, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s\n", lecturer);
    size_t i = n > 0 ? (size_t)n : 0;
    for (; *code && i + 1 < cap; code++, i++) out[i] = (*code >= 'a' && *code <= 'z') ? (char)(*code - 32) : *code;
    out[i < cap ? i : cap - 1] = '\0';
}

void classes_class_from_hash(const redisReply *r, const char *id, size_t idlen, classes_class_t *c) {
    memset(c, 0, sizeof *c);
    classes_set(&c->id, id, idlen);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        redisReply *v = r->element[i + 1];
        if (!strcmp(f, CLASSES_FIELD_CODE)) classes_set(&c->code, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_NAME)) classes_set(&c->name, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_DESCRIPTION)) classes_set(&c->description, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_TERM)) classes_set(&c->term, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_STATUS)) classes_set(&c->status, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_LECTURER)) classes_set(&c->lecturer_id, v->str, v->len);
        else if (!strcmp(f, CLASSES_FIELD_CREATED_AT)) c->created_at = atoll(v->str);
        else if (!strcmp(f, CLASSES_FIELD_UPDATED_AT)) c->updated_at = atoll(v->str);
        else if (!strcmp(f, CLASSES_FIELD_VERSION)) c->version = atoll(v->str);
        else if (!strcmp(f, CLASSES_FIELD_ROSTER_VERSION)) c->roster_version = atoll(v->str);
        else if (!strcmp(f, CLASSES_FIELD_CHAT_SEQ)) c->chat_seq = atoll(v->str);
    }
}

/* Grows an array of elements of size sz to hold one more. */
static void *grow(void *arr, size_t n, size_t *cap, size_t sz) {
    if (n < *cap) return arr;
    *cap = *cap ? *cap * 2 : 16;
    return sms_realloc(arr, *cap * sz);
}

void classes_state_want_class(classes_state_t *st, sms_str_t id) {
    if (id.len == 0) return;
    st->want_classes = grow(st->want_classes, st->n_want_classes, &st->cap_want_classes, sizeof *st->want_classes);
    st->want_classes[st->n_want_classes++] = id;
}

void classes_state_want_code(classes_state_t *st, sms_str_t lecturer, sms_str_t code) {
    if (code.len == 0 || code.len > CLASSES_CODE_MAX * 4) return;
    st->want_codes = grow(st->want_codes, st->n_want_codes, &st->cap_want_codes, sizeof *st->want_codes);
    st->want_codes[st->n_want_codes++] = (classes_want_code_t){lecturer, code};
}

void classes_state_want_enrolled(classes_state_t *st, sms_str_t class_id, sms_str_t student) {
    if (class_id.len == 0 || student.len == 0) return;
    classes_want_roster_t *last = st->n_want_rosters ? &st->want_rosters[st->n_want_rosters - 1] : NULL;
    if (last == NULL || last->class_id.len != class_id.len || memcmp(last->class_id.ptr, class_id.ptr, class_id.len)) {
        st->want_rosters =
            grow(st->want_rosters, st->n_want_rosters, &st->cap_want_rosters, sizeof *st->want_rosters);
        last = &st->want_rosters[st->n_want_rosters++];
        *last = (classes_want_roster_t){class_id, st->n_want_students, 0};
    }
    st->want_students = grow(st->want_students, st->n_want_students, &st->cap_want_students, sizeof *st->want_students);
    st->want_students[st->n_want_students++] = student;
    last->n++;
}

void classes_state_want_post(classes_state_t *st, sms_str_t post_id) {
    if (post_id.len == 0) return;
    st->want_posts = grow(st->want_posts, st->n_want_posts, &st->cap_want_posts, sizeof *st->want_posts);
    st->want_posts[st->n_want_posts++] = post_id;
}

static size_t enrolled_key(const char *class_id, size_t class_len, sms_str_t student, char *out, size_t cap) {
    int n = snprintf(out, cap, "%.*s\n%.*s", (int)class_len, class_id, (int)student.len, student.ptr);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Appends HMGET rdoc:<class> ids... (one command for one command's ids). */
static void append_roster(classes_state_t *st, const classes_want_roster_t *w) {
    const char **argv = sms_calloc(w->n + 2, sizeof *argv);
    size_t *lens = sms_calloc(w->n + 2, sizeof *lens);
    char *key = sms_malloc(w->class_id.len + sizeof CLASSES_KEY_RDOC);
    int kn = snprintf(key, w->class_id.len + sizeof CLASSES_KEY_RDOC, CLASSES_KEY_RDOC "%.*s", (int)w->class_id.len,
                      w->class_id.ptr);
    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = (size_t)kn;
    for (size_t i = 0; i < w->n; i++) {
        argv[2 + i] = st->want_students[w->first + i].ptr;
        lens[2 + i] = st->want_students[w->first + i].len;
    }
    redisAppendCommandArgv(st->rc, (int)(w->n + 2), argv, lens);
    sms_free(key);
    sms_free(lens);
    sms_free(argv);
}

static void take_class(classes_state_t *st, sms_str_t id, const redisReply *r) {
    if (sms_strmap_get(&st->classes, id.ptr, id.len) != NULL) return; /* the first read (or the overlay) stands */
    void *v = &classes_absent;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        classes_class_t *cl = sms_malloc(sizeof *cl);
        classes_class_from_hash(r, id.ptr, id.len, cl);
        v = cl;
    }
    sms_strmap_put(&st->classes, id.ptr, id.len, v);
}

static void take_code(classes_state_t *st, const classes_want_code_t *w, const redisReply *r) {
    char *lec = sms_strndup(w->lecturer.ptr, w->lecturer.len), *cd = sms_strndup(w->code.ptr, w->code.len);
    char key[512];
    classes_code_key(lec, cd, key, sizeof key);
    if (sms_strmap_get(&st->codes, key, strlen(key)) == NULL) {
        void *v = &classes_absent;
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) v = sms_strndup(r->element[0]->str, r->element[0]->len);
        sms_strmap_put(&st->codes, key, strlen(key), v);
    }
    sms_free(lec);
    sms_free(cd);
}

static void take_roster(classes_state_t *st, const classes_want_roster_t *w, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != w->n) return;
    char key[256];
    for (size_t i = 0; i < w->n; i++) {
        size_t kn = enrolled_key(w->class_id.ptr, w->class_id.len, st->want_students[w->first + i], key, sizeof key);
        if (sms_strmap_get(&st->enrolled, key, kn) == NULL)
            sms_strmap_put(&st->enrolled, key, kn,
                           r->element[i]->type == REDIS_REPLY_STRING ? &classes_present : &classes_absent);
    }
}

static void take_post(classes_state_t *st, sms_str_t id, const redisReply *r) {
    if (sms_strmap_get(&st->posts, id.ptr, id.len) != NULL) return; /* the first read (or the overlay) stands */
    cJSON *doc = r->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(r->str, r->len) : NULL;
    if (doc && !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    sms_strmap_put(&st->posts, id.ptr, id.len, doc ? (void *)doc : &classes_absent);
}

/* Appends the reads of every want, in the order classes_state_fetch reads them. */
static void append_wants(classes_state_t *st) {
    char codeu[512];
    for (size_t i = 0; i < st->n_want_classes; i++)
        redisAppendCommand(st->rc, "HGETALL " CLASSES_KEY_CLASS "%b", st->want_classes[i].ptr,
                           st->want_classes[i].len);
    for (size_t i = 0; i < st->n_want_codes; i++) {
        const classes_want_code_t *w = &st->want_codes[i];
        char *cd = sms_strndup(w->code.ptr, w->code.len);
        classes_code_key("", cd, codeu, sizeof codeu); /* "\n<CODE>" */
        redisAppendCommand(st->rc, "SMEMBERS " CLASSES_KEY_CODE "%b:%s", w->lecturer.ptr, w->lecturer.len,
                           codeu + 1);
        sms_free(cd);
    }
    for (size_t i = 0; i < st->n_want_rosters; i++) append_roster(st, &st->want_rosters[i]);
    for (size_t i = 0; i < st->n_want_posts; i++)
        redisAppendCommand(st->rc, "GET " CLASSES_KEY_POST "%b", st->want_posts[i].ptr, st->want_posts[i].len);
}

int classes_state_fetch(void *state) {
    classes_state_t *st = state;
    append_wants(st);
    size_t n_classes = st->n_want_classes, n_codes = st->n_want_codes, n_rosters = st->n_want_rosters;
    size_t total = n_classes + n_codes + n_rosters + st->n_want_posts;
    int rc = 0;
    for (size_t i = 0; i < total; i++) {
        redisReply *r;
        /* A failure leaves the connection unusable; the caller reconnects. */
        if (sms_redis_get_replies(st->rc, &r, 1) != 0) return -1;
        if (i < n_classes) take_class(st, st->want_classes[i], r);
        else if (i < n_classes + n_codes) take_code(st, &st->want_codes[i - n_classes], r);
        else if (i < n_classes + n_codes + n_rosters) take_roster(st, &st->want_rosters[i - n_classes - n_codes], r);
        else take_post(st, st->want_posts[i - n_classes - n_codes - n_rosters], r);
        if (sms_redis_free_replies(&r, 1) != 0) rc = -1;
    }
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

static sms_str_t json_str(const cJSON *doc, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    return cJSON_IsString(v) ? (sms_str_t){v->valuestring, strlen(v->valuestring)} : (sms_str_t){"", 0};
}

static int64_t json_time(const cJSON *doc, const char *name, int64_t otherwise) {
    sms_str_t s = json_str(doc, name);
    int64_t ms;
    return s.len && sms_rfc3339_parse(s.ptr, s.len, &ms) == 0 ? ms : otherwise;
}

bool classes_state_post(classes_state_t *st, sms_str_t id, classes_post_t *out) {
    void *v = sms_strmap_get(&st->posts, id.ptr, id.len);
    if (v == NULL || v == &classes_absent) return false;
    const cJSON *doc = v, *version = cJSON_GetObjectItemCaseSensitive(doc, "version");
    memset(out, 0, sizeof *out);
    out->id = json_str(doc, "id");
    out->class_id = json_str(doc, "class_id");
    out->lecturer_id = (sms_str_t){"", 0};
    out->author_id = json_str(doc, "author_id");
    out->title = json_str(doc, "title");
    out->body = json_str(doc, "body");
    out->pinned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "pinned"));
    out->created_at = json_time(doc, "created_at", 0);
    out->updated_at = json_time(doc, "updated_at", out->created_at);
    out->version = cJSON_IsNumber(version) ? (int64_t)version->valuedouble : 1;
    return true;
}

void classes_state_set_post(classes_state_t *st, const classes_post_t *p) {
    sms_buf_t json;
    sms_buf_init(&json);
    classes_render_post_json(p, &json);
    cJSON *doc = cJSON_ParseWithLength(json.data, json.len);
    sms_buf_close(&json);
    void *prev = sms_strmap_put(&st->posts, p->id.ptr, p->id.len, doc ? (void *)doc : &classes_absent);
    if (prev && prev != &classes_absent) cJSON_Delete(prev);
}
