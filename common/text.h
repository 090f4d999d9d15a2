/* text.h - checks for user-entered text fields (names, titles, feedback):
 * shared by every service's validation so limits mean the same everywhere. */
#ifndef SMS_TEXT_H
#define SMS_TEXT_H

#include <stddef.h>

/* Number of characters (UTF-8 code points) in s[0..n), or (size_t)-1 when s
 * is not valid UTF-8 or holds a control character other than tab, newline
 * or carriage return. Limits in the API are in characters, not bytes. */
size_t sms_text_chars(const char *s, size_t n);

/* The length of s[0..n) without a multi-byte UTF-8 sequence cut short at
 * its end, for text that was truncated to a byte limit (snprintf into a
 * fixed buffer): what remains of valid UTF-8 stays valid. n itself when the
 * end is complete (or s is not UTF-8 there: only a cut lead is removed). */
size_t sms_text_utf8_cut(const char *s, size_t n);

#endif
