/* cloudevents.h - the CloudEvents 1.0 Kafka protocol binding, binary mode:
 * the ce_* record headers mapped from our event envelope, so that a generic
 * consumer (any CloudEvents SDK) can route sms events without sms code.
 * Called by common/kafka.c (sms_producer_send_event) for every event the
 * worker produces; the mapping is documented in schemas/asyncapi.yaml
 * ("CloudEvents headers"). Pure functions, no I/O. */
#ifndef SMS_CLOUDEVENTS_H
#define SMS_CLOUDEVENTS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define SMS_CE_SPECVERSION "1.0"

/* ce_type for an envelope type and version: "org.sms.<type>.v<v>"
 * (grade.released v1 -> org.sms.grade.released.v1). Writes a NUL-terminated
 * string; returns its length, or SMS_EFIELD if it does not fit in n. */
int sms_ce_type(char *out, size_t n, sms_str_t type, int64_t v);

/* ce_time for an envelope time (epoch ms): RFC 3339 in UTC with milliseconds,
 * "2025-11-25T10:30:00.000Z". out needs 25 bytes. Returns the length, or
 * SMS_EFIELD for a time outside 0..253402300799999 (TimeMs) or a short out. */
int sms_ce_time(char *out, size_t n, int64_t epoch_ms);

/* Adds ce_specversion, ce_id, ce_source ("/sms/<service>"), ce_type,
 * ce_time and ce_subject (the envelope's key, the aggregate) to h, read from
 * the msgpack event envelope event[0..len). content-type is the caller's
 * (it is on every record, events or not). Returns SMS_OK; SMS_EPARSE /
 * SMS_EFIELD when event is not a well-formed envelope (nothing added). */
int sms_ce_headers_add(rd_kafka_headers_t *h, const char *service, const void *event, size_t len);

#endif
