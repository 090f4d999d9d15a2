/* seed.h - `sms-admin seed demo|scale`: load data through the gateway's public
 * HTTP API. seed.c parses the common options and runs batches of requests;
 * seed_demo.c and seed_scale.c decide what to send. Every write carries an
 * Idempotency-Key derived from the data set, so a rerun creates nothing twice. */
#ifndef ADMIN_SEED_H
#define ADMIN_SEED_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "http_client.h"
#include "progress.h"

/* Tokens the seed mints live this long, so that the printed ones can be tried. */
#define SEED_TOKEN_TTL_S (24 * 3600)

typedef struct seed_s {
    const sms_config_t *cfg;
    admin_http_t *http;
    admin_progress_t progress;
    size_t failed;   /* requests that failed, plus ones skipped because what they need failed */
    size_t requests; /* requests sent (each counted once, retries not counted) */
} seed_t;

/* Entry point from main.c: argv[0] is "demo" or "scale". Returns the exit code. */
int admin_seed_main(const sms_config_t *cfg, int argc, char **argv);

/* Runs a batch, showing progress under the name phase. Returns its failures
 * (already printed, and added to s->failed). */
size_t seed_run(seed_t *s, admin_http_batch_t *b, const char *phase);
/* Counts n requests that were not sent because a request they depend on failed. */
void seed_skip(seed_t *s, size_t n, const char *what);
/* Copies the response's "id" into out (""). Returns 0, or -1 if there is none. */
int seed_resp_id(const admin_http_req_t *r, char *out, size_t outlen);
/* The created_at (RFC 3339) of r's 2xx JSON body in ms, or now when it has
 * none. Seeds date what they create from it, not from the clock: a re-run on
 * another day then sends the very same requests, which the gateway binds to
 * their Idempotency-Keys (a different body under a key is 422). */
int64_t seed_resp_created_at(const admin_http_req_t *r);
/* Mints a token for sub/role; exits the process if that is impossible (no secret
 * was already checked by admin_seed_main, so only signing can fail). Free with sms_free. */
char *seed_token(const seed_t *s, const char *sub, const char *role);

/* Demo and scale data sets (seed_demo.c, seed_scale.c); return the exit code. */
int seed_demo(seed_t *s, const char *base_url);
int seed_scale(seed_t *s, int argc, char **argv);

#endif
