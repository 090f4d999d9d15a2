/* validate.h - the identity view's event validator (the worker's
 * ops.validate, common/event_check.h): one check per event type. */
#ifndef IDENTITY_VALIDATE_H
#define IDENTITY_VALIDATE_H

#include <stddef.h>

#include "envelope.h"

int identity_event_validate(const char *topic, const sms_event_t *ev, char *err, size_t errlen);

#endif
