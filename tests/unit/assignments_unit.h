/* assignments_unit.h - what the assignments unit tests share: a command run
 * through its row of services/assignments' command table on an in-memory
 * state (validate, prefetch, decide, as the worker's batch does), and the
 * outcome's reply body and first event decoded. Failures are cmocka
 * assertions. */
#ifndef ASSIGNMENTS_UNIT_H
#define ASSIGNMENTS_UNIT_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"
#include "worker.h"

typedef struct assignments_unit_out_s {
    sms_decision_t d;
    bool has_body;           /* d's reply body, unpacked */
    msgpack_unpacked body;
    bool has_event;          /* d's first event, decoded */
    sms_event_t ev;
    sms_str_t event_type;    /* ev's type, or "" */
} assignments_unit_out_t;

/* Runs cmd at now_ms on st (the state keeps its overlay). Returns the
 * reply status; release out with assignments_unit_out_close. */
int assignments_unit_run(assignments_state_t *st, const sms_command_t *cmd, int64_t now_ms,
                         assignments_unit_out_t *out);
/* Only the row's validate: 0 or -1, the failure in out->d. */
int assignments_unit_validate(const sms_command_t *cmd, assignments_unit_out_t *out);
void assignments_unit_out_close(assignments_unit_out_t *out);

/* Whether the outcome wrote an event of type t. */
bool assignments_unit_event_is(const assignments_unit_out_t *out, const char *t);
/* A reply body field (NULL if absent). */
const msgpack_object *assignments_unit_body(const assignments_unit_out_t *out, const char *key);

#endif
