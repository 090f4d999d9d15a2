/* route_kit.h - what every routes_*.c file builds on: the app's clients as
 * the routes see them (gw_app_t), Lua read scripts called by SHA and their
 * view_state answers, pending-read bookkeeping, list pages and their query
 * parameters, JSON bodies. app.c creates the clients and registers the
 * routes; the routes include this and never app.h, so the helpers do not
 * depend on the app that assembles them (no route <-> app include circle).
 * The names keep the gateway's gw_ prefix (gw_script_call, gw_read_new,
 * gw_respond_page, ...): they were app.c's, every route calls them, and one
 * file holds them all. */
#ifndef GW_ROUTE_KIT_H
#define GW_ROUTE_KIT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "bus.h"
#include "classes/view.h"
#include "config.h"
#include "http/http.h"
#include "notifications/view.h"
#include "problem.h"
#include "redis.h"
#include "wait_hub.h"

typedef struct gw_app_s gw_app_t;

/* The app as its routes see it: the clients app.c created and owns (it
 * closes them in gw_app_close; routes only borrow them), and the count of
 * reads in flight (gw_read_new/_finish keep it; gw_app_inflight reports
 * it). app.c keeps its own lifecycle state beside this. */
struct gw_app_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    sms_redis_t *redis;
    gw_bus_t *bus;
    gw_wait_hub_t *chat;      /* chat long-poll waiters and their subscriber */
    gw_wait_hub_t *streams;   /* notification streams (SSE) and their subscriber */
    size_t reads_inflight;
    /* The process's Prometheus registry (metrics.h), set before any gw_routes_* call: a route
     * file registers its own series there when it registers its routes (e.g. rate-limited
     * answers, sms_auth_failures_total) and updates them lock-free. Outlives the app. */
    struct sms_metrics_s *metrics;
    struct gw_protect_s *protect; /* per-client caps, rate limits (protect.h) */
};

/* The channels the projections publish on after writing something a held
 * request may wait for: a class id after a chat message
 * (services/classes/projection.c), recipients' user ids separated by '\n'
 * after new inbox items (services/notifications/projection.c). Their
 * view.h files name them; app.c subscribes under these names. */
#define GW_CHAT_CHANNEL CLASSES_CHAT_CHANNEL
#define GW_NOTIFICATIONS_CHANNEL NOTIF_VIEW_CHANNEL_NEW

/* Where the ids of the classes view's list members start, as string.sub
 * counts: "<created_at, 13 digits>:<id>" (l:, sclasses:) and "<1 pinned|0>
 * <13 digits>:<id>" (posts:). classes/view.h states these formats in its
 * comments only, so the gateway states the offsets (test_gateway_views
 * checks the scripts use no others). */
#define GW_CLASSES_MEMBER_ID_AT "15"
#define GW_CLASSES_POST_ID_AT "16"

/* A Lua read script called by SHA, falling back to EVAL after a Redis restart. */
typedef struct gw_script_s {
    const char *source;
    char sha[41];
} gw_script_t;

/* Computes s->sha (SHA-1 of the source). */
void gw_script_init(gw_script_t *s);

/* Every Lua script the routes run, one NULL-terminated list per route file
 * (routes_<file>.c defines gw_<file>_scripts beside its scripts), so
 * test_gateway_views.c can check the keys, fields and offsets they read
 * against the services' view.h layouts. app.c does not use them. */
extern gw_script_t *const gw_assignments_scripts[];
extern gw_script_t *const gw_chat_scripts[];
extern gw_script_t *const gw_classes_scripts[];
extern gw_script_t *const gw_files_scripts[];
extern gw_script_t *const gw_grading_scripts[];
extern gw_script_t *const gw_notifications_scripts[];
extern gw_script_t *const gw_posts_scripts[];
extern gw_script_t *const gw_roster_scripts[];
extern gw_script_t *const gw_stream_scripts[];
extern gw_script_t *const gw_submissions_scripts[];
extern gw_script_t *const gw_webhooks_scripts[];
extern gw_script_t *const gw_identity_scripts[];

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

/* Lua for list scripts that filter: scan(range, key, from, to, limit, doc_of)
 * walks key's members with range ('ZREVRANGEBYLEX' from from down to to, or
 * 'ZRANGEBYLEX' up), 200 a call, keeping doc_of(member) where it is not nil.
 * Returns {docs, last kept member} as soon as a match past limit docs shows
 * there is a next page, {docs, false} when the members end, and {docs, last
 * member looked at} once GW_LUA_SCAN_BUDGET members were looked at: a filter
 * that matches little of a large set answers a short (even empty) page with
 * a cursor instead of walking the whole set in one Redis call (which blocks
 * every other client of Redis meanwhile). */
#define GW_LUA_SCAN_BUDGET "1000"
#define GW_LUA_SCAN                                                                        \
    "local function scan(range, key, from, to, limit, doc_of)\n"                           \
    "  local out, last, seen = {}, nil, 0\n"                                               \
    "  while true do\n"                                                                    \
    "    local members = redis.call(range, key, from, to, 'LIMIT', 0, 200)\n"              \
    "    for _, m in ipairs(members) do\n"                                                 \
    "      local doc = doc_of(m)\n"                                                        \
    "      if doc then\n"                                                                  \
    "        if #out == limit then return {out, last} end\n"                               \
    "        out[#out + 1] = doc\n"                                                        \
    "        last = m\n"                                                                   \
    "      end\n"                                                                          \
    "      from = '(' .. m\n"                                                              \
    "    end\n"                                                                            \
    "    if #members < 200 then return {out, false} end\n"                                 \
    "    seen = seen + #members\n"                                                         \
    "    if seen >= " GW_LUA_SCAN_BUDGET " then return {out, members[#members]} end\n"    \
    "  end\n"                                                                              \
    "end\n"

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

/* A read of req by script: gw_script_call with a new gw_read_t as cb's data
 * (cb calls gw_read_finish); when the call cannot start, answers it with
 * gw_respond_redis_down instead (cb not called). */
void gw_read_script(gw_app_t *app, gw_request_t *req, gw_script_t *script, int argc, const char **argv,
                    const size_t *lens, void (*cb)(redisReply *, void *));

/* Appends `{"items":[<each string of items>],"next_cursor":` to b: the
 * shape of every list answer (items are JSON documents from a view). */
void gw_page_items(sms_buf_t *b, const redisReply *items);
/* Answers 200 {"items": [...], "next_cursor": next or null}. */
void gw_respond_page(gw_request_t *req, const redisReply *items, const redisReply *next);
/* A list script's reply has the shape {documents, next cursor or false}. */
bool gw_page_reply_ok(const redisReply *r);
/* The read callback (gw_read_script's cb) of a list script returning
 * {documents, next cursor or false}: gw_respond_page, or
 * gw_respond_redis_down for any other reply. */
void gw_on_page_reply(redisReply *r, void *rd);
/* An id sms_id_new made (the notification and delivery lists' cursors, upload ids):
 * SMS_ID_LEN characters of [0-9A-Z]. */
bool gw_valid_ulid(const char *c);
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

/* ?cursor into q->cursor: absent or "" is the start, anything else must
 * pass cursor_ok or {"cursor", "is not a cursor this API returned"} is
 * appended (errs needs room for it) and false returned. */
bool gw_query_cursor(const gw_request_t *req, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                     sms_problem_error_t *errs, size_t *n_errs);

/* gw_query_limit, then gw_query_cursor (errs needs room for 2). Returns
 * false if either was invalid. */
bool gw_query_page(const gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                   sms_problem_error_t *errs, size_t *n_errs);

/* gw_query_page for a list with no other parameters: when limit or cursor
 * is invalid, answers 400 (gw_respond_bad_query) and returns false. */
bool gw_query_page_checked(gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *),
                           gw_page_query_t *q);

/* The search text of a list, ?q: at most GW_QUERY_Q_MAX bytes, else
 * {"q", "must be at most 200 characters"} is appended (errs needs room for
 * it) and 0 returned. Written ASCII-lowered into lower (GW_QUERY_Q_MAX + 1
 * bytes, NUL-terminated), as the projections lower the names and codes it
 * is matched against; returns its length (0 when absent). */
#define GW_QUERY_Q_MAX 200
size_t gw_query_search(const gw_request_t *req, char lower[GW_QUERY_Q_MAX + 1], sms_problem_error_t *errs,
                       size_t *n_errs);

/* Answers 400 validation "invalid query parameters" listing errs. */
void gw_respond_bad_query(gw_request_t *req, const sms_problem_error_t *errs, size_t n_errs);

/* Answers a failed Redis read: 503 when Redis is not reachable (or cannot
 * serve now); 500 internal, logged with the script's error, when called
 * from a read script's callback whose script failed (gw_script_call). */
void gw_respond_redis_down(gw_request_t *req);

/* Parses req's body as a JSON object (caller frees with cJSON_Delete), or
 * answers 400 malformed_json and returns NULL. */
cJSON *gw_parse_json_object(gw_request_t *req);

/* The usual write: req's body as a JSON object (gw_parse_json_object, which
 * answers when it is not one) sent as command type to service, with key
 * (gw_bus_send answers). */
void gw_send_json_body(gw_app_t *app, gw_request_t *req, const char *service, const char *type, const char *key);

#endif
