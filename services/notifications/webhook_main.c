/* webhook_main.c - sms-notify-webhook: the delivery core (delivery.h) with
 * the webhook channel (webhook.h). */
#include "webhook.h"

int main(int argc, char **argv) { return notif_delivery_run(argc, argv, &notif_webhook_ops); }
