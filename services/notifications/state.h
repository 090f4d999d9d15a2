/* state.h - what the notifications decisions read from the view, with the
 * worker's blocking Redis connection: a class's roster, users' preferences,
 * a user's unread items. Called by ops.c while deciding (commands are few
 * and a fan-out reads one roster), so nothing is prefetched per batch. */
#ifndef NOTIF_STATE_H
#define NOTIF_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"
#include "id.h"
#include "schema.h"

typedef struct notif_state_s {
    redisContext *rc;
} notif_state_t;

/* The roster of class_id as a HGETALL reply (student id, name, ...); the
 * caller frees it with freeReplyObject. 0, or -1 on a Redis failure. */
int notif_state_roster(notif_state_t *st, sms_str_t class_id, redisReply **out);
/* Fills prefs[i] with users[i]'s preferences (defaults where unset).
 * 0, or -1 on a Redis failure. */
int notif_state_prefs(notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs);
/* For each of ids: in the user's inbox (in_inbox[i]) and unread (unread[i]). */
int notif_state_inbox_has(notif_state_t *st, sms_str_t user, const sms_str_t *ids, size_t n, bool *in_inbox,
                          bool *unread);
/* The user's newest inbox id (newest[0] = '\0' if empty) and unread count. */
int notif_state_newest(notif_state_t *st, sms_str_t user, char newest[SMS_ID_SIZE], long long *unread);

#endif
