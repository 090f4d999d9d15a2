/* state.h - what the decider knows during one batch of commands: the view
 * entries the batch touches (assignments by id, the class records of the
 * classes named by creates, the owners of the uploads named; for
 * submissions also the assignment's class, the student's enrollment in it
 * and their latest submission version), plus the effects of the batch's
 * earlier accepted commands (an overlay). The rows' prefetch functions
 * (commands.c) say what they want, state_fetch reads it all (two pipelined
 * rounds: the submissions' reads need their assignment's class), handlers.c
 * reads it; it is freed after the batch. */
#ifndef ASSIGNMENTS_STATE_H
#define ASSIGNMENTS_STATE_H

#include <hiredis/hiredis.h>

#include "envelope.h"
#include "schema.h"
#include "strmap.h"

/* What this service knows of a class, learned from sms.events.classes. */
typedef struct assignments_class_s {
    char lecturer_id[128];
    char status[16]; /* "active" | "inactive" */
    int64_t version;
} assignments_class_t;

/* Ids a batch wants read, in the order asked (borrowed). */
typedef struct assignments_want_list_s {
    sms_str_t *ids;
    size_t n, cap;
} assignments_want_list_t;

/* A submission's reads: its assignment and student. */
typedef struct assignments_want_pair_s {
    sms_str_t assignment_id, student;
} assignments_want_pair_t;

typedef struct assignments_state_s {
    redisContext *rc;              /* NULL in unit tests: nothing is prefetched */
    sms_strmap_t assignments;      /* id -> assignments_assignment_t* (or &assignments_absent) */
    sms_strmap_t classes;          /* class id -> assignments_class_t* (or &assignments_absent) */
    sms_strmap_t enrolled;         /* "<class id>\n<student>" -> &assignments_present or &assignments_absent */
    sms_strmap_t versions;         /* "<assignment id>\n<student>" -> int64_t* latest submission version */
    sms_strmap_t uploads;          /* upload id -> owner (char*, owned) of a completed upload, or &assignments_absent */
    /* What the batch wants read (borrowed from its commands; entries of
     * the maps above are &assignments_absent until read). */
    assignments_want_list_t want_assignments, want_classes, want_uploads;
    assignments_want_pair_t *want_submissions;
    size_t n_want_submissions, cap_want_submissions;
} assignments_state_t;

extern char assignments_absent, assignments_present;

/* Caller-owned state (unit tests: rc NULL, nothing is read). */
void assignments_state_init(assignments_state_t *st, redisContext *rc);
void assignments_state_close(assignments_state_t *st);

/* The command table's members (command_table.h): a heap state on rc,
 * reading what was wanted (0, or -1 when Redis failed), freeing it. */
void *assignments_state_new(redisContext *rc);
int assignments_state_fetch(void *state);
void assignments_state_free(void *state);

/* What a command will read (ids borrowed: they must outlive the batch).
 * An id asked twice, or already known, is read once. */
void assignments_state_want_assignment(assignments_state_t *st, sms_str_t id);
void assignments_state_want_class(assignments_state_t *st, sms_str_t class_id);
void assignments_state_want_upload(assignments_state_t *st, sms_str_t upload_id);
/* For a submission of student to assignment_id (also wanted): the
 * assignment's class, the student's enrollment in it and latest version,
 * read once the assignment is. */
void assignments_state_want_submission(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student);

/* Lookups; NULL when absent. */
const assignments_assignment_t *assignments_state_assignment(assignments_state_t *st, sms_str_t id);
const assignments_class_t *assignments_state_class(assignments_state_t *st, sms_str_t class_id);

/* Whether student is on class_id's roster (as sms.events.classes last said). */
bool assignments_state_enrolled(assignments_state_t *st, sms_str_t class_id, sms_str_t student);
/* The student's latest submission version of assignment_id, 0 if none. */
int64_t assignments_state_submission_version(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student);

/* Overlay: records an accepted command's result (a copy is taken). */
void assignments_state_put(assignments_state_t *st, const assignments_assignment_t *a);
/* Records a class (a copy is taken); used by unit tests and prefetch. */
void assignments_state_put_class(assignments_state_t *st, const char *class_id, const assignments_class_t *c);

/* Records an enrollment (unit tests and prefetch). */
void assignments_state_put_enrolled(assignments_state_t *st, sms_str_t class_id, sms_str_t student, bool enrolled);
/* Overlay and prefetch: the student's latest submission version of assignment_id. */
void assignments_state_put_submission_version(assignments_state_t *st, sms_str_t assignment_id, sms_str_t student,
                                              int64_t version);

/* The owner (student id) of completed upload id, or NULL if the view has no
 * upload.completed for it. */
const char *assignments_state_upload_owner(assignments_state_t *st, sms_str_t upload_id);
/* Overlay, unit tests and prefetch: upload id is completed by owner. */
void assignments_state_put_upload(assignments_state_t *st, sms_str_t upload_id, sms_str_t owner);

/* Fills a from an HGETALL reply of the assignment hash a:<id> (see view.h). */
void assignments_from_hash(const redisReply *r, const char *id, size_t idlen, assignments_assignment_t *a);

#endif
