/* cors.c - CORS preflights and response headers (see cors.h). */
#include "cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ALLOW_HEADERS "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Last-Event-ID, traceparent"
#define EXPOSE_HEADERS "Retry-After, RateLimit, RateLimit-Policy, X-Request-Id, Idempotency-Key, Location"

int gw_cors_init(gw_cors_t *c, const sms_config_t *cfg, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->credentials = cfg->cors_credentials != 0;
    c->max_age_s = cfg->cors_max_age_s;
    const char *s = cfg->cors_origins;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        size_t n = strcspn(s, ", ");
        if (n == 1 && *s == '*') c->any = true;
        else if (n >= sizeof c->origins[0] || c->n >= GW_CORS_ORIGINS_MAX ||
                 (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)) {
            snprintf(err, errlen, "SMS_CORS_ORIGINS: entries are '*' or scheme://host[:port], at most %d",
                     GW_CORS_ORIGINS_MAX);
            return -1;
        } else {
            memcpy(c->origins[c->n], s, n);
            c->origins[c->n][n] = '\0';
            c->n++;
        }
        s += n;
    }
    return 0;
}

static bool configured(const gw_cors_t *c) { return c->any || c->n > 0; }

bool gw_cors_allowed(const gw_cors_t *c, const char *origin) {
    if (origin == NULL || !configured(c)) return false;
    if (c->any) return true;
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->origins[i], origin) == 0) return true;
    return false;
}

/* "GET, HEAD, POST" contains method as a whole item. */
static bool allow_has(const char *allow, const char *method) {
    size_t m = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += m)
        if ((p == allow || p[-1] == ' ' || p[-1] == ',') && (p[m] == '\0' || p[m] == ',')) return true;
    return false;
}

bool gw_cors_preflight(const gw_cors_t *c, gw_request_t *req) {
    if (strcmp(gw_req_method(req), "OPTIONS") != 0) return false;
    const char *origin = gw_req_header(req, "Origin");
    const char *want = gw_req_header(req, "Access-Control-Request-Method");
    if (origin == NULL || want == NULL) return false;
    const char *allow = gw_req_allow(req);
    if (!gw_cors_allowed(c, origin)) {
        gw_respond_problem(req, 403, "cors_origin_not_allowed",
                           "This origin is not in the gateway's CORS allow-list (SMS_CORS_ORIGINS).", NULL, 0);
        return true;
    }
    if (allow == NULL || !allow_has(allow, want)) {
        gw_respond_problem(req, 403, "cors_method_not_allowed", "The path has no route for the requested method.",
                           NULL, 0);
        return true;
    }
    /* The origin-specific lines come from gw_cors_headers, as on every answer. */
    char h[512];
    snprintf(h, sizeof h,
             "Access-Control-Allow-Methods: %s\r\nAccess-Control-Allow-Headers: " ALLOW_HEADERS
             "\r\nAccess-Control-Max-Age: %d\r\n",
             allow, c->max_age_s);
    gw_respond(req, 204, NULL, NULL, 0, h);
    return true;
}

size_t gw_cors_headers(const gw_cors_t *c, const gw_request_t *req, char *out, size_t cap) {
    if (!configured(c)) return 0;
    const char *origin = gw_req_header(req, "Origin");
    int n;
    if (!gw_cors_allowed(c, origin)) n = snprintf(out, cap, "Vary: Origin\r\n");
    else if (c->any && !c->credentials)
        n = snprintf(out, cap, "Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: " EXPOSE_HEADERS
                               "\r\nVary: Origin\r\n");
    else
        /* The exact origin (never "*") when credentials are allowed; it
         * comes from the allow-list comparison, so it is safe in a header. */
        n = snprintf(out, cap, "Access-Control-Allow-Origin: %s\r\n%sAccess-Control-Expose-Headers: " EXPOSE_HEADERS
                               "\r\nVary: Origin\r\n",
                     origin, c->credentials ? "Access-Control-Allow-Credentials: true\r\n" : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
