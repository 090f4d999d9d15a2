/* protect.c - the server hooks that apply the per-client caps, rate limits,
 * CORS and security headers (see protect.h). Every decision is local and
 * immediate: nothing here waits on Redis. */
#include "protect.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"

int gw_protect_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis, gw_protect_t **out, char *err,
                   size_t errlen) {
    *out = NULL;
    gw_protect_t *p = sms_calloc(1, sizeof *p);
    p->cfg = cfg;
    if (gw_proxies_parse(&p->proxies, cfg->trusted_proxies, err, errlen) != 0 ||
        gw_cors_init(&p->cors, cfg, err, errlen) != 0) {
        sms_free(p);
        return -1;
    }
    gw_caps_init(&p->caps, cfg);
    if (cfg->ratelimit_enabled) p->rl = gw_ratelimit_new(loop, cfg, redis);
    *out = p;
    return 0;
}

/* ---- connections per IP ---- */

static int on_conn_open(void *ctx, const struct sockaddr_storage *peer) {
    gw_protect_t *p = ctx;
    if (gw_proxies_contain(&p->proxies, peer)) return 0; /* a proxy carries many clients: never capped */
    char ip[GW_IP_STR_MAX];
    gw_ip_format(peer, ip, sizeof ip);
    if (gw_caps_acquire(&p->caps, GW_CAP_CONN, ip) == 0) return 0;
    /* A flood is one line a second at most, not one per connection. */
    uint64_t now = sms_mono_ms();
    if (now - p->conn_refused_logged_ms >= 1000) {
        p->conn_refused_logged_ms = now;
        sms_log(SMS_LOG_WARN, "conn_cap", "%s holds %d connections (SMS_MAX_CONNECTIONS_PER_IP); %llu refused so far",
                ip, p->caps.max[GW_CAP_CONN], (unsigned long long)p->caps.refused[GW_CAP_CONN]);
    }
    return -1;
}

static void on_conn_closed(void *ctx, const struct sockaddr_storage *peer) {
    gw_protect_t *p = ctx;
    if (gw_proxies_contain(&p->proxies, peer)) return;
    char ip[GW_IP_STR_MAX];
    gw_ip_format(peer, ip, sizeof ip);
    gw_caps_release(&p->caps, GW_CAP_CONN, ip);
}

/* ---- rate limits ---- */

static char *put_str(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u32(char *p, uint32_t v) {
    char tmp[10];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) *p++ = tmp[--i];
    return p;
}

/* The two header lines of one policy's result into out (at most 120 bytes
 * for a 7-letter name): on every request, so no printf. */
static void format_lines(char *out, const char *name, const gw_rl_result_t *r) {
    char *p = put_str(out, "RateLimit-Policy: \"");
    p = put_str(p, name);
    p = put_str(p, "\";q=");
    p = put_u32(p, r->limit);
    p = put_str(p, ";w=");
    p = put_u32(p, r->window_s);
    p = put_str(p, "\r\nRateLimit: \"");
    p = put_str(p, name);
    p = put_str(p, "\";r=");
    p = put_u32(p, r->remaining);
    p = put_str(p, ";t=");
    p = put_u32(p, r->reset_s);
    p = put_str(p, "\r\n");
    *p = '\0';
}

/* Charges req to policy under key; on a refusal answers 429 and returns 1.
 * Either way the answer carries the policy's RateLimit lines
 * (draft-ietf-httpapi-ratelimit-headers: q = quota, w = window in s,
 * r = remaining, t = seconds until the quota is whole again). */
static int charge(gw_protect_t *p, gw_request_t *req, gw_rl_policy_t policy, const char *key) {
    gw_rl_result_t r;
    const char *name = gw_ratelimit_policy_name(policy);
    gw_ratelimit_take(p->rl, policy, key, strlen(key), &r);
    char lines[192];
    format_lines(lines, name, &r);
    (void)gw_req_add_header_lines(req, lines); /* at most four policies per request: they fit */
    if (r.allowed) return 0;
    char retry[48], detail[160], message[96];
    snprintf(retry, sizeof retry, "Retry-After: %u\r\n", r.retry_s);
    snprintf(detail, sizeof detail, "Too many requests for the '%s' limit; retry in %u s.", name, r.retry_s);
    snprintf(message, sizeof message, "more than %u requests within %u s", r.limit, r.window_s);
    sms_problem_error_t e = {policy == GW_RL_IP || policy == GW_RL_LOGIN ? "client_ip" : "user", message};
    gw_respond_problem_h(req, 429, "rate_limited", detail, &e, 1, retry);
    return 1;
}

static int is_route(const gw_request_t *req, const char *method, const char *pattern_suffix) {
    const gw_route_t *route = gw_req_route(req);
    if (route == NULL || strcmp(route->method, method) != 0) return 0;
    size_t n = strlen(route->pattern), m = strlen(pattern_suffix);
    return n >= m && strcmp(route->pattern + n - m, pattern_suffix) == 0;
}

/* Before 404/405/auth: the client-IP buckets, so that no answer (not even
 * a 401) is free of them; then CORS preflights. */
static int on_preroute(void *ctx, gw_request_t *req) {
    gw_protect_t *p = ctx;
    if (p->rl) {
        char ip[GW_IP_STR_MAX];
        gw_client_ip(&p->proxies, req, ip, sizeof ip);
        if (charge(p, req, GW_RL_IP, ip)) return 1;
        if (is_route(req, "POST", "/auth/login") && charge(p, req, GW_RL_LOGIN, ip)) return 1;
    }
    return gw_cors_preflight(&p->cors, req) ? 1 : 0;
}

/* After auth: the user's buckets. */
static int on_admit(void *ctx, gw_request_t *req) {
    gw_protect_t *p = ctx;
    const char *user = gw_req_user(req);
    if (p->rl == NULL || user == NULL) return 0;
    if (charge(p, req, GW_RL_USER, user)) return 1;
    if (is_route(req, "POST", "/update-grades") && charge(p, req, GW_RL_GRADES, user)) return 1;
    if (is_route(req, "POST", "/student/uploads") && charge(p, req, GW_RL_UPLOADS, user)) return 1;
    return 0;
}

/* ---- headers on every answer ---- */

static size_t on_headers(void *ctx, const gw_request_t *req, int status, const char *extra, char *out, size_t cap) {
    gw_protect_t *p = ctx;
    (void)status;
    size_t n = 0;
    static const char nosniff[] = "X-Content-Type-Options: nosniff\r\n";
    static const char no_store[] = "Cache-Control: no-store\r\n";
    static const char hsts[] = "Strict-Transport-Security: max-age=31536000\r\n";
    if (cap < sizeof nosniff + sizeof no_store + sizeof hsts) return 0;
    /* A header the handler set itself stands (downloads set both). */
    if (!(extra && strcasestr(extra, "X-Content-Type-Options:"))) {
        memcpy(out, nosniff, sizeof nosniff - 1);
        n += sizeof nosniff - 1;
    }
    /* Anything answered to a token may be personal: no cache keeps it
     * (unless the handler chose its own Cache-Control: SSE's no-cache). */
    bool own_cache_control = extra && strcasestr(extra, "Cache-Control:") != NULL;
    if (!own_cache_control && (gw_req_user(req) != NULL || gw_req_header(req, "Authorization") != NULL)) {
        memcpy(out + n, no_store, sizeof no_store - 1);
        n += sizeof no_store - 1;
    }
    if (p->cfg->behind_tls || gw_client_forwarded_https(&p->proxies, req)) {
        memcpy(out + n, hsts, sizeof hsts - 1);
        n += sizeof hsts - 1;
    }
    n += gw_cors_headers(&p->cors, req, out + n, cap - n);
    return n;
}

void gw_protect_hooks(gw_protect_t *p, gw_server_hooks_t *out) {
    memset(out, 0, sizeof *out);
    out->ctx = p;
    out->conn_open = on_conn_open;
    out->conn_closed = on_conn_closed;
    out->preroute = on_preroute;
    out->admit = on_admit;
    out->headers = on_headers;
}

static void on_rl_closed(void *data) {
    gw_protect_t *p = data;
    void (*done)(void *) = p->done;
    void *done_data = p->done_data;
    gw_caps_close(&p->caps);
    sms_free(p);
    if (done) done(done_data);
}

void gw_protect_close(gw_protect_t *p, void (*done)(void *), void *data) {
    p->done = done;
    p->done_data = data;
    if (p->rl) gw_ratelimit_close(p->rl, on_rl_closed, p);
    else on_rl_closed(p);
}

void gw_protect_ratelimit_stats(const gw_protect_t *p, gw_rl_stats_t *out) { gw_ratelimit_stats(p ? p->rl : NULL, out); }
