/* metrics.c - the Prometheus registry and text exposition (see metrics.h).
 * Called by the gateway (routes, bus, server) and the worker; calls only
 * buf.c, alloc.c and log.c. Values are 64-bit atomics updated relaxed: an
 * observation is a bucket search over <= 24 bounds and two atomic adds. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

const uint64_t sms_metrics_latency_us[SMS_METRICS_LATENCY_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
const uint64_t sms_metrics_size_buckets[SMS_METRICS_SIZE_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024,
                                                                     2048, 4096};

#define MAX_LABELS 8

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_GAUGE_FN, KIND_COUNTER_FN } kind_t;

struct sms_metric_s {
    struct sms_metric_s *next; /* the family's next series */
    kind_t kind;
    char *labels; /* rendered: `a="x",b="y"` or "" */
    /* Built at the first render: every line's text up to its value ("name_bucket{...,le="0.001"} "),
     * back to back, line i at pre + pre_off[i], pre_off[i + 1] - pre_off[i] long. */
    char *pre;
    size_t *pre_off;
    int64_t value;
    /* histograms */
    const uint64_t *bounds;
    size_t n_bounds;
    double scale;
    uint64_t sum;
    uint64_t *buckets; /* n_bounds + 1 (the last is +Inf), not cumulative */
    /* gauge_fn */
    double (*fn)(void *ctx);
    void *ctx;
};

typedef struct family_s {
    char *name;
    char *help;
    kind_t kind;
    sms_metric_t *head, *tail;
} family_t;

struct sms_metrics_s {
    pthread_mutex_t mu;
    family_t *fams;
    size_t n_fams, cap_fams;
};

sms_metrics_t *sms_metrics_new(void) {
    sms_metrics_t *m = sms_calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void sms_metrics_free(sms_metrics_t *m) {
    if (m == NULL) return;
    for (size_t i = 0; i < m->n_fams; i++) {
        family_t *f = &m->fams[i];
        sms_metric_t *s = f->head;
        while (s) {
            sms_metric_t *next = s->next;
            sms_free(s->labels);
            sms_free(s->pre);
            sms_free(s->pre_off);
            sms_free(s->buckets);
            sms_free(s);
            s = next;
        }
        sms_free(f->name);
        sms_free(f->help);
    }
    sms_free(m->fams);
    pthread_mutex_destroy(&m->mu);
    sms_free(m);
}

static bool valid_name(const char *s, bool is_label) {
    if (s == NULL || *s == '\0') return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (!is_label && *p == ':');
        bool digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != s)) return false;
    }
    return true;
}

static void put_escaped(sms_buf_t *b, const char *v, bool help) {
    for (const char *p = v; *p; p++) {
        if (*p == '\\') sms_buf_puts(b, "\\\\");
        else if (*p == '\n') sms_buf_puts(b, "\\n");
        else if (*p == '"' && !help) sms_buf_puts(b, "\\\"");
        else sms_buf_putc(b, *p);
    }
}

/* Renders the NULL-terminated name/value pairs of ap; NULL if a name is bad. */
static char *render_labels(const char *metric, va_list ap) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_buf_append(&b, "", 0); /* "" when there are no labels (take alone leaves it unterminated) */
    for (int n = 0;; n++) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) break;
        const char *v = va_arg(ap, const char *);
        if (n == MAX_LABELS || !valid_name(k, true) || strcmp(k, "le") == 0 || v == NULL) {
            sms_log(SMS_LOG_ERROR, "metric_invalid", "%s: label %d (%s) refused", metric, n, k);
            sms_buf_close(&b);
            return NULL;
        }
        if (n) sms_buf_putc(&b, ',');
        sms_buf_printf(&b, "%s=\"", k);
        put_escaped(&b, v, false);
        sms_buf_putc(&b, '"');
    }
    return sms_buf_take(&b, NULL);
}

static sms_metric_t *add_series(sms_metrics_t *m, const char *name, const char *help, kind_t kind, va_list ap) {
    if (m == NULL) return NULL;
    if (!valid_name(name, false) || help == NULL) {
        sms_log(SMS_LOG_ERROR, "metric_invalid", "bad metric name '%s'", name ? name : "(null)");
        return NULL;
    }
    char *labels = render_labels(name, ap);
    if (labels == NULL) return NULL;
    kind_t fkind = kind == KIND_GAUGE_FN ? KIND_GAUGE : kind == KIND_COUNTER_FN ? KIND_COUNTER : kind;
    pthread_mutex_lock(&m->mu);
    family_t *f = NULL;
    for (size_t i = 0; i < m->n_fams; i++)
        if (strcmp(m->fams[i].name, name) == 0) f = &m->fams[i];
    sms_metric_t *s = NULL;
    if (f && f->kind != fkind) {
        sms_log(SMS_LOG_ERROR, "metric_invalid", "%s registered with two types", name);
        goto out;
    }
    if (f == NULL) {
        if (m->n_fams == m->cap_fams) {
            m->cap_fams = m->cap_fams ? 2 * m->cap_fams : 32;
            m->fams = sms_realloc(m->fams, m->cap_fams * sizeof *m->fams);
        }
        f = &m->fams[m->n_fams++];
        *f = (family_t){.name = sms_strdup(name), .help = sms_strdup(help), .kind = fkind};
    }
    for (s = f->head; s; s = s->next)
        if (strcmp(s->labels, labels) == 0 && s->kind == kind) goto out;
    s = sms_calloc(1, sizeof *s);
    s->kind = kind;
    s->labels = labels;
    labels = NULL;
    if (f->tail) f->tail->next = s;
    else f->head = s;
    f->tail = s;
out:
    pthread_mutex_unlock(&m->mu);
    sms_free(labels);
    return s;
}

sms_metric_t *sms_metrics_counter(sms_metrics_t *m, const char *name, const char *help, ...) {
    va_list ap;
    va_start(ap, help);
    sms_metric_t *s = add_series(m, name, help, KIND_COUNTER, ap);
    va_end(ap);
    return s;
}

sms_metric_t *sms_metrics_gauge(sms_metrics_t *m, const char *name, const char *help, ...) {
    va_list ap;
    va_start(ap, help);
    sms_metric_t *s = add_series(m, name, help, KIND_GAUGE, ap);
    va_end(ap);
    return s;
}

static sms_metric_t *add_fn(sms_metrics_t *m, const char *name, const char *help, kind_t kind,
                            double (*fn)(void *ctx), void *ctx, va_list ap) {
    if (fn == NULL) return NULL;
    sms_metric_t *s = add_series(m, name, help, kind, ap);
    if (s) {
        pthread_mutex_lock(&m->mu);
        s->fn = fn;
        s->ctx = ctx;
        pthread_mutex_unlock(&m->mu);
    }
    return s;
}

sms_metric_t *sms_metrics_gauge_fn(sms_metrics_t *m, const char *name, const char *help, double (*fn)(void *ctx),
                                   void *ctx, ...) {
    va_list ap;
    va_start(ap, ctx);
    sms_metric_t *s = add_fn(m, name, help, KIND_GAUGE_FN, fn, ctx, ap);
    va_end(ap);
    return s;
}

sms_metric_t *sms_metrics_counter_fn(sms_metrics_t *m, const char *name, const char *help, double (*fn)(void *ctx),
                                     void *ctx, ...) {
    va_list ap;
    va_start(ap, ctx);
    sms_metric_t *s = add_fn(m, name, help, KIND_COUNTER_FN, fn, ctx, ap);
    va_end(ap);
    return s;
}

sms_metric_t *sms_metrics_histogram(sms_metrics_t *m, const char *name, const char *help, const uint64_t *bounds,
                                    size_t n, double scale, ...) {
    if (bounds == NULL || n == 0 || n > SMS_METRICS_MAX_BUCKETS || scale <= 0) {
        sms_log(SMS_LOG_ERROR, "metric_invalid", "%s: bad buckets", name ? name : "(null)");
        return NULL;
    }
    for (size_t i = 1; i < n; i++)
        if (bounds[i] <= bounds[i - 1]) {
            sms_log(SMS_LOG_ERROR, "metric_invalid", "%s: buckets not ascending", name);
            return NULL;
        }
    va_list ap;
    va_start(ap, scale);
    sms_metric_t *s = add_series(m, name, help, KIND_HISTOGRAM, ap);
    va_end(ap);
    if (s == NULL) return NULL;
    pthread_mutex_lock(&m->mu);
    if (s->buckets == NULL) { /* new (an existing one keeps its buckets) */
        s->bounds = bounds;
        s->n_bounds = n;
        s->scale = scale;
        s->buckets = sms_calloc(n + 1, sizeof *s->buckets);
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

void sms_metric_add(sms_metric_t *s, uint64_t n) {
    if (s) __atomic_fetch_add(&s->value, (int64_t)n, __ATOMIC_RELAXED);
}
void sms_metric_inc(sms_metric_t *s) { sms_metric_add(s, 1); }
void sms_metric_dec(sms_metric_t *s) {
    if (s) __atomic_fetch_sub(&s->value, 1, __ATOMIC_RELAXED);
}
void sms_metric_set(sms_metric_t *s, int64_t v) {
    if (s) __atomic_store_n(&s->value, v, __ATOMIC_RELAXED);
}
int64_t sms_metric_value(const sms_metric_t *s) { return s ? __atomic_load_n(&s->value, __ATOMIC_RELAXED) : 0; }

void sms_metric_observe(sms_metric_t *s, uint64_t v) {
    if (s == NULL || s->buckets == NULL) return;
    size_t i = 0;
    while (i < s->n_bounds && v > s->bounds[i]) i++;
    __atomic_fetch_add(&s->buckets[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->sum, v, __ATOMIC_RELAXED);
}

/* A float as Prometheus reads it (integers without exponent noise) into out[64]. */
static void format_number(char *out, size_t cap, double v) {
    if (isnan(v)) snprintf(out, cap, "NaN");
    else if (v < 9e15 && v > -9e15 && v == (double)(int64_t)v) snprintf(out, cap, "%lld", (long long)v);
    else snprintf(out, cap, "%.9g", v);
}

static void put_number(sms_buf_t *b, double v) {
    char n[64];
    format_number(n, sizeof n, v);
    sms_buf_puts(b, n);
}

static void put_series_name(sms_buf_t *b, const char *name, const char *suffix, const char *labels,
                            const char *extra) {
    sms_buf_puts(b, name);
    sms_buf_puts(b, suffix);
    if (*labels || extra) {
        sms_buf_putc(b, '{');
        sms_buf_puts(b, labels);
        if (extra) {
            if (*labels) sms_buf_putc(b, ',');
            sms_buf_puts(b, extra);
        }
        sms_buf_putc(b, '}');
    }
    sms_buf_putc(b, ' ');
}

/* s's line prefixes (see sms_metric_s.pre): histograms n_bounds + 1 buckets, _sum, _count; others one. */
static void build_prefixes(const char *name, sms_metric_t *s) {
    size_t n = s->kind == KIND_HISTOGRAM ? s->n_bounds + 3 : 1;
    sms_buf_t b;
    sms_buf_init(&b);
    s->pre_off = sms_malloc((n + 1) * sizeof *s->pre_off);
    char le[64], num[48];
    for (size_t i = 0; i < n; i++) {
        s->pre_off[i] = b.len;
        if (s->kind != KIND_HISTOGRAM) put_series_name(&b, name, "", s->labels, NULL);
        else if (i < s->n_bounds) {
            format_number(num, sizeof num, (double)s->bounds[i] * s->scale);
            snprintf(le, sizeof le, "le=\"%s\"", num);
            put_series_name(&b, name, "_bucket", s->labels, le);
        } else if (i == s->n_bounds) put_series_name(&b, name, "_bucket", s->labels, "le=\"+Inf\"");
        else put_series_name(&b, name, i == s->n_bounds + 1 ? "_sum" : "_count", s->labels, NULL);
    }
    s->pre_off[n] = b.len;
    s->pre = sms_buf_take(&b, NULL);
}

static void put_line(sms_buf_t *b, const sms_metric_t *s, size_t i) {
    sms_buf_append(b, s->pre + s->pre_off[i], s->pre_off[i + 1] - s->pre_off[i]);
}

/* v in decimal and a newline, without printf (a gateway scrape has thousands of lines). */
static void put_u64_line(sms_buf_t *b, uint64_t v, bool negative) {
    char tmp[24];
    size_t n = sizeof tmp;
    tmp[--n] = '\n';
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative) tmp[--n] = '-';
    sms_buf_append(b, tmp + n, sizeof tmp - n);
}

static void put_i64_line(sms_buf_t *b, int64_t v) {
    put_u64_line(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

static void render_histogram(sms_buf_t *b, const sms_metric_t *s) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= s->n_bounds; i++) {
        cumulative += __atomic_load_n(&s->buckets[i], __ATOMIC_RELAXED);
        put_line(b, s, i);
        put_u64_line(b, cumulative, false);
    }
    put_line(b, s, s->n_bounds + 1);
    put_number(b, (double)__atomic_load_n(&s->sum, __ATOMIC_RELAXED) * s->scale);
    sms_buf_putc(b, '\n');
    put_line(b, s, s->n_bounds + 2);
    put_u64_line(b, cumulative, false);
}

void sms_metrics_render(sms_metrics_t *m, sms_buf_t *out) {
    static const char *const type_names[] = {"counter", "gauge", "histogram", "gauge", "counter"};
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_fams; i++) {
        const family_t *f = &m->fams[i];
        sms_buf_printf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, true);
        sms_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->kind]);
        for (sms_metric_t *s = f->head; s; s = s->next) {
            if (s->pre == NULL) build_prefixes(f->name, s); /* under the mutex: registration cannot race it */
            switch (s->kind) {
            case KIND_HISTOGRAM: render_histogram(out, s); break;
            case KIND_GAUGE_FN:
            case KIND_COUNTER_FN:
                put_line(out, s, 0);
                put_number(out, s->fn(s->ctx));
                sms_buf_putc(out, '\n');
                break;
            default:
                put_line(out, s, 0);
                put_i64_line(out, __atomic_load_n(&s->value, __ATOMIC_RELAXED));
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
}
