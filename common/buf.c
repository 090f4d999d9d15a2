/* buf.c - growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

void sms_buf_init(sms_buf_t *b) { b->data = NULL; b->len = 0; b->cap = 0; }

void sms_buf_close(sms_buf_t *b) {
    sms_free(b->data);
    sms_buf_init(b);
}

void sms_buf_reset(sms_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void sms_buf_reserve(sms_buf_t *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = sms_realloc(b->data, cap);
    b->cap = cap;
}

void sms_buf_append(sms_buf_t *b, const void *p, size_t n) {
    sms_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sms_buf_puts(sms_buf_t *b, const char *s) { sms_buf_append(b, s, strlen(s)); }

void sms_buf_putc(sms_buf_t *b, char c) { sms_buf_append(b, &c, 1); }

void sms_buf_vprintf(sms_buf_t *b, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n <= 0) return;
    sms_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sms_buf_printf(sms_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sms_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sms_buf_put_i64(sms_buf_t *b, int64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    sms_buf_append(b, tmp, (size_t)n);
}

void sms_buf_json_str(sms_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (n == 0) { /* s may be NULL then (msgpack-c's empty str): no pointer arithmetic on it */
        sms_buf_append(b, "\"\"", 2);
        return;
    }
    sms_buf_reserve(b, n + 2);
    sms_buf_putc(b, '"');
    size_t run = 0; /* start of the current run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sms_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': sms_buf_append(b, "\\\"", 2); break;
        case '\\': sms_buf_append(b, "\\\\", 2); break;
        case '\n': sms_buf_append(b, "\\n", 2); break;
        case '\r': sms_buf_append(b, "\\r", 2); break;
        case '\t': sms_buf_append(b, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sms_buf_append(b, esc, 6);
        }
        }
    }
    sms_buf_append(b, s + run, n - run);
    sms_buf_putc(b, '"');
}

char *sms_buf_take(sms_buf_t *b, size_t *len_out) {
    if (b->data == NULL) sms_buf_reserve(b, 0);
    char *p = b->data;
    if (len_out) *len_out = b->len;
    sms_buf_init(b);
    return p;
}
