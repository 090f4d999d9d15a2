/* cors.h - Cross-Origin Resource Sharing and the security headers every
 * answer carries.
 *
 * protect.c answers preflights with gw_cors_preflight and adds
 * gw_cors_headers' lines to every answer. Allowed origins come from
 * SMS_CORS_ORIGINS (exact "scheme://host[:port]" entries, or "*" for any
 * origin, which config.c refuses together with SMS_CORS_CREDENTIALS=1). */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http/http.h"

#define GW_CORS_ORIGINS_MAX 32

typedef struct gw_cors_s {
    size_t n;
    char origins[GW_CORS_ORIGINS_MAX][128];
    bool any;          /* "*" */
    bool credentials;  /* SMS_CORS_CREDENTIALS */
    int max_age_s;
} gw_cors_t;

/* Parses cfg's CORS settings. Returns 0, or -1 with err. */
int gw_cors_init(gw_cors_t *c, const sms_config_t *cfg, char *err, size_t errlen);

/* True when origin (the Origin header) may read our answers. */
bool gw_cors_allowed(const gw_cors_t *c, const char *origin);

/* A preflight (OPTIONS with Origin and Access-Control-Request-Method):
 * answers it (204 with the Access-Control-Allow-* headers when the origin
 * is allowed and the path has a route for the method asked, else 403
 * problem+json) and returns true; false for any other request. */
bool gw_cors_preflight(const gw_cors_t *c, gw_request_t *req);

/* Header lines for an answer to req (CORS for allowed origins, Vary:
 * Origin whenever CORS is configured). Returns bytes written into out. */
size_t gw_cors_headers(const gw_cors_t *c, const gw_request_t *req, char *out, size_t cap);

#endif
