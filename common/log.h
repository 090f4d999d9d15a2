/* log.h - one JSON object per line on stdout, the seed's CloudWatch format.
 * Output is bounded: with SMS_LOG_FILE the logger rotates that file by size
 * itself (sms_log_output); request lines may be sampled (SMS_ACCESS_LOG).
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

/* One access-log line, subject to the sampling set by sms_log_output:
 * status >= 400 is always written; below 400 every line (sample 1), none
 * (0) or every Nth (N, the line then carries "sample": N so counts can be
 * scaled back). */
void sms_log_request(const sms_log_request_t *r);

typedef struct sms_log_output_s {
    const char *file;    /* NULL or "": stdout as it is, never rotated. Else the
                          * log file: stdout is pointed at it (O_APPEND) unless
                          * it is that file already (deploy/ctl's >> redirect) */
    long max_bytes;      /* rotate once the file reaches this size; 0 = never */
    int keep;            /* rotated files kept: <file>.1 (newest) .. <file>.<keep> */
    int request_sample;  /* see sms_log_request */
} sms_log_output_t;

/* Sets where lines go and how request lines are sampled (called by
 * sms_config_load). Rotation happens inside the writer, between two lines,
 * under a mutex: <file>.N-1 -> .N, ..., <file> -> <file>.1, a new <file> is
 * opened and put on stdout (and on stderr when stderr was the same file, so
 * a sanitizer's report lands in the current log). No line is lost or split.
 * Disk use per process stays under about (keep + 1) * max_bytes. */
void sms_log_output(const sms_log_output_t *o);

#endif
