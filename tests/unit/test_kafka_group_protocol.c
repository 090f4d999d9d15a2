/* SMS_KAFKA_GROUP_PROTOCOL (common/config.c) and the consumer configuration it selects
 * (common/kafka.c): librdkafka refuses the classic session/heartbeat/assignor settings with
 * group.protocol=consumer, so a consumer of either protocol must be creatable. No broker is
 * needed: rd_kafka_new checks the configuration, and nothing joins a group here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kafka.h"
#include "unit_helpers.h"

static int load(sms_config_t *cfg, const char *protocol, char *err, size_t errlen) {
    setenv("SMS_JWT_SECRET", "jwt-secret", 1);
    if (protocol) setenv("SMS_KAFKA_GROUP_PROTOCOL", protocol, 1);
    else unsetenv("SMS_KAFKA_GROUP_PROTOCOL");
    return sms_config_load(cfg, err, errlen);
}

static void test_default_is_classic(void **state) {
    (void)state;
    sms_config_t cfg;
    char err[256];
    assert_int_equal(load(&cfg, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.kafka_group_protocol, "classic");
}

static void test_unknown_protocol_refused(void **state) {
    (void)state;
    sms_config_t cfg;
    char err[256] = "";
    assert_int_equal(load(&cfg, "eager", err, sizeof err), -1);
    assert_non_null(strstr(err, "SMS_KAFKA_GROUP_PROTOCOL"));
    assert_non_null(strstr(err, "'eager'"));
}

static void consumer_is_created(const char *protocol) {
    sms_config_t cfg;
    char err[512] = "";
    assert_int_equal(load(&cfg, protocol, err, sizeof err), 0);
    /* Nothing listens on port 1: the consumer never reaches a broker. */
    snprintf(cfg.kafka_brokers, sizeof cfg.kafka_brokers, "127.0.0.1:1");
    sms_consumer_opts_t opts = {.group_id = "unit-group-protocol", .client_id = "unit"};
    sms_consumer_t *c = NULL;
    int rc = sms_consumer_new(&cfg, &opts, &c, err, sizeof err);
    if (rc != 0) fail_msg("%s: %s", protocol, err);
    char value[32];
    size_t n = sizeof value;
    const rd_kafka_conf_t *conf = rd_kafka_conf(sms_consumer_rk(c));
    assert_int_equal(rd_kafka_conf_get(conf, "group.protocol", value, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(value, protocol);
    sms_consumer_free(c);
}

static void test_classic_consumer(void **state) {
    (void)state;
    consumer_is_created("classic");
}

static void test_kip848_consumer(void **state) {
    (void)state;
    consumer_is_created("consumer");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_classic),
        cmocka_unit_test(test_unknown_protocol_refused),
        cmocka_unit_test(test_classic_consumer),
        cmocka_unit_test(test_kip848_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
