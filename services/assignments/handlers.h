/* handlers.h - the assignment aggregate's decisions: one function per
 * command type validates the body, checks it against the batch state and
 * says what happens: a reply status and (when something changes) the event.
 * Called by ops.c; pure with respect to the outside world (reads only the
 * batch state). */
#ifndef ASSIGNMENTS_HANDLERS_H
#define ASSIGNMENTS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "problem.h"
#include "schema.h"
#include "state.h"
#include "verdict.h"

#define ASSIGNMENTS_MAX_ERRORS 16 /* listed in a 400 (the verdict's limit) */

typedef struct assignments_outcome_s {
    sms_verdict_t verdict;          /* the reply status; on failure the problem, its errors, stale */
    const char *event_type;         /* "assignment.created"...; NULL when nothing changes */
    assignments_assignment_t after; /* the assignment to return (and to put in the event) */
    bool has_assignment;            /* after is filled */
    assignments_submission_t sub;   /* submission.created: the submission (borrows from the command) */
    bool has_submission;
    assignments_upload_t upload;    /* upload.completed: the file's metadata (borrows from the command) */
    bool has_upload;
    const char *changed[4];         /* assignment.updated: the fields that changed */
    size_t n_changed;
} assignments_outcome_t;

/* Decides cmd (assignment.create|update|delete by a lecturer,
 * submission.create by a student, upload.complete sent by the gateway on
 * behalf of the student who asked for the upload URL) at now_ms; new_id is the id a
 * created assignment gets. Fills out (release with assignments_outcome_clear). */
void assignments_decide(assignments_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                        assignments_outcome_t *out);
void assignments_outcome_clear(assignments_outcome_t *out);

/* Validates a create (is_create: class_id, title, due_at required) or update
 * body. Adds errors to out; returns how many. Exposed for unit tests. */
size_t assignments_validate_body(const msgpack_object *data, bool is_create, assignments_outcome_t *out);

/* Validates a submission body: text (0..20000 characters), upload_ids (0..10
 * upload ids), at least one of them non-empty, nothing else. Adds errors to
 * out; returns how many. Exposed for unit tests. (Whether the uploads exist,
 * are the student's and are listed once is the decision's 422, not this.) */
size_t assignments_validate_submission(const msgpack_object *data, assignments_outcome_t *out);

#endif
