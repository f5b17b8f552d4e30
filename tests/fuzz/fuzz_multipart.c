/*
 * The streaming multipart/form-data parser on client bytes.  The first
 * byte chooses a feed size; the input is parsed once whole and once in
 * feeds of that size, and both parses must agree on every part's names,
 * lengths and data and on the outcome: splitting must never change what
 * the parser sees.  Also the Content-Type boundary extraction.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apid/multipart.h"

#define FUZZ_BOUNDARY "fuzzBnd"

struct summary {
	uint64_t hash; /* FNV-1a over every event */
	size_t parts, bytes;
	bool in_part;
};

static void
mix(struct summary *s, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		s->hash ^= b[i];
		s->hash *= 1099511628211ULL;
	}
}

static int
on_begin(void *arg, const struct mp_part *p)
{
	struct summary *s = arg;

	if (s->in_part || (p->has_name && p->name == NULL) ||
	    (p->has_filename && p->filename == NULL) ||
	    p->name_len >= MP_HEAD_MAX || p->filename_len >= MP_HEAD_MAX)
		abort();
	s->in_part = true;
	s->parts++;
	mix(s, "B", 1);
	if (p->has_name)
		mix(s, p->name, p->name_len);
	mix(s, "F", 1);
	if (p->has_filename)
		mix(s, p->filename, p->filename_len);
	mix(s, "T", 1);
	if (p->has_content_type)
		mix(s, p->content_type, p->content_type_len);
	return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
	struct summary *s = arg;

	if (!s->in_part || n == 0)
		abort();
	s->bytes += n;
	/* data is hashed as one stream: piece borders must not matter */
	mix(s, d, n);
	return 0;
}

static int
on_end(void *arg)
{
	struct summary *s = arg;

	if (!s->in_part)
		abort();
	s->in_part = false;
	mix(s, "E", 1);
	return 0;
}

static const struct mp_callbacks cbs = { on_begin, on_data, on_end };

static int
parse(const char *d, size_t n, size_t step, struct summary *s)
{
	struct mp *m;
	size_t i, k;
	int rc = MP_OK;

	memset(s, 0, sizeof(*s));
	s->hash = 1469598103934665603ULL;
	if ((m = mp_new(FUZZ_BOUNDARY, &cbs, s)) == NULL)
		abort();
	for (i = 0; i < n && rc == MP_OK; i += k) {
		k = n - i < step ? n - i : step;
		rc = mp_feed(m, d + i, k);
	}
	if (rc == MP_OK)
		rc = mp_finish(m);
	if ((rc == MP_OK) != mp_done(m) || mp_error(m) == NULL)
		abort();
	mp_free(m);
	return rc;
}

static void
fuzz_content_type(const char *d, size_t n)
{
	char b[MP_BOUNDARY_MAX + 1];

	memset(b, 0, sizeof(b));
	if (mp_content_type(d, n, b, sizeof(b)) != 1)
		return;
	if (strlen(b) == 0 || strlen(b) > MP_BOUNDARY_MAX ||
	    strchr(b, '\r') != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct summary whole, split;
	size_t step;
	char *buf;
	int a, b;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	size--;
	/* exact-length copy so reads past the end are caught */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data + 1, size);
	a = parse(buf, size, size ? size : 1, &whole);
	b = parse(buf, size, step, &split);
	/* a malformed body fails at the same byte whatever the feeds: the
	 * events up to that byte must agree too */
	if (a != b || whole.hash != split.hash || whole.parts != split.parts ||
	    whole.bytes != split.bytes)
		abort();
	fuzz_content_type(buf, size);
	free(buf);
	return 0;
}
