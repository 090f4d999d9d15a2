/* metrics.h - Prometheus metrics: a registry of counters, gauges and
 * histograms, and the text exposition format (version 0.0.4) they render to.
 *
 * Every sms process makes one registry at start, registers each series it
 * will update (name + fixed label values) and keeps the returned handle; the
 * hot path only adds to a handle: one relaxed atomic add, no lock, no
 * allocation, safe from any thread. The gateway serves the rendering on
 * GET /metrics; worker processes through metrics_http.h on their own port.
 *
 * Registration and rendering take the registry's mutex (they may run on
 * different threads: a worker's listener renders while the worker registers
 * a series it meets for the first time, e.g. an event type). Series are
 * never removed before sms_metrics_free. */
#ifndef SMS_METRICS_H
#define SMS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct sms_metrics_s sms_metrics_t;
typedef struct sms_metric_s sms_metric_t; /* one series (a name and its label values) */

/* Histogram buckets (upper bounds, ascending, integers in the observed unit).
 * SMS_METRICS_LATENCY_US: microseconds, 0.25 ms .. 10 s, rendered in seconds. */
#define SMS_METRICS_LATENCY_BUCKETS 15
extern const uint64_t sms_metrics_latency_us[SMS_METRICS_LATENCY_BUCKETS];
/* Sizes: 1 .. 4096 in powers of two (batch sizes, queue depths). */
#define SMS_METRICS_SIZE_BUCKETS 13
extern const uint64_t sms_metrics_size_buckets[SMS_METRICS_SIZE_BUCKETS];
#define SMS_METRICS_MAX_BUCKETS 24

/* A new empty registry (free with sms_metrics_free). */
sms_metrics_t *sms_metrics_new(void);
/* Frees the registry and every series; handles become invalid. NULL is a no-op. */
void sms_metrics_free(sms_metrics_t *m);

/* Registration. name: [a-zA-Z_:][a-zA-Z0-9_:]* (a counter's should end in
 * _total). help: one line. Then label name/value pairs, NULL-terminated:
 *   sms_metrics_counter(m, "sms_http_requests_total", "...", "route", "/x", "code", "2xx", NULL);
 * Values are escaped here (\\, ", newline). Every series of one name must be
 * of one type and the same help; the family renders once, in the order its
 * names were first registered, its series in registration order. Registering
 * the same name and labels again returns the existing series.
 * Returns the series (owned by the registry), or NULL on a bad name, a type
 * clash or more than 8 labels (a programming error: logged). */
sms_metric_t *sms_metrics_counter(sms_metrics_t *m, const char *name, const char *help, ...)
    __attribute__((sentinel));
sms_metric_t *sms_metrics_gauge(sms_metrics_t *m, const char *name, const char *help, ...) __attribute__((sentinel));
/* bounds[0..n) ascending (n <= SMS_METRICS_MAX_BUCKETS; +Inf is implied);
 * an observation v lands in the first bucket with v <= bound. scale: what one
 * observed unit is in the rendered unit (1e-6 for µs rendered as seconds, 1
 * for counts); bounds and _sum are rendered multiplied by it. bounds is
 * borrowed: keep it static. */
sms_metric_t *sms_metrics_histogram(sms_metrics_t *m, const char *name, const char *help, const uint64_t *bounds,
                                    size_t n, double scale, ...) __attribute__((sentinel));
/* A gauge read at render time: fn(ctx) on the rendering thread (the
 * gateway's loop; never use with a listener thread unless fn is thread-safe). */
sms_metric_t *sms_metrics_gauge_fn(sms_metrics_t *m, const char *name, const char *help, double (*fn)(void *ctx),
                                   void *ctx, ...) __attribute__((sentinel));

/* A counter read at render time, the same way (a total kept elsewhere). */
sms_metric_t *sms_metrics_counter_fn(sms_metrics_t *m, const char *name, const char *help, double (*fn)(void *ctx),
                                     void *ctx, ...) __attribute__((sentinel));

/* Updates; a NULL series is a no-op (registration failed, already logged). */
void sms_metric_inc(sms_metric_t *s);                 /* counter/gauge += 1 */
void sms_metric_add(sms_metric_t *s, uint64_t n);     /* counter/gauge += n */
void sms_metric_dec(sms_metric_t *s);                 /* gauge -= 1 */
void sms_metric_set(sms_metric_t *s, int64_t v);      /* gauge = v */
void sms_metric_observe(sms_metric_t *s, uint64_t v); /* histogram: one observation of v units */
/* The current value of a counter or gauge (tests, the stats line). */
int64_t sms_metric_value(const sms_metric_t *s);

/* Appends the text exposition of every series to out: "# HELP", "# TYPE",
 * then one line per series (histograms: cumulative _bucket{le=...} lines,
 * _sum, _count). Thread-safe against updates (each value is read once,
 * atomically; a histogram's lines may straddle a concurrent observation). */
void sms_metrics_render(sms_metrics_t *m, sms_buf_t *out);

/* The Content-Type of the rendering. */
#define SMS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
