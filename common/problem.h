/* problem.h - RFC 9457 problem documents (application/problem+json).
 *
 * Every error the system answers has: type (a URI ending in a machine-readable
 * code), title (the HTTP reason), status, detail (human sentence) and, for
 * validation, errors: [{field, message}]. The gateway renders them as JSON;
 * services put them as msgpack maps in replies (same keys). */
#ifndef SMS_PROBLEM_H
#define SMS_PROBLEM_H

#include <msgpack.h>
#include <stddef.h>

#include "buf.h"

#define SMS_PROBLEM_TYPE_BASE "https://sms.example/problems/"

typedef struct sms_problem_error_s {
    const char *field;
    const char *message;
} sms_problem_error_t;

/* Standard reason phrase for an HTTP status ("Not Found"); "Unknown" if not known. */
const char *sms_http_reason(int status);

/* Appends the problem as JSON to out. code is the slug ("validation",
 * "not_found", ...); detail may be NULL; errors may be NULL when n_errors is 0;
 * request_id may be NULL. */
void sms_problem_json(sms_buf_t *out, int status, const char *code, const char *detail,
                      const sms_problem_error_t *errors, size_t n_errors, const char *request_id);

/* Packs the same document as a msgpack map (for service replies). */
void sms_problem_pack(msgpack_packer *pk, int status, const char *code, const char *detail,
                      const sms_problem_error_t *errors, size_t n_errors);

#endif
