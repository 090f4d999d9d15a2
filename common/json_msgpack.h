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

/* The deepest nesting of arrays and objects a request body may have (the
 * body itself is level 1). msgpack-c's unpacker holds at most
 * MSGPACK_EMBED_STACK_SIZE (32) open containers and fails past that
 * (measured: a command envelope around a 31-level body unpacks, 32 does
 * not); services put parts of a body further down in events, replies and
 * dead letters, so 24 leaves 7 levels of headroom. */
#define SMS_JSON_MAX_DEPTH 24

/* Scans JSON text s (n bytes; need not be valid JSON, the parser judges that
 * later) for arrays or objects nested deeper than max, without building a
 * tree: linear time, memory bounded by max, so any depth is safe. Returns 0
 * when none is, else 1 and the location of the first container past the
 * limit in path: member names joined by '.', array indexes as [i] (e.g.
 * "a.b[2].c"), as written in the text (escapes are not decoded), cut to
 * pathlen - 1 bytes ending "..." if longer. max >= 1. */
int sms_json_text_too_deep(const char *s, size_t n, int max, char *path, size_t pathlen);

/* True when json nests arrays or objects deeper than max (json itself is
 * level 1): trees built in code, which never went through the text check. */
int sms_json_too_deep(const cJSON *json, int max);

/* Appends obj as JSON text to out. bin is written as a base64 string. Returns 0. */
int sms_msgpack_to_json(const msgpack_object *obj, sms_buf_t *out);

#endif
