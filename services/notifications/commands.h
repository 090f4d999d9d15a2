/* commands.h - the notifications service's command table: every command
 * type it accepts, named once (commands.c), for the shared worker
 * (ops.c: .commands). */
#ifndef NOTIF_COMMANDS_H
#define NOTIF_COMMANDS_H

#include "command_table.h"

extern const sms_command_table_t notifications_commands;

#endif
