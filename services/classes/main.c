/* main.c - sms-classes: the shared worker (common/worker.h) with the classes
 * operations; `--rebuild-views` rebuilds the view from offset 0 and exits. */
#include "ops.h"

int main(int argc, char **argv) { return sms_worker_service_main(argc, argv, &classes_ops); }
