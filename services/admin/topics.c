/* topics.c - the shared topics and why each has its settings (see topics.h). */
#include "topics.h"

/* Events are the record: kept forever, never compacted away. */
static const char *const events_cfg[] = {"retention.ms", "-1", "retention.bytes", "-1", "cleanup.policy", "delete",
                                         "min.insync.replicas", "1", NULL};
/* Commands only matter until handled; a week covers any outage we would survive. */
static const char *const commands_cfg[] = {"retention.ms", "604800000", "min.insync.replicas", "1", NULL};

static const struct {
    const char *name;
    const char *const *cfg;
} topics[] = {
    {"sms.commands.classes", commands_cfg},
    {"sms.events.classes", events_cfg},
    /* Class posts, written by the classes service (public: other services may learn from it). */
    {"sms.events.posts", events_cfg},
    /* Class chat, written and read by the classes service only: its own topic
     * so that services learning from sms.events.classes never read chat traffic. */
    {"sms.events.chat", events_cfg},
    {"sms.commands.assignments", commands_cfg},
    {"sms.events.assignments", events_cfg},
    /* The grading service writes the public grades topic (not sms.events.grading). */
    {"sms.commands.grading", commands_cfg},
    {"sms.events.grades", events_cfg},
    /* Notifications: read marks and preferences (events), and the public
     * fan-out topic, one message per recipient, kept like events: the inbox
     * view is rebuilt from it. */
    {"sms.commands.notifications", commands_cfg},
    {"sms.events.notifications", events_cfg},
    {"sms.notifications", events_cfg},
    /* Webhook deliveries that failed for the whole retry horizon (kept like
     * events: an operator re-drives them with sms-admin dlq replay), and the
     * re-drive path the webhook consumer reads (commands: done once read). */
    {"sms.notifications.dlq", events_cfg},
    {"sms.notifications.retry", commands_cfg},
    /* Accounts and sessions (services/identity); its commands carry passwords
     * and refresh tokens, kept a week like every command topic. */
    {"sms.commands.identity", commands_cfg},
    {"sms.events.identity", events_cfg},
};

size_t admin_topics(int partitions, sms_topic_spec_t *specs, size_t cap) {
    size_t n = sizeof topics / sizeof topics[0];
    for (size_t i = 0; i < n && i < cap; i++)
        specs[i] = (sms_topic_spec_t){topics[i].name, partitions, topics[i].cfg};
    return n < cap ? n : cap;
}
