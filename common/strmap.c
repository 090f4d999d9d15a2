/* strmap.c - linear-probing string map with FNV-1a hashing (see strmap.h). */
#include "strmap.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

static char tombstone;
#define TOMB (&tombstone)

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

void sms_strmap_init(sms_strmap_t *m) { memset(m, 0, sizeof *m); }

void sms_strmap_close(sms_strmap_t *m) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB) sms_free(m->slots[i].key);
    sms_free(m->slots);
    sms_strmap_init(m);
}

static sms_strmap_entry_t *find(const sms_strmap_t *m, const char *key, size_t klen) {
    if (m->cap == 0) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key, klen) & mask;; i = (i + 1) & mask) {
        sms_strmap_entry_t *e = &m->slots[i];
        if (e->key == NULL) return NULL;
        if (e->key != TOMB && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    }
}

static void grow(sms_strmap_t *m) {
    sms_strmap_entry_t *old = m->slots;
    size_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 16;
    while (m->count * 2 >= m->cap) m->cap *= 2;
    m->slots = sms_calloc(m->cap, sizeof *m->slots);
    m->used = m->count;
    for (size_t i = 0; i < old_cap; i++) {
        sms_strmap_entry_t *e = &old[i];
        if (e->key == NULL || e->key == TOMB) continue;
        size_t mask = m->cap - 1, j = hash(e->key, e->klen) & mask;
        while (m->slots[j].key) j = (j + 1) & mask;
        m->slots[j] = *e;
    }
    sms_free(old);
}

void *sms_strmap_get(const sms_strmap_t *m, const char *key, size_t klen) {
    sms_strmap_entry_t *e = find(m, key, klen);
    return e ? e->value : NULL;
}

void *sms_strmap_put(sms_strmap_t *m, const char *key, size_t klen, void *value) {
    sms_strmap_entry_t *e = find(m, key, klen);
    if (e) {
        void *prev = e->value;
        e->value = value;
        return prev;
    }
    if ((m->used + 1) * 4 >= m->cap * 3) grow(m);
    size_t mask = m->cap - 1, i = hash(key, klen) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB) i = (i + 1) & mask;
    if (m->slots[i].key == NULL) m->used++;
    m->slots[i].key = sms_strndup(key, klen);
    m->slots[i].klen = klen;
    m->slots[i].value = value;
    m->count++;
    return NULL;
}

void *sms_strmap_del(sms_strmap_t *m, const char *key, size_t klen) {
    sms_strmap_entry_t *e = find(m, key, klen);
    if (e == NULL) return NULL;
    void *v = e->value;
    sms_free(e->key);
    e->key = TOMB;
    e->value = NULL;
    m->count--;
    return v;
}

void sms_strmap_free_values(sms_strmap_t *m, void (*fn)(void *), const void *marker) {
    for (size_t i = 0; i < m->cap; i++) {
        sms_strmap_entry_t *e = &m->slots[i];
        if (e->key && e->value && e->value != marker) fn(e->value);
    }
}
