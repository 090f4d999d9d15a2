/* password.c - argon2id hashes on libsodium (see password.h). Called by the
 * identity service's deciders (services/identity/handlers.c) and its unit
 * test; calls crypto_pwhash_str*. */
#include "password.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

_Static_assert(SMS_PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "the encoded hash's buffer");

int sms_password_init(void) { return sodium_init() < 0 ? -1 : 0; }

static bool params_ok(const sms_password_params_t *p) {
    return p->opslimit >= crypto_pwhash_OPSLIMIT_MIN && p->opslimit <= crypto_pwhash_OPSLIMIT_MAX &&
           p->memlimit >= crypto_pwhash_MEMLIMIT_MIN && p->memlimit <= crypto_pwhash_MEMLIMIT_MAX;
}

int sms_password_hash(const char *pw, size_t n, const sms_password_params_t *p, char out[SMS_PASSWORD_HASH_MAX]) {
    out[0] = '\0';
    if (n > SMS_PASSWORD_MAX_BYTES || !params_ok(p) || sms_password_init() != 0) return -1;
    if (crypto_pwhash_str_alg(out, pw, n, p->opslimit, p->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) return -1;
    return 0;
}

bool sms_password_verify(const char *encoded, const char *pw, size_t n) {
    if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0 || n > SMS_PASSWORD_MAX_BYTES) return false;
    if (strnlen(encoded, SMS_PASSWORD_HASH_MAX) >= SMS_PASSWORD_HASH_MAX || sms_password_init() != 0) return false;
    return crypto_pwhash_str_verify(encoded, pw, n) == 0;
}

/* One dummy hash per process, made with the first parameters asked for
 * (the service's configured ones: they do not change while it runs). */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[SMS_PASSWORD_HASH_MAX];

bool sms_password_verify_dummy(const char *pw, size_t n, const sms_password_params_t *p) {
    pthread_mutex_lock(&dummy_lock);
    if (dummy_hash[0] == '\0') {
        static const char dummy_pw[] = "sms dummy password: no account has it";
        /* A failure leaves it empty: verify below is then instant, which only
         * weakens the timing disguise, never lets anyone in. */
        if (sms_password_hash(dummy_pw, sizeof dummy_pw - 1, p, dummy_hash) != 0) dummy_hash[0] = '\0';
    }
    pthread_mutex_unlock(&dummy_lock);
    (void)sms_password_verify(dummy_hash, pw, n); /* its answer is meaningless: the point is the time */
    return false;
}

bool sms_password_needs_rehash(const char *encoded, const sms_password_params_t *p) {
    if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0 || !params_ok(p)) return true;
    return crypto_pwhash_str_needs_rehash(encoded, p->opslimit, p->memlimit) != 0;
}
