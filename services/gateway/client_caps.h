/* client_caps.h - per-client resource caps: open connections per client
 * IP, open notification streams (SSE) and held chat long-polls per user.
 *
 * protect.c counts connections from the server's accept/close hooks;
 * routes_stream.c and routes_chat.c take a slot before holding a request
 * and give it back when it is answered. Counters only, O(1), loop thread. */
#ifndef GW_CLIENT_CAPS_H
#define GW_CLIENT_CAPS_H

#include <stdint.h>

#include "config.h"
#include "strmap.h"

typedef enum { GW_CAP_CONN = 0, GW_CAP_STREAM, GW_CAP_LONGPOLL, GW_CAP_N } gw_cap_kind_t;

typedef struct gw_caps_s {
    int max[GW_CAP_N];
    sms_strmap_t held[GW_CAP_N]; /* key (IP or user) -> count, stored as a pointer-sized integer */
    uint64_t refused[GW_CAP_N];  /* for /metrics */
} gw_caps_t;

void gw_caps_init(gw_caps_t *c, const sms_config_t *cfg);
void gw_caps_close(gw_caps_t *c);

/* Takes one slot of kind for key. Returns 0, or -1 when key holds its
 * maximum already (counted in refused; nothing taken). */
int gw_caps_acquire(gw_caps_t *c, gw_cap_kind_t kind, const char *key);
/* Gives back a slot gw_caps_acquire gave. */
void gw_caps_release(gw_caps_t *c, gw_cap_kind_t kind, const char *key);
/* Slots key holds. */
int gw_caps_held(const gw_caps_t *c, gw_cap_kind_t kind, const char *key);

#endif
