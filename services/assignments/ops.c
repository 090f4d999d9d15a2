/* ops.c - the assignments service's wiring into the shared worker
 * (common/worker.h): its command table (commands.c), its projection
 * (projection.c) and event validator (validate.c), the topics its view
 * learns from, and the due-date reminder scan and the unattached-upload
 * expiry as the worker's tick (reminders.c, uploads_expiry.c). */
#include "ops.h"

#include "commands.h"
#include "projection.h"
#include "reminders.h"
#include "schema.h"
#include "uploads_expiry.h"
#include "validate.h"

static const char *const learn_topics[] = {ASSIGNMENTS_CLASSES_TOPIC, ASSIGNMENTS_GRADES_TOPIC, NULL};

/* The reminder scan runs every SMS_DUE_REMINDER_SCAN_MS. */
static int due_reminder_period(const sms_config_t *cfg) { return cfg->due_reminder_scan_ms; }

/* Both scans in one tick (one decision): the expiry only after a reminder
 * scan that could read the view. */
static void tick(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d) {
    assignments_reminders_tick(rc, cfg, now_ms, d);
    if (d->status == 200) assignments_uploads_expiry_scan(rc, cfg, now_ms, d);
}

const sms_worker_ops_t assignments_ops = {
    .service = "assignments",
    .learn_topics = learn_topics,
    .redis_init = assignments_projection_init,
    .project = assignments_projection_append,
    .validate = assignments_event_validate,
    .commands = &assignments_commands,
    .tick = tick,
    .tick_period_ms = due_reminder_period,
};
