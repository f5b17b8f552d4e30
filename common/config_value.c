/*
 * Syntax of configuration values (CONFIG.md §1): durations, sizes,
 * addresses, host names, CIDR ranges, and path clean-up.  Pure functions.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/log.h"
bool
cfg_all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

bool
cfg_looks_float(const char *s)
{
	const char *e;
	bool digits = false;

	if (*s == '-' || *s == '+')
		s++;
	while (isdigit((unsigned char)*s))
		s++, digits = true;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s))
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		e = ++s;
		if (*s == '-' || *s == '+')
			e = ++s;
		if (!cfg_all_digits(e))
			return false;
		return true;
	}
	return *s == '\0';
}

int
cfg_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return -1;
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	int64_t ms;
} dur_units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	{ "h", 3600000 } };

/* "<number><unit>" groups, e.g. 1h30m or 1.5s; NULL or the problem */
const char *
cfg_parse_duration(const char *s, int64_t *ms_out)
{
	int64_t total = 0, whole, frac, scale, unit;
	const char *p = s;
	size_t i, ulen;

	if (cfg_all_digits(s))
		return "needs a unit (ms, s, m or h), e.g. 30s";
	if (*p == '\0')
		return "must be a duration such as 250ms, 30s or 1h30m";
	while (*p != '\0') {
		whole = frac = 0;
		scale = 1;
		if (!isdigit((unsigned char)*p))
			return "must be a duration such as 250ms, 30s or 1h30m";
		for (; isdigit((unsigned char)*p); p++) {
			if (whole > 100000000000LL)
				return "is too large";
			whole = whole * 10 + (*p - '0');
		}
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++) {
				if (scale >= 1000000000LL)
					return "has too many decimals";
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
		unit = 0;
		for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			ulen = strlen(dur_units[i].name);
			if (strncmp(p, dur_units[i].name, ulen) == 0 &&
			    !isalpha((unsigned char)p[ulen])) {
				unit = dur_units[i].ms;
				p += ulen;
				break;
			}
		}
		if (unit == 0)
			return "must be a duration such as 250ms, 30s or 1h30m";
		if ((frac * unit) % scale != 0)
			return "must be a whole number of milliseconds";
		total += whole * unit + frac * unit / scale;
		if (total > 1000000000000000LL)
			return "is too large";
	}
	*ms_out = total;
	return NULL;
}

static const struct {
	const char *name;
	int shift;
} size_units[] = { { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
	{ "TiB", 40 } };

/* "<integer><unit>"; plain integers are handled by the caller */
const char *
cfg_parse_size(const char *s, int64_t *bytes_out)
{
	int64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return "must be a size such as 65536, 512KiB or 1GiB";
	for (; isdigit((unsigned char)*p); p++) {
		if (v > 100000000000000LL)
			return "is too large";
		v = v * 10 + (*p - '0');
	}
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]);
	     i++) {
		if (strcmp(p, size_units[i].name) != 0)
			continue;
		if (v > (INT64_MAX >> size_units[i].shift))
			return "is too large";
		*bytes_out = v << size_units[i].shift;
		return NULL;
	}
	return "must be a size such as 65536, 512KiB or 1GiB";
}

bool
cfg_valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
		if (label == 0 && s[i] == '-')
			return false;
		label++;
	}
	return true;
}

static bool
only_digits_and_dots(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

/* "a.b.c.d:port", "[v6]:port" or "name:port"; NULL or the problem */
const char *
cfg_parse_addr(const char *s, struct cfg_addr *a)
{
	const char *port, *end;
	size_t hlen;
	uint8_t bin[16];
	int64_t p;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return "must be host:port, e.g. [::1]:8080";
		hlen = end - s - 1;
		port = end + 2;
		if (hlen > CFG_HOST_MAX)
			return "has an invalid IPv6 address";
		memcpy(a->host, s + 1, hlen);
		a->host[hlen] = '\0';
		if (inet_pton(AF_INET6, a->host, bin) != 1)
			return "has an invalid IPv6 address";
		a->ipv6 = true;
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			return "must be host:port, e.g. 127.0.0.1:8080";
		hlen = end - s;
		port = end + 1;
		if (memchr(s, ':', hlen) != NULL)
			return "must write an IPv6 address in brackets: "
			       "[addr]:port";
		if (hlen == 0)
			return "has no host";
		if (hlen > CFG_HOST_MAX)
			return "has an invalid host name";
		memcpy(a->host, s, hlen);
		a->host[hlen] = '\0';
		if (only_digits_and_dots(a->host)) {
			if (inet_pton(AF_INET, a->host, bin) != 1)
				return "has an invalid IPv4 address";
		} else if (!cfg_valid_hostname(a->host))
			return "has an invalid host name";
	}
	if (strlen(port) > 5 || !cfg_all_digits(port) ||
	    cfg_parse_int(port, &p) || p < 1 || p > 65535)
		return "port must be 1-65535";
	a->port = (uint16_t)p;
	return NULL;
}

bool
cfg_addr_is_wildcard(const struct cfg_addr *a)
{
	return strcmp(a->host, "0.0.0.0") == 0 ||
	    (a->ipv6 && strspn(a->host, ":0") == strlen(a->host));
}

/* family of a literal IP host, 0 for a host name */
int
cfg_host_ip(const char *host, uint8_t bin[16])
{
	if (inet_pton(AF_INET, host, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, host, bin) == 1)
		return AF_INET6;
	return 0;
}

/* canonical host text so that equal hosts compare equal */
void
cfg_host_canon(const char *host, char *out, size_t size)
{
	uint8_t bin[16];
	int family = cfg_host_ip(host, bin);

	if (family != 0 && inet_ntop(family, bin, out, size) != NULL)
		return;
	snprintf(out, size, "%s", host);
	for (char *p = out; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
}

bool
cfg_host_is_loopback(const char *host)
{
	uint8_t bin[16];
	int family = cfg_host_ip(host, bin);

	if (family == AF_INET)
		return bin[0] == 127;
	if (family == AF_INET6)
		return memcmp(bin, &in6addr_loopback, 16) == 0;
	return strcasecmp(host, "localhost") == 0;
}

/* ---- CIDR lists ---- */

int
cfg_net_parse(const char *s, struct cfg_net *net, bool allow_any)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	int64_t prefix;
	int bits;

	memset(net, 0, sizeof(*net));
	if (strcmp(s, "*") == 0) {
		if (!allow_any)
			return -1;
		net->any = true;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	net->family = cfg_host_ip(buf, net->addr);
	if (net->family == 0)
		return -1;
	bits = net->family == AF_INET ? 32 : 128;
	prefix = bits;
	if (slash != NULL &&
	    (strlen(slash) > 3 || !cfg_all_digits(slash) ||
		cfg_parse_int(slash, &prefix) || prefix > bits))
		return -1;
	net->prefix = (int)prefix;
	/* keep only the network part so that matching is a plain compare */
	for (int i = net->prefix; i < bits; i++)
		net->addr[i / 8] &= ~(0x80 >> (i % 8));
	return 0;
}

static bool
net_contains(const struct cfg_net *net, const uint8_t *addr)
{
	int full = net->prefix / 8, rest = net->prefix % 8;

	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->addr[full] ^ addr[full]) & (0xff00 >> rest)) == 0;
}

bool
cfg_net_match(const struct cfg_net *nets, size_t n, int family,
    const uint8_t *addr, bool allow_any)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	/* a v4 client on a dual-stack socket arrives as ::ffff:a.b.c.d */
	if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (size_t i = 0; i < n; i++) {
		if (nets[i].any) {
			if (allow_any)
				return true;
			continue;
		}
		if (nets[i].family == family && net_contains(&nets[i], addr))
			return true;
	}
	return false;
}

/* ---- paths ---- */

/* removes "." and ".." components of an absolute path, in place */
void
cfg_path_normalize(char *path)
{
	char *out = path, *p = path, *seg;
	size_t len;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		len = p - seg;
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, len);
		out += len;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

void
cfg_fmt_duration(int64_t ms, char *buf, size_t size)
{
	static const int64_t div[] = { 3600000, 60000, 1000, 1 };
	static const char *const unit[] = { "h", "m", "s", "ms" };
	size_t len = 0;

	buf[0] = '\0';
	if (ms == 0)
		snprintf(buf, size, "0s");
	for (int i = 0; i < 4 && ms > 0; i++) {
		if (ms / div[i] == 0)
			continue;
		len += snprintf(buf + len, size - len, "%lld%s",
		    (long long)(ms / div[i]), unit[i]);
		ms %= div[i];
		if (len >= size)
			break;
	}
}

void
cfg_fmt_size(int64_t bytes, char *buf, size_t size)
{
	for (int i = 4; i >= 1; i--) {
		int64_t unit = (int64_t)1 << size_units[i].shift;

		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, size, "%lld%s", (long long)(bytes / unit),
			    size_units[i].name);
			return;
		}
	}
	snprintf(buf, size, "%lld", (long long)bytes);
}

bool
cfg_uuid_shaped(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool
cfg_valid_id(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > CFG_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}
