/* batch.c - one batch of class commands, end to end:
 *   decode -> prefetch state (one Redis pipeline) -> decide each in order ->
 *   produce events (acks=all) and wait for their delivery reports ->
 *   apply delivered events to the view -> produce replies -> store offsets.
 * A reply is sent only after its event is durable and visible, so a 2xx at
 * the gateway means both. Called by main.c's loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "handlers.h"
#include "id.h"
#include "log.h"
#include "msgpack_util.h"
#include "projection.h"
#include "redis.h"
#include "service.h"
#include "state.h"

typedef struct item_s {
    rd_kafka_message_t *msg;
    bool decoded;
    sms_command_t cmd;
    classes_outcome_t out;
    char *dedupe_summary;    /* already handled earlier: "<status> <id>", answer from the view */
    msgpack_sbuffer event;   /* packed event when out.event_type != NULL */
    bool produced, delivered;
    int dr_err;
    int32_t partition;       /* where the event landed */
    int64_t offset;
} item_t;

void classes_on_delivery(void *opaque, int err, int32_t partition, int64_t offset) {
    item_t *it = opaque;
    if (it == NULL) return; /* replies carry no opaque */
    it->delivered = err == 0;
    it->dr_err = err;
    it->partition = partition;
    it->offset = offset;
}

static void pack_event(item_t *it, int64_t now) {
    char event_id[SMS_ID_SIZE];
    msgpack_packer pk;
    msgpack_sbuffer_init(&it->event);
    msgpack_packer_init(&pk, &it->event, msgpack_sbuffer_write);
    const classes_class_t *c = &it->out.after;
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR(it->out.event_type), CLASSES_EVENT_VERSION,
                        now, it->cmd.actor, SMS_STR(c->id), it->cmd.id);
    bool updated = strcmp(it->out.event_type, "class.updated") == 0;
    classes_pack_snapshot(&pk, c, updated ? it->out.changed : NULL, it->out.n_changed);
}

/* Loads the class a repeated command produced, to answer it again. */
static void answer_from_view(classes_service_t *svc, item_t *it, const char *summary) {
    int status = 0;
    char id[128] = "";
    if (sscanf(summary, "%d %127s", &status, id) != 2) status = 500;
    redisReply *r = redisCommand(svc->rc, "HGETALL " CLASSES_KEY_PREFIX "c:%s", id);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        classes_class_from_hash(r, id, strlen(id), &it->out.after);
        it->out.has_class = true;
        it->out.status = status;
    } else {
        it->out.status = 503;
        it->out.problem_code = "unavailable";
        snprintf(it->out.detail, sizeof it->out.detail, "the result of this command is not readable yet; retry");
    }
    if (r) freeReplyObject(r);
}

static void send_reply(classes_service_t *svc, item_t *it) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const classes_outcome_t *o = &it->out;
    char location[160] = "";
    if (o->status == 201 && o->has_class) snprintf(location, sizeof location, "/lecturer/classes/%s", o->after.id);
    sms_str_t loc = SMS_STR(location);
    sms_reply_pack_head(&pk, it->cmd.id, o->status, loc);
    if (o->status >= 400)
        sms_problem_pack(&pk, o->status, o->problem_code ? o->problem_code : "error", o->detail[0] ? o->detail : NULL,
                         o->errors, o->n_errors);
    else
        classes_pack_public(&pk, &o->after);
    sms_reply_pack_tail(&pk, loc);
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)it->cmd.reply_to.len, it->cmd.reply_to.ptr);
    for (;;) {
        int rc = sms_producer_send(svc->producer, topic, it->cmd.id, sb.data, sb.size, it->cmd.traceparent, NULL);
        if (rc != SMS_KAFKA_EQUEUE) break;
        sms_producer_poll(svc->producer, 10);
    }
    msgpack_sbuffer_destroy(&sb);
}

static bool valid_reply_topic(sms_str_t t) {
    return t.len > 12 && t.len < 250 && memcmp(t.ptr, "sms.replies.", 12) == 0;
}

int classes_handle_batch(classes_service_t *svc, rd_kafka_message_t **msgs, size_t n) {
    item_t *items = sms_calloc(n, sizeof *items);
    const sms_command_t **cmds = sms_calloc(n, sizeof *cmds);
    size_t n_cmds = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].msg = msgs[i];
        if (sms_command_decode(msgs[i]->payload, msgs[i]->len, &items[i].cmd) != SMS_ENV_OK ||
            !valid_reply_topic(items[i].cmd.reply_to)) {
            /* Nobody to answer and nothing to do: log it and move past it. */
            sms_log(SMS_LOG_WARN, "command_undecodable", "partition %d offset %lld skipped", msgs[i]->partition,
                    (long long)msgs[i]->offset);
            if (items[i].cmd.data) sms_command_close(&items[i].cmd);
            continue;
        }
        items[i].decoded = true;
        cmds[n_cmds++] = &items[i].cmd;
    }

    classes_state_t st;
    classes_state_init(&st, svc->rc);
    if (classes_state_prefetch(&st, cmds, n_cmds) != 0) {
        rc = -1;
        goto cleanup;
    }

    int64_t now = sms_now_ms();
    size_t produced = 0;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->decoded) continue;
        const char *summary = classes_state_cmd(&st, it->cmd.id);
        if (summary) {
            /* Answered after this batch's events are applied: the first copy
             * of a command may be in this very batch. */
            it->dedupe_summary = sms_strdup(summary);
            continue;
        }
        char new_id[SMS_ID_SIZE];
        classes_decide(&st, &it->cmd, now, sms_id_new(new_id), &it->out);
        if (it->out.event_type == NULL) continue;
        pack_event(it, now);
        sms_str_t key = SMS_STR(it->out.after.id);
        int prc;
        while ((prc = sms_producer_send(svc->producer, CLASSES_TOPIC_EVENTS, key, it->event.data, it->event.size,
                                        it->cmd.traceparent, it)) == SMS_KAFKA_EQUEUE)
            sms_producer_poll(svc->producer, 10);
        if (prc != 0) {
            it->out.status = 503;
            it->out.problem_code = "unavailable";
            snprintf(it->out.detail, sizeof it->out.detail, "the event could not be written; retry");
            continue;
        }
        it->produced = true;
        produced++;
        /* Later commands of this batch must see this one's effect. */
        classes_state_apply(&st, it->cmd.id, it->out.status, classes_state_class(&st, it->cmd.key), &it->out.after);
    }

    if (produced && sms_producer_flush(svc->producer, 30000) != 0)
        sms_log(SMS_LOG_ERROR, "event_delivery_timeout", "events not acknowledged within 30 s");

    /* Apply what is durable; answer what is not with 503 (the tailer applies
     * it later if it did land, and a retry with the same key finds it). */
    size_t appended = 0;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        if (!it->produced) continue;
        if (!it->delivered) {
            sms_log(SMS_LOG_ERROR, "event_not_durable", "%s", rd_kafka_err2str((rd_kafka_resp_err_t)it->dr_err));
            it->out.status = 503;
            it->out.problem_code = "unavailable";
            snprintf(it->out.detail, sizeof it->out.detail, "the event was not acknowledged by Kafka; retry");
            continue;
        }
        sms_event_t ev;
        if (sms_event_decode(it->event.data, it->event.size, &ev) == SMS_ENV_OK) {
            appended += (size_t)classes_projection_append(svc->rc, &ev, -1, 0);
            sms_event_close(&ev);
        }
    }
    char err[256];
    bool view_failed = false;
    for (size_t k = 0; k < appended; k++) {
        redisReply *r = sms_redis_get_reply(svc->rc, err, sizeof err);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            sms_log(SMS_LOG_ERROR, "projection_failed", "%s", r ? r->str : err);
            view_failed = true;
        }
        if (r == NULL) break;
        freeReplyObject(r);
    }
    if (!view_failed)
        for (size_t i = 0; i < n; i++)
            if (items[i].produced && items[i].delivered)
                classes_self_applied_add(svc, items[i].partition, items[i].offset);
    if (view_failed) {
        /* Events are durable; the tailer applies them once Redis is back.
         * Answer 503 so clients retry with their Idempotency-Key. */
        for (size_t i = 0; i < n; i++)
            if (items[i].produced && items[i].delivered) {
                items[i].out.status = 503;
                items[i].out.problem_code = "unavailable";
                snprintf(items[i].out.detail, sizeof items[i].out.detail, "the view could not be updated; retry");
            }
    }

    for (size_t i = 0; i < n; i++)
        if (items[i].dedupe_summary) answer_from_view(svc, &items[i], items[i].dedupe_summary);
    for (size_t i = 0; i < n; i++)
        if (items[i].decoded) send_reply(svc, &items[i]);
    sms_producer_poll(svc->producer, 0);
    for (size_t i = 0; i < n; i++) sms_consumer_store(svc->commands, msgs[i]);

cleanup:
    classes_state_close(&st);
    for (size_t i = 0; i < n; i++) {
        if (items[i].produced || items[i].out.event_type) msgpack_sbuffer_destroy(&items[i].event);
        classes_outcome_clear(&items[i].out);
        if (items[i].decoded) sms_command_close(&items[i].cmd);
        sms_free(items[i].dedupe_summary);
        if (rc == 0) rd_kafka_message_destroy(msgs[i]);
    }
    sms_free(cmds);
    sms_free(items);
    return rc;
}
