/* app_internal.h - the gateway app's state, shared by app.c (wiring,
 * health) and the routes_*.c files (one per service's API). */
#ifndef GW_APP_INTERNAL_H
#define GW_APP_INTERNAL_H

#include <stdbool.h>

#include "app.h"
#include "buf.h"
#include "bus.h"
#include "wait_hub.h"
#include "http/http.h"
#include "redis.h"

struct gw_app_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    sms_redis_t *redis;
    gw_bus_t *bus;
    gw_wait_hub_t *chat;      /* chat long-poll waiters and their subscriber */
    gw_wait_hub_t *streams;   /* notification streams (SSE) and their subscriber */
    uv_timer_t views_timer;   /* polls the services' "view built" markers */
    bool views_ok;
    size_t reads_inflight;
    int closing_parts;
    void (*done)(void *);
    void *done_data;
};

/* The channels the projections publish on after writing something a held
 * request may wait for: a class id after a chat message
 * (services/classes/projection.c), recipients' user ids separated by '\n'
 * after new inbox items (services/notifications/projection.c). */
#define GW_CHAT_CHANNEL "sms:classes:chat"
#define GW_NOTIFICATIONS_CHANNEL "sms:notifications:new"

/* A Lua read script called by SHA, falling back to EVAL after a Redis restart. */
typedef struct gw_script_s {
    const char *source;
    char sha[41];
} gw_script_t;

/* Computes s->sha (SHA-1 of the source). */
void gw_script_init(gw_script_t *s);

/* Runs script with argv (argc strings) on the app's Redis; cb gets the reply
 * (NULL on failure). Returns 0, or -1 if Redis is not connected (cb not called). */
int gw_script_call(gw_app_t *app, gw_script_t *s, int argc, const char **argv, const size_t *lens,
                   void (*cb)(redisReply *, void *), void *data);

/* Lua for read scripts of one service's view (local p = its prefix, set
 * first): view_state({aggregate, ...}) is nil when the view can answer for
 * these aggregates; {3} while it is being rebuilt (no built marker: a
 * half-built view must not pass for a whole one); {2, positions} when events
 * of one of them are quarantined (common/quarantine.h). Call it after the
 * access checks, so it tells nothing to whom the data is not shown; answer
 * its reply with gw_respond_view_state. */
#define GW_LUA_VIEW_STATE                                                                    \
    "local function view_state(aggs)\n"                                                      \
    "  if redis.call('HEXISTS', p .. 'meta', 'built') == 0 then return {3} end\n"           \
    "  for _, agg in ipairs(aggs) do\n"                                                      \
    "    local q = redis.call('SMEMBERS', p .. 'incomplete:' .. agg)\n"                     \
    "    if #q > 0 then table.sort(q); return {2, table.concat(q, ' ')} end\n"              \
    "  end\n"                                                                                \
    "end\n"

/* Answers a view_state reply of view ("grading"): {3} 503 view_rebuilding
 * with Retry-After, {2, positions} 503 view_incomplete naming them. Returns
 * false (nothing answered) for any other reply. */
bool gw_respond_view_state(gw_request_t *req, const redisReply *r, const char *view);

/* Lua for read scripts: num(h) renders a score the grading view keeps in
 * hundredths of a point as a JSON number (8550 -> 85.5, 9000 -> 90). */
#define GW_LUA_SCORE_NUM                                                  \
    "local function num(h)\n"                                             \
    "  h = tonumber(h)\n"                                                 \
    "  if h % 100 == 0 then return string.format('%d', h / 100) end\n"   \
    "  local t = string.format('%.2f', h / 100)\n"                        \
    "  t = string.gsub(t, '0$', '')\n"                                    \
    "  return t\n"                                                        \
    "end\n"

/* A pending Redis read for req. */
typedef struct gw_read_s {
    gw_app_t *app;
    gw_request_t *req;
} gw_read_t;

gw_read_t *gw_read_new(gw_app_t *app, gw_request_t *req);
/* Frees rd and returns its request (to answer). */
gw_request_t *gw_read_finish(gw_read_t *rd);

/* Appends `{"items":[<each string of items>],"next_cursor":` to b: the
 * shape of every list answer (items are JSON documents from a view). */
void gw_page_items(sms_buf_t *b, const redisReply *items);
/* Answers 200 {"items": [...], "next_cursor": next or null}. */
void gw_respond_page(gw_request_t *req, const redisReply *items, const redisReply *next);
/* A list cursor made by the views: "<digits decimal digits>:<id>" (id in
 * [0-9A-Z]); anything else was not made by us. */
bool gw_valid_cursor(const char *c, int digits);
/* An integer query parameter `name` in lo..hi: *out = its value, or def when
 * it is absent. Returns false (and *out = def) when present but not a
 * decimal integer in range ("" included), read by sms_number_parse_int: an
 * optional '-' and digits only, so "+5", " 5", "1e3" and 2^64 are refused. */
bool gw_query_int(const gw_request_t *req, const char *name, long lo, long hi, long def, long *out);

/* The paging query of a list: ?limit and ?cursor. Caller-owned (usually on
 * the handler's stack); the errors gw_query_limit/_page add point into it. */
typedef struct gw_page_query_s {
    long limit;
    char limit_s[24];      /* limit as decimal text: a script argument */
    const char *cursor;    /* "" (start) when absent or empty; borrows req */
    char limit_error[48];  /* the message of a bad limit */
} gw_page_query_t;

/* Reads ?limit into q (absent: def; else an integer from 1 to max). When it
 * is invalid, appends {"limit", "must be an integer from 1 to <max>"} to
 * errs[*n_errs] (errs needs room for it) and returns false. */
bool gw_query_limit(const gw_request_t *req, long def, long max, gw_page_query_t *q, sms_problem_error_t *errs,
                    size_t *n_errs);

/* gw_query_limit, then ?cursor: absent or "" is the start, anything else must
 * pass cursor_ok or {"cursor", "is not a cursor this API returned"} is
 * appended (errs needs room for 2). Returns false if either was invalid. */
bool gw_query_page(const gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                   sms_problem_error_t *errs, size_t *n_errs);

/* Answers a failed Redis read: 503 when Redis is not reachable (or cannot
 * serve now); 500 internal, logged with the script's error, when called
 * from a read script's callback whose script failed (gw_script_call). */
void gw_respond_redis_down(gw_request_t *req);

/* routes_classes.c */
int gw_routes_classes(gw_app_t *app, gw_router_t *router);
/* Parses req's body as a JSON object (caller frees with cJSON_Delete), or
 * answers 400 malformed_json and returns NULL. */
cJSON *gw_parse_json_object(gw_request_t *req);

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
