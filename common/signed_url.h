/* signed_url.h - URLs that carry their own authorization, like S3 presigned
 * URLs: an HMAC-SHA256 (hex) over the method, the path, an expiry time, an
 * optional exact body size and optional bound data, under a server secret.
 *
 * The gateway signs upload and download URLs (services/gateway/routes_files.c)
 * and verifies them when they come back; nothing else needs a token for them.
 * Pure functions over OpenSSL's HMAC; thread-safe.
 *
 * The signed message, byte for byte (a client or test can recompute it):
 *
 *     "sms-url-v1\n" METHOD "\n" PATH "\n" EXPIRES "\n" SIZE "\n" BOUND
 *
 * EXPIRES and SIZE in decimal, SIZE empty when it is not bound (size < 0),
 * BOUND empty when NULL. METHOD and PATH may not contain '\n' (refused), so
 * the message is unambiguous: BOUND, last, may hold anything. */
#ifndef SMS_SIGNED_URL_H
#define SMS_SIGNED_URL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#include "buf.h"

#define SMS_SIGNED_URL_SIG_LEN 64 /* hex characters of a signature */

typedef struct sms_signed_url_s {
    const char *method; /* "PUT", "GET" */
    const char *path;   /* the decoded path as the server routes it, e.g. "/uploads/01J..." */
    int64_t expires;    /* seconds since the epoch: valid while now <= expires */
    int64_t size;       /* the exact body size the URL allows, or -1: not bound */
    const char *bound;  /* NULL, or more data the signature covers (e.g. content type, file name) */
} sms_signed_url_t;

/* sms_signed_url_verify returns SMS_OK, SMS_EBADSIG (signature missing,
 * malformed or not ours for these parts) or SMS_EEXPIRED (genuine, but now >
 * expires): error.h. */

/* Writes the lower-case hex signature of u under secret (secret_len bytes)
 * and a NUL into sig (SMS_SIGNED_URL_SIG_LEN + 1 bytes). Returns 0, or
 * -EINVAL (empty secret, NULL method/path, '\n' in either; sig is then ""). */
int sms_signed_url_sign(const char *secret, size_t secret_len, const sms_signed_url_t *u, char *sig);

/* Checks sig (as received, NUL-terminated; hex of either case) for u at
 * now_s. The comparison takes the same time wherever the first difference
 * is. Expiry is only reported for a genuine signature, so an expired answer
 * tells the holder nothing about forged ones. */
int sms_signed_url_verify(const char *secret, size_t secret_len, const sms_signed_url_t *u,
                                              const char *sig, int64_t now_s);

/* Appends a URL (path and query, no scheme or host) carrying u to out:
 *     PATH "?expires=" EXPIRES ["&size=" SIZE] EXTRA "&sig=" SIG
 * u->path is copied as is (it must need no percent-encoding); extra_query
 * is NULL or already encoded "&name=value" pairs (those that u->bound
 * covers, for the verifier to rebuild it). Returns 0 or -EINVAL (out is
 * then unchanged). */
int sms_signed_url_build(const char *secret, size_t secret_len, const sms_signed_url_t *u, const char *extra_query,
                         sms_buf_t *out);

/* Appends s (n bytes) percent-encoded for a query value: everything but
 * A-Z a-z 0-9 - . _ ~ becomes %XX. */
void sms_url_encode(sms_buf_t *out, const char *s, size_t n);

#endif
