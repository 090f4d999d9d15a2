/* fuzz_envelope.c - libFuzzer target for common/envelope.c: the same bytes go
 * through the event, command and reply decoders and the command peek (what a
 * service does with whatever it consumes from Kafka). A decoded envelope's
 * strings must lie inside its zone and data must be a map. Built by
 * tests/fuzz.d/CMakeLists.txt (-DSMS_FUZZ=ON). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "json_msgpack.h"

static void touch(sms_str_t s) {
    /* Reading every byte lets ASan catch a string that points outside its zone. */
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < s.len; i++) sum += (unsigned char)s.ptr[i];
    (void)sum;
}

static void render(const msgpack_object *o) {
    sms_buf_t out;
    sms_buf_init(&out);
    if (sms_msgpack_to_json(o, &out) != 0) abort();
    sms_buf_close(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sms_event_t ev;
    if (sms_event_decode(data, size, &ev) == SMS_OK) {
        touch(ev.id), touch(ev.type), touch(ev.actor), touch(ev.key), touch(ev.cause);
        if (ev.data == NULL || ev.data->type != MSGPACK_OBJECT_MAP) abort();
        render(ev.data);
        sms_event_close(&ev);
    }
    sms_command_t cmd;
    if (sms_command_decode(data, size, &cmd) == SMS_OK) {
        touch(cmd.id), touch(cmd.type), touch(cmd.actor), touch(cmd.role), touch(cmd.key);
        touch(cmd.reply_to), touch(cmd.traceparent);
        if (cmd.data == NULL || cmd.data->type != MSGPACK_OBJECT_MAP) abort();
        render(cmd.data);
        (void)sms_command_expired(cmd.deadline, cmd.time, 1000); /* pure; only UBSan can object */
        sms_command_close(&cmd);
    }
    sms_str_t id, reply_to;
    if (sms_command_peek(data, size, &id, &reply_to) == SMS_OK) {
        if (id.ptr < (const char *)data || id.ptr + id.len > (const char *)data + size) abort();
        if (reply_to.ptr < (const char *)data || reply_to.ptr + reply_to.len > (const char *)data + size) abort();
    }
    sms_reply_t reply;
    if (sms_reply_decode(data, size, &reply) == SMS_OK) {
        touch(reply.id), touch(reply.location);
        if (reply.body) render(reply.body);
        sms_reply_close(&reply);
    }
    return 0;
}
