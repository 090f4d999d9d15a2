/* bus.h - the gateway's write path over Kafka: turns an HTTP write into a
 * command on sms.commands.<service>, keyed by the caller (or by the aggregate,
 * gw_bus_send_from), and answers the
 * request when the owning service's reply arrives on this gateway's reply
 * topic (sms.replies.<gateway-id>), or with 504 after the deadline.
 * A client's Idempotency-Key is bound to its first request in Redis first
 * (sms:gateway:idem:<command id>, 24 h). Loop thread only. */
#ifndef GW_BUS_H
#define GW_BUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http/http.h"
#include "redis.h"

typedef struct gw_bus_s gw_bus_t;

/* Creates the producer, this gateway's reply topic (if missing) and its
 * consumer, and hooks both to loop. redis (borrowed, must outlive the bus
 * and be closed before it, which fails its pending commands) holds the
 * idempotency bindings. Blocks briefly (topic creation) — call before
 * serving. 0 and *out, or -1 (logged). */
int gw_bus_new(uv_loop_t *loop, const sms_config_t *cfg, sms_redis_t *redis, gw_bus_t **out);

/* Sends command `type` for aggregate `key` ("" for creations) of `service`
 * with body (a JSON object, or NULL for {}) on behalf of req's user, and
 * answers req later. Reads Idempotency-Key, If-Match and traceparent from
 * req; a malformed one is answered 400 here.
 *
 * The command id is "<user>:<key>" (user with ':' and '%' escaped, so it is
 * injective); key is the client's Idempotency-Key or a fresh id, and every
 * answer carries it (gw_req_set_command_key). A client key is first bound
 * to a fingerprint of method, path and body: the same key with another
 * request is answered 422 idempotency_key_reused and nothing is sent.
 * Admission comes first, per command topic: with SMS_GATEWAY_MAX_INFLIGHT
 * commands admitted there (binding or waiting), or the service behind by
 * over SMS_GATEWAY_MAX_WAIT_MS (its oldest waited that long, or what is
 * admitted needs that long at its measured rate), req is answered 503
 * overloaded + Retry-After at once and nothing is bound or sent.
 * Answers: the service's reply as it is; 503 only when the command was
 * certainly not produced (refused at admission, Redis or Kafka unreachable,
 * local queue full, delivery NOT_PERSISTED, shutting down before sending);
 * 504 when it may have been (no reply in time, delivery POSSIBLY_PERSISTED,
 * shutting down after sending). A 4xx reply or a certain non-send releases
 * the binding. The command carries a deadline (epoch ms) after which this
 * gateway no longer waits; services drop it undecided past that. */
void gw_bus_send(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                 const cJSON *body);

/* Who a command is sent for and how Kafka keys it, for gw_bus_send_from. */
typedef struct gw_bus_from_s {
    /* NULL: the request token's user and role. A request that carries no
     * token (a signed URL's) names the actor and role its signature binds. */
    const char *actor, *role;
    /* NULL: the actor. Commands for state that many users change, and whose
     * decisions must be serialised in one place (a class's chat sequence),
     * are keyed by that state's id so they all reach one partition. */
    const char *kafka_key;
} gw_bus_from_t;

/* gw_bus_send with the sender and Kafka key of from. */
void gw_bus_send_from(gw_bus_t *bus, gw_request_t *req, const char *service, const char *type, const char *key,
                      const cJSON *body, const gw_bus_from_t *from);

/* True while the last metadata probe reached a broker. */
bool gw_bus_kafka_ok(const gw_bus_t *bus);
/* Requests waiting for a reply or for their binding. */
size_t gw_bus_inflight(const gw_bus_t *bus);
/* Writes answered 503 overloaded by admission since the bus started. */
uint64_t gw_bus_refused(const gw_bus_t *bus);
/* Writes answered 504 because no reply came within SMS_REPLY_TIMEOUT_MS, since the bus started. */
uint64_t gw_bus_reply_timeouts(const gw_bus_t *bus);

/* Answers every waiting request 504 (its command was produced, its outcome
 * is unknown), closes handles and clients, then calls done(data) and frees
 * bus. */
void gw_bus_close(gw_bus_t *bus, void (*done)(void *), void *data);

#endif
