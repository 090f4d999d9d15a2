/* main.c - sms-grading: reads the configuration and runs the shared worker
 * with the grading operations. `--rebuild-views` rebuilds the view from
 * offset 0 and exits. */
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
        fprintf(stderr, "sms-grading: %s\n", err);
        return 2;
    }
    sms_log_init("grading", cfg.log_level);
    return sms_worker_main(&grading_ops, &cfg, rebuild);
}
