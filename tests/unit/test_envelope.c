/* test_envelope.c - the msgpack envelope against the golden vectors in
 * schemas/vectors: decoding gives the documented fields, and encoding the
 * same values gives the very same bytes (so Python and C agree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "msgpack_util.h"
#include "json_msgpack.h"
#include "unit_helpers.h"

static void assert_str(sms_str_t s, const cJSON *json, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    assert_true(cJSON_IsString(v));
    assert_int_equal(s.len, strlen(v->valuestring));
    assert_memory_equal(s.ptr, v->valuestring, s.len);
}

static int64_t json_int(const cJSON *json, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    assert_true(cJSON_IsNumber(v));
    return (int64_t)v->valuedouble;
}

static void check_event_vector(const char *name) {
    size_t blen, jlen;
    char *bytes = unit_vector(name, "msgpack", &blen);
    char *text = unit_vector(name, "json", &jlen);
    cJSON *json = cJSON_Parse(text);
    assert_non_null(json);

    sms_event_t ev;
    assert_int_equal(sms_event_decode(bytes, blen, &ev), SMS_OK);
    assert_str(ev.id, json, "id");
    assert_str(ev.type, json, "type");
    assert_str(ev.actor, json, "actor");
    assert_str(ev.key, json, "key");
    assert_str(ev.cause, json, "cause");
    assert_int_equal(ev.v, json_int(json, "v"));
    assert_int_equal(ev.time, json_int(json, "time"));
    assert_int_equal(ev.data->type, MSGPACK_OBJECT_MAP);

    /* Re-encode from the decoded head and the JSON data: same bytes. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, ev.id, ev.type, ev.v, ev.time, ev.actor, ev.key, ev.cause);
    sms_json_to_msgpack(cJSON_GetObjectItemCaseSensitive(json, "data"), &pk);
    assert_int_equal(sb.size, blen);
    assert_memory_equal(sb.data, bytes, blen);

    msgpack_sbuffer_destroy(&sb);
    sms_event_close(&ev);
    cJSON_Delete(json);
    sms_free(bytes);
    sms_free(text);
}

static void test_class_created(void **state) { (void)state; check_event_vector("class.created.v1"); }
static void test_class_updated(void **state) { (void)state; check_event_vector("class.updated.v1"); }
static void test_class_deactivated(void **state) { (void)state; check_event_vector("class.deactivated.v1"); }

static void test_command_vector(void **state) {
    (void)state;
    size_t blen, jlen;
    char *bytes = unit_vector("command.class.create.v1", "msgpack", &blen);
    char *text = unit_vector("command.class.create.v1", "json", &jlen);
    cJSON *json = cJSON_Parse(text);
    sms_command_t cmd;
    assert_int_equal(sms_command_decode(bytes, blen, &cmd), SMS_OK);
    assert_str(cmd.id, json, "id");
    assert_str(cmd.type, json, "type");
    assert_str(cmd.role, json, "role");
    assert_str(cmd.reply_to, json, "reply_to");
    assert_str(cmd.traceparent, json, "traceparent");
    assert_int_equal(cmd.key.len, 0);
    assert_false(cmd.has_if_match);

    sms_command_head_t h = {.id = cmd.id, .type = cmd.type, .v = cmd.v, .time = cmd.time, .actor = cmd.actor,
                            .role = cmd.role, .key = cmd.key, .reply_to = cmd.reply_to, .traceparent = cmd.traceparent};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_command_pack_head(&pk, &h);
    sms_json_to_msgpack(cJSON_GetObjectItemCaseSensitive(json, "data"), &pk);
    sms_command_pack_tail(&pk, &h);
    assert_int_equal(sb.size, blen);
    assert_memory_equal(sb.data, bytes, blen);
    msgpack_sbuffer_destroy(&sb);
    sms_command_close(&cmd);
    cJSON_Delete(json);
    sms_free(bytes);
    sms_free(text);
}

static void test_reply_vector(void **state) {
    (void)state;
    size_t blen, jlen;
    char *bytes = unit_vector("reply.201.v1", "msgpack", &blen);
    char *text = unit_vector("reply.201.v1", "json", &jlen);
    cJSON *json = cJSON_Parse(text);
    sms_reply_t r;
    assert_int_equal(sms_reply_decode(bytes, blen, &r), SMS_OK);
    assert_str(r.id, json, "id");
    assert_str(r.location, json, "location");
    assert_int_equal(r.status, 201);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_reply_pack_head(&pk, r.id, (int)r.status, r.location);
    sms_json_to_msgpack(cJSON_GetObjectItemCaseSensitive(json, "body"), &pk);
    sms_reply_pack_tail(&pk, r.location);
    assert_int_equal(sb.size, blen);
    assert_memory_equal(sb.data, bytes, blen);

    /* And the body renders back to the JSON the gateway sends. */
    sms_buf_t out;
    sms_buf_init(&out);
    sms_msgpack_to_json(r.body, &out);
    cJSON *back = cJSON_Parse(out.data);
    assert_true(cJSON_Compare(back, cJSON_GetObjectItemCaseSensitive(json, "body"), 1));
    cJSON_Delete(back);
    sms_buf_close(&out);
    msgpack_sbuffer_destroy(&sb);
    sms_reply_close(&r);
    cJSON_Delete(json);
    sms_free(bytes);
    sms_free(text);
}

static void test_round_trip_and_rejects(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_event_pack_head(&pk, SMS_STR("e1"), SMS_STR("class.created"), 1, -5, SMS_STR("u"), SMS_STR("k"), SMS_STR("c"));
    msgpack_pack_map(&pk, 0);
    sms_event_t ev;
    assert_int_equal(sms_event_decode(sb.data, sb.size, &ev), SMS_OK);
    assert_int_equal(ev.time, -5);
    assert_int_equal(ev.data->via.map.size, 0);
    sms_event_close(&ev);
    /* Truncated, trailing garbage, not a map, missing data. */
    assert_int_equal(sms_event_decode(sb.data, sb.size - 1, &ev), SMS_EPARSE);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    assert_int_equal(sms_event_decode(sb.data, sb.size, &ev), SMS_EPARSE);
    assert_int_equal(sms_event_decode("\x93\x01\x02\x03", 4, &ev), SMS_EPARSE);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "id", 2);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "x", 1);
    assert_int_equal(sms_event_decode(sb.data, sb.size, &ev), SMS_EFIELD);
    msgpack_sbuffer_destroy(&sb);
}

/* A command nested deeper than msgpack-c unpacks: decode refuses it, peek
 * still finds who to answer. */
static void test_peek_undecodable_command(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sms_command_head_t h = {.id = SMS_STR("u1:key-1"), .type = SMS_STR("class.create"), .v = 1, .time = 7,
                            .actor = SMS_STR("u1"), .role = SMS_STR("lecturer"), .key = SMS_STR(""),
                            .reply_to = SMS_STR("sms.replies.gw-1")};
    sms_command_pack_head(&pk, &h);
    for (int i = 0; i < 200; i++) msgpack_pack_array(&pk, 1); /* data 200 arrays deep */
    msgpack_pack_nil(&pk);
    sms_command_pack_tail(&pk, &h);
    sms_command_t cmd;
    assert_int_not_equal(sms_command_decode(sb.data, sb.size, &cmd), SMS_OK);
    sms_str_t id, reply_to;
    assert_int_equal(sms_command_peek(sb.data, sb.size, &id, &reply_to), SMS_OK);
    assert_int_equal(id.len, 8);
    assert_memory_equal(id.ptr, "u1:key-1", 8);
    assert_int_equal(reply_to.len, 16);
    assert_memory_equal(reply_to.ptr, "sms.replies.gw-1", 16);
    /* Truncated inside reply_to, not a map, empty: nothing found. */
    assert_int_equal(sms_command_peek(sb.data, 60, &id, &reply_to), SMS_EPARSE);
    assert_int_equal(sms_command_peek("\x93\x01\x02\x03", 4, &id, &reply_to), SMS_EPARSE);
    assert_int_equal(sms_command_peek("", 0, &id, &reply_to), SMS_EPARSE);
    /* reply_to after data (not our envelope): not found, not misread. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "id", 2);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "x", 1);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "reply_to", 8);
    msgpack_pack_str(&pk, 16);
    msgpack_pack_str_body(&pk, "sms.replies.gw-1", 16);
    assert_int_equal(sms_command_peek(sb.data, sb.size, &id, &reply_to), SMS_EPARSE);
    msgpack_sbuffer_destroy(&sb);
}

/* A container whose declared count the bytes cannot hold is refused before
 * msgpack-c allocates its slots (fuzz_envelope found a 150-byte event whose
 * map32 asked for 256 GiB); real envelopes and every msgpack type still pass. */
static void test_implausible_counts(void **state) {
    (void)state;
    static const unsigned char map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01};
    static const unsigned char arr32[] = {0x81, 0xa4, 'd', 'a', 't', 'a', 0xdd, 0x00, 0x10, 0x00, 0x00, 0xc0};
    static const unsigned char str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    sms_event_t ev;
    sms_command_t cmd;
    sms_reply_t reply;
    assert_false(sms_mp_plausible(map32, sizeof map32));
    assert_false(sms_mp_plausible(arr32, sizeof arr32));
    assert_false(sms_mp_plausible(str32, sizeof str32));
    assert_false(sms_mp_plausible("\xc1", 1)); /* never used */
    assert_false(sms_mp_plausible("", 0));
    assert_int_equal(sms_event_decode(map32, sizeof map32, &ev), SMS_EPARSE);
    assert_int_equal(sms_command_decode(arr32, sizeof arr32, &cmd), SMS_EPARSE);
    assert_int_equal(sms_reply_decode(map32, sizeof map32, &reply), SMS_EPARSE);
    /* Every type, nested, exactly as long as it says. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 12);
    msgpack_pack_nil(&pk), msgpack_pack_true(&pk), msgpack_pack_int64(&pk, -1), msgpack_pack_int64(&pk, 300);
    msgpack_pack_int64(&pk, INT64_MIN), msgpack_pack_uint64(&pk, UINT64_MAX), msgpack_pack_double(&pk, 1.5);
    msgpack_pack_float(&pk, 2.5f);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    msgpack_pack_ext(&pk, 4, 7);
    msgpack_pack_ext_body(&pk, "wxyz", 4);
    msgpack_pack_ext(&pk, 20, 1);
    msgpack_pack_ext_body(&pk, "01234567890123456789", 20);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "b", 1);
    msgpack_pack_str(&pk, 300);
    for (int i = 0; i < 30; i++) msgpack_pack_str_body(&pk, "0123456789", 10);
    assert_true(sms_mp_plausible(sb.data, sb.size));
    assert_false(sms_mp_plausible(sb.data, sb.size - 1)); /* one byte short */
    msgpack_sbuffer_destroy(&sb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_implausible_counts),
        cmocka_unit_test(test_peek_undecodable_command),
        cmocka_unit_test(test_class_created),  cmocka_unit_test(test_class_updated),
        cmocka_unit_test(test_class_deactivated), cmocka_unit_test(test_command_vector),
        cmocka_unit_test(test_reply_vector),   cmocka_unit_test(test_round_trip_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
