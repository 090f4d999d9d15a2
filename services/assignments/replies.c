/* replies.c - reply bodies of assignments commands, and the answers of
 * replayed ones read back from the view (see replies.h). Called by
 * handlers.c (bodies) and by the worker through commands.c's rows (replays). */
#include "replies.h"

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "handlers.h"
#include "state.h"
#include "view.h"

void assignments_answer_assignment(sms_decision_t *d, int status, const assignments_assignment_t *a, int64_t now_ms) {
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    assignments_pack_public(&pk, a, now_ms);
    if (status == 201) snprintf(d->location, sizeof d->location, "/lecturer/assignments/%s", a->id);
}

void assignments_answer_submission(sms_decision_t *d, const assignments_submission_t *s) {
    d->status = 201;
    msgpack_packer pk = sms_decision_body(d);
    assignments_pack_submission_public(&pk, s);
    snprintf(d->location, sizeof d->location, "/student/assignments/%.*s/submissions", (int)s->assignment_id.len,
             s->assignment_id.ptr);
}

void assignments_answer_upload(sms_decision_t *d, const assignments_upload_t *u) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    assignments_pack_upload_public(&pk, u);
}

static void unreadable(sms_decision_t *d) { sms_decision_fail(d, 500, "internal", "unreadable command record"); }

/* Record "<status> <assignment id>": answered from a:<id> as it is now. */
void assignments_reply_assignment(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)cmd;
    if (rec->argc < 1) {
        unreadable(d);
        return;
    }
    sms_str_t id = rec->argv[ASSIGNMENTS_RECORD_ID];
    redisReply *r = redisCommand(rc, "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT) "%b", id.ptr, id.len);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        assignments_assignment_t a;
        assignments_from_hash(r, id.ptr, id.len, &a);
        assignments_answer_assignment(d, rec->status, &a, sms_now_ms());
        assignments_assignment_clear(&a);
    } else {
        sms_decision_done_unreadable(d);
    }
    if (r) freeReplyObject(r);
}

/* Record "201 <assignment id> <version> <submitted_at ms> <late 0|1>"; the
 * text and upload ids are the command's own. */
void assignments_reply_submission(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)rc;
    uint64_t version, at, late;
    if (rec->argc < 4 || sms_command_record_u64(rec, ASSIGNMENTS_RECORD_SUB_VERSION, &version) != 0 ||
        sms_command_record_u64(rec, ASSIGNMENTS_RECORD_SUB_AT, &at) != 0 ||
        sms_command_record_u64(rec, ASSIGNMENTS_RECORD_SUB_LATE, &late) != 0) {
        unreadable(d);
        return;
    }
    assignments_submission_args_t content;
    assignments_submission_content(cmd->data, &content);
    assignments_submission_t s = {.assignment_id = rec->argv[ASSIGNMENTS_RECORD_ID], .student_id = cmd->actor,
                                  .version = (int64_t)version, .submitted_at = (int64_t)at, .late = late != 0,
                                  .text = content.text, .upload_ids = content.upload_ids};
    assignments_answer_submission(d, &s);
}

/* Record "200 <upload id>": answered from upload:<id>. */
void assignments_reply_upload(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                              sms_decision_t *d) {
    (void)cmd;
    if (rec->argc < 1) {
        unreadable(d);
        return;
    }
    sms_str_t id = rec->argv[ASSIGNMENTS_RECORD_ID];
    redisReply *r = redisCommand(rc,
                                 "HMGET " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UPLOAD) "%b " ASSIGNMENTS_FIELD_OWNER
                                 " filename content_type size sha256",
                                 id.ptr, id.len);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5;
    for (size_t i = 0; ok && i < 5; i++) ok = r->element[i]->type == REDIS_REPLY_STRING;
    if (ok) {
        assignments_upload_t u = {.upload_id = id,
                                  .student_id = {r->element[0]->str, r->element[0]->len},
                                  .filename = {r->element[1]->str, r->element[1]->len},
                                  .content_type = {r->element[2]->str, r->element[2]->len},
                                  .size = atoll(r->element[3]->str),
                                  .sha256 = {r->element[4]->str, r->element[4]->len}};
        assignments_answer_upload(d, &u);
        d->status = rec->status;
    } else {
        sms_decision_done_unreadable(d);
    }
    if (r) freeReplyObject(r);
}
