/* authz.c - the authorization matrix (see authz.h): one row per route, the
 * object rule its handler or its service enforces. Read by main.c
 * (--print-routes, and a warning at start for routes without a row) and,
 * through that listing, by tests/e2e/test_authz_matrix.py. */
#include "authz.h"

#include <string.h>

#include "app.h"
#include "buf.h"
#include "log.h"
#include "route_kit.h"

static const gw_authz_row_t rows[] = {
    {"GET", "/healthz", GW_OBJ_PUBLIC, "-"},
    {"GET", "/readyz", GW_OBJ_PUBLIC, "-"},
    /* classes (routes_classes.c; the classes service decides writes) */
    {"GET", "/lecturer/classes", GW_OBJ_SELF, "the caller's classes"},
    {"POST", "/lecturer/classes", GW_OBJ_SELF, "a new class owned by the caller"},
    {"GET", "/lecturer/classes/{id}", GW_OBJ_CLASS_OWNER, "class {id}"},
    {"PUT", "/lecturer/classes/{id}", GW_OBJ_CLASS_OWNER, "class {id}"},
    {"DELETE", "/lecturer/classes/{id}", GW_OBJ_CLASS_OWNER, "class {id}"},
    /* roster (routes_roster.c) */
    {"POST", "/lecturer/classes/{id}/students", GW_OBJ_CLASS_OWNER, "class {id}"},
    {"DELETE", "/lecturer/classes/{id}/students/{student_id}", GW_OBJ_CLASS_OWNER, "class {id}"},
    {"GET", "/lecturer/students/{class_id}", GW_OBJ_CLASS_OWNER, "class {class_id}"},
    {"GET", "/student/classes", GW_OBJ_SELF, "the classes the caller is enrolled in"},
    /* assignments (routes_assignments.c) */
    {"POST", "/lecturer/assignments", GW_OBJ_CLASS_OWNER, "the body's class_id"},
    {"GET", "/lecturer/assignments/{id}", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"PUT", "/lecturer/assignments/{id}", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"DELETE", "/lecturer/assignments/{id}", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"GET", "/lecturer/classes/{class_id}/assignments", GW_OBJ_CLASS_OWNER, "class {class_id}"},
    /* grading (routes_grading.c) */
    {"POST", "/lecturer/assignments/{id}/update-grades", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"POST", "/lecturer/assignments/{id}/release-grades", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"GET", "/lecturer/assignments/{id}/grades", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"GET", "/lecturer/assignments/{id}/grades/{student_id}/history", GW_OBJ_CLASS_OWNER,
     "assignment {id}'s class"},
    {"POST", "/admin/assignments/{id}/grade-corrections", GW_OBJ_ANY, "any assignment"},
    {"GET", "/student/grades", GW_OBJ_SELF, "the caller's released grades"},
    {"GET", "/student/ranking", GW_OBJ_ENROLLED, "the class ?class_id"},
    /* submissions (routes_submissions.c) */
    {"POST", "/student/assignments/{id}/submissions", GW_OBJ_ENROLLED, "assignment {id}'s class"},
    {"GET", "/lecturer/assignments/{id}/submissions", GW_OBJ_CLASS_OWNER, "assignment {id}'s class"},
    {"GET", "/student/classes/{class_id}/assignments", GW_OBJ_ENROLLED, "class {class_id}"},
    /* posts and chat (routes_posts.c, routes_chat.c) */
    {"POST", "/classes/{class_id}/posts", GW_OBJ_CLASS_OWNER, "class {class_id}"},
    {"GET", "/classes/{class_id}/posts", GW_OBJ_CLASS_MEMBER, "class {class_id}"},
    {"GET", "/classes/{class_id}/posts/{post_id}", GW_OBJ_CLASS_MEMBER, "class {class_id}"},
    {"PUT", "/classes/{class_id}/posts/{post_id}", GW_OBJ_CLASS_OWNER, "class {class_id}"},
    {"POST", "/classes/{class_id}/chat", GW_OBJ_CLASS_MEMBER, "class {class_id}"},
    {"GET", "/classes/{class_id}/chat", GW_OBJ_CLASS_MEMBER, "class {class_id}"},
    /* files (routes_files.c): the signature binds the owner and the upload */
    {"POST", "/student/uploads", GW_OBJ_SELF, "a new upload owned by the caller"},
    {"PUT", "/uploads/{id}", GW_OBJ_SIGNED, "upload {id}"},
    {"GET", "/files/{id}", GW_OBJ_SIGNED, "upload {id}"},
    /* the caller's notifications (routes_notifications.c, routes_stream.c) */
    {"GET", "/me/notifications", GW_OBJ_SELF, "the caller's inbox"},
    {"GET", "/me/notifications/unread-count", GW_OBJ_SELF, "the caller's inbox"},
    {"POST", "/me/notifications/read", GW_OBJ_SELF, "the caller's inbox (others' ids count 0)"},
    {"GET", "/me/notification-preferences", GW_OBJ_SELF, "the caller's preferences"},
    {"PUT", "/me/notification-preferences", GW_OBJ_SELF, "the caller's preferences"},
    {"GET", "/me/notifications/stream", GW_OBJ_SELF, "the caller's inbox"},
    /* webhooks (routes_webhooks.c) */
    {"POST", "/admin/webhooks", GW_OBJ_ANY, "a new webhook"},
    {"GET", "/admin/webhooks", GW_OBJ_ANY, "every webhook"},
    {"DELETE", "/admin/webhooks/{webhook_id}", GW_OBJ_ANY, "webhook {webhook_id}"},
    {"GET", "/admin/deliveries", GW_OBJ_ANY, "every delivery"},
    /* accounts and login (routes_identity.c; sms-identity decides) */
    {"POST", "/admin/users", GW_OBJ_ANY, "a new account"},
    {"GET", "/admin/users", GW_OBJ_ANY, "every account"},
    {"DELETE", "/admin/users/{user_id}", GW_OBJ_ANY, "account {user_id}"},
    {"POST", "/auth/login", GW_OBJ_CREDENTIAL, "the account of the body's email and password"},
    {"POST", "/auth/refresh", GW_OBJ_CREDENTIAL, "the session of the body's refresh token"},
    {"POST", "/auth/logout", GW_OBJ_CREDENTIAL, "the session of the body's refresh token"},
    {"POST", "/auth/password", GW_OBJ_CREDENTIAL, "the token's own account, with its current password"},
    {"GET", "/.well-known/jwks.json", GW_OBJ_PUBLIC, "-"},
    /* the contracts and their rendering (routes_docs.c) */
    {"GET", "/docs", GW_OBJ_PUBLIC, "-"},
    {"GET", "/docs/redoc.standalone.js", GW_OBJ_PUBLIC, "-"},
    {"GET", "/openapi.yaml", GW_OBJ_PUBLIC, "-"},
    {"GET", "/asyncapi.yaml", GW_OBJ_PUBLIC, "-"},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

/* Patterns compare with parameter names ignored, as the router does
 * ("/a/{x}" and "/a/{y}" are the same route). */
static int same_pattern(const char *a, const char *b) {
    while (*a && *b) {
        if (*a == '{' && *b == '{') {
            while (*a && *a != '}') a++;
            while (*b && *b != '}') b++;
            if (!*a || !*b) return 0;
        } else if (*a != *b) {
            return 0;
        }
        a++, b++;
    }
    return *a == *b;
}

const gw_authz_row_t *gw_authz_find(const char *method, const char *pattern) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].method, method) == 0 && same_pattern(rows[i].pattern, pattern)) return &rows[i];
    return NULL;
}

const char *gw_obj_rule_name(gw_obj_rule_t rule) {
    switch (rule) {
    case GW_OBJ_PUBLIC: return "public";
    case GW_OBJ_SIGNED: return "signed_url";
    case GW_OBJ_SELF: return "self";
    case GW_OBJ_CLASS_OWNER: return "class_owner";
    case GW_OBJ_CLASS_MEMBER: return "class_member";
    case GW_OBJ_ENROLLED: return "enrolled";
    case GW_OBJ_ANY: return "any";
    case GW_OBJ_CREDENTIAL: return "credential";
    }
    return "?";
}

size_t gw_authz_print_routes(const gw_router_t *r, FILE *out) {
    static const struct { unsigned bit; const char *name; } roles[] = {
        {GW_ROLE_LECTURER, "lecturer"}, {GW_ROLE_STUDENT, "student"}, {GW_ROLE_ADMIN, "admin"}};
    sms_buf_t b;
    size_t missing = 0;
    sms_buf_init(&b);
    sms_buf_puts(&b, "{\"routes\":[");
    for (size_t i = 0; i < gw_router_count(r); i++) {
        const gw_route_t *rt = gw_router_route(r, i);
        const gw_authz_row_t *row = gw_authz_find(rt->method, rt->pattern);
        int auth = (rt->flags & GW_ROUTE_AUTH) != 0;
        if (i) sms_buf_putc(&b, ',');
        sms_buf_puts(&b, "\n{\"method\":");
        sms_buf_json_str(&b, rt->method, strlen(rt->method));
        sms_buf_puts(&b, ",\"pattern\":");
        sms_buf_json_str(&b, rt->pattern, strlen(rt->pattern));
        sms_buf_printf(&b, ",\"auth\":%s,\"roles\":[", auth ? "true" : "false");
        for (size_t k = 0, n = 0; auth && k < sizeof roles / sizeof roles[0]; k++)
            if (rt->roles & roles[k].bit) sms_buf_printf(&b, "%s\"%s\"", n++ ? "," : "", roles[k].name);
        sms_buf_printf(&b, "],\"json_body\":%s,\"stream_body\":%s,\"rule\":",
                       rt->flags & GW_ROUTE_JSON_BODY ? "true" : "false",
                       rt->flags & GW_ROUTE_STREAM_BODY ? "true" : "false");
        if (row) {
            sms_buf_printf(&b, "\"%s\",\"object\":", gw_obj_rule_name(row->rule));
            sms_buf_json_str(&b, row->object, strlen(row->object));
        } else {
            sms_buf_puts(&b, "null,\"object\":null");
            missing++;
        }
        sms_buf_putc(&b, '}');
    }
    /* Rows no route has any more: a stale matrix is as misleading as a missing row. */
    sms_buf_puts(&b, "\n],\"rows_without_route\":[");
    for (size_t k = 0, n = 0; k < N_ROWS; k++) {
        int routed = 0;
        for (size_t i = 0; i < gw_router_count(r) && !routed; i++) {
            const gw_route_t *rt = gw_router_route(r, i);
            routed = strcmp(rt->method, rows[k].method) == 0 && same_pattern(rt->pattern, rows[k].pattern);
        }
        if (routed) continue;
        if (n++) sms_buf_putc(&b, ',');
        sms_buf_printf(&b, "\"%s %s\"", rows[k].method, rows[k].pattern);
    }
    sms_buf_puts(&b, "]}\n");
    (void)fwrite(b.data, 1, b.len, out); /* a short write shows as invalid JSON to the reader */
    sms_buf_close(&b);
    return missing;
}

size_t gw_authz_check_routes(const gw_router_t *r) {
    size_t missing = 0;
    for (size_t i = 0; i < gw_router_count(r); i++) {
        const gw_route_t *rt = gw_router_route(r, i);
        if (gw_authz_find(rt->method, rt->pattern)) continue;
        missing++;
        sms_log(SMS_LOG_WARN, "authz_row_missing", "%s %s has no row in services/gateway/authz.c", rt->method,
                rt->pattern);
    }
    return missing;
}

int gw_authz_print_table(const sms_config_t *cfg, FILE *out) {
    static uv_loop_t loop;
    static gw_app_t app;
    if (uv_loop_init(&loop) != 0) return -1;
    app.loop = &loop;
    app.cfg = cfg;
    gw_router_t *router = gw_router_new();
    int rc = gw_app_register_routes(&app, router) == 0 ? 0 : -1;
    if (rc == 0) (void)gw_authz_print_routes(router, out); /* the reader judges missing rows */
    gw_router_free(router);
    return rc;
}
