/* uploads_expiry.c - the unattached-upload expiry scan (see
 * uploads_expiry.h). Reads the view only: one ZRANGEBYSCORE of unattached,
 * then one pipeline of HMGETs ending with the built marker, read again. */
#include "uploads_expiry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "log.h"
#include "msgpack_util.h"
#include "reminders.h"
#include "schema.h"
#include "view.h"

char *assignments_upload_expired_id(const char *upload_id, int64_t time_ms, char out[SMS_ID_SIZE]) {
    char seed[128];
    int n = snprintf(seed, sizeof seed, ASSIGNMENTS_UPLOAD_EXPIRED_TYPE "\n%s", upload_id);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof seed ? (size_t)n : sizeof seed - 1;
    return sms_id_derive(time_ms, seed, len, out);
}

/* One upload.expired for upload id (fields: owner, size, stored_at). */
static void emit(const char *id, const redisReply *f, int64_t now_ms, sms_decision_t *d) {
    if (f->type != REDIS_REPLY_ARRAY || f->elements != 3 || f->element[0]->type != REDIS_REPLY_STRING ||
        f->element[1]->type != REDIS_REPLY_STRING || f->element[2]->type != REDIS_REPLY_STRING)
        return; /* no upload:<id> (an older view): nothing to give back */
    char eid[SMS_ID_SIZE];
    msgpack_packer pk = sms_decision_event(d, id);
    sms_event_pack_head(&pk, SMS_STR(assignments_upload_expired_id(id, now_ms, eid)),
                        SMS_STR(ASSIGNMENTS_UPLOAD_EXPIRED_TYPE), ASSIGNMENTS_EVENT_VERSION, now_ms,
                        SMS_STR(ASSIGNMENTS_REMINDER_ACTOR), SMS_STR(id), (sms_str_t){"", 0});
    msgpack_pack_map(&pk, 5);
    sms_mp_pack_kv_str(&pk, "upload_id", id);
    sms_mp_pack_str(&pk, "student_id");
    sms_mp_pack_strn(&pk, f->element[0]->str, f->element[0]->len);
    sms_mp_pack_kv_i64(&pk, "size", strtoll(f->element[1]->str, NULL, 10));
    sms_mp_pack_kv_i64(&pk, "stored_at", strtoll(f->element[2]->str, NULL, 10));
    sms_mp_pack_kv_i64(&pk, "expired_at", now_ms);
}

void assignments_uploads_expiry_scan(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d) {
    d->status = 200;
    long long before = (long long)(now_ms - (int64_t)cfg->upload_attach_ttl_s * 1000);
    redisReply *ids = redisCommand(rc, "ZRANGEBYSCORE " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UNATTACHED) " -inf (%lld LIMIT 0 %d",
                                   before, ASSIGNMENTS_UPLOADS_EXPIRED_PER_TICK);
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject(ids);
        sms_decision_fail(d, 503, "unavailable", "the view could not be read");
        return;
    }
    if (ids->elements == 0) {
        freeReplyObject(ids);
        return;
    }
    for (size_t i = 0; i < ids->elements; i++)
        redisAppendCommand(rc, "HMGET " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_UPLOAD) "%b " ASSIGNMENTS_FIELD_OWNER
                           " size stored_at", ids->element[i]->str, ids->element[i]->len);
    /* As in the reminder scan: the marker read last, in the same pipeline,
     * says every read above saw the whole view. */
    redisAppendCommand(rc, "HEXISTS " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_META) " " ASSIGNMENTS_FIELD_BUILT);
    size_t got = 0;
    for (size_t i = 0; i < ids->elements; i++, got++) {
        redisReply *f = NULL;
        if (redisGetReply(rc, (void **)&f) != REDIS_OK || f == NULL) {
            d->n_events = 0;
            sms_decision_fail(d, 503, "unavailable", "the view could not be read");
            break;
        }
        emit(ids->element[i]->str, f, now_ms, d);
        freeReplyObject(f);
    }
    if (got == ids->elements) {
        redisReply *b = NULL;
        if (redisGetReply(rc, (void **)&b) != REDIS_OK || b == NULL || b->type != REDIS_REPLY_INTEGER ||
            b->integer != 1) {
            d->n_events = 0;
            sms_decision_fail(d, 503, "unavailable", "the view is being rebuilt");
        }
        if (b) freeReplyObject(b);
    }
    if (d->n_events) sms_log(SMS_LOG_INFO, "uploads_expired", "%zu unattached upload(s) expired", (size_t)d->n_events);
    freeReplyObject(ids);
}
