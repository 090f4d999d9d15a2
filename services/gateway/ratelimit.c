/* ratelimit.c - GCRA buckets: decided locally, shared through Redis.
 *
 * protect.c calls gw_ratelimit_take per request; a timer sends what was
 * admitted since the last sync to Redis (gw_ratelimit_lua, one EVALSHA for
 * up to SYNC_BATCH keys) and folds the shared state back into the local
 * buckets. See ratelimit.h for the contract. */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "route_kit.h"
#include "strmap.h"

#define SYNC_BATCH 256          /* keys per EVALSHA */
#define BUCKETS_MAX 500000      /* beyond this many keys, new ones share one overflow bucket per policy */
#define SWEEP_EVERY_MS 1000     /* full buckets (equal to absent ones) are forgotten this often */
#define REDIS_PREFIX "sms:gateway:rl:"

/* KEYS: one bucket each; ARGV: per key, the µs its admitted requests add
 * and its tolerance (burst x interval) in µs. The state is the theoretical
 * arrival time (µs, Redis clock), capped at now + 2 x tolerance so that
 * gateways over-admitting together never push a client out for long.
 * Returns, per key, how far ahead of now the shared state is (µs). */
const char gw_ratelimit_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local out = {}\n"
    "for i, k in ipairs(KEYS) do\n"
    "  local inc = tonumber(ARGV[2 * i - 1])\n"
    "  local tau = tonumber(ARGV[2 * i])\n"
    "  local tat = tonumber(redis.call('GET', k)) or now\n"
    "  if tat < now then tat = now end\n"
    "  tat = tat + inc\n"
    "  if tat > now + 2 * tau then tat = now + 2 * tau end\n"
    "  redis.call('SET', k, string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)\n"
    "  out[i] = math.floor(tat - now)\n"
    "end\n"
    "return out\n";

static const char *const policy_names[GW_RL_N] = {"ip", "user", "login", "grades", "uploads"};

typedef struct bucket_s {
    int64_t tat_ns;        /* theoretical arrival time, ns on the loop's clock (loop_ns) */
    uint32_t pending;      /* admitted since the last batch took them */
    uint32_t sent;         /* in the batch in flight */
    uint8_t policy;
    unsigned dirty : 1;    /* on the dirty list */
    unsigned in_batch : 1; /* in the batch in flight: not to be forgotten */
    struct bucket_s *next_dirty;
    char rkey[];           /* Redis key, NUL-terminated */
} bucket_t;

typedef struct policy_s {
    int64_t interval_ns;   /* 1 / rate */
    int64_t tolerance_ns;  /* burst x interval */
    uint32_t burst;
    uint32_t window_s;
} policy_t;

struct gw_ratelimit_s {
    uv_loop_t *loop;
    const sms_config_t *cfg;
    sms_redis_t *redis;    /* NULL: local only */
    policy_t policies[GW_RL_N];
    sms_strmap_t buckets;  /* "<policy>:<key>" -> bucket_t */
    bucket_t *overflow[GW_RL_N];
    bucket_t *dirty;       /* buckets with pending > 0, not yet batched */
    uv_timer_t timer;
    gw_script_t script;
    bucket_t **batch;      /* the batch in flight (SYNC_BATCH slots) */
    size_t batch_n;
    bool batch_busy, batch_retried, timer_closed;
    uint64_t last_sweep_ms;
    gw_rl_stats_t stats;
    void (*done)(void *);
    void *done_data;
};

/* The loop's cached clock in ns: uv_now is read once per loop iteration,
 * while a clock_gettime per request costs ~200 ns on this machine. A
 * millisecond's requests share one "now", which GCRA handles exactly (the
 * arrival time moves on by one interval per request). */
static int64_t loop_ns(const gw_ratelimit_t *rl) { return (int64_t)uv_now(rl->loop) * 1000000; }

static void set_policy(policy_t *p, double per_second, int burst) {
    p->interval_ns = (int64_t)(1e9 / per_second);
    if (p->interval_ns < 1) p->interval_ns = 1;
    p->burst = (uint32_t)burst;
    p->tolerance_ns = p->interval_ns * (int64_t)burst;
    int64_t w = (p->tolerance_ns + 999999999) / 1000000000;
    p->window_s = (uint32_t)(w < 1 ? 1 : w);
}

static void on_timer(uv_timer_t *t);

gw_ratelimit_t *gw_ratelimit_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis) {
    gw_ratelimit_t *rl = sms_calloc(1, sizeof *rl);
    rl->loop = loop;
    rl->cfg = cfg;
    rl->redis = cfg->ratelimit_shared ? redis : NULL;
    set_policy(&rl->policies[GW_RL_IP], cfg->ratelimit_ip_rate, cfg->ratelimit_ip_burst);
    set_policy(&rl->policies[GW_RL_USER], cfg->ratelimit_user_rate, cfg->ratelimit_user_burst);
    set_policy(&rl->policies[GW_RL_LOGIN], cfg->ratelimit_login_per_min / 60.0, cfg->ratelimit_login_burst);
    set_policy(&rl->policies[GW_RL_GRADES], cfg->ratelimit_grades_per_min / 60.0, cfg->ratelimit_grades_burst);
    set_policy(&rl->policies[GW_RL_UPLOADS], cfg->ratelimit_uploads_per_min / 60.0, cfg->ratelimit_uploads_burst);
    sms_strmap_init(&rl->buckets);
    rl->script.source = gw_ratelimit_lua;
    gw_script_init(&rl->script);
    rl->batch = sms_calloc(SYNC_BATCH, sizeof *rl->batch);
    (void)uv_timer_init(loop, &rl->timer); /* always 0 */
    rl->timer.data = rl;
    (void)uv_timer_start(&rl->timer, on_timer, (uint64_t)cfg->ratelimit_sync_ms, (uint64_t)cfg->ratelimit_sync_ms);
    uv_unref((uv_handle_t *)&rl->timer); /* it is no reason to keep the loop running */
    return rl;
}

static bucket_t *bucket_new(gw_rl_policy_t policy, const char *mkey, size_t mlen) {
    bucket_t *b = sms_calloc(1, sizeof *b + sizeof REDIS_PREFIX + mlen);
    b->policy = (uint8_t)policy;
    memcpy(b->rkey, REDIS_PREFIX, sizeof REDIS_PREFIX - 1);
    memcpy(b->rkey + sizeof REDIS_PREFIX - 1, mkey, mlen);
    b->rkey[sizeof REDIS_PREFIX - 1 + mlen] = '\0';
    return b;
}

static bucket_t *bucket_get(gw_ratelimit_t *rl, gw_rl_policy_t policy, const char *key, size_t len) {
    char mkey[192];
    if (len > sizeof mkey - 16) len = sizeof mkey - 16; /* keys are IPs and token subs: longer ones share a prefix */
    size_t n = strlen(policy_names[policy]); /* at most 7: fits the 16 kept free */
    memcpy(mkey, policy_names[policy], n);
    mkey[n++] = ':';
    memcpy(mkey + n, key, len);
    size_t mlen = n + len;
    bucket_t *b = sms_strmap_get(&rl->buckets, mkey, mlen);
    if (b) return b;
    if (rl->buckets.count >= BUCKETS_MAX) {
        /* A spray of addresses must not grow memory without bound: the
         * newcomers share one bucket (strict, and counted in stats). */
        if (rl->overflow[policy] == NULL) rl->overflow[policy] = bucket_new(policy, "overflow", 8);
        return rl->overflow[policy];
    }
    b = bucket_new(policy, mkey, mlen);
    (void)sms_strmap_put(&rl->buckets, mkey, mlen, b); /* new key: nothing replaced */
    return b;
}

static uint32_t ceil_s(int64_t ns) { return ns <= 0 ? 0 : (uint32_t)((ns + 999999999) / 1000000000); }

void gw_ratelimit_take(gw_ratelimit_t *rl, gw_rl_policy_t policy, const char *key, size_t len, gw_rl_result_t *out) {
    const policy_t *p = &rl->policies[policy];
    bucket_t *b = bucket_get(rl, policy, key, len);
    int64_t now = loop_ns(rl);
    int64_t tat = b->tat_ns > now ? b->tat_ns : now;
    int64_t next = tat + p->interval_ns;
    out->limit = p->burst;
    out->window_s = p->window_s;
    if (next - now > p->tolerance_ns) {
        out->allowed = false;
        out->remaining = 0;
        out->reset_s = ceil_s(tat - now);
        out->retry_s = ceil_s(next - now - p->tolerance_ns);
        if (out->retry_s < 1) out->retry_s = 1;
        rl->stats.denied[policy]++;
        return;
    }
    b->tat_ns = next;
    out->allowed = true;
    out->remaining = (uint32_t)((p->tolerance_ns - (next - now)) / p->interval_ns);
    out->reset_s = ceil_s(next - now);
    out->retry_s = 0;
    rl->stats.allowed[policy]++;
    if (rl->redis == NULL) return;
    b->pending++;
    if (!b->dirty) {
        b->dirty = 1;
        b->next_dirty = rl->dirty;
        rl->dirty = b;
    }
}

/* ---- sync with Redis ---- */

static int batch_send(gw_ratelimit_t *rl, bool by_sha);
static void maybe_free(gw_ratelimit_t *rl);

static void on_batch_reply(redisReply *r, void *data) {
    gw_ratelimit_t *rl = data;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !rl->batch_retried) {
        rl->batch_retried = true; /* Redis restarted: its script cache is empty */
        if (batch_send(rl, false) == 0) return;
        r = NULL;
    }
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == rl->batch_n;
    int64_t now = loop_ns(rl);
    for (size_t i = 0; i < rl->batch_n; i++) {
        bucket_t *b = rl->batch[i];
        b->in_batch = 0;
        b->sent = 0;
        if (!ok || r->element[i]->type != REDIS_REPLY_INTEGER) continue;
        /* The shared state, plus what this gateway admitted since it sent
         * the batch; the local state already holds its own share. */
        const policy_t *p = &rl->policies[b->policy];
        int64_t shared = now + r->element[i]->integer * 1000 + (int64_t)b->pending * p->interval_ns;
        if (shared > b->tat_ns) b->tat_ns = shared;
    }
    if (ok) rl->stats.syncs++;
    else {
        if (rl->stats.sync_failures++ % 100 == 0)
            sms_log(SMS_LOG_WARN, "ratelimit_sync_failed", "%s; local buckets decide alone",
                    r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer from Redis");
    }
    rl->batch_n = 0;
    rl->batch_busy = false;
    maybe_free(rl);
}

static int batch_send(gw_ratelimit_t *rl, bool by_sha) {
    size_t argc = 3 + rl->batch_n * 3;
    const char **argv = sms_malloc(argc * sizeof *argv);
    size_t *lens = sms_malloc(argc * sizeof *lens);
    char (*nums)[2][32] = sms_malloc(rl->batch_n * sizeof *nums);
    char nkeys[24];
    argv[0] = by_sha ? "EVALSHA" : "EVAL";
    argv[1] = by_sha ? rl->script.sha : rl->script.source;
    snprintf(nkeys, sizeof nkeys, "%zu", rl->batch_n);
    argv[2] = nkeys;
    for (size_t i = 0; i < rl->batch_n; i++) {
        const bucket_t *b = rl->batch[i];
        const policy_t *p = &rl->policies[b->policy];
        argv[3 + i] = b->rkey;
        snprintf(nums[i][0], sizeof nums[i][0], "%.3f", (double)b->sent * (double)p->interval_ns / 1000.0);
        snprintf(nums[i][1], sizeof nums[i][1], "%.3f", (double)p->tolerance_ns / 1000.0);
        argv[3 + rl->batch_n + 2 * i] = nums[i][0];
        argv[3 + rl->batch_n + 2 * i + 1] = nums[i][1];
    }
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    int rc = sms_redis_cmd(rl->redis, on_batch_reply, rl, (int)argc, argv, lens); /* hiredis copies the args */
    sms_free(nums);
    sms_free(lens);
    sms_free(argv);
    return rc;
}

static void sync_now(gw_ratelimit_t *rl) {
    if (rl->redis == NULL || rl->batch_busy || rl->dirty == NULL) return;
    if (!sms_redis_connected(rl->redis)) {
        /* Local only until Redis is back: what was admitted meanwhile is
         * not replayed into the shared state later. */
        for (bucket_t *b = rl->dirty, *n; b; b = n) {
            n = b->next_dirty;
            b->pending = 0;
            b->dirty = 0;
            b->next_dirty = NULL;
        }
        rl->dirty = NULL;
        rl->stats.sync_skipped++;
        return;
    }
    rl->batch_n = 0;
    while (rl->dirty && rl->batch_n < SYNC_BATCH) {
        bucket_t *b = rl->dirty;
        rl->dirty = b->next_dirty;
        b->next_dirty = NULL;
        b->dirty = 0;
        b->sent = b->pending;
        b->pending = 0;
        b->in_batch = 1;
        rl->batch[rl->batch_n++] = b;
    }
    rl->batch_busy = true;
    rl->batch_retried = false;
    if (batch_send(rl, true) != 0) on_batch_reply(NULL, rl); /* disconnected meanwhile: counts as a failure */
}

/* Forgets buckets that are full again (tat in the past): they decide
 * exactly as an absent one would. */
static void sweep(gw_ratelimit_t *rl) {
    int64_t now = loop_ns(rl);
    for (size_t i = 0; i < rl->buckets.cap; i++) {
        sms_strmap_entry_t *e = &rl->buckets.slots[i];
        bucket_t *b = e->value;
        if (b == NULL || b->tat_ns > now || b->dirty || b->in_batch) continue;
        (void)sms_strmap_del(&rl->buckets, e->key, e->klen); /* returns b; deleting keeps the slot array */
        sms_free(b);
    }
}

static void on_timer(uv_timer_t *t) {
    gw_ratelimit_t *rl = t->data;
    sync_now(rl);
    uint64_t now = uv_now(rl->loop);
    if (now - rl->last_sweep_ms >= SWEEP_EVERY_MS) {
        rl->last_sweep_ms = now;
        sweep(rl);
    }
}

static void free_bucket(void *b) { sms_free(b); }

/* Freed once the timer is closed and no batch can answer any more (a
 * closing Redis client fails what is pending, which ends the batch). */
static void maybe_free(gw_ratelimit_t *rl) {
    if (!rl->timer_closed || rl->batch_busy) return;
    void (*done)(void *) = rl->done;
    void *data = rl->done_data;
    sms_strmap_free_values(&rl->buckets, free_bucket, NULL);
    sms_strmap_close(&rl->buckets);
    for (int i = 0; i < GW_RL_N; i++) sms_free(rl->overflow[i]);
    sms_free(rl->batch);
    sms_free(rl);
    if (done) done(data);
}

static void on_timer_closed(uv_handle_t *h) {
    gw_ratelimit_t *rl = h->data;
    rl->timer_closed = true;
    maybe_free(rl);
}

void gw_ratelimit_close(gw_ratelimit_t *rl, void (*done)(void *), void *data) {
    rl->done = done;
    rl->done_data = data;
    uv_close((uv_handle_t *)&rl->timer, on_timer_closed);
}

const char *gw_ratelimit_policy_name(gw_rl_policy_t policy) {
    return policy >= 0 && policy < GW_RL_N ? policy_names[policy] : "?";
}

void gw_ratelimit_stats(const gw_ratelimit_t *rl, gw_rl_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (rl == NULL) return;
    *out = rl->stats;
    out->buckets = rl->buckets.count;
}
