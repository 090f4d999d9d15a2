/* envelope.c - msgpack codec of events, commands and replies (see envelope.h). */
#include "envelope.h"

#include <string.h>

#include "event_check.h"
#include "msgpack_util.h"

static void pack_s(msgpack_packer *pk, sms_str_t s) { sms_mp_pack_strn(pk, s.ptr, s.len); }

void sms_event_pack_head(msgpack_packer *pk, sms_str_t id, sms_str_t type, int64_t v, int64_t time,
                         sms_str_t actor, sms_str_t key, sms_str_t cause) {
    msgpack_pack_map(pk, 8);
    sms_mp_pack_str(pk, "id");     pack_s(pk, id);
    sms_mp_pack_str(pk, "type");   pack_s(pk, type);
    sms_mp_pack_str(pk, "v");      msgpack_pack_int64(pk, v);
    sms_mp_pack_str(pk, "time");   msgpack_pack_int64(pk, time);
    sms_mp_pack_str(pk, "actor");  pack_s(pk, actor);
    sms_mp_pack_str(pk, "key");    pack_s(pk, key);
    sms_mp_pack_str(pk, "cause");  pack_s(pk, cause);
    sms_mp_pack_str(pk, "data");
}

/* Unpacks exactly one object filling the whole buffer. Containers whose
 * declared size the bytes cannot hold are refused before msgpack-c
 * allocates for them (found by tests/fuzz.d/fuzz_envelope.c). */
static int unpack_one(const void *buf, size_t len, msgpack_unpacked *u) {
    size_t off = 0;
    msgpack_unpacked_init(u);
    if (!sms_mp_plausible(buf, len)) return SMS_EPARSE;
    if (msgpack_unpack_next(u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        return SMS_EPARSE;
    }
    return SMS_OK;
}

static bool get_str(const msgpack_object *map, const char *key, sms_str_t *out) {
    return sms_mp_str(sms_mp_map_get(map, key), &out->ptr, &out->len);
}

static bool get_opt_str(const msgpack_object *map, const char *key, sms_str_t *out) {
    const msgpack_object *o = sms_mp_map_get(map, key);
    out->ptr = "";
    out->len = 0;
    return o == NULL || o->type == MSGPACK_OBJECT_NIL || sms_mp_str(o, &out->ptr, &out->len);
}

static bool get_map(const msgpack_object *map, const char *key, const msgpack_object **out) {
    const msgpack_object *o = sms_mp_map_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP) return false;
    *out = o;
    return true;
}

int sms_event_decode(const void *buf, size_t len, sms_event_t *out) {
    memset(out, 0, sizeof *out);
    if (unpack_one(buf, len, &out->unpacked) != SMS_OK) return SMS_EPARSE;
    const msgpack_object *m = &out->unpacked.data;
    if (!get_str(m, "id", &out->id) || !get_str(m, "type", &out->type) ||
        !sms_mp_i64(sms_mp_map_get(m, "v"), &out->v) || !sms_mp_i64(sms_mp_map_get(m, "time"), &out->time) ||
        !get_str(m, "actor", &out->actor) || !get_str(m, "key", &out->key) ||
        !get_str(m, "cause", &out->cause) || !get_map(m, "data", &out->data)) {
        msgpack_unpacked_destroy(&out->unpacked);
        memset(out, 0, sizeof *out);
        return SMS_EFIELD;
    }
    return SMS_OK;
}

void sms_event_close(sms_event_t *ev) {
    if (ev->data) msgpack_unpacked_destroy(&ev->unpacked);
    memset(ev, 0, sizeof *ev);
}

void sms_command_pack_head(msgpack_packer *pk, const sms_command_head_t *h) {
    msgpack_pack_map(pk, 9 + (h->has_if_match ? 1 : 0) + (h->traceparent.len ? 1 : 0) + (h->deadline ? 1 : 0));
    sms_mp_pack_str(pk, "id");       pack_s(pk, h->id);
    sms_mp_pack_str(pk, "type");     pack_s(pk, h->type);
    sms_mp_pack_str(pk, "v");        msgpack_pack_int64(pk, h->v);
    sms_mp_pack_str(pk, "time");     msgpack_pack_int64(pk, h->time);
    sms_mp_pack_str(pk, "actor");    pack_s(pk, h->actor);
    sms_mp_pack_str(pk, "role");     pack_s(pk, h->role);
    sms_mp_pack_str(pk, "key");      pack_s(pk, h->key);
    sms_mp_pack_str(pk, "reply_to"); pack_s(pk, h->reply_to);
    sms_mp_pack_str(pk, "data");
}

void sms_command_pack_tail(msgpack_packer *pk, const sms_command_head_t *h) {
    if (h->has_if_match) {
        sms_mp_pack_str(pk, "if_match");
        msgpack_pack_int64(pk, h->if_match);
    }
    if (h->traceparent.len) {
        sms_mp_pack_str(pk, "traceparent");
        pack_s(pk, h->traceparent);
    }
    if (h->deadline) {
        sms_mp_pack_str(pk, "deadline");
        msgpack_pack_int64(pk, h->deadline);
    }
}

/* An optional epoch-ms time (TimeMs in asyncapi.yaml): absent or nil is 0. */
static bool get_opt_time(const msgpack_object *map, const char *key, int64_t *out) {
    const msgpack_object *o = sms_mp_map_get(map, key);
    *out = 0;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) return true;
    return sms_mp_i64(o, out) && *out >= 0 && *out <= SMS_EVENT_TIME_MAX;
}

bool sms_command_expired(int64_t deadline, int64_t now_ms, int64_t margin_ms) {
    if (deadline <= 0 || margin_ms < 0) return false;
    /* deadline and margin are bounded (TimeMs, an int setting): no overflow */
    return now_ms > deadline + margin_ms;
}

int sms_command_decode(const void *buf, size_t len, sms_command_t *out) {
    memset(out, 0, sizeof *out);
    if (unpack_one(buf, len, &out->unpacked) != SMS_OK) return SMS_EPARSE;
    const msgpack_object *m = &out->unpacked.data;
    const msgpack_object *im = sms_mp_map_get(m, "if_match");
    out->has_if_match = im != NULL && im->type != MSGPACK_OBJECT_NIL;
    if (!get_str(m, "id", &out->id) || !get_str(m, "type", &out->type) ||
        !sms_mp_i64(sms_mp_map_get(m, "v"), &out->v) || !sms_mp_i64(sms_mp_map_get(m, "time"), &out->time) ||
        !get_str(m, "actor", &out->actor) || !get_str(m, "role", &out->role) ||
        !get_str(m, "key", &out->key) || !get_str(m, "reply_to", &out->reply_to) ||
        !get_map(m, "data", &out->data) || !get_opt_str(m, "traceparent", &out->traceparent) ||
        (out->has_if_match && !sms_mp_i64(im, &out->if_match)) || !get_opt_time(m, "deadline", &out->deadline)) {
        msgpack_unpacked_destroy(&out->unpacked);
        memset(out, 0, sizeof *out);
        return SMS_EFIELD;
    }
    return SMS_OK;
}

/* ---- sms_command_peek: a reader of msgpack scalars, nothing nested ---- */

typedef struct peek_s {
    const unsigned char *p, *end;
} peek_t;

/* Reads a big-endian unsigned of n bytes; false past the end. */
static bool peek_uint(peek_t *r, size_t n, uint64_t *out) {
    if ((size_t)(r->end - r->p) < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | r->p[i];
    r->p += n;
    *out = v;
    return true;
}

/* Reads a str (fixstr, str8/16/32) into *s, or skips one other scalar (*s
 * then has ptr NULL). False for a container, an ext, or a truncated value. */
static bool peek_scalar(peek_t *r, sms_str_t *s) {
    s->ptr = NULL;
    s->len = 0;
    if (r->p == r->end) return false;
    unsigned char b = *r->p++;
    uint64_t n;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return true; /* fixint, nil, bool */
    if (b >= 0xa0 && b <= 0xbf) n = b & 0x1f;
    else if (b >= 0xd9 && b <= 0xdb) { if (!peek_uint(r, (size_t)1 << (b - 0xd9), &n)) return false; }
    else if (b >= 0xcc && b <= 0xcf) return peek_uint(r, (size_t)1 << (b - 0xcc), &n);
    else if (b >= 0xd0 && b <= 0xd3) return peek_uint(r, (size_t)1 << (b - 0xd0), &n);
    else if (b == 0xca || b == 0xcb) return peek_uint(r, b == 0xca ? 4 : 8, &n);
    else return false;
    if ((uint64_t)(r->end - r->p) < n) return false;
    s->ptr = (const char *)r->p;
    s->len = (size_t)n;
    r->p += n;
    return true;
}

int sms_command_peek(const void *buf, size_t len, sms_str_t *id, sms_str_t *reply_to) {
    peek_t r = {buf, (const unsigned char *)buf + len};
    uint64_t entries;
    *id = *reply_to = (sms_str_t){NULL, 0};
    if (r.p == r.end) return SMS_EPARSE;
    unsigned char b = *r.p++;
    if (b >= 0x80 && b <= 0x8f) entries = b & 0x0f;
    else if (b == 0xde || b == 0xdf) { if (!peek_uint(&r, b == 0xde ? 2 : 4, &entries)) return SMS_EPARSE; }
    else return SMS_EPARSE;
    for (uint64_t i = 0; i < entries && !(id->ptr && reply_to->ptr); i++) {
        sms_str_t k, v;
        if (!peek_scalar(&r, &k) || k.ptr == NULL || !peek_scalar(&r, &v)) break; /* data, or garbage */
        if (k.len == 2 && memcmp(k.ptr, "id", 2) == 0 && v.ptr) *id = v;
        else if (k.len == 8 && memcmp(k.ptr, "reply_to", 8) == 0 && v.ptr) *reply_to = v;
    }
    return id->ptr && reply_to->ptr ? SMS_OK : SMS_EPARSE;
}

void sms_command_close(sms_command_t *cmd) {
    if (cmd->data) msgpack_unpacked_destroy(&cmd->unpacked);
    memset(cmd, 0, sizeof *cmd);
}

void sms_reply_pack_head(msgpack_packer *pk, sms_str_t id, int status, sms_str_t location) {
    msgpack_pack_map(pk, 3 + (location.len ? 1 : 0));
    sms_mp_pack_str(pk, "id");     pack_s(pk, id);
    sms_mp_pack_str(pk, "status"); msgpack_pack_int(pk, status);
    sms_mp_pack_str(pk, "body");
}

void sms_reply_pack_tail(msgpack_packer *pk, sms_str_t location) {
    if (location.len == 0) return;
    sms_mp_pack_str(pk, "location");
    pack_s(pk, location);
}

int sms_reply_decode(const void *buf, size_t len, sms_reply_t *out) {
    memset(out, 0, sizeof *out);
    if (unpack_one(buf, len, &out->unpacked) != SMS_OK) return SMS_EPARSE;
    const msgpack_object *m = &out->unpacked.data;
    out->body = sms_mp_map_get(m, "body");
    if (!get_str(m, "id", &out->id) || !sms_mp_i64(sms_mp_map_get(m, "status"), &out->status) ||
        out->body == NULL || !get_opt_str(m, "location", &out->location)) {
        msgpack_unpacked_destroy(&out->unpacked);
        memset(out, 0, sizeof *out);
        return SMS_EFIELD;
    }
    return SMS_OK;
}

void sms_reply_close(sms_reply_t *r) {
    if (r->body) msgpack_unpacked_destroy(&r->unpacked);
    memset(r, 0, sizeof *r);
}
