/* main.c - sms-assignments: the shared worker (common/worker.h) with the
 * assignments operations (its tick is the due-date reminder scan, every
 * SMS_DUE_REMINDER_SCAN_MS); `--rebuild-views` rebuilds the view from offset
 * 0 and exits. */
#include "ops.h"

int main(int argc, char **argv) { return sms_worker_service_main(argc, argv, &assignments_ops); }
