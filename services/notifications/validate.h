/* validate.h - whether an event is one the notifications view can apply:
 * its own notification.created (sms.notifications), read marks, preferences
 * and webhook registrations (sms.events.notifications), the roster events it
 * learns (sms.events.classes), and the source events its fan-out consumes
 * (posts, grades, assignments). The worker's ops.validate
 * (common/worker.h), run before producing and before applying. Pure. */
#ifndef NOTIF_VALIDATE_H
#define NOTIF_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

/* 0 if ev (of topic; NULL or "": sms.events.notifications) is valid or not
 * an event this service reads from that topic; -1 with the reason, naming
 * the field, in err. An own type of another version is invalid; a learned
 * or consumed one is not for this view (0). */
int notifications_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
