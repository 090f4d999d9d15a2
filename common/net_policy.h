/* net_policy.h - which network targets sms may be told to call (webhook
 * URLs): refuses loopback, link-local, private, unspecified, multicast and
 * reserved addresses (IPv4, IPv6 and the IPv4-mapped, -compatible and NAT64
 * forms of them) unless an explicit allow-list names them. Used at
 * registration (a URL's literal host) and at connect time (the resolved
 * address, so a name that later resolves inside cannot get through). */
#ifndef SMS_NET_POLICY_H
#define SMS_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SMS_NET_ALLOW_MAX 16

/* Replaces the process-wide allow-list with list: comma-separated entries,
 * each an IP literal ("127.0.0.1", "[::1]" or "::1") with an optional
 * ":port" ("127.0.0.1:8081", "[::1]:8081"); no port = any port. "" = no
 * exceptions. Returns 0, or -1 (the old list kept) with why in err.
 * sms_config_load calls it with SMS_WEBHOOK_ALLOW_HOSTS. Not thread-safe:
 * set at start-up. */
int sms_net_policy_set_allow(const char *list, char *err, size_t errlen);

/* True when addr (AF_INET or AF_INET6, with its port) may be connected to:
 * a public unicast address, or an allow-listed one. */
bool sms_net_addr_allowed(const struct sockaddr *addr);

/* True when the address (network order bytes: 4 for IPv4, 16 for IPv6)
 * is in a range refused by default. */
bool sms_net_ip_internal(int family, const unsigned char *ip);

/* Checks a webhook URL at registration: http:// or https://, a host, no
 * userinfo, an optional port 1..65535, and a host that is not "localhost"
 * (or under .localhost) nor an IP literal (any form inet_aton accepts, such
 * as 2130706433) refused by policy. Names are checked again once resolved
 * (sms_net_addr_allowed). Returns NULL when acceptable, else a static
 * sentence saying why. */
const char *sms_net_url_refusal(const char *url, size_t n);

#endif
