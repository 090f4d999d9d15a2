/* topics.h - every shared Kafka topic of sms with its settings; created by
 * `sms-admin create-topics` (auto-create is off on our brokers). Reply
 * topics are per gateway and created by each gateway at start. */
#ifndef ADMIN_TOPICS_H
#define ADMIN_TOPICS_H

#include <stddef.h>

#include "kafka.h"

/* Fills specs (at least admin_n_topics) using partitions for every topic. */
size_t admin_topics(int partitions, sms_topic_spec_t *specs, size_t cap);

#endif
