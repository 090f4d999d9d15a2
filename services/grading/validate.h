/* validate.h - whether an event is one the grading view can apply: its own
 * grade.changed / grade.released (v1) and the class roster and assignment
 * events it learns. The worker's ops.validate (common/worker.h), run by the
 * decider before producing and by the projection before applying. Pure. */
#ifndef GRADING_VALIDATE_H
#define GRADING_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

/* 0 if ev (of topic; NULL or "": sms.events.grades) is valid or not an event
 * this view applies; -1 with the reason, naming the field, in err. A grade
 * event of another version is invalid; a learned event of another version
 * is not for this view (0). */
int grading_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
