/* authz.h - the gateway's authorization matrix, declared in one place: for
 * every route (method + pattern), the object rule that applies on top of the
 * role mask the router checks (router.h). The handlers and the services
 * enforce the rules; this table states them, `sms-gateway --print-routes`
 * prints it joined with the router's masks, and tests/e2e/test_authz_matrix.py
 * sends every route as every kind of caller and checks the statuses it
 * implies. A route without a row fails that test (add the row here). */
#ifndef GW_AUTHZ_H
#define GW_AUTHZ_H

#include <stdio.h>

#include "config.h"
#include "http/router.h"

/* What a caller whose role the route allows must also be. A caller who is
 * not gets 404 `not_found` (the object is not revealed), never 403; 403 is
 * only for a role outside the route's mask, 401 for no or a bad token. */
typedef enum {
    GW_OBJ_PUBLIC = 0,   /* no token needed and none consulted (health probes) */
    GW_OBJ_SIGNED,       /* no token: the URL's signature is the authorization (403 without it) */
    GW_OBJ_SELF,         /* no object in the request: the caller's own data only, chosen by its token */
    GW_OBJ_CLASS_OWNER,  /* the lecturer who owns the class the request names (directly or through
                          * its assignment, post or body class_id) */
    GW_OBJ_CLASS_MEMBER, /* that lecturer, or a student enrolled in that class */
    GW_OBJ_ENROLLED,     /* a student enrolled in that class */
    GW_OBJ_ANY,          /* every object of the kind (admin operations) */
    GW_OBJ_CREDENTIAL,   /* the body's credential (password, refresh token) is the authorization;
                          * on a token route, only the token's own account (403 for a token that
                          * names no account) */
} gw_obj_rule_t;

typedef struct gw_authz_row_s {
    const char *method;
    const char *pattern; /* as registered with gw_router_add */
    gw_obj_rule_t rule;
    const char *object;  /* where the object comes from, for people */
} gw_authz_row_t;

/* The row for method + pattern, or NULL when the table has none. */
const gw_authz_row_t *gw_authz_find(const char *method, const char *pattern);

/* "public", "signed_url", "self", "class_owner", "class_member", "enrolled", "any". */
const char *gw_obj_rule_name(gw_obj_rule_t rule);

/* Writes every route of r as JSON to out: {"routes": [{"method", "pattern",
 * "auth", "roles": [...], "json_body", "stream_body", "rule", "object"}],
 * "rows_without_route": ["METHOD pattern", ...]}, rule and object null for a
 * route without a row. Returns the number of routes without a row. */
size_t gw_authz_print_routes(const gw_router_t *r, FILE *out);

/* sms-gateway --print-routes: registers every route (gw_app_register_routes)
 * against an app that has only a loop and cfg (registration touches nothing
 * else; Redis and Kafka are never contacted) and prints it with
 * gw_authz_print_routes. Returns 0, or -1 if the routes could not be
 * registered (logged). */
int gw_authz_print_table(const sms_config_t *cfg, FILE *out);

/* Logs one warning (`authz_row_missing`) per registered route without a row;
 * returns their number. */
size_t gw_authz_check_routes(const gw_router_t *r);

#endif
