/* verdict.h - the failure part of a service decider's outcome: reply status,
 * problem code, detail and the listed field errors, plus whether the failure
 * may only mean a learned fact has not arrived yet (stale).
 *
 * Each service's handlers.c embeds one in its outcome struct and fills it
 * with sms_verdict_fail / sms_verdict_error; its ops.c hands a failed one to
 * the worker with sms_verdict_to_decision. All storage is inline (no heap):
 * a verdict is caller-owned, zero it (memset or = {0}) to initialise it. */
#ifndef SMS_VERDICT_H
#define SMS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "problem.h"

struct sms_decision_s; /* worker.h: handlers need not see the worker */

/* Room for the most errors any service lists (grading lists 64 bad rows).
 * A service listing fewer sets `limit`. */
#define SMS_VERDICT_MAX_ERRORS 64
#define SMS_VERDICT_FIELD_MAX 64 /* longer field names are cut (they echo client keys) */

typedef struct sms_verdict_s {
    int status;               /* HTTP status of the reply (set on success too) */
    /* status >= 400: the problem */
    const char *problem_code; /* a static string */
    char detail[256];
    bool stale;               /* maybe only a fact this view has not learned yet (sms_decision_stale) */
    /* How many errors are listed: 1..SMS_VERDICT_MAX_ERRORS; 0 (a zeroed
     * verdict): SMS_VERDICT_MAX_ERRORS. Errors past it are only counted. */
    size_t limit;
    sms_problem_error_t errors[SMS_VERDICT_MAX_ERRORS]; /* point into fields/messages */
    char fields[SMS_VERDICT_MAX_ERRORS][SMS_VERDICT_FIELD_MAX + 8];
    char messages[SMS_VERDICT_MAX_ERRORS][160];
    size_t n_errors;          /* listed */
    size_t n_errors_total;    /* found (n_errors_total - n_errors are not listed) */
} sms_verdict_t;

/* Sets status, code (a static string) and the formatted detail. */
void sms_verdict_fail(sms_verdict_t *v, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Counts one error on field (field_len bytes, cut to SMS_VERDICT_FIELD_MAX)
 * and lists it unless the limit is reached. */
void sms_verdict_error(sms_verdict_t *v, const char *field, size_t field_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether v is a failure (status >= 400). */
static inline bool sms_verdict_failed(const sms_verdict_t *v) { return v->status >= 400; }

/* Copies a failed v (status, code, detail, stale, listed errors) into the
 * worker's decision d; d copies the strings, v keeps its own. */
void sms_verdict_to_decision(const sms_verdict_t *v, struct sms_decision_s *d);

#endif
