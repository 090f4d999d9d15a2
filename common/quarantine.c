/* quarantine.c - records events a view could not apply (see quarantine.h).
 * Called by the worker's tailer; writes Redis commands into its pipeline. */
#include "quarantine.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "msgpack_util.h"

size_t sms_quarantine_position(char *buf, size_t cap, const char *topic, int32_t partition, int64_t offset) {
    int n = snprintf(buf, cap, "%s:%d:%lld", topic, partition, (long long)offset);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void json_str_or_null(sms_buf_t *b, const char *key, const char *s, size_t n) {
    sms_buf_printf(b, ",\"%s\":", key);
    if (s) sms_buf_json_str(b, s, n);
    else sms_buf_puts(b, "null");
}

/* The entry's JSON: what an operator needs to find and judge the event. */
static void render_entry(sms_buf_t *b, const char *topic, int32_t partition, int64_t offset, const sms_event_t *ev,
                         sms_str_t class_id, const char *reason) {
    sms_buf_puts(b, "{\"topic\":");
    sms_buf_json_str(b, topic, strlen(topic));
    sms_buf_printf(b, ",\"partition\":%d,\"offset\":%lld", partition, (long long)offset);
    json_str_or_null(b, "id", ev ? ev->id.ptr : NULL, ev ? ev->id.len : 0);
    json_str_or_null(b, "type", ev ? ev->type.ptr : NULL, ev ? ev->type.len : 0);
    if (ev) sms_buf_printf(b, ",\"v\":%lld", (long long)ev->v);
    else sms_buf_puts(b, ",\"v\":null");
    json_str_or_null(b, "key", ev ? ev->key.ptr : NULL, ev ? ev->key.len : 0);
    json_str_or_null(b, "class_id", class_id.ptr, class_id.len);
    size_t rn = strlen(reason);
    json_str_or_null(b, "reason", reason, rn > SMS_QUARANTINE_REASON_MAX ? SMS_QUARANTINE_REASON_MAX : rn);
    sms_buf_putc(b, '}');
}

size_t sms_quarantine_append(redisContext *rc, const char *prefix, const char *topic, int32_t partition, int64_t offset,
                             const sms_event_t *ev, const char *reason) {
    char pos[192];
    size_t pn = sms_quarantine_position(pos, sizeof pos, topic, partition, offset);
    sms_str_t class_id = {NULL, 0};
    if (ev && !sms_mp_str(sms_mp_map_get(ev->data, "class_id"), &class_id.ptr, &class_id.len))
        class_id = (sms_str_t){NULL, 0};
    sms_buf_t entry;
    sms_buf_init(&entry);
    render_entry(&entry, topic, partition, offset, ev, class_id, reason);
    sms_log(SMS_LOG_ERROR, "event_quarantined", "%s: %s", pos, entry.data);
    size_t appended = 0;
    redisAppendCommand(rc, "HSET %squarantine %b %b", prefix, pos, pn, entry.data, entry.len);
    appended++;
    if (ev && ev->key.len) {
        redisAppendCommand(rc, "SADD %sincomplete:%b %b", prefix, ev->key.ptr, ev->key.len, pos, pn);
        appended++;
    }
    if (class_id.len && !(ev->key.len == class_id.len && memcmp(ev->key.ptr, class_id.ptr, class_id.len) == 0)) {
        redisAppendCommand(rc, "SADD %sincomplete:%b %b", prefix, class_id.ptr, class_id.len, pos, pn);
        appended++;
    }
    redisAppendCommand(rc, "HSET %soffsets %s:%d %lld", prefix, topic, partition, (long long)offset + 1);
    appended++;
    sms_buf_close(&entry);
    return appended;
}

int sms_quarantine_is_deterministic(const char *e) {
    if (e == NULL) return 0;
    /* Redis names state errors with their own prefixes (OOM, LOADING, BUSY,
     * NOSCRIPT, READONLY, MASTERDOWN, MISCONF, TRYAGAIN, ...); a script's
     * own failure, a bad argument or a wrong type is ERR or WRONGTYPE. */
    if (strncmp(e, "WRONGTYPE", 9) == 0) return 1;
    if (strncmp(e, "ERR max number of clients", 25) == 0) return 0;
    return strncmp(e, "ERR", 3) == 0;
}
