/* client_caps.c - counters behind the per-client caps (see client_caps.h). */
#include "client_caps.h"

#include <string.h>

void gw_caps_init(gw_caps_t *c, const sms_config_t *cfg) {
    memset(c, 0, sizeof *c);
    c->max[GW_CAP_CONN] = cfg->max_conns_per_ip;
    c->max[GW_CAP_STREAM] = cfg->max_streams_per_user;
    c->max[GW_CAP_LONGPOLL] = cfg->max_longpolls_per_user;
    for (int i = 0; i < GW_CAP_N; i++) sms_strmap_init(&c->held[i]);
}

void gw_caps_close(gw_caps_t *c) {
    for (int i = 0; i < GW_CAP_N; i++) sms_strmap_close(&c->held[i]); /* values are integers: nothing to free */
}

int gw_caps_held(const gw_caps_t *c, gw_cap_kind_t kind, const char *key) {
    return (int)(uintptr_t)sms_strmap_get(&c->held[kind], key, strlen(key));
}

int gw_caps_acquire(gw_caps_t *c, gw_cap_kind_t kind, const char *key) {
    size_t len = strlen(key);
    uintptr_t n = (uintptr_t)sms_strmap_get(&c->held[kind], key, len);
    if (n >= (uintptr_t)c->max[kind]) {
        c->refused[kind]++;
        return -1;
    }
    (void)sms_strmap_put(&c->held[kind], key, len, (void *)(n + 1)); /* the old count */
    return 0;
}

void gw_caps_release(gw_caps_t *c, gw_cap_kind_t kind, const char *key) {
    size_t len = strlen(key);
    uintptr_t n = (uintptr_t)sms_strmap_get(&c->held[kind], key, len);
    if (n <= 1) (void)sms_strmap_del(&c->held[kind], key, len); /* a zero count is an absent key */
    else (void)sms_strmap_put(&c->held[kind], key, len, (void *)(n - 1));
}
