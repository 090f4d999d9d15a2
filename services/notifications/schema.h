/* schema.h - the notifications service's data: the fan-out message on
 * sms.notifications (the public contract for notification consumers), the
 * inbox item JSON, and a user's preferences (msgpack in events, JSON in the
 * view and at the edge). Pure codecs, no I/O. */
#ifndef NOTIF_SCHEMA_H
#define NOTIF_SCHEMA_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "id.h"

#define NOTIF_TOPIC "sms.notifications"
#define NOTIF_EVENTS_TOPIC "sms.events.notifications"
#define NOTIF_EVENT_VERSION 1
#define NOTIF_BODY_MAX 500 /* bytes of a post's body copied into each notification */

/* Whether s is c: how the service's tables (handlers.c, projection.c) find
 * an event's row by its type. */
static inline bool notif_str_is(sms_str_t s, const char *c) {
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* Delivery preferences. The inbox always gets every notification; kinds
 * switch the other channels (email, webhook) off per kind. */
typedef struct notif_prefs_s {
    bool email, webhook;
    bool posts, grades, assignments, due_reminders;
} notif_prefs_t;

void notif_prefs_default(notif_prefs_t *p);
/* Parses the JSON form (notif_prefs_json); 0, or -1 leaving *p unchanged. */
int notif_prefs_parse_json(const char *s, size_t n, notif_prefs_t *p);
/* {"channels":{"inbox":true,"email":..,"webhook":..},"kinds":{"posts":..,"grades":..,"assignments":..,"due_reminders":..}} */
void notif_prefs_json(const notif_prefs_t *p, sms_buf_t *out);
/* The same shape as a msgpack map. */
void notif_prefs_pack(msgpack_packer *pk, const notif_prefs_t *p);
/* Whether kind ("post", "grade", ...) goes to channels beyond the inbox. */
bool notif_prefs_kind_on(const notif_prefs_t *p, const char *kind);

/* One notification (strings borrowed from the caller). */
typedef struct notif_message_s {
    const char *id;           /* derived: notif_derive_id */
    sms_str_t recipient_id;
    const char *kind;         /* post | grade | assignment | due_reminder */
    sms_str_t title, body, link, class_id;
    sms_str_t source_event_id, source_type;
    int64_t created_at;       /* the source event's time */
} notif_message_t;

/* The notification id for source event id + recipient id. */
char *notif_derive_id(sms_str_t source_event_id, sms_str_t recipient_id, int64_t time_ms, char out[SMS_ID_SIZE]);
/* Packs the whole notification.created envelope: key = recipient, cause =
 * the source event id, actor = the source event's, data = the message with
 * channel_hints from prefs. */
void notif_pack_message(msgpack_packer *pk, const notif_message_t *m, sms_str_t actor, const notif_prefs_t *prefs);
/* Reads a notification.created data map; strings point into it. 0 or -1. */
int notif_read_message(const msgpack_object *data, notif_message_t *m, sms_str_t *id);
/* The inbox item JSON *without its closing brace*: the read script appends
 * ,"read":true|false} at read time, so the stored document never changes. */
void notif_render_item_open(const notif_message_t *m, sms_str_t id, sms_buf_t *out);

#endif
