/* handlers.h - grading's commands: for each command type, the functions its
 * row in commands.c names.
 *
 *   validate  checks the sender (role, command version) and decodes the
 *             command's data once, in one pass over each map, into the typed
 *             args below; it refuses what no state could make valid (the
 *             request's shape). What depends on the view (the assignment, the
 *             roster, max_score) is only recorded, and reported by decide, in
 *             the order the checks have always been made.
 *   prefetch  wants the command's assignment (key = assignment id).
 *   decide    checks the args against the batch state and writes the outcome
 *             into the worker's decision: the reply and one event per changed
 *             grade, or the failure (all-or-nothing: a request with one bad row
 *             changes nothing); then overlays the changes on the state, so the
 *             batch's later commands see them.
 *   reply     answers a command handled before from its cmds record
 *             ("200 <grade events applied>") and the command.
 *
 * No I/O: decide reads only the state. */
#ifndef GRADING_HANDLERS_H
#define GRADING_HANDLERS_H

#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command_table.h"
#include "envelope.h"
#include "schema.h"
#include "state.h"
#include "decision.h"

#define GRADING_MAX_ERRORS SMS_DECISION_MAX_ERRORS /* listed in a 422; the detail counts the rest */

/* A text field as decoded (feedback, reason). */
typedef enum grading_text_e {
    GRADING_TEXT_NONE = 0,  /* absent or null */
    GRADING_TEXT_NOT_STRING,
    GRADING_TEXT_INVALID,   /* not UTF-8 text, or a control character other than newline and tab */
    GRADING_TEXT_TOO_LONG,
    GRADING_TEXT_OK,
} grading_text_t;

/* One row of grades.update, decoded. Strings borrow the command. */
typedef struct grading_row_s {
    bool is_map;
    uint32_t n_unknown;           /* keys other than student_id, score, feedback */
    bool has_student_id;
    bool student_id_ok;           /* a string of 1..GRADING_STUDENT_ID_MAX id characters */
    sms_str_t student_id;
    size_t duplicate_of;          /* 1 + the index of the first row naming the same student; 0: none */
    const msgpack_object *score;  /* NULL: absent; read against the assignment's max_score by decide */
    grading_text_t feedback_check;
    size_t feedback_chars;
    sms_str_t feedback;           /* "" unless a string */
} grading_row_t;

/* grades.update: {"grades": [1..GRADING_MAX_ITEMS rows], "release"?: bool}. */
typedef struct grading_update_args_s {
    bool release;
    grading_row_t *rows; /* owned: grading_handle_update_args_clear */
    size_t n_rows;
} grading_update_args_t;

/* grades.correct (an admin's repair): {student_id, score, feedback?,
 * released?, reason, repairs?}. Strings borrow the command. */
typedef struct grading_correct_args_s {
    bool student_id_ok;
    sms_str_t student_id;
    const msgpack_object *score; /* NULL: absent */
    bool feedback_ok;
    sms_str_t feedback;          /* "" when absent or null */
    bool reason_ok;
    sms_str_t reason;
    bool repairs_ok;
    sms_str_t repairs;           /* len 0: none */
    bool released_ok;            /* absent, null or a boolean */
    bool has_released;           /* a boolean was given */
    bool released;
} grading_correct_args_t;

/* Every command: wants the assignment cmd->key. */
void grading_handle_prefetch(void *state, const sms_command_t *cmd, const void *args);

/* grades.update: reply {"updated": n, "unchanged": m}, one grade.changed per changed grade. */
int grading_handle_update_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void grading_handle_update_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                  sms_decision_t *d);
void grading_handle_update_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                 sms_decision_t *d);
void grading_handle_update_args_clear(void *args);

/* grades.release: reply {"released": n}, one grade.released per draft, in student order. */
int grading_handle_release_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void grading_handle_release_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d);
void grading_handle_release_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d);

/* grades.correct (role admin, any existing assignment): reply {"corrected": 1},
 * one grade.corrected even when nothing else changes (it records the repair). */
int grading_handle_correct_validate(const sms_command_t *cmd, void *args, sms_decision_t *d);
void grading_handle_correct_decide(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                   sms_decision_t *d);
void grading_handle_correct_reply(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d);

#endif
