/* ops.c - the grading service's operations for the shared worker
 * (common/worker.h): prefetch state, decide with handlers.c, pack one event
 * per changed grade and the reply, project with projection.c, answer replays. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "handlers.h"
#include "id.h"
#include "msgpack_util.h"
#include "projection.h"
#include "state.h"
#include "validate.h"
#include "worker_batch.h"

static const char *const learn_topics[] = {"sms.events.classes", "sms.events.assignments", NULL};

SMS_WORKER_BATCH_STATE(grading)

static void reply_counts(sms_decision_t *d, bool release, size_t changed, size_t unchanged) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, release ? 1 : 2);
    sms_mp_pack_kv_i64(&pk, release ? "released" : "updated", (int64_t)changed);
    if (!release) sms_mp_pack_kv_i64(&pk, "unchanged", (int64_t)unchanged);
}

static void decide(void *state, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    grading_state_t *st = state;
    grading_outcome_t out;
    grading_decide(st, cmd, &out);
    if (sms_verdict_failed(&out.verdict)) {
        sms_verdict_to_decision(&out.verdict, d);
        grading_outcome_clear(&out);
        return;
    }
    bool release = out.kind == GRADING_RELEASE;
    reply_counts(d, release, out.n_changes, out.unchanged);
    grading_assignment_t *a = (grading_assignment_t *)out.assignment;
    for (size_t i = 0; i < out.n_changes; i++) {
        const grading_change_t *c = &out.changes[i];
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, release ? "grade.released" : "grade.changed",
                                                    GRADING_EVENT_VERSION, SMS_STR(a->id));
        if (release) grading_pack_released(&pk, a->id, a->class_id, c);
        else grading_pack_changed(&pk, a->id, a->class_id, c, cmd->actor, now_ms);
    }
    /* Only now the overlay: the changes borrow the grades it replaces. */
    for (size_t i = 0; i < out.n_changes; i++) {
        const grading_change_t *c = &out.changes[i];
        char *fb = sms_strndup(c->feedback.ptr, c->feedback.len);
        grading_state_set_grade(a, c->student_id, c->grade_version, c->score, c->released, fb, c->feedback.len);
        sms_free(fb);
    }
    grading_outcome_clear(&out);
}

/* summary is "200 <events applied>", written by the grade script. */
static void replay(redisContext *rc, const sms_command_t *cmd, const char *summary, sms_decision_t *d) {
    (void)rc;
    int status = 0;
    long changed = 0;
    if (sscanf(summary, "%d %ld", &status, &changed) != 2 || status != 200 || changed < 0) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    bool release = cmd->type.len == 14 && memcmp(cmd->type.ptr, "grades.release", 14) == 0;
    const msgpack_object *rows = sms_mp_map_get(cmd->data, "grades");
    size_t total = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    reply_counts(d, release, (size_t)changed, total > (size_t)changed ? total - (size_t)changed : 0);
}

const sms_worker_ops_t grading_ops = {
    .service = "grading",
    .events_topic = GRADING_EVENTS_TOPIC,
    .learn_topics = learn_topics,
    .redis_init = grading_projection_init,
    .project = grading_projection_append,
    .project_many = grading_projection_append_many,
    .validate = grading_event_validate,
    .batch_begin = batch_begin,
    .batch_end = batch_end,
    .decide = decide,
    .overlay = NULL, /* decide applies the overlay itself, after packing the events */
    .replay = NULL,
    .replay_cmd = replay,
};
