/*
 * The strict JSON request-body decoder on arbitrary bytes, then the typed
 * accessors a route handler would call on what it accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/json_body.h"

static const char *const fuzz_names[] = { "key", "value", "old_value", "delta",
	"ttl", "prefix", "offset", "limit", "entity_name", "" };

static void
check_member(const struct jb_member *m, const char *buf, size_t len)
{
	if (m->name == NULL || m->name[m->name_len] != '\0' || m->raw == NULL ||
	    m->raw < buf || m->raw_len > len || m->raw + m->raw_len > buf + len)
		abort();
	if (!http_utf8_valid((const uint8_t *)m->name, m->name_len))
		abort();
	if (m->type == JB_STRING &&
	    (m->str == NULL || m->str[m->str_len] != '\0' ||
		!http_utf8_valid((const uint8_t *)m->str, m->str_len)))
		abort();
}

static void
use_doc(struct jb_doc *doc, const char *buf, size_t len)
{
	const char *s;
	size_t slen;
	int64_t v;

	for (size_t i = 0; i < doc->n; i++)
		check_member(&doc->m[i], buf, len);
	for (size_t i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]);
	     i++) {
		const struct jb_member *m = jb_find(doc, fuzz_names[i]);

		if (jb_string(doc, fuzz_names[i], &s, &slen) == 1 &&
		    (m == NULL || s[slen] != '\0'))
			abort();
		if (jb_int(doc, fuzz_names[i], &v) == 1 &&
		    (m == NULL || !m->is_int || m->num != v))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jb_doc doc;
	/* exact-length copy: the decoder takes a length, not a string */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	if (jb_parse(&doc, buf, size) == 0) {
		if (doc.n > JB_MEMBERS_MAX)
			abort();
		use_doc(&doc, buf, size);
	} else if (doc.err[0] == '\0') {
		/* a refusal always says why */
		abort();
	}
	jb_free(&doc);
	free(buf);
	return 0;
}
