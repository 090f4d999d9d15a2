/* test_metrics.c - common/metrics and metrics_http: the exact text
 * exposition (HELP/TYPE once per family, escaped labels, cumulative buckets
 * with le in seconds, _sum/_count), registration rules, concurrent updates,
 * and the listener's answers on 127.0.0.1 port 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "metrics.h"
#include "metrics_http.h"

static char *render(sms_metrics_t *m) {
    sms_buf_t b;
    sms_buf_init(&b);
    sms_metrics_render(m, &b);
    return sms_buf_take(&b, NULL);
}

static void test_counter_gauge_exact(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    sms_metric_t *a = sms_metrics_counter(m, "sms_x_total", "Things done.", "route", "/a/{id}", "code", "2xx", NULL);
    sms_metric_t *b = sms_metrics_counter(m, "sms_x_total", "Things done.", "route", "q\"\\\nz", "code", "5xx", NULL);
    sms_metric_t *g = sms_metrics_gauge(m, "sms_open", "Open \\ now\nx.", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(g);
    /* The same name and labels again: the same series. */
    assert_ptr_equal(sms_metrics_counter(m, "sms_x_total", "Things done.", "route", "/a/{id}", "code", "2xx", NULL), a);
    sms_metric_inc(a);
    sms_metric_add(a, 41);
    sms_metric_set(g, 7);
    sms_metric_dec(g);
    assert_int_equal(sms_metric_value(a), 42);
    char *text = render(m);
    assert_string_equal(text, "# HELP sms_x_total Things done.\n"
                              "# TYPE sms_x_total counter\n"
                              "sms_x_total{route=\"/a/{id}\",code=\"2xx\"} 42\n"
                              "sms_x_total{route=\"q\\\"\\\\\\nz\",code=\"5xx\"} 0\n"
                              "# HELP sms_open Open \\\\ now\\nx.\n"
                              "# TYPE sms_open gauge\n"
                              "sms_open 6\n");
    sms_free(text);
    sms_metrics_free(m);
}

static void test_histogram_exact(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    static const uint64_t bounds[] = {1000, 2500, 1000000};
    sms_metric_t *h = sms_metrics_histogram(m, "sms_lat_seconds", "Latency.", bounds, 3, 1e-6, "route", "/r", NULL);
    assert_non_null(h);
    sms_metric_observe(h, 1000);    /* on a bound: that bucket */
    sms_metric_observe(h, 1001);    /* just over: the next */
    sms_metric_observe(h, 2000000); /* past all: +Inf */
    char *text = render(m);
    assert_string_equal(text, "# HELP sms_lat_seconds Latency.\n"
                              "# TYPE sms_lat_seconds histogram\n"
                              "sms_lat_seconds_bucket{route=\"/r\",le=\"0.001\"} 1\n"
                              "sms_lat_seconds_bucket{route=\"/r\",le=\"0.0025\"} 2\n"
                              "sms_lat_seconds_bucket{route=\"/r\",le=\"1\"} 2\n"
                              "sms_lat_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3\n"
                              "sms_lat_seconds_sum{route=\"/r\"} 2.002001\n"
                              "sms_lat_seconds_count{route=\"/r\"} 3\n");
    sms_free(text);
    /* Unlabelled, counted in units of 1. */
    sms_metrics_t *m2 = sms_metrics_new();
    sms_metric_t *s = sms_metrics_histogram(m2, "sms_batch_size", "Sizes.", sms_metrics_size_buckets, 2, 1, NULL);
    sms_metric_observe(s, 2);
    sms_metric_observe(s, 2);
    text = render(m2);
    assert_string_equal(text, "# HELP sms_batch_size Sizes.\n"
                              "# TYPE sms_batch_size histogram\n"
                              "sms_batch_size_bucket{le=\"1\"} 0\n"
                              "sms_batch_size_bucket{le=\"2\"} 2\n"
                              "sms_batch_size_bucket{le=\"+Inf\"} 2\n"
                              "sms_batch_size_sum 4\n"
                              "sms_batch_size_count 2\n");
    sms_free(text);
    sms_metrics_free(m2);
    sms_metrics_free(m);
}

static void test_integer_edges(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    sms_metric_t *g = sms_metrics_gauge(m, "sms_g", "g", "k", "v", NULL);
    sms_metric_t *c = sms_metrics_counter(m, "sms_c_total", "c", NULL);
    sms_metric_set(g, -1234567890123LL);
    sms_metric_add(c, 18446744073709ULL);
    char *text = render(m);
    assert_string_equal(text, "# HELP sms_g g\n# TYPE sms_g gauge\nsms_g{k=\"v\"} -1234567890123\n"
                              "# HELP sms_c_total c\n# TYPE sms_c_total counter\nsms_c_total 18446744073709\n");
    sms_free(text);
    sms_metric_set(g, 0);
    text = render(m); /* rendered again from the same prefixes */
    assert_non_null(strstr(text, "sms_g{k=\"v\"} 0\n"));
    sms_free(text);
    sms_metrics_free(m);
}

static double forty_two(void *ctx) { return *(double *)ctx; }

static void test_gauge_fn_and_refusals(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    double v = 1.5;
    assert_non_null(sms_metrics_gauge_fn(m, "sms_fn", "Read at render.", forty_two, &v, "k", "v", NULL));
    /* Refused: bad names, a type clash, a label named le, buckets not ascending. */
    assert_null(sms_metrics_counter(m, "9bad", "x", NULL));
    assert_null(sms_metrics_counter(m, "sms_fn", "x", NULL));
    assert_null(sms_metrics_counter(m, "sms_ok_total", "x", "le", "1", NULL));
    assert_null(sms_metrics_counter(m, "sms_ok_total", "x", "bad-label", "1", NULL));
    static const uint64_t down[] = {5, 1};
    assert_null(sms_metrics_histogram(m, "sms_h", "x", down, 2, 1, NULL));
    sms_metric_inc(NULL); /* a failed registration's NULL is a no-op */
    sms_metric_observe(NULL, 1);
    char *text = render(m);
    assert_string_equal(text, "# HELP sms_fn Read at render.\n# TYPE sms_fn gauge\nsms_fn{k=\"v\"} 1.5\n");
    sms_free(text);
    sms_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 100000
static void *hammer(void *arg) {
    sms_metric_t **s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        sms_metric_inc(s[0]);
        sms_metric_observe(s[1], (uint64_t)(i % 3000));
    }
    return NULL;
}

static void test_concurrent_updates(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    sms_metric_t *s[2] = {
        sms_metrics_counter(m, "sms_c_total", "c", NULL),
        sms_metrics_histogram(m, "sms_h_seconds", "h", sms_metrics_latency_us, SMS_METRICS_LATENCY_BUCKETS, 1e-6, NULL),
    };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, hammer, s), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    assert_int_equal(sms_metric_value(s[0]), THREADS * PER_THREAD);
    char *text = render(m);
    char want[64];
    snprintf(want, sizeof want, "sms_h_seconds_count %d\n", THREADS * PER_THREAD);
    assert_non_null(strstr(text, want));
    sms_free(text);
    sms_metrics_free(m);
}

/* One HTTP exchange with the listener: the whole answer. */
static void fetch(int port, const char *request, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = recv(fd, out + len, cap - 1 - len, 0)) > 0) len += (size_t)r;
    out[len] = '\0';
    close(fd);
}

static void test_listener(void **state) {
    (void)state;
    sms_metrics_t *m = sms_metrics_new();
    sms_metric_inc(sms_metrics_counter(m, "sms_up_total", "u", NULL));
    sms_metrics_http_t *h;
    assert_int_equal(sms_metrics_http_start(m, "127.0.0.1", 0, "s3cret", &h), 0);
    int port = sms_metrics_http_port(h);
    assert_true(port > 0);
    char buf[4096];
    fetch(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\n# HELP sms_up_total u\n# TYPE sms_up_total counter\nsms_up_total 1\n"));
    fetch(port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 401 "));
    fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 401 "));
    fetch(port, "GET /other HTTP/1.1\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 404 "));
    fetch(port, "POST /metrics HTTP/1.1\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 405 "));
    sms_metrics_http_stop(h);
    /* Without a token anyone may scrape. */
    assert_int_equal(sms_metrics_http_start(m, "127.0.0.1", 0, NULL, &h), 0);
    fetch(sms_metrics_http_port(h), "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.0 200 OK\r\n"));
    sms_metrics_http_stop(h);
    sms_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_exact), cmocka_unit_test(test_histogram_exact),
        cmocka_unit_test(test_gauge_fn_and_refusals), cmocka_unit_test(test_integer_edges), cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
