/* protect.h - the gateway's protection against hostile or broken clients,
 * as server hooks (http.h gw_server_hooks_t): per-IP connection caps, rate
 * limits (ratelimit.h) with 429 + RateLimit headers, CORS (cors.h) and the
 * security headers of every answer.
 *
 * app.c creates it beside the Redis client and hands its hooks to main.c's
 * server; routes_stream.c and routes_chat.c use its caps (client_caps.h). */
#ifndef GW_PROTECT_H
#define GW_PROTECT_H

#include <uv.h>

#include "client_caps.h"
#include "client_ip.h"
#include "config.h"
#include "cors.h"
#include "http/http.h"
#include "ratelimit.h"
#include "redis.h"

typedef struct gw_protect_s {
    const sms_config_t *cfg;
    gw_proxies_t proxies;   /* SMS_TRUSTED_PROXIES */
    gw_cors_t cors;         /* SMS_CORS_* */
    gw_caps_t caps;         /* per IP / per user */
    gw_ratelimit_t *rl;     /* NULL when SMS_RATELIMIT=0 */
    uint64_t conn_refused_logged_ms; /* the last conn_cap log line */
    void (*done)(void *);
    void *done_data;
} gw_protect_t;

/* Parses cfg's protection settings and starts the limiter (cfg and redis
 * borrowed, must outlive it). Returns 0 and *out, or -1 with err. */
int gw_protect_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis, gw_protect_t **out, char *err,
                   size_t errlen);
/* The server hooks that apply p. */
void gw_protect_hooks(gw_protect_t *p, gw_server_hooks_t *out);
/* Frees p once its limiter is closed; then done(data). */
void gw_protect_close(gw_protect_t *p, void (*done)(void *), void *data);

/* Rate-limit counts for /metrics (zeros when limiting is off). */
void gw_protect_ratelimit_stats(const gw_protect_t *p, gw_rl_stats_t *out);

#endif
