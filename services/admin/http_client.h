/* http_client.h - concurrent JSON requests to the gateway for `sms-admin seed`.
 *
 * A batch of requests is run over libcurl's multi interface with at most
 * `concurrency` in flight on keep-alive connections. Requests answered 503/504
 * or lost on the wire are retried a few times (every write carries an
 * Idempotency-Key, so a retry cannot apply a change twice). Blocking: the
 * caller's thread runs the transfers until the whole batch is done. */
#ifndef ADMIN_HTTP_CLIENT_H
#define ADMIN_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct admin_http_req_s {
    /* Set by admin_http_batch_add; owned by the batch. */
    const char *method;   /* static string: "GET", "POST", ... */
    char *path;           /* "/lecturer/classes" */
    const char *token;    /* borrowed bearer token; must outlive the batch run */
    char *idem_key;       /* Idempotency-Key, or NULL */
    char *body;           /* JSON body, or NULL */
    void *tag;            /* caller's context for reading the result */
    size_t tag_n;         /* caller's second context value */
    /* Results, valid after admin_http_run. */
    long status;          /* HTTP status, 0 if no answer */
    sms_buf_t resp;       /* response body */
    char err[256];        /* transport error, "" if none */
    int attempts;
    /* Private to http_client.c. */
    void *easy;
    void *headers;
    uint64_t not_before_ms;
} admin_http_req_t;

typedef struct admin_http_batch_s {
    admin_http_req_t **reqs;
    size_t n, cap;
} admin_http_batch_t;

/* Called about every 100 ms while a batch runs, and once at its end. */
typedef void (*admin_http_tick_fn)(void *ctx, size_t done, size_t failed);
/* Called once for each request that finally failed (non-2xx or no answer). */
typedef void (*admin_http_fail_fn)(void *ctx, const admin_http_req_t *req);

typedef struct admin_http_s admin_http_t;

/* One client per process: base_url like "http://127.0.0.1:8080" (copied).
 * Returns NULL if libcurl cannot be initialised. Free with admin_http_free. */
admin_http_t *admin_http_new(const char *base_url, int concurrency, admin_http_tick_fn tick,
                             admin_http_fail_fn fail, void *ctx);
void admin_http_free(admin_http_t *c);

void admin_http_batch_init(admin_http_batch_t *b);
/* Frees every request of the batch and its results. */
void admin_http_batch_close(admin_http_batch_t *b);

/* Appends a request. body is taken over (sms_malloc'd JSON or NULL); idem_key
 * and path are copied; token is borrowed. Returns the request (owned by b). */
admin_http_req_t *admin_http_batch_add(admin_http_batch_t *b, const char *method, const char *token,
                                       const char *idem_key, char *body, const char *path_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Runs every request of the batch. Returns how many finally failed (non-2xx
 * or no answer), each already reported through the fail callback. */
size_t admin_http_run(admin_http_t *c, admin_http_batch_t *b);

/* 1 if the request got a 2xx answer. */
int admin_http_ok(const admin_http_req_t *r);

#endif
