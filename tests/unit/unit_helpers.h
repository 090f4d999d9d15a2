/* unit_helpers.h - setup shared by the service decision tests (test_class_body,
 * test_roster, test_posts, test_chat, test_assignment_body, test_submissions,
 * test_grades): a decoded command built from a JSON body, and a look-up of a
 * verdict's field errors. Failures are cmocka assertions. */
#ifndef SMS_UNIT_HELPERS_H
#define SMS_UNIT_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "verdict.h"

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
bool unit_has_error(const sms_verdict_t *v, const char *field);

#endif
