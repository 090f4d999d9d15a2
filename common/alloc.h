/* alloc.h - counted allocation for every sms process.
 *
 * All heap memory goes through these so that used memory can be reported
 * (readyz, benchmarks) and so that out-of-memory is one decision: abort.
 * Pointers from sms_malloc/sms_calloc/sms_realloc/sms_strdup are freed with
 * sms_free. Thread-safe (atomic counter). */
#ifndef SMS_ALLOC_H
#define SMS_ALLOC_H

#include <stddef.h>

void *sms_malloc(size_t size);
void *sms_calloc(size_t n, size_t size);
void *sms_realloc(void *ptr, size_t size);
char *sms_strdup(const char *s);
char *sms_strndup(const char *s, size_t n);
void sms_free(void *ptr);

/* Bytes currently allocated through this module. */
size_t sms_alloc_used(void);

/* Allocation calls made through this module so far (sms_malloc, _calloc,
 * _realloc, _strdup, _strndup): lets a test bound what an input costs. */
size_t sms_alloc_calls(void);

#endif
