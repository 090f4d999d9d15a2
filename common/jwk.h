/* jwk.h - JSON Web Keys (RFC 7517) to OpenSSL public keys, and JWS
 * signature checks for RS256 and ES256 (RFC 7518 3.3, 3.4).
 *
 * The gateway's OIDC verifier (services/gateway/oidc.c) parses an identity
 * provider's JWKS with sms_jwks_parse on its fetch thread and checks token
 * signatures with sms_jws_verify on the loop. Only public signing keys are
 * kept: RSA (at least 2048 bits) for RS256 and EC P-256 for ES256; keys for
 * encryption ("use": "enc"), other key types and curves are skipped. No
 * symmetric algorithm exists here, so a token whose header says HS256 can
 * never be checked against a public key (algorithm confusion). */
#ifndef SMS_JWK_H
#define SMS_JWK_H

#include <stddef.h>

#include "error.h"

/* The signature algorithms accepted. 0 is "none of them". */
typedef enum { SMS_JWS_RS256 = 1, SMS_JWS_ES256 = 2 } sms_jws_alg_t;

#define SMS_JWK_KID_MAX 128 /* bytes of a kid, NUL included */
#define SMS_JWKS_MAX_KEYS 32 /* keys kept from one set; more are ignored */

/* One key set: immutable once parsed, so one thread may build it and hand it
 * to another. */
typedef struct sms_jwks_s sms_jwks_t;
/* One key inside a set, owned by the set. */
typedef struct sms_jwk_s sms_jwk_t;

/* The alg for a JOSE "alg" name: SMS_JWS_RS256 for "RS256", SMS_JWS_ES256 for
 * "ES256", else 0 ("none", "HS256", anything else). */
sms_jws_alg_t sms_jws_alg_from_name(const char *name);

/* Parses a JWKS document ({"keys": [...]}, json of len bytes). Returns SMS_OK
 * and *out (free with sms_jwks_free), or SMS_EPARSE (not a JSON object with a
 * keys array) with a sentence in err. A set in which no key was usable is
 * SMS_OK with count 0; *skipped (may be NULL) gets the number of keys left out. */
int sms_jwks_parse(const char *json, size_t len, sms_jwks_t **out, size_t *skipped, char *err, size_t errlen);
void sms_jwks_free(sms_jwks_t *set); /* NULL is a no-op */
size_t sms_jwks_count(const sms_jwks_t *set);

/* The key named kid, or NULL. *alg_ok (may be NULL) says whether it can
 * check alg (an RSA key for RS256, a P-256 key for ES256, and the JWK's own
 * "alg" member, if any, equal to it). */
const sms_jwk_t *sms_jwks_find(const sms_jwks_t *set, const char *kid, sms_jws_alg_t alg, int *alg_ok);

/* Checks the JWS signature sig (sig_len raw bytes, base64url already decoded)
 * over input (the "header.payload" ASCII, n bytes) with key for alg.
 * Returns SMS_OK, SMS_EBADALG (key cannot check alg), or SMS_EBADSIG (wrong
 * length, malformed, or not made by the key). Thread-safe for one key. */
int sms_jws_verify(const sms_jwk_t *key, sms_jws_alg_t alg, const char *input, size_t n, const unsigned char *sig,
                   size_t sig_len);

/* Decodes unpadded base64url in (n chars) into out (capacity cap). Returns
 * the byte count, or -1 on a bad character, a bad length or overflow. */
long sms_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/* The 6-bit value of a base64url character, or -1 for any other byte. */
int sms_b64url_value(unsigned char c);

#endif
