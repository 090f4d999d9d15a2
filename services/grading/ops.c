/* ops.c - the grading service's wiring into the shared worker
 * (common/worker.h): its command table (commands.c), its events topic and the
 * topics it learns from, the event validator (validate.c) and the projection
 * (projection.c). */
#include "ops.h"

#include "commands.h"
#include "projection.h"
#include "schema.h"
#include "validate.h"
#include "view.h"

static const char *const learn_topics[] = {"sms.events.classes", "sms.events.assignments", NULL};

const sms_worker_ops_t grading_ops = {
    .service = GRADING_SERVICE,
    .events_topic = GRADING_EVENTS_TOPIC,
    .learn_topics = learn_topics,
    .redis_init = grading_projection_init,
    .validate = grading_event_validate,
    .project = grading_projection_append,
    .project_many = grading_projection_append_many,
    .commands = &grading_commands,
};
