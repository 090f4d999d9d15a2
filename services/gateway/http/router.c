/* router.c - route table and matching (see router.h).
 *
 * Routes are kept in registration order as pre-split segment lists; a match
 * scans them all (tens of routes, a few hundred ns). Called by app.c to add
 * and by conn.c once per request to match. */
#include "router.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
enum { M_GET = 0, M_HEAD = 1, N_METHODS = 6 };

typedef struct segment_s {
    const char *text; /* literal text, or the parameter name; NUL-terminated */
    size_t len;
    int is_param;
} segment_t;

typedef struct entry_s {
    gw_route_t route;
    int method_id;
    char *storage; /* one allocation: method, pattern, then the split segments */
    size_t n_segs;
    segment_t segs[GW_ROUTER_MAX_SEGMENTS];
    uint32_t score; /* literal segment i sets bit 31-i: earlier literals win */
} entry_t;

struct gw_router_s {
    entry_t *entries;
    size_t n, cap;
};

static int method_id(const char *m, size_t len) {
    for (int i = 0; i < N_METHODS; i++)
        if (strlen(methods[i]) == len && memcmp(methods[i], m, len) == 0) return i;
    return -1;
}

gw_router_t *gw_router_new(void) { return sms_calloc(1, sizeof(gw_router_t)); }

void gw_router_free(gw_router_t *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->n; i++) sms_free(r->entries[i].storage);
    sms_free(r->entries);
    sms_free(r);
}

size_t gw_router_count(const gw_router_t *r) { return r->n; }

const gw_route_t *gw_router_route(const gw_router_t *r, size_t i) { return i < r->n ? &r->entries[i].route : NULL; }

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Splits the writable copy of a pattern (starting at '/') into e->segs.
 * Returns 0 or -EINVAL. */
static int split_pattern(char *p, entry_t *e) {
    if (*p != '/') return -EINVAL;
    e->n_segs = 0;
    e->score = 0;
    if (p[1] == '\0') return 0; /* "/" has no segments */
    size_t n_params = 0;
    while (*p == '/') {
        *p++ = '\0';
        char *start = p;
        while (*p && *p != '/') {
            unsigned char c = (unsigned char)*p;
            if (c <= 0x20 || c >= 0x7f) return -EINVAL;
            p++;
        }
        size_t len = (size_t)(p - start);
        if (len == 0 || e->n_segs == GW_ROUTER_MAX_SEGMENTS) return -EINVAL;
        segment_t *s = &e->segs[e->n_segs];
        if (start[0] == '{') {
            if (len < 3 || start[len - 1] != '}' || n_params == GW_ROUTER_MAX_PARAMS) return -EINVAL;
            for (size_t i = 1; i + 1 < len; i++)
                if (!is_name_char(start[i])) return -EINVAL;
            s->text = start + 1;
            s->len = len - 2;
            s->is_param = 1;
            for (size_t i = 0; i < e->n_segs; i++)
                if (e->segs[i].is_param && e->segs[i].len == s->len && memcmp(e->segs[i].text, s->text, s->len) == 0)
                    return -EINVAL;
            n_params++;
        } else {
            if (memchr(start, '{', len) || memchr(start, '}', len)) return -EINVAL;
            s->text = start;
            s->len = len;
            s->is_param = 0;
            e->score |= 1u << (31 - e->n_segs);
        }
        e->n_segs++;
        if (*p == '/' && p[1] == '\0') return -EINVAL; /* trailing slash */
    }
    /* NUL-terminate parameter names in place: the closing '}' becomes '\0'. */
    for (size_t i = 0; i < e->n_segs; i++)
        if (e->segs[i].is_param) ((char *)e->segs[i].text)[e->segs[i].len] = '\0';
    return *p == '\0' ? 0 : -EINVAL;
}

/* Same shape: same literals at the same places, parameters anywhere else. */
static int same_shape(const entry_t *a, const entry_t *b) {
    if (a->n_segs != b->n_segs || a->score != b->score) return 0;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->segs[i].is_param) continue;
        if (a->segs[i].len != b->segs[i].len || memcmp(a->segs[i].text, b->segs[i].text, a->segs[i].len) != 0)
            return 0;
    }
    return 1;
}

int gw_router_add(gw_router_t *r, const char *method, const char *pattern, unsigned flags,
                  unsigned roles, gw_handler_fn fn, void *data) {
    if (r == NULL || method == NULL || pattern == NULL || fn == NULL) return -EINVAL;
    int mid = method_id(method, strlen(method));
    if (mid < 0 || mid == M_HEAD) return -EINVAL;
    if ((flags & GW_ROUTE_AUTH) && (roles & GW_ROLE_ANY) == 0) return -EINVAL;

    size_t mlen = strlen(method), plen = strlen(pattern);
    entry_t e;
    memset(&e, 0, sizeof e);
    /* storage: method\0 pattern\0 split-copy-of-pattern\0 */
    e.storage = sms_malloc(mlen + 1 + 2 * (plen + 1));
    char *m = e.storage, *pat = m + mlen + 1, *split = pat + plen + 1;
    memcpy(m, method, mlen + 1);
    memcpy(pat, pattern, plen + 1);
    memcpy(split, pattern, plen + 1);
    int rc = split_pattern(split, &e);
    if (rc != 0) goto fail;
    for (size_t i = 0; i < r->n; i++) {
        if (r->entries[i].method_id == mid && same_shape(&r->entries[i], &e)) {
            rc = -EEXIST;
            goto fail;
        }
    }
    e.method_id = mid;
    e.route.method = m;
    e.route.pattern = pat;
    e.route.flags = flags;
    e.route.roles = roles;
    e.route.fn = fn;
    e.route.data = data;
    e.route.index = r->n;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->entries = sms_realloc(r->entries, r->cap * sizeof *r->entries);
    }
    r->entries[r->n++] = e;
    return 0;
fail:
    sms_free(e.storage);
    return rc;
}

/* Does path (already split) match e? Fills params in m when it does. */
static int entry_matches(const entry_t *e, const char *const *seg, const size_t *seg_len, size_t n,
                         gw_match_t *m) {
    if (e->n_segs != n) return 0;
    for (size_t i = 0; i < n; i++) {
        const segment_t *s = &e->segs[i];
        if (s->is_param) {
            if (seg_len[i] == 0) return 0;
        } else if (s->len != seg_len[i] || memcmp(s->text, seg[i], s->len) != 0) {
            return 0;
        }
    }
    if (m) {
        m->n_params = 0;
        for (size_t i = 0; i < n; i++) {
            if (!e->segs[i].is_param) continue;
            m->params[m->n_params].name = e->segs[i].text;
            m->params[m->n_params].value = seg[i];
            m->params[m->n_params].len = seg_len[i];
            m->n_params++;
        }
    }
    return 1;
}

static void format_allow(unsigned mask, char *out, size_t cap) {
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < N_METHODS; i++) {
        if (!(mask & (1u << i))) continue;
        size_t len = strlen(methods[i]);
        if (off + len + 3 > cap) break; /* cannot happen: six short names fit in 64 */
        if (off) { out[off++] = ','; out[off++] = ' '; }
        memcpy(out + off, methods[i], len + 1);
        off += len;
    }
}

int gw_router_match(const gw_router_t *r, const char *method, const char *path, size_t path_len,
                    gw_match_t *m) {
    m->route = NULL;
    m->status = 404;
    m->allow[0] = '\0';
    m->n_params = 0;
    if (path_len == 0 || path[0] != '/') return m->status;

    const char *seg[GW_ROUTER_MAX_SEGMENTS];
    size_t seg_len[GW_ROUTER_MAX_SEGMENTS];
    size_t n = 0;
    if (path_len > 1) {
        size_t i = 1;
        for (;;) {
            if (n == GW_ROUTER_MAX_SEGMENTS) return m->status; /* deeper than any pattern */
            const char *slash = memchr(path + i, '/', path_len - i);
            size_t end = slash ? (size_t)(slash - path) : path_len;
            seg[n] = path + i;
            seg_len[n] = end - i;
            n++;
            if (slash == NULL) break;
            i = end + 1;
        }
    }

    int mid = method_id(method, strlen(method));
    unsigned allowed = 0;
    const entry_t *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const entry_t *e = &r->entries[i];
        if (!entry_matches(e, seg, seg_len, n, NULL)) continue;
        allowed |= 1u << e->method_id;
        int ok = e->method_id == mid || (mid == M_HEAD && e->method_id == M_GET);
        if (ok && (best == NULL || e->score > best->score)) best = e;
    }
    if (best) {
        (void)entry_matches(best, seg, seg_len, n, m); /* fills params; known to match */
        m->route = &best->route;
        m->status = 0;
        return 0;
    }
    if (allowed) {
        if (allowed & (1u << M_GET)) allowed |= 1u << M_HEAD;
        format_allow(allowed, m->allow, sizeof m->allow);
        m->status = 405;
    }
    return m->status;
}
