/* email_main.c - sms-notify-email: reads the configuration and runs the
 * delivery core (delivery.h) with the email channel (email.h). */
#include <stdio.h>

#include "config.h"
#include "email.h"
#include "log.h"

int main(int argc, char **argv) {
    char err[256];
    sms_config_t cfg;
    if (argc > 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-notify-email: %s\n", err);
        return 2;
    }
    sms_log_init("notify-email", cfg.log_level);
    return notif_delivery_main(&notif_email_ops, &cfg);
}
