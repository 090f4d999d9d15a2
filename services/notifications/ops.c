/* ops.c - the notifications service's wiring for the shared worker
 * (common/worker.h): its topics, its command table (commands.c), the
 * projection (projection.c), the event validator, and the fan-out of
 * source events (one notification.created per recipient on
 * sms.notifications, decided with the batch's state). */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "commands.h"
#include "handlers.h"
#include "msgpack_util.h"
#include "projection.h"
#include "schema.h"
#include "state.h"
#include "validate.h"

static const char *const learn_topics[] = {NOTIF_TOPIC, "sms.events.classes", NULL};
static const char *const own_topics[] = {NOTIF_TOPIC, NULL};
static const char *const source_topics[] = {"sms.events.posts", "sms.events.grades", "sms.events.assignments", NULL};

static void fan_out(void *state, const char *topic, const sms_event_t *ev, sms_decision_t *d) {
    notif_state_t *st = state;
    notif_content_t c;
    redisReply *roster = NULL;
    sms_str_t *users = NULL;
    notif_prefs_t *prefs = NULL;
    size_t n = 0;
    d->status = 200;
    if (!notif_content_of(topic, ev, &c)) goto out; /* nobody to tell */
    if (c.student_id.len) {
        users = sms_malloc(sizeof *users);
        users[n++] = c.student_id;
    } else {
        if (notif_state_roster(st, c.class_id, &roster) != 0) goto unavailable;
        users = sms_malloc((roster->elements / 2 + 1) * sizeof *users);
        for (size_t i = 0; i + 1 < roster->elements; i += 2)
            users[n++] = (sms_str_t){roster->element[i]->str, roster->element[i]->len};
    }
    prefs = sms_malloc((n + 1) * sizeof *prefs);
    if (notif_state_prefs(st, users, n, prefs) != 0) goto unavailable;
    for (size_t i = 0; i < n; i++) {
        char id[SMS_ID_SIZE];
        notif_message_t m = {
            .id = notif_derive_id(ev->id, users[i], ev->time, id),
            .recipient_id = users[i],
            .kind = c.kind,
            .title = {c.title.data, c.title.len},
            .body = {c.body.data, c.body.len},
            .link = {c.link.data, c.link.len},
            .class_id = c.class_id,
            .source_event_id = ev->id,
            .source_type = ev->type,
            .created_at = ev->time,
        };
        char key[160];
        snprintf(key, sizeof key, "%.*s", (int)users[i].len, users[i].ptr);
        msgpack_packer pk = sms_decision_event_to(d, NOTIF_TOPIC, key);
        notif_pack_message(&pk, &m, ev->actor, &prefs[i]);
    }
    goto out;
unavailable:
    /* Nothing produced: the worker fetches the event again. */
    d->n_events = 0;
    sms_decision_fail(d, 503, "unavailable", "the view could not be read");
out:
    sms_free(prefs);
    sms_free(users);
    if (roster) freeReplyObject(roster);
    notif_content_close(&c);
}

/* The batch's single-recipient events (released grades): their students'
 * preferences in one pipeline, so that fan_out reads none of its own. */
static int fan_out_prefetch(void *state, const char *const *topics, const sms_event_t *const *evs, size_t n) {
    sms_str_t *users = sms_malloc((n ? n : 1) * sizeof *users);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        notif_content_t c;
        if (notif_content_of(topics[i], evs[i], &c) && c.student_id.len) users[k++] = c.student_id; /* borrows evs[i] */
        notif_content_close(&c);
    }
    int rc = notif_state_prefetch_prefs(state, users, k);
    sms_free(users);
    return rc;
}

const sms_worker_ops_t notifications_ops = {
    .service = "notifications",
    .events_topic = NOTIF_EVENTS_TOPIC,
    .learn_topics = learn_topics,
    .redis_init = notif_projection_init,
    .project = notif_projection_append,
    .project_many = notif_projection_append_many,
    .validate = notifications_event_validate,
    .commands = &notifications_commands,
    .source_topics = source_topics,
    .fan_out = fan_out,
    .fan_out_prefetch = fan_out_prefetch,
    .own_topics = own_topics,
};
