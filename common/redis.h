/* redis.h - hiredis 1.x clients: a blocking one for batch workers and CLIs,
 * and an async one on a libuv loop (hiredis' own adapter) for the gateway.
 *
 * Async commands get a deadline each (the oldest unanswered one passing
 * fails every pending command and reconnects); hiredis 1.x's
 * redisAsyncSetTimeout is not used: see redis.c for why. */
#ifndef SMS_REDIS_H
#define SMS_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

/* ---- blocking ---- */

/* Connects with cfg->redis_timeout_ms as connect and per-command timeout.
 * Returns the context (redisFree) or NULL with a reason in err. */
redisContext *sms_redis_connect(const sms_config_t *cfg, char *err, size_t errlen);

/* A Lua script loaded into Redis and called by SHA. */
typedef struct sms_redis_script_s {
    const char *source;
    char sha[41];
} sms_redis_script_t;

/* SCRIPT LOADs s->source and fills s->sha. 0 or -1 (reason in err). */
int sms_redis_script_load(redisContext *c, sms_redis_script_t *s, char *err, size_t errlen);

/* Reads a blocking reply; returns it or NULL (connection error, err filled).
 * A Redis error reply is returned as a reply of type REDIS_REPLY_ERROR. */
redisReply *sms_redis_get_reply(redisContext *c, char *err, size_t errlen);

/* Reads the next n replies of a pipeline into r[0..n) (a batch prefetch
 * reads each command's replies together). Returns 0, or -1 when the
 * connection failed (logged once as redis_failed): then r holds nothing,
 * the replies already read are freed, and the connection is unusable. */
int sms_redis_get_replies(redisContext *c, redisReply **r, size_t n);

/* Logs a Redis error reply once, where it is handled: "OOM ..." (Redis at
 * maxmemory with noeviction: every write of every service is refused until
 * an operator adds memory) as the alert-worthy event redis_oom, anything
 * else as redis_error. what says where (may be NULL). */
void sms_redis_log_error(const char *what, const char *error);
/* True for Redis's out-of-memory error ("OOM command not allowed ..."). */
bool sms_redis_error_is_oom(const char *error);

/* Frees r[0..n). Returns -1 if any was an error reply (each logged with
 * sms_redis_log_error), else 0. */
int sms_redis_free_replies(redisReply **r, size_t n);

/* ---- building one command's arguments ---- */

/* A Redis command's arguments built up one by one (argv + lengths for
 * redisAppendCommandArgv or sms_redis_cmd), instead of parallel arrays filled
 * by hand. Caller-owned, fixed capacity, no allocation: adding past the
 * capacity marks it failed, checked once, when it is sent. Strings are
 * borrowed and must live until the command is appended; numbers are
 * formatted into the builder's own storage. */
#define SMS_REDIS_ARGS_MAX 64
#define SMS_REDIS_ARGS_NUMS 24
typedef struct sms_redis_args_s {
    const char *argv[SMS_REDIS_ARGS_MAX];
    size_t lens[SMS_REDIS_ARGS_MAX];
    size_t argc;
    bool overflow;
    char nums[SMS_REDIS_ARGS_NUMS][24];
    size_t n_nums;
} sms_redis_args_t;

void sms_redis_args_init(sms_redis_args_t *a);
void sms_redis_args_add(sms_redis_args_t *a, const char *s, size_t n);
void sms_redis_args_str(sms_redis_args_t *a, const char *s); /* NUL-terminated */
void sms_redis_args_i64(sms_redis_args_t *a, int64_t v);    /* as decimal */
/* Pipelines the command (redisAppendCommandArgv): 0, or -1 on overflow or
 * failure (nothing appended). */
int sms_redis_args_append(redisContext *rc, sms_redis_args_t *a);

/* ---- async on libuv ---- */
typedef struct sms_redis_s sms_redis_t;

/* reply is NULL when the command failed: disconnected, timed out, or the
 * client is closing. hiredis frees reply after the callback returns. */
typedef void (*sms_redis_cb)(redisReply *reply, void *data);

/* Starts connecting (and reconnecting forever, with backoff) to host:port. */
int sms_redis_new(uv_loop_t *loop, const char *host, int port, int timeout_ms, sms_redis_t **out);
/* Sends a command; cb runs exactly once, unless this returns -1 (not
 * connected), in which case it never runs. */
int sms_redis_cmd(sms_redis_t *r, sms_redis_cb cb, void *data, int argc, const char **argv, const size_t *argvlen);
bool sms_redis_connected(const sms_redis_t *r);
/* Times every command from send to reply into latency (a histogram in µs)
 * and counts those answered NULL (disconnected, timed out, closing) in
 * failures; either may be NULL. Both borrowed: they must outlive r. */
struct sms_metric_s;
void sms_redis_set_metrics(sms_redis_t *r, struct sms_metric_s *latency, struct sms_metric_s *failures);

/* A message on a subscribed channel; payload is valid during the call only. */
typedef void (*sms_redis_message_cb)(const char *payload, size_t len, void *data);
/* Makes r a subscriber: on every (re)connect it sends SUBSCRIBE channel.
 * on_subscribed(data) runs each time the subscription is confirmed (anything
 * published while it was down is lost, so callers re-read what they wait
 * on), on_message for every message. r must not carry commands
 * (sms_redis_cmd) afterwards: a subscribed connection only listens. Call
 * once, right after sms_redis_new. */
void sms_redis_subscribe(sms_redis_t *r, const char *channel, sms_redis_message_cb on_message,
                         void (*on_subscribed)(void *), void *data);
/* Fails pending commands, disconnects, closes handles, then calls done(data) and frees r. */
void sms_redis_close(sms_redis_t *r, void (*done)(void *), void *data);

#endif
