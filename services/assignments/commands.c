/* commands.c - the assignments command table: one row per command type,
 * naming its args, its validate and decide (handlers.c), what it prefetches
 * (the state's wants, below) and how a replay is answered (replies.c).
 * Adding a command adds a row here and its functions in those files. */
#include "commands.h"

#include "handlers.h"
#include "replies.h"
#include "state.h"

/* An update or delete reads its assignment (the command's key). */
static void prefetch_assignment(void *state, const sms_command_t *cmd, const void *args) {
    (void)args;
    assignments_state_want_assignment(state, cmd->key);
}

/* A create reads the class it names. */
static void prefetch_create(void *state, const sms_command_t *cmd, const void *args) {
    const assignments_body_args_t *b = args;
    (void)cmd;
    assignments_state_want_class(state, b->class_id);
}

/* A submission reads its assignment, then that assignment's class, the
 * student's enrollment and latest version, and every upload it lists. */
static void prefetch_submission(void *state, const sms_command_t *cmd, const void *args) {
    const assignments_submission_args_t *s = args;
    assignments_state_want_submission(state, cmd->key, cmd->actor);
    const msgpack_object *ids = s->upload_ids;
    for (uint32_t i = 0; ids && i < ids->via.array.size; i++) {
        sms_str_t id = {ids->via.array.ptr[i].via.str.ptr, ids->via.array.ptr[i].via.str.size}; /* validated: strings */
        assignments_state_want_upload(state, id);
    }
}

/* An upload completion reads whether its id is completed already. */
static void prefetch_upload(void *state, const sms_command_t *cmd, const void *args) {
    const assignments_upload_t *u = args;
    (void)cmd;
    assignments_state_want_upload(state, u->upload_id);
}

static const sms_command_row_t rows[] = {
    {"assignment.create", sizeof(assignments_body_args_t), assignments_validate_create, prefetch_create,
     assignments_decide_create, assignments_reply_assignment, NULL},
    {"assignment.update", sizeof(assignments_body_args_t), assignments_validate_update, prefetch_assignment,
     assignments_decide_update, assignments_reply_assignment, NULL},
    {"assignment.delete", 0, assignments_validate_delete, prefetch_assignment, assignments_decide_delete,
     assignments_reply_assignment, NULL},
    {"submission.create", sizeof(assignments_submission_args_t), assignments_validate_submission,
     prefetch_submission, assignments_decide_submission, assignments_reply_submission, NULL},
    {"upload.complete", sizeof(assignments_upload_t), assignments_validate_upload, prefetch_upload,
     assignments_decide_upload, assignments_reply_upload, NULL},
};

const sms_command_table_t assignments_commands = {
    SMS_COMMAND_ROWS(rows),
    .state_new = assignments_state_new,
    .state_fetch = assignments_state_fetch,
    .state_free = assignments_state_free,
};
