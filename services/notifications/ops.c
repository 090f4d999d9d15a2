/* ops.c - the notifications service's operations for the shared worker
 * (common/worker.h): fan-out of source events (one notification.created per
 * recipient on sms.notifications), the read and preferences commands, the
 * projection (projection.c) and answers to replayed commands. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "handlers.h"
#include "msgpack_util.h"
#include "projection.h"
#include "schema.h"
#include "state.h"
#include "validate.h"
#include "webhooks.h"

static const char *const learn_topics[] = {NOTIF_TOPIC, "sms.events.classes", NULL};
static const char *const own_topics[] = {NOTIF_TOPIC, NULL};
static const char *const source_topics[] = {"sms.events.posts", "sms.events.grades", "sms.events.assignments", NULL};

static void *batch_begin(redisContext *rc, const sms_command_t *const *cmds, size_t n) {
    (void)cmds;
    (void)n;
    notif_state_t *st = sms_malloc(sizeof *st);
    st->rc = rc;
    return st;
}

static void batch_end(void *state) { sms_free(state); }

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

static void reply_marked(sms_decision_t *d, int64_t marked) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    msgpack_pack_map(&pk, 1);
    sms_mp_pack_kv_i64(&pk, "marked", marked);
}

static void pack_read_event(sms_decision_t *d, const sms_command_t *cmd, int64_t now_ms, bool all, const char *up_to,
                            const sms_str_t *ids, const bool *keep, size_t n, int64_t marked) {
    char event_id[SMS_ID_SIZE];
    char key[160];
    snprintf(key, sizeof key, "%.*s", (int)cmd->actor.len, cmd->actor.ptr);
    msgpack_packer pk = sms_decision_event(d, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR("notifications.read"), NOTIF_EVENT_VERSION, now_ms,
                        cmd->actor, cmd->actor, cmd->id);
    msgpack_pack_map(&pk, 5);
    sms_mp_pack_str(&pk, "user_id");
    sms_mp_pack_strn(&pk, cmd->actor.ptr, cmd->actor.len);
    sms_mp_pack_str(&pk, "all");
    if (all) msgpack_pack_true(&pk);
    else msgpack_pack_false(&pk);
    sms_mp_pack_kv_str(&pk, "up_to", up_to);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += keep[i];
    sms_mp_pack_str(&pk, "ids");
    msgpack_pack_array(&pk, kept);
    for (size_t i = 0; i < n; i++)
        if (keep[i]) sms_mp_pack_strn(&pk, ids[i].ptr, ids[i].len);
    sms_mp_pack_kv_i64(&pk, "marked", marked);
}

static void decide_read(notif_state_t *st, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    bool all;
    if (notif_validate_read(cmd->data, &all, d) != 0) return;
    if (all) {
        char newest[SMS_ID_SIZE];
        long long unread;
        if (notif_state_newest(st, cmd->actor, newest, &unread) != 0) {
            sms_decision_fail(d, 503, "unavailable", "the view could not be read");
            return;
        }
        /* "Everything up to the newest item now": an id, so a replay marks the same items. */
        if (newest[0] && unread > 0) pack_read_event(d, cmd, now_ms, true, newest, NULL, NULL, 0, unread);
        reply_marked(d, unread);
        return;
    }
    const msgpack_object *arr = sms_mp_map_get(cmd->data, "ids");
    size_t n = arr->via.array.size, m = 0;
    sms_str_t *ids = sms_malloc(n * sizeof *ids);
    bool *in = sms_calloc(n, sizeof *in), *unread = sms_calloc(n, sizeof *unread), *keep = sms_calloc(n, sizeof *keep);
    for (size_t i = 0; i < n; i++) {
        sms_str_t s = {arr->via.array.ptr[i].via.str.ptr, arr->via.array.ptr[i].via.str.size};
        bool dup = false;
        for (size_t j = 0; j < m && !dup; j++) dup = ids[j].len == s.len && memcmp(ids[j].ptr, s.ptr, s.len) == 0;
        if (!dup) ids[m++] = s;
    }
    if (notif_state_inbox_has(st, cmd->actor, ids, m, in, unread) != 0) {
        sms_decision_fail(d, 503, "unavailable", "the view could not be read");
    } else {
        /* Only the caller's own items: an unknown id is ignored, never recorded. */
        int64_t marked = 0, kept = 0;
        for (size_t i = 0; i < m; i++) {
            keep[i] = in[i];
            kept += in[i];
            marked += in[i] && unread[i];
        }
        if (kept) pack_read_event(d, cmd, now_ms, false, "", ids, keep, m, marked);
        reply_marked(d, marked);
    }
    sms_free(keep);
    sms_free(unread);
    sms_free(in);
    sms_free(ids);
}

static void reply_prefs(sms_decision_t *d, const notif_prefs_t *p) {
    d->status = 200;
    msgpack_packer pk = sms_decision_body(d);
    notif_prefs_pack(&pk, p);
}

static void decide_prefs(notif_state_t *st, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    notif_prefs_t p;
    if (notif_state_prefs(st, &cmd->actor, 1, &p) != 0) {
        sms_decision_fail(d, 503, "unavailable", "the view could not be read");
        return;
    }
    if (notif_validate_prefs(cmd->data, &p, d) != 0) return;
    char event_id[SMS_ID_SIZE], key[160];
    snprintf(key, sizeof key, "%.*s", (int)cmd->actor.len, cmd->actor.ptr);
    msgpack_packer pk = sms_decision_event(d, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR("notifications.preferences_set"),
                        NOTIF_EVENT_VERSION, now_ms, cmd->actor, cmd->actor, cmd->id);
    msgpack_pack_map(&pk, 2);
    sms_mp_pack_str(&pk, "user_id");
    sms_mp_pack_strn(&pk, cmd->actor.ptr, cmd->actor.len);
    sms_mp_pack_str(&pk, "preferences");
    notif_prefs_pack(&pk, &p);
    reply_prefs(d, &p);
}

static bool cmd_is(const sms_command_t *cmd, const char *t) {
    return cmd->type.len == strlen(t) && memcmp(cmd->type.ptr, t, cmd->type.len) == 0;
}

static void decide(void *state, const sms_command_t *cmd, int64_t now_ms, sms_decision_t *d) {
    notif_state_t *st = state;
    if (notif_webhook_cmd(cmd)) notif_webhook_decide(st->rc, cmd, now_ms, d);
    else if (cmd_is(cmd, "notifications.read")) decide_read(state, cmd, now_ms, d);
    else if (cmd_is(cmd, "notifications.preferences_set")) decide_prefs(state, cmd, now_ms, d);
    else sms_decision_fail(d, 400, "unknown_command", "unknown command type");
}

/* summary: "200 <marked>" (read) or "200 <prefs JSON>" (preferences). */
static void replay(redisContext *rc, const sms_command_t *cmd, const char *summary, sms_decision_t *d) {
    (void)rc;
    long long marked;
    notif_prefs_t p;
    if (notif_webhook_cmd(cmd)) {
        notif_webhook_replay(summary, d);
    } else if (cmd_is(cmd, "notifications.read") && sscanf(summary, "200 %lld", &marked) == 1) {
        reply_marked(d, marked);
    } else if (cmd_is(cmd, "notifications.preferences_set") && strncmp(summary, "200 ", 4) == 0 &&
               notif_prefs_parse_json(summary + 4, strlen(summary + 4), &p) == 0) {
        reply_prefs(d, &p);
    } else {
        sms_decision_fail(d, 500, "internal", "unreadable command record");
    }
}

const sms_worker_ops_t notifications_ops = {
    .service = "notifications",
    .events_topic = NOTIF_EVENTS_TOPIC,
    .learn_topics = learn_topics,
    .redis_init = notif_projection_init,
    .project = notif_projection_append,
    .project_many = notif_projection_append_many,
    .validate = notifications_event_validate,
    .batch_begin = batch_begin,
    .batch_end = batch_end,
    .decide = decide,
    .overlay = NULL, /* decisions read the view directly; see README (a batch's own changes) */
    .replay = NULL,
    .replay_cmd = replay,
    .source_topics = source_topics,
    .fan_out = fan_out,
    .own_topics = own_topics,
};
