/* delivery.h - the core every notification delivery consumer runs
 * (sms-notify-email, sms-notify-webhook): its own consumer group on
 * sms.notifications (so a slow channel never delays another), one thread,
 * blocking Redis (SMS_REDIS_TIMEOUT_MS per command), librdkafka polls.
 *
 * A message's offset is stored only after the channel's handle() said it
 * is done with it: delivered, durably scheduled (in Redis) or not for this
 * channel. When handle() fails (Redis down, SMTP down) the partition is
 * rewound to that message and consumption pauses (backoff up to 5 s) while
 * tick() keeps running; the message is handled again after. */
#ifndef NOTIF_DELIVERY_H
#define NOTIF_DELIVERY_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"
#include "envelope.h"

typedef struct notif_delivery_ops_s {
    const char *name;                 /* "email": group sms-notify-email, logs */
    const char *const *topics;        /* NULL-terminated: what the group consumes */
    /* Creates the channel's state; NULL (reason in err) stops the process. */
    void *(*open)(const sms_config_t *cfg, char *err, size_t errlen);
    void (*close)(void *ch);
    /* After every Redis (re)connect: load scripts. 0 or -1 with err. */
    int (*redis_init)(void *ch, redisContext *rc, char *err, size_t errlen);
    /* One message (already decoded as an event; ev is NULL if it is not
     * one: the channel decides). 0: done, store the offset; -1: failed,
     * handle it again later. */
    int (*handle)(void *ch, redisContext *rc, const char *topic, const sms_event_t *ev, int64_t now_ms);
    /* Periodic work (due retries, digests, transfers in flight). Returns
     * how many ms it may sleep at most (it is called again sooner when a
     * message arrives); -1 when Redis failed (the core reconnects). */
    int (*tick)(void *ch, redisContext *rc, int64_t now_ms);
} notif_delivery_ops_t;

/* Runs until SIGTERM/SIGINT; returns the exit code. */
int notif_delivery_main(const notif_delivery_ops_t *ops, const sms_config_t *cfg);

#endif
