/* views.h - the Redis views sms-admin knows how to checksum and rebuild:
 * one row per service that owns a view. */
#ifndef ADMIN_VIEWS_H
#define ADMIN_VIEWS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct admin_view_s {
    const char *service;           /* "classes" */
    const char *prefix;            /* "sms:classes:" */
    const char *const *bookkeeping; /* key suffixes that are not view content (NULL-terminated) */
} admin_view_t;

extern const admin_view_t admin_views[];
extern const size_t admin_n_views;

/* Finds a view by service name, or NULL. */
const admin_view_t *admin_view_find(const char *service);

/* SHA-256 (hex, 65 bytes) over a canonical dump of the view's keys (sorted
 * keys; hash fields and set members sorted), bookkeeping keys excluded.
 * Returns the number of keys, or -1 on a Redis error. */
long admin_view_checksum(redisContext *rc, const admin_view_t *v, char hex[65]);

/* Deletes every key of the view (the owning service notices and rebuilds). 0 or -1. */
int admin_view_drop(redisContext *rc, const admin_view_t *v);

/* Drops v and waits up to timeout_s for its service to replay the log,
 * printing progress and any rebuild_error the service reports to stderr.
 * 0 once rebuilt, 1 otherwise. */
int admin_view_rebuild(redisContext *rc, const admin_view_t *v, long timeout_s);
/* 1 if the owning service has marked the view built, 0 if not, -1 on error. */
int admin_view_built(redisContext *rc, const admin_view_t *v);

#endif
