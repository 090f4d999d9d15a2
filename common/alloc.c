/* alloc.c - counted malloc wrappers; abort on OOM (see alloc.h). */
#include "alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t used_bytes;
static atomic_size_t calls; /* allocations made (malloc, calloc, realloc), for tests that bound them */

static void oom(size_t size) {
    fprintf(stderr, "{\"level\":\"FATAL\",\"event\":\"out_of_memory\",\"size\":%zu}\n", size);
    abort();
}

static void *counted(void *p, size_t size) {
    if (p == NULL && size != 0) oom(size);
    if (p != NULL) atomic_fetch_add(&used_bytes, malloc_usable_size(p));
    atomic_fetch_add(&calls, 1);
    return p;
}

void *sms_malloc(size_t size) { return counted(malloc(size ? size : 1), size ? size : 1); }

void *sms_calloc(size_t n, size_t size) {
    if (n == 0 || size == 0) n = size = 1;
    return counted(calloc(n, size), n * size);
}

void *sms_realloc(void *ptr, size_t size) {
    if (size == 0) size = 1;
    size_t before = ptr ? malloc_usable_size(ptr) : 0;
    void *p = realloc(ptr, size);
    if (p == NULL) oom(size);
    atomic_fetch_add(&calls, 1);
    atomic_fetch_sub(&used_bytes, before);
    atomic_fetch_add(&used_bytes, malloc_usable_size(p));
    return p;
}

char *sms_strdup(const char *s) { return sms_strndup(s, strlen(s)); }

char *sms_strndup(const char *s, size_t n) {
    char *p = sms_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sms_free(void *ptr) {
    if (ptr == NULL) return;
    atomic_fetch_sub(&used_bytes, malloc_usable_size(ptr));
    free(ptr);
}

size_t sms_alloc_used(void) { return atomic_load(&used_bytes); }

size_t sms_alloc_calls(void) { return atomic_load(&calls); }
