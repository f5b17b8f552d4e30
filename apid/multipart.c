/*
 * Streaming multipart/form-data (multipart.h).
 *
 * The delimiter is CRLF "--" boundary.  The body may open with "--"
 * boundary directly, so the parser starts as if a CRLF had just been
 * seen.  Boundary characters never include CR, so CR occurs only at the
 * delimiter's first position: a partial match that fails gives its bytes
 * back as data (they are the delimiter's own) and matching restarts at
 * the failing byte.  Nothing but the part headers is ever buffered.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apid/multipart.h"

/* spaces and tabs allowed between a boundary and its CRLF */
#define MP_PAD_MAX 256

enum mp_state {
	S_PREAMBLE = 0, /* before the first delimiter */
	S_DELIM_TAIL, /* right after a delimiter: "--", padding or CRLF */
	S_CLOSE_DASH, /* one '-' of the closing "--" seen */
	S_PAD, /* transport padding after a delimiter */
	S_DELIM_LF, /* CR after a delimiter seen */
	S_HEADERS, /* a part's header block */
	S_DATA, /* a part's data */
	S_EPILOGUE, /* after the closing delimiter */
	S_FAILED,
};

struct mp {
	enum mp_state state;
	struct mp_callbacks cb;
	void *arg;
	char delim[4 + MP_BOUNDARY_MAX]; /* "\r\n--" boundary */
	size_t delim_len;
	size_t match; /* delimiter bytes matched so far */
	size_t pad;
	const char *err;
	bool stopped;
	size_t hlen;
	char head[MP_HEAD_MAX];
	/* decoded parameters of the current part */
	char name[MP_HEAD_MAX];
	char filename[MP_HEAD_MAX];
};

static bool
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool
is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Parameter syntax shared by Content-Type and Content-Disposition.
 */

struct mp_cursor {
	const char *p;
	const char *end;
};

static void
cur_skip_ows(struct mp_cursor *c)
{
	while (c->p < c->end && is_ows(*c->p))
		c->p++;
}

/* a token; its length, 0 when there is none */
static size_t
cur_token(struct mp_cursor *c, const char **tok)
{
	*tok = c->p;
	while (c->p < c->end && is_tchar((unsigned char)*c->p))
		c->p++;
	return (size_t)(c->p - *tok);
}

/*
 * A token or a quoted-string, decoded into out (at most outlen bytes);
 * -1 when malformed or too long.
 */
static int
cur_value(struct mp_cursor *c, char *out, size_t outlen, size_t *len)
{
	const char *tok;
	size_t n = 0;

	if (c->p < c->end && *c->p != '"') {
		n = cur_token(c, &tok);
		if (n == 0 || n > outlen)
			return -1;
		memcpy(out, tok, n);
		*len = n;
		return 0;
	}
	if (c->p == c->end)
		return -1;
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
		if (*c->p == '\\') {
			if (++c->p == c->end)
				return -1;
		}
		if (*c->p == '\r' || *c->p == '\n' || *c->p == '\0' ||
		    n == outlen)
			return -1;
		out[n++] = *c->p;
	}
	if (c->p == c->end)
		return -1;
	c->p++;
	*len = n;
	return 0;
}

/*
 * The next "; name=value" of a parameter list: 1 with name and value
 * set, 0 at the end, -1 when malformed.
 */
static int
cur_param(struct mp_cursor *c, const char **name, size_t *nlen, char *val,
    size_t vcap, size_t *vlen)
{
	cur_skip_ows(c);
	if (c->p == c->end)
		return 0;
	if (*c->p != ';')
		return -1;
	c->p++;
	cur_skip_ows(c);
	if (c->p == c->end)
		return 0; /* a trailing ';' */
	if ((*nlen = cur_token(c, name)) == 0)
		return -1;
	cur_skip_ows(c);
	if (c->p == c->end || *c->p != '=')
		return -1;
	c->p++;
	cur_skip_ows(c);
	if (cur_value(c, val, vcap, vlen) == -1)
		return -1;
	return 1;
}

static bool
boundary_valid(const char *b, size_t len)
{
	size_t i;

	if (len == 0 || len > MP_BOUNDARY_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
			return false;
	/* RFC 2046: it cannot end with a space */
	return b[len - 1] != ' ';
}

int
mp_content_type(const char *v, size_t len, char *out, size_t outlen)
{
	static const char want[] = "multipart/form-data";
	struct mp_cursor c = { v, v + len };
	char val[MP_BOUNDARY_MAX + 1];
	const char *name;
	size_t nlen, vlen, wlen = sizeof(want) - 1;
	bool found = false;
	int rc;

	cur_skip_ows(&c);
	if ((size_t)(c.end - c.p) < wlen || strncasecmp(c.p, want, wlen) != 0)
		return 0;
	c.p += wlen;
	if (c.p < c.end && *c.p != ';' && !is_ows(*c.p))
		return 0;
	while ((rc = cur_param(
		    &c, &name, &nlen, val, sizeof(val) - 1, &vlen)) == 1) {
		if (found || nlen != 8 || strncasecmp(name, "boundary", 8) != 0)
			continue;
		if (!boundary_valid(val, vlen) || outlen < vlen + 1)
			return -1;
		memcpy(out, val, vlen);
		out[vlen] = '\0';
		found = true;
	}
	if (rc == -1 || !found)
		return -1;
	return 1;
}

/*
 * Part headers.
 */

static int
fail(struct mp *m, const char *why)
{
	m->state = S_FAILED;
	m->err = why;
	return MP_ERROR;
}

static int
stop(struct mp *m)
{
	m->state = S_FAILED;
	m->stopped = true;
	m->err = "stopped by the application";
	return MP_STOPPED;
}

static int
disposition(struct mp *m, const char *v, size_t len, struct mp_part *part)
{
	struct mp_cursor c = { v, v + len };
	char val[MP_HEAD_MAX];
	const char *tok, *name;
	size_t n, nlen, vlen;
	int rc;

	cur_skip_ows(&c);
	n = cur_token(&c, &tok);
	if (n != 9 || strncasecmp(tok, "form-data", 9) != 0)
		return fail(m, "part: Content-Disposition is not form-data");
	while (
	    (rc = cur_param(&c, &name, &nlen, val, sizeof(val), &vlen)) == 1) {
		if (nlen == 4 && strncasecmp(name, "name", 4) == 0 &&
		    !part->has_name) {
			memcpy(m->name, val, vlen);
			part->has_name = true;
			part->name = m->name;
			part->name_len = vlen;
		} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0 &&
		    !part->has_filename) {
			memcpy(m->filename, val, vlen);
			part->has_filename = true;
			part->filename = m->filename;
			part->filename_len = vlen;
		}
	}
	if (rc == -1)
		return fail(m, "part: malformed Content-Disposition");
	return MP_OK;
}

/* one "Name: value" line of the header block (no CRLF) */
static int
header_line(struct mp *m, char *line, size_t len, struct mp_part *part)
{
	const char *name = line, *v;
	size_t nlen, vlen;

	for (nlen = 0; nlen < len && is_tchar((unsigned char)line[nlen]);
	     nlen++)
		;
	if (nlen == 0 || nlen == len || line[nlen] != ':')
		return fail(m, "part: malformed header line");
	v = line + nlen + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && is_ows(*v)) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_ows(v[vlen - 1]))
		vlen--;
	if (memchr(v, '\r', vlen) != NULL || memchr(v, '\n', vlen) != NULL ||
	    memchr(v, '\0', vlen) != NULL)
		return fail(m, "part: malformed header value");
	if (nlen == 19 && strncasecmp(name, "Content-Disposition", 19) == 0)
		return disposition(m, v, vlen, part);
	if (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0 &&
	    !part->has_content_type) {
		part->has_content_type = true;
		part->content_type = v;
		part->content_type_len = vlen;
	}
	return MP_OK;
}

/* the complete header block, its final blank line included */
static int
headers_done(struct mp *m)
{
	struct mp_part part;
	size_t off = 0, end = m->hlen - 2, eol;
	char *crlf;
	int rc;

	memset(&part, 0, sizeof(part));
	while (off < end) {
		crlf = memmem(m->head + off, end - off + 2, "\r\n", 2);
		if (crlf == NULL)
			return fail(m, "part: malformed headers");
		eol = (size_t)(crlf - m->head);
		if ((rc = header_line(m, m->head + off, eol - off, &part)) !=
		    MP_OK)
			return rc;
		off = eol + 2;
	}
	m->state = S_DATA;
	m->match = 0;
	if (m->cb.on_begin != NULL && m->cb.on_begin(m->arg, &part) != 0) {
		return stop(m);
	}
	return MP_OK;
}

/* header bytes up to the blank line; *used: bytes taken */
static int
feed_headers(struct mp *m, const char *p, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (m->hlen == sizeof(m->head))
			return fail(m, "part: headers longer than 8 KiB");
		m->head[m->hlen++] = p[i];
		/* a lone CRLF: no headers at all */
		if ((m->hlen == 2 && memcmp(m->head, "\r\n", 2) == 0) ||
		    (m->hlen >= 4 &&
			memcmp(m->head + m->hlen - 4, "\r\n\r\n", 4) == 0)) {
			*used = i + 1;
			return headers_done(m);
		}
		if (m->hlen >= 2 && m->head[m->hlen - 2] == '\r' &&
		    m->head[m->hlen - 1] != '\n')
			return fail(m, "part: CR without LF in headers");
		if (p[i] == '\n' &&
		    (m->hlen < 2 || m->head[m->hlen - 2] != '\r'))
			return fail(m, "part: LF without CR in headers");
	}
	*used = n;
	return MP_OK;
}

/*
 * Data and the preamble: scans for the delimiter.
 */

static int
emit(struct mp *m, const char *p, size_t n)
{
	if (n == 0 || m->state != S_DATA || m->cb.on_data == NULL)
		return MP_OK;
	if (m->cb.on_data(m->arg, p, n) != 0) {
		return stop(m);
	}
	return MP_OK;
}

static int
delimiter_found(struct mp *m)
{
	bool in_part = m->state == S_DATA;

	m->match = 0;
	m->pad = 0;
	m->state = S_DELIM_TAIL;
	if (in_part && m->cb.on_end != NULL && m->cb.on_end(m->arg) != 0) {
		return stop(m);
	}
	return MP_OK;
}

static int
feed_scan(struct mp *m, const char *p, size_t n, size_t *used)
{
	const char *cr;
	size_t i = 0, end;
	int rc;

	while (i < n) {
		if (m->match == 0) {
			cr = memchr(p + i, '\r', n - i);
			end = cr != NULL ? (size_t)(cr - p) : n;
			if ((rc = emit(m, p + i, end - i)) != MP_OK)
				return rc;
			if (cr == NULL)
				break;
			i = end + 1;
			m->match = 1;
			continue;
		}
		if (p[i] != m->delim[m->match]) {
			/* the matched bytes were data after all */
			if ((rc = emit(m, m->delim, m->match)) != MP_OK)
				return rc;
			m->match = 0;
			continue;
		}
		i++;
		if (++m->match == m->delim_len) {
			*used = i;
			return delimiter_found(m);
		}
	}
	*used = n;
	return MP_OK;
}

/* one byte of what follows a delimiter */
static int
feed_tail(struct mp *m, char ch)
{
	switch (m->state) {
	case S_DELIM_TAIL:
		if (ch == '-')
			m->state = S_CLOSE_DASH;
		else if (ch == '\r')
			m->state = S_DELIM_LF;
		else if (is_ows(ch))
			m->state = S_PAD;
		else
			return fail(m, "malformed boundary line");
		return MP_OK;
	case S_CLOSE_DASH:
		if (ch != '-')
			return fail(m, "malformed closing boundary");
		m->state = S_EPILOGUE;
		return MP_OK;
	case S_PAD:
		if (ch == '\r')
			m->state = S_DELIM_LF;
		else if (!is_ows(ch) || ++m->pad > MP_PAD_MAX)
			return fail(m, "malformed boundary line");
		return MP_OK;
	default: /* S_DELIM_LF */
		if (ch != '\n')
			return fail(m, "malformed boundary line");
		m->state = S_HEADERS;
		m->hlen = 0;
		return MP_OK;
	}
}

int
mp_feed(struct mp *m, const char *p, size_t n)
{
	size_t used;
	int rc;

	while (n > 0) {
		used = 1;
		switch (m->state) {
		case S_FAILED:
			return m->stopped ? MP_STOPPED : MP_ERROR;
		case S_EPILOGUE:
			return MP_OK;
		case S_PREAMBLE:
		case S_DATA:
			rc = feed_scan(m, p, n, &used);
			break;
		case S_HEADERS:
			rc = feed_headers(m, p, n, &used);
			break;
		default:
			rc = feed_tail(m, *p);
			break;
		}
		if (rc != MP_OK)
			return rc;
		p += used;
		n -= used;
	}
	return MP_OK;
}

int
mp_finish(struct mp *m)
{
	if (m->state == S_EPILOGUE)
		return MP_OK;
	if (m->state == S_FAILED)
		return m->stopped ? MP_STOPPED : MP_ERROR;
	return fail(m, "body ended before the closing boundary");
}

bool
mp_done(const struct mp *m)
{
	return m->state == S_EPILOGUE;
}

const char *
mp_error(const struct mp *m)
{
	return m->err != NULL ? m->err : "no error";
}

struct mp *
mp_new(const char *boundary, const struct mp_callbacks *cb, void *arg)
{
	size_t blen = strlen(boundary);
	struct mp *m;

	if (!boundary_valid(boundary, blen))
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	memcpy(m->delim, "\r\n--", 4);
	memcpy(m->delim + 4, boundary, blen);
	m->delim_len = 4 + blen;
	/* the body may open with the boundary: as if after a CRLF */
	m->match = 2;
	m->state = S_PREAMBLE;
	m->cb = *cb;
	m->arg = arg;
	return m;
}

void
mp_free(struct mp *m)
{
	free(m);
}
