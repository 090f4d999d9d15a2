/* replies.h - the answers of assignments commands: the reply bodies a
 * decision packs (handlers.c) and the rows' reply functions (commands.c),
 * which answer a command handled before again from the view and the cmds
 * record its projection wrote (view.h: the records' words). The replay
 * functions read Redis (blocking, on the worker's thread). */
#ifndef ASSIGNMENTS_REPLIES_H
#define ASSIGNMENTS_REPLIES_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "command_table.h"
#include "schema.h"
#include "decision.h"

/* The reply of an assignment command: status, a's public form at now_ms,
 * and for a 201 the Location /lecturer/assignments/<id>. */
void assignments_answer_assignment(sms_decision_t *d, int status, const assignments_assignment_t *a, int64_t now_ms);
/* The 201 of a submission (Location /student/assignments/<id>/submissions). */
void assignments_answer_submission(sms_decision_t *d, const assignments_submission_t *s);
/* The 200 of upload.complete: the public file document. */
void assignments_answer_upload(sms_decision_t *d, const assignments_upload_t *u);

/* Rows' reply functions (command_table.h): answer again from a:<id>,
 * from the record and the command's own data, from upload:<id>. A view that
 * cannot be read yet is a 503; a record lacking its words a 500. */
void assignments_reply_assignment(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d);
void assignments_reply_submission(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d);
void assignments_reply_upload(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                              sms_decision_t *d);

#endif
