/* projection.c - applies roster, notification, read, preference and
 * webhook events to the notifications view (see projection.h): one row per
 * event type in `appliers`, found by one lookup. */
#include "projection.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json_msgpack.h"
#include "msgpack_util.h"
#include "redis.h"
#include "schema.h"
#include "view.h"
#include "webhooks.h"
#include "worker.h"

/* Many notifications in one call (a fan-out is applied SMS_WORKER_PROJECT_CHUNK
 * at a time, not one script run per recipient). ARGV: 1 k, then k pairs
 * ("<topic>:<partition>", next offset), then (id, user, offset on
 * sms.notifications, item JSON (open)) quadruples. An id already taken
 * changes nothing. `count` is how many notifications the view holds: one
 * O(1) read tells a watcher (tests/bench --suite fanout) that a fan-out is
 * complete. The recipients of new items are published on
 * NOTIF_VIEW_CHANNEL_NEW (one message per call, ids separated by newlines):
 * the gateways' notification streams read their feeds then. Returns how
 * many ids were new. */
static sms_redis_script_t notifications_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "local k = tonumber(ARGV[1])\n"
    "for i = 2, 2 * k, 2 do redis.call('HSET', p .. '" NOTIF_VIEW_OFFSETS "', ARGV[i], ARGV[i + 1]) end\n"
    "local added = {}\n"
    "for i = 2 * k + 2, #ARGV - 3, 4 do\n"
    "  local id, u = ARGV[i], ARGV[i + 1]\n"
    "  if redis.call('SETNX', p .. '" NOTIF_VIEW_ITEM "' .. id, ARGV[i + 3]) == 1 then\n"
    "    added[#added + 1] = u\n"
    "    redis.call('ZADD', p .. '" NOTIF_VIEW_INBOX "' .. u, 0, id)\n"
    "    redis.call('ZADD', p .. '" NOTIF_VIEW_FEED "' .. u, ARGV[i + 2], id)\n"
    "    local rall = redis.call('GET', p .. '" NOTIF_VIEW_READ_ALL "' .. u)\n"
    "    if redis.call('SISMEMBER', p .. '" NOTIF_VIEW_READ "' .. u, id) == 0 and (not rall or id > rall) then\n"
    "      redis.call('ZADD', p .. '" NOTIF_VIEW_UNREAD "' .. u, 0, id)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #added > 0 then\n"
    "  redis.call('INCRBY', p .. '" NOTIF_VIEW_COUNT "', #added)\n"
    "  redis.call('PUBLISH', '" NOTIF_VIEW_CHANNEL_NEW "', table.concat(added, '\\n'))\n"
    "end\n"
    "return #added\n"};

/* ARGV: 1 cause, 2 summary, 3 "<topic>:<partition>", 4 next offset, 5 user,
 * 6 "all"|"ids", 7 up_to id (all), 8.. ids. */
static sms_redis_script_t read_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "if ARGV[3] ~= '' then redis.call('HSET', p .. '" NOTIF_VIEW_OFFSETS "', ARGV[3], ARGV[4]) end\n"
    "redis.call('HSET', p .. '" NOTIF_VIEW_CMDS "', ARGV[1], ARGV[2])\n"
    "local u = ARGV[5]\n"
    "local uz = p .. '" NOTIF_VIEW_UNREAD "' .. u\n"
    "if ARGV[6] == 'all' then\n"
    "  local cur = redis.call('GET', p .. '" NOTIF_VIEW_READ_ALL "' .. u)\n"
    "  if not cur or ARGV[7] > cur then redis.call('SET', p .. '" NOTIF_VIEW_READ_ALL "' .. u, ARGV[7]) end\n"
    "  redis.call('ZREMRANGEBYLEX', uz, '-', '[' .. ARGV[7])\n"
    "else\n"
    "  for i = 8, #ARGV do\n"
    "    redis.call('SADD', p .. '" NOTIF_VIEW_READ "' .. u, ARGV[i])\n"
    "    redis.call('ZREM', uz, ARGV[i])\n"
    "  end\n"
    "end\n"
    "return 1\n"};

/* ARGV: 1 cause, 2 summary, 3 "<topic>:<partition>", 4 next offset, 5 user, 6 prefs JSON. */
static sms_redis_script_t prefs_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "if ARGV[3] ~= '' then redis.call('HSET', p .. '" NOTIF_VIEW_OFFSETS "', ARGV[3], ARGV[4]) end\n"
    "redis.call('HSET', p .. '" NOTIF_VIEW_CMDS "', ARGV[1], ARGV[2])\n"
    "redis.call('SET', p .. '" NOTIF_VIEW_PREFS "' .. ARGV[5], ARGV[6])\n"
    "return 1\n"};

/* ARGV: 1 "<topic>:<partition>", 2 next offset, 3 class, 4 roster_version,
 * 5 "enroll"|"unenroll", then (student id, name, email) triples or one student id.
 * The email (emails: student id -> address, the last enrollment's) is where
 * sms-notify-email mails the student.
 * Gated on roster_version, so an old roster event never undoes a newer one. */
static sms_redis_script_t roster_script = {.source =
    "local p = '" NOTIF_VIEW_PREFIX "'\n"
    "if ARGV[1] ~= '' then redis.call('HSET', p .. '" NOTIF_VIEW_OFFSETS "', ARGV[1], ARGV[2]) end\n"
    "local cid, rv = ARGV[3], tonumber(ARGV[4])\n"
    "if rv <= (tonumber(redis.call('HGET', p .. '" NOTIF_VIEW_RV "', cid)) or 0) then return 0 end\n"
    "redis.call('HSET', p .. '" NOTIF_VIEW_RV "', cid, ARGV[4])\n"
    "local k = p .. '" NOTIF_VIEW_ROSTER "' .. cid\n"
    /* One email per student across classes: the one of the enrollment with
     * the greatest event id (ids order by time), not the one applied last,
     * so a replay, which interleaves the classes' partitions differently,
     * ends with the same address. */
    "if ARGV[5] == 'enroll' then\n"
    "  local ev = ARGV[6]\n"
    "  for i = 7, #ARGV - 2, 3 do\n"
    "    redis.call('HSET', k, ARGV[i], ARGV[i + 1])\n"
    "    if ARGV[i + 2] ~= '' then\n"
    "      local by = redis.call('HGET', p .. '" NOTIF_VIEW_EMAILS_BY "', ARGV[i])\n"
    "      if not by or ev >= by then\n"
    "        redis.call('HSET', p .. '" NOTIF_VIEW_EMAILS "', ARGV[i], ARGV[i + 2])\n"
    "        redis.call('HSET', p .. '" NOTIF_VIEW_EMAILS_BY "', ARGV[i], ev)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  redis.call('HDEL', k, ARGV[6])\n"
    "end\n"
    "return 1\n"};

int notif_projection_init(redisContext *rc, char *err, size_t errlen) {
    if (sms_redis_script_load(rc, &notifications_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &read_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &prefs_script, err, errlen) != 0) return -1;
    if (sms_redis_script_load(rc, &roster_script, err, errlen) != 0) return -1;
    return notif_webhook_init(rc, err, errlen);
}

/* Argument vector under construction, growing: a notifications run names
 * up to SMS_WORKER_PROJECT_CHUNK items (4 arguments each), a read mark 500
 * ids, an enrollment 3 arguments per student, past common/redis.h's fixed
 * sms_redis_args_t. */
typedef struct args_s {
    const char **v;
    size_t *len;
    size_t n, cap;
} args_t;

static void arg(args_t *a, const char *s, size_t n) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = sms_realloc(a->v, a->cap * sizeof *a->v);
        a->len = sms_realloc(a->len, a->cap * sizeof *a->len);
    }
    a->v[a->n] = s;
    a->len[a->n++] = n;
}

static void arg_s(args_t *a, const char *s) { arg(a, s, strlen(s)); }

static void append(redisContext *rc, args_t *a) {
    redisAppendCommandArgv(rc, (int)a->n, a->v, a->len);
    sms_free(a->v);
    sms_free(a->len);
}

static void position(const char *topic, int32_t partition, int64_t offset, char *part, size_t pcap, char *next,
                     size_t ncap) {
    part[0] = next[0] = '\0';
    if (partition < 0) return;
    snprintf(part, pcap, "%s:%d", topic, partition);
    snprintf(next, ncap, "%lld", (long long)offset + 1);
}

/* Where an event is: its topic, partition and offset, and the same as the
 * scripts' position arguments ("<topic>:<partition>", next offset; "" for
 * an event applied right after it was produced). */
typedef struct pos_s {
    const char *topic;
    int32_t partition;
    int64_t offset;
    char part[160], next[24];
} pos_t;

static bool is_notification(const char *topic, const sms_event_t *ev);

/* Appends one script run applying the notification.created events among
 * evs[0..n) and recording the offsets of all of them (partition >= 0).
 * Returns the number of commands appended (0 or 1). */
static size_t append_notifications(redisContext *rc, const char *topic, const sms_event_t *evs,
                                   const int32_t *partitions, const int64_t *offsets, size_t n) {
    sms_positions_t pos;
    size_t covered = sms_positions_collect(&pos, partitions, offsets, n);
    if (covered < n) return append_notifications(rc, topic, evs, partitions, offsets, covered) +
                            append_notifications(rc, topic, evs + covered, partitions + covered, offsets + covered,
                                                 n - covered);
    size_t k = pos.k;
    /* Item documents, rendered into one buffer; starts[] and ends[] index it
     * (the buffer may move while it grows). */
    sms_buf_t docs;
    sms_buf_init(&docs);
    size_t *starts = sms_malloc((n + 1) * sizeof *starts), *ends = sms_malloc((n + 1) * sizeof *ends);
    notif_message_t *msgs = sms_malloc((n + 1) * sizeof *msgs);
    sms_str_t *ids = sms_malloc((n + 1) * sizeof *ids);
    bool *ok = sms_calloc(n + 1, sizeof *ok);
    size_t n_ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_notification(topic, &evs[i]) || notif_read_message(evs[i].data, &msgs[i], &ids[i]) != 0)
            continue; /* not for this view: only its offset is recorded */
        starts[i] = docs.len;
        notif_render_item_open(&msgs[i], ids[i], &docs);
        ends[i] = docs.len;
        ok[i] = true;
        n_ok++;
    }
    size_t appended = 0;
    if (n_ok || k) {
        char part_s[SMS_POSITIONS_MAX][160], next_s[SMS_POSITIONS_MAX][24], ks[8];
        char(*off_s)[24] = sms_malloc((n + 1) * sizeof *off_s); /* each notification's offset, as text */
        args_t a = {0};
        arg_s(&a, "EVALSHA");
        arg_s(&a, notifications_script.sha);
        arg_s(&a, "0");
        snprintf(ks, sizeof ks, "%zu", k);
        arg_s(&a, ks);
        for (size_t j = 0; j < k; j++) {
            position(topic, pos.partition[j], pos.next[j] - 1, part_s[j], sizeof part_s[j], next_s[j], sizeof next_s[j]);
            arg_s(&a, part_s[j]);
            arg_s(&a, next_s[j]);
        }
        for (size_t i = 0; i < n; i++) {
            if (!ok[i]) continue;
            arg(&a, ids[i].ptr, ids[i].len);
            arg(&a, msgs[i].recipient_id.ptr, msgs[i].recipient_id.len);
            /* Its offset whether tailed or just produced (delivery report): the feed's score. */
            snprintf(off_s[i], sizeof off_s[i], "%lld", (long long)offsets[i]);
            arg_s(&a, off_s[i]);
            arg(&a, docs.data + starts[i], ends[i] - starts[i]);
        }
        append(rc, &a);
        sms_free(off_s);
        appended = 1;
    }
    sms_free(ok);
    sms_free(ids);
    sms_free(msgs);
    sms_free(ends);
    sms_free(starts);
    sms_buf_close(&docs);
    return appended;
}

static int append_read(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    sms_str_t user, up_to = {"", 0};
    int64_t marked;
    const msgpack_object *all = sms_mp_map_get(ev->data, "all"), *ids = sms_mp_map_get(ev->data, "ids");
    if (!sms_mp_str(sms_mp_map_get(ev->data, "user_id"), &user.ptr, &user.len) || all == NULL ||
        all->type != MSGPACK_OBJECT_BOOLEAN || ids == NULL || ids->type != MSGPACK_OBJECT_ARRAY ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "marked"), &marked) ||
        !sms_mp_str(sms_mp_map_get(ev->data, "up_to"), &up_to.ptr, &up_to.len))
        return 0;
    char summary[32];
    snprintf(summary, sizeof summary, "200 %lld", (long long)marked);
    args_t a = {0};
    arg_s(&a, "EVALSHA");
    arg_s(&a, read_script.sha);
    arg_s(&a, "0");
    arg(&a, ev->cause.ptr, ev->cause.len);
    arg_s(&a, summary);
    arg_s(&a, pos->part);
    arg_s(&a, pos->next);
    arg(&a, user.ptr, user.len);
    arg_s(&a, all->via.boolean ? "all" : "ids");
    arg(&a, up_to.ptr, up_to.len);
    for (uint32_t i = 0; i < ids->via.array.size; i++) {
        const char *s;
        size_t n;
        if (sms_mp_str(&ids->via.array.ptr[i], &s, &n)) arg(&a, s, n);
    }
    append(rc, &a);
    return 1;
}

static int append_prefs(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    sms_str_t user;
    const msgpack_object *prefs = sms_mp_map_get(ev->data, "preferences");
    if (!sms_mp_str(sms_mp_map_get(ev->data, "user_id"), &user.ptr, &user.len) || prefs == NULL ||
        prefs->type != MSGPACK_OBJECT_MAP)
        return 0;
    sms_buf_t json, summary;
    sms_buf_init(&json);
    sms_buf_init(&summary);
    sms_msgpack_to_json(prefs, &json);
    sms_buf_printf(&summary, "200 %s", json.data);
    args_t a = {0};
    arg_s(&a, "EVALSHA");
    arg_s(&a, prefs_script.sha);
    arg_s(&a, "0");
    arg(&a, ev->cause.ptr, ev->cause.len);
    arg(&a, summary.data, summary.len);
    arg_s(&a, pos->part);
    arg_s(&a, pos->next);
    arg(&a, user.ptr, user.len);
    arg(&a, json.data, json.len);
    append(rc, &a);
    sms_buf_close(&json);
    sms_buf_close(&summary);
    return 1;
}

static int append_roster(redisContext *rc, const sms_event_t *ev, const pos_t *pos, bool enroll) {
    sms_str_t cid;
    int64_t rv;
    if (!sms_mp_str(sms_mp_map_get(ev->data, "class_id"), &cid.ptr, &cid.len) ||
        !sms_mp_i64(sms_mp_map_get(ev->data, "roster_version"), &rv))
        return 0;
    char rvs[24];
    snprintf(rvs, sizeof rvs, "%lld", (long long)rv);
    args_t a = {0};
    arg_s(&a, "EVALSHA");
    arg_s(&a, roster_script.sha);
    arg_s(&a, "0");
    arg_s(&a, pos->part);
    arg_s(&a, pos->next);
    arg(&a, cid.ptr, cid.len);
    arg_s(&a, rvs);
    arg_s(&a, enroll ? "enroll" : "unenroll");
    if (enroll) {
        arg(&a, ev->id.ptr, ev->id.len); /* orders the emails (the script) */
        const msgpack_object *students = sms_mp_map_get(ev->data, "students");
        if (students && students->type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t i = 0; i < students->via.array.size; i++) {
                const msgpack_object *s = &students->via.array.ptr[i];
                sms_str_t sid, name = {"", 0}, email = {"", 0};
                if (!sms_mp_str(sms_mp_map_get(s, "student_id"), &sid.ptr, &sid.len)) continue;
                (void)sms_mp_str(sms_mp_map_get(s, "name"), &name.ptr, &name.len); /* a name is optional */
                (void)sms_mp_str(sms_mp_map_get(s, "email"), &email.ptr, &email.len); /* so is an email */
                arg(&a, sid.ptr, sid.len);
                arg(&a, name.ptr, name.len);
                arg(&a, email.ptr, email.len);
            }
    } else {
        sms_str_t sid;
        if (!sms_mp_str(sms_mp_map_get(ev->data, "student_id"), &sid.ptr, &sid.len)) {
            sms_free(a.v);
            sms_free(a.len);
            return 0;
        }
        arg(&a, sid.ptr, sid.len);
    }
    append(rc, &a);
    return 1;
}

static int apply_notification(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    return (int)append_notifications(rc, pos->topic, ev, &pos->partition, &pos->offset, 1);
}

static int apply_enrolled(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    return append_roster(rc, ev, pos, true);
}

static int apply_unenrolled(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    return append_roster(rc, ev, pos, false);
}

static int apply_webhook_registered(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    return notif_webhook_project_registered(rc, ev, pos->part, pos->next);
}

static int apply_webhook_deleted(redisContext *rc, const sms_event_t *ev, const pos_t *pos) {
    return notif_webhook_project_deleted(rc, ev, pos->part, pos->next);
}

/* The events this view applies, by topic and type. Each apply appends one
 * command and returns 1, or 0 when the event cannot be read. */
static const struct {
    const char *topic, *type;
    int (*apply)(redisContext *rc, const sms_event_t *ev, const pos_t *pos);
} appliers[] = {
    {NOTIF_TOPIC, "notification.created", apply_notification},
    {NOTIF_EVENTS_TOPIC, "notifications.read", append_read},
    {NOTIF_EVENTS_TOPIC, "notifications.preferences_set", append_prefs},
    {NOTIF_EVENTS_TOPIC, "webhook.registered", apply_webhook_registered},
    {NOTIF_EVENTS_TOPIC, "webhook.deleted", apply_webhook_deleted},
    {"sms.events.classes", "class.students_enrolled", apply_enrolled},
    {"sms.events.classes", "class.student_unenrolled", apply_unenrolled},
};

/* ev's row index, or -1 when this view does not apply it. */
static int applier_of(const char *topic, const sms_event_t *ev) {
    for (size_t i = 0; i < sizeof appliers / sizeof appliers[0]; i++)
        if (strcmp(topic, appliers[i].topic) == 0 && sms_str_is(ev->type, appliers[i].type)) return (int)i;
    return -1;
}

static bool is_notification(const char *topic, const sms_event_t *ev) {
    int row = applier_of(topic, ev);
    return row >= 0 && appliers[row].apply == apply_notification;
}

int notif_projection_append(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition,
                            int64_t offset) {
    int row = applier_of(topic, ev);
    if (row < 0) return 0;
    pos_t pos = {.topic = topic, .partition = partition, .offset = offset};
    position(topic, partition, offset, pos.part, sizeof pos.part, pos.next, sizeof pos.next);
    return appliers[row].apply(rc, ev, &pos);
}

size_t notif_projection_append_many(redisContext *rc, const char *topic, const sms_event_t *evs,
                                    const int32_t *partitions, const int64_t *offsets, size_t n) {
    if (strcmp(topic, NOTIF_TOPIC) == 0) return append_notifications(rc, topic, evs, partitions, offsets, n);
    /* Rosters, read marks, preferences, webhooks: one script run each, as they come. */
    size_t appended = 0;
    for (size_t i = 0; i < n; i++) {
        if (notif_projection_append(rc, topic, &evs[i], partitions[i], offsets[i])) appended++;
        else if (partitions[i] >= 0) appended += (size_t)sms_worker_append_position(rc, NOTIF_VIEW_PREFIX, topic,
                                                                                    partitions[i], offsets[i]);
    }
    return appended;
}
