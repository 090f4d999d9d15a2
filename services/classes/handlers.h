/* handlers.h - the class aggregate's decisions: one function per command
 * type validates the body, checks it against the current state and says
 * what happens: a reply status, and (when something changes) the event.
 * Pure with respect to the outside world: reads only the batch state. */
#ifndef CLASSES_HANDLERS_H
#define CLASSES_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "problem.h"
#include "schema.h"
#include "state.h"

#define CLASSES_MAX_ERRORS 16

typedef struct classes_outcome_s {
    int status;                  /* HTTP status of the reply */
    const char *event_type;      /* "class.created"...; NULL when nothing changes */
    classes_class_t after;       /* the class to return (and to put in the event) */
    bool has_class;              /* after is filled */
    const char *changed[8];      /* class.updated: the fields that changed */
    size_t n_changed;
    /* errors (status >= 400) */
    const char *problem_code;
    char detail[256];
    sms_problem_error_t errors[CLASSES_MAX_ERRORS];
    char messages[CLASSES_MAX_ERRORS][160];
    char fields[CLASSES_MAX_ERRORS][72];
    size_t n_errors;
} classes_outcome_t;

/* Decides cmd at now_ms with new_id as the id a created class gets. Fills out
 * (release with classes_outcome_clear). */
void classes_decide(classes_state_t *st, const sms_command_t *cmd, int64_t now_ms, const char *new_id,
                    classes_outcome_t *out);
void classes_outcome_clear(classes_outcome_t *out);

/* Validates a create (require_all) or update body. Adds errors to out and
 * returns the number of errors. Exposed for unit tests. */
size_t classes_validate_body(const msgpack_object *data, bool is_create, classes_outcome_t *out);

#endif
