/* router.h - the gateway's route table: method + path pattern -> handler.
 *
 * app.c registers routes at start-up (gw_router_add); the HTTP server
 * (conn.c) matches every request with gw_router_match, which tells found
 * vs 404 vs 405 (with the Allow list) and extracts {name} path parameters.
 * Not thread-safe; routes are only added before the server starts. */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include <stddef.h>

typedef struct gw_router_s gw_router_t;
typedef struct gw_request_s gw_request_t;
typedef void (*gw_handler_fn)(gw_request_t *req, void *data);

/* Route flags. GW_ROUTE_AUTH: the server verifies the bearer token (401) and
 * the role mask (403) before the handler runs. GW_ROUTE_JSON_BODY: the
 * request must say Content-Type: application/json (or application/<x>+json,
 * optional parameters such as charset) or it gets 415. GW_ROUTE_STREAM_BODY:
 * the handler runs as soon as the head has arrived and takes the body in
 * chunks through gw_req_stream_body (http.h); SMS_BODY_LIMIT does not apply. */
enum { GW_ROUTE_PUBLIC = 0, GW_ROUTE_AUTH = 1 << 0, GW_ROUTE_JSON_BODY = 1 << 1, GW_ROUTE_STREAM_BODY = 1 << 2 };
/* Roles allowed for an AUTH route, a bitmask: */
enum { GW_ROLE_LECTURER = 1 << 0, GW_ROLE_STUDENT = 1 << 1, GW_ROLE_ADMIN = 1 << 2, GW_ROLE_ANY = 7 };

#define GW_ROUTER_MAX_SEGMENTS 16 /* path segments in a pattern */
#define GW_ROUTER_MAX_PARAMS 8    /* {name} segments in a pattern */

/* One registered route; owned by the router, valid until gw_router_free. */
typedef struct gw_route_s {
    const char *method;  /* "GET", "POST", "PUT", "DELETE" or "PATCH" */
    const char *pattern; /* as registered */
    unsigned flags;      /* GW_ROUTE_* */
    unsigned roles;      /* GW_ROLE_* mask (AUTH routes) */
    gw_handler_fn fn;
    void *data;
    size_t index;        /* 0.. in registration order (gw_router_route; per-route metrics) */
} gw_route_t;

/* Returns a new empty router (free with gw_router_free). */
gw_router_t *gw_router_new(void);
/* Frees the router and its routes; NULL is a no-op. Handlers' data is not
 * touched (its owner frees it). */
void gw_router_free(gw_router_t *r);

/* pattern: literal segments and {name} segments, e.g. "/lecturer/classes/{id}".
 * method: "GET", "POST", "PUT", "DELETE", "PATCH". Strings are copied.
 * Returns 0 or -EINVAL (bad pattern, method, or NULL fn) / -EEXIST (same
 * method+pattern twice; "/a/{x}" and "/a/{y}" are the same pattern). */
int gw_router_add(gw_router_t *r, const char *method, const char *pattern, unsigned flags,
                  unsigned roles, gw_handler_fn fn, void *data);

/* Result of gw_router_match. */
typedef struct gw_match_s {
    const gw_route_t *route; /* the matched route, NULL unless status == 0 */
    int status;              /* 0 found, 404 no pattern matches the path, 405 patterns
                              * match but none for this method */
    char allow[64];          /* 405: the methods the path supports, "GET, HEAD, POST" */
    size_t n_params;
    struct {
        const char *name;  /* the route's parameter name, NUL-terminated */
        const char *value; /* points into the matched path, NOT NUL-terminated */
        size_t len;
    } params[GW_ROUTER_MAX_PARAMS];
} gw_match_t;

/* Matches method + path (decoded, no query; need not be NUL-terminated,
 * path_len bytes). A path matches a pattern when it has the same number of
 * '/'-separated segments, every literal segment is equal and every {name}
 * segment is non-empty. When several patterns match, the one whose first
 * literal comes earliest wins ("/c/new" beats "/c/{id}"). HEAD falls back
 * to the GET route. Fills *m; returns m->status. */
int gw_router_match(const gw_router_t *r, const char *method, const char *path, size_t path_len,
                    gw_match_t *m);

/* Number of routes registered. */
size_t gw_router_count(const gw_router_t *r);
/* The i-th route registered (its index is i), NULL past the end. */
const gw_route_t *gw_router_route(const gw_router_t *r, size_t i);

/* The i-th route in registration order, NULL when i >= gw_router_count: for
 * listings of the table (sms-gateway --print-routes, the fuzz targets). */
const gw_route_t *gw_router_route(const gw_router_t *r, size_t i);

#endif
