/* state.h - what the decider knows during one batch of commands: the view
 * entries the batch touches (assignments by id, the class records of the
 * classes named by creates; for submissions also the assignment's class, the
 * student's enrollment in it and their latest submission version), fetched from Redis in one pipeline, plus the
 * effects of the batch's earlier accepted commands (an overlay). Built by
 * ops.c per batch, read by handlers.c, discarded after the batch. */
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

typedef struct assignments_state_s {
    redisContext *rc;              /* NULL in unit tests: nothing is prefetched */
    sms_strmap_t assignments;      /* id -> assignments_assignment_t* (or &assignments_absent) */
    sms_strmap_t classes;          /* class id -> assignments_class_t* (or &assignments_absent) */
    sms_strmap_t enrolled;         /* "<class id>\n<student>" -> &assignments_present or &assignments_absent */
    sms_strmap_t versions;         /* "<assignment id>\n<student>" -> int64_t* latest submission version */
    sms_strmap_t uploads;          /* upload id -> owner (char*, owned) of a completed upload, or &assignments_absent */
} assignments_state_t;

extern char assignments_absent, assignments_present;

void assignments_state_init(assignments_state_t *st, redisContext *rc);
void assignments_state_close(assignments_state_t *st);

/* Fetches what cmds[0..n) will need, in one pipeline. 0, or -1 (Redis down). */
int assignments_state_prefetch(assignments_state_t *st, const sms_command_t *const *cmds, size_t n);

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

/* Fills a from an HGETALL reply of the assignment hash a:<id> (see projection.h). */
void assignments_from_hash(const redisReply *r, const char *id, size_t idlen, assignments_assignment_t *a);

#endif
