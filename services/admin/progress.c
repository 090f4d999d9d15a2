/* progress.c - progress bar (terminal) or progress lines (pipe) on stderr for
 * `sms-admin seed`; fed by the HTTP client's tick callback through seed.c. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "clock.h"

#define BAR_WIDTH 30
#define PLAIN_EVERY_MS 1000

void admin_progress_init(admin_progress_t *p, size_t total) {
    *p = (admin_progress_t){.total = total, .phase = "", .tty = isatty(STDERR_FILENO)};
    p->start_ms = sms_mono_ms();
}

uint64_t admin_progress_elapsed_ms(const admin_progress_t *p) { return sms_mono_ms() - p->start_ms; }

void admin_progress_show(admin_progress_t *p, size_t done, size_t failed) {
    uint64_t now = sms_mono_ms();
    size_t all = p->base + done;
    size_t total = p->total > all ? p->total : all;
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)all / secs : 0;
    if (p->tty) {
        char bar[BAR_WIDTH + 1];
        size_t fill = total ? all * BAR_WIDTH / total : BAR_WIDTH;
        for (size_t i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu requests  %-20s %5.1f s  %.0f/s  %zu failed", bar, all, total,
                p->phase, secs, rate, p->failed + failed);
        p->drawn = 1;
    } else {
        /* The last line is printed once, however often the end is reported. */
        if ((now - p->last_ms < PLAIN_EVERY_MS && all < total) || (all == total && p->shown == total)) return;
        p->shown = all;
        fprintf(stderr, "seed: %zu/%zu requests (%s) %.1f s %.0f/s %zu failed\n", all, total, p->phase, secs,
                rate, p->failed + failed);
    }
    p->last_ms = now;
}

void admin_progress_phase_end(admin_progress_t *p, size_t n, size_t failed) {
    p->base += n;
    p->failed += failed;
}

void admin_progress_clear(admin_progress_t *p) {
    if (p->tty && p->drawn) fputs("\r\033[K", stderr);
    p->drawn = 0;
}
