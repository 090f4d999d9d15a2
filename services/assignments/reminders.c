/* reminders.c - the due-date reminder scan and its assignment.due_soon events
 * (see reminders.h). Called by the worker's tick (which runs only on a built
 * view); reads the view only (one ZRANGEBYSCORE, then one pipeline of
 * HGETALLs ending with the built marker, read again). */
#include "reminders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msgpack_util.h"
#include "schema.h"
#include "state.h"
#include "view.h"

bool assignments_reminder_due(int64_t now_ms, int64_t due_at, int64_t window_ms) {
    return due_at > now_ms && due_at - now_ms <= window_ms;
}

int64_t assignments_reminder_time(int64_t due_at, int64_t due_set_at, int64_t window_ms) {
    int64_t t = due_at - window_ms > due_set_at ? due_at - window_ms : due_set_at;
    return t < due_at ? t : due_at;
}

char *assignments_reminder_id(const char *assignment_id, int64_t due_at, int64_t time_ms, char out[SMS_ID_SIZE]) {
    char seed[256];
    int n = snprintf(seed, sizeof seed, ASSIGNMENTS_DUE_SOON_TYPE "\n%s\n%lld", assignment_id, (long long)due_at);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof seed ? (size_t)n : sizeof seed - 1;
    return sms_id_derive(time_ms, seed, len, out);
}

static int64_t field_i64(const redisReply *h, const char *name) {
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, name) == 0) return strtoll(h->element[i + 1]->str, NULL, 10);
    return 0;
}

/* One assignment.due_soon for a (from a:<id>), if it is still one to remind. */
static void emit(const assignments_assignment_t *a, int64_t due_set_at, int64_t now_ms, int64_t window_s,
                 sms_decision_t *d) {
    int64_t window_ms = window_s * 1000;
    if (strcmp(a->status, "open") != 0 || !assignments_reminder_due(now_ms, a->due_at, window_ms)) return;
    int64_t at = assignments_reminder_time(a->due_at, due_set_at, window_ms);
    char id[SMS_ID_SIZE];
    msgpack_packer pk = sms_decision_event(d, a->id);
    sms_event_pack_head(&pk, SMS_STR(assignments_reminder_id(a->id, a->due_at, at, id)),
                        SMS_STR(ASSIGNMENTS_DUE_SOON_TYPE), ASSIGNMENTS_EVENT_VERSION, at,
                        SMS_STR(ASSIGNMENTS_REMINDER_ACTOR), SMS_STR(a->id), (sms_str_t){"", 0});
    assignments_pack_due_soon(&pk, a, window_s);
}

void assignments_reminders_tick(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d) {
    int64_t window_s = cfg->due_reminder_window_s;
    d->status = 200;
    redisReply *ids = redisCommand(rc, "ZRANGEBYSCORE " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_REMIND) " (%lld %lld LIMIT 0 %d",
                                   (long long)now_ms, (long long)(now_ms + window_s * 1000),
                                   ASSIGNMENTS_REMINDERS_PER_TICK);
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject(ids);
        sms_decision_fail(d, 503, "unavailable", "the view could not be read");
        return;
    }
    for (size_t i = 0; i < ids->elements; i++)
        redisAppendCommand(rc, "HGETALL " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_ASSIGNMENT) "%b", ids->element[i]->str, ids->element[i]->len);
    /* The worker saw the marker before this tick; a rebuild-views or a
     * FLUSHALL may have begun since (sms-admin removes the marker before it
     * deletes anything). Read after the rest, in the same pipeline, a
     * marker still there means every read above saw the whole view. */
    redisAppendCommand(rc, "HEXISTS " ASSIGNMENTS_VIEW_KEY(ASSIGNMENTS_VIEW_META) " " ASSIGNMENTS_FIELD_BUILT);
    size_t got = 0;
    for (size_t i = 0; i < ids->elements; i++, got++) {
        redisReply *h = NULL;
        if (redisGetReply(rc, (void **)&h) != REDIS_OK || h == NULL) {
            /* The connection broke: the worker reconnects; nothing is produced. */
            d->n_events = 0;
            sms_decision_fail(d, 503, "unavailable", "the view could not be read");
            break;
        }
        if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
            assignments_assignment_t a;
            assignments_from_hash(h, ids->element[i]->str, ids->element[i]->len, &a);
            emit(&a, field_i64(h, ASSIGNMENTS_FIELD_DUE_SET_AT), now_ms, window_s, d);
            assignments_assignment_clear(&a);
        }
        freeReplyObject(h);
    }
    if (got == ids->elements) {
        redisReply *b = NULL;
        if (redisGetReply(rc, (void **)&b) != REDIS_OK || b == NULL || b->type != REDIS_REPLY_INTEGER ||
            b->integer != 1) {
            /* Nothing is produced from a view that was not whole: the scan
             * runs again once it is. */
            d->n_events = 0;
            sms_decision_fail(d, 503, "unavailable", "the view is being rebuilt");
            if (b) sms_log(SMS_LOG_INFO, "reminders_skipped", "the view was dropped during the scan");
        }
        if (b) freeReplyObject(b);
    }
    freeReplyObject(ids);
}
