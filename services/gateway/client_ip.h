/* client_ip.h - who the client is: the socket's peer, or, when the peer is
 * a trusted proxy (SMS_TRUSTED_PROXIES), the nearest untrusted address in
 * X-Forwarded-For (read right to left; a client can prepend anything, but
 * not what our own proxies appended).
 *
 * protect.c keys rate limits and connection caps with it. Pure functions. */
#ifndef GW_CLIENT_IP_H
#define GW_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/http.h"

#define GW_PROXIES_MAX 32
#define GW_IP_STR_MAX 46 /* INET6_ADDRSTRLEN */

/* A list of networks: "10.0.0.1, 192.168.0.0/16, ::1, fd00::/8". */
typedef struct gw_proxies_s {
    size_t n;
    struct {
        unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
        int prefix;             /* bits, of the 128 */
    } nets[GW_PROXIES_MAX];
} gw_proxies_t;

/* Parses list (NULL or "" = none). Returns 0, or -1 with err naming the bad entry. */
int gw_proxies_parse(gw_proxies_t *p, const char *list, char *err, size_t errlen);
/* True when addr is in one of p's networks. */
bool gw_proxies_contain(const gw_proxies_t *p, const struct sockaddr_storage *addr);
/* addr as text (IPv4-mapped IPv6 as plain IPv4) into out (GW_IP_STR_MAX). */
void gw_ip_format(const struct sockaddr_storage *addr, char *out, size_t cap);

/* The client's address for req as text into out (GW_IP_STR_MAX bytes):
 * see the file comment. "" when the connection is gone. */
void gw_client_ip(const gw_proxies_t *p, const gw_request_t *req, char *out, size_t cap);
/* True when the peer is a trusted proxy that says X-Forwarded-Proto: https. */
bool gw_client_forwarded_https(const gw_proxies_t *p, const gw_request_t *req);

#endif
