/* service.h - the classes worker's state, shared by main.c (wiring),
 * tailer.c (events -> view) and batch.c (commands -> events -> replies).
 *
 * The worker is one thread with blocking clients on purpose: it serves no
 * sockets of its own, and handles commands in batches (one Redis pipeline,
 * one producer flush per batch), which is where its throughput comes from. */
#ifndef CLASSES_SERVICE_H
#define CLASSES_SERVICE_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kafka.h"
#include "strmap.h"

#define CLASSES_TOPIC_COMMANDS "sms.commands.classes"
#define CLASSES_TOPIC_EVENTS "sms.events.classes"
#define CLASSES_GROUP "sms-classes"
#define CLASSES_BATCH_MAX 256

typedef struct classes_service_s {
    sms_config_t cfg;
    sms_producer_t *producer;  /* events and replies */
    sms_consumer_t *commands;  /* group member on sms.commands.classes */
    sms_consumer_t *tailer;    /* manual assignment of every sms.events.classes partition */
    redisContext *rc;
    int n_partitions;          /* of the events topic */
    int64_t *tail_next;        /* per partition: next offset the tailer will apply */
    bool need_catchup;         /* partitions were (re)assigned: catch the view up first */
    /* Events this process applied right after producing them ("<partition>:<offset>"):
     * the tailer only records their offsets instead of running the projection again. */
    sms_strmap_t self_applied;
    volatile sig_atomic_t stop;
} classes_service_t;

/* tailer.c */
/* Positions the tailer where the view left off (rebuilding it if it is
 * missing) and catches up. Called once before commands are served. 0 or -1. */
int classes_tailer_start(classes_service_t *svc);
/* Ensures the view is built: rebuilds from offset 0 when meta is missing, then
 * applies everything up to the high watermarks. 0 or -1. */
int classes_tailer_catch_up(classes_service_t *svc);
/* Applies what the tailer has fetched, without waiting. 0 or -1 (Redis). */
int classes_tailer_poll(classes_service_t *svc);
/* Drops the view and replays the whole log (used by --rebuild-views and when
 * meta disappears). 0 or -1. */
int classes_tailer_rebuild(classes_service_t *svc);

/* Remembers / forgets that an event at partition:offset is already in the view. */
void classes_self_applied_add(classes_service_t *svc, int32_t partition, int64_t offset);
bool classes_self_applied_take(classes_service_t *svc, int32_t partition, int64_t offset);
void classes_self_applied_clear(classes_service_t *svc);

/* batch.c */
/* Handles msgs[0..n) (commands). Returns 0 having destroyed the messages, or
 * -1 if the state could not be read (nothing was done; the caller still owns
 * the messages, rewinds to them and retries). */
int classes_handle_batch(classes_service_t *svc, rd_kafka_message_t **msgs, size_t n);
/* The producer's delivery callback (events carry their batch item as opaque). */
void classes_on_delivery(void *opaque, int err, int32_t partition, int64_t offset);

#endif
