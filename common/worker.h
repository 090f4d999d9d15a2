/* worker.h - the pipeline every sms service runs: commands in, events out,
 * Redis view kept equal to the event log, replies back to the gateway.
 *
 * A service supplies a table of operations (sms_worker_ops_t): its
 * commands (a command table: command_table.h), and how to project an event
 * into its view. The worker owns everything else:
 *
 *   - a batch loop on sms.commands.<service> (consumer group sms-<service>):
 *     dedupe by command id -> prefetch -> decide in order (the decider's
 *     state carries each decision's effect to the batch's later commands)
 *     -> produce events (acks=all) and wait
 *     for their delivery reports -> apply them to the view -> reply -> store
 *     the commands' offsets. A reply is sent only when its events are durable
 *     and visible, so a 2xx at the gateway means both.
 *   - a tailer that reads every partition of the topics the view is built
 *     from (its own events topic, plus other services' events it learns
 *     from) starting at the offsets recorded in the view, and projects each
 *     event (one this process applied right after producing it is passed
 *     over: only its offset is recorded). When the view's "built" marker is missing (new or wiped Redis,
 *     `sms-admin rebuild-views`) it drops the view and replays from offset 0.
 *   - quarantine: an event of the log the view cannot apply (undecodable,
 *     refused by ops.validate, or whose projection script fails by itself,
 *     found by re-applying the failed batch one event at a time) is recorded
 *     in <prefix>quarantine and marks its aggregates incomplete
 *     (quarantine.h); the tailer goes on with the rest of the log. Errors of
 *     Redis's state (connection, OOM, LOADING, ...) are not quarantined: the
 *     batch is fetched again once Redis answers.
 *   - outcomes: a command is answered 503 only when nothing of it reached
 *     Kafka; once anything was produced, a failure is 504 (outcome unknown,
 *     retry with the same key). A command that cannot be decoded is answered
 *     400 at once when its id and reply topic can be read.
 *   - optionally a periodic tick (ops.tick every ops.tick_period_ms) whose events
 *     go the same way as a command's: produced, durable, applied (the
 *     assignments service's due-date reminder scan).
 *
 * One thread, blocking clients (hiredis with SMS_REDIS_TIMEOUT_MS on every
 * command, librdkafka polls): the worker serves no sockets, and throughput
 * comes from batching. Run more instances (same group) for more cores.
 * Metrics (worker_metrics.c): with SMS_METRICS_PORT set, a listener thread
 * (metrics_http.h) serves GET /metrics; the worker only adds to atomics.
 *
 * The code: worker.c (setup, the loop, main), view_tail.c (the tailer),
 * batch.c (a batch, one function per phase, and the tick), decision.c (the
 * decision helpers, decision.h), worker_metrics.c (its Prometheus series);
 * their shared state is worker_internal.h.
 * A service's deciders include decision.h; only its main/ops file needs
 * this header.
 *
 * Below, each member of sms_worker_ops_t says who calls it and when; all
 * run on the worker's one thread.
 *
 * View bookkeeping keys under the service's prefix (sms:<service>:):
 *   cmds     hash: command id -> summary written by the projection (dedupe)
 *   offsets  hash: "<topic>:<partition>" -> next offset the tailer applies
 *   meta     hash: built=1 once the view holds the whole log; rebuilding=<token>
 *            while a replay runs; rebuild_error=<why, at which event> when
 *            one could not finish (cleared when it does)
 *   quarantine, incomplete:<aggregate>: see quarantine.h */
#ifndef SMS_WORKER_H
#define SMS_WORKER_H

#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command_table.h"
#include "config.h"
#include "decision.h"
#include "envelope.h"
#include "problem.h"

#define SMS_WORKER_BATCH_MAX 256
#define SMS_WORKER_PROJECT_CHUNK 256 /* events per project_many call */
typedef struct sms_worker_ops_s {
    const char *service;            /* "classes": topics sms.{commands,events}.classes, keys sms:classes: */
    /* The events topic this service writes, when it is not sms.events.<service>
     * (grading writes sms.events.grades). NULL: sms.events.<service>. */
    const char *events_topic;
    /* Other services' events topics this view also learns from (NULL-terminated, may be NULL). */
    const char *const *learn_topics;

    /* Called by the loop (worker.c) after every (re)connect to Redis: load
     * scripts. 0, or -1 with err (the loop retries the connection). */
    int (*redis_init)(redisContext *rc, char *err, size_t errlen);
    /* Called by the tailer (view_tail.c) for each event of the log, and by
     * the batch (batch.c) for each of its own events once durable.
     * Appends (pipelines) one Redis command applying ev, from topic (its
     * partition and offset, or partition -1 when applied right after being
     * produced: offset is then where its delivery report put it, which the
     * view may use as data but must not record as a position: the tailer
     * does). The command must also record offsets[<topic>:<partition>] =
     * offset + 1 when partition >= 0, and cmds[ev.cause] for its own events.
     * Returns 1 if appended, 0 if the event is not for this view (the worker
     * then records the offset itself). */
    int (*project)(redisContext *rc, const char *topic, const sms_event_t *ev, int32_t partition, int64_t offset);
    /* Optional, used instead of project when set: appends Redis commands
     * applying evs[0..n) (at most SMS_WORKER_PROJECT_CHUNK, all of topic, in
     * log order; partitions[i] and offsets[i] as for project). It must record
     * offsets[<topic>:<partition>] for every event with a partition >= 0,
     * including events that are not for this view. Returns how many commands
     * it appended. Lets a service apply a fan-out of thousands of events in
     * a few Redis calls instead of one each. */
    size_t (*project_many)(redisContext *rc, const char *topic, const sms_event_t *evs, const int32_t *partitions,
                           const int64_t *offsets, size_t n);

    /* Optional (NULL: no check): whether ev, an event of topic, is one this
     * view can apply: 0, or -1 with why in err (NUL-terminated). The batch
     * calls it on every source event it reads (a refused one is passed
     * over) and on every event a decision is about to produce (a failure
     * answers the command 500 and produces nothing) and on every event
     * before projecting it (a failure quarantines the event: see
     * quarantine.h). One function for both, so a decider never writes an
     * event its projection refuses. Events of types this view does not apply
     * are valid (0). Pure: the same event always gets the same answer. */
    int (*validate)(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

    /* The service's commands (command_table.h; required): the batch
     * (batch.c) runs every batch through it: sms_command_batch_begin in its
     * prepare phase (after dedupe), sms_command_batch_decide per new command
     * in order, sms_command_replay per command handled before, after the
     * batch's own events are in the view, sms_command_batch_end at its end. */
    const sms_command_table_t *commands;


    /* Fan-out (optional, NULL for none): other services' events topics this
     * service consumes in its command group (sms-<service>), beside its
     * commands. Each event read there goes to fan_out instead of decide; its
     * decision's events are produced (acks=all), each applied to the view
     * as soon as it is durable (in any order, SMS_WORKER_PROJECT_CHUNK at a
     * time, while the rest are still being sent), and only when all are
     * durable and applied is its offset stored; it gets no reply. Before a
     * batch with such events is decided, the view is caught up with the
     * topics it learns from that other services write (not own_topics) to
     * their current ends, so whatever was acknowledged before the event was
     * written is known.
     * A redelivered event is decided again: its events must be derived from
     * it (ids included) so that the view takes them only once. */
    const char *const *source_topics;
    /* Topics other than its events topic that this service's decisions write
     * (sms_decision_event_to; NULL-terminated, may be NULL). The catch-up
     * before a fan-out skips them: this process applied what it wrote there
     * before storing any offset, so only other services' topics can hold
     * facts the view has not seen. */
    const char *const *own_topics;
    /* Called by the batch, in its decide phase, for each source event in
     * the batch's order, with the batch's decider state (the command
     * table's): d->status >= 500 means it could not be
     * decided (Redis), and the event is fetched again. */
    void (*fan_out)(void *state, const char *topic, const sms_event_t *ev, sms_decision_t *d);
    /* Optional, with fan_out: called by the batch once per batch with source
     * events, in its prepare phase (after the catch-up and the commands'
     * state_fetch), with the batch's source events in order (topics[i] is
     * evs[i]'s; both live until the batch ends): reads what their fan_out
     * calls will need into state in one pipeline, instead of a round trip
     * per event. 0, or -1 when Redis failed (the batch is fetched again). */
    int (*fan_out_prefetch)(void *state, const char *const *topics, const sms_event_t *const *evs, size_t n);

    /* Periodic work (optional, NULL for none), called by batch.c's tick from
     * the loop: every tick_period_ms (0: never) the loop, between two batches, never while commands wait for a catch-up
     * and never while the view is being rebuilt, first catches the view up
     * with every topic it tails (one ListOffsets request) and then calls
     * tick with the time. Events tick
     * adds to d (sms_decision_event*) are produced with acks=all, applied to
     * the view once durable and passed over by the tailer, like a command's;
     * there is no reply and no offset to store. d->status >= 500 (e.g. the
     * view could not be read): nothing is produced, tried again next period.
     * Another instance of the service runs the same tick, and a crash after
     * producing re-runs it, so the events must be derived from the view
     * (ids and times included: sms_id_derive) for duplicates to carry the
     * same id. */
    void (*tick)(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d);
    /* Called once by the loop when it starts (when tick is set): the tick's
     * period in ms from the configuration (<= 0: never). */
    int (*tick_period_ms)(const sms_config_t *cfg);
} sms_worker_ops_t;

/* ---- For project_many: the positions a run of events reaches ---------- */

#define SMS_POSITIONS_MAX 64 /* partitions one set records */

/* The next offset of each partition among a run of events of one topic. */
typedef struct sms_positions_s {
    size_t k;                              /* partitions found */
    int32_t partition[SMS_POSITIONS_MAX];
    int64_t next[SMS_POSITIONS_MAX];       /* the last event's offset + 1 (events are in log order) */
} sms_positions_t;

/* Fills p from the events with a partition >= 0 among partitions[0..n)
 * (offsets[i] the i-th event's), stopping before an event that would be a
 * partition past SMS_POSITIONS_MAX. Returns how many events it covered (n,
 * unless it stopped): project the rest in another call. */
size_t sms_positions_collect(sms_positions_t *p, const int32_t *partitions, const int64_t *offsets, size_t n);

/* Appends HSET <prefix>offsets <topic>:<partition> <offset + 1>: how
 * project_many records an event that is not for its view. Returns 1 (the
 * command appended). */
int sms_worker_append_position(redisContext *rc, const char *prefix, const char *topic, int32_t partition,
                               int64_t offset);

/* Runs the service until SIGTERM/SIGINT: returns the process exit code.
 * With rebuild_only, drops the view, replays the log and returns. */
int sms_worker_main(const sms_worker_ops_t *ops, const sms_config_t *cfg, bool rebuild_only);

/* The whole main() of a worker service (sms-<ops->service>): reads
 * `--rebuild-views` (rebuild the view from offset 0 and exit) or nothing,
 * loads the configuration, starts the log and runs sms_worker_main. */
int sms_worker_service_main(int argc, char **argv, const sms_worker_ops_t *ops);

#endif
