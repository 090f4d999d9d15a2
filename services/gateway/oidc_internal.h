/* oidc_internal.h - the OIDC verifier's state, shared by oidc.c (the loop:
 * token checks, cache, key-set hand-over) and oidc_fetch.c (the fetch
 * thread: discovery and JWKS over libcurl). Not for other files. */
#ifndef GW_OIDC_INTERNAL_H
#define GW_OIDC_INTERNAL_H

#include <pthread.h>

#include "jwk.h"
#include "oidc.h"

#define GW_OIDC_ROLE_MAP_MAX 32
#define GW_OIDC_CACHE_SLOTS 1024

typedef struct gw_oidc_role_s {
    char value[128]; /* a value of the role claim */
    char role[16];   /* lecturer | student | admin */
} gw_oidc_role_t;

typedef struct gw_oidc_slot_s {
    int used;
    unsigned char hash[32]; /* SHA-256 of the token */
    sms_token_claims_t claims;
} gw_oidc_slot_t;

struct gw_oidc_s {
    /* Settings, fixed after gw_oidc_new (read by both threads). */
    char issuer[256];
    char audience[256];
    char subject_claim[64];
    char role_claim[128];
    gw_oidc_role_t roles[GW_OIDC_ROLE_MAP_MAX];
    size_t n_roles;
    int max_token_bytes, skew_s, refresh_min_s, ttl_s, http_timeout_ms;
    char discovery_url[320];

    /* Loop thread only. */
    uv_loop_t *loop;
    uv_async_t keys_ready;     /* the fetch thread's "pending has a set" */
    sms_jwks_t *keys;          /* the set tokens are checked against (NULL: none yet) */
    uint64_t last_refresh_ask_ms; /* sms_mono_ms of the last unknown-kid refresh asked for */
    char detail[200];          /* the last refusal's sentence when it is not static */
    gw_oidc_slot_t cache[GW_OIDC_CACHE_SLOTS];

    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* CLOCK_MONOTONIC: wakes the fetch thread */
    int stop;                  /* also read without mu by the transfer's progress callback (atomic) */
    int refresh_wanted;
    sms_jwks_t *pending;       /* fetched, not yet taken by the loop */

    /* Fetch thread only. */
    pthread_t thread;
    int thread_started;
    int sync_init;             /* mu and cv initialised (gw_oidc_fetch_start) */
    char jwks_uri[512];        /* from discovery; emptied to discover again */
};

/* oidc_fetch.c: starts (mu, cv, the thread) / stops (joins) the fetch thread;
 * destroy releases mu and cv after stop. start returns 0 or an errno. */
int gw_oidc_fetch_start(gw_oidc_t *o);
void gw_oidc_fetch_stop(gw_oidc_t *o);
void gw_oidc_fetch_destroy(gw_oidc_t *o);

/* Asks the fetch thread for a fetch now. Any thread; takes mu. */
void gw_oidc_fetch_wake(gw_oidc_t *o);

#endif
