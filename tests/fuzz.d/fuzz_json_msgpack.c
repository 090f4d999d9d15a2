/* fuzz_json_msgpack.c - libFuzzer target for common/json_msgpack.c: a request
 * body's path through the gateway (the depth scan on the text, cJSON, then
 * JSON -> msgpack) and back (msgpack -> JSON, as replies are rendered). The
 * packed bytes must unpack as exactly one object, and the JSON rendered from
 * them must parse again. Built by tests/fuzz.d/CMakeLists.txt (-DSMS_FUZZ=ON). */
#include <cjson/cJSON.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_msgpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[128];
    if (sms_json_text_too_deep((const char *)data, size, SMS_JSON_MAX_DEPTH, path, sizeof path)) {
        if (strlen(path) >= sizeof path) abort();
        return 0; /* the gateway answers 400 here, before any parser */
    }
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (json == NULL) return 0;
    if (sms_json_too_deep(json, SMS_JSON_MAX_DEPTH)) abort(); /* the text scan missed it */

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (sms_json_to_msgpack(json, &pk) != 0) abort();

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, sb.data, sb.size, &off) != MSGPACK_UNPACK_SUCCESS || off != sb.size) abort();
    sms_buf_t out;
    sms_buf_init(&out);
    if (sms_msgpack_to_json(&up.data, &out) != 0) abort();
    cJSON *again = cJSON_ParseWithLength(out.data, out.len);
    if (again == NULL) abort(); /* what we render must be JSON */
    cJSON_Delete(again);
    sms_buf_close(&out);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    cJSON_Delete(json);
    return 0;
}
