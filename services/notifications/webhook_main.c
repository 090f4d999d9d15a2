/* webhook_main.c - sms-notify-webhook: reads the configuration and runs the
 * delivery core (delivery.h) with the webhook channel (webhook.h). */
#include <stdio.h>

#include "config.h"
#include "webhook.h"
#include "log.h"

int main(int argc, char **argv) {
    char err[256];
    sms_config_t cfg;
    if (argc > 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-notify-webhook: %s\n", err);
        return 2;
    }
    sms_log_init("notify-webhook", cfg.log_level);
    return notif_delivery_main(&notif_webhook_ops, &cfg);
}
