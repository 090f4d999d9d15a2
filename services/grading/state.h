/* state.h - what grading's decider knows during one batch of commands: the
 * assignments the commands name (as learned from sms.events.assignments),
 * each with every student's current grade, and the rosters of their classes
 * (learned from sms.events.classes). The command rows' prefetch say what they
 * want (grading_state_want_assignment); one fetch reads it all from the view
 * (two pipelines: the assignments, then their grades and rosters); decisions
 * then overlay the batch's own accepted changes so later commands see them.
 * Discarded after the batch. Unit tests fill one by hand (rc NULL). */
#ifndef GRADING_STATE_H
#define GRADING_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "envelope.h"
#include "schema.h"
#include "strmap.h"

typedef struct grading_assignment_s {
    char *id, *class_id, *lecturer_id;  /* owned */
    int64_t max_score;                  /* hundredths */
    bool deleted;
    sms_strmap_t grades;                /* student id -> grading_grade_t* (owned) */
} grading_assignment_t;

typedef struct grading_state_s {
    redisContext *rc;
    sms_strmap_t assignments; /* id -> grading_assignment_t* (or &grading_absent) */
    sms_strmap_t rosters;     /* class id -> sms_strmap_t* of enrolled student ids (values &grading_absent) */
    /* the assignment ids wanted (borrowed from the batch's commands), in
     * order, each once (wanted: id -> marker) */
    sms_str_t *want;
    size_t n_want, cap_want;
    sms_strmap_t wanted;
} grading_state_t;

extern char grading_absent;

void grading_state_init(grading_state_t *st, redisContext *rc);
void grading_state_close(grading_state_t *st);

/* The command table's state members (common/command_table.h): a heap state
 * on rc, fetched once the rows' prefetch said what they want, freed at the
 * end of the batch. grading_state_fetch returns 0, or -1 (Redis down: the
 * batch is fetched again). */
void *grading_state_new(redisContext *rc);
int grading_state_fetch(void *state);
void grading_state_free(void *state);

/* Notes that the batch reads assignment id (borrowed: it must live until the
 * fetch), with all its grades and its class's roster. An empty id is none. */
void grading_state_want_assignment(grading_state_t *st, sms_str_t id);

/* The assignment, or NULL when the view does not know it. */
grading_assignment_t *grading_state_assignment(grading_state_t *st, sms_str_t id);
/* Whether student is on class_id's roster. */
bool grading_state_enrolled(const grading_state_t *st, const char *class_id, sms_str_t student);
/* Student's grade for a, or NULL if ungraded. */
const grading_grade_t *grading_state_grade(const grading_assignment_t *a, sms_str_t student);

/* Filling (prefetch, overlay, tests). put_assignment replaces any earlier entry. */
grading_assignment_t *grading_state_put_assignment(grading_state_t *st, const char *id, const char *class_id,
                                                   const char *lecturer_id, int64_t max_score, bool deleted);
void grading_state_enroll(grading_state_t *st, const char *class_id, sms_str_t student);
/* Sets student's grade on a (copies g and its feedback). */
void grading_state_set_grade(grading_assignment_t *a, sms_str_t student, int64_t version, int64_t score,
                             bool released, const char *feedback, size_t feedback_len);

#endif
