/* webhooks.h - webhook registrations: the admin commands webhooks.register
 * and webhooks.delete (validate, decide, emit webhook.registered /
 * webhook.deleted on sms.events.notifications), their projection into the
 * notifications view, and answers to redelivered commands. Called by ops.c
 * and projection.c; the webhook consumer (webhook.c) reads the view.
 *
 * View keys (pure functions of the log, like the rest of the view):
 *   sms:notifications:webhooks   hash webhook id -> public JSON {id,url,events,created_at}
 *   sms:notifications:whsecret   hash webhook id -> the signing secret (never served) */
#ifndef NOTIF_WEBHOOKS_H
#define NOTIF_WEBHOOKS_H

#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <stdbool.h>

#include "buf.h"
#include "envelope.h"
#include "worker.h"

#define NOTIF_WEBHOOKS_KEY "sms:notifications:webhooks"
#define NOTIF_WHSECRET_KEY "sms:notifications:whsecret"
#define NOTIF_WEBHOOK_URL_MAX 2048
#define NOTIF_WEBHOOK_SECRET_MIN 16
#define NOTIF_WEBHOOK_SECRET_MAX 256

/* True when cmd is one of the webhook commands. */
bool notif_webhook_cmd(const sms_command_t *cmd);
/* Decides a webhook command; rc reads the view (delete: does it exist). */
void notif_webhook_decide(redisContext *rc, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d);
/* Answers a redelivered webhook command from its cmds summary ("<status> <json>"). */
void notif_webhook_replay(const char *summary, sms_decision_t *d);
/* Appends the projection of a webhook.* event (see projection.c's position
 * arguments); returns 1 if appended, 0 if ev is not a webhook event. */
int notif_webhook_project(redisContext *rc, const sms_event_t *ev, const char *part, const char *next);

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
