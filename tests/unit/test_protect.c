/* test_protect.c - the gateway's protection pieces without a server or
 * Redis: GCRA buckets decided locally (burst, refill, Retry-After, the
 * RateLimit numbers), trusted-proxy networks, CORS origins, per-client caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "client_caps.h"
#include "client_ip.h"
#include "cors.h"
#include "ratelimit.h"

static sms_config_t base_cfg(void) {
    sms_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ratelimit_enabled = 1;
    cfg.ratelimit_ip_rate = 100; /* one per 10 ms */
    cfg.ratelimit_ip_burst = 5;
    cfg.ratelimit_user_rate = 1000;
    cfg.ratelimit_user_burst = 2000;
    cfg.ratelimit_login_per_min = 60;
    cfg.ratelimit_login_burst = 2;
    cfg.ratelimit_grades_per_min = 60;
    cfg.ratelimit_grades_burst = 2;
    cfg.ratelimit_uploads_per_min = 60;
    cfg.ratelimit_uploads_burst = 2;
    cfg.ratelimit_shared = 0;
    cfg.ratelimit_sync_ms = 20;
    cfg.max_conns_per_ip = 2;
    cfg.max_streams_per_user = 1;
    cfg.max_longpolls_per_user = 3;
    cfg.cors_max_age_s = 600;
    return cfg;
}

static void on_closed(void *data) { *(int *)data = 1; }

static void close_rl(uv_loop_t *loop, gw_ratelimit_t *rl) {
    int closed = 0;
    gw_ratelimit_close(rl, on_closed, &closed);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
}

static void test_burst_then_refused_with_retry_after(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    sms_config_t cfg = base_cfg();
    gw_ratelimit_t *rl = gw_ratelimit_new(&loop, &cfg, NULL);
    gw_rl_result_t r;
    for (int i = 0; i < 5; i++) {
        gw_ratelimit_take(rl, GW_RL_IP, "10.0.0.1", 8, &r);
        assert_true(r.allowed);
        assert_int_equal(r.limit, 5);
        assert_int_equal(r.remaining, 4 - i);
    }
    gw_ratelimit_take(rl, GW_RL_IP, "10.0.0.1", 8, &r);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_true(r.retry_s >= 1);
    /* Another key has its own bucket; another policy too. */
    gw_ratelimit_take(rl, GW_RL_IP, "10.0.0.2", 8, &r);
    assert_true(r.allowed);
    gw_ratelimit_take(rl, GW_RL_USER, "10.0.0.1", 8, &r);
    assert_true(r.allowed);
    /* 31 ms later three more have dripped back in (more if the sleep overslept; never past the burst). */
    usleep(31000);
    uv_update_time(&loop); /* the limiter reads the loop's cached clock */
    int allowed = 0;
    for (int i = 0; i < 10; i++) {
        gw_ratelimit_take(rl, GW_RL_IP, "10.0.0.1", 8, &r);
        allowed += r.allowed;
    }
    assert_in_range(allowed, 3, 5);
    gw_rl_stats_t st;
    gw_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed[GW_RL_IP], 5 + 1 + (uint64_t)allowed);
    assert_int_equal(st.denied[GW_RL_IP], 1 + 10 - (uint64_t)allowed);
    assert_int_equal(st.allowed[GW_RL_USER], 1);
    close_rl(&loop, rl);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_per_minute_policy_window(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    sms_config_t cfg = base_cfg();
    gw_ratelimit_t *rl = gw_ratelimit_new(&loop, &cfg, NULL);
    gw_rl_result_t r;
    gw_ratelimit_take(rl, GW_RL_LOGIN, "1.2.3.4", 7, &r);
    assert_true(r.allowed);
    assert_int_equal(r.window_s, 2); /* 2 at 1/s */
    gw_ratelimit_take(rl, GW_RL_LOGIN, "1.2.3.4", 7, &r);
    assert_true(r.allowed);
    gw_ratelimit_take(rl, GW_RL_LOGIN, "1.2.3.4", 7, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_s, 1);
    assert_int_equal(r.reset_s, 2);
    assert_string_equal(gw_ratelimit_policy_name(GW_RL_LOGIN), "login");
    close_rl(&loop, rl);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static struct sockaddr_storage addr(const char *ip) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    }
    return ss;
}

static void test_trusted_proxies(void **state) {
    (void)state;
    gw_proxies_t p;
    char err[128];
    assert_int_equal(gw_proxies_parse(&p, "127.0.0.2, 10.1.0.0/16,fd00::/8", err, sizeof err), 0);
    assert_int_equal(p.n, 3);
    struct sockaddr_storage a = addr("127.0.0.2"), b = addr("10.1.200.3"), c = addr("10.2.0.1"),
                            d = addr("fd12::1"), e = addr("::ffff:10.1.0.9"), f = addr("127.0.0.1");
    assert_true(gw_proxies_contain(&p, &a));
    assert_true(gw_proxies_contain(&p, &b));
    assert_false(gw_proxies_contain(&p, &c));
    assert_true(gw_proxies_contain(&p, &d));
    assert_true(gw_proxies_contain(&p, &e)); /* IPv4-mapped IPv6 is the IPv4 address */
    assert_false(gw_proxies_contain(&p, &f));
    char ip[GW_IP_STR_MAX];
    gw_ip_format(&e, ip, sizeof ip);
    assert_string_equal(ip, "10.1.0.9");
    assert_int_equal(gw_proxies_parse(&p, "10.0.0.0/33", err, sizeof err), -1);
    assert_int_equal(gw_proxies_parse(&p, "not-an-ip", err, sizeof err), -1);
    assert_int_equal(gw_proxies_parse(&p, "", err, sizeof err), 0);
    assert_int_equal(p.n, 0);
    assert_false(gw_proxies_contain(&p, &a));
}

static void test_cors_origins(void **state) {
    (void)state;
    sms_config_t cfg = base_cfg();
    gw_cors_t c;
    char err[128];
    snprintf(cfg.cors_origins, sizeof cfg.cors_origins, "https://app.example, http://localhost:3000");
    assert_int_equal(gw_cors_init(&c, &cfg, err, sizeof err), 0);
    assert_true(gw_cors_allowed(&c, "https://app.example"));
    assert_true(gw_cors_allowed(&c, "http://localhost:3000"));
    assert_false(gw_cors_allowed(&c, "https://evil.example"));
    assert_false(gw_cors_allowed(&c, "https://app.example.evil"));
    assert_false(gw_cors_allowed(&c, NULL));
    snprintf(cfg.cors_origins, sizeof cfg.cors_origins, "app.example");
    assert_int_equal(gw_cors_init(&c, &cfg, err, sizeof err), -1); /* no scheme */
    cfg.cors_origins[0] = '\0';
    assert_int_equal(gw_cors_init(&c, &cfg, err, sizeof err), 0);
    assert_false(gw_cors_allowed(&c, "https://app.example")); /* nothing configured: no CORS */
}

static void test_caps(void **state) {
    (void)state;
    sms_config_t cfg = base_cfg();
    gw_caps_t c;
    gw_caps_init(&c, &cfg);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_CONN, "1.1.1.1"), 0);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_CONN, "1.1.1.1"), 0);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_CONN, "1.1.1.1"), -1);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_CONN, "2.2.2.2"), 0);
    assert_int_equal(gw_caps_held(&c, GW_CAP_CONN, "1.1.1.1"), 2);
    gw_caps_release(&c, GW_CAP_CONN, "1.1.1.1");
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_CONN, "1.1.1.1"), 0);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_STREAM, "u1"), 0);
    assert_int_equal(gw_caps_acquire(&c, GW_CAP_STREAM, "u1"), -1);
    gw_caps_release(&c, GW_CAP_STREAM, "u1");
    assert_int_equal(gw_caps_held(&c, GW_CAP_STREAM, "u1"), 0);
    assert_int_equal(c.refused[GW_CAP_CONN], 1);
    assert_int_equal(c.refused[GW_CAP_STREAM], 1);
    gw_caps_close(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused_with_retry_after),
        cmocka_unit_test(test_per_minute_policy_window),
        cmocka_unit_test(test_trusted_proxies),
        cmocka_unit_test(test_cors_origins),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
