/* email_main.c - sms-notify-email: the delivery core (delivery.h) with the
 * email channel (email.h). */
#include "email.h"

int main(int argc, char **argv) { return notif_delivery_run(argc, argv, &notif_email_ops); }
