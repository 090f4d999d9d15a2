/* verdict.c - a decider's failure and field errors (see verdict.h); used by
 * every service's handlers.c, handed to the worker by its ops.c. */
#include "verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "worker.h"

_Static_assert(SMS_VERDICT_MAX_ERRORS <= SMS_DECISION_MAX_ERRORS, "the worker must carry every listed error");

void sms_verdict_fail(sms_verdict_t *v, int status, const char *code, const char *fmt, ...) {
    v->status = status;
    v->problem_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}

void sms_verdict_error(sms_verdict_t *v, const char *field, size_t field_len, const char *fmt, ...) {
    size_t limit = v->limit == 0 || v->limit > SMS_VERDICT_MAX_ERRORS ? SMS_VERDICT_MAX_ERRORS : v->limit;
    v->n_errors_total++;
    if (v->n_errors >= limit) return;
    size_t i = v->n_errors++;
    size_t flen = field_len > SMS_VERDICT_FIELD_MAX ? SMS_VERDICT_FIELD_MAX : field_len;
    snprintf(v->fields[i], sizeof v->fields[i], "%.*s", (int)flen, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->messages[i], sizeof v->messages[i], fmt, ap);
    va_end(ap);
    v->errors[i].field = v->fields[i];
    v->errors[i].message = v->messages[i];
}

void sms_verdict_to_decision(const sms_verdict_t *v, sms_decision_t *d) {
    if (v->stale) sms_decision_stale(d, v->status, v->problem_code, "%s", v->detail);
    else sms_decision_fail(d, v->status, v->problem_code, "%s", v->detail);
    for (size_t i = 0; i < v->n_errors; i++)
        sms_decision_error(d, v->errors[i].field, strlen(v->errors[i].field), "%s", v->errors[i].message);
}
