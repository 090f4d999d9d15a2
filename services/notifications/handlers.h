/* handlers.h - the notifications service's decisions, without I/O: what a
 * source event says and to whom (notif_content_of), and the validation of
 * the read and preferences commands. ops.c feeds them the view's facts. */
#ifndef NOTIF_HANDLERS_H
#define NOTIF_HANDLERS_H

#include <stdbool.h>

#include "buf.h"
#include "envelope.h"
#include "schema.h"
#include "worker.h"

#define NOTIF_READ_IDS_MAX 500

/* What one source event tells its recipients. The buffers are owned by
 * the struct: notif_content_close. */
typedef struct notif_content_s {
    const char *kind;
    sms_str_t class_id;     /* points into the event */
    sms_str_t student_id;   /* one recipient; len 0: every enrolled student of class_id */
    sms_buf_t title, body, link;
} notif_content_t;

/* Returns true and fills c when the event from topic notifies anyone:
 * post.created (the class), grade.changed with released=true and
 * grade.released (the student; a draft notifies nobody), assignment.created
 * and assignment.updated whose `changed` has due_at (the class),
 * assignment.due_soon (kind due_reminder, the class). */
bool notif_content_of(const char *topic, const sms_event_t *ev, notif_content_t *c);
void notif_content_close(notif_content_t *c);

/* notifications.read data: {"ids": [1..500 strings]} or {"all": true}.
 * Returns 0 with *all, or fails d (422 with errors). */
int notif_validate_read(const msgpack_object *data, bool *all, sms_decision_t *d);
/* notifications.preferences_set data: {"channels"?: {inbox?, email?, webhook?},
 * "kinds"?: {posts?, grades?, assignments?, due_reminders?}}, booleans;
 * merged into *p (the user's current preferences). inbox cannot be false.
 * Returns 0, or fails d. */
int notif_validate_prefs(const msgpack_object *data, notif_prefs_t *p, sms_decision_t *d);

#endif
