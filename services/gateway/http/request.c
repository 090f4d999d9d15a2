/* request.c - a request's memory and what handlers read from it (see http.h).
 *
 * conn.c fills a request while llhttp runs (gw__req_append/_piece),
 * then gw__req_head_done decodes the target; handlers call the gw_req_*
 * accessors. Requests are pooled by the server so the steady state
 * allocates nothing per request. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "clock.h"
#include "http_internal.h"

/* The pool bounds what idle memory it pins: at most POOL_MAX * (KEEP_ARENA +
 * KEEP_OUT), 8 MiB, and usually a few KiB per request. */
#define POOL_MAX 512          /* free requests kept by a server */
#define KEEP_ARENA (8 * 1024) /* a pooled request keeps an arena up to this size */
#define KEEP_OUT (8 * 1024)   /* ... and a response buffer up to this size */
#define KEEP_HDRS 32
#define MAX_QUERY_PAIRS 64

gw_request_t *gw__req_new(gw_server_t *srv, gw_conn_t *conn) {
    gw_request_t *req = srv->free_reqs;
    if (req) {
        srv->free_reqs = req->next;
        srv->n_free--;
        char *mem = req->mem;
        uint32_t cap = req->cap;
        gw_hdr_t *hdrs = req->hdrs;
        uint32_t hdr_cap = req->hdr_cap;
        sms_buf_t out = req->out;
        memset(req, 0, sizeof *req);
        req->mem = mem;
        req->cap = cap;
        req->hdrs = hdrs;
        req->hdr_cap = hdr_cap;
        req->out = out;
        sms_buf_reset(&req->out);
    } else {
        req = sms_calloc(1, sizeof *req);
        sms_buf_init(&req->out);
    }
    req->srv = srv;
    req->conn = conn;
    req->method = "-";
    req->content_length = -1;
    req->start_us = sms_mono_us();
    return req;
}

static void req_destroy(gw_request_t *req) {
    sms_free(req->mem);
    sms_free(req->hdrs);
    sms_buf_close(&req->out);
    sms_free(req);
}

void gw__req_release(gw_request_t *req) {
    gw_server_t *srv = req->srv;
    if (srv->n_free >= POOL_MAX) {
        req_destroy(req);
        return;
    }
    /* A request that carried a large body gives its memory back rather than
     * pinning it in the pool. */
    if (req->cap > KEEP_ARENA) {
        sms_free(req->mem);
        req->mem = NULL;
        req->cap = 0;
    }
    if (req->hdr_cap > KEEP_HDRS) {
        sms_free(req->hdrs);
        req->hdrs = NULL;
        req->hdr_cap = 0;
    }
    if (req->out.cap > KEEP_OUT) sms_buf_close(&req->out);
    req->conn = NULL;
    req->next = srv->free_reqs;
    srv->free_reqs = req;
    srv->n_free++;
}

void gw__req_pool_free(gw_server_t *srv) {
    while (srv->free_reqs) {
        gw_request_t *req = srv->free_reqs;
        srv->free_reqs = req->next;
        req_destroy(req);
    }
    srv->n_free = 0;
}

static void arena_reserve(gw_request_t *req, size_t extra) {
    size_t need = (size_t)req->len + extra;
    if (need <= req->cap) return;
    size_t cap = req->cap ? req->cap : 1024;
    while (cap < need) cap *= 2;
    req->mem = sms_realloc(req->mem, cap);
    req->cap = (uint32_t)cap;
}

void gw__req_append(gw_request_t *req, const char *p, size_t n) {
    arena_reserve(req, n);
    memcpy(req->mem + req->len, p, n);
    req->len += (uint32_t)n;
}

static void arena_putc(gw_request_t *req, char c) { gw__req_append(req, &c, 1); }

void gw__req_piece(gw_request_t *req, gw_piece_t next) {
    if (req->piece == GW_PIECE_VALUE) {
        uint32_t start = req->hdrs[req->n_hdrs - 1].value;
        while (req->len > start && (req->mem[req->len - 1] == ' ' || req->mem[req->len - 1] == '\t')) req->len--;
    }
    if (req->piece == GW_PIECE_URL) req->url_len = req->len - req->url;
    if (req->piece != GW_PIECE_DONE) arena_putc(req, '\0');
    if (next == GW_PIECE_FIELD) {
        if (req->n_hdrs == req->hdr_cap) {
            req->hdr_cap = req->hdr_cap ? req->hdr_cap * 2 : 16;
            req->hdrs = sms_realloc(req->hdrs, req->hdr_cap * sizeof *req->hdrs);
        }
        req->hdrs[req->n_hdrs].name = req->len;
        req->hdrs[req->n_hdrs].value = req->len; /* until the value starts */
        req->n_hdrs++;
    } else if (next == GW_PIECE_VALUE) {
        req->hdrs[req->n_hdrs - 1].value = req->len;
    }
    req->piece = next;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src (n bytes) onto the arena end, then a NUL. plus: '+'
 * means space (query strings). Returns 0, or -1 on a broken escape or an
 * encoded NUL. The arena must already have room for n + 1 bytes: src may
 * point into it. */
static int decode_into(gw_request_t *req, const char *src, size_t n, int plus) {
    char *out = req->mem + req->len;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hex_value(src[i + 1]);
            int lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        *out++ = c;
    }
    *out++ = '\0';
    req->len = (uint32_t)(out - req->mem);
    return 0;
}

static int id_is_sane(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void gw__req_ensure_id(gw_request_t *req) {
    if (req->id[0] == '\0') gw__server_new_id(req->srv, req->id);
}

/* Where a request target's path and query are (offsets into it). */
typedef struct {
    size_t path_off, path_len; /* path_len 0: none ("/" is meant) */
    size_t query_off, query_len;
    int has_query;
} target_parts_t;

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Splits a request target (RFC 9112 3.2), whose characters llhttp has
 * checked: origin-form "/p?q", absolute-form "scheme://authority/p?q" (no
 * path: "/"), authority-form "host:port" (CONNECT only, no path) and
 * asterisk-form "*" (the path "*"). A '#' ends the path or query. Returns 0,
 * or -1 for anything else. llhttp has no URL splitter of its own (http-parser
 * had http_parser_parse_url). */
static int split_target(const char *t, size_t n, int is_connect, target_parts_t *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return -1;
    if (is_connect) { /* host:port with a non-empty host and a port */
        const char *colon = memrchr(t, ':', n);
        if (colon == NULL || colon == t || colon + 1 == t + n || memchr(t, '/', n) != NULL) return -1;
        for (const char *d = colon + 1; d < t + n; d++)
            if (*d < '0' || *d > '9') return -1;
        return 0;
    }
    size_t i = 0;
    if (n == 1 && t[0] == '*') {
        out->path_len = 1;
        return 0;
    }
    if (t[0] != '/') { /* absolute-form: scheme "://" authority, then the path if any */
        if (!is_alpha(t[0])) return -1;
        while (i < n && (is_alpha(t[i]) || (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.'))
            i++;
        if (n - i < 3 || memcmp(t + i, "://", 3) != 0) return -1;
        i += 3;
        size_t host = i;
        while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#') i++;
        if (i == host) return -1;
    }
    size_t path = i;
    while (i < n && t[i] != '?' && t[i] != '#') i++;
    out->path_off = path;
    out->path_len = i - path;
    if (i < n && t[i] == '?') {
        out->has_query = 1;
        out->query_off = ++i;
        while (i < n && t[i] != '#') i++;
        out->query_len = i - out->query_off;
    }
    return 0;
}

/* Splits the query (n bytes at offset off) into decoded "name\0value\0" pairs. */
static int parse_query(gw_request_t *req, uint32_t off, size_t n) {
    req->query = req->len;
    size_t i = 0;
    while (i < n && req->n_query < MAX_QUERY_PAIRS) {
        const char *q = req->mem + off; /* the arena has room reserved: stable */
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        if (end > i) {
            const char *eq = memchr(q + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - q) : end;
            if (decode_into(req, q + i, name_end - i, 1) != 0) return -1;
            if (eq) {
                if (decode_into(req, eq + 1, end - name_end - 1, 1) != 0) return -1;
            } else {
                arena_putc(req, '\0');
            }
            req->n_query++;
        }
        i = end + 1;
    }
    return 0;
}

int gw__req_head_done(gw_request_t *req, const llhttp_t *p) {
    req->method = llhttp_method_name((llhttp_method_t)p->method);
    req->is_head = p->method == HTTP_HEAD;
    req->http10 = p->http_major == 0 || (p->http_major == 1 && p->http_minor == 0);
    req->has_head = 1;

    const char *xid = gw_req_header(req, "X-Request-Id");
    if (xid && id_is_sane(xid)) memcpy(req->id, xid, strlen(xid) + 1);
    else gw__req_ensure_id(req);

    /* Everything decoded below is at most as long as the target plus one
     * NUL per piece: reserve it now so the source never moves. */
    arena_reserve(req, (size_t)req->url_len * 2 + 2 * MAX_QUERY_PAIRS + 8);
    target_parts_t u;
    int bad = split_target(req->mem + req->url, req->url_len, p->method == HTTP_CONNECT, &u) != 0;
    req->path = req->len;
    if (!bad && u.path_len > 0) {
        bad = decode_into(req, req->mem + req->url + u.path_off, u.path_len, 0) != 0;
    } else if (!bad) {
        bad = decode_into(req, "/", 1, 0) != 0; /* "http://host" or "host:port" */
    }
    if (!bad) req->path_len = req->len - req->path - 1;
    else {
        req->len = req->path;
        arena_putc(req, '\0');
        req->path_len = 0;
    }
    if (!bad && u.has_query) bad = parse_query(req, req->url + (uint32_t)u.query_off, u.query_len) != 0;
    req->body = req->len;
    return bad ? 400 : 0;
}

void gw__req_set_params(gw_request_t *req, const gw_match_t *m) {
    /* The values point into the decoded path, in the arena: reserve first
     * and copy by offset, so that growing the arena cannot pull the source
     * away from under the copy. */
    uint32_t off[GW_ROUTER_MAX_PARAMS];
    size_t need = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        off[i] = (uint32_t)(m->params[i].value - req->mem);
        need += m->params[i].len + 1;
    }
    arena_reserve(req, need);
    req->n_params = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        req->params[i].name = m->params[i].name;
        req->params[i].value = req->len;
        memcpy(req->mem + req->len, req->mem + off[i], m->params[i].len);
        req->len += (uint32_t)m->params[i].len;
        req->mem[req->len++] = '\0';
        req->n_params++;
    }
}

void gw__req_route(gw_request_t *req, const gw_router_t *router) {
    gw_match_t m;
    req->route_status = gw_router_match(router, req->method, gw_req_path(req), req->path_len, &m);
    req->route = req->route_status == 0 ? m.route : NULL;
    if (req->route_status == 405) memcpy(req->allow, m.allow, sizeof req->allow);
    if (req->route_status == 0) gw__req_set_params(req, &m);
    req->body = req->len; /* the body follows the parameters */
}

void gw__req_set_user(gw_request_t *req, const char *sub, const char *role) {
    size_t n = strlen(sub), r = strlen(role);
    if (n >= sizeof req->user || r >= sizeof req->role) return; /* the JWT module bounds both */
    memcpy(req->user, sub, n + 1);
    memcpy(req->role, role, r + 1);
    req->has_user = 1;
}

/* ---- accessors ---- */

const char *gw_req_method(const gw_request_t *req) { return req->method; }

const char *gw_req_path(const gw_request_t *req) { return req->has_head ? req->mem + req->path : ""; }

const char *gw_req_param(const gw_request_t *req, const char *name) {
    for (uint32_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0) return req->mem + req->params[i].value;
    return NULL;
}

const char *gw_req_query(const gw_request_t *req, const char *name) {
    if (req->n_query == 0) return NULL;
    const char *p = req->mem + req->query;
    for (uint32_t i = 0; i < req->n_query; i++) {
        size_t n = strlen(p);
        const char *value = p + n + 1;
        if (strcmp(p, name) == 0) return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

const char *gw_req_header(const gw_request_t *req, const char *name) {
    for (uint32_t i = 0; i < req->n_hdrs; i++)
        if (strcasecmp(req->mem + req->hdrs[i].name, name) == 0) return req->mem + req->hdrs[i].value;
    return NULL;
}

const char *gw_req_body(const gw_request_t *req, size_t *len) {
    if (len) *len = req->body_len;
    return req->has_head && req->mem ? req->mem + req->body : "";
}

int gw_req_idempotency_key(const gw_request_t *req, const char **out) {
    const char *k = gw_req_header(req, "Idempotency-Key");
    *out = NULL;
    if (k == NULL) return 0;
    size_t n = 0;
    for (; k[n]; n++)
        if (k[n] < 0x21 || k[n] > 0x7e || n >= GW_IDEMPOTENCY_KEY_MAX) return -1;
    if (n == 0) return -1;
    *out = k;
    return 1;
}

void gw_req_set_command_key(gw_request_t *req, const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > GW_IDEMPOTENCY_KEY_MAX) return;
    memcpy(req->cmd_key, key, n + 1);
}

const char *gw__req_answer_key(const gw_request_t *req) {
    if (req->cmd_key[0]) return req->cmd_key;
    const char *k;
    /* Answers to writes refused before a command was formed (auth, body)
     * still tell the client which key they were about. */
    if (req->unsafe && req->has_head && gw_req_idempotency_key(req, &k) == 1) return k;
    return NULL;
}

int64_t gw_req_content_length(const gw_request_t *req) { return req->content_length; }
const char *gw_req_id(const gw_request_t *req) { return req->id; }

const char *gw_req_user(const gw_request_t *req) { return req->has_user ? req->user : NULL; }
const char *gw_req_role(const gw_request_t *req) { return req->has_user ? req->role : NULL; }
int gw_req_abandoned(const gw_request_t *req) { return req->conn == NULL || req->conn->closing; }
int gw_req_client_closed(const gw_request_t *req) { return gw_req_abandoned(req) || req->conn->eof; }
uint64_t gw_req_start_us(const gw_request_t *req) { return req->start_us; }
