/* test_gateway_views.c - placeholder (filled below) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route_kit.h"

typedef struct route_file_s {
    const char *name;
    gw_script_t *const *scripts;
} route_file_t;

static const route_file_t route_files[] = {
    {"assignments", gw_assignments_scripts}, {"chat", gw_chat_scripts},
    {"classes", gw_classes_scripts},         {"grading", gw_grading_scripts},
    {"notifications", gw_notifications_scripts}, {"posts", gw_posts_scripts},
    {"roster", gw_roster_scripts},           {"stream", gw_stream_scripts},
    {"submissions", gw_submissions_scripts}, {"webhooks", gw_webhooks_scripts},
};
#define N_ROUTE_FILES (sizeof route_files / sizeof route_files[0])

static void dump(void) {
    for (size_t f = 0; f < N_ROUTE_FILES; f++)
        for (size_t i = 0; route_files[f].scripts[i]; i++)
            printf("==== routes_%s.c script %zu\n%s", route_files[f].name, i, route_files[f].scripts[i]->source);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        dump();
        return 0;
    }
    return 0;
}
