/* upload_prune.c - the upload store's pruning (see upload_prune.h): a timer
 * lists old committed blobs (thread pool), one Lua call says which of them
 * the assignments view no longer knows, and those are deleted (thread pool). */
#include "upload_prune.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "assignments/view.h"
#include "log.h"
#include "route_kit.h"

#define PRUNE_PAGE 200 /* old blobs looked at per round, in id order; the next round goes on after them */
#define PRUNE_CHECK 20 /* ids per Lua call (gw_script_call's argument limit) */

static struct {
    gw_app_t *app;
    sms_blobstore_t *store;
    uv_timer_t timer;
    bool started, closing, busy; /* busy: a round (list, checks, deletes) is in flight */
    size_t checks, deletes;      /* Lua calls and deletes of the round still in flight */
    char after[SMS_BLOB_ID_MAX + 1]; /* where the next round's page starts ("" = the beginning) */
    void (*done)(void *);
    void *done_data;
} prune;

/* ARGV: upload ids. The ids with no upload:<id> in the assignments view,
 * or {'wait'} while the view is not whole (a missing key then says nothing). */
static gw_script_t orphans_script = {.source =
    "local p = '" ASSIGNMENTS_VIEW_PREFIX "'\n"
    "if redis.call('HEXISTS', p .. '" ASSIGNMENTS_VIEW_META "', '" ASSIGNMENTS_FIELD_BUILT "') == 0 then return {'wait'} end\n"
    "local out = {'ok'}\n"
    "for _, id in ipairs(ARGV) do\n"
    "  if redis.call('EXISTS', p .. '" ASSIGNMENTS_VIEW_UPLOAD "' .. id) == 0 then out[#out + 1] = id end\n"
    "end\n"
    "return out\n"};

gw_script_t *const gw_upload_prune_scripts[] = {&orphans_script, NULL};

static void round_end(void) {
    if (prune.checks == 0 && prune.deletes == 0) prune.busy = false;
}

static void on_deleted(void *data, int status) {
    char *id = data;
    if (status == 0) sms_log(SMS_LOG_INFO, "upload_pruned", "deleted the bytes of upload %s (expired or never recorded)", id);
    else if (status != -ENOENT) sms_log(SMS_LOG_WARN, "upload_prune_failed", "upload %s: %s", id, strerror(-status));
    sms_free(id);
    prune.deletes--;
    round_end();
}

static void on_orphans(redisReply *r, void *data) {
    (void)data;
    prune.checks--;
    if (prune.closing || r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "ok") != 0) {
        round_end(); /* Redis down, or the view rebuilding: a later round asks again */
        return;
    }
    for (size_t i = 1; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) continue;
        char *id = sms_strndup(r->element[i]->str, r->element[i]->len);
        if (sms_blob_delete(prune.store, id, on_deleted, id) == 0) prune.deletes++;
        else sms_free(id);
    }
    round_end();
}

static void on_listed(void *data, int status, char (*ids)[SMS_BLOB_ID_MAX + 1], size_t n) {
    (void)data;
    if (n == 0) prune.after[0] = '\0'; /* the end of the store: the next round starts over */
    if (prune.closing || status != 0 || n == 0) {
        if (status != 0 && !prune.closing) sms_log(SMS_LOG_WARN, "upload_prune_failed", "listing: %s", strerror(-status));
        prune.busy = false;
        return;
    }
    /* The next round starts after this page; a short page was the end: then from the start. */
    if (n == PRUNE_PAGE) memcpy(prune.after, ids[n - 1], sizeof prune.after);
    else prune.after[0] = '\0';
    for (size_t at = 0; at < n; at += PRUNE_CHECK) {
        const char *argv[PRUNE_CHECK];
        size_t lens[PRUNE_CHECK], k = n - at < PRUNE_CHECK ? n - at : PRUNE_CHECK;
        for (size_t i = 0; i < k; i++) {
            argv[i] = ids[at + i];
            lens[i] = strlen(ids[at + i]);
        }
        /* gw_script_call copies its arguments: ids need only live until it returns. */
        if (gw_script_call(prune.app, &orphans_script, (int)k, argv, lens, on_orphans, NULL) == 0) prune.checks++;
    }
    round_end();
}

static void on_timer(uv_timer_t *t) {
    (void)t;
    if (prune.busy || prune.closing) return;
    const sms_config_t *cfg = prune.app->cfg;
    int64_t grace_s = cfg->reply_timeout_ms / 1000 + 2; /* an upload.complete still on its way */
    int64_t before = (int64_t)time(NULL) - cfg->upload_attach_ttl_s - grace_s;
    prune.busy = true;
    if (sms_blob_list_committed_before(prune.store, prune.after, before, PRUNE_PAGE, on_listed, NULL) != 0)
        prune.busy = false;
}

int gw_upload_prune_start(gw_app_t *app, sms_blobstore_t *store) {
    prune.app = app;
    prune.store = store;
    gw_script_init(&orphans_script);
    int rc = uv_timer_init(app->loop, &prune.timer);
    if (rc != 0) return rc;
    prune.started = true;
    /* A quarter of the TTL, between 1 s and 5 min: a file outlives its TTL by little. */
    uint64_t period_ms = (uint64_t)app->cfg->upload_attach_ttl_s * 250;
    if (period_ms < 1000) period_ms = 1000;
    if (period_ms > 300000) period_ms = 300000;
    return uv_timer_start(&prune.timer, on_timer, period_ms, period_ms);
}

static void on_timer_closed(uv_handle_t *h) {
    (void)h;
    if (prune.done) prune.done(prune.done_data);
}

void gw_upload_prune_close(void (*done)(void *), void *data) {
    prune.closing = true;
    prune.done = done;
    prune.done_data = data;
    if (!prune.started) {
        if (done) done(data);
        return;
    }
    uv_close((uv_handle_t *)&prune.timer, on_timer_closed);
}
