/* test_net_policy.c - common/net_policy: the address ranges refused by
 * default (IPv4, IPv6 and the mapped, compatible and NAT64 forms), the
 * allow-list with and without a port, and the registration-time URL check
 * (credentials, odd IPv4 spellings, localhost, ports). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net_policy.h"

static bool addr_ok(const char *ip, unsigned port) {
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) return sms_net_addr_allowed((struct sockaddr *)&s4);
    assert_int_equal(inet_pton(AF_INET6, ip, &s6.sin6_addr), 1);
    return sms_net_addr_allowed((struct sockaddr *)&s6);
}

/* Through a copy without a NUL, as a msgpack string arrives. */
static const char *refusal(const char *url) {
    static char copy[512];
    size_t n = strlen(url);
    assert_true(n < sizeof copy);
    memcpy(copy, url, n);
    memset(copy + n, 'x', sizeof copy - n); /* past n: junk that must not be read as part of the URL */
    return sms_net_url_refusal(copy, n);
}

static int reset(void **state) {
    char err[128];
    (void)state;
    return sms_net_policy_set_allow("", err, sizeof err);
}

static void test_internal_ranges_refused(void **state) {
    (void)state;
    static const char *const internal[] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "100.64.0.1",
        "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.1.2.3", "::127.0.0.1", "64:ff9b::a9fe:a9fe",
    };
    for (size_t i = 0; i < sizeof internal / sizeof *internal; i++)
        if (addr_ok(internal[i], 80)) fail_msg("%s was allowed", internal[i]);
}

static void test_public_addresses_allowed(void **state) {
    (void)state;
    static const char *const pub[] = {"93.184.216.34", "8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1",
                                      "169.255.0.1", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof pub / sizeof *pub; i++)
        if (!addr_ok(pub[i], 443)) fail_msg("%s was refused", pub[i]);
}

static void test_allow_list(void **state) {
    (void)state;
    char err[128];
    assert_int_equal(sms_net_policy_set_allow("127.0.0.1:8081, [::1]:9000,10.0.0.5", err, sizeof err), 0);
    assert_true(addr_ok("127.0.0.1", 8081));
    assert_true(addr_ok("::ffff:127.0.0.1", 8081)); /* the mapped form of an allowed address */
    assert_false(addr_ok("127.0.0.1", 22));          /* another port of an allowed host */
    assert_false(addr_ok("127.0.0.2", 8081));
    assert_true(addr_ok("::1", 9000));
    assert_false(addr_ok("::1", 9092));
    assert_true(addr_ok("10.0.0.5", 1));              /* no port: any port */
    assert_null(refusal("http://127.0.0.1:8081/hook"));
    assert_non_null(refusal("http://127.0.0.1:6379/"));
    assert_non_null(refusal("http://127.0.0.1/"));    /* port 80 is not 8081 */
    assert_int_equal(sms_net_policy_set_allow("localhost:80", err, sizeof err), -1);
    assert_true(addr_ok("10.0.0.5", 1));              /* a bad list keeps the old one */
    assert_int_equal(sms_net_policy_set_allow("127.0.0.1:0", err, sizeof err), -1);
    assert_int_equal(sms_net_policy_set_allow("[::1", err, sizeof err), -1);
}

static void test_url_refusals(void **state) {
    (void)state;
    static const char *const bad[] = {
        "http://user:pw@127.0.0.1/", "http://user@example.com/", "https://a@b@example.com/",
        "http://127.0.0.1:22/", "http://127.0.0.1:6379/", "http://[::1]:9092/", "http://169.254.169.254/latest/",
        "http://2130706433/", "http://0x7f.0.0.1/", "http://127.1/", "http://017700000001/", "http://0/",
        "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[fe80::1%25eth0]/", "http://10.0.0.1/",
        "http://192.168.0.10:8080/x", "http://localhost:8080/", "http://LOCALHOST./", "http://api.localhost/",
        "http://example.com:0/", "http://example.com:65536/", "http://example.com:/", "http://[::1/",
        "ftp://example.com/", "http:///path", "http://exa mple.com/", "http://example.com\\@127.0.0.1/",
        "http://ex%61mple.com/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (refusal(bad[i]) == NULL) fail_msg("%s was accepted", bad[i]);
    static const char *const good[] = {"https://hooks.example.com/sms", "http://example.com:8080/x?y=1#z",
                                       "https://93.184.216.34/", "https://[2606:2800:220:1::1]:8443/h",
                                       "http://my-host_1.example/"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (refusal(good[i]) != NULL) fail_msg("%s was refused: %s", good[i], refusal(good[i]));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_internal_ranges_refused, reset),
        cmocka_unit_test_setup(test_public_addresses_allowed, reset),
        cmocka_unit_test_setup_teardown(test_allow_list, reset, reset),
        cmocka_unit_test_setup(test_url_refusals, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
