/* validate.h - whether an event is one the classes view can apply: class,
 * roster, post and chat events, all its own (v1). The worker's ops.validate
 * (common/worker.h), run by the decider before producing and by the
 * projection before applying. Pure. */
#ifndef CLASSES_VALIDATE_H
#define CLASSES_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

/* 0 if ev (of topic; NULL or "": sms.events.classes) is valid or of a type
 * this view does not apply; -1 with the reason, naming the field, in err.
 * One of its types in another version is invalid. */
int classes_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
