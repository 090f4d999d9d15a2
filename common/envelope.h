/* envelope.h - the versioned msgpack envelope of every event, command and
 * reply on the bus (the public contract in schemas/asyncapi.yaml).
 *
 * Event:   {id, type, v, time, actor, key, cause, data}      (this key order)
 * Command: {id, type, v, time, actor, role, key, reply_to, data [, if_match] [, traceparent] [, deadline]}
 * Reply:   {id, status, body [, location]}
 *
 * Encoding: the *_pack_head functions write the map header and every key
 * before data/body; the caller then packs exactly one value (the data map).
 * Decoding: *_decode unpacks into a caller-owned struct whose string fields
 * point into the unpacked zone; release it with *_close. Unknown keys are
 * ignored (consumers must tolerate additions). */
#ifndef SMS_ENVELOPE_H
#define SMS_ENVELOPE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

typedef struct sms_str_s {
    const char *ptr;
    size_t len;
} sms_str_t;

#define SMS_STR(s) ((sms_str_t){(s), strlen(s)})

/* Whether s is the C string c, byte for byte (how tables find a row by a
 * command's or an event's type). */
static inline bool sms_str_is(sms_str_t s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

/* Decoders return SMS_OK, SMS_EPARSE (not msgpack, or trailing bytes) or
 * SMS_EFIELD (a required key is missing or has the wrong type): error.h. */

/* ---- events ---- */
typedef struct sms_event_s {
    sms_str_t id, type, actor, key, cause;
    int64_t v;
    int64_t time;
    const msgpack_object *data;  /* a map */
    msgpack_unpacked unpacked;   /* owns the memory the fields point into */
} sms_event_t;

void sms_event_pack_head(msgpack_packer *pk, sms_str_t id, sms_str_t type, int64_t v, int64_t time,
                         sms_str_t actor, sms_str_t key, sms_str_t cause);
int sms_event_decode(const void *buf, size_t len, sms_event_t *out);
void sms_event_close(sms_event_t *ev);

/* ---- commands ---- */
typedef struct sms_command_s {
    sms_str_t id, type, actor, role, key, reply_to, traceparent; /* traceparent.len 0 if absent */
    int64_t v;
    int64_t time;
    bool has_if_match;
    int64_t if_match;
    int64_t deadline; /* epoch ms after which the sender no longer waits for the reply; 0 if absent */
    const msgpack_object *data;  /* a map (may be empty) */
    msgpack_unpacked unpacked;
} sms_command_t;

typedef struct sms_command_head_s {
    sms_str_t id, type, actor, role, key, reply_to, traceparent; /* traceparent.len 0: omitted */
    int64_t v;
    int64_t time;
    bool has_if_match;
    int64_t if_match;
    int64_t deadline; /* 0: omitted */
} sms_command_head_t;

/* Packs everything but data's value; if_match/traceparent/deadline follow
 * data, so the caller packs data and then calls sms_command_pack_tail. */
void sms_command_pack_head(msgpack_packer *pk, const sms_command_head_t *h);
void sms_command_pack_tail(msgpack_packer *pk, const sms_command_head_t *h);
int sms_command_decode(const void *buf, size_t len, sms_command_t *out);
void sms_command_close(sms_command_t *cmd);
/* Whether a command with this deadline (epoch ms, 0: none) is past it by
 * more than margin_ms at now_ms (the receiver's clock): its sender has
 * stopped waiting and answered the client "outcome unknown". The margin
 * absorbs clock skew between sender and receiver, so a receiver whose clock
 * runs up to margin_ms ahead still never drops a command whose sender
 * waits. margin_ms < 0: nothing ever expires. Pure. */
bool sms_command_expired(int64_t deadline, int64_t now_ms, int64_t margin_ms);
/* For a command sms_command_decode refused (e.g. data nested deeper than
 * msgpack-c unpacks): finds its id and reply_to by reading the top-level
 * map's leading scalar entries only (the envelope puts both before data),
 * so the service can still answer it. The strings point into buf. Returns
 * SMS_OK with both found, else SMS_EPARSE. */
int sms_command_peek(const void *buf, size_t len, sms_str_t *id, sms_str_t *reply_to);

/* ---- replies ---- */
typedef struct sms_reply_s {
    sms_str_t id, location; /* location.len 0 if absent */
    int64_t status;
    const msgpack_object *body;
    msgpack_unpacked unpacked;
} sms_reply_t;

/* Packs {id, status, "body": — the caller packs the body value, then calls
 * sms_reply_pack_tail with the same location (len 0: none). */
void sms_reply_pack_head(msgpack_packer *pk, sms_str_t id, int status, sms_str_t location);
void sms_reply_pack_tail(msgpack_packer *pk, sms_str_t location);
int sms_reply_decode(const void *buf, size_t len, sms_reply_t *out);
void sms_reply_close(sms_reply_t *r);

#endif
