/* uploads_expiry.h - uploads that no submission attached within
 * SMS_UPLOAD_ATTACH_TTL_S expire: the worker's tick (with the reminder
 * scan, ops.c) writes one upload.expired per such upload, read from the
 * view's unattached zset; its projection (projection.c) removes upload:<id>
 * and gives its bytes back to the owner's quota (ubytes). The gateway then
 * deletes the file's bytes (routes_files.c: blobs with no upload:<id>). */
#ifndef ASSIGNMENTS_UPLOADS_EXPIRY_H
#define ASSIGNMENTS_UPLOADS_EXPIRY_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "config.h"
#include "decision.h"
#include "id.h"

#define ASSIGNMENTS_UPLOAD_EXPIRED_TYPE "upload.expired"
#define ASSIGNMENTS_UPLOADS_EXPIRED_PER_TICK 256 /* the rest wait for the next tick */

/* The event id of upload_id's expiry: derived (SHA-256 of type and id), so
 * a scan repeated before its event was applied writes the same id. */
char *assignments_upload_expired_id(const char *upload_id, int64_t time_ms, char out[SMS_ID_SIZE]);

/* Adds to d one upload.expired event (actor "system", no cause, data
 * {upload_id, student_id, size, stored_at, expired_at}) per upload of the
 * view's unattached set stored before now_ms - attach TTL; d->status 200, or
 * 503 (and no events) when the view could not be read whole. */
void assignments_uploads_expiry_scan(redisContext *rc, const sms_config_t *cfg, int64_t now_ms, sms_decision_t *d);

#endif
