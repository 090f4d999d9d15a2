/* route_kit.c - the helpers every route uses (see route_kit.h): read
 * scripts by SHA with their error classification, pending reads, list pages
 * and paging queries, view_state and Redis-down answers, JSON bodies. */
#include "route_kit.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "id.h"
#include "log.h"
#include "number.h"

void gw_script_init(gw_script_t *s) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s->source, strlen(s->source), digest);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(s->sha + 2 * i, 3, "%02x", digest[i]);
}

typedef struct script_call_s {
    gw_app_t *app;
    gw_script_t *script;
    int argc;
    char **argv;
    size_t *lens;
    void (*cb)(redisReply *, void *);
    void *data;
    bool retried;
} script_call_t;

static void script_call_free(script_call_t *c) {
    for (int i = 0; i < c->argc; i++) sms_free(c->argv[i]);
    sms_free(c->argv);
    sms_free(c->lens);
    sms_free(c);
}

static int script_send(script_call_t *c, bool by_sha);

/* The error of the read script whose callback is running, for
 * gw_respond_redis_down to tell a failing script (500) from an unreachable
 * Redis (503) without every route's callback passing it along. Set only
 * around that synchronous call, on the loop thread. */
static const char *script_error;
static bool script_error_reported;

/* Errors that say Redis cannot serve now (loading, busy, out of memory, a
 * replica, ...), not that the script is wrong: they stay 503. */
static bool redis_unavailable_error(const char *e) {
    static const char *const prefixes[] = {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN",
                                           "CLUSTERDOWN", "NOSCRIPT"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

static void on_script_reply(redisReply *r, void *data) {
    script_call_t *c = data;
    /* After a Redis restart the script cache is empty: send the source once. */
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !c->retried) {
        c->retried = true;
        if (script_send(c, false) == 0) return;
        r = NULL;
    }
    const char *error = NULL;
    if (r && r->type == REDIS_REPLY_ERROR) {
        if (!redis_unavailable_error(r->str)) error = r->str;
        else if (sms_redis_error_is_oom(r->str)) sms_redis_log_error("read script", r->str);
        else sms_log(SMS_LOG_WARN, "redis_script_unavailable", "%s", r->str);
        r = NULL;
    }
    script_error = error;
    script_error_reported = false;
    c->cb(r, c->data);
    /* A callback that did not answer through gw_respond_redis_down still
     * leaves the error in the log once. */
    if (error && !script_error_reported) sms_log(SMS_LOG_ERROR, "redis_script_error", "%s", error);
    script_error = NULL;
    script_call_free(c);
}

static int script_send(script_call_t *c, bool by_sha) {
    const char *argv[24];
    size_t lens[24];
    argv[0] = by_sha ? "EVALSHA" : "EVAL";
    lens[0] = strlen(argv[0]);
    argv[1] = by_sha ? c->script->sha : c->script->source;
    lens[1] = strlen(argv[1]);
    argv[2] = "0";
    lens[2] = 1;
    for (int i = 0; i < c->argc; i++) {
        argv[3 + i] = c->argv[i];
        lens[3 + i] = c->lens[i];
    }
    return sms_redis_cmd(c->app->redis, on_script_reply, c, 3 + c->argc, argv, lens);
}

int gw_script_call(gw_app_t *app, gw_script_t *s, int argc, const char **argv, const size_t *lens,
                   void (*cb)(redisReply *, void *), void *data) {
    if (argc > 20) return -1;
    script_call_t *c = sms_calloc(1, sizeof *c);
    c->app = app;
    c->script = s;
    c->argc = argc;
    c->argv = sms_calloc((size_t)argc, sizeof *c->argv);
    c->lens = sms_calloc((size_t)argc, sizeof *c->lens);
    for (int i = 0; i < argc; i++) {
        c->argv[i] = sms_strndup(argv[i], lens[i]);
        c->lens[i] = lens[i];
    }
    c->cb = cb;
    c->data = data;
    if (script_send(c, true) != 0) {
        script_call_free(c);
        return -1;
    }
    return 0;
}

gw_read_t *gw_read_new(gw_app_t *app, gw_request_t *req) {
    gw_read_t *rd = sms_malloc(sizeof *rd);
    rd->app = app;
    rd->req = req;
    app->reads_inflight++;
    return rd;
}

gw_request_t *gw_read_finish(gw_read_t *rd) {
    gw_request_t *req = rd->req;
    rd->app->reads_inflight--;
    sms_free(rd);
    return req;
}

void gw_read_script(gw_app_t *app, gw_request_t *req, gw_script_t *script, int argc, const char **argv,
                    const size_t *lens, void (*cb)(redisReply *, void *)) {
    gw_read_t *rd = gw_read_new(app, req);
    if (gw_script_call(app, script, argc, argv, lens, cb, rd) != 0) gw_respond_redis_down(gw_read_finish(rd));
}

void gw_page_items(sms_buf_t *b, const redisReply *items) {
    sms_buf_puts(b, "{\"items\":[");
    size_t written = 0;
    for (size_t i = 0; i < items->elements; i++) {
        /* A view writes its index and its documents together; skip a gap rather than answer null. */
        if (items->element[i]->type != REDIS_REPLY_STRING) continue;
        if (written++) sms_buf_putc(b, ',');
        sms_buf_append(b, items->element[i]->str, items->element[i]->len);
    }
    sms_buf_puts(b, "],\"next_cursor\":");
}

void gw_respond_page(gw_request_t *req, const redisReply *items, const redisReply *next) {
    sms_buf_t b;
    sms_buf_init(&b);
    gw_page_items(&b, items);
    if (next && next->type == REDIS_REPLY_STRING) sms_buf_json_str(&b, next->str, next->len);
    else sms_buf_puts(&b, "null");
    sms_buf_putc(&b, '}');
    gw_respond(req, 200, "application/json", b.data, b.len, NULL);
    sms_buf_close(&b);
}

bool gw_page_reply_ok(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_ARRAY;
}

void gw_on_page_reply(redisReply *r, void *rd) {
    gw_request_t *req = gw_read_finish(rd);
    if (!gw_page_reply_ok(r)) {
        gw_respond_redis_down(req);
        return;
    }
    gw_respond_page(req, r->element[0], r->element[1]);
}

bool gw_valid_ulid(const char *c) {
    if (strlen(c) != SMS_ID_LEN) return false;
    for (const char *p = c; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z'))) return false;
    return true;
}

bool gw_valid_cursor(const char *c, int digits) {
    size_t n = strlen(c);
    if (n < (size_t)digits + 2 || n > (size_t)digits + 81 || c[digits] != ':') return false;
    for (int i = 0; i < digits; i++)
        if (c[i] < '0' || c[i] > '9') return false;
    for (size_t i = (size_t)digits + 1; i < n; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z'))) return false;
    return true;
}

bool gw_query_int(const gw_request_t *req, const char *name, long lo, long hi, long def, long *out) {
    const char *v = gw_req_query(req, name);
    *out = def;
    if (v == NULL) return true;
    int64_t x;
    /* Strict (common/number.h): no sign but '-', no spaces, nothing past int64 wraps into range. */
    if (sms_number_parse_int(v, strlen(v), lo, hi, &x) != SMS_OK) return false;
    *out = (long)x; /* within [lo, hi], both longs */
    return true;
}

bool gw_query_limit(const gw_request_t *req, long def, long max, gw_page_query_t *q, sms_problem_error_t *errs,
                    size_t *n_errs) {
    bool ok = gw_query_int(req, "limit", 1, max, def, &q->limit);
    snprintf(q->limit_s, sizeof q->limit_s, "%ld", q->limit);
    if (!ok) {
        snprintf(q->limit_error, sizeof q->limit_error, "must be an integer from 1 to %ld", max);
        errs[(*n_errs)++] = (sms_problem_error_t){"limit", q->limit_error};
    }
    return ok;
}

bool gw_query_cursor(const gw_request_t *req, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                     sms_problem_error_t *errs, size_t *n_errs) {
    const char *c = gw_req_query(req, "cursor");
    q->cursor = c ? c : "";
    if (*q->cursor && !cursor_ok(q->cursor)) {
        errs[(*n_errs)++] = (sms_problem_error_t){"cursor", "is not a cursor this API returned"};
        return false;
    }
    return true;
}

bool gw_query_page(const gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *), gw_page_query_t *q,
                   sms_problem_error_t *errs, size_t *n_errs) {
    bool ok = gw_query_limit(req, def, max, q, errs, n_errs);
    return gw_query_cursor(req, cursor_ok, q, errs, n_errs) && ok;
}

bool gw_query_page_checked(gw_request_t *req, long def, long max, bool (*cursor_ok)(const char *),
                           gw_page_query_t *q) {
    sms_problem_error_t errs[2];
    size_t n_errs = 0;
    if (gw_query_page(req, def, max, cursor_ok, q, errs, &n_errs)) return true;
    gw_respond_bad_query(req, errs, n_errs);
    return false;
}

#define Q_MAX_TEXT(n) #n
#define Q_MAX_STR(n) Q_MAX_TEXT(n)

size_t gw_query_search(const gw_request_t *req, char lower[GW_QUERY_Q_MAX + 1], sms_problem_error_t *errs,
                       size_t *n_errs) {
    const char *q = gw_req_query(req, "q");
    size_t n = q ? strlen(q) : 0;
    lower[0] = '\0';
    if (n > GW_QUERY_Q_MAX) {
        errs[(*n_errs)++] = (sms_problem_error_t){"q", "must be at most " Q_MAX_STR(GW_QUERY_Q_MAX) " characters"};
        return 0;
    }
    for (size_t i = 0; i < n; i++) lower[i] = (q[i] >= 'A' && q[i] <= 'Z') ? (char)(q[i] + 32) : q[i];
    lower[n] = '\0';
    return n;
}

void gw_respond_bad_query(gw_request_t *req, const sms_problem_error_t *errs, size_t n_errs) {
    gw_respond_problem(req, 400, "validation", "invalid query parameters", errs, n_errs);
}

void gw_respond_redis_down(gw_request_t *req) {
    if (script_error) { /* the script ran and failed: a bug or a bad view, not an outage */
        sms_log(SMS_LOG_ERROR, "read_script_failed", "request %s %s %s: %s", gw_req_id(req), gw_req_method(req),
                gw_req_path(req), script_error);
        script_error_reported = true;
        gw_respond_problem(req, 500, "internal",
                           "the read failed inside the gateway (logged with this request_id); retrying will not help",
                           NULL, 0);
        return;
    }
    gw_respond_problem_h(req, 503, "unavailable", "the data store is not reachable; retry shortly", NULL, 0,
                         "Retry-After: 1\r\n");
}

bool gw_respond_view_state(gw_request_t *req, const redisReply *r, const char *view) {
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER)
        return false;
    char detail[256];
    if (r->element[0]->integer == 3) {
        snprintf(detail, sizeof detail, "the %s view is being rebuilt from the event log; retry shortly", view);
        gw_respond_problem_h(req, 503, "view_rebuilding", detail, NULL, 0, "Retry-After: 2\r\n");
        return true;
    }
    if (r->element[0]->integer != 2 || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING) return false;
    snprintf(detail, sizeof detail,
             "events of this data could not be applied to the %s view and are quarantined (%.*s); an operator must "
             "repair them (sms-admin quarantine list)",
             view, (int)(r->element[1]->len > 140 ? 140 : r->element[1]->len), r->element[1]->str);
    gw_respond_problem(req, 503, "view_incomplete", detail, NULL, 0);
    return true;
}

cJSON *gw_parse_json_object(gw_request_t *req) {
    size_t len;
    const char *body = gw_req_body(req, &len);
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (json == NULL) {
        char detail[96];
        size_t at = end ? (size_t)(end - body) : (cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - body) : 0);
        snprintf(detail, sizeof detail, "the body is not valid JSON (error near byte %zu)", at);
        gw_respond_problem(req, 400, "malformed_json", len ? detail : "the body is empty; send a JSON object", NULL, 0);
        return NULL;
    }
    if (end && (size_t)(end - body) < len) { /* trailing bytes after the value */
        for (const char *p = end; p < body + len; p++)
            if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
                cJSON_Delete(json);
                gw_respond_problem(req, 400, "malformed_json", "unexpected data after the JSON value", NULL, 0);
                return NULL;
            }
    }
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        gw_respond_problem(req, 400, "malformed_json", "the body must be a JSON object", NULL, 0);
        return NULL;
    }
    return json;
}

void gw_send_json_body(gw_app_t *app, gw_request_t *req, const char *service, const char *type, const char *key) {
    cJSON *body = gw_parse_json_object(req);
    if (!body) return; /* answered */
    gw_bus_send(app->bus, req, service, type, key, body);
    cJSON_Delete(body);
}
