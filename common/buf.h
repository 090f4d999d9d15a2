/* buf.h - growable byte buffer, used to build JSON, HTTP responses and logs.
 *
 * A caller-owned struct: sms_buf_init() then appends, sms_buf_close() frees the
 * storage. data is always NUL-terminated (not counted in len). sms_buf_take()
 * hands the storage to the caller (free with sms_free) and resets the buffer. */
#ifndef SMS_BUF_H
#define SMS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sms_buf_s {
    char *data;
    size_t len;
    size_t cap;
} sms_buf_t;

void sms_buf_init(sms_buf_t *b);
void sms_buf_close(sms_buf_t *b);
void sms_buf_reset(sms_buf_t *b);              /* len = 0, keeps capacity */
void sms_buf_reserve(sms_buf_t *b, size_t extra);
void sms_buf_append(sms_buf_t *b, const void *p, size_t n);
void sms_buf_puts(sms_buf_t *b, const char *s);
void sms_buf_putc(sms_buf_t *b, char c);
void sms_buf_printf(sms_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sms_buf_vprintf(sms_buf_t *b, const char *fmt, va_list ap);
void sms_buf_put_i64(sms_buf_t *b, int64_t v);
/* Appends s (n bytes) as a quoted, escaped JSON string. */
void sms_buf_json_str(sms_buf_t *b, const char *s, size_t n);
char *sms_buf_take(sms_buf_t *b, size_t *len_out);

#endif
