/* chat_wait.c - long-poll waiters per class, woken by one Redis subscriber
 * (see chat_wait.h). */
#include "chat_wait.h"

#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "redis.h"
#include "strmap.h"

/* The channel services/classes/projection.c publishes a class id on after
 * each new chat message (CLASSES_CHAT_CHANNEL there). */
#define GW_CHAT_CHANNEL "sms:classes:chat"
/* How often deadlines and vanished clients are checked: the precision of a wait's timeout. */
#define SWEEP_MS 50

struct gw_chat_hub_s {
    sms_redis_t *sub;        /* the one subscriber connection */
    uv_timer_t sweep;
    sms_strmap_t by_class;   /* class id -> first waiter of that class */
    gw_chat_waiter_t all;    /* sentinel of every waiter */
    size_t n;
    bool draining;
    int closing_parts;
    void (*done)(void *);
    void *done_data;
};

/* Calls wake on every waiter of list (a class's, or all when class_id is
 * NULL). wake may remove the waiter it is given, so the next one is taken
 * first; waiters registered during the walk are not woken (they read anyway). */
static void wake_class(gw_chat_hub_t *hub, const char *class_id, size_t len, gw_chat_wake_t why) {
    gw_chat_waiter_t *w = sms_strmap_get(&hub->by_class, class_id, len);
    while (w) {
        gw_chat_waiter_t *next = w->class_next;
        w->wake(w, why);
        w = next;
    }
}

static void wake_all(gw_chat_hub_t *hub, gw_chat_wake_t why) {
    /* Each waiter is woken once: a re-read that registers nothing new. The
     * list can only lose members during the walk (see wake_class). */
    gw_chat_waiter_t *w = hub->all.all_next;
    while (w != &hub->all) {
        gw_chat_waiter_t *next = w->all_next;
        w->wake(w, why);
        w = next;
    }
}

static void on_message(const char *payload, size_t len, void *data) {
    wake_class(data, payload, len, GW_CHAT_WAKE_MESSAGE);
}

/* A (re)subscription: anything published while the connection was down is
 * lost, so every waiter reads again. */
static void on_subscribed(void *data) {
    gw_chat_hub_t *hub = data;
    sms_log(SMS_LOG_INFO, "chat_subscribed", "%s: waking %zu waiters to re-read", GW_CHAT_CHANNEL, hub->n);
    wake_all(hub, GW_CHAT_WAKE_MESSAGE);
}

static void on_sweep(uv_timer_t *t) {
    gw_chat_hub_t *hub = t->data;
    uint64_t now = sms_mono_ms();
    gw_chat_waiter_t *w = hub->all.all_next;
    while (w != &hub->all) {
        gw_chat_waiter_t *next = w->all_next;
        if (gw_req_client_closed(w->req)) w->wake(w, GW_CHAT_WAKE_GONE);
        else if (now >= w->deadline_ms) w->wake(w, GW_CHAT_WAKE_TIMEOUT);
        else if (w->retry) {
            w->retry = false;
            w->wake(w, GW_CHAT_WAKE_MESSAGE);
        }
        w = next;
    }
}

gw_chat_hub_t *gw_chat_hub_new(uv_loop_t *loop, const sms_config_t *cfg) {
    gw_chat_hub_t *hub = sms_calloc(1, sizeof *hub);
    hub->all.all_prev = hub->all.all_next = &hub->all;
    sms_strmap_init(&hub->by_class);
    /* Always 0 (it connects in the background, forever). */
    (void)sms_redis_new(loop, cfg->redis_host, cfg->redis_port, cfg->redis_timeout_ms, &hub->sub);
    sms_redis_subscribe(hub->sub, GW_CHAT_CHANNEL, on_message, on_subscribed, hub);
    uv_timer_init(loop, &hub->sweep);
    hub->sweep.data = hub;
    uv_timer_start(&hub->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    return hub;
}

void gw_chat_hub_add(gw_chat_hub_t *hub, gw_chat_waiter_t *w) {
    size_t len = strlen(w->class_id);
    gw_chat_waiter_t *head = sms_strmap_get(&hub->by_class, w->class_id, len);
    w->class_prev = NULL;
    w->class_next = head;
    if (head) head->class_prev = w;
    sms_strmap_put(&hub->by_class, w->class_id, len, w);
    w->all_prev = hub->all.all_prev;
    w->all_next = &hub->all;
    hub->all.all_prev->all_next = w;
    hub->all.all_prev = w;
    w->registered = true;
    hub->n++;
}

void gw_chat_hub_remove(gw_chat_hub_t *hub, gw_chat_waiter_t *w) {
    if (!w->registered) return;
    size_t len = strlen(w->class_id);
    if (w->class_prev) w->class_prev->class_next = w->class_next;
    else if (w->class_next) sms_strmap_put(&hub->by_class, w->class_id, len, w->class_next);
    else sms_strmap_del(&hub->by_class, w->class_id, len);
    if (w->class_next) w->class_next->class_prev = w->class_prev;
    w->all_prev->all_next = w->all_next;
    w->all_next->all_prev = w->all_prev;
    w->class_prev = w->class_next = w->all_prev = w->all_next = NULL;
    w->registered = false;
    hub->n--;
}

bool gw_chat_hub_draining(const gw_chat_hub_t *hub) { return hub->draining; }
size_t gw_chat_hub_waiters(const gw_chat_hub_t *hub) { return hub->n; }

void gw_chat_hub_drain(gw_chat_hub_t *hub) {
    hub->draining = true;
    if (hub->n) sms_log(SMS_LOG_INFO, "chat_drain", "answering %zu long-polls", hub->n);
    wake_all(hub, GW_CHAT_WAKE_DRAIN);
}

static void part_closed(void *data) {
    gw_chat_hub_t *hub = data;
    if (--hub->closing_parts > 0) return;
    void (*done)(void *) = hub->done;
    void *done_data = hub->done_data;
    sms_strmap_close(&hub->by_class);
    sms_free(hub);
    if (done) done(done_data);
}

static void on_sweep_closed(uv_handle_t *h) { part_closed(h->data); }

void gw_chat_hub_close(gw_chat_hub_t *hub, void (*done)(void *), void *data) {
    gw_chat_hub_drain(hub);
    /* Waiters still registered have a read in flight and answer when it
     * returns; unlink them so that their later remove never touches hub. */
    while (hub->all.all_next != &hub->all) gw_chat_hub_remove(hub, hub->all.all_next);
    hub->done = done;
    hub->done_data = data;
    hub->closing_parts = 2;
    uv_close((uv_handle_t *)&hub->sweep, on_sweep_closed);
    sms_redis_close(hub->sub, part_closed, hub);
}
