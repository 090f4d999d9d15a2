/* ops.c - the identity service as a common/worker.h service: its commands
 * (commands.c), its view's projection (projection.c) and event check
 * (validate.c). It learns from no other service. */
#include "ops.h"

#include "commands.h"
#include "projection.h"
#include "schema.h"
#include "validate.h"

const sms_worker_ops_t identity_ops = {
    .service = IDENTITY_SERVICE,
    .redis_init = identity_projection_init,
    .project = identity_projection_append,
    .validate = identity_event_validate,
    .commands = &identity_commands,
};
