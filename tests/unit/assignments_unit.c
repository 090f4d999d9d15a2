/* assignments_unit.c - the assignments unit tests' command runner (see
 * assignments_unit.h). */
#include "assignments_unit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "commands.h"
#include "msgpack_util.h"

/* Decodes what d holds: its body and first event. */
static void decode_outcome(assignments_unit_out_t *out) {
    sms_decision_t *d = &out->d;
    out->event_type = (sms_str_t){"", 0};
    msgpack_unpacked_init(&out->body);
    if (d->status < 400 && d->body.size > 0)
        out->has_body = msgpack_unpack_next(&out->body, d->body.data, d->body.size, NULL) == MSGPACK_UNPACK_SUCCESS;
    if (d->n_events > 0) {
        assert_int_equal(sms_event_decode(d->events[0].event.data, d->events[0].event.size, &out->ev), SMS_OK);
        out->has_event = true;
        out->event_type = out->ev.type;
    }
}

/* The row of cmd's type and its zeroed args (freed by the caller). */
static const sms_command_row_t *row_of(const sms_command_t *cmd, void **args) {
    const sms_command_row_t *row = sms_command_find(&assignments_commands, cmd->type);
    assert_non_null(row);
    *args = row->args_size ? sms_calloc(1, row->args_size) : NULL;
    return row;
}

int assignments_unit_validate(const sms_command_t *cmd, assignments_unit_out_t *out) {
    memset(out, 0, sizeof *out);
    sms_decision_init(&out->d);
    void *args;
    const sms_command_row_t *row = row_of(cmd, &args);
    int rc = row->validate(cmd, args, &out->d);
    if (row->args_clear && args) row->args_clear(args);
    sms_free(args);
    decode_outcome(out);
    return rc;
}

int assignments_unit_run(assignments_state_t *st, const sms_command_t *cmd, int64_t now_ms,
                         assignments_unit_out_t *out) {
    memset(out, 0, sizeof *out);
    sms_decision_init(&out->d);
    void *args;
    const sms_command_row_t *row = row_of(cmd, &args);
    if (row->validate(cmd, args, &out->d) == 0) {
        if (row->prefetch) row->prefetch(st, cmd, args);
        assert_int_equal(assignments_commands.state_fetch(st), 0); /* rc NULL: reads nothing */
        row->decide(st, cmd, args, now_ms, &out->d);
    }
    if (row->args_clear && args) row->args_clear(args);
    sms_free(args);
    decode_outcome(out);
    return out->d.status;
}

void assignments_unit_out_close(assignments_unit_out_t *out) {
    if (out->has_event) sms_event_close(&out->ev);
    msgpack_unpacked_destroy(&out->body);
    sms_decision_close(&out->d);
    memset(out, 0, sizeof *out);
}

bool assignments_unit_event_is(const assignments_unit_out_t *out, const char *t) {
    return out->has_event && out->event_type.len == strlen(t) && memcmp(out->event_type.ptr, t, out->event_type.len) == 0;
}

const msgpack_object *assignments_unit_body(const assignments_unit_out_t *out, const char *key) {
    return out->has_body ? sms_mp_map_get(&out->body.data, key) : NULL;
}
