/* delivery.h - the core every notification delivery consumer runs
 * (sms-notify-email, sms-notify-webhook): its own consumer group on
 * sms.notifications (so a slow channel never delays another), one thread,
 * blocking Redis (SMS_REDIS_TIMEOUT_MS per command), librdkafka polls.
 *
 * A message's offset is stored only after the channel's handle() said it
 * is done with it: delivered, durably scheduled (in Redis) or not for this
 * channel. When handle() fails (Redis down, SMTP down) the partition is
 * rewound to that message and consumption pauses (backoff up to 5 s) while
 * tick() keeps running; the message is handled again after.
 *
 * Views: a channel reads other services' Redis views (the addresses, the
 * webhook registrations), and a lookup miss in a view that is missing
 * (FLUSHALL) or being rebuilt (sms-admin rebuild-views) says nothing. So the
 * core checks the built marker (hash <prefix>meta field `built`) of every
 * view in ops->views before it takes a message, and the channel checks it
 * again atomically with each lookup (returning NOTIF_DELIVERY_NOT_READY).
 * While a view is not built, consumption pauses (no offset is stored past
 * the waiting message), `view_not_ready` is logged once per
 * NOTIF_DELIVERY_REPORT_MS and the health file says so.
 *
 * Health: with SMS_HEALTH_FILE set, a one-line JSON status written (tmp +
 * rename) on every change and every NOTIF_DELIVERY_REPORT_MS:
 *   {"service", "state": "ok"|"view_not_ready"|"redis_unavailable"|"backlog_full",
 *    "since" (ms the state began), "updated_at" (ms), "detail", "backlog"}
 * (deploy/ctl status prints it). */
#ifndef NOTIF_DELIVERY_H
#define NOTIF_DELIVERY_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"
#include "envelope.h"

/* Where a message is: handle() gets it, and a channel that holds the
 * message in Redis (HELD) gives it back to notif_delivery_release(). */
typedef struct notif_delivery_pos_s {
    const char *topic;
    int32_t partition;
    int64_t offset;
} notif_delivery_pos_t;

/* handle()'s answer when a view it needs is not built: the message waits. */
#define NOTIF_DELIVERY_NOT_READY 1
/* handle()'s answer when the channel holds as much as it may (email with
 * the relay down, SMS_EMAIL_HELD_MAX): the message waits, unlogged per message. */
#define NOTIF_DELIVERY_FULL 2
/* handle()'s answer when the channel took the message but keeps it in Redis
 * (mail held for a digest or for the relay): Redis state is lost with a
 * FLUSHALL, so the core stores no offset at or past it until the channel
 * calls notif_delivery_release(); until then a restart, or a FLUSHALL
 * noticed (the key sms:delivery:<name>:epoch gone), reads it again. */
#define NOTIF_DELIVERY_HELD 3
#define NOTIF_DELIVERY_REPORT_MS 5000

typedef struct notif_delivery_ops_s {
    const char *name;                 /* "email": group sms-notify-email, logs */
    const char *const *topics;        /* NULL-terminated: what the group consumes */
    const char *const *views;         /* NULL-terminated key prefixes ("sms:notifications:") of the
                                       * views handle() and tick() read: consumption waits for their
                                       * built markers */
    /* Creates the channel's state; NULL (reason in err) stops the process. */
    void *(*open)(const sms_config_t *cfg, char *err, size_t errlen);
    void (*close)(void *ch);
    /* After every Redis (re)connect: load scripts. 0 or -1 with err. */
    int (*redis_init)(void *ch, redisContext *rc, char *err, size_t errlen);
    /* One message (already decoded as an event; ev is NULL if it is not
     * one: the channel decides). 0: done, store the offset; -1: failed,
     * handle it again later; NOTIF_DELIVERY_NOT_READY / _FULL: not taken,
     * handle it again once the views are built / the channel has room;
     * NOTIF_DELIVERY_HELD: taken, kept in Redis until released. */
    int (*handle)(void *ch, redisContext *rc, const notif_delivery_pos_t *pos, const sms_event_t *ev, int64_t now_ms);
    /* Periodic work (due retries, digests, transfers in flight). Returns
     * how many ms it may sleep at most (it is called again sooner when a
     * message arrives); -1 when Redis failed (the core reconnects). */
    int (*tick)(void *ch, redisContext *rc, int64_t now_ms);
    /* Optional: how many items the channel holds waiting (mail with the
     * relay down), for the health file; -1 = unknown. */
    long long (*backlog)(void *ch);
} notif_delivery_ops_t;

/* 1 if every view in views (NULL-terminated prefixes) has its built
 * marker, 0 if one has not (its prefix in *missing, if missing is not
 * NULL), -1 if Redis failed. */
int notif_delivery_views_built(redisContext *rc, const char *const *views, const char **missing);

/* A HELD message is done (mailed, dead-lettered, undeliverable): offsets
 * may now be stored past it. Call from the channel's tick or handle (the
 * core's thread); unknown positions are ignored. */
void notif_delivery_release(const char *topic, int32_t partition, int64_t offset);

/* The process's Prometheus registry (served on SMS_METRICS_PORT), for the
 * channel's own series: valid from before ops->open until after ops->close;
 * register in open. The core counts sms_delivery_messages_total{channel,
 * outcome = done|held|failed|not_ready|full}, sms_delivery_backlog{channel}
 * and sms_kafka_consumer_lag for the group. NULL outside notif_delivery_main. */
struct sms_metrics_s *notif_delivery_metrics(void);

/* Runs until SIGTERM/SIGINT; returns the exit code. One per process. */
int notif_delivery_main(const notif_delivery_ops_t *ops, const sms_config_t *cfg);

/* The whole main() of a delivery consumer, sms-notify-<ops->name>: takes no
 * arguments (usage, exit 2), loads the configuration (exit 2 on an error),
 * starts the log as notify-<name> and runs notif_delivery_main. */
int notif_delivery_run(int argc, char **argv, const notif_delivery_ops_t *ops);

#endif
