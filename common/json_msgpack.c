/* json_msgpack.c - JSON <-> msgpack conversion (see json_msgpack.h). */
#include "json_msgpack.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
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

/* ---- nesting depth ---- */

/* One open container of the text scan: where in it the scan is. */
typedef struct depth_frame_s {
    char kind;          /* '{' or '[' */
    int expect_key;     /* object: the next string is a member name */
    size_t index;       /* array: the element being read */
    const char *key;    /* object: the member being read (raw text), NULL before the first */
    size_t key_len;
} depth_frame_t;

/* Writes the path of the element being read in frames[0..depth). */
static void depth_path(const depth_frame_t *frames, int depth, char *path, size_t pathlen) {
    sms_buf_t b;
    sms_buf_init(&b);
    for (int k = 0; k < depth; k++) {
        if (frames[k].kind == '[') {
            sms_buf_printf(&b, "[%zu]", frames[k].index);
        } else {
            if (b.len) sms_buf_putc(&b, '.');
            if (frames[k].key) sms_buf_append(&b, frames[k].key, frames[k].key_len);
        }
    }
    if (pathlen == 0) goto out;
    if (b.len < pathlen) {
        memcpy(path, b.data ? b.data : "", b.len);
        path[b.len] = '\0';
    } else {
        size_t keep = pathlen > 4 ? pathlen - 4 : 0;
        memcpy(path, b.data, keep);
        memcpy(path + keep, "...", pathlen - 1 - keep);
        path[pathlen - 1] = '\0';
    }
out:
    sms_buf_close(&b);
}

int sms_json_text_too_deep(const char *s, size_t n, int max, char *path, size_t pathlen) {
    depth_frame_t *frames = sms_calloc((size_t)max, sizeof *frames);
    int depth = 0, found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        char c = s[i];
        depth_frame_t *top = depth ? &frames[depth - 1] : NULL;
        switch (c) {
        case '"': {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            if (j >= n) goto done; /* unterminated: the parser refuses it */
            if (top && top->kind == '{' && top->expect_key) {
                top->key = s + i + 1;
                top->key_len = j - i - 1;
                top->expect_key = 0;
            }
            i = j;
            break;
        }
        case '{':
        case '[':
            if (depth == max) {
                depth_path(frames, depth, path, pathlen);
                found = 1;
                break;
            }
            frames[depth] = (depth_frame_t){.kind = c, .expect_key = c == '{'};
            depth++;
            break;
        case '}':
        case ']':
            if (depth) depth--;
            break;
        case ',':
            if (top) {
                top->index++;
                top->expect_key = top->kind == '{';
            }
            break;
        default: break;
        }
    }
done:
    sms_free(frames);
    return found;
}

int sms_json_too_deep(const cJSON *json, int max) {
    if (!cJSON_IsArray(json) && !cJSON_IsObject(json)) return 0;
    if (max < 1) return 1;
    const cJSON *child;
    cJSON_ArrayForEach(child, json) if (sms_json_too_deep(child, max - 1)) return 1;
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
            } else if (kv->key.type == MSGPACK_OBJECT_ARRAY || kv->key.type == MSGPACK_OBJECT_MAP) {
                /* Not quoted JSON of the container: each level of keys nested in keys
                 * would escape the one inside again, doubling the text per level
                 * (fuzz_envelope: 1 KB of msgpack took seconds). Our bus never has one. */
                sms_buf_puts(out, kv->key.type == MSGPACK_OBJECT_MAP ? "\"{map}\"" : "\"[array]\"");
            } else { /* JSON keys are strings: render the scalar key as JSON, then quote it */
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
