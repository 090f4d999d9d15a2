/* email.h - the email channel of the delivery core (delivery.h), run by
 * sms-notify-email: a notification whose channel_hints hold "email" is
 * mailed (smtp.h) to the recipient's address, learned from roster events
 * (sms:notifications:emails, see view.h).
 *
 * Digest: the first notification to a user is mailed at once and opens a
 * window of SMS_EMAIL_DIGEST_WINDOW_S; what arrives for that user inside
 * the window is held and mailed as one digest when it ends (which opens
 * the next window). So a burst costs a user at most two mails per window.
 *
 * State (operational, not a view; not rebuilt from the log):
 *   sms:delivery:email:sent          set of notification ids mailed
 *   sms:delivery:email:win:<user>    end (ms) of the user's window (expires with it)
 *   sms:delivery:email:pending:<user> hash id -> text of a held notification
 *   sms:delivery:email:due           zset user -> ms their digest is due
 *
 * Idempotency: an id in `sent` or `pending` is never taken again. The mail
 * is sent first and recorded in `sent` after (SMTP has no idempotency key):
 * a crash between the two sends that mail again on redelivery; recording
 * first would lose it instead. The window is a few ms per mail. */
#ifndef NOTIF_EMAIL_H
#define NOTIF_EMAIL_H

#include "delivery.h"

extern const notif_delivery_ops_t notif_email_ops;

#endif
