/* test_command_deadline.c - the command envelope's optional deadline
 * (common/envelope.c): when a command counts as expired (what a worker drops
 * undecided, common/batch.c), how the key is packed after the others, and
 * which values decoding refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "envelope.h"
#include "event_check.h"
#include "msgpack_util.h"
#include "unit_helpers.h"

static void test_expired(void **state) {
    (void)state;
    static const struct {
        int64_t deadline, now, margin;
        bool expired;
    } cases[] = {
        {0, 9000000000000, 0, false},             /* no deadline (an older gateway, a tool): never */
        {1000, 500, 0, false},                    /* before the deadline */
        {1000, 1000, 0, false},                   /* at it: the gateway may still be waiting */
        {1000, 1001, 0, true},
        {1000, 2000, 1000, false},                /* within the skew margin */
        {1000, 2001, 1000, true},
        {1000, 9000000000000, -1, false},         /* margin -1: shedding off */
        {SMS_EVENT_TIME_MAX, SMS_EVENT_TIME_MAX, 3600000, false}, /* the largest values do not overflow */
        {1764061205000, 1764061206001, 1000, true},
        {1764061205000, 1764061100000, 1000, false}, /* the receiver's clock behind: later, never earlier */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sms_command_expired(cases[i].deadline, cases[i].now, cases[i].margin) != cases[i].expired)
            fail_msg("case %zu: deadline %lld now %lld margin %lld", i, (long long)cases[i].deadline,
                     (long long)cases[i].now, (long long)cases[i].margin);
}

/* Whether the last key of the top-level map in sb is name. */
static bool last_key_is(const msgpack_sbuffer *sb, const char *name) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    const msgpack_object *k = &u.data.via.map.ptr[u.data.via.map.size - 1].key;
    bool is = k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
              memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
    msgpack_unpacked_destroy(&u);
    return is;
}

static void test_round_trip(void **state) {
    (void)state;
    unit_cmd_t f;
    sms_command_head_t h = {.type = SMS_STR("class.create"), .actor = SMS_STR("u1"), .role = SMS_STR("lecturer"),
                            .key = SMS_STR(""), .time = 1764061200000, .deadline = 1764061205000,
                            .traceparent = SMS_STR("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")};
    unit_cmd_make(&f, &h, "{\"code\":\"CS101\"}");
    assert_int_equal(f.cmd.deadline, 1764061205000);
    assert_int_equal(f.cmd.traceparent.len, 55);
    assert_true(last_key_is(&f.sb, "deadline")); /* after traceparent, as asyncapi.yaml orders it */
    unit_cmd_free(&f);

    /* Without one nothing is packed, and decoding gives 0. */
    h.deadline = 0;
    unit_cmd_make(&f, &h, "{}");
    assert_int_equal(f.cmd.deadline, 0);
    assert_true(last_key_is(&f.sb, "traceparent"));
    unit_cmd_free(&f);
}

/* Decodes a command whose deadline value put writes. */
static int decode_with(void (*put)(msgpack_packer *pk), int64_t *deadline) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* A deadline in the head makes its map count the key; the tail is then
     * written here, with the value under test. */
    sms_command_head_t h = {.id = SMS_STR("u1:k"), .type = SMS_STR("class.create"), .v = 1, .time = 7,
                            .actor = SMS_STR("u1"), .role = SMS_STR("lecturer"), .key = SMS_STR(""),
                            .reply_to = SMS_STR("sms.replies.gw-1"), .deadline = 1};
    sms_command_pack_head(&pk, &h);
    msgpack_pack_map(&pk, 0);
    sms_mp_pack_str(&pk, "deadline");
    put(&pk);
    sms_command_t cmd;
    int rc = sms_command_decode(sb.data, sb.size, &cmd);
    *deadline = cmd.deadline;
    if (rc == SMS_OK) sms_command_close(&cmd);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void put_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void put_str(msgpack_packer *pk) { sms_mp_pack_str(pk, "1764061205000"); }
static void put_negative(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void put_past_max(msgpack_packer *pk) { msgpack_pack_int64(pk, SMS_EVENT_TIME_MAX + 1); }
static void put_max(msgpack_packer *pk) { msgpack_pack_int64(pk, SMS_EVENT_TIME_MAX); }

static void test_decode_refuses_bad_values(void **state) {
    (void)state;
    int64_t d = -7;
    assert_int_equal(decode_with(put_nil, &d), SMS_OK);
    assert_int_equal(d, 0);
    assert_int_equal(decode_with(put_max, &d), SMS_OK);
    assert_int_equal(d, SMS_EVENT_TIME_MAX);
    assert_int_equal(decode_with(put_str, &d), SMS_EFIELD);
    assert_int_equal(decode_with(put_negative, &d), SMS_EFIELD);
    assert_int_equal(decode_with(put_past_max, &d), SMS_EFIELD);
}

/* The golden command (written before deadlines existed) still decodes: the
 * key is optional, and such a command is never shed. */
static void test_vector_has_none(void **state) {
    (void)state;
    size_t len;
    char *bytes = unit_vector("command.class.create.v1", "msgpack", &len);
    sms_command_t cmd;
    assert_int_equal(sms_command_decode(bytes, len, &cmd), SMS_OK);
    assert_int_equal(cmd.deadline, 0);
    assert_false(sms_command_expired(cmd.deadline, cmd.time + 86400000, 0));
    sms_command_close(&cmd);
    sms_free(bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_refuses_bad_values),
        cmocka_unit_test(test_vector_has_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
