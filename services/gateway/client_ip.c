/* client_ip.c - the client's address, from the socket or a trusted proxy's
 * X-Forwarded-For (see client_ip.h). */
#include "client_ip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Any textual address into 16 bytes (IPv4 mapped). Returns 0 or -1. */
static int to16(const char *s, unsigned char out[16]) {
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int sock16(const struct sockaddr_storage *ss, unsigned char out[16]) {
    if (ss->ss_family == AF_INET) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

int gw_proxies_parse(gw_proxies_t *p, const char *list, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    if (list == NULL) return 0;
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        char item[64];
        size_t n = strcspn(s, ", ");
        if (n >= sizeof item || p->n >= GW_PROXIES_MAX) {
            snprintf(err, errlen, "SMS_TRUSTED_PROXIES: too long an entry or more than %d", GW_PROXIES_MAX);
            return -1;
        }
        memcpy(item, s, n);
        item[n] = '\0';
        s += n;
        char *slash = strchr(item, '/');
        int prefix = -1;
        if (slash) {
            *slash = '\0';
            char *end;
            long v = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || v < 0 || v > 128) prefix = -2;
            else prefix = (int)v;
        }
        unsigned char a[16];
        int v4 = strchr(item, ':') == NULL;
        if (prefix == -2 || to16(item, a) != 0 || (v4 && prefix > 32)) {
            snprintf(err, errlen, "SMS_TRUSTED_PROXIES: '%s' is not an address or network", item);
            return -1;
        }
        if (prefix < 0) prefix = 128;
        else if (v4) prefix += 96;
        memcpy(p->nets[p->n].addr, a, 16);
        p->nets[p->n].prefix = prefix;
        p->n++;
    }
    return 0;
}

static bool in_net(const unsigned char a[16], const unsigned char net[16], int prefix) {
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static bool contains16(const gw_proxies_t *p, const unsigned char a[16]) {
    for (size_t i = 0; i < p->n; i++)
        if (in_net(a, p->nets[i].addr, p->nets[i].prefix)) return true;
    return false;
}

bool gw_proxies_contain(const gw_proxies_t *p, const struct sockaddr_storage *addr) {
    unsigned char a[16];
    if (p->n == 0 || sock16(addr, a) != 0) return false;
    return contains16(p, a);
}

void gw_ip_format(const struct sockaddr_storage *addr, char *out, size_t cap) {
    unsigned char a[16];
    out[0] = '\0';
    if (sock16(addr, a) != 0) return;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0) (void)inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
    else (void)inet_ntop(AF_INET6, a, out, (socklen_t)cap);
}

void gw_client_ip(const gw_proxies_t *p, const gw_request_t *req, char *out, size_t cap) {
    const struct sockaddr_storage *peer = gw_req_peer(req);
    out[0] = '\0';
    if (peer == NULL) return;
    gw_ip_format(peer, out, cap);
    if (!gw_proxies_contain(p, peer)) return;
    const char *xff = gw_req_header(req, "X-Forwarded-For");
    if (xff == NULL) return;
    /* Right to left: the first address our proxies did not add is the client. */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',') start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        char item[GW_IP_STR_MAX];
        unsigned char bin[16];
        size_t n = (size_t)(b - a);
        if (n == 0 || n >= sizeof item) return; /* malformed: keep the last good one */
        memcpy(item, a, n);
        item[n] = '\0';
        if (to16(item, bin) != 0) return;
        snprintf(out, cap, "%s", item);
        if (!contains16(p, bin)) return;
        end = start > xff ? start - 1 : xff;
    }
}

bool gw_client_forwarded_https(const gw_proxies_t *p, const gw_request_t *req) {
    const struct sockaddr_storage *peer = gw_req_peer(req);
    if (peer == NULL || !gw_proxies_contain(p, peer)) return false;
    const char *proto = gw_req_header(req, "X-Forwarded-Proto");
    return proto && strcasecmp(proto, "https") == 0;
}
