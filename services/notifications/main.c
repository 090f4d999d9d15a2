/* main.c - sms-notifications: the shared worker (common/worker.h) with the notifications
 * operations; `--rebuild-views` rebuilds the view from offset 0 and exits. */
#include "ops.h"

int main(int argc, char **argv) { return sms_worker_service_main(argc, argv, &notifications_ops); }
