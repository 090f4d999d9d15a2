/* handlers.h - the notifications service's decisions: what a source event
 * says and to whom (notif_content_of, for the fan-out in ops.c), and the
 * rows of the read and preferences commands (commands.c): validate (the
 * command's data decoded once into its args), prefetch, decide, reply. The
 * view's facts come from state.h; no other I/O. */
#ifndef NOTIF_HANDLERS_H
#define NOTIF_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "command_table.h"
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
 * assignment.due_soon (kind due_reminder, the class). c is initialised
 * either way: notif_content_close it. */
bool notif_content_of(const char *topic, const sms_event_t *ev, notif_content_t *c);
void notif_content_close(notif_content_t *c);

/* ---- notifications.read: {"ids": [1..500 strings]} or {"all": true} ---- */

typedef struct notif_read_args_s {
    bool all;
    sms_str_t *ids;  /* the ids without repeats, first-seen order (owned: notif_read_args_clear) */
    size_t n_ids;
} notif_read_args_t;

/* 0, or -1 with d failed (422 with errors). */
int notif_read_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void notif_read_prefetch(void *state, const sms_command_t *cmd, const void *args);
void notif_read_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
/* record: "200 <marked>" */
void notif_read_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec, sms_decision_t *d);
void notif_read_args_clear(void *args);

/* ---- notifications.preferences_set: {"channels"?: {inbox?, email?, webhook?},
 * "kinds"?: {posts?, grades?, assignments?, due_reminders?}}, booleans,
 * merged into the user's current preferences; inbox cannot be false ---- */

/* What the command names: each -1 (not named), 0 or 1. */
typedef struct notif_prefs_args_s {
    int8_t email, webhook;
    int8_t posts, grades, assignments, due_reminders;
} notif_prefs_args_t;

/* 0, or -1 with d failed (422 with errors). */
int notif_prefs_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
/* Merges what a names into *p. */
void notif_prefs_merge(const notif_prefs_args_t *a, notif_prefs_t *p);
void notif_prefs_prefetch(void *state, const sms_command_t *cmd, const void *args);
void notif_prefs_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms, sms_decision_t *d);
/* record: "200 <prefs JSON>" */
void notif_prefs_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                       sms_decision_t *d);

#endif
