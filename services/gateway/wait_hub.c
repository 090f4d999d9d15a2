/* wait_hub.c - requests held open per key (a class's chat long-polls, a
 * user's notification streams), woken by one Redis subscriber (see wait_hub.h). */
#include "wait_hub.h"

#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "redis.h"
#include "strmap.h"

/* How often deadlines and vanished clients are checked: the precision of a wait's timeout. */
#define SWEEP_MS 50

struct gw_wait_hub_s {
    sms_redis_t *sub;        /* the one subscriber connection */
    char *channel;           /* what it listens to (for the log) */
    uv_timer_t sweep;
    sms_strmap_t by_key;     /* key -> first waiter of that key */
    gw_waiter_t all;         /* sentinel of every waiter */
    size_t n;
    bool draining;
    int closing_parts;
    void (*done)(void *);
    void *done_data;
};

/* Calls wake on every waiter of key. wake may remove the waiter it is given,
 * so the next one is taken first; waiters registered during the walk are not
 * woken (they read anyway). */
static void wake_key(gw_wait_hub_t *hub, const char *key, size_t len, gw_wake_t why) {
    gw_waiter_t *w = sms_strmap_get(&hub->by_key, key, len);
    while (w) {
        gw_waiter_t *next = w->key_next;
        w->wake(w, why);
        w = next;
    }
}

static void wake_all(gw_wait_hub_t *hub, gw_wake_t why) {
    /* Each waiter is woken once: a re-read that registers nothing new. The
     * list can only lose members during the walk (see wake_key). */
    gw_waiter_t *w = hub->all.all_next;
    while (w != &hub->all) {
        gw_waiter_t *next = w->all_next;
        w->wake(w, why);
        w = next;
    }
}

/* The payload is one key, or several separated by '\n' (a fan-out tells
 * many users in one message). */
static void on_message(const char *payload, size_t len, void *data) {
    const char *end = payload + len;
    while (payload < end) {
        const char *nl = memchr(payload, '\n', (size_t)(end - payload));
        const char *stop = nl ? nl : end;
        if (stop > payload) wake_key(data, payload, (size_t)(stop - payload), GW_WAKE_MESSAGE);
        payload = stop + 1;
    }
}

/* A (re)subscription: anything published while the connection was down is
 * lost, so every waiter reads again. */
static void on_subscribed(void *data) {
    gw_wait_hub_t *hub = data;
    sms_log(SMS_LOG_INFO, "wait_subscribed", "%s: waking %zu waiters to re-read", hub->channel, hub->n);
    wake_all(hub, GW_WAKE_MESSAGE);
}

static void on_sweep(uv_timer_t *t) {
    gw_wait_hub_t *hub = t->data;
    uint64_t now = sms_mono_ms();
    gw_waiter_t *w = hub->all.all_next;
    while (w != &hub->all) {
        gw_waiter_t *next = w->all_next;
        if (gw_req_client_closed(w->req)) w->wake(w, GW_WAKE_GONE);
        else if (now >= w->deadline_ms) w->wake(w, GW_WAKE_TIMEOUT);
        else if (w->retry) {
            w->retry = false;
            w->wake(w, GW_WAKE_MESSAGE);
        }
        w = next;
    }
}

gw_wait_hub_t *gw_wait_hub_new(uv_loop_t *loop, const sms_config_t *cfg, const char *channel) {
    gw_wait_hub_t *hub = sms_calloc(1, sizeof *hub);
    hub->all.all_prev = hub->all.all_next = &hub->all;
    sms_strmap_init(&hub->by_key);
    /* Always 0 (it connects in the background, forever). */
    (void)sms_redis_new(loop, cfg->redis_host, cfg->redis_port, cfg->redis_timeout_ms, &hub->sub);
    hub->channel = sms_strdup(channel);
    sms_redis_subscribe(hub->sub, channel, on_message, on_subscribed, hub);
    uv_timer_init(loop, &hub->sweep);
    hub->sweep.data = hub;
    uv_timer_start(&hub->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    return hub;
}

void gw_wait_hub_add(gw_wait_hub_t *hub, gw_waiter_t *w) {
    size_t len = strlen(w->key);
    gw_waiter_t *head = sms_strmap_get(&hub->by_key, w->key, len);
    w->key_prev = NULL;
    w->key_next = head;
    if (head) head->key_prev = w;
    sms_strmap_put(&hub->by_key, w->key, len, w);
    w->all_prev = hub->all.all_prev;
    w->all_next = &hub->all;
    hub->all.all_prev->all_next = w;
    hub->all.all_prev = w;
    w->registered = true;
    hub->n++;
}

void gw_wait_hub_remove(gw_wait_hub_t *hub, gw_waiter_t *w) {
    if (!w->registered) return;
    size_t len = strlen(w->key);
    if (w->key_prev) w->key_prev->key_next = w->key_next;
    else if (w->key_next) sms_strmap_put(&hub->by_key, w->key, len, w->key_next);
    else sms_strmap_del(&hub->by_key, w->key, len);
    if (w->key_next) w->key_next->key_prev = w->key_prev;
    w->all_prev->all_next = w->all_next;
    w->all_next->all_prev = w->all_prev;
    w->key_prev = w->key_next = w->all_prev = w->all_next = NULL;
    w->registered = false;
    hub->n--;
}

bool gw_wait_hub_draining(const gw_wait_hub_t *hub) { return hub->draining; }
size_t gw_wait_hub_waiters(const gw_wait_hub_t *hub) { return hub->n; }

void gw_wait_hub_drain(gw_wait_hub_t *hub) {
    hub->draining = true;
    if (hub->n) sms_log(SMS_LOG_INFO, "wait_drain", "%s: answering %zu waiters", hub->channel, hub->n);
    wake_all(hub, GW_WAKE_DRAIN);
}

static void part_closed(void *data) {
    gw_wait_hub_t *hub = data;
    if (--hub->closing_parts > 0) return;
    void (*done)(void *) = hub->done;
    void *done_data = hub->done_data;
    sms_strmap_close(&hub->by_key);
    sms_free(hub->channel);
    sms_free(hub);
    if (done) done(done_data);
}

static void on_sweep_closed(uv_handle_t *h) { part_closed(h->data); }

void gw_wait_hub_close(gw_wait_hub_t *hub, void (*done)(void *), void *data) {
    gw_wait_hub_drain(hub);
    /* Waiters still registered have a read in flight and answer when it
     * returns; unlink them so that their later remove never touches hub. */
    while (hub->all.all_next != &hub->all) gw_wait_hub_remove(hub, hub->all.all_next);
    hub->done = done;
    hub->done_data = data;
    hub->closing_parts = 2;
    uv_close((uv_handle_t *)&hub->sweep, on_sweep_closed);
    sms_redis_close(hub->sub, part_closed, hub);
}
