/* commands.c - grading's command table: one row per command type, naming
 * the functions of each phase (handlers.c) and the batch state (state.c).
 * Adding a command is adding a row here and its functions there. */
#include "commands.h"

#include "handlers.h"
#include "state.h"

static const sms_command_row_t rows[] = {
    {"grades.update", sizeof(grading_update_args_t), grading_handle_update_validate, grading_handle_prefetch,
     grading_handle_update_decide, grading_handle_update_reply, grading_handle_update_args_clear},
    {"grades.release", 0, grading_handle_release_validate, grading_handle_prefetch, grading_handle_release_decide,
     grading_handle_release_reply, NULL},
    /* an admin's compensating command: repairs a grade whose event was quarantined */
    {"grades.correct", sizeof(grading_correct_args_t), grading_handle_correct_validate, grading_handle_prefetch,
     grading_handle_correct_decide, grading_handle_correct_reply, NULL},
};

const sms_command_table_t grading_commands = {
    .rows = rows,
    .n_rows = sizeof rows / sizeof rows[0],
    .state_new = grading_state_new,
    .state_fetch = grading_state_fetch,
    .state_free = grading_state_free,
};
