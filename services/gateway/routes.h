/* routes.h - the route files' registration calls (each adds its service's
 * routes to the router; app.c calls them all) and the few calls one route
 * file offers the others (routes_files.c's signed download URLs). */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "buf.h"
#include "http/router.h"
#include "route_kit.h"

/* routes_classes.c */
int gw_routes_classes(gw_app_t *app, gw_router_t *router);

/* routes_roster.c */
int gw_routes_roster(gw_app_t *app, gw_router_t *router);

/* routes_assignments.c */
int gw_routes_assignments(gw_app_t *app, gw_router_t *router);

/* routes_grading.c */
int gw_routes_grading(gw_app_t *app, gw_router_t *router);

/* routes_submissions.c: students submit; lecturers list submissions. */
int gw_routes_submissions(gw_app_t *app, gw_router_t *router);

/* routes_posts.c: class posts (announcements). */
int gw_routes_posts(gw_app_t *app, gw_router_t *router);

/* routes_chat.c: class chat (POST, and GET with long-poll). */
int gw_routes_chat(gw_app_t *app, gw_router_t *router);

/* routes_files.c: uploads and downloads through signed URLs. */
int gw_routes_files(gw_app_t *app, gw_router_t *router);
/* routes_notifications.c: the caller's inbox and notification preferences. */
int gw_routes_notifications(gw_app_t *app, gw_router_t *router);
/* routes_stream.c: the caller's new notifications as Server-Sent Events. */
int gw_routes_stream(gw_app_t *app, gw_router_t *router);
/* routes_webhooks.c: webhook registrations and delivery state (admin). */
int gw_routes_webhooks(gw_app_t *app, gw_router_t *router);
/* routes_identity.c: accounts (admin), login, refresh, logout, password change. */
int gw_routes_identity(gw_app_t *app, gw_router_t *router);
/* The student link (issue 11): rewrites body's students[i].student_id to the
 * roster id of the active student account whose email students[i].email is
 * (read from the identity view), then calls then(app, req, body), which
 * takes body. When Redis cannot be read, answers 503 and frees body. */
void gw_identity_link_students(gw_app_t *app, gw_request_t *req, cJSON *body,
                               void (*then)(gw_app_t *, gw_request_t *, cJSON *));
/* routes_metrics.c: GET /metrics (SMS_METRICS_TOKEN) and the app's series in m (borrowed, outlives the app). */
struct sms_metrics_s;
int gw_routes_metrics(gw_app_t *app, gw_router_t *router, struct sms_metrics_s *m);
/* routes_docs.c: GET /docs (Redoc), /openapi.yaml, /asyncapi.yaml (public). */
int gw_routes_docs(gw_app_t *app, gw_router_t *router);
/* Appends a signed download URL for an upload (path and query, e.g.
 * "/files/<id>?expires=...&sig=..."; resolve it against the gateway's base
 * URL) valid for ttl_s seconds (outside 1..SMS_UPLOAD_TTL_S: the maximum)
 * to out, and its expiry (seconds since the epoch) to *expires_out if not
 * NULL. Returns 0, or -EINVAL for an id that is not an upload id. */
int gw_files_download_url(const gw_app_t *app, const char *upload_id, int64_t ttl_s, sms_buf_t *out,
                          int64_t *expires_out);
/* Appends a JSON array of files to out from docs, an array reply of the
 * assignments view's upload documents ({upload_id, filename, content_type,
 * size, sha256}): each gets "download_url" (see gw_files_download_url,
 * valid SMS_UPLOAD_TTL_S) and "download_expires_at" (RFC 3339). Documents
 * that are not strings or name no valid upload id are skipped. */
void gw_files_render(const gw_app_t *app, const redisReply *docs, sms_buf_t *out);

#endif
