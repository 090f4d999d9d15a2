/* state.h - what the decider knows during one batch of commands: the view
 * entries the batch touches, fetched from Redis in one pipeline, plus the
 * effects of the batch's earlier accepted commands (an overlay), so that
 * commands later in the batch see them. Discarded after the batch.
 *
 * The rows' prefetch functions (handlers.c) say what they will read with the
 * want functions; classes_state_fetch then reads all of it in one round
 * trip. These are the table's state_new / state_fetch / state_free. */
#ifndef CLASSES_STATE_H
#define CLASSES_STATE_H

#include <hiredis/hiredis.h>

#include "envelope.h"
#include "schema.h"
#include "strmap.h"

typedef struct classes_want_code_s {
    sms_str_t lecturer, code; /* borrowed from the command */
} classes_want_code_t;

/* One class's students whose enrolment is read (ids[first..first+n)). */
typedef struct classes_want_roster_s {
    sms_str_t class_id;
    size_t first, n;
} classes_want_roster_t;

typedef struct classes_state_s {
    redisContext *rc;
    sms_strmap_t classes; /* id -> classes_class_t* (or &classes_absent) */
    sms_strmap_t codes;   /* "<lecturer>\n<CODE>" -> char* id of the active holder (or &classes_absent) */
    sms_strmap_t enrolled; /* "<class>\n<student>" -> &classes_present or &classes_absent */
    sms_strmap_t posts;    /* post id -> cJSON* of its view document (or &classes_absent) */
    /* What the batch wants read (strings borrow the batch's commands). */
    sms_str_t *want_classes;
    size_t n_want_classes, cap_want_classes;
    classes_want_code_t *want_codes;
    size_t n_want_codes, cap_want_codes;
    classes_want_roster_t *want_rosters;
    size_t n_want_rosters, cap_want_rosters;
    sms_str_t *want_students;
    size_t n_want_students, cap_want_students;
    sms_str_t *want_posts;
    size_t n_want_posts, cap_want_posts;
} classes_state_t;

extern char classes_absent, classes_present;

void classes_state_init(classes_state_t *st, redisContext *rc);
void classes_state_close(classes_state_t *st);

/* The table's members: a new empty state, the one fetch, the free. */
void *classes_state_new(redisContext *rc);
/* Reads everything wanted in one pipeline. 0, or -1 (Redis down). */
int classes_state_fetch(void *state);
void classes_state_free(void *state);

/* Wants (strings must outlive the fetch): the class id's hash; the active
 * holder of lecturer's code (code as the client wrote it); whether student
 * is on class_id's roster (consecutive wants of one class are read by one
 * HMGET). */
void classes_state_want_class(classes_state_t *st, sms_str_t id);
void classes_state_want_code(classes_state_t *st, sms_str_t lecturer, sms_str_t code);
void classes_state_want_enrolled(classes_state_t *st, sms_str_t class_id, sms_str_t student);
/* The post's view document (post:<id>). */
void classes_state_want_post(classes_state_t *st, sms_str_t post_id);

/* Lookups; all return NULL when absent. */
const classes_class_t *classes_state_class(classes_state_t *st, sms_str_t id);
const char *classes_state_code_holder(classes_state_t *st, const char *lecturer, const char *code);

/* Fills out from the post's view document (strings borrow the state until
 * its next change of that post; lecturer_id is left empty; a never-edited
 * post is version 1, updated at its creation). False when absent. */
bool classes_state_post(classes_state_t *st, sms_str_t id, classes_post_t *out);
/* Overlay for post edits: the post's document as the projection will write it. */
void classes_state_set_post(classes_state_t *st, const classes_post_t *p);

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

/* Fills c from an HGETALL reply of the class hash c:<id> (see view.h). */
void classes_class_from_hash(const redisReply *r, const char *id, size_t idlen, classes_class_t *c);

/* Writes "<lecturer>\n<CODE>" (code upper-cased) into out (cap bytes). */
void classes_code_key(const char *lecturer, const char *code, char *out, size_t cap);

#endif
