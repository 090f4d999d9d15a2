/* json_msgpack.c - JSON <-> msgpack conversion (see json_msgpack.h). */
#include "json_msgpack.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "msgpack_util.h"

int sms_json_to_msgpack(const cJSON *json, msgpack_packer *pk) {
    const cJSON *child;
    int n;
    switch (json->type & 0xFF) {
    case cJSON_NULL: msgpack_pack_nil(pk); break;
    case cJSON_False: msgpack_pack_false(pk); break;
    case cJSON_True: msgpack_pack_true(pk); break;
    case cJSON_Number: {
        double d = json->valuedouble;
        /* 2^63 is exact as a double; whole values strictly inside it are ints. */
        if (d == floor(d) && d > -9223372036854775808.0 && d < 9223372036854775808.0)
            msgpack_pack_int64(pk, (int64_t)d);
        else
            msgpack_pack_double(pk, d);
        break;
    }
    case cJSON_String: sms_mp_pack_str(pk, json->valuestring); break;
    case cJSON_Array:
        n = cJSON_GetArraySize(json);
        msgpack_pack_array(pk, (size_t)n);
        cJSON_ArrayForEach(child, json) sms_json_to_msgpack(child, pk);
        break;
    case cJSON_Object:
        n = cJSON_GetArraySize(json);
        msgpack_pack_map(pk, (size_t)n);
        cJSON_ArrayForEach(child, json) {
            sms_mp_pack_str(pk, child->string);
            sms_json_to_msgpack(child, pk);
        }
        break;
    default: msgpack_pack_nil(pk); break; /* cJSON_Raw/Invalid never come from cJSON_Parse */
    }
    return 0;
}

static void base64(sms_buf_t *out, const unsigned char *p, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sms_buf_putc(out, '"');
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < n ? tbl[v >> 6 & 63] : '=', i + 2 < n ? tbl[v & 63] : '='};
        sms_buf_append(out, q, 4);
    }
    sms_buf_putc(out, '"');
}

int sms_msgpack_to_json(const msgpack_object *obj, sms_buf_t *out) {
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL: sms_buf_puts(out, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: sms_buf_puts(out, obj->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: sms_buf_printf(out, "%llu", (unsigned long long)obj->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: sms_buf_printf(out, "%lld", (long long)obj->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(obj->via.f64)) sms_buf_printf(out, "%.17g", obj->via.f64);
        else sms_buf_puts(out, "null");
        break;
    case MSGPACK_OBJECT_STR: sms_buf_json_str(out, obj->via.str.ptr, obj->via.str.size); break;
    case MSGPACK_OBJECT_BIN: base64(out, (const unsigned char *)obj->via.bin.ptr, obj->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        sms_buf_putc(out, '[');
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            if (i) sms_buf_putc(out, ',');
            sms_msgpack_to_json(&obj->via.array.ptr[i], out);
        }
        sms_buf_putc(out, ']');
        break;
    case MSGPACK_OBJECT_MAP:
        sms_buf_putc(out, '{');
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            if (i) sms_buf_putc(out, ',');
            if (kv->key.type == MSGPACK_OBJECT_STR) {
                sms_buf_json_str(out, kv->key.via.str.ptr, kv->key.via.str.size);
            } else { /* JSON keys are strings: render the key as JSON, then quote it */
                sms_buf_t k;
                sms_buf_init(&k);
                sms_msgpack_to_json(&kv->key, &k);
                sms_buf_json_str(out, k.data, k.len);
                sms_buf_close(&k);
            }
            sms_buf_putc(out, ':');
            sms_msgpack_to_json(&kv->val, out);
        }
        sms_buf_putc(out, '}');
        break;
    default: sms_buf_puts(out, "null"); break; /* ext: not used on our bus */
    }
    return 0;
}
