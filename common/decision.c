/* decision.c - filling and freeing a decision (see decision.h): the
 * failure, field-error, event and body helpers deciders call, and the
 * init/close/move the worker and command_table.c use. */
#include "decision.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "text.h"

/* The detail and messages are cut to fixed buffers; a cut inside a UTF-8
 * sequence (an id of multi-byte characters echoed in "no class %s") made
 * the problem body invalid JSON text (found by test_contract_properties). */
static void utf8_terminate(char *s) { s[sms_text_utf8_cut(s, strlen(s))] = '\0'; }

void sms_decision_fail(sms_decision_t *d, int status, const char *code, const char *fmt, ...) {
    d->status = status;
    d->problem_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
    utf8_terminate(d->detail);
}

void sms_decision_done_unreadable(sms_decision_t *d) {
    sms_decision_fail(d, 504, "timeout",
                      "the command was done, but its result is not readable yet; retry with the same Idempotency-Key");
}

void sms_decision_stale(sms_decision_t *d, int status, const char *code, const char *fmt, ...) {
    d->status = status;
    d->problem_code = code;
    d->stale = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
    utf8_terminate(d->detail);
}

void sms_decision_error(sms_decision_t *d, const char *field, size_t field_len, const char *fmt, ...) {
    size_t limit = d->errors_limit == 0 || d->errors_limit > SMS_DECISION_MAX_ERRORS ? SMS_DECISION_MAX_ERRORS
                                                                                     : d->errors_limit;
    d->n_errors_total++;
    if (d->n_errors >= limit) return;
    if (d->n_errors == d->cap_errors) {
        d->cap_errors = d->cap_errors ? d->cap_errors * 2 : 4;
        d->errors = sms_realloc(d->errors, d->cap_errors * sizeof *d->errors);
    }
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    utf8_terminate(message);
    size_t i = d->n_errors++;
    d->errors[i].field = sms_strndup(field, field_len > 64 ? sms_text_utf8_cut(field, 64) : field_len);
    d->errors[i].message = sms_strdup(message);
}

msgpack_packer sms_decision_event(sms_decision_t *d, const char *key) { return sms_decision_event_to(d, NULL, key); }

msgpack_packer sms_decision_event_to(sms_decision_t *d, const char *topic, const char *key) {
    msgpack_packer pk;
    if (d->n_events == d->cap_events) {
        size_t cap = d->cap_events ? d->cap_events * 2 : 4;
        d->events = sms_realloc(d->events, cap * sizeof *d->events);
        for (size_t i = d->cap_events; i < cap; i++) msgpack_sbuffer_init(&d->events[i].event);
        d->cap_events = cap;
    }
    sms_decision_event_t *e = &d->events[d->n_events++];
    msgpack_sbuffer_clear(&e->event);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->topic, sizeof e->topic, "%s", topic ? topic : "");
    msgpack_packer_init(&pk, &e->event, msgpack_sbuffer_write);
    return pk;
}

msgpack_packer sms_decision_event_head(sms_decision_t *d, const char *topic, const sms_command_t *cmd, int64_t now_ms,
                                       const char *type, int64_t version, sms_str_t aggregate) {
    char key[sizeof d->events[0].key], event_id[SMS_ID_SIZE];
    snprintf(key, sizeof key, "%.*s", (int)aggregate.len, aggregate.ptr);
    msgpack_packer pk = sms_decision_event_to(d, topic, key);
    sms_event_pack_head(&pk, SMS_STR(sms_id_new(event_id)), SMS_STR(type), version, now_ms, cmd->actor, aggregate,
                        cmd->id);
    return pk;
}

msgpack_packer sms_decision_body(sms_decision_t *d) {
    msgpack_packer pk;
    msgpack_sbuffer_clear(&d->body);
    msgpack_packer_init(&pk, &d->body, msgpack_sbuffer_write);
    return pk;
}

void sms_decision_init(sms_decision_t *d) {
    memset(d, 0, sizeof *d);
    d->status = 500;
    msgpack_sbuffer_init(&d->body);
}

void sms_decision_close(sms_decision_t *d) {
    msgpack_sbuffer_destroy(&d->body);
    for (size_t i = 0; i < d->cap_events; i++) msgpack_sbuffer_destroy(&d->events[i].event);
    sms_free(d->events);
    for (size_t i = 0; i < d->n_errors; i++) {
        sms_free((char *)d->errors[i].field);
        sms_free((char *)d->errors[i].message);
    }
    sms_free(d->errors);
}

void sms_decision_move(sms_decision_t *dst, sms_decision_t *src) {
    sms_decision_close(dst);
    *dst = *src;
    memset(src, 0, sizeof *src); /* its buffers are dst's now: src needs sms_decision_init before reuse */
}
