/* net_policy.c - the outbound target policy (see net_policy.h): address
 * ranges refused by default, the allow-list, and the registration-time URL
 * check. Called by the notifications service (registration) and
 * sms-notify-webhook (curl's open-socket callback). */
#include "net_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char ip[16];    /* IPv4 in the first 4 bytes */
    unsigned port;           /* 0 = any */
} allow_entry_t;

static allow_entry_t allow[SMS_NET_ALLOW_MAX];
static size_t n_allow;

static bool v4_internal(const unsigned char *a) {
    return a[0] == 0                                     /* "this network", 0.0.0.0 */
           || a[0] == 10                                 /* private 10/8 */
           || a[0] == 127                                /* loopback */
           || (a[0] == 100 && (a[1] & 0xc0) == 64)       /* shared address space 100.64/10 */
           || (a[0] == 169 && a[1] == 254)               /* link-local, cloud metadata */
           || (a[0] == 172 && (a[1] & 0xf0) == 16)       /* private 172.16/12 */
           || (a[0] == 192 && a[1] == 0 && a[2] == 0)    /* IETF protocol assignments */
           || (a[0] == 192 && a[1] == 168)               /* private 192.168/16 */
           || (a[0] == 198 && (a[1] & 0xfe) == 18)       /* benchmarking 198.18/15 */
           || a[0] >= 224;                               /* multicast 224/4, reserved 240/4, broadcast */
}

/* The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d,
 * compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d), or NULL. */
static const unsigned char *embedded_v4(const unsigned char *a) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[12] = {0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) return a + 12;
    if (memcmp(a, zero, 12) == 0) return a + 12; /* also :: and ::1, both internal as 0.0.0.x */
    return NULL;
}

bool sms_net_ip_internal(int family, const unsigned char *ip) {
    if (family == AF_INET) return v4_internal(ip);
    if (family != AF_INET6) return true;
    const unsigned char *v4 = embedded_v4(ip);
    if (v4) return v4_internal(v4);
    return ip[0] == 0xff                                  /* multicast ff00::/8 */
           || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)  /* link-local fe80::/10 */
           || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0xc0)  /* site-local fec0::/10 (deprecated) */
           || (ip[0] & 0xfe) == 0xfc                      /* unique local fc00::/7 */
           || (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8) /* documentation */
           || ip[0] == 0 || ip[0] == 0x01;                /* other reserved ::/8, discard 100::/64 */
}

/* Normalises addr to (family, bytes, port); an IPv4-mapped IPv6 address
 * becomes IPv4 so "127.0.0.1" in the allow-list matches it too. */
static bool addr_parts(const struct sockaddr *sa, int *family, unsigned char ip[16], unsigned *port) {
    memset(ip, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        *family = AF_INET;
        memcpy(ip, &s->sin_addr, 4);
        *port = ntohs(s->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *port = ntohs(s->sin6_port);
        if (memcmp(s->sin6_addr.s6_addr, mapped, 12) == 0) {
            *family = AF_INET;
            memcpy(ip, s->sin6_addr.s6_addr + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(ip, s->sin6_addr.s6_addr, 16);
        }
        return true;
    }
    return false;
}

bool sms_net_addr_allowed(const struct sockaddr *sa) {
    int family;
    unsigned char ip[16];
    unsigned port;
    if (!addr_parts(sa, &family, ip, &port)) return false;
    for (size_t i = 0; i < n_allow; i++)
        if (allow[i].family == family && memcmp(allow[i].ip, ip, family == AF_INET ? 4 : 16) == 0 &&
            (allow[i].port == 0 || allow[i].port == port))
            return true;
    return !sms_net_ip_internal(family, ip);
}

/* "65535" -> 65535; 0 when s is not a port 1..65535. */
static unsigned parse_port(const char *s, size_t n) {
    unsigned long v = 0;
    if (n == 0 || n > 5) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (unsigned)v : 0;
}

static int parse_entry(const char *s, size_t n, allow_entry_t *e) {
    const char *end = s + n, *host = s, *port = NULL;
    size_t hn = n;
    char h[64];
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) return -1;
        host = s + 1;
        hn = (size_t)(close - host);
        if (close + 1 < end) {
            if (close[1] != ':') return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)) == NULL) { /* one colon: IPv4:port */
            hn = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hn == 0 || hn >= sizeof h) return -1;
    memcpy(h, host, hn);
    h[hn] = '\0';
    memset(e, 0, sizeof *e);
    if (inet_pton(AF_INET, h, e->ip) == 1) e->family = AF_INET;
    else if (inet_pton(AF_INET6, h, e->ip) == 1) e->family = AF_INET6;
    else return -1;
    if (port && (e->port = parse_port(port, (size_t)(end - port))) == 0) return -1;
    return 0;
}

int sms_net_policy_set_allow(const char *list, char *err, size_t errlen) {
    allow_entry_t next[SMS_NET_ALLOW_MAX];
    size_t n = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        while (len && (*p == ' ')) { p++; len--; }
        size_t trimmed = len;
        while (trimmed && p[trimmed - 1] == ' ') trimmed--;
        if (trimmed) {
            if (n == SMS_NET_ALLOW_MAX) {
                snprintf(err, errlen, "more than %d entries", SMS_NET_ALLOW_MAX);
                return -1;
            }
            if (parse_entry(p, trimmed, &next[n]) != 0) {
                snprintf(err, errlen, "'%.*s' is not an IP literal with an optional :port", (int)trimmed, p);
                return -1;
            }
            n++;
        }
        p += len;
        if (*p == ',') p++;
    }
    memcpy(allow, next, n * sizeof *next);
    n_allow = n;
    return 0;
}

static bool name_is_localhost(const char *h, size_t n) {
    if (n && h[n - 1] == '.') n--; /* the root label: "localhost." is the same name */
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0) return true;
    return n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0;
}

const char *sms_net_url_refusal(const char *url, size_t n) {
    size_t scheme;
    unsigned default_port;
    if (n > 7 && strncmp(url, "http://", 7) == 0) scheme = 7, default_port = 80;
    else if (n > 8 && strncmp(url, "https://", 8) == 0) scheme = 8, default_port = 443;
    else return "must be an http:// or https:// URL";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f || url[i] == '\\') return "must not contain spaces, control characters or backslashes";
    const char *auth = url + scheme;
    size_t an = 0; /* url need not be NUL-terminated (a msgpack string): bounded by n */
    while (scheme + an < n && !strchr("/?#", auth[an])) an++;
    if (memchr(auth, '@', an)) return "must not carry credentials (user:password@)";
    const char *host = auth, *port = NULL;
    size_t hn;
    bool v6 = false;
    if (an && auth[0] == '[') {
        const char *close = memchr(auth, ']', an);
        if (close == NULL) return "has an unterminated [IPv6] host";
        host = auth + 1;
        hn = (size_t)(close - host);
        v6 = true;
        if (close + 1 < auth + an) {
            if (close[1] != ':') return "has junk after its [IPv6] host";
            port = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', an);
        hn = colon ? (size_t)(colon - auth) : an;
        if (colon) port = colon + 1;
    }
    if (hn == 0) return "must name a host";
    if (hn > 253) return "has a host name longer than 253 bytes";
    unsigned port_n = default_port;
    if (port) {
        port_n = parse_port(port, (size_t)(auth + an - port));
        if (port_n == 0) return "has a port that is not 1..65535";
    }
    char h[256];
    memcpy(h, host, hn);
    h[hn] = '\0';
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port_n)};
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_n)};
    if (v6) {
        if (inet_pton(AF_INET6, h, &s6.sin6_addr) != 1) return "has an [IPv6] host that is not an IPv6 address";
        return sms_net_addr_allowed((struct sockaddr *)&s6) ? NULL : "must not target a loopback, link-local, private, multicast or reserved address";
    }
    for (size_t i = 0; i < hn; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return "has a host that is not a name or an IP address";
    }
    /* inet_aton takes every form the resolver does (127.1, 0x7f.0.0.1,
     * 2130706433), so none of them slips past as a "name". */
    if (inet_aton(h, &s4.sin_addr) != 0)
        return sms_net_addr_allowed((struct sockaddr *)&s4) ? NULL : "must not target a loopback, link-local, private, multicast or reserved address";
    if (name_is_localhost(h, hn)) return "must not target localhost";
    return NULL;
}
