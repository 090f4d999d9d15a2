/* unit_helpers.c - shared setup of the unit tests (see unit_helpers.h). */
#include "unit_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_msgpack.h"

void unit_cmd_make(unit_cmd_t *f, const sms_command_head_t *h, const char *body) {
    sms_command_head_t head = *h;
    if (head.id.len == 0) head.id = SMS_STR("cmd-1");
    if (head.v == 0) head.v = 1;
    if (head.time == 0) head.time = 1;
    if (head.reply_to.len == 0) head.reply_to = SMS_STR("sms.replies.t");
    msgpack_packer pk;
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&pk, &f->sb, msgpack_sbuffer_write);
    sms_command_pack_head(&pk, &head);
    cJSON *json = cJSON_Parse(body);
    assert_non_null(json);
    assert_int_equal(sms_json_to_msgpack(json, &pk), 0);
    cJSON_Delete(json);
    sms_command_pack_tail(&pk, &head);
    assert_int_equal(sms_command_decode(f->sb.data, f->sb.size, &f->cmd), SMS_OK);
}

void unit_cmd_free(unit_cmd_t *f) {
    sms_command_close(&f->cmd);
    msgpack_sbuffer_destroy(&f->sb);
}

bool unit_has_error(const sms_decision_t *d, const char *field) {
    for (size_t i = 0; i < d->n_errors; i++)
        if (strcmp(d->errors[i].field, field) == 0) return true;
    return false;
}

char *unit_vector(const char *name, const char *ext, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", SMS_VECTORS_DIR, name, ext);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    char *buf = sms_malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}
