/* classes_unit.h - how the classes unit tests run one command through the
 * service's table (services/classes/commands.c) as the worker does: its
 * row's validate, then decide on an in-memory state (no prefetch: the tests
 * fill the state themselves), the first event decoded for the checks.
 * Header-only (static inline functions) so that each test includes it alone. */
#ifndef CLASSES_UNIT_H
#define CLASSES_UNIT_H

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "commands.h"
#include "msgpack_util.h"
#include "unit_helpers.h"

typedef struct cu_run_s {
    unit_cmd_t f;
    sms_decision_t d;
    bool has_event;   /* the decision wrote an event, decoded into event */
    sms_event_t event;
} cu_run_t;

static char cu_id[SMS_ID_SIZE + 8];

/* The id the next created thing gets (decide's id source). */
static inline char *cu_id_source(char out[SMS_ID_SIZE]) {
    memcpy(out, cu_id, SMS_ID_SIZE - 1);
    out[SMS_ID_SIZE - 1] = '\0';
    return out;
}

static inline void cu_next_id(const char *id) {
    snprintf(cu_id, sizeof cu_id, "%s", id);
    classes_decide_set_id_source(cu_id_source);
}

/* Runs the command (type, key, actor, role, body, If-Match when > 0) at now. */
static inline void cu_decide(classes_state_t *st, const char *type, const char *key, const char *actor, const char *role,
                      const char *body, int64_t if_match, int64_t now, cu_run_t *r) {
    memset(r, 0, sizeof *r);
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR(actor), .role = SMS_STR(role),
                            .key = SMS_STR(key), .has_if_match = if_match > 0, .if_match = if_match};
    unit_cmd_make(&r->f, &h, body);
    sms_decision_init(&r->d);
    const sms_command_row_t *row = sms_command_find(&classes_commands, r->f.cmd.type);
    assert_non_null(row);
    void *args = row->args_size ? sms_calloc(1, row->args_size) : NULL;
    if (row->validate(&r->f.cmd, args, &r->d) == 0) row->decide(st, &r->f.cmd, args, now, &r->d);
    if (row->args_clear) row->args_clear(args);
    sms_free(args);
    if (r->d.n_events) {
        const msgpack_sbuffer *sb = &r->d.events[0].event;
        assert_int_equal(sms_event_decode(sb->data, sb->size, &r->event), SMS_OK);
        r->has_event = true;
    }
}

/* Only the row's validate: 0 if valid (r->d holds the failure otherwise). */
static inline int cu_validate(const char *type, const char *role, const char *body, cu_run_t *r) {
    memset(r, 0, sizeof *r);
    sms_command_head_t h = {.type = SMS_STR(type), .actor = SMS_STR("u1"), .role = SMS_STR(role),
                            .key = SMS_STR("c1")};
    unit_cmd_make(&r->f, &h, body);
    sms_decision_init(&r->d);
    const sms_command_row_t *row = sms_command_find(&classes_commands, r->f.cmd.type);
    assert_non_null(row);
    void *args = row->args_size ? sms_calloc(1, row->args_size) : NULL;
    int rc = row->validate(&r->f.cmd, args, &r->d);
    if (row->args_clear) row->args_clear(args);
    sms_free(args);
    return rc;
}

static inline void cu_done(cu_run_t *r) {
    if (r->has_event) sms_event_close(&r->event);
    sms_decision_close(&r->d);
    unit_cmd_free(&r->f);
}

static inline bool cu_has_error(const cu_run_t *r, const char *field) { return unit_has_error(&r->d, field); }

static inline bool cu_event_is(const cu_run_t *r, const char *type) {
    return r->has_event && r->event.type.len == strlen(type) && memcmp(r->event.type.ptr, type, r->event.type.len) == 0;
}

/* An integer of the first event's data (-1 when absent). */
static inline int64_t cu_event_i64(const cu_run_t *r, const char *field) {
    int64_t v = -1;
    if (r->has_event && !sms_mp_i64(sms_mp_map_get(r->event.data, field), &v)) v = -1;
    return v;
}

/* An integer of the reply body (-1 when absent). */
static inline int64_t cu_body_i64(const cu_run_t *r, const char *field) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int64_t v = -1;
    if (r->d.body.size && msgpack_unpack_next(&u, r->d.body.data, r->d.body.size, NULL) == MSGPACK_UNPACK_SUCCESS &&
        !sms_mp_i64(sms_mp_map_get(&u.data, field), &v))
        v = -1;
    msgpack_unpacked_destroy(&u);
    return v;
}

/* A boolean of the reply body: 1, 0, or -1 when absent. */
static inline int cu_body_bool(const cu_run_t *r, const char *field) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int v = -1;
    if (r->d.body.size && msgpack_unpack_next(&u, r->d.body.data, r->d.body.size, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *o = sms_mp_map_get(&u.data, field);
        if (o && o->type == MSGPACK_OBJECT_BOOLEAN) v = o->via.boolean;
    }
    msgpack_unpacked_destroy(&u);
    return v;
}

/* Whether the reply body's field is the string s. */
static inline bool cu_body_str_is(const cu_run_t *r, const char *field, const char *s) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool is = r->d.body.size &&
              msgpack_unpack_next(&u, r->d.body.data, r->d.body.size, NULL) == MSGPACK_UNPACK_SUCCESS &&
              sms_mp_str_eq(sms_mp_map_get(&u.data, field), s);
    msgpack_unpacked_destroy(&u);
    return is;
}

#endif
