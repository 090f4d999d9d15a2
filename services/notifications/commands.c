/* commands.c - the notifications service's commands, one row each: the
 * type, its typed args, and the function of each phase (command_table.h).
 * The read and preferences commands live in handlers.c, the webhook
 * registrations in webhooks.c; the batch's state (what the decisions read,
 * prefetched in one round trip) in state.c. */
#include "commands.h"

#include "handlers.h"
#include "state.h"
#include "webhooks.h"

static const sms_command_row_t rows[] = {
    {"notifications.read", sizeof(notif_read_args_t), notif_read_validate, notif_read_prefetch, notif_read_decide,
     notif_read_reply, notif_read_args_clear},
    {"notifications.preferences_set", sizeof(notif_prefs_args_t), notif_prefs_validate, notif_prefs_prefetch,
     notif_prefs_decide, notif_prefs_reply, NULL},
    {"webhooks.register", sizeof(notif_webhook_register_args_t), notif_webhook_register_validate, NULL,
     notif_webhook_register_decide, notif_webhook_reply, NULL},
    {"webhooks.delete", sizeof(notif_webhook_delete_args_t), notif_webhook_delete_validate,
     notif_webhook_delete_prefetch, notif_webhook_delete_decide, notif_webhook_reply, NULL},
};

const sms_command_table_t notifications_commands = {
    .rows = rows,
    .n_rows = sizeof rows / sizeof rows[0],
    .state_new = notif_state_new,
    .state_fetch = notif_state_fetch,
    .state_free = notif_state_free,
};
