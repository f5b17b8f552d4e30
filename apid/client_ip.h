/*
 * Client IP and IP filter of API.md §9.
 */
#ifndef APID_CLIENT_IP_H
#define APID_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "common/config.h"

struct client_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

/* the TCP peer, IPv4-mapped IPv6 turned into IPv4; -1 for other families */
int client_ip_from_sockaddr(const struct sockaddr *, struct client_ip *);

/* parses one address text (no port, no brackets); -1 when it is not one */
int client_ip_parse(const char *, size_t, struct client_ip *);

/*
 * Applies X-Forwarded-For when the peer is a trusted proxy.  xff is every
 * such header joined with ", " in order (NULL when none).  *out is the
 * client IP.
 */
void
client_ip_resolve(const struct client_ip *peer, const char *xff, size_t xff_len,
    const struct cfg_net *trusted, size_t ntrusted, struct client_ip *out);

/* the binding's filter: public allows "*", private ignores it */
bool client_ip_permitted(const struct client_ip *, const struct cfg_net *,
    size_t n, bool public_binding);

/* text form for logs */
void client_ip_format(const struct client_ip *, char *buf, size_t len);

#endif
