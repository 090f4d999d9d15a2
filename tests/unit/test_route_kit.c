/* test_route_kit.c - the gateway's route kit without a server: read script
 * SHAs, the cursor and id checks the list routes use, the shape check of a
 * list script's reply and the page it becomes. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "route_kit.h"

static void test_script_sha(void **state) {
    (void)state;
    gw_script_t s = {.source = "return 1"};
    gw_script_init(&s);
    assert_string_equal(s.sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

static void test_valid_ulid(void **state) {
    (void)state;
    assert_true(gw_valid_ulid("01HZY3M0000000000000000000"));
    assert_false(gw_valid_ulid("01HZY3M000000000000000000"));   /* 25 */
    assert_false(gw_valid_ulid("01HZY3M00000000000000000000")); /* 27 */
    assert_false(gw_valid_ulid("01hzy3m0000000000000000000"));
    assert_false(gw_valid_ulid(""));
}

static void test_valid_cursor(void **state) {
    (void)state;
    assert_true(gw_valid_cursor("0000000000001:ABC9", 13));
    assert_false(gw_valid_cursor("0000000000001:", 13));   /* no id */
    assert_false(gw_valid_cursor("000000000001:ABC", 13)); /* 12 digits */
    assert_false(gw_valid_cursor("0000000000001-ABC", 13));
    assert_false(gw_valid_cursor("0000000000001:abc", 13));
    assert_false(gw_valid_cursor("00000000000x1:ABC", 13));
    char longest[13 + 1 + 80 + 2];
    memset(longest, '0', sizeof longest - 1);
    longest[13] = ':';
    longest[13 + 1 + 80] = '\0';
    assert_true(gw_valid_cursor(longest, 13));
    longest[13 + 1 + 80] = 'A';
    longest[13 + 1 + 81] = '\0';
    assert_false(gw_valid_cursor(longest, 13));
}

static redisReply str_reply(const char *s) {
    return (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
}

static void test_page_reply(void **state) {
    (void)state;
    redisReply a = str_reply("{\"a\":1}"), nil = {.type = REDIS_REPLY_NIL}, b = str_reply("{\"b\":2}");
    redisReply *docs_el[] = {&a, &nil, &b};
    redisReply docs = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = docs_el};
    redisReply next = str_reply("0000000000001:X");
    redisReply *top_el[] = {&docs, &next};
    redisReply top = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = top_el};
    assert_true(gw_page_reply_ok(&top));
    assert_false(gw_page_reply_ok(NULL));
    top_el[0] = &next;
    assert_false(gw_page_reply_ok(&top)); /* documents not an array */
    top_el[0] = &docs;
    top.elements = 1;
    assert_false(gw_page_reply_ok(&top));

    sms_buf_t out;
    sms_buf_init(&out);
    gw_page_items(&out, &docs); /* the nil (a gap in the view) is skipped */
    const char want[] = "{\"items\":[{\"a\":1},{\"b\":2}],\"next_cursor\":";
    assert_int_equal(out.len, sizeof want - 1);
    assert_memory_equal(out.data, want, sizeof want - 1);
    sms_buf_close(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_sha),
        cmocka_unit_test(test_valid_ulid),
        cmocka_unit_test(test_valid_cursor),
        cmocka_unit_test(test_page_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
