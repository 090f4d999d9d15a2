/* schema.c - notification messages, inbox items and preferences (see schema.h). */
#include "schema.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "msgpack_util.h"

void notif_prefs_default(notif_prefs_t *p) {
    /* Email on for everything, webhooks off until a school registers one. */
    *p = (notif_prefs_t){.email = true, .webhook = false, .posts = true, .grades = true, .assignments = true,
                         .due_reminders = true};
}

static bool json_bool(const cJSON *obj, const char *name, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsBool(v)) return false;
    *out = cJSON_IsTrue(v);
    return true;
}

int notif_prefs_parse_json(const char *s, size_t n, notif_prefs_t *p) {
    cJSON *root = cJSON_ParseWithLength(s, n);
    notif_prefs_t q;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "channels");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kinds");
    int rc = json_bool(ch, "email", &q.email) && json_bool(ch, "webhook", &q.webhook) &&
                     json_bool(k, "posts", &q.posts) && json_bool(k, "grades", &q.grades) &&
                     json_bool(k, "assignments", &q.assignments) && json_bool(k, "due_reminders", &q.due_reminders)
                 ? 0
                 : -1;
    if (rc == 0) *p = q;
    cJSON_Delete(root);
    return rc;
}

static const char *tf(bool b) { return b ? "true" : "false"; }

void notif_prefs_json(const notif_prefs_t *p, sms_buf_t *out) {
    sms_buf_printf(out,
                   "{\"channels\":{\"inbox\":true,\"email\":%s,\"webhook\":%s},"
                   "\"kinds\":{\"posts\":%s,\"grades\":%s,\"assignments\":%s,\"due_reminders\":%s}}",
                   tf(p->email), tf(p->webhook), tf(p->posts), tf(p->grades), tf(p->assignments), tf(p->due_reminders));
}

static void pack_kv_bool(msgpack_packer *pk, const char *key, bool v) {
    sms_mp_pack_str(pk, key);
    if (v) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
}

void notif_prefs_pack(msgpack_packer *pk, const notif_prefs_t *p) {
    msgpack_pack_map(pk, 2);
    sms_mp_pack_str(pk, "channels");
    msgpack_pack_map(pk, 3);
    pack_kv_bool(pk, "inbox", true);
    pack_kv_bool(pk, "email", p->email);
    pack_kv_bool(pk, "webhook", p->webhook);
    sms_mp_pack_str(pk, "kinds");
    msgpack_pack_map(pk, 4);
    pack_kv_bool(pk, "posts", p->posts);
    pack_kv_bool(pk, "grades", p->grades);
    pack_kv_bool(pk, "assignments", p->assignments);
    pack_kv_bool(pk, "due_reminders", p->due_reminders);
}

bool notif_prefs_kind_on(const notif_prefs_t *p, const char *kind) {
    if (strcmp(kind, "post") == 0) return p->posts;
    if (strcmp(kind, "grade") == 0) return p->grades;
    if (strcmp(kind, "assignment") == 0) return p->assignments;
    if (strcmp(kind, "due_reminder") == 0) return p->due_reminders;
    return false;
}

char *notif_derive_id(sms_str_t source_event_id, sms_str_t recipient_id, int64_t time_ms, char out[SMS_ID_SIZE]) {
    char seed[256];
    int n = snprintf(seed, sizeof seed, "%.*s\n%.*s", (int)source_event_id.len, source_event_id.ptr,
                     (int)recipient_id.len, recipient_id.ptr);
    return sms_id_derive(time_ms, seed, (size_t)n < sizeof seed ? (size_t)n : sizeof seed - 1, out);
}

static void pack_kv_strn(msgpack_packer *pk, const char *key, sms_str_t v) {
    sms_mp_pack_str(pk, key);
    sms_mp_pack_strn(pk, v.ptr, v.len);
}

void notif_pack_message(msgpack_packer *pk, const notif_message_t *m, sms_str_t actor, const notif_prefs_t *prefs) {
    sms_event_pack_head(pk, SMS_STR(m->id), SMS_STR("notification.created"), NOTIF_EVENT_VERSION, m->created_at, actor,
                        m->recipient_id, m->source_event_id);
    msgpack_pack_map(pk, 11);
    sms_mp_pack_kv_str(pk, "id", m->id);
    pack_kv_strn(pk, "recipient_id", m->recipient_id);
    sms_mp_pack_kv_str(pk, "kind", m->kind);
    pack_kv_strn(pk, "title", m->title);
    pack_kv_strn(pk, "body", m->body);
    pack_kv_strn(pk, "link", m->link);
    sms_mp_pack_str(pk, "channel_hints");
    bool more = notif_prefs_kind_on(prefs, m->kind);
    bool email = more && prefs->email, webhook = more && prefs->webhook;
    msgpack_pack_array(pk, 1 + (email ? 1 : 0) + (webhook ? 1 : 0));
    sms_mp_pack_str(pk, "inbox");
    if (email) sms_mp_pack_str(pk, "email");
    if (webhook) sms_mp_pack_str(pk, "webhook");
    pack_kv_strn(pk, "class_id", m->class_id);
    pack_kv_strn(pk, "source_event_id", m->source_event_id);
    pack_kv_strn(pk, "source_type", m->source_type);
    sms_mp_pack_kv_i64(pk, "created_at", m->created_at);
}

static bool get_str(const msgpack_object *data, const char *key, sms_str_t *out) {
    return sms_mp_str(sms_mp_map_get(data, key), &out->ptr, &out->len);
}

int notif_read_message(const msgpack_object *data, notif_message_t *m, sms_str_t *id) {
    memset(m, 0, sizeof *m);
    sms_str_t kind;
    if (!get_str(data, "id", id) || !get_str(data, "recipient_id", &m->recipient_id) || !get_str(data, "kind", &kind) ||
        !get_str(data, "title", &m->title) || !get_str(data, "body", &m->body) || !get_str(data, "link", &m->link) ||
        !get_str(data, "class_id", &m->class_id) || !get_str(data, "source_event_id", &m->source_event_id) ||
        !get_str(data, "source_type", &m->source_type) ||
        !sms_mp_i64(sms_mp_map_get(data, "created_at"), &m->created_at))
        return -1;
    if (id->len != SMS_ID_LEN || m->recipient_id.len == 0 || m->recipient_id.len > 128) return -1;
    static const char *const kinds[] = {"post", "grade", "assignment", "due_reminder"};
    for (size_t i = 0; i < 4; i++)
        if (kind.len == strlen(kinds[i]) && memcmp(kind.ptr, kinds[i], kind.len) == 0) m->kind = kinds[i];
    return m->kind ? 0 : -1;
}

static void kv_json(sms_buf_t *out, const char *key, sms_str_t v) {
    sms_buf_printf(out, ",\"%s\":", key);
    sms_buf_json_str(out, v.ptr, v.len);
}

void notif_render_item_open(const notif_message_t *m, sms_str_t id, sms_buf_t *out) {
    char at[40];
    sms_buf_puts(out, "{\"id\":");
    sms_buf_json_str(out, id.ptr, id.len);
    kv_json(out, "kind", SMS_STR(m->kind));
    kv_json(out, "title", m->title);
    kv_json(out, "body", m->body);
    kv_json(out, "link", m->link);
    kv_json(out, "class_id", m->class_id);
    kv_json(out, "source_event_id", m->source_event_id);
    sms_buf_printf(out, ",\"created_at\":\"%s\"", sms_rfc3339(m->created_at, at));
}
