/* id.h - opaque, unique, time-ordered identifiers (ULID layout: 48-bit ms
 * timestamp + 80 random bits, Crockford base32, 26 chars). Sorting ids as
 * strings sorts them by creation millisecond. Thread-safe. */
#ifndef SMS_ID_H
#define SMS_ID_H

#include <stdint.h>

#define SMS_ID_LEN 26
#define SMS_ID_SIZE (SMS_ID_LEN + 1)

/* Writes a new id and NUL into out (SMS_ID_SIZE bytes); returns out. */
char *sms_id_new(char out[SMS_ID_SIZE]);
/* Same with a caller-chosen timestamp (tests). */
char *sms_id_at(int64_t ms, char out[SMS_ID_SIZE]);

#endif
