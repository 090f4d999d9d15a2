/* state.h - what the decider knows during one batch of commands: the view
 * entries the batch touches, fetched from Redis in one pipeline, plus the
 * effects of the batch's earlier accepted commands (an overlay), so that
 * commands later in the batch see them. Discarded after the batch. */
#ifndef CLASSES_STATE_H
#define CLASSES_STATE_H

#include <hiredis/hiredis.h>

#include "envelope.h"
#include "schema.h"
#include "strmap.h"

typedef struct classes_state_s {
    redisContext *rc;
    sms_strmap_t classes; /* id -> classes_class_t* (or &classes_absent) */
    sms_strmap_t codes;   /* "<lecturer>\n<CODE>" -> char* id of the active holder (or &classes_absent) */
    sms_strmap_t enrolled; /* "<class>\n<student>" -> &classes_present or &classes_absent */
} classes_state_t;

extern char classes_absent, classes_present;

void classes_state_init(classes_state_t *st, redisContext *rc);
void classes_state_close(classes_state_t *st);

/* Fetches what cmds[0..n) will need, in one pipeline: each command's class,
 * the code holder a body's code would clash with, and which of a roster
 * command's students are enrolled (for a student's chat post: the student).
 * 0, or -1 (Redis down). */
int classes_state_prefetch(classes_state_t *st, const sms_command_t *const *cmds, size_t n);

/* Lookups; all return NULL when absent. */
const classes_class_t *classes_state_class(classes_state_t *st, sms_str_t id);
const char *classes_state_code_holder(classes_state_t *st, const char *lecturer, const char *code);

/* Whether student is on class's roster (false when never fetched). */
bool classes_state_enrolled(classes_state_t *st, const char *class_id, sms_str_t student);

/* Overlay: records an accepted command's effects (before may be NULL). */
void classes_state_apply(classes_state_t *st, const classes_class_t *before, const classes_class_t *after);
/* Overlay for roster commands: student's enrolment, and the class's roster_version. */
void classes_state_set_enrolled(classes_state_t *st, const char *class_id, sms_str_t student, bool enrolled);
void classes_state_set_roster_version(classes_state_t *st, const char *class_id, int64_t roster_version);
/* Overlay for chat posts: the class's last chat sequence, so the next
 * message of the batch gets the one after it. */
void classes_state_set_chat_seq(classes_state_t *st, const char *class_id, int64_t chat_seq);

/* Fills c from an HGETALL reply of the class hash c:<id> (see projection.h). */
void classes_class_from_hash(const redisReply *r, const char *id, size_t idlen, classes_class_t *c);

/* Upper-cases code into out (cap bytes). */
void classes_code_key(const char *lecturer, const char *code, char *out, size_t cap);

#endif
