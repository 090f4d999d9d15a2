/* test_delivery.c - the notification delivery pieces without I/O: the
 * webhook.registered/deleted and notification.dead_lettered events pack to
 * the golden vectors' bytes, the webhook signature equals a known
 * HMAC-SHA256, the backoff stays in its full-jitter bounds, and webhook URL
 * validation. Vectors from schemas/vectors; no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "msgpack_util.h"
#include "webhook.h"
#include "webhooks.h"
#include "unit_helpers.h"

/* Decodes vector name as an event (caller closes) and returns its bytes. */
static char *load_event(const char *name, size_t *len, sms_event_t *ev) {
    char *raw = unit_vector(name, "msgpack", len);
    assert_int_equal(sms_event_decode(raw, *len, ev), SMS_OK);
    return raw;
}

static sms_str_t field(const sms_event_t *ev, const char *key) {
    sms_str_t s = {"", 0};
    assert_true(sms_mp_str(sms_mp_map_get(ev->data, key), &s.ptr, &s.len));
    return s;
}

static void expect_bytes(msgpack_sbuffer *sb, const char *want, size_t n) {
    assert_int_equal(sb->size, n);
    assert_memory_equal(sb->data, want, n);
}

static void test_webhook_events_equal_vectors(void **state) {
    (void)state;
    size_t n;
    sms_event_t ev;
    char *want = load_event("webhook.registered.v1", &n, &ev);
    sms_str_t events[2] = {SMS_STR("post"), SMS_STR("grade")};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    notif_webhook_pack_registered(&pk, ev.id, ev.time, ev.actor, ev.cause, field(&ev, "webhook_id"), field(&ev, "url"),
                                  events, 2, field(&ev, "secret"));
    expect_bytes(&sb, want, n);
    sms_event_close(&ev);
    sms_free(want);

    msgpack_sbuffer_clear(&sb);
    want = load_event("webhook.deleted.v1", &n, &ev);
    notif_webhook_pack_deleted(&pk, ev.id, ev.time, ev.actor, ev.cause, field(&ev, "webhook_id"));
    expect_bytes(&sb, want, n);
    sms_event_close(&ev);
    sms_free(want);
    msgpack_sbuffer_destroy(&sb);
}

static char *cstr(sms_str_t s) { return sms_strndup(s.ptr, s.len); }

static void test_dead_letter_equals_vector(void **state) {
    (void)state;
    size_t n;
    sms_event_t ev;
    char *want = load_event("notification.dead_lettered.v1", &n, &ev);
    char *s[9] = {cstr(ev.id), cstr(field(&ev, "delivery_id")), cstr(field(&ev, "webhook_id")), cstr(field(&ev, "url")),
                  cstr(field(&ev, "notification_id")), cstr(field(&ev, "recipient_id")), cstr(field(&ev, "kind")),
                  cstr(field(&ev, "payload")), cstr(field(&ev, "last_error"))};
    int64_t attempts, first, failed;
    assert_true(sms_mp_i64(sms_mp_map_get(ev.data, "attempts"), &attempts));
    assert_true(sms_mp_i64(sms_mp_map_get(ev.data, "first_attempt_at"), &first));
    assert_true(sms_mp_i64(sms_mp_map_get(ev.data, "failed_at"), &failed));
    notif_dead_letter_t d = {.event_id = s[0], .delivery_id = s[1], .webhook_id = s[2], .url = s[3],
                             .notification_id = s[4], .recipient_id = s[5], .kind = s[6], .payload = s[7],
                             .attempts = attempts, .last_error = s[8], .first_attempt_at = first, .failed_at = failed};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    notif_dead_letter_pack(&pk, &d);
    expect_bytes(&sb, want, n);
    msgpack_sbuffer_destroy(&sb);
    for (int i = 0; i < 9; i++) sms_free(s[i]);
    sms_event_close(&ev);
    sms_free(want);
}

/* Reference: printf '1764068400.{"a":1}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef' */
static void test_signature_is_hmac_of_timestamp_dot_body(void **state) {
    (void)state;
    char sig[65];
    const char *secret = "whsec-0123456789abcdef", *body = "{\"a\":1}";
    notif_webhook_sign(secret, strlen(secret), 1764068400, body, strlen(body), sig);
    assert_string_equal(sig, "e9a98c2b0026cda7f2258a006e941af4dc4d79fbc32e369535d29134fd853823");
}

static void test_backoff_is_full_jitter_doubling_to_a_cap(void **state) {
    (void)state;
    assert_int_equal(notif_webhook_backoff_ms(1000, 3600000, 1, 0.0), 0);
    assert_int_equal(notif_webhook_backoff_ms(1000, 3600000, 1, 0.999999), 1000);
    assert_int_equal(notif_webhook_backoff_ms(1000, 3600000, 2, 0.999999), 2000);
    assert_int_equal(notif_webhook_backoff_ms(1000, 3600000, 4, 0.5), 4000);
    assert_in_range(notif_webhook_backoff_ms(1000, 3600000, 40, 0.999999), 3599000, 3600000); /* capped, no overflow */
    for (int f = 1; f < 64; f++) assert_true(notif_webhook_backoff_ms(1000, 3600000, f, 0.999999) <= 3600000);
}

static void test_webhook_url_validation(void **state) {
    (void)state;
    static const char *const good[] = {"http://127.0.0.1:8080/hook", "https://hooks.school.edu/sms?x=1", "http://a"};
    static const char *const bad[] = {"ftp://x/y", "http://", "https:///path", "http://user@host/", "http://a b/",
                                      "javascript:alert(1)", "http://:80/", ""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(notif_webhook_url_ok(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(notif_webhook_url_ok(bad[i], strlen(bad[i])));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_events_equal_vectors),
        cmocka_unit_test(test_dead_letter_equals_vector),
        cmocka_unit_test(test_signature_is_hmac_of_timestamp_dot_body),
        cmocka_unit_test(test_backoff_is_full_jitter_doubling_to_a_cap),
        cmocka_unit_test(test_webhook_url_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
