/* chat_wait.h - the gateway's long-poll waiters for class chat: one Redis
 * subscriber connection (channel sms:classes:chat, on which the classes
 * projection publishes a class id after each new message), a table of
 * waiters per class, and one timer that expires waiters and frees those
 * whose client went away. No thread and no Redis connection per waiter.
 * routes_chat.c owns the waiters and decides what a wake-up means (a
 * re-read); this file only tells it when. Loop thread only. */
#ifndef GW_CHAT_WAIT_H
#define GW_CHAT_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http.h"

/* Why a waiter is woken. */
typedef enum gw_chat_wake_e {
    GW_CHAT_WAKE_MESSAGE, /* a message for its class was published (or the subscriber
                             reconnected and anything may have been missed): re-read */
    GW_CHAT_WAKE_TIMEOUT, /* its deadline passed: answer what there is (an empty page) */
    GW_CHAT_WAKE_GONE,    /* its client disconnected (reset, or FIN): answer now (an empty
                             page; for a connection already gone this only frees the request) */
    GW_CHAT_WAKE_DRAIN,   /* the gateway is stopping: answer now */
} gw_chat_wake_t;

typedef struct gw_chat_waiter_s gw_chat_waiter_t;
/* Embedded in its owner's struct (routes_chat.c); the hub only links it. */
struct gw_chat_waiter_s {
    const char *class_id;    /* set by the owner, stable while registered */
    gw_request_t *req;       /* checked for abandonment by the sweep */
    uint64_t deadline_ms;    /* sms_mono_ms() clock */
    /* Called by the hub; may call gw_chat_hub_remove(w) (and free w's owner)
     * but must not remove other waiters. */
    void (*wake)(gw_chat_waiter_t *w, gw_chat_wake_t why);
    /* Set by the owner when a re-read could not be sent (Redis reconnecting):
     * the next sweep wakes it with GW_CHAT_WAKE_MESSAGE again. */
    bool retry;
    /* the hub's links */
    gw_chat_waiter_t *class_prev, *class_next; /* this class's waiters (NULL-terminated) */
    gw_chat_waiter_t *all_prev, *all_next;     /* every waiter (the sweep) */
    bool registered;
};

typedef struct gw_chat_hub_s gw_chat_hub_t;

/* Starts the subscriber connection (reconnecting forever) and the sweep
 * timer. Returns the hub (freed by gw_chat_hub_close). */
gw_chat_hub_t *gw_chat_hub_new(uv_loop_t *loop, const sms_config_t *cfg);

/* Registers w (class_id, req, deadline_ms and wake set). Register before
 * the first read: a message published between the read and the
 * registration would otherwise be missed. */
void gw_chat_hub_add(gw_chat_hub_t *hub, gw_chat_waiter_t *w);
/* Unregisters w (no-op when it is not registered). */
void gw_chat_hub_remove(gw_chat_hub_t *hub, gw_chat_waiter_t *w);
/* True once gw_chat_hub_drain ran: do not register new waiters. */
bool gw_chat_hub_draining(const gw_chat_hub_t *hub);
/* Wakes every waiter with GW_CHAT_WAKE_DRAIN (SIGTERM: long-polls are
 * answered now rather than when their wait runs out). */
void gw_chat_hub_drain(gw_chat_hub_t *hub);
/* Waiters registered now. */
size_t gw_chat_hub_waiters(const gw_chat_hub_t *hub);
/* Drains, closes the subscriber and the timer, calls done(data) and frees hub. */
void gw_chat_hub_close(gw_chat_hub_t *hub, void (*done)(void *), void *data);

#endif
