#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"

/* length of the UTF-8 sequence at s, 0 when it is not valid */
static size_t
utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

bool
http_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(s + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

int
http_parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, max;
	bool neg = false;
	size_t i = 0;

	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return -1;
	max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* out holds at least len bytes; -1 on a bad escape */
static int
pct_decode(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (in[i] == '+')
			out[o++] = ' ';
		else if (in[i] == '%') {
			if (i + 2 >= len)
				return -1;
			if ((hi = hexval(in[i + 1])) == -1 ||
			    (lo = hexval(in[i + 2])) == -1)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = in[i];
	}
	*outlen = o;
	return 0;
}

/* names we look for are short: a longer one cannot match */
#define QUERY_NAME_MAX 64

int
http_query_get(
    const char *query, size_t qlen, const char *name, char **val, size_t *vlen)
{
	char nbuf[QUERY_NAME_MAX * 3];
	const char *p = query, *end = query + qlen, *amp, *eq;
	size_t want = strlen(name), nlen;

	while (p <= end && p != NULL) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		if ((size_t)(eq - p) <= sizeof(nbuf) &&
		    pct_decode(p, (size_t)(eq - p), nbuf, &nlen) == 0 &&
		    nlen == want && memcmp(nbuf, name, want) == 0)
			goto found;
		p = amp + 1;
		if (amp == end)
			break;
	}
	return 0;
found:
	if (eq == amp) {
		*val = strdup("");
		if (*val == NULL)
			return -1;
		*vlen = 0;
		return 1;
	}
	eq++;
	if ((*val = malloc((size_t)(amp - eq) + 1)) == NULL)
		return -1;
	if (pct_decode(eq, (size_t)(amp - eq), *val, vlen) == -1 ||
	    !http_utf8_valid((const uint8_t *)*val, *vlen)) {
		free(*val);
		*val = NULL;
		return -1;
	}
	(*val)[*vlen] = '\0';
	return 1;
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

int
http_bearer_token(const char *hdr, size_t len, const char **tok, size_t *toklen)
{
	const char *p = hdr, *end = hdr + len;

	while (p < end && is_ws(*p))
		p++;
	if (end - p > 6 && strncasecmp(p, "bearer", 6) == 0 && p[6] == ' ')
		p += 7;
	while (p < end && is_ws(*p))
		p++;
	while (end > p && is_ws(end[-1]))
		end--;
	if (p == end)
		return -1;
	*tok = p;
	*toklen = (size_t)(end - p);
	return 0;
}

int
http_key_check(const uint8_t *key, size_t len)
{
	if (len == 0)
		return 400;
	if (len > HTTP_KEY_MAX)
		return 413;
	if (memchr(key, '\0', len) != NULL)
		return 400;
	return 0;
}

int
http_prefix_check(const uint8_t *prefix, size_t len)
{
	if (len > HTTP_KEY_MAX)
		return 413;
	if (len > 0 && memchr(prefix, '\0', len) != NULL)
		return 400;
	return 0;
}

void
http_format_uptime(int64_t secs, char *buf, size_t len)
{
	int64_t h, m, s;

	if (secs < 0)
		secs = 0;
	h = secs / 3600;
	m = secs % 3600 / 60;
	s = secs % 60;
	if (h > 0)
		snprintf(
		    buf, len, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s);
	else if (m > 0)
		snprintf(buf, len, "%" PRId64 "m%" PRId64 "s", m, s);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

void
http_format_rate(double v, char *buf, size_t len)
{
	int prec;

	for (prec = 0; prec <= 17; prec++) {
		snprintf(buf, len, "%.*f", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void
json_put_str(struct pbuf *b, const void *sv, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = sv;
	size_t i = 0, run, k;
	char esc[6];

	pb_add_raw(b, "\"", 1);
	while (i < len) {
		for (run = i; run < len && s[run] >= 0x20 && s[run] < 0x80 &&
		     s[run] != '"' && s[run] != '\\';
		     run++)
			;
		if (run > i) {
			pb_add_raw(b, s + i, run - i);
			i = run;
			continue;
		}
		if (s[i] >= 0x80) {
			if ((k = utf8_seq(s + i, len - i)) == 0) {
				pb_add_raw(b, "\\ufffd", 6);
				k = 1;
			} else
				pb_add_raw(b, s + i, k);
			i += k;
			continue;
		}
		switch (s[i]) {
		case '"':
			pb_add_raw(b, "\\\"", 2);
			break;
		case '\\':
			pb_add_raw(b, "\\\\", 2);
			break;
		case '\n':
			pb_add_raw(b, "\\n", 2);
			break;
		case '\r':
			pb_add_raw(b, "\\r", 2);
			break;
		case '\t':
			pb_add_raw(b, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 0xf];
			pb_add_raw(b, esc, 6);
		}
		i++;
	}
	pb_add_raw(b, "\"", 1);
}

void
json_put_cstr(struct pbuf *b, const char *s)
{
	json_put_str(b, s, strlen(s));
}

void
http_error_body(struct pbuf *b, const char *type, const char *msg)
{
	pb_add_raw(b, "{\"error_type\":", 14);
	json_put_cstr(b, type);
	pb_add_raw(b, ",\"message\":", 11);
	json_put_cstr(b, msg);
	pb_add_raw(b, "}\n", 2);
}
