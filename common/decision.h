/* decision.h - what a service decides for one command (or a fan-out event,
 * or a tick): the reply (status, body or problem) and the events to write.
 * Deciders fill one with the helpers below; the worker (worker.h) owns it,
 * initialises it before deciding and frees it after replying. A service's
 * deciders include this header, not worker.h. */
#ifndef SMS_DECISION_H
#define SMS_DECISION_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "problem.h"

#define SMS_DECISION_MAX_ERRORS 64 /* a 1000-row request may have many bad rows; the detail says how many more */

/* One event a decision writes: data packed by the service into `event`
 * (the whole envelope: use sms_event_pack_head then the data map). */
typedef struct sms_decision_event_s {
    char key[128];          /* Kafka key: the aggregate id */
    /* The topic to write it to; "" (the default): the service's events topic.
     * Set by sms_decision_event_to; the topic must be one the view also
     * tails (learn_topics), so a rebuild sees the event too. */
    char topic[128];
    msgpack_sbuffer event;  /* initialised by the worker */
} sms_decision_event_t;

/* What the service decided for one command. The worker initialises it
 * (status 500, empty buffers) and frees it. */
typedef struct sms_decision_s {
    int status;                     /* HTTP status of the reply */
    /* status < 400: the reply body, a packed msgpack map (empty: {}) */
    msgpack_sbuffer body;
    char location[256];             /* Location of a 201, or "" */
    /* status >= 400: the problem */
    const char *problem_code;
    char detail[256];
    /* grown by sms_decision_error (at most SMS_DECISION_MAX_ERRORS); field and
     * message strings are owned by the decision. Growable so that a decision
     * costs a few hundred bytes, not the worst case, in every batch slot. */
    sms_problem_error_t *errors;
    size_t n_errors, cap_errors;
    /* How many errors are listed: 1..SMS_DECISION_MAX_ERRORS, 0 (as
     * initialised): SMS_DECISION_MAX_ERRORS. Errors past it are only counted
     * in n_errors_total (a decider may say "and 12 more" in the detail). */
    size_t errors_limit;
    size_t n_errors_total;
    /* The failure may only mean that a fact learned from another service's
     * events has not reached this view yet (set by sms_decision_stale). */
    bool stale;
    /* events to write, in order (grown by sms_decision_event; a command may
     * write many, e.g. one per changed grade) */
    sms_decision_event_t *events;
    size_t n_events, cap_events;
} sms_decision_t;

/* The worker's (and command_table.c's): a decision starts at status 500 with empty buffers
 * (sms_decision_init) and is freed by sms_decision_close;
 * sms_decision_move hands src's outcome to dst (dst's old one is freed, src
 * is left zeroed: init it before reusing it). */
void sms_decision_init(sms_decision_t *d);
void sms_decision_close(sms_decision_t *d);
void sms_decision_move(sms_decision_t *dst, sms_decision_t *src);

/* Helpers for deciders. */
void sms_decision_fail(sms_decision_t *d, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like sms_decision_fail, for a failure caused by a missing learned fact
 * (a class, an enrollment, an assignment another service announced). The
 * worker then catches the view up with every events topic it learns from
 * (to their current ends, which include everything acknowledged before this
 * command was sent) and decides the command once more; only that second
 * answer is sent. This keeps read-your-writes across services: a 201 from
 * one service is visible to the next command to another. */
void sms_decision_stale(sms_decision_t *d, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The answer to a replayed command that was done (its record says so) but
 * whose result cannot be read from the view right now: 504, never 503,
 * because a 503 tells the client that nothing was done. A retry with the
 * same Idempotency-Key gets the result once it can be read. */
void sms_decision_done_unreadable(sms_decision_t *d);
void sms_decision_error(sms_decision_t *d, const char *field, size_t field_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds an event slot keyed by key; returns a packer writing into it. */
msgpack_packer sms_decision_event(sms_decision_t *d, const char *key);
/* The same for an event written to topic instead of the service's events
 * topic (NULL or "": the service's). The worker projects it right after
 * delivery like any event (partition -1); the tailer then only records its
 * offset, but after a restart (or a failed apply) it projects it again, so
 * its projection must be idempotent by itself. */
msgpack_packer sms_decision_event_to(sms_decision_t *d, const char *topic, const char *key);
/* The usual event of a command's decision, head packed: adds an event slot
 * on topic (NULL: the service's events topic) keyed by aggregate (the
 * aggregate id, also the envelope's key; cut to 127 bytes), and packs the
 * envelope head: a new event id, type, version, now_ms, cmd's actor and cmd's
 * id as the cause. Returns the packer for the data map that follows. */
msgpack_packer sms_decision_event_head(sms_decision_t *d, const char *topic, const sms_command_t *cmd, int64_t now_ms,
                                       const char *type, int64_t version, sms_str_t aggregate);
/* A packer writing the reply body. */
msgpack_packer sms_decision_body(sms_decision_t *d);

#endif
