/* log.h - one JSON object per line on stdout, the seed's CloudWatch format.
 *
 * Every line has timestamp, level, service, event; free text goes in
 * "message". Request lines (gateway) carry the seed's userId, endpoint,
 * latency (ms), statusCode plus method and requestId. The level is checked in
 * the macro so arguments of suppressed lines are never evaluated. Thread-safe
 * (each line is one write(2)). */
#ifndef SMS_LOG_H
#define SMS_LOG_H

#include <stdint.h>

typedef enum {
    SMS_LOG_DEBUG = 0,
    SMS_LOG_INFO = 1,
    SMS_LOG_WARN = 2,
    SMS_LOG_ERROR = 3,
} sms_log_level_t;

extern sms_log_level_t sms_log_min_level;

/* service is copied. */
void sms_log_init(const char *service, sms_log_level_t min_level);
/* Returns 0, or -1 if s is not debug|info|warn|error. */
int sms_log_level_parse(const char *s, sms_log_level_t *out);

#define sms_log(level, event, ...)                              \
    do {                                                        \
        if ((level) < sms_log_min_level) break;                 \
        sms_log_emit((level), (event), __VA_ARGS__);            \
    } while (0)

void sms_log_emit(sms_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct sms_log_request_s {
    const char *user_id;     /* may be NULL (anonymous) */
    const char *method;
    const char *endpoint;    /* path as requested, without the query */
    const char *request_id;
    int status;
    double latency_ms;
} sms_log_request_t;

void sms_log_request(const sms_log_request_t *r);

#endif
