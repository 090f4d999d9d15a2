/* strmap.h - a small open-addressing hash map from strings to pointers.
 * Keys are copied (the map owns them); values are the caller's. Used for
 * per-batch caches and the gateway's pending-command table. Not thread-safe. */
#ifndef SMS_STRMAP_H
#define SMS_STRMAP_H

#include <stddef.h>

typedef struct sms_strmap_entry_s {
    char *key;   /* NULL: empty slot; SMS_STRMAP_TOMBSTONE: deleted */
    size_t klen;
    void *value;
} sms_strmap_entry_t;

typedef struct sms_strmap_s {
    sms_strmap_entry_t *slots;
    size_t cap;   /* power of two */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
} sms_strmap_t;

void sms_strmap_init(sms_strmap_t *m);
/* Frees keys and slots; values are not touched. */
void sms_strmap_close(sms_strmap_t *m);
void *sms_strmap_get(const sms_strmap_t *m, const char *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *sms_strmap_put(sms_strmap_t *m, const char *key, size_t klen, void *value);
/* Removes; returns the value or NULL. */
void *sms_strmap_del(sms_strmap_t *m, const char *key, size_t klen);
/* Calls fn on every live value that is neither NULL nor marker (a value the
 * caller stores to mean "known absent"; NULL: none): frees a cache's values
 * before sms_strmap_close. Deleted slots hold NULL and are skipped. */
void sms_strmap_free_values(sms_strmap_t *m, void (*fn)(void *), const void *marker);

#endif
