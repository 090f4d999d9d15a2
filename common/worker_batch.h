/* worker_batch.h - the batch_begin/batch_end pair of sms_worker_ops_t
 * (worker.h) for a service whose per-batch state follows one pattern:
 *
 *   void <prefix>_state_init(<prefix>_state_t *st, redisContext *rc);
 *   int  <prefix>_state_prefetch(<prefix>_state_t *st, const sms_command_t *const *cmds, size_t n); (0 or -1)
 *   void <prefix>_state_close(<prefix>_state_t *st);
 *
 * Used by the classes, assignments and grading ops.c. A macro rather than a
 * function taking pointers so that each stays typed by its service.
 *
 * Legacy: batch_begin/batch_end are unused once a service sets
 * ops.commands (its table's state_new/state_fetch/state_free do this job);
 * this header goes with those members of sms_worker_ops_t. */
#ifndef SMS_WORKER_BATCH_H
#define SMS_WORKER_BATCH_H

#include "alloc.h"
#include "worker.h"

/* Defines static batch_begin (heap state, prefetched; NULL and nothing held
 * on a Redis failure) and batch_end (closes and frees it). */
#define SMS_WORKER_BATCH_STATE(prefix)                                                            \
    static void *batch_begin(redisContext *rc, const sms_command_t *const *cmds, size_t n) {      \
        prefix##_state_t *st = sms_malloc(sizeof *st);                                            \
        prefix##_state_init(st, rc);                                                              \
        if (prefix##_state_prefetch(st, cmds, n) != 0) {                                          \
            prefix##_state_close(st);                                                             \
            sms_free(st);                                                                         \
            return NULL;                                                                          \
        }                                                                                         \
        return st;                                                                                \
    }                                                                                             \
    static void batch_end(void *state) {                                                          \
        prefix##_state_close(state);                                                              \
        sms_free(state);                                                                          \
    }

#endif
