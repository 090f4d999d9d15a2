/* main.c - sms-assignments: reads the configuration and runs the shared
 * worker with the assignments operations (its tick, the due-date reminder
 * scan, every SMS_DUE_REMINDER_SCAN_MS). `--rebuild-views` rebuilds the
 * view from offset 0 and exits. */
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
        fprintf(stderr, "sms-assignments: %s\n", err);
        return 2;
    }
    sms_log_init("assignments", cfg.log_level);
    sms_worker_ops_t ops = assignments_ops;
    ops.tick_ms = cfg.due_reminder_scan_ms; /* the due-date reminder scan */
    return sms_worker_main(&ops, &cfg, rebuild);
}
