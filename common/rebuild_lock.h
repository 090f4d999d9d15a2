/* rebuild_lock.h - one replay of a view at a time across the instances of a
 * service: a Redis lock with a TTL (SET NX PX), renewed by its holder while
 * it replays. A second instance that finds the view wiped waits for the
 * holder instead of dropping what it has rebuilt so far; a holder that dies
 * lets the lock expire, and the next instance to try takes over.
 *
 * The key is "rebuild-lock:<view prefix>", outside the view's own prefix so
 * that dropping the view (and checksumming it) never touches it. A FLUSHALL
 * deletes it with the view: renewing then takes it again when nobody else
 * has (the holder is starting over anyway: its built token went too). */
#ifndef SMS_REBUILD_LOCK_H
#define SMS_REBUILD_LOCK_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a lock lives without renewal (ms); the holder renews it every
 * third of that, so two missed renewals in a row still keep it. */
#define SMS_REBUILD_LOCK_TTL_MS 15000

typedef struct sms_rebuild_lock_s {
    char key[96];
    char token[48];       /* "<pid>-<monotonic µs>": who holds it */
    bool held;
    uint64_t renewed_ms;  /* monotonic ms of the last SET or renewal */
} sms_rebuild_lock_t;

/* Fills l for the view whose keys start with prefix (nothing is sent). */
void sms_rebuild_lock_init(sms_rebuild_lock_t *l, const char *prefix);

/* SET key token NX PX ttl. Returns 1 (held now), 0 (another holds it) or
 * -1 (Redis failed). */
int sms_rebuild_lock_try(sms_rebuild_lock_t *l, redisContext *rc);

/* While held, extends the TTL once a third of it passed (cheap to call on
 * every turn of a replay). Returns 0 (still held, or not held at all), or
 * -1: another instance holds it now (the replay must stop) or Redis failed. */
int sms_rebuild_lock_renew(sms_rebuild_lock_t *l, redisContext *rc);

/* Deletes the key if it still holds our token; l is not held afterwards. */
void sms_rebuild_lock_release(sms_rebuild_lock_t *l, redisContext *rc);

#endif
