/* handlers.h - the assignment aggregate's decisions, one validate and one
 * decide per command type (the rows of commands.c name them): validate
 * checks the sender and decodes the command's data once into its typed args;
 * decide checks them against the batch state and writes the outcome (reply,
 * event, or the failure) into the worker's decision, recording the effect in
 * the state for the batch's later commands. No I/O: they read only the batch
 * state (state.h). */
#ifndef ASSIGNMENTS_HANDLERS_H
#define ASSIGNMENTS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "schema.h"
#include "state.h"
#include "decision.h"

#define ASSIGNMENTS_MAX_ERRORS 16 /* field errors listed in a 400 (d->errors_limit) */

/* assignment.create / assignment.update data, decoded. Strings borrow from
 * the command. A field is set (has_*) when the body names it; values are
 * those of its first occurrence. */
typedef struct assignments_body_args_s {
    sms_str_t class_id, title, description;
    int64_t due_at;    /* ms */
    double max_score;  /* points, to hundredths */
    bool has_class_id, has_title, has_description, has_due_at, has_max_score;
} assignments_body_args_t;

/* submission.create data, decoded (borrowing from the command): text ("" when
 * absent) and upload_ids (a msgpack array of upload ids, or NULL). */
typedef struct assignments_submission_args_s {
    sms_str_t text;
    const msgpack_object *upload_ids;
} assignments_submission_args_t;

/* Validators: 0, or -1 after filling d with the failure (403 for the wrong
 * role, 400 unsupported_version, 400 validation with its field errors). */
int assignments_validate_create(const sms_command_t *cmd, void *args, sms_decision_t *d);
int assignments_validate_update(const sms_command_t *cmd, void *args, sms_decision_t *d);
int assignments_validate_delete(const sms_command_t *cmd, void *args, sms_decision_t *d);
int assignments_validate_submission(const sms_command_t *cmd, void *args, sms_decision_t *d);
/* args: an assignments_upload_t (schema.h). */
int assignments_validate_upload(const sms_command_t *cmd, void *args, sms_decision_t *d);

/* Deciders (state: assignments_state_t; args as validated above). */
void assignments_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d);
void assignments_decide_update(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d);
void assignments_decide_delete(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d);
void assignments_decide_submission(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d);
void assignments_decide_upload(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d);

/* Reads text and upload_ids of a submission's data (first occurrences, no
 * checks): what a replayed submission's answer repeats. */
void assignments_submission_content(const msgpack_object *data, assignments_submission_args_t *out);

#endif
