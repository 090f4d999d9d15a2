/* webhooks.c - webhook registration commands, events and projection (see
 * webhooks.h). The secret travels in the webhook.registered event (the log
 * is the only record, so a rebuilt view must be able to sign again); it is
 * kept apart from the public JSON in the view and never served. */
#include "webhooks.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "command_table.h"
#include "id.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "net_policy.h"
#include "redis.h"
#include "schema.h"
#include "state.h"
#include "view.h"

#define EVENTS_MAX NOTIF_WEBHOOK_EVENTS_MAX

static const char *const known_kinds[] = {"post", "grade", "assignment", "due_reminder", "*"};

/* ARGV: 1 cause, 2 summary, 3 "<topic>:<partition>", 4 next offset, 5 "reg"|"del", 6 id, 7 public JSON, 8 secret. */
static sms_redis_script_t webhook_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "if ARGV[3] ~= '' then redis.call('HSET', p .. '" NOTIF_VIEW_OFFSETS "', ARGV[3], ARGV[4]) end\n"
    "redis.call('HSET', p .. '" NOTIF_VIEW_CMDS "', ARGV[1], ARGV[2])\n"
    "if ARGV[5] == 'reg' then\n"
    "  redis.call('HSET', p .. '" NOTIF_VIEW_WEBHOOKS "', ARGV[6], ARGV[7])\n"
    "  redis.call('HSET', p .. '" NOTIF_VIEW_WHSECRET "', ARGV[6], ARGV[8])\n"
    "else\n"
    "  redis.call('HDEL', p .. '" NOTIF_VIEW_WEBHOOKS "', ARGV[6])\n"
    "  redis.call('HDEL', p .. '" NOTIF_VIEW_WHSECRET "', ARGV[6])\n"
    "end\n"
    "return 1\n"};

bool notif_webhook_url_ok(const char *url, size_t n) {
    size_t scheme;
    if (n > NOTIF_WEBHOOK_URL_MAX) return false;
    if (n > 7 && strncmp(url, "http://", 7) == 0) scheme = 7;
    else if (n > 8 && strncmp(url, "https://", 8) == 0) scheme = 8;
    else return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) return false;
    size_t host = 0; /* bytes before the port, path, query or fragment */
    while (scheme + host < n && !strchr(":/?#", url[scheme + host])) host++;
    return host > 0 && memchr(url + scheme, '@', host) == NULL; /* no credentials in the URL */
}

/* The public JSON of a webhook (also the reply body and the cmds summary). */
static void render(sms_buf_t *out, sms_str_t id, sms_str_t url, const sms_str_t *events, size_t n, int64_t created) {
    sms_buf_puts(out, "{\"id\":");
    sms_buf_json_str(out, id.ptr, id.len);
    sms_buf_puts(out, ",\"url\":");
    sms_buf_json_str(out, url.ptr, url.len);
    sms_buf_puts(out, ",\"events\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) sms_buf_putc(out, ',');
        sms_buf_json_str(out, events[i].ptr, events[i].len);
    }
    sms_buf_printf(out, "],\"created_at\":%lld}", (long long)created);
}

/* Packs a JSON object text as the reply body. */
static int body_from_json(sms_decision_t *d, const char *json, size_t n) {
    cJSON *j = cJSON_ParseWithLength(json, n);
    if (!j) return -1;
    msgpack_packer pk = sms_decision_body(d);
    sms_json_to_msgpack(j, &pk);
    cJSON_Delete(j);
    return 0;
}

void notif_webhook_pack_registered(msgpack_packer *pk, sms_str_t event_id, int64_t time, sms_str_t actor, sms_str_t cause,
                                   sms_str_t webhook_id, sms_str_t url, const sms_str_t *events, size_t n_events,
                                   sms_str_t secret) {
    sms_event_pack_head(pk, event_id, SMS_STR("webhook.registered"), NOTIF_EVENT_VERSION, time, actor, webhook_id,
                        cause);
    msgpack_pack_map(pk, 5);
    sms_mp_pack_str(pk, "webhook_id");
    sms_mp_pack_strn(pk, webhook_id.ptr, webhook_id.len);
    sms_mp_pack_str(pk, "url");
    sms_mp_pack_strn(pk, url.ptr, url.len);
    sms_mp_pack_str(pk, "events");
    msgpack_pack_array(pk, n_events);
    for (size_t i = 0; i < n_events; i++) sms_mp_pack_strn(pk, events[i].ptr, events[i].len);
    sms_mp_pack_str(pk, "secret");
    sms_mp_pack_strn(pk, secret.ptr, secret.len);
    sms_mp_pack_kv_i64(pk, "created_at", time);
}

void notif_webhook_pack_deleted(msgpack_packer *pk, sms_str_t event_id, int64_t time, sms_str_t actor, sms_str_t cause,
                                sms_str_t webhook_id) {
    sms_event_pack_head(pk, event_id, SMS_STR("webhook.deleted"), NOTIF_EVENT_VERSION, time, actor, webhook_id, cause);
    msgpack_pack_map(pk, 1);
    sms_mp_pack_str(pk, "webhook_id");
    sms_mp_pack_strn(pk, webhook_id.ptr, webhook_id.len);
}

/* The register command's checks, in the order its errors are listed. */
static void check_register(const msgpack_object *url_o, const msgpack_object *secret_o, const msgpack_object *ev,
                           notif_webhook_register_args_t *a, sms_decision_t *d) {
    const char *refused = NULL;
    if (!sms_mp_str(url_o, &a->url.ptr, &a->url.len) || !notif_webhook_url_ok(a->url.ptr, a->url.len))
        sms_decision_error(d, "url", 3, "must be an http:// or https:// URL with a host (at most %d bytes)",
                           NOTIF_WEBHOOK_URL_MAX);
    else if ((refused = sms_net_url_refusal(a->url.ptr, a->url.len)) != NULL)
        /* SSRF: internal targets are refused here, and again once resolved
         * (sms-notify-webhook's connect check; names may resolve inside). */
        sms_decision_error(d, "url", 3, "%s", refused);
    if (!sms_mp_str(secret_o, &a->secret.ptr, &a->secret.len) || a->secret.len < NOTIF_WEBHOOK_SECRET_MIN ||
        a->secret.len > NOTIF_WEBHOOK_SECRET_MAX)
        sms_decision_error(d, "secret", 6, "must be a string of %d to %d bytes", NOTIF_WEBHOOK_SECRET_MIN,
                           NOTIF_WEBHOOK_SECRET_MAX);
    bool events_ok = ev && ev->type == MSGPACK_OBJECT_ARRAY && ev->via.array.size >= 1 &&
                     ev->via.array.size <= EVENTS_MAX;
    for (uint32_t i = 0; events_ok && i < ev->via.array.size; i++) {
        sms_str_t s;
        bool known = false, dup = false;
        if (!sms_mp_str(&ev->via.array.ptr[i], &s.ptr, &s.len)) { events_ok = false; break; }
        for (size_t k = 0; k < sizeof known_kinds / sizeof *known_kinds; k++) known |= sms_str_is(s, known_kinds[k]);
        for (size_t k = 0; k < a->n_events; k++)
            dup |= a->events[k].len == s.len && memcmp(a->events[k].ptr, s.ptr, s.len) == 0;
        events_ok = known;
        if (!dup) a->events[a->n_events++] = s;
    }
    if (!events_ok)
        sms_decision_error(d, "events", 6, "must be a list of 1 to %d of post, grade, assignment, due_reminder or *",
                           EVENTS_MAX);
}

/* Webhooks are the admin's: the gateway's route says so, and so does the
 * service, which must not trust that every producer on the command topic
 * is that gateway (a lecturer's command naming this type is refused). */
static int check_admin(const sms_command_t *cmd, sms_decision_t *d) {
    return sms_command_check_sender(cmd, (const char *const[]){"admin", NULL}, "only admins manage webhooks", d);
}

int notif_webhook_register_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_admin(cmd, d) != 0) return -1;
    const msgpack_object *url = NULL, *secret = NULL, *events = NULL, *data = cmd->data;
    /* One pass over the map; a repeated key counts once, the first time. */
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        const msgpack_object **slot = sms_mp_str_eq(&kv->key, "url")      ? &url
                                      : sms_mp_str_eq(&kv->key, "secret") ? &secret
                                      : sms_mp_str_eq(&kv->key, "events") ? &events
                                                                          : NULL;
        if (slot && *slot == NULL) *slot = &kv->val;
    }
    check_register(url, secret, events, args, d);
    if (d->n_errors) {
        sms_decision_fail(d, 422, "validation", "invalid webhook");
        return -1;
    }
    return 0;
}

void notif_webhook_register_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d) {
    (void)state;
    const notif_webhook_register_args_t *a = args;
    char id[SMS_ID_SIZE], event_id[SMS_ID_SIZE];
    sms_id_new(id);
    msgpack_packer pk = sms_decision_event(d, id);
    notif_webhook_pack_registered(&pk, SMS_STR(sms_id_new(event_id)), now_ms, cmd->actor, cmd->id, SMS_STR(id), a->url,
                                  a->events, a->n_events, a->secret);
    sms_buf_t json;
    sms_buf_init(&json);
    render(&json, SMS_STR(id), a->url, a->events, a->n_events, now_ms);
    (void)body_from_json(d, json.data, json.len); /* rendered here: always valid JSON */
    sms_buf_close(&json);
    d->status = 201;
    snprintf(d->location, sizeof d->location, "/admin/webhooks/%s", id);
}

int notif_webhook_delete_validate(const sms_command_t *cmd, void *args, sms_decision_t *d) {
    if (check_admin(cmd, d) != 0) return -1;
    notif_webhook_delete_args_t *a = args;
    const msgpack_object *idobj = NULL, *data = cmd->data;
    for (uint32_t i = 0; i < data->via.map.size && idobj == NULL; i++)
        if (sms_mp_str_eq(&data->via.map.ptr[i].key, "id")) idobj = &data->via.map.ptr[i].val;
    char id[SMS_ID_SIZE + 1];
    if (!sms_mp_strcpy(idobj, id, sizeof id) || strlen(id) != SMS_ID_LEN) {
        sms_decision_fail(d, 404, "not_found", "no such webhook");
        return -1;
    }
    memcpy(a->id, id, SMS_ID_SIZE);
    return 0;
}

void notif_webhook_delete_prefetch(void *state, const sms_command_t *cmd, const void *args) {
    const notif_webhook_delete_args_t *a = args;
    notif_state_want_webhook(state, cmd, (sms_str_t){a->id, SMS_ID_LEN});
}

void notif_webhook_delete_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                 sms_decision_t *d) {
    const notif_webhook_delete_args_t *a = args;
    const char *json;
    size_t len;
    if (notif_state_webhook(state, cmd, &json, &len) != 0) {
        sms_decision_fail(d, 503, "unavailable", "the view could not be read");
    } else if (json == NULL) {
        sms_decision_fail(d, 404, "not_found", "no such webhook");
    } else if (body_from_json(d, json, len) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable webhook record");
    } else {
        char event_id[SMS_ID_SIZE];
        msgpack_packer pk = sms_decision_event(d, a->id);
        notif_webhook_pack_deleted(&pk, SMS_STR(sms_id_new(event_id)), now_ms, cmd->actor, cmd->id,
                                   (sms_str_t){a->id, SMS_ID_LEN});
        d->status = 200;
    }
}

void notif_webhook_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                         sms_decision_t *d) {
    (void)rc;
    (void)cmd;
    if ((rec->status != 200 && rec->status != 201) || rec->argc != 1 ||
        body_from_json(d, rec->argv[0].ptr, rec->argv[0].len) != 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    d->status = rec->status;
    if (rec->status == 201) {
        cJSON *j = cJSON_ParseWithLength(rec->argv[0].ptr, rec->argv[0].len);
        const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        if (cJSON_IsString(id)) snprintf(d->location, sizeof d->location, "/admin/webhooks/%s", id->valuestring);
        cJSON_Delete(j);
    }
}

/* A webhook.registered event's public JSON into json and its record into
 * summary ("201 <json>"). 0, or -1 when the event cannot be read. */
static int registered_record(const sms_event_t *ev, sms_str_t id, sms_str_t *secret, sms_buf_t *json,
                             sms_buf_t *summary) {
    const msgpack_object *events = sms_mp_map_get(ev->data, "events");
    int64_t created = 0;
    sms_str_t url;
    if (!sms_mp_str(sms_mp_map_get(ev->data, "url"), &url.ptr, &url.len) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "secret"), &secret->ptr, &secret->len) || events == NULL ||
        events->type != MSGPACK_OBJECT_ARRAY || events->via.array.size > EVENTS_MAX ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "created_at"), &created))
        return -1;
    sms_str_t kinds[EVENTS_MAX];
    size_t n = 0;
    for (uint32_t i = 0; i < events->via.array.size; i++)
        if (sms_mp_str(&events->via.array.ptr[i], &kinds[n].ptr, &kinds[n].len)) n++;
    render(json, id, url, kinds, n, created);
    sms_buf_printf(summary, "201 %s", json->data);
    return 0;
}

static int project(redisContext *rc, const sms_event_t *ev, const char *part, const char *next, bool reg) {
    sms_str_t id, secret = {"", 0};
    if (!sms_mp_str(sms_mp_map_get(ev->data, "webhook_id"), &id.ptr, &id.len)) return 0;
    sms_buf_t json, summary;
    sms_buf_init(&json);
    sms_buf_init(&summary);
    int rc_ = 1;
    if (reg && registered_record(ev, id, &secret, &json, &summary) != 0) {
        rc_ = 0;
    } else if (!reg) {
        /* The reply to a redelivered delete is the record as it was; it is
         * gone from the view, so the summary keeps only the id. */
        sms_buf_puts(&summary, "200 {\"id\":");
        sms_buf_json_str(&summary, id.ptr, id.len);
        sms_buf_putc(&summary, '}');
    }
    if (rc_) {
        sms_redis_args_t a;
        sms_redis_args_init(&a);
        sms_redis_args_str(&a, "EVALSHA");
        sms_redis_args_str(&a, webhook_script.sha);
        sms_redis_args_str(&a, "0");
        sms_redis_args_add(&a, ev->cause.ptr, ev->cause.len);
        sms_redis_args_add(&a, summary.data, summary.len);
        sms_redis_args_str(&a, part);
        sms_redis_args_str(&a, next);
        sms_redis_args_str(&a, reg ? "reg" : "del");
        sms_redis_args_add(&a, id.ptr, id.len);
        /* An empty buffer's data is NULL: "" keeps hiredis' memcpy off a NULL source (UBSan). */
        sms_redis_args_add(&a, json.data ? json.data : "", json.len);
        sms_redis_args_add(&a, secret.ptr, secret.len);
        rc_ = sms_redis_args_append(rc, &a) == 0;
    }
    sms_buf_close(&json);
    sms_buf_close(&summary);
    return rc_;
}

int notif_webhook_project_registered(redisContext *rc, const sms_event_t *ev, const char *part, const char *next) {
    return project(rc, ev, part, next, true);
}

int notif_webhook_project_deleted(redisContext *rc, const sms_event_t *ev, const char *part, const char *next) {
    return project(rc, ev, part, next, false);
}

int notif_webhook_init(redisContext *rc, char *err, size_t errlen) {
    return sms_redis_script_load(rc, &webhook_script, err, errlen);
}
