/* clock.h - wall and monotonic time, RFC 3339 formatting. */
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

#endif
