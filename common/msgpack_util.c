/* msgpack_util.c - msgpack-c packing and lookup helpers (see msgpack_util.h). */
#include "msgpack_util.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

void sms_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sms_mp_pack_str(msgpack_packer *pk, const char *s) { sms_mp_pack_strn(pk, s, strlen(s)); }

void sms_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *value) {
    sms_mp_pack_str(pk, key);
    sms_mp_pack_str(pk, value);
}

void sms_mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t value) {
    sms_mp_pack_str(pk, key);
    msgpack_pack_int64(pk, value);
}

const msgpack_object *sms_mp_map_get(const msgpack_object *obj, const char *key) {
    if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0)
            return &kv->val;
    }
    return NULL;
}

bool sms_mp_str(const msgpack_object *obj, const char **s, size_t *n) {
    if (obj == NULL || obj->type != MSGPACK_OBJECT_STR) return false;
    *s = obj->via.str.ptr;
    *n = obj->via.str.size;
    return true;
}

bool sms_mp_i64(const msgpack_object *obj, int64_t *v) {
    if (obj == NULL) return false;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (obj->via.u64 > (uint64_t)INT64_MAX) return false;
        *v = (int64_t)obj->via.u64;
        return true;
    }
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = obj->via.i64;
        return true;
    }
    return false;
}

bool sms_mp_str_eq(const msgpack_object *obj, const char *s) {
    const char *p;
    size_t n;
    return sms_mp_str(obj, &p, &n) && n == strlen(s) && memcmp(p, s, n) == 0;
}

char *sms_mp_strdup(const msgpack_object *obj) {
    const char *p;
    size_t n;
    if (!sms_mp_str(obj, &p, &n)) return NULL;
    return sms_strndup(p, n);
}

bool sms_mp_strcpy(const msgpack_object *obj, char *out, size_t cap) {
    const char *p;
    size_t n;
    if (!sms_mp_str(obj, &p, &n) || n + 1 > cap) return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

bool sms_mp_number(const msgpack_object *obj, double *out) {
    if (obj == NULL) return false;
    switch (obj->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)obj->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)obj->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = obj->via.f64; return isfinite(obj->via.f64);
    default: return false;
    }
}
