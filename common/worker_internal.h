/* worker_internal.h - the worker's private state and the calls between its
 * files (the pipeline of worker.h, split by job):
 *
 *   decision.c   the decision type's helpers (public: decision.h)
 *   view_tail.c  the view tailer: project, quarantine/refuse, catch-up, rebuild
 *   batch.c      a command batch, phase by phase, and the periodic tick
 *   worker.c     setup, teardown, the loop, sms_worker_main
 *
 * Naming: a function one of these files gives the others carries that
 * file's prefix (sms_view_tail_*, sms_batch_*, sms_worker_*), so its name
 * says where it is defined; everything else in them is static. Nothing
 * outside these files includes this header. */
#ifndef SMS_WORKER_INTERNAL_H
#define SMS_WORKER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "kafka_metrics.h"
#include "metrics.h"
#include "metrics_http.h"
#include "quarantine.h"
#include "rebuild_lock.h"
#include "strmap.h"
#include "worker.h"

#define SMS_TAIL_BATCH 512       /* messages the tailer applies in one pipeline */
#define SMS_WORKER_MAX_TOPICS 8  /* topics the tailer reads (events + learn_topics) */

/* The phases of a batch, timed for the stats line: dedupe + prefetch,
 * decide + produce, waiting for delivery reports, applying to the view,
 * replies + offsets. */
enum { SMS_PHASE_PREP, SMS_PHASE_DECIDE, SMS_PHASE_DURABLE, SMS_PHASE_APPLY, SMS_PHASE_REPLY, SMS_PHASE_COUNT };

typedef struct tail_topic_s {
    char name[128];
    int n_partitions;
    int64_t *next; /* per partition: next offset to apply */
} tail_topic_t;

/* The worker's Prometheus series (worker_metrics.c). The tables hold the
 * series registered as command types, event types and partitions appear. */
#define WORKER_METRICS_MAX_CMDS 96
#define WORKER_METRICS_MAX_EVS 96
typedef struct worker_metrics_s {
    sms_metrics_t *reg;
    sms_metrics_http_t *http; /* NULL: SMS_METRICS_PORT unset, or the port was taken */
    sms_metric_t *batch_size, *batch_duration, *phase[SMS_PHASE_COUNT];
    sms_metric_t *quarantined, *shed, *delivery_errors, *producer_queue, *rebuilds, *up;
    sms_metric_t *redis_used, *redis_max; /* INFO memory, sampled */
    struct { char type[64]; int cls; sms_metric_t *m; } cmds[WORKER_METRICS_MAX_CMDS];
    size_t n_cmds;
    struct { char topic[128]; char type[64]; sms_metric_t *m; } evs[WORKER_METRICS_MAX_EVS];
    size_t n_evs;
    sms_kafka_lag_t commands_lag, tailer_lag;
    uint64_t last_sample_ms;
} worker_metrics_t;

typedef struct worker_s {
    const sms_worker_ops_t *ops;
    const sms_config_t *cfg;
    char prefix[64];          /* "sms:<service>:" */
    char commands_topic[128];
    char events_topic[128];
    sms_producer_t *producer;
    sms_consumer_t *commands;
    sms_consumer_t *tailer;
    redisContext *rc;
    tail_topic_t topics[SMS_WORKER_MAX_TOPICS];
    size_t n_topics;
    bool need_catchup;
    /* Events this process applied right after producing them
     * ("<topic>:<partition>:<offset>"): the tailer only records their
     * offsets instead of projecting them again. */
    sms_strmap_t self_applied;
    /* Commands whose decision was stale (see sms_decision_stale): decided
     * again after the tailer caught up; their offsets are already stored. */
    rd_kafka_message_t *deferred[SMS_WORKER_BATCH_MAX];
    size_t n_deferred;
    /* Where batch time goes, summed since the last stats line (µs). */
    uint64_t phase_us[SMS_PHASE_COUNT];
    uint64_t quarantined; /* events this process quarantined (the stats line; a metric later) */
    uint64_t shed;        /* commands dropped past their deadline (batch.c; the stats line) */
    uint64_t shed_logged_ms; /* when the last commands_shed line was written (monotonic) */
    /* Set by sms_view_tail_read_replies: a reply was an error of the command
     * itself (a script error), not of Redis's state: the tailer then applies
     * the batch one event at a time to find and quarantine the event. */
    bool script_error;
    char last_error[SMS_QUARANTINE_REASON_MAX]; /* that error's text */
    char apply_failure[512]; /* why the tailer last failed, and at which event (a rebuild reports it) */
    worker_metrics_t metrics;
    /* Held while this instance replays the view (rebuild_lock.h). */
    sms_rebuild_lock_t rebuild_lock;
    /* Another instance replayed the view while this one waited: re-read
     * the recorded offsets before tailing on (sms_view_tail_catch_up). */
    bool waited_for_rebuild;
} worker_t;

/* One event to project: its bytes and its place in the log (partition -1:
 * applied right after being produced); covered is set when what was
 * appended records its offset. */
typedef struct to_project_s {
    const void *data;
    size_t len;
    int32_t partition;
    int64_t offset;
    bool covered;
} to_project_t;

/* ---- worker.c ---- */

/* Set by SIGTERM/SIGINT: the loop, a catch-up and a rebuild stop. */
extern volatile sig_atomic_t sms_worker_stop_requested;

/* ---- view_tail.c ---- */

/* Where a decision's event is written: its own topic, or the service's. */
const char *sms_view_tail_event_topic(const worker_t *w, const sms_decision_event_t *ev);
/* Notes that this process applied topic's event at partition/offset right
 * after producing it: the tailer then only records its offset. */
void sms_view_tail_mark_applied(worker_t *w, const char *topic, int32_t partition, int64_t offset);
/* Appends the Redis commands projecting evs[0..n), all of topic, in log
 * order (an event the view cannot apply is quarantined, or refused and
 * logged when it has no position); sends them. Returns how many commands
 * were appended: the caller reads that many replies. */
size_t sms_view_tail_project(worker_t *w, const char *topic, to_project_t *evs, size_t n);
/* Reads n pipelined replies; -1 if any failed (all are read unless the
 * connection broke, so the pipeline stays in step). Sets w->script_error
 * on an error of the command itself. */
int sms_view_tail_read_replies(worker_t *w, size_t n, const char *what);
/* Whether the view's built marker is there: 1, 0, or -1 (Redis failed). */
int sms_view_tail_is_built(worker_t *w);
/* Applies up to SMS_TAIL_BATCH messages of the tailed topics, waiting at
 * most timeout_ms for the first. Returns how many, or -1 on a Redis failure
 * (they are fetched again). */
int sms_view_tail_apply_some(worker_t *w, int timeout_ms);
/* Applies until every partition reached the high watermark read at the
 * start. progress: log it (start-up). foreign_only: only the topics other
 * services write (see own_topics in worker.h). 0 or -1. */
int sms_view_tail_catch_up_to_end(worker_t *w, bool progress, bool foreign_only);
/* Makes the view hold the whole log: rebuilds it when the built marker is
 * missing, else applies what is new. first: position the tailer too.
 * Only the holder of the rebuild lock replays; the others answer -1 (not
 * ready) until it is done. */
int sms_view_tail_catch_up(worker_t *w, bool first);
/* Drops the view and replays the log from offset 0 (starting over when the
 * view is wiped meanwhile). 0, or -1 with the failure logged and in meta. */
int sms_view_tail_rebuild(worker_t *w);
/* sms_view_tail_rebuild once this instance holds the rebuild lock (waits
 * for another instance's replay first); the lock is released after. */
int sms_view_tail_rebuild_exclusive(worker_t *w);
/* Seeks each topic and partition of msgs[0..n) back to its first message,
 * so they are fetched again. */
void sms_view_tail_seek_back(rd_kafka_message_t *const *msgs, size_t n);

/* ---- worker_metrics.c ---- */

/* Registers the series and starts the listener (SMS_METRICS_PORT > 0; a
 * failure to bind is logged, the service runs on). */
void sms_worker_metrics_start(worker_t *w);
/* Stops the listener and frees the series. */
void sms_worker_metrics_stop(worker_t *w);
/* One batch handled: n messages, us in all, phase_us[SMS_PHASE_COUNT] its phases. */
void sms_worker_metrics_batch(worker_t *w, size_t n, uint64_t us, const uint64_t *phase_us);
/* A command of type answered with status. */
void sms_worker_metrics_decision(worker_t *w, sms_str_t type, int status);
/* An event (packed envelope) handed to the producer for topic. */
void sms_worker_metrics_event(worker_t *w, const char *topic, const void *data, size_t len);
/* At most every 5 s: consumer lag per partition, producer queue. Off the batch path (the loop's turn). */
void sms_worker_metrics_sample(worker_t *w);

/* ---- batch.c ---- */

/* The producer's delivery callback (sms_producer_opts_t.on_delivery):
 * events carry their batch event as opaque, replies NULL. */
void sms_batch_on_delivery(void *opaque, int err, int32_t partition, int64_t offset);
/* Handles msgs[0..n), commands and source events. second_try: the deferred
 * commands of an earlier batch (their offsets are stored already). Returns
 * 0 having destroyed them (deferred ones moved to w->deferred), or -1 if
 * the view could not be read (nothing was done; the caller rewinds). */
int sms_batch_handle(worker_t *w, rd_kafka_message_t **msgs, size_t n, bool second_try);
/* Runs ops->tick once: its events are produced, waited for, applied once
 * durable and marked for the tailer to pass over. 0, or -1 if the view
 * could not be caught up or written (tried next period). */
int sms_batch_tick(worker_t *w);
/* Writes "prep 1.23, decide 4.56, ..." into buf: us[phase] / 1000 / per
 * (per: 1 for totals, the number of batches for averages). */
void sms_batch_phases_format(char *buf, size_t cap, const uint64_t *us, double per);

#endif
