/* clock.h - wall and monotonic time, RFC 3339 formatting and parsing. */
#ifndef SMS_CLOCK_H
#define SMS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define SMS_RFC3339_LEN 25 /* "2025-01-01T10:30:00.123Z" + NUL */

int64_t sms_now_ms(void);    /* ms since the Unix epoch (wall clock) */
uint64_t sms_mono_ms(void);  /* monotonic ms, for latencies and deadlines */
uint64_t sms_mono_us(void);  /* monotonic µs */

/* Writes ms-since-epoch as RFC 3339 UTC with milliseconds into out
 * (at least SMS_RFC3339_LEN bytes). Returns out. */
char *sms_rfc3339(int64_t ms, char *out);

/* Parses an RFC 3339 date-time (s, len bytes, no NUL needed):
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"; 't'/'z' accepted, the
 * fraction is truncated to milliseconds, a leap second (:60) counts as the
 * next second. Years 0000-9999. Returns 0 and *ms (ms since the Unix
 * epoch, UTC), or -EINVAL (*ms untouched). */
int sms_rfc3339_parse(const char *s, size_t len, int64_t *ms);

#endif
