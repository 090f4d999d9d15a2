/* error.h - the one error space of common/: every function here that can
 * fail for more than one reason returns 0 or a negative SMS_E* code, and
 * sms_strerror says what a code means, the way libuv's UV_E* and
 * uv_strerror do. Codes that an errno names are -errno (SMS_EINVAL is
 * -EINVAL), so a system call's failure passes through unchanged; sms's own
 * reasons sit below SMS_E_FIRST, out of errno's range. */
#ifndef SMS_ERROR_H
#define SMS_ERROR_H

#include <errno.h>

#define SMS_OK 0

/* Reasons errno names. */
#define SMS_EINVAL (-EINVAL)
#define SMS_ERANGE (-ERANGE) /* a number outside [min, max] (hundredths: after rounding) */

/* sms's own reasons. */
#define SMS_E_FIRST (-5000)
enum {
    SMS_EPARSE = SMS_E_FIRST,  /* not the expected encoding: not msgpack or trailing bytes, a token not three base64url parts */
    SMS_EFIELD = -5001,        /* a required field is missing or has the wrong type */
    SMS_ETYPE = -5002,         /* not a number: absent, another type, NaN or infinite; text not -?[0-9]+ */
    SMS_EWHOLE = -5003,        /* an integer reader got a finite number in range with a fraction */
    SMS_EQUEUE = -5004,        /* a local queue is full (Kafka's produce queue): poll, then retry */
    SMS_EQUOTE = -5005,        /* CSV: a quoted field is not closed */
    SMS_EAFTER = -5006,        /* CSV: something other than , or a line break follows a closing quote */
    SMS_EBARE = -5007,         /* CSV: a quote inside an unquoted field */
    SMS_ETOOMANY = -5008,      /* more records (rows) than allowed */
    SMS_EBADALG = -5009,       /* a token's alg is not the one we accept (includes "none") */
    SMS_EBADSIG = -5010,       /* a signature (token, signed URL) is missing, malformed or not ours */
    SMS_EEXPIRED = -5011,      /* genuine, but past its expiry */
    SMS_EBADCLAIMS = -5012,    /* a token's claims are missing, of the wrong type, or name an unknown role */
    SMS_EWIDE = -5040,         /* CSV: a record has more than SMS_CSV_FIELDS_MAX fields */
};

/* A short sentence for err (0, a SMS_E* code or any -errno); never NULL. */
const char *sms_strerror(int err);

#endif
