/* routes_chat.c - class chat at the gateway. POST becomes a chat.post
 * command for the classes service, keyed in Kafka by the class id (every
 * author's message to one class is sequenced by one consumer). GET reads the
 * classes view (sms:classes:chat:<class>, a zset scored by the message's
 * sequence) with one Lua script that also checks access, and with ?wait=
 * holds the request as a waiter of chat_wait.c until a message arrives or
 * the wait runs out. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "classes/view.h"
#include "clock.h"
#include "protect.h"
#include "route_kit.h"
#include "routes.h"
#include "wait_hub.h"

#define CHAT_LIMIT_DEFAULT 50
#define CHAT_LIMIT_MAX 200
#define CHAT_WAIT_MAX_S 30
#define CHAT_CURSOR_DIGITS_MAX 15 /* sequences stay far below 10^15 (exact in a Lua double) */
#define CHAT_AFTER_MAX 999999999999999L /* the largest ?after= of CHAT_CURSOR_DIGITS_MAX digits */

/* ARGV: class, user, role, after (a sequence), limit. Returns 0 when the
 * user may not read the class's chat (missing class, another lecturer's, a
 * student not enrolled: the same answer); else {messages (JSON, oldest
 * first, sequence > after), the last one's sequence or false}. */
static gw_script_t read_script = {.source =
    "local cid, user = ARGV[1], ARGV[2]\n"
    "if ARGV[3] == 'lecturer' then\n"
    "  if redis.call('HGET', '" CLASSES_KEY_CLASS "' .. cid, '" CLASSES_FIELD_LECTURER "') ~= user then return 0 end\n"
    "elseif redis.call('HEXISTS', '" CLASSES_KEY_RDOC "' .. cid, user) == 0 then return 0 end\n"
    "local r = redis.call('ZRANGE', '" CLASSES_KEY_CHAT "' .. cid, '(' .. ARGV[4], '+inf', 'BYSCORE', 'LIMIT', 0,\n"
    "                     tonumber(ARGV[5]), 'WITHSCORES')\n"
    "if #r == 0 then return {{}, false} end\n"
    "local items = {}\n"
    "for i = 1, #r, 2 do items[#items + 1] = r[i] end\n"
    "return {items, r[#r]}\n"};

/* One GET: its arguments, and while it waits, its place in the hub. */
typedef struct chat_read_s {
    gw_waiter_t w; /* w.req is the request; registered only with ?wait= */
    gw_app_t *app;
    char *class_id, *user, *role;
    char after[CHAT_CURSOR_DIGITS_MAX + 1];
    char limit[8];
    bool reading; /* a read script is in flight */
    bool woken;   /* a message arrived while it was: read again */
    bool finish;  /* time is up (or the gateway stops): answer what the read in flight returns */
    bool checked; /* a read succeeded: the caller may read this class (only then is it held) */
    bool capped;  /* holds one of the user's SMS_MAX_LONGPOLLS_PER_USER slots */
} chat_read_t;

static void chat_read_free(chat_read_t *cr) {
    gw_wait_hub_remove(cr->app->chat, &cr->w);
    if (cr->capped) gw_caps_release(&cr->app->protect->caps, GW_CAP_LONGPOLL, cr->user);
    cr->app->reads_inflight--;
    sms_free(cr->class_id);
    sms_free(cr->user);
    sms_free(cr->role);
    sms_free(cr);
}

/* Answers 200 {"items": [...], "next_cursor": last item's cursor, or after
 * when there is none} (items NULL: an empty page) and frees cr. */
static void answer_page(chat_read_t *cr, const redisReply *items, const redisReply *last) {
    sms_buf_t b;
    sms_buf_init(&b);
    if (items) {
        gw_page_items(&b, items);
    } else {
        sms_buf_puts(&b, "{\"items\":[],\"next_cursor\":");
    }
    if (last && last->type == REDIS_REPLY_STRING) sms_buf_json_str(&b, last->str, last->len);
    else sms_buf_json_str(&b, cr->after, strlen(cr->after));
    sms_buf_putc(&b, '}');
    gw_request_t *req = cr->w.req;
    chat_read_free(cr);
    gw_respond(req, 200, "application/json", b.data, b.len, NULL);
    sms_buf_close(&b);
}

static void answer_redis_down(chat_read_t *cr) {
    gw_request_t *req = cr->w.req;
    chat_read_free(cr);
    gw_respond_redis_down(req);
}

/* A read failed (Redis down or reconnecting). A waiter that already passed
 * its access check keeps waiting and reads again on the next sweep (a Redis
 * restart also drops the subscriber, whose resubscription wakes it anyway);
 * anything else is answered 503 now. */
static void read_failed(chat_read_t *cr) {
    if (cr->checked && cr->w.registered && !cr->finish) {
        cr->w.retry = true;
        return;
    }
    answer_redis_down(cr);
}

static void on_read(redisReply *r, void *data);

static void start_read(chat_read_t *cr) {
    const char *argv[] = {cr->class_id, cr->user, cr->role, cr->after, cr->limit};
    size_t lens[5];
    for (int i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
    cr->reading = true;
    cr->woken = false;
    cr->w.retry = false;
    if (gw_script_call(cr->app, &read_script, 5, argv, lens, on_read, cr) != 0) {
        cr->reading = false;
        read_failed(cr);
    }
}

static void on_read(redisReply *r, void *data) {
    chat_read_t *cr = data;
    cr->reading = false;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        gw_request_t *req = cr->w.req;
        chat_read_free(cr);
        gw_respond_problem(req, 404, "not_found", "no such class", NULL, 0);
        return;
    }
    if (!gw_page_reply_ok(r)) {
        read_failed(cr);
        return;
    }
    cr->checked = true;
    bool empty = r->element[0]->elements == 0;
    if (!empty || !cr->w.registered || cr->finish || sms_mono_ms() >= cr->w.deadline_ms) {
        answer_page(cr, r->element[0], r->element[1]);
        return;
    }
    /* Nothing yet. A message published while this read ran may not be in
     * it: read once more rather than wait for a wake-up that already came. */
    if (cr->woken) start_read(cr);
}

static void on_wake(gw_waiter_t *w, gw_wake_t why) {
    chat_read_t *cr = (chat_read_t *)w;
    if (why == GW_WAKE_MESSAGE) {
        if (cr->reading) cr->woken = true;
        else start_read(cr);
        return;
    }
    /* Timeout, drain, or a vanished client (whose answer only frees the request). */
    if (cr->reading) cr->finish = true;
    else if (cr->w.retry) answer_redis_down(cr); /* its last read failed: "nothing new" is not known */
    else answer_page(cr, NULL, NULL);
}

/* 429: the user holds the most requests of this kind the gateway keeps open. */
static void respond_over_cap(gw_request_t *req, const char *what, int max) {
    char message[96];
    snprintf(message, sizeof message, "at most %d held at once per user; end one or retry later", max);
    sms_problem_error_t e = {"wait", message};
    gw_respond_problem_h(req, 429, "too_many_open", "Too many long-polls open for this user.", &e, 1,
                         "Retry-After: 1\r\n");
    (void)what;
}

static void list_chat(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    sms_problem_error_t errs[3];
    size_t n_errs = 0;
    gw_page_query_t page;
    /* Its errors are counted in n_errs, checked below. */
    (void)gw_query_limit(req, CHAT_LIMIT_DEFAULT, CHAT_LIMIT_MAX, &page, errs, &n_errs);
    long wait;
    if (!gw_query_int(req, "wait", 0, CHAT_WAIT_MAX_S, 0, &wait))
        errs[n_errs++] = (sms_problem_error_t){"wait", "must be an integer from 0 to 30 (seconds)"};
    /* A cursor is a sequence below 10^15 (leading zeros allowed). */
    long after;
    if (!gw_query_int(req, "after", 0, CHAT_AFTER_MAX, 0, &after))
        errs[n_errs++] = (sms_problem_error_t){"after", "must be a cursor this API returned (decimal digits)"};
    if (n_errs) {
        gw_respond_bad_query(req, errs, n_errs);
        return;
    }
    /* A held long-poll costs a request and a waiter until its wait ends:
     * a user holds at most SMS_MAX_LONGPOLLS_PER_USER of them at once. */
    bool capped = false;
    if (wait > 0) {
        if (gw_caps_acquire(&app->protect->caps, GW_CAP_LONGPOLL, gw_req_user(req)) != 0) {
            respond_over_cap(req, "long_polls", app->cfg->max_longpolls_per_user);
            return;
        }
        capped = true;
    }
    chat_read_t *cr = sms_calloc(1, sizeof *cr);
    cr->app = app;
    cr->capped = capped;
    cr->class_id = sms_strdup(gw_req_param(req, "class_id"));
    cr->user = sms_strdup(gw_req_user(req));
    cr->role = sms_strdup(gw_req_role(req));
    /* Leading zeros are dropped so that next_cursor echoes a canonical form. */
    snprintf(cr->after, sizeof cr->after, "%ld", after);
    snprintf(cr->limit, sizeof cr->limit, "%ld", page.limit);
    cr->w.key = cr->class_id;
    cr->w.req = req;
    cr->w.deadline_ms = sms_mono_ms() + (uint64_t)wait * 1000;
    cr->w.wake = on_wake;
    app->reads_inflight++;
    /* Registered before the first read, so no message can slip between them. */
    if (wait > 0 && !gw_wait_hub_draining(app->chat)) gw_wait_hub_add(app->chat, &cr->w);
    start_read(cr);
}

static void post_chat(gw_request_t *req, void *data) {
    gw_app_t *app = data;
    cJSON *body = gw_parse_json_object(req);
    if (!body) return; /* answered */
    const char *cid = gw_req_param(req, "class_id");
    /* Keyed by the class: its sequence is decided by one consumer. */
    gw_bus_send_from(app->bus, req, "classes", "chat.post", cid, body, &(gw_bus_from_t){.kafka_key = cid});
    cJSON_Delete(body);
}

/* This file's scripts, for test_gateway_views.c (route_kit.h). */
gw_script_t *const gw_chat_scripts[] = {&read_script, NULL};

int gw_routes_chat(gw_app_t *app, gw_router_t *router) {
    gw_script_init(&read_script);
    const unsigned auth = GW_ROUTE_AUTH, json = GW_ROUTE_AUTH | GW_ROUTE_JSON_BODY;
    const unsigned roles = GW_ROLE_LECTURER | GW_ROLE_STUDENT;
    int rc = 0;
    rc |= gw_router_add(router, "POST", "/classes/{class_id}/chat", json, roles, post_chat, app);
    rc |= gw_router_add(router, "GET", "/classes/{class_id}/chat", auth, roles, list_chat, app);
    return rc ? -1 : 0;
}
