/* ratelimit.h - GCRA rate limits per client IP, per user and for expensive
 * routes, decided locally on the loop and shared by several gateways
 * through Redis.
 *
 * protect.c asks gw_ratelimit_take for every request; the answer is
 * immediate (a local bucket), never a Redis round trip. Every
 * SMS_RATELIMIT_SYNC_MS the counts admitted since the last sync go to Redis
 * in one EVALSHA (one GCRA state per key, shared by every gateway); its
 * answer moves each local bucket to the shared state, so a client spread
 * over several gateways is held to one limit, give or take one sync
 * interval's worth of requests. Redis down or slow: the local buckets
 * decide alone (one sync in flight at most; nothing waits on it). */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "redis.h"

/* The buckets a request can be charged to. */
typedef enum {
    GW_RL_IP = 0,  /* every request, by client IP */
    GW_RL_USER,    /* requests with a token, by its sub */
    GW_RL_LOGIN,   /* POST /auth/login, by client IP */
    GW_RL_GRADES,  /* POST .../update-grades, by user */
    GW_RL_UPLOADS, /* POST /student/uploads, by user */
    GW_RL_N
} gw_rl_policy_t;

/* One decision. */
typedef struct gw_rl_result_s {
    bool allowed;
    uint32_t limit;     /* the policy's quota (its burst) */
    uint32_t window_s;  /* the window the quota is for: burst / rate, rounded up */
    uint32_t remaining; /* requests still allowed now */
    uint32_t reset_s;   /* seconds until the quota is whole again (rounded up) */
    uint32_t retry_s;   /* denied: seconds until one request is allowed (>= 1) */
} gw_rl_result_t;

/* Counts for /metrics (gw_ratelimit_stats). */
typedef struct gw_rl_stats_s {
    uint64_t allowed[GW_RL_N];
    uint64_t denied[GW_RL_N];
    uint64_t syncs;          /* EVALSHA batches answered */
    uint64_t sync_failures;  /* batches that failed or timed out (local decisions stood) */
    uint64_t sync_skipped;   /* intervals without a connected Redis (local only) */
    size_t buckets;          /* keys held locally */
} gw_rl_stats_t;

typedef struct gw_ratelimit_s gw_ratelimit_t;

/* A limiter on loop with cfg's SMS_RATELIMIT_* settings (borrowed, outlive
 * it). redis may be NULL (local only, also when SMS_RATELIMIT_SHARED=0).
 * Never fails; free with gw_ratelimit_close. */
gw_ratelimit_t *gw_ratelimit_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis);
/* Stops the sync timer; done(data) once its handle is closed (the limiter is freed then). */
void gw_ratelimit_close(gw_ratelimit_t *rl, void (*done)(void *), void *data);

/* Charges one request with key (an IP or a sub, len bytes) to policy:
 * fills *out. Denied requests are not charged. O(1). */
void gw_ratelimit_take(gw_ratelimit_t *rl, gw_rl_policy_t policy, const char *key, size_t len, gw_rl_result_t *out);

/* The policy's name in headers and logs ("ip", "user", "login", ...). */
const char *gw_ratelimit_policy_name(gw_rl_policy_t policy);

/* Counts so far (for /metrics). rl may be NULL: zeros. */
void gw_ratelimit_stats(const gw_ratelimit_t *rl, gw_rl_stats_t *out);

/* The Lua of the shared bucket (for tests and review). */
extern const char gw_ratelimit_lua[];

#endif
