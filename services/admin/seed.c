/* seed.c - `sms-admin seed`: options shared by both data sets (--url,
 * --concurrency), the HTTP client and progress wiring, and small helpers for
 * seed_demo.c and seed_scale.c (tokens, response ids, skipped requests). */
#include "seed.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "token.h"

#define DEFAULT_CONCURRENCY 64
#define MAX_CONCURRENCY 1024

static void seed_usage(FILE *f) {
    fprintf(f,
            "usage: sms-admin seed demo  [--url URL] [--concurrency N]\n"
            "       sms-admin seed scale [--url URL] [--concurrency N] [--run NAME] [--classes N]\n"
            "                            [--students N] [--assignments N] [--lecturers N]\n"
            "\n"
            "Loads data through the gateway's public HTTP API (default URL http://SMS_HTTP_HOST:SMS_HTTP_PORT),\n"
            "with tokens signed by SMS_JWT_SECRET. Every write has a deterministic Idempotency-Key, so running\n"
            "the same seed again creates nothing new and gets the same ids back.\n"
            "\n"
            "  demo   the seed's demo set: 5 classes (CS101, MATH201, ...), 20 students, 10 assignments\n"
            "         (some past due), grades with feedback (released and drafts), submissions, 5 posts;\n"
            "         prints a lecturer and two student tokens and curl lines to try them\n"
            "  scale  the seed's migration size by default: --classes 50 --students 500 --assignments 180\n"
            "         --lecturers 10; every student in 3 classes, released grades for every enrolled student\n"
            "         on every assignment, a submission from every 4th student; ids derive from --run NAME\n"
            "         (default \"scale\"). Shows progress on stderr, ends with the counts and the time taken.\n"
            "\n"
            "  --concurrency N   requests in flight at once (default %d)\n"
            "Any non-2xx answer is printed with its problem body; the exit status is 1 if anything failed.\n",
            DEFAULT_CONCURRENCY);
}

static void on_tick(void *ctx, size_t done, size_t failed) {
    seed_t *s = ctx;
    admin_progress_show(&s->progress, done, failed);
}

static void on_fail(void *ctx, const admin_http_req_t *r) {
    seed_t *s = ctx;
    admin_progress_clear(&s->progress);
    if (r->status)
        fprintf(stderr, "seed: %s %s -> %ld (after %d attempt%s): %s\n", r->method, r->path, r->status, r->attempts,
                r->attempts == 1 ? "" : "s", r->resp.len ? r->resp.data : "(empty body)");
    else
        fprintf(stderr, "seed: %s %s -> no answer (after %d attempt%s): %s\n", r->method, r->path, r->attempts,
                r->attempts == 1 ? "" : "s", r->err[0] ? r->err : "unknown error");
}

size_t seed_run(seed_t *s, admin_http_batch_t *b, const char *phase) {
    s->progress.phase = phase;
    size_t failed = admin_http_run(s->http, b);
    admin_progress_phase_end(&s->progress, b->n, failed);
    s->requests += b->n;
    s->failed += failed;
    return failed;
}

void seed_skip(seed_t *s, size_t n, const char *what) {
    if (n == 0) return;
    admin_progress_clear(&s->progress);
    fprintf(stderr, "seed: skipped %zu %s (what they need failed)\n", n, what);
    s->failed += n;
}

int seed_resp_id(const admin_http_req_t *r, char *out, size_t outlen) {
    out[0] = '\0';
    if (!admin_http_ok(r) || !r->resp.data) return -1;
    cJSON *doc = cJSON_Parse(r->resp.data);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    int rc = -1;
    if (cJSON_IsString(id) && strlen(id->valuestring) < outlen) {
        memcpy(out, id->valuestring, strlen(id->valuestring) + 1);
        rc = 0;
    }
    cJSON_Delete(doc);
    return rc;
}

int64_t seed_resp_created_at(const admin_http_req_t *r) {
    int64_t ms = sms_now_ms();
    if (!admin_http_ok(r) || !r->resp.data) return ms;
    cJSON *doc = cJSON_Parse(r->resp.data);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(doc, "created_at");
    int64_t parsed;
    if (cJSON_IsString(at) && sms_rfc3339_parse(at->valuestring, strlen(at->valuestring), &parsed) == 0) ms = parsed;
    cJSON_Delete(doc);
    return ms;
}

char *seed_token(const seed_t *s, const char *sub, const char *role) {
    char *token = NULL;
    if (sms_token_mint(sub, role, sms_now_ms() / 1000, SEED_TOKEN_TTL_S, s->cfg->jwt_secret, &token) != 0) {
        fprintf(stderr, "sms-admin: could not sign a token for %s\n", sub);
        exit(1);
    }
    return token;
}

int admin_seed_main(const sms_config_t *cfg, int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        seed_usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *which = argv[0];
    if (strcmp(which, "demo") && strcmp(which, "scale")) {
        seed_usage(stderr);
        return 2;
    }
    char url[512];
    /* A gateway bound to every interface is reached on loopback. */
    const char *host = strcmp(cfg->http_host, "0.0.0.0") ? cfg->http_host : "127.0.0.1";
    snprintf(url, sizeof url, "http://%s:%d", host, cfg->http_port);
    long concurrency = DEFAULT_CONCURRENCY;
    /* Own options are taken out; the rest go to the data set (scale has more). */
    char **rest = sms_calloc((size_t)argc, sizeof *rest);
    int n_rest = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            seed_usage(stdout);
            sms_free(rest);
            return 0;
        }
        if (!strcmp(argv[i], "--url") && i + 1 < argc) {
            snprintf(url, sizeof url, "%s", argv[++i]);
        } else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc) {
            char *end;
            concurrency = strtol(argv[++i], &end, 10);
            if (*end || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
                fprintf(stderr, "sms-admin: --concurrency must be 1..%d\n", MAX_CONCURRENCY);
                sms_free(rest);
                return 2;
            }
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    if (cfg->jwt_secret[0] == '\0') {
        fprintf(stderr, "sms-admin: SMS_JWT_SECRET is not set (the seed mints its users' tokens)\n");
        sms_free(rest);
        return 2;
    }
    seed_t s = {.cfg = cfg};
    s.http = admin_http_new(url, (int)concurrency, on_tick, on_fail, &s);
    if (!s.http) {
        fprintf(stderr, "sms-admin: libcurl could not be initialised\n");
        sms_free(rest);
        return 1;
    }
    int rc;
    if (!strcmp(which, "demo")) {
        if (n_rest) {
            seed_usage(stderr);
            rc = 2;
        } else {
            rc = seed_demo(&s, url);
        }
    } else {
        rc = seed_scale(&s, n_rest, rest);
    }
    admin_http_free(s.http);
    sms_free(rest);
    return rc;
}
