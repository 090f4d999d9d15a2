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

/* Bytes of a big-endian length of n bytes at p. */
static uint64_t read_be(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

bool sms_mp_plausible(const void *buf, size_t len) {
    const unsigned char *p = buf;
    size_t pos = 0;
    uint64_t need = 1; /* objects still to read; each needs at least one byte */
    while (need > 0) {
        if (pos >= len) return false;
        unsigned b = p[pos++];
        size_t lenbytes = 0, fixed = 0; /* a length field, then payload (or fixed bytes) */
        uint64_t items = 0;              /* elements a container adds */
        need--;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) continue;
        if (b >= 0x80 && b <= 0x8f) items = 2 * (uint64_t)(b & 0x0f);
        else if (b >= 0x90 && b <= 0x9f) items = b & 0x0f;
        else if (b >= 0xa0 && b <= 0xbf) fixed = b & 0x1f;
        else switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break;           /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; break;           /* bin16, str16 */
            case 0xc6: case 0xdb: lenbytes = 4; break;           /* bin32, str32 */
            case 0xc7: lenbytes = 1, fixed = 1; break;           /* ext8: length, type */
            case 0xc8: lenbytes = 2, fixed = 1; break;           /* ext16 */
            case 0xc9: lenbytes = 4, fixed = 1; break;           /* ext32 */
            case 0xca: case 0xce: case 0xd2: fixed = 4; break;   /* float32, uint32, int32 */
            case 0xcb: case 0xcf: case 0xd3: fixed = 8; break;   /* float64, uint64, int64 */
            case 0xcc: case 0xd0: fixed = 1; break;
            case 0xcd: case 0xd1: fixed = 2; break;
            case 0xd4: fixed = 2; break;                         /* fixext1..16: type + data */
            case 0xd5: fixed = 3; break;
            case 0xd6: fixed = 5; break;
            case 0xd7: fixed = 9; break;
            case 0xd8: fixed = 17; break;
            case 0xdc: case 0xde: lenbytes = 2; break;           /* array16, map16 */
            case 0xdd: case 0xdf: lenbytes = 4; break;           /* array32, map32 */
            default: return false;                               /* 0xc1: never used */
            }
        uint64_t n = 0;
        if (lenbytes) {
            if (len - pos < lenbytes) return false;
            n = read_be(p + pos, lenbytes);
            pos += lenbytes;
        }
        if (b >= 0xdc && b <= 0xdf) items = b >= 0xde ? 2 * n : n;
        else if (lenbytes) fixed += n; /* str, bin, ext payloads */
        if (len - pos < fixed) return false;
        pos += fixed;
        if (items > len - pos || need + items > len - pos) return false;
        need += items;
    }
    return true;
}
