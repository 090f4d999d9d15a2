/* handlers.c - what source events say (one row per source event type),
 * and the read and preferences commands' rows (see handlers.h). */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "id.h"
#include "msgpack_util.h"
#include "state.h"

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

/* A released grade (title says which event told it). */
static bool grade_content(const sms_event_t *ev, notif_content_t *c, const char *title) {
    sms_str_t fb = {"", 0};
    if (!get_str(ev->data, "class_id", &c->class_id) || !get_str(ev->data, "student_id", &c->student_id)) return false;
    (void)sms_mp_str(sms_mp_map_get(ev->data, "feedback"), &fb.ptr, &fb.len); /* optional text */
    c->kind = "grade";
    sms_buf_puts(&c->title, title);
    sms_buf_puts(&c->body, "Score: ");
    score_text(&c->body, sms_mp_map_get(ev->data, "score"));
    if (fb.len) {
        sms_buf_puts(&c->body, ". Feedback: ");
        append_cut(&c->body, fb.ptr, fb.len, NOTIF_BODY_MAX);
    }
    sms_buf_puts(&c->link, "/student/grades");
    return true;
}

static bool grade_changed_content(const sms_event_t *ev, notif_content_t *c) {
    /* Drafts are the lecturer's business: only released grades are told. */
    const msgpack_object *rel = sms_mp_map_get(ev->data, "released");
    if (rel == NULL || rel->type != MSGPACK_OBJECT_BOOLEAN || !rel->via.boolean) return false;
    return grade_content(ev, c, "Grade updated");
}

static bool grade_released_content(const sms_event_t *ev, notif_content_t *c) {
    return grade_content(ev, c, "Grade released");
}

static bool changed_due(const msgpack_object *data) {
    const msgpack_object *ch = sms_mp_map_get(data, "changed");
    if (ch == NULL || ch->type != MSGPACK_OBJECT_ARRAY) return false;
    for (uint32_t i = 0; i < ch->via.array.size; i++)
        if (sms_mp_str_eq(&ch->via.array.ptr[i], "due_at")) return true;
    return false;
}

static bool assignment_content(const sms_event_t *ev, notif_content_t *c, bool created) {
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

static bool assignment_created_content(const sms_event_t *ev, notif_content_t *c) {
    return assignment_content(ev, c, true);
}

/* Only a new due date is news. */
static bool assignment_updated_content(const sms_event_t *ev, notif_content_t *c) {
    return changed_due(ev->data) && assignment_content(ev, c, false);
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

/* The source events that notify anyone, by topic and type. */
static const struct {
    const char *topic, *type;
    bool (*content)(const sms_event_t *ev, notif_content_t *c);
} contents[] = {
    {"sms.events.posts", "post.created", post_content},
    {"sms.events.grades", "grade.changed", grade_changed_content},
    {"sms.events.grades", "grade.released", grade_released_content},
    {"sms.events.assignments", "assignment.created", assignment_created_content},
    {"sms.events.assignments", "assignment.updated", assignment_updated_content},
    {"sms.events.assignments", "assignment.due_soon", due_soon_content},
};

bool notif_content_of(const char *topic, const sms_event_t *ev, notif_content_t *c) {
    content_init(c);
    for (size_t i = 0; i < sizeof contents / sizeof contents[0]; i++)
        if (strcmp(topic, contents[i].topic) == 0 && notif_str_is(ev->type, contents[i].type))
            return contents[i].content(ev, c);
    return false;
}

/* ---- commands ---- */

static bool key_is(const msgpack_object_kv *kv, const char *k) { return sms_mp_str_eq(&kv->key, k); }

static void unavailable(sms_decision_t *d) { sms_decision_fail(d, 503, "unavailable", "the view could not be read"); }

/* An unknown top-level field of a command's data. */
static void unknown_field(const msgpack_object_kv *kv, sms_decision_t *d) {
    if (kv->key.type == MSGPACK_OBJECT_STR)
        sms_decision_error(d, kv->key.via.str.ptr, kv->key.via.str.size, "is not a known field");
}

/* The read command's checks of ids (an array of notification ids). */
static void check_read_ids(const msgpack_object *ids, sms_decision_t *d) {
    if (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size < 1 || ids->via.array.size > NOTIF_READ_IDS_MAX) {
        sms_decision_error(d, "ids", 3, "must be an array of 1 to %d notification ids", NOTIF_READ_IDS_MAX);
        return;
    }
    for (uint32_t i = 0; i < ids->via.array.size; i++) {
        const msgpack_object *o = &ids->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_STR || o->via.str.size != SMS_ID_LEN) {
            char field[32];
            int n = snprintf(field, sizeof field, "ids[%u]", i);
            sms_decision_error(d, field, (size_t)n, "is not a notification id");
        }
    }
}

/* The ids of a valid array, each once, in first-seen order. */
static void read_ids_unique(const msgpack_object *arr, notif_read_args_t *a) {
    size_t n = arr->via.array.size;
    a->ids = sms_malloc(n * sizeof *a->ids);
    for (size_t i = 0; i < n; i++) {
        sms_str_t s = {arr->via.array.ptr[i].via.str.ptr, arr->via.array.ptr[i].via.str.size};
        bool dup = false;
        for (size_t j = 0; j < a->n_ids && !dup; j++) dup = a->ids[j].len == s.len && memcmp(a->ids[j].ptr, s.ptr, s.len) == 0;
        if (!dup) a->ids[a->n_ids++] = s;
    }
}

int notif_read_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    notif_read_args_t *a = args;
    const msgpack_object *data = cmd->data, *ids = NULL, *all = NULL;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        if (key_is(kv, "ids")) ids = &kv->val;
        else if (key_is(kv, "all")) all = &kv->val;
        else unknown_field(kv, d);
    }
    if (all && (all->type != MSGPACK_OBJECT_BOOLEAN || !all->via.boolean))
        sms_decision_error(d, "all", 3, "must be true (or send ids)");
    if (ids && all) sms_decision_error(d, "ids", 3, "send either ids or all, not both");
    if (!ids && !all) sms_decision_error(d, "ids", 3, "is required (or all: true)");
    if (ids) check_read_ids(ids, d);
    if (d->n_errors) {
        sms_decision_fail(d, 422, "validation", "invalid read request");
        return -1;
    }
    a->all = all != NULL;
    if (!a->all) read_ids_unique(ids, a);
    return 0;
}

void notif_read_args_clear(void *args) {
    notif_read_args_t *a = args;
    sms_free(a->ids);
    a->ids = NULL;
}

void notif_read_prefetch(void *state, const sms_command_t *cmd, const void *args) {
    const notif_read_args_t *a = args;
    if (a->all) notif_state_want_newest(state, cmd, cmd->actor);
    else notif_state_want_inbox(state, cmd, cmd->actor, a->ids, a->n_ids);
}

static void reply_marked(sms_decision_t *d, int64_t marked) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_kv_i64(&pk, "marked", marked);
}

/* The notifications.read event: all up to up_to, or the ids[i] with keep[i]. */
static void pack_read_event(sms_decision_t *d, const sms_command_t *cmd, int64_t now_ms, bool all, const char *up_to,
                            const sms_str_t *ids, const bool *keep, size_t n, int64_t marked) {
    char event_id[SMS_ID_SIZE];
    char key[160];
    snprintf(key, sizeof key, "%.*s", (int)cmd->actor.len, cmd->actor.ptr);
    msgpack_packer pk = sms_decision_event(d, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR("notifications.read"), NOTIF_EVENT_VERSION, now_ms,
                        cmd->actor, cmd->actor, cmd->id);
    msgpack_pack_map(&pk, 5);
    sms_mp_pack_str(&pk, "user_id");
    sms_mp_pack_strn(&pk, cmd->actor.ptr, cmd->actor.len);
    sms_mp_pack_str(&pk, "all");
    if (all) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    sms_mp_pack_kv_str(&pk, "up_to", up_to);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += keep[i];
    sms_mp_pack_str(&pk, "ids");
    msgpack_pack_array(&pk, kept);
    for (size_t i = 0; i < n; i++)
        if (keep[i]) sms_mp_pack_strn(&pk, ids[i].ptr, ids[i].len);
    sms_mp_pack_kv_i64(&pk, "marked", marked);
}

static void decide_read_all(const notif_state_t *st, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    char newest[SMS_ID_SIZE];
    long long unread;
    if (notif_state_newest(st, cmd, newest, &unread) != 0) {
        unavailable(d);
        return;
    }
    /* "Everything up to the newest item now": an id, so a replay marks the same items. */
    if (newest[0] && unread > 0) pack_read_event(d, cmd, now_ms, true, newest, NULL, NULL, 0, unread);
    reply_marked(d, unread);
}

static void decide_read_ids(const notif_state_t *st, const sms_command_t *cmd, const notif_read_args_t *a,
                            int64_t now_ms, sms_decision_t *d) {
    size_t m = a->n_ids;
    bool *in = sms_calloc(m, sizeof *in), *unread = sms_calloc(m, sizeof *unread);
    if (notif_state_inbox(st, cmd, in, unread) != 0) {
        unavailable(d);
    } else {
        /* Only the caller's own items: an unknown id is ignored, never recorded. */
        int64_t marked = 0, kept = 0;
        for (size_t i = 0; i < m; i++) {
            kept += in[i];
            marked += in[i] && unread[i];
        }
        if (kept) pack_read_event(d, cmd, now_ms, false, "", a->ids, in, m, marked);
        reply_marked(d, marked);
    }
    sms_free(unread);
    sms_free(in);
}

void notif_read_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d) {
    const notif_read_args_t *a = args;
    if (a->all) decide_read_all(state, cmd, now_ms, d);
    else decide_read_ids(state, cmd, a, now_ms, d);
}

void notif_read_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec, sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    uint64_t marked;
    if (rec->status != 200 || rec->argc != 1 || sms_command_record_u64(rec, 0, &marked) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    reply_marked(d, (int64_t)marked);
}

/* Reads one {name: bool} object into the named fields; errors name
 * "<group>.<name>". A NULL field (the inbox) must be true. */
static void read_bools(const msgpack_object *o, const char *group, const char *const *names, int8_t *const *fields,
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
            *fields[k] = kv->val.via.boolean ? 1 : 0;
        }
    }
}

int notif_prefs_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    notif_prefs_args_t *a = args;
    *a = (notif_prefs_args_t){-1, -1, -1, -1, -1, -1};
    static const char *const channels[] = {"inbox", "email", "webhook"};
    static const char *const kinds[] = {"posts", "grades", "assignments", "due_reminders"};
    int8_t *const chf[] = {NULL, &a->email, &a->webhook};
    int8_t *const kf[] = {&a->posts, &a->grades, &a->assignments, &a->due_reminders};
    const msgpack_object *data = cmd->data;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        if (key_is(kv, "channels")) read_bools(&kv->val, "channels", channels, chf, 3, d);
        else if (key_is(kv, "kinds")) read_bools(&kv->val, "kinds", kinds, kf, 4, d);
        else unknown_field(kv, d);
    }
    if (d->n_errors) {
        sms_decision_fail(d, 422, "validation", "invalid notification preferences");
        return -1;
    }
    return 0;
}

static void merge_one(int8_t v, bool *field) {
    if (v >= 0) *field = v == 1;
}

void notif_prefs_merge(const notif_prefs_args_t *a, notif_prefs_t *p) {
    merge_one(a->email, &p->email);
    merge_one(a->webhook, &p->webhook);
    merge_one(a->posts, &p->posts);
    merge_one(a->grades, &p->grades);
    merge_one(a->assignments, &p->assignments);
    merge_one(a->due_reminders, &p->due_reminders);
}

void notif_prefs_prefetch(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    notif_state_want_prefs(state, cmd, cmd->actor);
}

static void reply_prefs(sms_decision_t *d, const notif_prefs_t *p) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    notif_prefs_pack(&pk, p);
}

void notif_prefs_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d) {
    notif_prefs_t p;
    if (notif_state_user_prefs(state, cmd, &p) != 0) {
        unavailable(d);
        return;
    }
    notif_prefs_merge(args, &p);
    char event_id[SMS_ID_SIZE], key[160];
    snprintf(key, sizeof key, "%.*s", (int)cmd->actor.len, cmd->actor.ptr);
    msgpack_packer pk = sms_decision_event(d, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR("notifications.preferences_set"),
                        NOTIF_EVENT_VERSION, now_ms, cmd->actor, cmd->actor, cmd->id);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_str(&pk, "user_id");
    sms_mp_pack_strn(&pk, cmd->actor.ptr, cmd->actor.len);
    sms_mp_pack_str(&pk, "preferences");
    notif_prefs_pack(&pk, &p);
    reply_prefs(d, &p);
}

void notif_prefs_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                       sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    notif_prefs_t p;
    if (rec->status != 200 || rec->argc != 1 || notif_prefs_parse_json(rec->argv[0].ptr, rec->argv[0].len, &p) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    reply_prefs(d, &p);
}
