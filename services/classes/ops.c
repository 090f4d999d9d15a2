/* ops.c - the classes service's operations for the shared worker
 * (common/worker.h): prefetch state, decide with handlers.c, pack the event
 * and the reply, project with projection.c, answer replays from the view.
 * Class and roster events go to sms.events.classes, posts to sms.events.posts,
 * chat messages to sms.events.chat. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "handlers.h"
#include "id.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "projection.h"
#include "redis.h"
#include "state.h"
#include "validate.h"
#include "worker_batch.h"

SMS_WORKER_BATCH_STATE(classes)

static void reply_class(sms_decision_t *d, int status, const classes_class_t *c) {
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    classes_pack_public(&pk, c);
    if (status == 201) snprintf(d->location, sizeof d->location, "/lecturer/classes/%s", c->id);
}

static void reply_enroll(sms_decision_t *d, size_t enrolled, size_t already) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_kv_i64(&pk, "enrolled", (int64_t)enrolled);
    sms_mp_pack_kv_i64(&pk, "already_enrolled", (int64_t)already);
}

static void reply_unenroll(sms_decision_t *d, bool unenrolled) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "unenrolled");
    if (unenrolled) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
}

/* Roster commands: reply, event, and the overlay later commands of the batch see. */
static void decide_roster(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, classes_outcome_t *out,
                          sms_decision_t *d) {
    const classes_roster_outcome_t *r = &out->roster;
    if (out->kind == CLASSES_REPLY_ENROLL) reply_enroll(d, r->enrolled, r->already);
    else reply_unenroll(d, r->unenrolled);
    if (!out->event_type) return;
    const classes_class_t *c = &out->after;
    msgpack_packer pk =
        sms_decision_event_head(d, NULL, cmd, now_ms, out->event_type, CLASSES_EVENT_VERSION, SMS_STR(c->id));
    if (out->kind == CLASSES_REPLY_ENROLL) {
        classes_pack_students_enrolled(&pk, c, r->roster_version, r->added, r->enrolled, r->enrolled_at, r->already);
        for (size_t i = 0; i < r->enrolled; i++) {
            sms_str_t id;
            sms_mp_str(sms_mp_map_get(r->added[i], "student_id"), &id.ptr, &id.len);
            classes_state_set_enrolled(st, c->id, id, true);
        }
    } else {
        classes_pack_student_unenrolled(&pk, c, r->roster_version, r->student_id);
        classes_state_set_enrolled(st, c->id, r->student_id, false);
    }
    classes_state_set_roster_version(st, c->id, r->roster_version);
}

static void reply_post(sms_decision_t *d, const classes_post_t *p) {
    d->status = 201;
    msgpack_packer pk = sms_decision_body(d);
    classes_pack_post_public(&pk, p);
    snprintf(d->location, sizeof d->location, "/classes/%.*s/posts/%.*s", (int)p->class_id.len, p->class_id.ptr,
             (int)p->id.len, p->id.ptr);
}

/* post.created goes to the public posts topic (key = class id), not sms.events.classes. */
static void decide_post(const sms_command_t *cmd, int64_t now_ms, const classes_outcome_t *out, sms_decision_t *d) {
    const classes_post_t *p = &out->post;
    reply_post(d, p);
    msgpack_packer pk = sms_decision_event_head(d, CLASSES_POSTS_TOPIC, cmd, now_ms, out->event_type,
                                                CLASSES_EVENT_VERSION, p->class_id);
    classes_pack_post(&pk, p);
}

/* chat.message_posted goes to the chat topic (key = class id); the overlay
 * moves the class's sequence on for the batch's next message. */
static void decide_chat(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, const classes_outcome_t *out,
                        sms_decision_t *d) {
    const classes_chat_t *m = &out->chat;
    d->status = 201;
    msgpack_packer body = sms_decision_body(d);
    classes_pack_chat_public(&body, m);
    msgpack_packer pk = sms_decision_event_head(d, CLASSES_CHAT_TOPIC, cmd, now_ms, out->event_type,
                                                CLASSES_EVENT_VERSION, m->class_id);
    classes_pack_chat(&pk, m);
    classes_state_set_chat_seq(st, out->after.id, m->seq);
}

static void decide(void *state, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    classes_state_t *st = state;
    classes_outcome_t out;
    char new_id[SMS_ID_SIZE];
    classes_decide(st, cmd, now_ms, sms_id_new(new_id), &out);
    if (sms_verdict_failed(&out.verdict)) {
        sms_verdict_to_decision(&out.verdict, d);
        classes_outcome_clear(&out);
        return;
    }
    if (out.kind == CLASSES_REPLY_CHAT) {
        decide_chat(st, cmd, now_ms, &out, d);
        classes_outcome_clear(&out);
        return;
    }
    if (out.kind == CLASSES_REPLY_POST) {
        decide_post(cmd, now_ms, &out, d);
        classes_outcome_clear(&out);
        return;
    }
    if (out.kind != CLASSES_REPLY_CLASS) {
        decide_roster(st, cmd, now_ms, &out, d);
        classes_outcome_clear(&out);
        return;
    }
    reply_class(d, out.verdict.status, &out.after);
    if (out.event_type) {
        msgpack_packer pk = sms_decision_event_head(d, NULL, cmd, now_ms, out.event_type, CLASSES_EVENT_VERSION,
                                                    SMS_STR(out.after.id));
        bool updated = strcmp(out.event_type, "class.updated") == 0;
        classes_pack_snapshot(&pk, &out.after, updated ? out.changed : NULL, out.n_changed);
        /* Later commands of this batch must see this one's effect. */
        classes_state_apply(st, classes_state_class(st, cmd->key), &out.after);
    }
    classes_outcome_clear(&out);
}

/* A post command answered again: the post as the view stores it. */
static void replay_post(redisContext *rc, const char *post_id, sms_decision_t *d) {
    redisReply *r = redisCommand(rc, "GET " CLASSES_KEY_PREFIX "post:%s", post_id);
    cJSON *json = r && r->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(r->str, r->len) : NULL;
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(json, "class_id");
    if (cJSON_IsObject(json) && cJSON_IsString(cid)) {
        d->status = 201;
        msgpack_packer pk = sms_decision_body(d);
        (void)sms_json_to_msgpack(json, &pk); /* always 0 */
        snprintf(d->location, sizeof d->location, "/classes/%s/posts/%s", cid->valuestring, post_id);
    } else {
        sms_decision_fail(d, 503, "unavailable", "the result of this command is not readable yet; retry");
    }
    cJSON_Delete(json);
    if (r) freeReplyObject(r);
}

/* A chat command answered again: the message as the view stores it. */
static void replay_chat(redisContext *rc, const char *class_id, const char *seq, sms_decision_t *d) {
    redisReply *r = redisCommand(rc, "ZRANGE " CLASSES_KEY_PREFIX "chat:%s %s %s BYSCORE", class_id, seq, seq);
    cJSON *json = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_STRING
                      ? cJSON_ParseWithLength(r->element[0]->str, r->element[0]->len)
                      : NULL;
    if (cJSON_IsObject(json)) {
        d->status = 201;
        msgpack_packer pk = sms_decision_body(d);
        (void)sms_json_to_msgpack(json, &pk); /* always 0 */
    } else {
        sms_decision_fail(d, 503, "unavailable", "the result of this command is not readable yet; retry");
    }
    cJSON_Delete(json);
    if (r) freeReplyObject(r);
}

/* summary is written by the projection script: "<status> <class id>" for
 * class commands, "200 enroll <class id> <enrolled> <already>" and
 * "200 unenroll <class id>" for roster commands (their replies need no read),
 * "201 post <class id> <post id>" for posts, "201 chat <class id> <seq>" for
 * chat messages. */
static void replay(redisContext *rc, const char *summary, sms_decision_t *d) {
    int status = 0;
    char id[128] = "", post_id[128] = "";
    unsigned long long enrolled = 0, already = 0;
    if (sscanf(summary, "%d chat %127s %127s", &status, id, post_id) == 3) {
        replay_chat(rc, id, post_id, d);
        return;
    }
    if (sscanf(summary, "%d post %127s %127s", &status, id, post_id) == 3) {
        replay_post(rc, post_id, d);
        return;
    }
    if (sscanf(summary, "%d enroll %127s %llu %llu", &status, id, &enrolled, &already) == 4) {
        reply_enroll(d, (size_t)enrolled, (size_t)already);
        return;
    }
    if (sscanf(summary, "%d unenroll %127s", &status, id) == 2) {
        reply_unenroll(d, true);
        return;
    }
    if (sscanf(summary, "%d %127s", &status, id) != 2) {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
        return;
    }
    redisReply *r = redisCommand(rc, "HGETALL " CLASSES_KEY_PREFIX "c:%s", id);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        classes_class_t c;
        classes_class_from_hash(r, id, strlen(id), &c);
        reply_class(d, status, &c);
        classes_class_clear(&c);
    } else {
        sms_decision_fail(d, 503, "unavailable", "the result of this command is not readable yet; retry");
    }
    if (r) freeReplyObject(r);
}

static const char *const learn_topics[] = {CLASSES_POSTS_TOPIC, CLASSES_CHAT_TOPIC, NULL};

const sms_worker_ops_t classes_ops = {
    .service = "classes",
    /* Posts and chat are written to their own topics; the view is built from them too. */
    .learn_topics = learn_topics,
    .redis_init = classes_projection_init,
    .project = classes_projection_append,
    .validate = classes_event_validate,
    .batch_begin = batch_begin,
    .batch_end = batch_end,
    .decide = decide,
    .overlay = NULL, /* decide applies the overlay itself: it has the class at hand */
    .replay = replay,
};
