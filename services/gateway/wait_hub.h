/* wait_hub.h - requests the gateway holds open until something is published
 * for their key: one Redis subscriber connection per hub (a channel on which
 * a service's projection publishes keys after it wrote something new), a
 * table of waiters per key, and one timer that wakes waiters whose deadline
 * passed and those whose client went away. No thread and no Redis connection
 * per waiter. Two hubs exist: chat long-polls (channel sms:classes:chat, key =
 * class id; routes_chat.c) and notification streams (channel
 * sms:notifications:new, key = user id; routes_stream.c). The owner decides
 * what a wake-up means (a re-read, a heartbeat); this file only tells it
 * when. Loop thread only. */
#ifndef GW_WAIT_HUB_H
#define GW_WAIT_HUB_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http/http.h"

/* Why a waiter is woken. */
typedef enum gw_wake_e {
    GW_WAKE_MESSAGE, /* its key was published (or the subscriber reconnected and
                        anything may have been missed): re-read */
    GW_WAKE_TIMEOUT, /* its deadline passed (a long-poll answers what there is;
                        a stream sends a heartbeat and sets a new deadline) */
    GW_WAKE_GONE,    /* its client disconnected (reset, or FIN): answer now (for a
                        connection already gone this only frees the request) */
    GW_WAKE_DRAIN,   /* the gateway is stopping: answer now */
} gw_wake_t;

typedef struct gw_waiter_s gw_waiter_t;
/* Embedded in its owner's struct; the hub only links it. */
struct gw_waiter_s {
    const char *key;         /* set by the owner, stable while registered */
    gw_request_t *req;       /* checked for abandonment by the sweep (valid while registered) */
    uint64_t deadline_ms;    /* sms_mono_ms() clock; the owner may move it while registered */
    /* Called by the hub; may call gw_wait_hub_remove(w) (and free w's owner)
     * but must not remove other waiters. */
    void (*wake)(gw_waiter_t *w, gw_wake_t why);
    /* Set by the owner when a re-read could not be sent (Redis reconnecting):
     * the next sweep wakes it with GW_WAKE_MESSAGE again. */
    bool retry;
    /* the hub's links */
    gw_waiter_t *key_prev, *key_next; /* this key's waiters (NULL-terminated) */
    gw_waiter_t *all_prev, *all_next; /* every waiter (the sweep) */
    bool registered;
};

typedef struct gw_wait_hub_s gw_wait_hub_t;

/* Starts the subscriber connection to channel (copied; the payload of a
 * message is one key, or several separated by '\n') reconnecting forever,
 * and the sweep timer. Returns the hub (freed by gw_wait_hub_close). */
gw_wait_hub_t *gw_wait_hub_new(uv_loop_t *loop, const sms_config_t *cfg, const char *channel);

/* Registers w (key, req, deadline_ms and wake set). Register before the
 * first read: a message published between the read and the registration
 * would otherwise be missed. */
void gw_wait_hub_add(gw_wait_hub_t *hub, gw_waiter_t *w);
/* Unregisters w (no-op when it is not registered). */
void gw_wait_hub_remove(gw_wait_hub_t *hub, gw_waiter_t *w);
/* True once gw_wait_hub_drain ran: do not register new waiters. */
bool gw_wait_hub_draining(const gw_wait_hub_t *hub);
/* Wakes every waiter with GW_WAKE_DRAIN (SIGTERM: held requests are
 * answered now rather than when their wait runs out). */
void gw_wait_hub_drain(gw_wait_hub_t *hub);
/* Waiters registered now. */
size_t gw_wait_hub_waiters(const gw_wait_hub_t *hub);
/* Drains, closes the subscriber and the timer, calls done(data) and frees hub. */
void gw_wait_hub_close(gw_wait_hub_t *hub, void (*done)(void *), void *data);

#endif
