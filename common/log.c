/* log.c - JSON-lines logger (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

sms_log_level_t sms_log_min_level = SMS_LOG_INFO;
static char service_name[64] = "sms";

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void sms_log_init(const char *service, sms_log_level_t min_level) {
    snprintf(service_name, sizeof service_name, "%s", service);
    sms_log_min_level = min_level;
}

int sms_log_level_parse(const char *s, sms_log_level_t *out) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) { *out = (sms_log_level_t)i; return 0; }
    }
    return -1;
}

static void line_start(sms_buf_t *b, sms_log_level_t level) {
    char ts[SMS_RFC3339_LEN];
    sms_buf_printf(b, "{\"timestamp\":\"%s\",\"level\":\"%s\",\"service\":",
                   sms_rfc3339(sms_now_ms(), ts), level_names[level]);
    sms_buf_json_str(b, service_name, strlen(service_name));
}

static void line_write(sms_buf_t *b) {
    sms_buf_puts(b, "}\n");
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(STDOUT_FILENO, b->data + off, b->len - off);
        if (n <= 0) break; /* stdout gone: nowhere left to report it */
        off += (size_t)n;
    }
    sms_buf_close(b);
}

void sms_log_emit(sms_log_level_t level, const char *event, const char *fmt, ...) {
    sms_buf_t b, msg;
    sms_buf_init(&b);
    sms_buf_init(&msg);
    line_start(&b, level);
    sms_buf_puts(&b, ",\"event\":");
    sms_buf_json_str(&b, event, strlen(event));
    va_list ap;
    va_start(ap, fmt);
    sms_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (msg.len) {
        sms_buf_puts(&b, ",\"message\":");
        sms_buf_json_str(&b, msg.data, msg.len);
    }
    sms_buf_close(&msg);
    line_write(&b);
}

void sms_log_request(const sms_log_request_t *r) {
    sms_log_level_t level = r->status >= 500 ? SMS_LOG_ERROR : SMS_LOG_INFO;
    if (level < sms_log_min_level) return;
    sms_buf_t b;
    sms_buf_init(&b);
    line_start(&b, level);
    sms_buf_puts(&b, ",\"event\":\"request\",\"userId\":");
    if (r->user_id) sms_buf_json_str(&b, r->user_id, strlen(r->user_id));
    else sms_buf_puts(&b, "null");
    sms_buf_puts(&b, ",\"endpoint\":");
    sms_buf_json_str(&b, r->endpoint, strlen(r->endpoint));
    sms_buf_printf(&b, ",\"latency\":%.3f,\"statusCode\":%d,\"method\":", r->latency_ms, r->status);
    sms_buf_json_str(&b, r->method, strlen(r->method));
    sms_buf_puts(&b, ",\"requestId\":");
    sms_buf_json_str(&b, r->request_id, strlen(r->request_id));
    line_write(&b);
}
