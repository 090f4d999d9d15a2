/* progress.h - the progress display of `sms-admin seed` on stderr.
 *
 * On a terminal: one bar redrawn in place about ten times a second. Otherwise
 * (logs, CI): one plain line about every second. Counts requests across the
 * seed's phases; admin_progress_note prints a message without tearing the bar. */
#ifndef ADMIN_PROGRESS_H
#define ADMIN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct admin_progress_s {
    size_t total;        /* requests planned in all phases */
    size_t base;         /* requests finished in earlier phases */
    size_t failed;       /* failures in earlier phases */
    const char *phase;   /* what the current batch does ("classes") */
    int tty;             /* stderr is a terminal */
    int drawn;           /* a bar is on the current line */
    size_t shown;        /* requests done at the last plain line */
    uint64_t start_ms;
    uint64_t last_ms;
} admin_progress_t;

void admin_progress_init(admin_progress_t *p, size_t total);
/* Shows done/failed of the current phase (added to the earlier phases'). */
void admin_progress_show(admin_progress_t *p, size_t done, size_t failed);
/* Closes a phase of n requests with failed of them failed. */
void admin_progress_phase_end(admin_progress_t *p, size_t n, size_t failed);
/* Clears the bar if one is drawn, so that the caller can print a line. */
void admin_progress_clear(admin_progress_t *p);
/* Milliseconds since admin_progress_init. */
uint64_t admin_progress_elapsed_ms(const admin_progress_t *p);

#endif
