/* text.c - UTF-8 character counting for validation (see text.h). */
#include "text.h"

size_t sms_text_chars(const char *s, size_t n) {
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return (size_t)-1;
        if (len == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t' && c != '\r') return (size_t)-1;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] >> 6) != 2) return (size_t)-1;
        i += len;
        chars++;
    }
    return chars;
}

size_t sms_text_utf8_cut(const char *s, size_t n) {
    /* Look back over at most 3 continuation bytes for the lead of the last sequence. */
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c >> 6) == 2) continue; /* a continuation byte */
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        return len > back ? n - back : n;
    }
    return n;
}
