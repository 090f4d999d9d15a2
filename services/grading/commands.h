/* commands.h - the commands sms-grading accepts, named once: grading's
 * command table (common/command_table.h), which the worker runs every batch
 * through (ops.c sets it as ops.commands). */
#ifndef GRADING_COMMANDS_H
#define GRADING_COMMANDS_H

#include "command_table.h"

extern const sms_command_table_t grading_commands;

#endif
