/* rebuild_lock.c - see rebuild_lock.h. */
#include "rebuild_lock.h"

#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Ours: extend. Gone (a FLUSHALL): take it again. Another's: refuse. */
static const char renew_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end\n"
    "return 0\n";

static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

void sms_rebuild_lock_init(sms_rebuild_lock_t *l, const char *prefix) {
    snprintf(l->key, sizeof l->key, "rebuild-lock:%s", prefix);
    l->token[0] = '\0';
    l->held = false;
    l->renewed_ms = 0;
}

int sms_rebuild_lock_try(sms_rebuild_lock_t *l, redisContext *rc) {
    snprintf(l->token, sizeof l->token, "%d-%llu", (int)getpid(), (unsigned long long)sms_mono_us());
    redisReply *r = redisCommand(rc, "SET %s %s NX PX %d", l->key, l->token, SMS_REBUILD_LOCK_TTL_MS);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        sms_log(SMS_LOG_ERROR, "rebuild_lock_failed", "SET %s NX: %s", l->key,
                r ? r->str : rc->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    l->held = r->type == REDIS_REPLY_STATUS; /* OK; a nil reply: another holds it */
    freeReplyObject(r);
    if (l->held) l->renewed_ms = sms_mono_ms();
    return l->held ? 1 : 0;
}

int sms_rebuild_lock_renew(sms_rebuild_lock_t *l, redisContext *rc) {
    if (!l->held || sms_mono_ms() - l->renewed_ms < SMS_REBUILD_LOCK_TTL_MS / 3) return 0;
    redisReply *r = redisCommand(rc, "EVAL %s 1 %s %s %d", renew_script, l->key, l->token, SMS_REBUILD_LOCK_TTL_MS);
    int rc_out = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 0 : -1;
    if (rc_out) {
        sms_log(SMS_LOG_WARN, "rebuild_lock_lost", "%s: %s", l->key,
                r == NULL ? rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "another instance holds it now");
        l->held = false;
    } else {
        l->renewed_ms = sms_mono_ms();
    }
    if (r) freeReplyObject(r);
    return rc_out;
}

void sms_rebuild_lock_release(sms_rebuild_lock_t *l, redisContext *rc) {
    if (!l->held) return;
    l->held = false;
    if (rc == NULL || rc->err) return; /* it expires by itself */
    redisReply *r = redisCommand(rc, "EVAL %s 1 %s %s", release_script, l->key, l->token);
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        sms_log(SMS_LOG_WARN, "rebuild_lock_release_failed", "%s: %s (it expires in %d ms)", l->key,
                r ? r->str : rc->errstr, SMS_REBUILD_LOCK_TTL_MS);
    if (r) freeReplyObject(r);
}
