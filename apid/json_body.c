#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/json_body.h"

/* one member name of an object, for the duplicate check */
struct jb_name {
	const char *s;
	size_t len;
};

struct jb_parser {
	const char *p;
	const char *end;
	struct jb_doc *doc;
	size_t arena_off;
};

static int jb_value(struct jb_parser *, int depth, struct jb_member *);

static int
jb_fail(struct jb_parser *ps, const char *what)
{
	snprintf(ps->doc->err, sizeof(ps->doc->err), "body: %.120s", what);
	return -1;
}

static void
jb_ws(struct jb_parser *ps)
{
	while (ps->p < ps->end &&
	    (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
		*ps->p == '\r'))
		ps->p++;
}

static int
jb_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			v |= (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			v |= (unsigned)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			v |= (unsigned)(p[i] - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
jb_utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX (and its low surrogate) at ps->p, after the backslash-u */
static int
jb_unicode(struct jb_parser *ps, char *out, size_t *o)
{
	unsigned cp, lo;

	if (ps->end - ps->p < 4 || jb_hex4(ps->p, &cp) == -1)
		return jb_fail(ps, "bad \\u escape");
	ps->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jb_fail(ps, "lone surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
		    ps->p[1] != 'u' || jb_hex4(ps->p + 2, &lo) == -1 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return jb_fail(ps, "lone surrogate");
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*o += jb_utf8_put(out + *o, cp);
	return 0;
}

static int
jb_escape(struct jb_parser *ps, char *out, size_t *o)
{
	char c = *ps->p++;

	switch (c) {
	case '"':
	case '\\':
	case '/':
		out[(*o)++] = c;
		return 0;
	case 'b':
		out[(*o)++] = '\b';
		return 0;
	case 'f':
		out[(*o)++] = '\f';
		return 0;
	case 'n':
		out[(*o)++] = '\n';
		return 0;
	case 'r':
		out[(*o)++] = '\r';
		return 0;
	case 't':
		out[(*o)++] = '\t';
		return 0;
	case 'u':
		return jb_unicode(ps, out, o);
	default:
		return jb_fail(ps, "bad escape in a string");
	}
}

/*
 * A string at ps->p (on the opening quote), decoded into the arena: the
 * decoded form plus its NUL never exceeds the quoted text, so the arena
 * (as large as the body) cannot overflow.
 */
static int
jb_string_lit(struct jb_parser *ps, const char **s, size_t *len)
{
	char *out = ps->doc->arena + ps->arena_off;
	const char *run;
	size_t o = 0;

	ps->p++;
	for (;;) {
		run = ps->p;
		while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
		    (unsigned char)*ps->p >= 0x20)
			ps->p++;
		if (!http_utf8_valid(
			(const uint8_t *)run, (size_t)(ps->p - run)))
			return jb_fail(ps, "invalid UTF-8 in a string");
		memcpy(out + o, run, (size_t)(ps->p - run));
		o += (size_t)(ps->p - run);
		if (ps->p == ps->end)
			return jb_fail(ps, "unterminated string");
		if (*ps->p == '"')
			break;
		if (*ps->p != '\\')
			return jb_fail(ps, "control character in a string");
		ps->p++;
		if (ps->p == ps->end)
			return jb_fail(ps, "unterminated string");
		if (jb_escape(ps, out, &o) == -1)
			return -1;
	}
	ps->p++;
	out[o] = '\0';
	ps->arena_off += o + 1;
	*s = out;
	*len = o;
	return 0;
}

static int
jb_digits(struct jb_parser *ps)
{
	const char *start = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > start ? 0 : -1;
}

static int
jb_number(struct jb_parser *ps, struct jb_member *m)
{
	const char *start = ps->p;
	bool frac = false;

	if (*ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (jb_digits(ps) == -1)
		return jb_fail(ps, "bad number");
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		frac = true;
		if (jb_digits(ps) == -1)
			return jb_fail(ps, "bad number");
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		frac = true;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (jb_digits(ps) == -1)
			return jb_fail(ps, "bad number");
	}
	m->type = JB_NUMBER;
	m->is_int = !frac &&
	    http_parse_int64(start, (size_t)(ps->p - start), &m->num) == 0;
	return 0;
}

static int
jb_literal(struct jb_parser *ps, const char *word, struct jb_member *m,
    enum jb_type type, bool value)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return jb_fail(ps, "not valid JSON");
	ps->p += n;
	m->type = type;
	m->boolean = value;
	return 0;
}

static int
jb_name_cmp(const void *a, const void *b)
{
	const struct jb_name *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* sorts the names and reports the first one that appears twice */
static int
jb_check_dups(struct jb_parser *ps, struct jb_name *names, size_t n)
{
	char msg[JB_ERR_MAX];
	size_t i;

	if (n < 2)
		return 0;
	qsort(names, n, sizeof(*names), jb_name_cmp);
	for (i = 1; i < n; i++) {
		if (jb_name_cmp(&names[i - 1], &names[i]) == 0) {
			snprintf(msg, sizeof(msg),
			    "member \"%.64s\" appears twice", names[i].s);
			return jb_fail(ps, msg);
		}
	}
	return 0;
}

static int
jb_add_member(struct jb_doc *doc, const struct jb_member *m)
{
	struct jb_member *nm;
	size_t ncap;

	if (doc->n == doc->cap) {
		ncap = doc->cap ? doc->cap * 2 : 8;
		if ((nm = realloc(doc->m, ncap * sizeof(*nm))) == NULL)
			return -1;
		doc->m = nm;
		doc->cap = ncap;
	}
	doc->m[doc->n++] = *m;
	return 0;
}

static int
jb_push_name(
    struct jb_name **names, size_t *n, size_t *cap, const char *s, size_t len)
{
	struct jb_name *nn;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		if ((nn = realloc(*names, *cap * sizeof(*nn))) == NULL)
			return -1;
		*names = nn;
	}
	(*names)[*n].s = s;
	(*names)[(*n)++].len = len;
	return 0;
}

/* one "name": value pair of an object; top-level ones are kept */
static int
jb_pair(struct jb_parser *ps, int depth, struct jb_name **names, size_t *n,
    size_t *cap)
{
	struct jb_member m;

	memset(&m, 0, sizeof(m));
	jb_ws(ps);
	if (ps->p == ps->end || *ps->p != '"')
		return jb_fail(ps, "expected a member name");
	if (jb_string_lit(ps, &m.name, &m.name_len) == -1)
		return -1;
	/* bounds the memory one body can make us spend on bookkeeping */
	if (*n >= JB_MEMBERS_MAX)
		return jb_fail(ps, "too many members in one object");
	if (jb_push_name(names, n, cap, m.name, m.name_len) == -1)
		return jb_fail(ps, "out of memory");
	jb_ws(ps);
	if (ps->p == ps->end || *ps->p != ':')
		return jb_fail(ps, "expected ':'");
	ps->p++;
	jb_ws(ps);
	m.raw = ps->p;
	if (jb_value(ps, depth + 1, &m) == -1)
		return -1;
	m.raw_len = (size_t)(ps->p - m.raw);
	if (depth == 0 && jb_add_member(ps->doc, &m) == -1)
		return jb_fail(ps, "out of memory");
	return 0;
}

static int
jb_object(struct jb_parser *ps, int depth)
{
	struct jb_name *names = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;

	ps->p++;
	jb_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (jb_pair(ps, depth, &names, &n, &cap) == -1)
			goto out;
		jb_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		jb_fail(ps, "expected ',' or '}'");
		goto out;
	}
	rc = jb_check_dups(ps, names, n);
out:
	free(names);
	return rc;
}

static int
jb_array(struct jb_parser *ps, int depth)
{
	struct jb_member scratch;

	ps->p++;
	jb_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		jb_ws(ps);
		memset(&scratch, 0, sizeof(scratch));
		if (jb_value(ps, depth + 1, &scratch) == -1)
			return -1;
		jb_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return jb_fail(ps, "expected ',' or ']'");
	}
}

/* depth counts the containers around the value */
static int
jb_value(struct jb_parser *ps, int depth, struct jb_member *m)
{
	if (depth > JB_DEPTH_MAX)
		return jb_fail(ps, "nested too deeply");
	if (ps->p == ps->end)
		return jb_fail(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
		m->type = JB_OBJECT;
		return jb_object(ps, depth);
	case '[':
		m->type = JB_ARRAY;
		return jb_array(ps, depth);
	case '"':
		m->type = JB_STRING;
		return jb_string_lit(ps, &m->str, &m->str_len);
	case 't':
		return jb_literal(ps, "true", m, JB_BOOL, true);
	case 'f':
		return jb_literal(ps, "false", m, JB_BOOL, false);
	case 'n':
		return jb_literal(ps, "null", m, JB_NULL, false);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return jb_number(ps, m);
		return jb_fail(ps, "not valid JSON");
	}
}

int
jb_parse(struct jb_doc *doc, const char *buf, size_t len)
{
	struct jb_parser ps;

	memset(doc, 0, sizeof(*doc));
	if ((doc->arena = malloc(len + 1)) == NULL) {
		snprintf(doc->err, sizeof(doc->err), "body: out of memory");
		return -1;
	}
	doc->arena_len = len + 1;
	memset(&ps, 0, sizeof(ps));
	ps.p = buf;
	ps.end = buf + len;
	ps.doc = doc;
	jb_ws(&ps);
	if (ps.p == ps.end)
		return jb_fail(&ps, "a JSON object is required");
	if (*ps.p != '{')
		return jb_fail(&ps, "must be a JSON object");
	if (jb_object(&ps, 0) == -1)
		return -1;
	jb_ws(&ps);
	if (ps.p != ps.end)
		return jb_fail(&ps, "unexpected data after the JSON object");
	return 0;
}

void
jb_free(struct jb_doc *doc)
{
	free(doc->m);
	free(doc->arena);
	memset(doc, 0, sizeof(*doc));
}

const struct jb_member *
jb_find(const struct jb_doc *doc, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < doc->n; i++)
		if (doc->m[i].name_len == n &&
		    memcmp(doc->m[i].name, name, n) == 0)
			return &doc->m[i];
	return NULL;
}

int
jb_string(struct jb_doc *doc, const char *name, const char **s, size_t *len)
{
	const struct jb_member *m = jb_find(doc, name);

	if (m == NULL || m->type == JB_NULL)
		return 0;
	if (m->type != JB_STRING) {
		snprintf(
		    doc->err, sizeof(doc->err), "%s: must be a string", name);
		return -1;
	}
	*s = m->str;
	*len = m->str_len;
	return 1;
}

int
jb_int(struct jb_doc *doc, const char *name, int64_t *v)
{
	const struct jb_member *m = jb_find(doc, name);

	if (m == NULL || m->type == JB_NULL)
		return 0;
	if (m->type != JB_NUMBER || !m->is_int) {
		snprintf(doc->err, sizeof(doc->err),
		    "%s: must be an integer within int64", name);
		return -1;
	}
	*v = m->num;
	return 1;
}
