/* cloudevents.c - ce_* Kafka headers from an sms event envelope (see
 * cloudevents.h). Decodes the envelope with sms_event_decode: one msgpack
 * unpack per produced event, a few microseconds next to the broker round trip. */
#include "cloudevents.h"

#include <stdio.h>
#include <time.h>

#include "error.h"

#define TIME_MS_MAX INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z, TimeMs in asyncapi.yaml */

int sms_ce_type(char *out, size_t n, sms_str_t type, int64_t v) {
    int w = snprintf(out, n, "org.sms.%.*s.v%lld", (int)type.len, type.ptr, (long long)v);
    if (w < 0 || (size_t)w >= n) return SMS_EFIELD;
    return w;
}

int sms_ce_time(char *out, size_t n, int64_t epoch_ms) {
    if (epoch_ms < 0 || epoch_ms > TIME_MS_MAX) return SMS_EFIELD;
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) return SMS_EFIELD;
    int w = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(epoch_ms % 1000));
    if (w < 0 || (size_t)w >= n) return SMS_EFIELD;
    return w;
}

static void add_str(rd_kafka_headers_t *h, const char *name, sms_str_t v) {
    /* rd_kafka_header_add fails only for a read-only header list (one taken
     * from a consumed message); ours is always a fresh one. */
    (void)rd_kafka_header_add(h, name, -1, v.ptr, (ssize_t)v.len);
}

int sms_ce_headers_add(rd_kafka_headers_t *h, const char *service, const void *event, size_t len) {
    sms_event_t ev;
    int rc = sms_event_decode(event, len, &ev);
    if (rc != SMS_OK) return rc;
    char type[192], when[32], source[96];
    int tl = sms_ce_type(type, sizeof type, ev.type, ev.v);
    int wl = sms_ce_time(when, sizeof when, ev.time);
    int sl = snprintf(source, sizeof source, "/sms/%s", service);
    if (tl < 0 || wl < 0 || sl < 0 || (size_t)sl >= sizeof source || ev.id.len == 0) {
        sms_event_close(&ev);
        return SMS_EFIELD;
    }
    add_str(h, "ce_specversion", SMS_STR(SMS_CE_SPECVERSION));
    add_str(h, "ce_id", ev.id);
    add_str(h, "ce_source", (sms_str_t){source, (size_t)sl});
    add_str(h, "ce_type", (sms_str_t){type, (size_t)tl});
    add_str(h, "ce_time", (sms_str_t){when, (size_t)wl});
    if (ev.key.len) add_str(h, "ce_subject", ev.key);
    sms_event_close(&ev);
    return SMS_OK;
}
