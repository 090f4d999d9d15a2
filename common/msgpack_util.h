/* msgpack_util.h - small helpers over msgpack-c: packing C strings and
 * reading fields out of decoded maps. Pure functions, no allocation except
 * sms_mp_strdup. */
#ifndef SMS_MSGPACK_UTIL_H
#define SMS_MSGPACK_UTIL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void sms_mp_pack_str(msgpack_packer *pk, const char *s);
void sms_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);
/* Packs "key": "value" (both C strings). */
void sms_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);
void sms_mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t value);

/* Returns the value of key in map obj, or NULL if obj is not a map or has no
 * such key. The pointer is into obj's zone. */
const msgpack_object *sms_mp_map_get(const msgpack_object *obj, const char *key);

/* Returns true and sets *s and *n if obj is a str. */
bool sms_mp_str(const msgpack_object *obj, const char **s, size_t *n);
/* Returns true and sets *v if obj is an integer that fits int64. */
bool sms_mp_i64(const msgpack_object *obj, int64_t *v);
/* Any msgpack number as a double (false when obj is NULL, not a number, or
 * a float that is NaN or infinite). For reading events back: a client's
 * numbers go through number.h, which checks ranges before converting. */
bool sms_mp_number(const msgpack_object *obj, double *out);
/* Compares a str object to a C string. */
bool sms_mp_str_eq(const msgpack_object *obj, const char *s);
/* Copies a str object into a NUL-terminated heap string (sms_free), or NULL if not a str. */
char *sms_mp_strdup(const msgpack_object *obj);
/* Copies a str object into out (size cap, NUL-terminated); returns false if
 * not a str or too long. */
bool sms_mp_strcpy(const msgpack_object *obj, char *out, size_t cap);

/* Whether buf starts with one complete msgpack object whose every array and
 * map declares no more elements than there are bytes left to hold them (each
 * element takes at least one byte). msgpack-c allocates a container's slots
 * from its declared count before reading them, so a 5-byte map header saying
 * 2^32 entries asks for 128 GiB; checking this first bounds what an unpack
 * allocates by the message's size. Linear, no allocation. Trailing bytes
 * after the object are not judged here. */
bool sms_mp_plausible(const void *buf, size_t len);

#endif
