/* ops.c - the classes service as a common/worker.h service: its commands
 * (commands.c's table), its view's projection (projection.c) and event
 * check (validate.c). Class and roster events go to sms.events.classes,
 * posts to sms.events.posts, chat messages to sms.events.chat; the view is
 * built from all three. */
#include "ops.h"

#include "commands.h"
#include "projection.h"
#include "validate.h"

static const char *const learn_topics[] = {CLASSES_POSTS_TOPIC, CLASSES_CHAT_TOPIC, NULL};

const sms_worker_ops_t classes_ops = {
    .service = "classes",
    /* Posts and chat are written to their own topics; the view is built from them too. */
    .learn_topics = learn_topics,
    .redis_init = classes_projection_init,
    .project = classes_projection_append,
    .validate = classes_event_validate,
    .commands = &classes_commands,
};
