/* commands.h - the commands sms-assignments accepts, as one table
 * (common/command_table.h): the only place a command type is named. The
 * worker runs every batch through it (ops.c: ops.commands). */
#ifndef ASSIGNMENTS_COMMANDS_H
#define ASSIGNMENTS_COMMANDS_H

#include "command_table.h"

extern const sms_command_table_t assignments_commands;

#endif
