/* handlers.c - what source events say, and the commands' validation (see handlers.h). */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "msgpack_util.h"

static bool type_is(const sms_event_t *ev, const char *t) {
    return ev->type.len == strlen(t) && memcmp(ev->type.ptr, t, ev->type.len) == 0;
}

static bool get_str(const msgpack_object *data, const char *key, sms_str_t *out) {
    return sms_mp_str(sms_mp_map_get(data, key), &out->ptr, &out->len) && out->len > 0 && out->len <= 128;
}

static void content_init(notif_content_t *c) {
    memset(c, 0, sizeof *c);
    sms_buf_init(&c->title);
    sms_buf_init(&c->body);
    sms_buf_init(&c->link);
}

void notif_content_close(notif_content_t *c) {
    sms_buf_close(&c->title);
    sms_buf_close(&c->body);
    sms_buf_close(&c->link);
}

/* Appends at most max bytes of s, cut at a UTF-8 character boundary. */
static void append_cut(sms_buf_t *b, const char *s, size_t n, size_t max) {
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        sms_buf_append(b, s, n);
        sms_buf_puts(b, "…");
        return;
    }
    sms_buf_append(b, s, n);
}

static bool post_content(const sms_event_t *ev, notif_content_t *c) {
    sms_str_t title, body;
    if (!get_str(ev->data, "class_id", &c->class_id) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "title"), &title.ptr, &title.len) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "body"), &body.ptr, &body.len))
        return false;
    c->kind = "post";
    sms_buf_append(&c->title, title.ptr, title.len);
    append_cut(&c->body, body.ptr, body.len, NOTIF_BODY_MAX);
    sms_buf_printf(&c->link, "/classes/%.*s/posts", (int)c->class_id.len, c->class_id.ptr);
    return true;
}

static void score_text(sms_buf_t *b, const msgpack_object *o) {
    int64_t i;
    if (sms_mp_i64(o, &i)) sms_buf_printf(b, "%lld", (long long)i);
    else if (o && (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)) sms_buf_printf(b, "%g", o->via.f64);
    else sms_buf_puts(b, "?");
}

static bool grade_content(const sms_event_t *ev, notif_content_t *c) {
    if (type_is(ev, "grade.changed")) {
        /* Drafts are the lecturer's business: only released grades are told. */
        const msgpack_object *rel = sms_mp_map_get(ev->data, "released");
        if (rel == NULL || rel->type != MSGPACK_OBJECT_BOOLEAN || !rel->via.boolean) return false;
    } else if (!type_is(ev, "grade.released")) {
        return false;
    }
    sms_str_t fb = {"", 0};
    if (!get_str(ev->data, "class_id", &c->class_id) || !get_str(ev->data, "student_id", &c->student_id)) return false;
    (void)sms_mp_str(sms_mp_map_get(ev->data, "feedback"), &fb.ptr, &fb.len); /* optional text */
    c->kind = "grade";
    sms_buf_puts(&c->title, type_is(ev, "grade.released") ? "Grade released" : "Grade updated");
    sms_buf_puts(&c->body, "Score: ");
    score_text(&c->body, sms_mp_map_get(ev->data, "score"));
    if (fb.len) {
        sms_buf_puts(&c->body, ". Feedback: ");
        append_cut(&c->body, fb.ptr, fb.len, NOTIF_BODY_MAX);
    }
    sms_buf_puts(&c->link, "/student/grades");
    return true;
}

static bool changed_due(const msgpack_object *data) {
    const msgpack_object *ch = sms_mp_map_get(data, "changed");
    if (ch == NULL || ch->type != MSGPACK_OBJECT_ARRAY) return false;
    for (uint32_t i = 0; i < ch->via.array.size; i++)
        if (sms_mp_str_eq(&ch->via.array.ptr[i], "due_at")) return true;
    return false;
}

static bool assignment_content(const sms_event_t *ev, notif_content_t *c) {
    bool created = type_is(ev, "assignment.created");
    if (!created && !(type_is(ev, "assignment.updated") && changed_due(ev->data))) return false;
    sms_str_t title;
    int64_t due;
    if (!get_str(ev->data, "class_id", &c->class_id) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "title"), &title.ptr, &title.len) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "due_at"), &due))
        return false;
    char at[40];
    c->kind = "assignment";
    sms_buf_puts(&c->title, created ? "New assignment: " : "Due date changed: ");
    append_cut(&c->title, title.ptr, title.len, 200);
    sms_buf_printf(&c->body, "%s %s", created ? "Due" : "Now due", sms_rfc3339(due, at));
    sms_buf_printf(&c->link, "/student/classes/%.*s/assignments", (int)c->class_id.len, c->class_id.ptr);
    return true;
}

/* assignment.due_soon (the assignments service's reminder scan): its window
 * says how far ahead ("Due in 24 h: <title>"). */
static bool due_soon_content(const sms_event_t *ev, notif_content_t *c) {
    sms_str_t title, status;
    int64_t due, window_s;
    if (!get_str(ev->data, "class_id", &c->class_id) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "title"), &title.ptr, &title.len) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "due_at"), &due) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "window_s"), &window_s) || window_s <= 0)
        return false;
    if (sms_mp_str(sms_mp_map_get(ev->data, "status"), &status.ptr, &status.len) &&
        !(status.len == 4 && memcmp(status.ptr, "open", 4) == 0))
        return false;
    char at[40];
    c->kind = "due_reminder";
    if (window_s % 3600 == 0) sms_buf_printf(&c->title, "Due in %lld h: ", (long long)(window_s / 3600));
    else sms_buf_printf(&c->title, "Due in %lld min: ", (long long)(window_s / 60));
    append_cut(&c->title, title.ptr, title.len, 200);
    sms_str_t aid = {"", 0};
    (void)get_str(ev->data, "id", &aid); /* the fragment is a convenience: absent, the list alone */
    sms_buf_printf(&c->body, "Due %s", sms_rfc3339(due, at));
    sms_buf_printf(&c->link, "/student/classes/%.*s/assignments%s%.*s", (int)c->class_id.len, c->class_id.ptr,
                   aid.len ? "#" : "", (int)aid.len, aid.ptr);
    return true;
}

bool notif_content_of(const char *topic, const sms_event_t *ev, notif_content_t *c) {
    content_init(c);
    bool yes = false;
    if (strcmp(topic, "sms.events.posts") == 0 && type_is(ev, "post.created")) yes = post_content(ev, c);
    else if (strcmp(topic, "sms.events.grades") == 0) yes = grade_content(ev, c);
    else if (strcmp(topic, "sms.events.assignments") == 0)
        yes = type_is(ev, "assignment.due_soon") ? due_soon_content(ev, c) : assignment_content(ev, c);
    return yes;
}

static bool key_is(const msgpack_object_kv *kv, const char *k) { return sms_mp_str_eq(&kv->key, k); }

int notif_validate_read(const msgpack_object *data, bool *all, sms_decision_t *d) {
    const msgpack_object *ids = NULL, *a = NULL;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        if (key_is(kv, "ids")) ids = &kv->val;
        else if (key_is(kv, "all")) a = &kv->val;
        else if (kv->key.type == MSGPACK_OBJECT_STR)
            sms_decision_error(d, kv->key.via.str.ptr, kv->key.via.str.size, "is not a known field");
    }
    if (a && (a->type != MSGPACK_OBJECT_BOOLEAN || !a->via.boolean))
        sms_decision_error(d, "all", 3, "must be true (or send ids)");
    if (ids && a) sms_decision_error(d, "ids", 3, "send either ids or all, not both");
    if (!ids && !a) sms_decision_error(d, "ids", 3, "is required (or all: true)");
    if (ids) {
        if (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size < 1 || ids->via.array.size > NOTIF_READ_IDS_MAX) {
            sms_decision_error(d, "ids", 3, "must be an array of 1 to %d notification ids", NOTIF_READ_IDS_MAX);
        } else {
            for (uint32_t i = 0; i < ids->via.array.size; i++) {
                const msgpack_object *o = &ids->via.array.ptr[i];
                if (o->type != MSGPACK_OBJECT_STR || o->via.str.size != SMS_ID_LEN) {
                    char field[32];
                    int n = snprintf(field, sizeof field, "ids[%u]", i);
                    sms_decision_error(d, field, (size_t)n, "is not a notification id");
                }
            }
        }
    }
    if (d->n_errors) {
        sms_decision_fail(d, 422, "validation", "invalid read request");
        return -1;
    }
    *all = a != NULL;
    return 0;
}

/* Merges one {name: bool} object into the named fields; errors name
 * "<group>.<name>". */
static void merge_bools(const msgpack_object *o, const char *group, const char *const *names, bool *const *fields,
                        size_t n, sms_decision_t *d) {
    if (o->type != MSGPACK_OBJECT_MAP) {
        sms_decision_error(d, group, strlen(group), "must be an object");
        return;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        char field[96];
        int fl = snprintf(field, sizeof field, "%s.%.*s", group,
                          kv->key.type == MSGPACK_OBJECT_STR ? (int)(kv->key.via.str.size > 40 ? 40 : kv->key.via.str.size) : 0,
                          kv->key.type == MSGPACK_OBJECT_STR ? kv->key.via.str.ptr : "");
        size_t k = 0;
        while (k < n && !key_is(kv, names[k])) k++;
        if (k == n) {
            sms_decision_error(d, field, (size_t)fl, "is not a known %s", group);
        } else if (kv->val.type != MSGPACK_OBJECT_BOOLEAN) {
            sms_decision_error(d, field, (size_t)fl, "must be true or false");
        } else if (fields[k] == NULL) { /* the inbox: always on */
            if (!kv->val.via.boolean) sms_decision_error(d, field, (size_t)fl, "the inbox is always on");
        } else {
            *fields[k] = kv->val.via.boolean;
        }
    }
}

int notif_validate_prefs(const msgpack_object *data, notif_prefs_t *p, sms_decision_t *d) {
    notif_prefs_t q = *p;
    static const char *const channels[] = {"inbox", "email", "webhook"};
    static const char *const kinds[] = {"posts", "grades", "assignments", "due_reminders"};
    bool *const chf[] = {NULL, &q.email, &q.webhook};
    bool *const kf[] = {&q.posts, &q.grades, &q.assignments, &q.due_reminders};
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        if (key_is(kv, "channels")) merge_bools(&kv->val, "channels", channels, chf, 3, d);
        else if (key_is(kv, "kinds")) merge_bools(&kv->val, "kinds", kinds, kf, 4, d);
        else if (kv->key.type == MSGPACK_OBJECT_STR)
            sms_decision_error(d, kv->key.via.str.ptr, kv->key.via.str.size, "is not a known field");
    }
    if (d->n_errors) {
        sms_decision_fail(d, 422, "validation", "invalid notification preferences");
        return -1;
    }
    *p = q;
    return 0;
}
