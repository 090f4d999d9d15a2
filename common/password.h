/* password.h - argon2id password hashes (libsodium crypto_pwhash_str) for
 * the identity service: hashing a new password, verifying a login, telling
 * when a stored hash was made with other parameters than the configured ones
 * (rehash on login), and a dummy verification that costs what a real one
 * costs (an unknown email takes as long as a wrong password).
 *
 * The encoded string ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") carries
 * its own parameters and salt. Neither it nor a plaintext password may ever
 * be logged or put in a reply. Thread-safe; CPU-bound (tens of ms): never
 * call it on an event loop. */
#ifndef SMS_PASSWORD_H
#define SMS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* crypto_pwhash_STRBYTES: the encoded hash's buffer, NUL included. */
#define SMS_PASSWORD_HASH_MAX 128
#define SMS_PASSWORD_MIN_CHARS 12   /* the API's rule (issue 11) */
#define SMS_PASSWORD_MAX_BYTES 1024 /* longer is refused before hashing (cost bound) */

typedef struct sms_password_params_s {
    unsigned long long opslimit; /* SMS_ARGON2_OPSLIMIT: passes (>= 1) */
    size_t memlimit;             /* SMS_ARGON2_MEMLIMIT: bytes (>= 8 KiB) */
} sms_password_params_t;

/* Initialises libsodium (idempotent). 0, or -1 if it cannot start. */
int sms_password_init(void);

/* Hashes pw (n bytes) with p into out (SMS_PASSWORD_HASH_MAX bytes,
 * NUL-terminated). 0, or -1 (out of memory, or bad parameters). */
int sms_password_hash(const char *pw, size_t n, const sms_password_params_t *p, char out[SMS_PASSWORD_HASH_MAX]);

/* Whether pw matches encoded (an argon2id string). false for any malformed
 * or empty encoded (an account without a password never logs in). */
bool sms_password_verify(const char *encoded, const char *pw, size_t n);

/* Verifies pw against a hash made once with p (for an unknown account), so
 * that the answer takes as long as a real verification; always false. */
bool sms_password_verify_dummy(const char *pw, size_t n, const sms_password_params_t *p);

/* Whether encoded was made with other parameters than p (or is not argon2id). */
bool sms_password_needs_rehash(const char *encoded, const sms_password_params_t *p);

#endif
