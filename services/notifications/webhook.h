/* webhook.h - the webhook channel of the delivery core (delivery.h), run by
 * sms-notify-webhook: each notification whose kind a registered webhook
 * subscribes to (and whose channel_hints hold "webhook") becomes one
 * delivery, POSTed with libcurl multi (many at once, no thread each),
 * retried with exponential backoff and full jitter until
 * SMS_WEBHOOK_RETRY_HORIZON_S, then dead-lettered to sms.notifications.dlq.
 * Also consumes sms.notifications.retry (sms-admin dlq replay).
 *
 * Delivery state (operational state, not a view: it records side effects,
 * so it is not rebuilt from the log; `sms-admin rebuild-views` leaves it):
 *   sms:delivery:wh:d:<delivery id>  hash: webhook_id, notification_id, recipient_id, kind,
 *                                    url, body, status, attempts, last_error,
 *                                    next_attempt_at, first_attempt_at, updated_at
 *   sms:delivery:wh:due              zset delivery id -> ms of the next attempt (or lease end)
 *   sms:delivery:wh:st:<status>      zset (scores 0) of the ids in pending|sent|retrying|failed */
#ifndef NOTIF_WEBHOOK_H
#define NOTIF_WEBHOOK_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"

#define NOTIF_DLQ_TOPIC "sms.notifications.dlq"
#define NOTIF_RETRY_TOPIC "sms.notifications.retry"

extern const notif_delivery_ops_t notif_webhook_ops;

/* A dead letter: the notification.dead_lettered envelope on
 * sms.notifications.dlq (key = delivery id, cause = notification id, time =
 * failed_at, actor "sms-notify-<channel>"); also what sms-admin dlq replay
 * re-publishes to sms.notifications.retry. Strings are borrowed. channel
 * NULL = "webhook"; the email channel writes "email" (delivery id = the
 * notification id, webhook_id "", url "mailto:<address>", payload = the
 * mail's text). */
typedef struct notif_dead_letter_s {
    const char *channel;
    const char *event_id, *delivery_id, *webhook_id, *url, *notification_id, *recipient_id, *kind;
    const char *payload;      /* the exact JSON body that was POSTed */
    int64_t attempts;
    const char *last_error;
    int64_t first_attempt_at, failed_at;
} notif_dead_letter_t;

void notif_dead_letter_pack(msgpack_packer *pk, const notif_dead_letter_t *d);

/* hex(HMAC-SHA256(secret, "<timestamp>.<body>")) into out (65 bytes). */
void notif_webhook_sign(const char *secret, size_t secret_len, int64_t timestamp, const char *body, size_t body_len,
                        char out[65]);
/* The delay before retry number `failures` (1 = after the first failed
 * attempt): uniform in [0, min(cap_ms, base_ms * 2^(failures-1))], from
 * rnd in [0, 1). */
int64_t notif_webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int failures, double rnd);

#endif
