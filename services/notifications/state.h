/* state.h - what the notifications decisions read from the view (view.h),
 * with the worker's blocking Redis connection. The command table's state
 * (commands.c): each command's prefetch says what its decision will read
 * (notif_state_want_*), notif_state_fetch reads all of it in one pipelined
 * round trip, and the decision takes its answer (notif_state_newest, ...).
 * The fan-out (ops.c) reads a roster and then its students' preferences,
 * the second depending on the first, so those two are read when it runs. */
#ifndef NOTIF_STATE_H
#define NOTIF_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"
#include "id.h"
#include "schema.h"
#include "strmap.h"

typedef struct notif_want_s notif_want_t; /* state.c */

/* A batch's state: created by notif_state_new, freed by notif_state_free. */
typedef struct notif_state_s {
    redisContext *rc;
    notif_want_t *wants; /* one per command that reads, in prefetch order */
    size_t n_wants, cap_wants;
    sms_strmap_t prefs;  /* user -> notif_prefs_t* (owned): the fan-out's prefetched preferences */
} notif_state_t;

/* The table's state_new / state_fetch / state_free (command_table.h). */
void *notif_state_new(redisContext *rc);
/* Sends every want's commands in one pipeline and reads the replies. 0, or
 * -1 when the connection failed (the batch is fetched again). A reply that
 * is an error or of the wrong type fails only its command (the view could
 * not be read: 503), as a failed read did when each decision read alone. */
int notif_state_fetch(void *state);
void notif_state_free(void *state);

/* Prefetch: what cmd's decision will read (one want per command). Strings
 * are borrowed until notif_state_fetch (they point into cmd or its args). */
void notif_state_want_newest(notif_state_t *st, const sms_command_t *cmd, sms_str_t user);
void notif_state_want_inbox(notif_state_t *st, const sms_command_t *cmd, sms_str_t user, const sms_str_t *ids,
                            size_t n);
void notif_state_want_prefs(notif_state_t *st, const sms_command_t *cmd, sms_str_t user);
void notif_state_want_webhook(notif_state_t *st, const sms_command_t *cmd, sms_str_t webhook_id);

/* Decide: the answers to cmd's want. Each returns 0, or -1 when the read
 * failed (logged once, at fetch). */
/* The user's newest inbox id (newest[0] = '\0' if empty) and unread count. */
int notif_state_newest(const notif_state_t *st, const sms_command_t *cmd, char newest[SMS_ID_SIZE],
                       long long *unread);
/* For each of the wanted ids: in the user's inbox (in_inbox[i]) and unread (unread[i]). */
int notif_state_inbox(const notif_state_t *st, const sms_command_t *cmd, bool *in_inbox, bool *unread);
/* The user's preferences (defaults where unset or unreadable). */
int notif_state_user_prefs(const notif_state_t *st, const sms_command_t *cmd, notif_prefs_t *p);
/* The webhook's public JSON: *json (borrowed from the state) or NULL when
 * there is no such webhook. */
int notif_state_webhook(const notif_state_t *st, const sms_command_t *cmd, const char **json, size_t *len);

/* Fan-out reads, at once (not prefetched). */
/* The roster of class_id as a HGETALL reply (student id, name, ...); the
 * caller frees it with freeReplyObject. 0, or -1 on a Redis failure. */
int notif_state_roster(notif_state_t *st, sms_str_t class_id, redisReply **out);
/* Fills prefs[i] with users[i]'s preferences (defaults where unset): from
 * what notif_state_prefetch_prefs read when it read them all, else in one
 * pipeline now. 0, or -1 on a Redis failure. */
int notif_state_prefs(notif_state_t *st, const sms_str_t *users, size_t n, notif_prefs_t *prefs);
/* Reads users[0..n)'s preferences (duplicates allowed) in one pipeline,
 * for the batch's later notif_state_prefs calls: how the fan-out of a
 * batch of single-recipient events (released grades) costs one round trip
 * instead of one each. 0, or -1 on a Redis failure. */
int notif_state_prefetch_prefs(notif_state_t *st, const sms_str_t *users, size_t n);

#endif
