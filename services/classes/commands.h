/* commands.h - the commands the classes service accepts: one row each in
 * classes_commands (commands.c, the only place a command type is named),
 * their typed arguments, and the phase functions of each row
 * (common/command_table.h):
 *
 *   validate  bodies.c: the role and version every row checks, then the
 *             command's data decoded once into its args struct; failures
 *             (status, problem, field errors in body order) go into the
 *             worker's decision.
 *   prefetch  handlers.c: what decide will read, noted in the batch state
 *             (state.h's want functions; one pipeline reads it all).
 *   decide    handlers.c: the reply, the event, and the overlay later
 *             commands of the batch see.
 *   reply     commands.c: a command handled before answered again from the
 *             view and its cmds record (view.h lists the records). */
#ifndef CLASSES_COMMANDS_H
#define CLASSES_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command_table.h"
#include "envelope.h"
#include "id.h"
#include "schema.h"
#include "state.h"
#include "decision.h"

#define CLASSES_MAX_ERRORS 16 /* field errors listed in a 400 */

extern const sms_command_table_t classes_commands;

/* The text fields of a class body, in this order (the order "is required"
 * errors and class.updated's "changed" list follow). */
enum { CLASSES_F_CODE, CLASSES_F_NAME, CLASSES_F_DESCRIPTION, CLASSES_F_TERM, CLASSES_N_FIELDS };

/* class.create, class.update: the fields present (the first of each). */
typedef struct classes_class_args_s {
    sms_str_t field[CLASSES_N_FIELDS];
    bool has[CLASSES_N_FIELDS];
} classes_class_args_t;

/* roster.enroll: the students, body order (strings borrow the command). */
typedef struct classes_enroll_args_s {
    size_t n;
    classes_student_t students[CLASSES_ROSTER_MAX];
} classes_enroll_args_t;

/* roster.unenroll. */
typedef struct classes_unenroll_args_s {
    sms_str_t student_id;
} classes_unenroll_args_t;

/* post.create. */
typedef struct classes_post_args_s {
    sms_str_t title, body;
    bool pinned;
} classes_post_args_t;

/* post.update: the post (from the path), and the fields present. */
typedef struct classes_post_update_args_s {
    sms_str_t post_id, title, body;
    bool has_title, has_body, has_pinned, pinned;
} classes_post_update_args_t;

/* chat.post. */
typedef struct classes_chat_args_s {
    sms_str_t text;
} classes_chat_args_t;

/* ---- validate (bodies.c): 0, or -1 with the failure in d ---- */
int classes_body_class_create(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_class_update(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_class_deactivate(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_enroll(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_unenroll(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_post(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_post_update(const sms_command_t *cmd, void *args, sms_decision_t *d);
int classes_body_chat(const sms_command_t *cmd, void *args, sms_decision_t *d);

/* Syntax checks, exposed for unit tests. */
bool classes_valid_student_id(const char *s, size_t n);
bool classes_valid_email(const char *s, size_t n);

/* ---- prefetch and decide (handlers.c) ---- */
void classes_prefetch_class(void *state, const sms_command_t *cmd, const void *args);
void classes_prefetch_class_code(void *state, const sms_command_t *cmd, const void *args);
void classes_prefetch_enroll(void *state, const sms_command_t *cmd, const void *args);
void classes_prefetch_unenroll(void *state, const sms_command_t *cmd, const void *args);
void classes_prefetch_post_update(void *state, const sms_command_t *cmd, const void *args);
void classes_prefetch_chat(void *state, const sms_command_t *cmd, const void *args);

void classes_decide_create(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                           sms_decision_t *d);
void classes_decide_update(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                           sms_decision_t *d);
void classes_decide_deactivate(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                               sms_decision_t *d);
void classes_decide_enroll(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                           sms_decision_t *d);
void classes_decide_unenroll(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                             sms_decision_t *d);
void classes_decide_post(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                         sms_decision_t *d);
void classes_decide_post_update(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                                sms_decision_t *d);
void classes_decide_chat(void *state, const sms_command_t *cmd, const void *args, int64_t now_ms,
                         sms_decision_t *d);

/* The id decide gives what it creates (a class, a post, a chat message):
 * sms_id_new unless a unit test set a generator (NULL: back to sms_id_new). */
void classes_decide_set_id_source(char *(*fn)(char out[SMS_ID_SIZE]));

/* ---- replies shared by decide and reply (commands.c) ---- */
void classes_reply_class(sms_decision_t *d, int status, const classes_class_t *c);
void classes_reply_enroll(sms_decision_t *d, size_t enrolled, size_t already);
void classes_reply_unenroll(sms_decision_t *d, bool unenrolled);
void classes_reply_post(sms_decision_t *d, const classes_post_t *p);
void classes_reply_post_updated(sms_decision_t *d, const classes_post_t *p);

#endif
