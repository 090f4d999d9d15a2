/* upload_prune.h - deletes the stored bytes of uploads the system has let
 * go of: committed blobs older than SMS_UPLOAD_ATTACH_TTL_S (plus a grace of
 * the reply timeout) that have no upload:<id> in the assignments view, i.e.
 * expired ones (upload.expired, services/assignments/uploads_expiry.h) and
 * ones whose upload.complete never became an event. Runs on a timer of the
 * gateway's loop; the directory walk and the unlinks on libuv's thread pool
 * (common/blobstore.h); never while the view is being rebuilt. Started by
 * routes_files.c, closed by gw_app_close. */
#ifndef GW_UPLOAD_PRUNE_H
#define GW_UPLOAD_PRUNE_H

#include "blobstore.h"
#include "route_kit.h"

/* Starts the pruning timer over store (borrowed: it outlives the app). 0 or a negative uv error. */
int gw_upload_prune_start(gw_app_t *app, sms_blobstore_t *store);
/* Stops it; done(data) once its handle is closed (at once if it never started).
 * Work still in flight finishes without touching Redis or the app. */
void gw_upload_prune_close(void (*done)(void *), void *data);

/* This file's scripts, for test_gateway_views.c. */
extern gw_script_t *const gw_upload_prune_scripts[];

#endif
