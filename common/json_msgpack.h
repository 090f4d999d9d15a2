/* json_msgpack.h - JSON at the HTTP edge <-> msgpack on the bus.
 *
 * cJSON trees become msgpack (numbers that are whole and fit int64 become
 * integers, others float64); msgpack objects become JSON text. Used by the
 * gateway for request bodies and reply bodies; knows no domain. */
#ifndef SMS_JSON_MSGPACK_H
#define SMS_JSON_MSGPACK_H

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "buf.h"

/* Packs json into pk. Returns 0. */
int sms_json_to_msgpack(const cJSON *json, msgpack_packer *pk);

/* Appends obj as JSON text to out. bin is written as a base64 string. Returns 0. */
int sms_msgpack_to_json(const msgpack_object *obj, sms_buf_t *out);

#endif
