/* webhooks.h - webhook registrations: the admin commands webhooks.register
 * and webhooks.delete (their rows in commands.c: validate, prefetch,
 * decide, reply; they emit webhook.registered / webhook.deleted on
 * sms.events.notifications), the events' projection into the notifications
 * view (rows of projection.c's table), and the URL check. The webhook
 * consumer (webhook.c) reads the view: keys `webhooks` (webhook id -> public
 * JSON {id,url,events,created_at}) and `whsecret` (webhook id -> the
 * signing secret, never served), see view.h. */
#ifndef NOTIF_WEBHOOKS_H
#define NOTIF_WEBHOOKS_H

#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <stdbool.h>

#include "buf.h"
#include "command_table.h"
#include "envelope.h"
#include "id.h"
#include "worker.h"

#define NOTIF_WEBHOOK_URL_MAX 2048
#define NOTIF_WEBHOOK_SECRET_MIN 16
#define NOTIF_WEBHOOK_SECRET_MAX 256
#define NOTIF_WEBHOOK_EVENTS_MAX 8

/* webhooks.register data {"url", "events", "secret"}, decoded (strings
 * point into the command). events: the kinds without repeats. */
typedef struct notif_webhook_register_args_s {
    sms_str_t url, secret;
    sms_str_t events[NOTIF_WEBHOOK_EVENTS_MAX];
    size_t n_events;
} notif_webhook_register_args_t;

/* webhooks.delete data {"id"}, decoded. */
typedef struct notif_webhook_delete_args_s {
    char id[SMS_ID_SIZE];
} notif_webhook_delete_args_t;

/* The rows' functions (command_table.h). Validation failures: register 422
 * with errors, delete 404 (not an id: no such webhook). */
int notif_webhook_register_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void notif_webhook_register_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d);
int notif_webhook_delete_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void notif_webhook_delete_prefetch(void *state, const sms_command_t *cmd, const void *args);
void notif_webhook_delete_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                 sms_decision_t *d);
/* Both commands' reply: record "<200|201> <public JSON>". */
void notif_webhook_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                         sms_decision_t *d);

/* Append the projection of a webhook.registered / webhook.deleted event
 * (part, next: projection.c's position arguments, "" when not tailed);
 * return 1 if appended, 0 if ev cannot be read. */
int notif_webhook_project_registered(redisContext *rc, const sms_event_t *ev, const char *part, const char *next);
int notif_webhook_project_deleted(redisContext *rc, const sms_event_t *ev, const char *part, const char *next);

/* The events (whole envelopes; created_at = time). Pure: unit-tested
 * against schemas/vectors/webhook.{registered,deleted}.v1. */
void notif_webhook_pack_registered(msgpack_packer *pk, sms_str_t event_id, int64_t time, sms_str_t actor, sms_str_t cause,
                                   sms_str_t webhook_id, sms_str_t url, const sms_str_t *events, size_t n_events,
                                   sms_str_t secret);
void notif_webhook_pack_deleted(msgpack_packer *pk, sms_str_t event_id, int64_t time, sms_str_t actor, sms_str_t cause,
                                sms_str_t webhook_id);

/* Loads the projection's script (after every reconnect). 0 or -1 with err. */
int notif_webhook_init(redisContext *rc, char *err, size_t errlen);

/* Whether url is one a webhook may POST to: http:// or https://, a host,
 * no spaces or control bytes, at most NOTIF_WEBHOOK_URL_MAX bytes. */
bool notif_webhook_url_ok(const char *url, size_t n);

#endif
