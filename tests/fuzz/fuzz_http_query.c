/*
 * The pure request helpers of apid on client bytes: query-string lookup
 * (percent-decoding), the integer syntax of query values, the bearer
 * credential of an Authorization value and exact-path route lookup.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/routes.h"

static const char *const fuzz_names[] = { "key", "prefix", "offset", "limit",
	"consistency", "entity", "" };

/* reference: plain decimal, optional '-', no '+', no spaces, in int64 */
static int
ref_int64(const char *s, size_t len, int64_t *v)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;
	uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (acc > (lim - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		acc = acc * 10 + (uint64_t)(s[i] - '0');
	}
	*v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}

static void
fuzz_int64(const char *s, size_t len)
{
	int64_t got = 0, want = 0;
	int rc = http_parse_int64(s, len, &got);

	if ((rc == 0) != (ref_int64(s, len, &want) == 0) ||
	    (rc == 0 && got != want))
		abort();
}

static void
fuzz_query(const char *q, size_t len)
{
	char *val;
	size_t vlen;

	for (size_t i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]);
	     i++) {
		val = NULL;
		if (http_query_get(q, len, fuzz_names[i], &val, &vlen) != 1)
			continue;
		if (val == NULL || vlen > len || val[vlen] != '\0' ||
		    !http_utf8_valid((const uint8_t *)val, vlen))
			abort();
		fuzz_int64(val, vlen);
		free(val);
	}
}

static void
fuzz_bearer(const char *h, size_t len)
{
	const char *tok;
	size_t toklen;

	if (http_bearer_token(h, len, &tok, &toklen) != 0)
		return;
	if (toklen == 0 || tok < h || tok + toklen > h + len || tok[0] == ' ' ||
	    tok[toklen - 1] == ' ')
		abort();
}

static void
fuzz_route(const char *path, size_t len)
{
	const struct route *r = NULL;
	enum route_match m;

	for (int b = BIND_PUBLIC; b <= BIND_PRIVATE; b++) {
		m = route_lookup(path, len, (enum route_binding)b,
		    route_method_bit("GET"), &r);
		if (m == ROUTE_NOT_FOUND)
			continue;
		/* an exact-path lookup finds only its own path */
		if (r == NULL || strlen(r->path) != len ||
		    memcmp(r->path, path, len) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-length copy: the helpers take a length, not a string */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	fuzz_query(buf, size);
	fuzz_int64(buf, size);
	fuzz_bearer(buf, size);
	fuzz_route(buf, size);
	free(buf);
	return 0;
}
