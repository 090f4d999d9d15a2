/* schema.h - the class aggregate's shapes: the snapshot carried by every
 * class event (msgpack, int ms timestamps) and the public representation
 * (HTTP JSON / reply body, RFC 3339 timestamps). */
#ifndef CLASSES_SCHEMA_H
#define CLASSES_SCHEMA_H

#include <msgpack.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

#define CLASSES_EVENT_VERSION 1

#define CLASSES_CODE_MAX 64
#define CLASSES_NAME_MAX 200
#define CLASSES_DESCRIPTION_MAX 2000
#define CLASSES_TERM_MAX 32

/* One class. Strings are owned (sms_strdup) and freed by classes_class_clear. */
typedef struct classes_class_s {
    char *id, *code, *name, *description, *term, *status, *lecturer_id;
    int64_t created_at, updated_at, version;
} classes_class_t;

void classes_class_clear(classes_class_t *c);
void classes_class_copy(classes_class_t *dst, const classes_class_t *src);
/* Replaces one string field (takes a copy of value). */
void classes_set(char **field, const char *value, size_t len);

/* Packs the event data map (snapshot; "changed" appended when changed != NULL,
 * n_changed names). */
void classes_pack_snapshot(msgpack_packer *pk, const classes_class_t *c, const char *const *changed,
                           size_t n_changed);
/* Reads a snapshot out of an event's data map. 0, or -1 if a field is missing. */
int classes_read_snapshot(const msgpack_object *data, classes_class_t *out);
/* Packs the public representation (reply body). */
void classes_pack_public(msgpack_packer *pk, const classes_class_t *c);
/* Appends the public representation as JSON (the view's stored document). */
void classes_render_json(const classes_class_t *c, sms_buf_t *out);

#endif
