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

/* A problem document with every optional member (NULL / 0: absent). */
typedef struct sms_problem_s {
    int status;
    const char *code;
    const char *detail;
    const sms_problem_error_t *errors;
    size_t n_errors;
    const char *request_id;
    /* The write's Idempotency-Key, on answers to commands: sending the same
     * request again with it is safe whatever happened to the first. */
    const char *idempotency_key;
} sms_problem_t;

/* Appends p as JSON to out: type, title, status, detail, errors,
 * idempotency_key, request_id. sms_problem_json is this without the key. */
void sms_problem_render(sms_buf_t *out, const sms_problem_t *p);

/* Packs the same document as a msgpack map (for service replies). */
void sms_problem_pack(msgpack_packer *pk, int status, const char *code, const char *detail,
                      const sms_problem_error_t *errors, size_t n_errors);

#endif
