#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "apid/client_ip.h"

static void
unmap_v4(struct client_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };

	if (ip->family == AF_INET6 && memcmp(ip->addr, mapped, 12) == 0) {
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
		ip->family = AF_INET;
	}
}

int
client_ip_from_sockaddr(const struct sockaddr *sa, struct client_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		ip->family = AF_INET;
		memcpy(
		    ip->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		ip->family = AF_INET6;
		memcpy(ip->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
		unmap_v4(ip);
		return 0;
	}
	return -1;
}

int
client_ip_parse(const char *s, size_t len, struct client_ip *ip)
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(ip, 0, sizeof(*ip));
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, ip->addr) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, ip->addr) == 1) {
		ip->family = AF_INET6;
		unmap_v4(ip);
		return 0;
	}
	return -1;
}

static bool
trusted_match(const struct client_ip *ip, const struct cfg_net *t, size_t n)
{
	return cfg_net_match(t, n, ip->family, ip->addr, false);
}

/* the entry ending at `end` (exclusive), trimmed; returns its start */
static const char *
xff_prev(
    const char *start, const char *end, const char **estart, const char **eend)
{
	const char *p = end;

	while (p > start && p[-1] != ',')
		p--;
	*estart = p;
	*eend = end;
	while (*estart < *eend && (**estart == ' ' || **estart == '\t'))
		(*estart)++;
	while (*eend > *estart && ((*eend)[-1] == ' ' || (*eend)[-1] == '\t'))
		(*eend)--;
	return p > start ? p - 1 : NULL;
}

void
client_ip_resolve(const struct client_ip *peer, const char *xff, size_t xff_len,
    const struct cfg_net *trusted, size_t ntrusted, struct client_ip *out)
{
	const char *end, *es, *ee;
	struct client_ip cand;

	*out = *peer;
	if (xff == NULL || xff_len == 0 ||
	    !trusted_match(peer, trusted, ntrusted))
		return;
	end = xff + xff_len;
	/* bounded: every step consumes at least one byte */
	while (end != NULL) {
		end = xff_prev(xff, end, &es, &ee);
		if (client_ip_parse(es, (size_t)(ee - es), &cand) == -1) {
			*out = *peer;
			return;
		}
		*out = cand;
		if (!trusted_match(&cand, trusted, ntrusted))
			return;
	}
	/* every entry was a trusted proxy: the left-most one stands */
}

bool
client_ip_permitted(const struct client_ip *ip, const struct cfg_net *nets,
    size_t n, bool public_binding)
{
	return cfg_net_match(nets, n, ip->family, ip->addr, public_binding);
}

void
client_ip_format(const struct client_ip *ip, char *buf, size_t len)
{
	if (inet_ntop(ip->family, ip->addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}
