/* commands.c - the classes service's commands, one row each: the one place
 * a command type is named (common/command_table.h). Also the replies: the
 * reply bodies handlers.c sends, and each row's reply for a command handled
 * before, read from the view with the words of its cmds record (view.h). */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json_msgpack.h"
#include "msgpack_util.h"
#include "view.h"

void classes_reply_class(sms_decision_t *d, int status, const classes_class_t *c) {
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    classes_pack_public(&pk, c);
    if (status == 201) snprintf(d->location, sizeof d->location, "/lecturer/classes/%s", c->id);
}

void classes_reply_enroll(sms_decision_t *d, size_t enrolled, size_t already) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_kv_i64(&pk, "enrolled", (int64_t)enrolled);
    sms_mp_pack_kv_i64(&pk, "already_enrolled", (int64_t)already);
}

void classes_reply_unenroll(sms_decision_t *d, bool unenrolled) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_str(&pk, "unenrolled");
    if (unenrolled) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
}

void classes_reply_post(sms_decision_t *d, const classes_post_t *p) {
    d->status = 201;
    msgpack_packer pk = sms_decision_body(d);
    classes_pack_post_public(&pk, p);
    snprintf(d->location, sizeof d->location, "/classes/%.*s/posts/%.*s", (int)p->class_id.len, p->class_id.ptr,
             (int)p->id.len, p->id.ptr);
}

void classes_reply_post_updated(sms_decision_t *d, const classes_post_t *p) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    classes_pack_post_public(&pk, p);
}

static void unreadable_record(sms_decision_t *d) { sms_decision_fail(d, 500, "internal", "unreadable command record"); }

/* A JSON document of the view as the reply body; false if json is not an object. */
static bool reply_json(sms_decision_t *d, int status, const cJSON *json) {
    if (!cJSON_IsObject(json)) return false;
    d->status = status;
    msgpack_packer pk = sms_decision_body(d);
    (void)sms_json_to_msgpack(json, &pk); /* always 0 */
    return true;
}

/* "<status> <class id>": the class as the view has it now. */
static void reply_class_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                               sms_decision_t *d) {
    (void)cmd;
    if (rec->argc != 1) {
        unreadable_record(d);
        return;
    }
    sms_str_t id = rec->argv[0];
    redisReply *r = redisCommand(rc, "HGETALL " CLASSES_KEY_CLASS "%b", id.ptr, id.len);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        classes_class_t c;
        classes_class_from_hash(r, id.ptr, id.len, &c);
        classes_reply_class(d, rec->status, &c);
        classes_class_clear(&c);
    } else {
        sms_decision_done_unreadable(d);
    }
    if (r) freeReplyObject(r);
}

/* "200 enroll <class id> <enrolled> <already>": the counts are the reply. */
static void reply_enroll_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                sms_decision_t *d) {
    (void)rc, (void)cmd;
    uint64_t enrolled, already;
    if (rec->argc != 4 || !sms_command_record_is(rec, 0, CLASSES_RECORD_ENROLL) ||
        sms_command_record_u64(rec, 2, &enrolled) != 0 || sms_command_record_u64(rec, 3, &already) != 0) {
        unreadable_record(d);
        return;
    }
    classes_reply_enroll(d, (size_t)enrolled, (size_t)already);
}

/* "200 unenroll <class id>": a recorded unenrolment unenrolled. */
static void reply_unenroll_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                  sms_decision_t *d) {
    (void)rc, (void)cmd;
    if (rec->argc != 2 || !sms_command_record_is(rec, 0, CLASSES_RECORD_UNENROLL)) {
        unreadable_record(d);
        return;
    }
    classes_reply_unenroll(d, true);
}

/* "201 post <class id> <post id>": the post as the view stores it. */
static void reply_post_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                              sms_decision_t *d) {
    (void)cmd;
    if (rec->argc != 3 || !sms_command_record_is(rec, 0, CLASSES_RECORD_POST)) {
        unreadable_record(d);
        return;
    }
    sms_str_t pid = rec->argv[2];
    redisReply *r = redisCommand(rc, "GET " CLASSES_KEY_POST "%b", pid.ptr, pid.len);
    cJSON *json = r && r->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(r->str, r->len) : NULL;
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(json, "class_id");
    if (cJSON_IsString(cid) && reply_json(d, 201, json))
        snprintf(d->location, sizeof d->location, "/classes/%s/posts/%.*s", cid->valuestring, (int)pid.len, pid.ptr);
    else sms_decision_done_unreadable(d);
    cJSON_Delete(json);
    if (r) freeReplyObject(r);
}

/* "200 post <class id> <post id>": the post as the view stores it now. */
static void reply_post_update_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                                     sms_decision_t *d) {
    (void)cmd;
    if (rec->argc != 3 || !sms_command_record_is(rec, 0, CLASSES_RECORD_POST)) {
        unreadable_record(d);
        return;
    }
    redisReply *r = redisCommand(rc, "GET " CLASSES_KEY_POST "%b", rec->argv[2].ptr, rec->argv[2].len);
    cJSON *json = r && r->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(r->str, r->len) : NULL;
    if (!reply_json(d, 200, json)) sms_decision_done_unreadable(d);
    cJSON_Delete(json);
    if (r) freeReplyObject(r);
}

/* "201 chat <class id> <seq>": the message as the view stores it. */
static void reply_chat_record(redisContext *rc, const sms_command_t *cmd, const sms_command_record_t *rec,
                              sms_decision_t *d) {
    (void)cmd;
    if (rec->argc != 3 || !sms_command_record_is(rec, 0, CLASSES_RECORD_CHAT)) {
        unreadable_record(d);
        return;
    }
    sms_str_t cid = rec->argv[1], seq = rec->argv[2];
    redisReply *r = redisCommand(rc, "ZRANGE " CLASSES_KEY_CHAT "%b %b %b BYSCORE", cid.ptr, cid.len, seq.ptr, seq.len,
                                 seq.ptr, seq.len);
    cJSON *json = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_STRING
                      ? cJSON_ParseWithLength(r->element[0]->str, r->element[0]->len)
                      : NULL;
    if (!reply_json(d, 201, json)) sms_decision_done_unreadable(d);
    cJSON_Delete(json);
    if (r) freeReplyObject(r);
}

static const sms_command_row_t rows[] = {
    {"class.create", sizeof(classes_class_args_t), classes_body_class_create, classes_prefetch_class_code,
     classes_decide_create, reply_class_record, NULL},
    {"class.update", sizeof(classes_class_args_t), classes_body_class_update, classes_prefetch_class_code,
     classes_decide_update, reply_class_record, NULL},
    {"class.deactivate", 0, classes_body_class_deactivate, classes_prefetch_class, classes_decide_deactivate,
     reply_class_record, NULL},
    {"roster.enroll", sizeof(classes_enroll_args_t), classes_body_enroll, classes_prefetch_enroll,
     classes_decide_enroll, reply_enroll_record, NULL},
    {"roster.unenroll", sizeof(classes_unenroll_args_t), classes_body_unenroll, classes_prefetch_unenroll,
     classes_decide_unenroll, reply_unenroll_record, NULL},
    {"post.create", sizeof(classes_post_args_t), classes_body_post, classes_prefetch_class, classes_decide_post,
     reply_post_record, NULL},
    {"post.update", sizeof(classes_post_update_args_t), classes_body_post_update, classes_prefetch_post_update,
     classes_decide_post_update, reply_post_update_record, NULL},
    {"chat.post", sizeof(classes_chat_args_t), classes_body_chat, classes_prefetch_chat, classes_decide_chat,
     reply_chat_record, NULL},
};

const sms_command_table_t classes_commands = {
    SMS_COMMAND_ROWS(rows),
    .state_new = classes_state_new,
    .state_fetch = classes_state_fetch,
    .state_free = classes_state_free,
};
