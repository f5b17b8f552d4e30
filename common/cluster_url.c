#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/cluster_url.h"

static const struct cfg_addr *
node_binding(const struct cfg_node *n, enum curl_binding b)
{
	return b == CURL_BIND_PUBLIC ? &n->public_binding : &n->private_binding;
}

static int
host_port(const char *host, bool v6, unsigned port, char *out, size_t outlen)
{
	int len;

	len = snprintf(
	    out, outlen, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

int
curl_node_base(const struct cfg_node *n, enum curl_binding b, bool tls,
    char *out, size_t outlen)
{
	const struct cfg_addr *a = node_binding(n, b);
	char hp[CURL_ADDR_MAX];
	int len;

	if (n->client_domain != NULL) {
		if (host_port(
			n->client_domain, false, a->port, hp, sizeof(hp)) == -1)
			return -1;
	} else if (host_port(a->host, a->ipv6, a->port, hp, sizeof(hp)) == -1)
		return -1;
	len = snprintf(out, outlen, "%s://%s", tls ? "https" : "http", hp);
	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

int
curl_location(const struct cfg_node *n, enum curl_binding b, bool tls,
    const char *path, size_t path_len, const char *query, size_t query_len,
    char *out, size_t outlen)
{
	size_t base, need;

	if (curl_node_base(n, b, tls, out, outlen) == -1)
		return -1;
	base = strlen(out);
	need = base + path_len + (query != NULL ? 1 + query_len : 0);
	if (need >= outlen)
		return -1;
	memcpy(out + base, path, path_len);
	if (query != NULL) {
		out[base + path_len] = '?';
		memcpy(out + base + path_len + 1, query, query_len);
	}
	out[need] = '\0';
	return 0;
}

void
curl_raft_address(const struct cfg_node *n, char *out, size_t outlen)
{
	const struct cfg_addr *r = &n->raft_binding;

	if (n->client_domain != NULL)
		host_port(n->client_domain, false, r->port, out, outlen);
	else
		host_port(r->host, r->ipv6, r->port, out, outlen);
}

/* "host:port" or "[v6]:port" against a host and port; hosts without case */
static bool
addr_equal(const char *addr, const char *host, bool v6, unsigned port)
{
	char want[CURL_ADDR_MAX];

	if (host_port(host, v6, port, want, sizeof(want)) == -1)
		return false;
	if (strcasecmp(addr, want) == 0)
		return true;
	/* an IPv6 literal given without brackets */
	if (v6 && host_port(host, false, port, want, sizeof(want)) == 0 &&
	    strcasecmp(addr, want) == 0)
		return true;
	return false;
}

enum join_param
curl_join_check(const struct cfg *cfg, const char *id, const char *addr,
    const struct cfg_node **node, char *canon)
{
	const struct cfg_node *n;
	const struct cfg_addr *r;

	if (id == NULL || id[0] == '\0' || (n = cfg_node(cfg, id)) == NULL)
		return JOIN_BAD_ID;
	r = &n->raft_binding;
	if (addr == NULL || addr[0] == '\0')
		return JOIN_BAD_ADDR;
	if (addr_equal(addr, r->host, r->ipv6, r->port))
		host_port(r->host, r->ipv6, r->port, canon, CURL_ADDR_MAX);
	else if (n->client_domain != NULL &&
	    addr_equal(addr, n->client_domain, false, r->port))
		host_port(
		    n->client_domain, false, r->port, canon, CURL_ADDR_MAX);
	else
		return JOIN_BAD_ADDR;
	*node = n;
	return JOIN_OK;
}

static int
parse_port(const char *s, size_t len, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

int
curl_parse(const char *url, struct curl_parts *p)
{
	const char *h, *end, *hend, *colon = NULL;
	size_t hlen;

	memset(p, 0, sizeof(*p));
	if (strncasecmp(url, "https://", 8) == 0) {
		p->tls = true;
		h = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return -1;
	end = h + strcspn(h, "/?#");
	if (*end == '#')
		return -1;
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(end - h))) == NULL)
			return -1;
		h++;
		p->ipv6 = true;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				return -1;
			colon = hend + 1;
		}
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hend = colon != NULL ? colon : end;
	}
	hlen = (size_t)(hend - h);
	if (hlen == 0 || hlen > CFG_HOST_MAX || memchr(h, '@', hlen) != NULL)
		return -1;
	memcpy(p->host, h, hlen);
	p->port = p->tls ? 443 : 80;
	if (colon != NULL &&
	    parse_port(colon + 1, (size_t)(end - colon - 1), &p->port) == -1)
		return -1;
	p->target = *end == '\0' ? "/" : end;
	return *p->target == '/' ? 0 : -1;
}
