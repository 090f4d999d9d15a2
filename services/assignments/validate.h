/* validate.h - whether an event is one the assignments view can apply: its
 * own assignment, reminder, submission and upload events (v1), and the class,
 * roster and grade events it learns. The worker's ops.validate
 * (common/worker.h), run by the decider (and the reminder tick) before
 * producing and by the projection before applying. Pure. */
#ifndef ASSIGNMENTS_VALIDATE_H
#define ASSIGNMENTS_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

/* 0 if ev (of topic; NULL or "": sms.events.assignments) is valid or not an
 * event this view applies; -1 with the reason, naming the field, in err. An
 * own type of another version is invalid; a learned one is not for this
 * view (0). */
int assignments_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
