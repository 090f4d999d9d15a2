/* ops.c - the assignments service's operations for the shared worker
 * (common/worker.h): prefetch state, decide with handlers.c, pack the event
 * (assignment.*, submission.created or upload.completed) and the reply, project with projection.c, answer replays from the view. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "handlers.h"
#include "id.h"
#include "msgpack_util.h"
#include "projection.h"
#include "redis.h"
#include "reminders.h"
#include "state.h"
#include "validate.h"
#include "worker_batch.h"

SMS_WORKER_BATCH_STATE(assignments)

static void reply_assignment(sms_decision_t *d, int status, const assignments_assignment_t *a, int64_t now_ms) {
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    assignments_pack_public(&pk, a, now_ms);
    if (status == 201) snprintf(d->location, sizeof d->location, "/lecturer/assignments/%s", a->id);
}

static void reply_submission(sms_decision_t *d, const assignments_submission_t *s) {
    d->status = 201;
    msgpack_packer pk = sms_decision_body(d);
    assignments_pack_submission_public(&pk, s);
    snprintf(d->location, sizeof d->location, "/student/assignments/%.*s/submissions", (int)s->assignment_id.len,
             s->assignment_id.ptr);
}

static void emit_submission(assignments_state_t *st, const sms_command_t *cmd, const assignments_submission_t *s,
                            int64_t now_ms, sms_decision_t *d) {
    reply_submission(d, s);
    msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, "submission.created", ASSIGNMENTS_EVENT_VERSION,
                                                s->assignment_id);
    assignments_pack_submission_data(&pk, s);
    /* A later submission of this student in this batch is the next version. */
    assignments_state_put_submission_version(st, s->assignment_id, s->student_id, s->version);
}

static void emit_upload(assignments_state_t *st, const sms_command_t *cmd, const assignments_upload_t *u, int64_t now_ms,
                        sms_decision_t *d) {
    d->status = 200;
    msgpack_packer body = sms_decision_body(d);
    assignments_pack_upload_public(&body, u);
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, "upload.completed", ASSIGNMENTS_EVENT_VERSION, u->upload_id);
    assignments_pack_upload_data(&pk, u);
    /* A second completion of this id in the same batch is a 409. */
    assignments_state_put_upload(st, u->upload_id, u->student_id);
}

static void decide(void *state, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    assignments_state_t *st = state;
    assignments_outcome_t out;
    char new_id[SMS_ID_SIZE];
    assignments_decide(st, cmd, now_ms, sms_id_new(new_id), &out);
    if (sms_verdict_failed(&out.verdict)) {
        sms_verdict_to_decision(&out.verdict, d);
        assignments_outcome_clear(&out);
        return;
    }
    if (out.has_submission) {
        emit_submission(st, cmd, &out.sub, now_ms, d);
        assignments_outcome_clear(&out);
        return;
    }
    if (out.has_upload) {
        emit_upload(st, cmd, &out.upload, now_ms, d);
        assignments_outcome_clear(&out);
        return;
    }
    reply_assignment(d, out.verdict.status, &out.after, now_ms);
    if (out.event_type) {
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, out.event_type, ASSIGNMENTS_EVENT_VERSION,
                                                    SMS_STR(out.after.id));
        bool updated = strcmp(out.event_type, "assignment.updated") == 0;
        assignments_pack_snapshot(&pk, &out.after, updated ? out.changed : NULL, out.n_changed);
        /* Later commands of this batch must see this one's effect. */
        assignments_state_put(st, &out.after);
    }
    assignments_outcome_clear(&out);
}

/* summary is "<status> <assignment id>", written by the projection script. */
static void replay(redisContext *rc, const char *summary, sms_decision_t *d) {
    int status = 0;
    char id[128] = "";
    if (sscanf(summary, "%d %127s", &status, id) != 2) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    redisReply *r = redisCommand(rc, "HGETALL " ASSIGNMENTS_KEY_PREFIX "a:%s", id);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        assignments_assignment_t a;
        assignments_from_hash(r, id, strlen(id), &a);
        reply_assignment(d, status, &a, sms_now_ms());
        assignments_assignment_clear(&a);
    } else {
        sms_decision_fail(d, 503, "unavailable", "the result of this command is not readable yet; retry");
    }
    if (r) freeReplyObject(r);
}

/* An upload's summary is "200 <upload id>" (projection.c): answered from upload:<id>. */
static void replay_upload(redisContext *rc, const char *summary, sms_decision_t *d) {
    int status = 0;
    char id[128] = "";
    if (sscanf(summary, "%d %127s", &status, id) != 2) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    redisReply *r = redisCommand(rc, "HMGET " ASSIGNMENTS_KEY_PREFIX "upload:%s owner filename content_type size sha256", id);
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5;
    for (size_t i = 0; ok && i < 5; i++) ok = r->element[i]->type == REDIS_REPLY_STRING;
    if (ok) {
        assignments_upload_t u = {.upload_id = SMS_STR(id),
                                  .student_id = {r->element[0]->str, r->element[0]->len},
                                  .filename = {r->element[1]->str, r->element[1]->len},
                                  .content_type = {r->element[2]->str, r->element[2]->len},
                                  .size = atoll(r->element[3]->str),
                                  .sha256 = {r->element[4]->str, r->element[4]->len}};
        d->status = status;
        msgpack_packer pk = sms_decision_body(d);
        assignments_pack_upload_public(&pk, &u);
    } else {
        sms_decision_fail(d, 503, "unavailable", "the result of this command is not readable yet; retry");
    }
    if (r) freeReplyObject(r);
}

/* A submission's summary is "201 <assignment id> <version> <submitted_at ms>
 * <late 0|1>" (projection.c); the text and upload ids are the command's own. */
static void replay_cmd(redisContext *rc, const sms_command_t *cmd, const char *summary, sms_decision_t *d) {
    if (cmd->type.len == 15 && memcmp(cmd->type.ptr, "upload.complete", 15) == 0) {
        replay_upload(rc, summary, d);
        return;
    }
    if (!(cmd->type.len == 17 && memcmp(cmd->type.ptr, "submission.create", 17) == 0)) {
        replay(rc, summary, d);
        return;
    }
    int status = 0, late = 0;
    char id[128] = "";
    long long version = 0, at = 0;
    if (sscanf(summary, "%d %127s %lld %lld %d", &status, id, &version, &at, &late) != 5) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    assignments_submission_t s = {.assignment_id = SMS_STR(id), .student_id = cmd->actor, .version = version,
                                  .submitted_at = at, .late = late != 0, .text = {"", 0},
                                  .upload_ids = sms_mp_map_get(cmd->data, "upload_ids")};
    (void)sms_mp_str(sms_mp_map_get(cmd->data, "text"), &s.text.ptr, &s.text.len); /* absent: "" */
    reply_submission(d, &s);
}

static const char *const learn_topics[] = {ASSIGNMENTS_CLASSES_TOPIC, ASSIGNMENTS_GRADES_TOPIC, NULL};

/* The reminder scan runs every SMS_DUE_REMINDER_SCAN_MS. */
static int due_reminder_period(const sms_config_t *cfg) { return cfg->due_reminder_scan_ms; }

const sms_worker_ops_t assignments_ops = {
    .service = "assignments",
    .learn_topics = learn_topics,
    .redis_init = assignments_projection_init,
    .project = assignments_projection_append,
    .validate = assignments_event_validate,
    .batch_begin = batch_begin,
    .batch_end = batch_end,
    .decide = decide,
    .overlay = NULL, /* decide applies the overlay itself: it has the assignment at hand */
    .replay = replay,
    .replay_cmd = replay_cmd,
    .tick = assignments_reminders_tick,
    .tick_period_ms = due_reminder_period,
};
