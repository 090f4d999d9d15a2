/* main.c - sms-grading: the shared worker (common/worker.h) with the grading
 * operations; `--rebuild-views` rebuilds the view from offset 0 and exits. */
#include "ops.h"

int main(int argc, char **argv) { return sms_worker_service_main(argc, argv, &grading_ops); }
