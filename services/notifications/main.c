/* main.c - sms-notifications: reads the configuration and runs the shared worker
 * with the notifications operations (fan-out, inbox, preferences). `--rebuild-views`
 * rebuilds the view from offset 0 and exits. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ops.h"

int main(int argc, char **argv) {
    char err[256];
    sms_config_t cfg;
    bool rebuild = argc > 1 && strcmp(argv[1], "--rebuild-views") == 0;
    if (argc > 1 && !rebuild) {
        fprintf(stderr, "usage: %s [--rebuild-views]\n", argv[0]);
        return 2;
    }
    if (sms_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "sms-notifications: %s\n", err);
        return 2;
    }
    sms_log_init("notifications", cfg.log_level);
    return sms_worker_main(&notifications_ops, &cfg, rebuild);
}
