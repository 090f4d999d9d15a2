/* id.h - opaque, unique, time-ordered identifiers (ULID layout: 48-bit ms
 * timestamp + 80 random bits, Crockford base32, 26 chars). Sorting ids as
 * strings sorts them by creation millisecond. Thread-safe. */
#ifndef SMS_ID_H
#define SMS_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMS_ID_LEN 26
#define SMS_ID_SIZE (SMS_ID_LEN + 1)

/* Writes a new id and NUL into out (SMS_ID_SIZE bytes); returns out. */
char *sms_id_new(char out[SMS_ID_SIZE]);
/* Same with a caller-chosen timestamp (tests). */
char *sms_id_at(int64_t ms, char out[SMS_ID_SIZE]);
/* A deterministic id: ms, then the first 80 bits of SHA-256(seed). The same
 * seed always gives the same id (a notification's id from its source event
 * id and recipient, so a redelivered event yields no second notification). */
char *sms_id_derive(int64_t ms, const void *seed, size_t n, char out[SMS_ID_SIZE]);

/* The ids clients choose (student ids) and the ids in routes: 1..max bytes
 * of A-Z a-z 0-9 . _ - (safe in a Redis key, a URL path and a log line). */
#define SMS_ID_NAME_MAX 64
bool sms_id_name_valid(const char *s, size_t n, size_t max);

#endif
