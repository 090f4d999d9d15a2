/* smtp.h - one plain-text mail through SMS_SMTP_URL with libcurl's SMTP
 * (blocking, each transfer bounded by NOTIF_SMTP_TIMEOUT_MS).
 * Used by the email channel (email.c), which runs in its own process, so a
 * slow mail server delays only mail. */
#ifndef NOTIF_SMTP_H
#define NOTIF_SMTP_H

#include <stddef.h>

#include "config.h"

#define NOTIF_SMTP_TIMEOUT_MS 15000

typedef struct notif_mail_s {
    const char *to;          /* one address */
    const char *subject;     /* CR and LF are replaced by spaces */
    const char *text;        /* the body, lines separated by \n */
    const char *message_id;  /* without the angle brackets */
    const char *ids_header;  /* X-SMS-Notification-Ids value (comma-separated ids) */
} notif_mail_t;

/* Sends m; 0, or -1 with the reason in err. */
int notif_smtp_send(const sms_config_t *cfg, const notif_mail_t *m, char *err, size_t errlen);

#endif
