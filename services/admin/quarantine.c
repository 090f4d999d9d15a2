/* quarantine.c - `sms-admin quarantine` (see quarantine.h). list prints one
 * JSON line per quarantined event (the view's entry plus service,
 * position and whether it still leaves its data incomplete); retry rebuilds
 * each view holding some (views.c), since a replay of the whole log in order
 * is the one way to apply a late event exactly as the log says, and reports
 * what is left. */
#include "quarantine.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "views.h"

/* Whether position is still in the incomplete set of the entry's key or class. */
static int still_incomplete(redisContext *rc, const admin_view_t *v, const cJSON *entry, const char *pos) {
    const char *fields[] = {"key", "class_id"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *agg = cJSON_GetObjectItemCaseSensitive(entry, fields[i]);
        if (!cJSON_IsString(agg)) continue;
        redisReply *r = redisCommand(rc, "SISMEMBER %sincomplete:%s %s", v->prefix, agg->valuestring, pos);
        int member = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r) freeReplyObject(r);
        if (member) return 1;
    }
    return 0;
}

/* Prints v's entries when out; returns how many there are, or -1. */
static long list_view(redisContext *rc, const admin_view_t *v, bool out) {
    redisReply *r = redisCommand(rc, "HGETALL %squarantine", v->prefix);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "sms-admin: reading %squarantine failed\n", v->prefix);
        if (r) freeReplyObject(r);
        return -1;
    }
    long n = (long)r->elements / 2;
    for (size_t i = 0; out && i + 1 < r->elements; i += 2) {
        cJSON *entry = cJSON_ParseWithLength(r->element[i + 1]->str, r->element[i + 1]->len);
        if (entry == NULL) entry = cJSON_CreateObject();
        const char *pos = r->element[i]->str;
        cJSON_AddStringToObject(entry, "service", v->service);
        cJSON_AddStringToObject(entry, "position", pos);
        cJSON_AddBoolToObject(entry, "incomplete", still_incomplete(rc, v, entry, pos));
        char *line = cJSON_PrintUnformatted(entry);
        if (line) printf("%s\n", line);
        free(line);
        cJSON_Delete(entry);
    }
    freeReplyObject(r);
    return n;
}

static int retry_view(redisContext *rc, const admin_view_t *v, long timeout_s, long *left) {
    long before = list_view(rc, v, false);
    if (before < 0) return 1;
    if (before == 0) return 0;
    fprintf(stderr, "%s: %ld quarantined; replaying the log with the running sms-%s\n", v->service, before,
            v->service);
    if (admin_view_rebuild(rc, v, timeout_s) != 0) return 1;
    long after = list_view(rc, v, true);
    if (after < 0) return 1;
    fprintf(stderr, "%s: %ld applied, %ld still quarantined\n", v->service, before - after, after);
    *left += after;
    return 0;
}

int admin_quarantine_main(const sms_config_t *cfg, int argc, char **argv) {
    const char *sub = argc > 0 ? argv[0] : "", *service = NULL;
    long timeout_s = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout_s = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !service) service = argv[i];
        else sub = "";
    }
    bool list = !strcmp(sub, "list"), retry = !strcmp(sub, "retry");
    if ((!list && !retry) || timeout_s <= 0 || timeout_s > 86400) {
        fprintf(stderr, "usage: sms-admin quarantine list [SERVICE] | retry [SERVICE] [--timeout SECONDS]\n");
        return 2;
    }
    const admin_view_t *only = service ? admin_view_find(service) : NULL;
    if (service && !only) {
        fprintf(stderr, "sms-admin: no view named %s\n", service);
        return 2;
    }
    char err[256];
    redisContext *rc = sms_redis_connect(cfg, err, sizeof err);
    if (!rc) {
        fprintf(stderr, "sms-admin: %s\n", err);
        return 1;
    }
    int rc_out = 0;
    long left = 0;
    for (size_t i = 0; i < admin_n_views && rc_out == 0; i++) {
        const admin_view_t *v = &admin_views[i];
        if (only && v != only) continue;
        if (list) rc_out = list_view(rc, v, true) < 0;
        else rc_out = retry_view(rc, v, timeout_s, &left);
    }
    redisFree(rc);
    return rc_out ? 1 : left ? 1 : 0;
}
