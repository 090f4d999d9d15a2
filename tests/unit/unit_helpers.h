/* unit_helpers.h - setup shared by the unit tests (linked into every one by
 * CMakeLists.txt): a decoded command built from a JSON body, a look-up of a
 * decision's field errors, and a golden vector's bytes. Failures are cmocka
 * assertions. */
#ifndef SMS_UNIT_HELPERS_H
#define SMS_UNIT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "decision.h"

/* A command and the msgpack buffer its decoded fields borrow. */
typedef struct unit_cmd_s {
    msgpack_sbuffer sb;
    sms_command_t cmd;
} unit_cmd_t;

/* Packs a command with head h and the JSON text body as its data, and
 * decodes it into f->cmd (asserting both work). Unset head fields get test
 * defaults: id "cmd-1", v 1, time 1, reply_to "sms.replies.t". Release with
 * unit_cmd_free. */
void unit_cmd_make(unit_cmd_t *f, const sms_command_head_t *h, const char *body);
void unit_cmd_free(unit_cmd_t *f);

/* Whether v lists an error on field. */
bool unit_has_error(const sms_decision_t *d, const char *field);

/* The bytes of schemas/vectors/<name>.<ext> (e.g. "post.created.v1",
 * "msgpack"), NUL-terminated after *len; the caller frees them with sms_free. */
char *unit_vector(const char *name, const char *ext, size_t *len);

#endif
