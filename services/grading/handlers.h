/* handlers.h - grading's decisions: one function per command type validates
 * the body, checks it against the batch state and says what happens: a reply
 * status and the grade changes (each becomes one event). All-or-nothing: a
 * request with one bad row changes nothing. Pure: reads only the state. */
#ifndef GRADING_HANDLERS_H
#define GRADING_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "problem.h"
#include "schema.h"
#include "state.h"
#include "verdict.h"

#define GRADING_MAX_ERRORS SMS_VERDICT_MAX_ERRORS /* listed in a 422; the detail counts the rest */

typedef enum grading_kind_e {
    GRADING_UPDATE = 0, /* grades.update: reply {"updated": n, "unchanged": m}, grade.changed events */
    GRADING_RELEASE,    /* grades.release: reply {"released": n}, grade.released events */
    GRADING_CORRECT,    /* grades.correct (admin): reply {"corrected": 0|1}, one grade.corrected event */
} grading_kind_t;

typedef struct grading_outcome_s {
    sms_verdict_t verdict;        /* the reply status; on failure the problem, its errors, stale */
    grading_kind_t kind;
    const grading_assignment_t *assignment; /* the state's, when found */
    grading_change_t *changes;    /* owned (grading_outcome_clear); strings borrow cmd and state */
    size_t n_changes;
    size_t unchanged;
    /* GRADING_CORRECT: the operator's reason and the quarantined position it
     * repairs (len 0: none); borrowed from the command */
    sms_str_t reason, repairs;
} grading_outcome_t;

#define GRADING_REASON_MAX 500 /* characters of a correction's reason */

/* Decides cmd (grades.update, grades.release, or an admin's grades.correct:
 * the compensating command that repairs a grade whose event was quarantined;
 * key = assignment id). Fills
 * out; release with grading_outcome_clear. */
void grading_decide(grading_state_t *st, const sms_command_t *cmd, grading_outcome_t *out);
void grading_outcome_clear(grading_outcome_t *out);

/* Student id syntax: 1..64 of A-Z a-z 0-9 . _ - (as rosters accept). */
bool grading_valid_student_id(const char *s, size_t n);

#endif
