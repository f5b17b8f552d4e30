/*
 * Pure pieces of the blob routes (blob_pure.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apid/blob_pure.h"
#include "proto/codec.h"

int
blob_meta_decode(const uint8_t *p, size_t len, struct blob_meta *m)
{
	struct pread r;

	memset(m, 0, sizeof(*m));
	pr_init(&r, p, len);
	pr_get_u8(&r, &m->state);
	pr_get_i64(&r, &m->uploaded_at);
	pr_get_i64(&r, &m->tombstoned_at);
	pr_get_bytes(&r, &m->owner, &m->owner_len);
	pr_get_bytes(&r, &m->node_id, &m->node_id_len);
	pr_get_bytes(&r, &m->node_uuid, &m->node_uuid_len);
	pr_get_u64(&r, &m->size);
	pr_get_bytes(&r, &m->hash, &m->hash_len);
	pr_get_bytes(&r, &m->name, &m->name_len);
	pr_get_bytes(&r, &m->ctype, &m->ctype_len);
	if (pr_end(&r) == -1 || m->state > 1 || m->hash_len != BLOB_HASH_LEN)
		return -1;
	for (size_t i = 0; i < m->hash_len; i++)
		if (!((m->hash[i] >= '0' && m->hash[i] <= '9') ||
			(m->hash[i] >= 'a' && m->hash[i] <= 'f')))
			return -1;
	return 0;
}

static bool
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static size_t
span_token(const char *s, size_t i, size_t len)
{
	size_t j = i;

	while (j < len && is_tchar((unsigned char)s[j]))
		j++;
	return j - i;
}

static size_t
span_ows(const char *s, size_t i, size_t len)
{
	size_t j = i;

	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	return j - i;
}

/* a quoted-string starting at s[i]; its length, 0 when malformed */
static size_t
span_quoted(const char *s, size_t i, size_t len)
{
	size_t j = i + 1;

	while (j < len && s[j] != '"') {
		if (s[j] == '\\')
			j++;
		if (j < len && ((unsigned char)s[j] < 0x20 && s[j] != '\t'))
			return 0;
		j++;
	}
	return j < len ? j + 1 - i : 0;
}

bool
blob_media_type_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	if (len == 0 || len > BLOB_CTYPE_MAX)
		return false;
	if ((n = span_token(s, i, len)) == 0)
		return false;
	i += n;
	if (i == len || s[i++] != '/')
		return false;
	if ((n = span_token(s, i, len)) == 0)
		return false;
	i += n;
	while (i < len) {
		i += span_ows(s, i, len);
		if (i == len || s[i++] != ';')
			return false;
		i += span_ows(s, i, len);
		if ((n = span_token(s, i, len)) == 0)
			return false;
		i += n;
		if (i == len || s[i++] != '=')
			return false;
		if (i < len && s[i] == '"')
			n = span_quoted(s, i, len);
		else
			n = span_token(s, i, len);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void
blob_http_date(int64_t ns, char *out, size_t outlen)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
		"Sat" };
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns < 0 || gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool
blob_etag_matches(const char *h, size_t len, const char *hash)
{
	size_t i = 0, start, hlen = strlen(hash);

	while (i < len) {
		i += span_ows(h, i, len);
		if (i < len && h[i] == '*')
			return true;
		if (i + 2 <= len && h[i] == 'W' && h[i + 1] == '/')
			i += 2;
		if (i < len && h[i] == '"') {
			start = ++i;
			while (i < len && h[i] != '"')
				i++;
			if (i - start == hlen &&
			    memcmp(h + start, hash, hlen) == 0)
				return true;
		}
		while (i < len && h[i] != ',')
			i++;
		i++;
	}
	return false;
}

/* decimal digits at s[*i]; -1 when none or over uint64 */
static int
range_num(const char *s, size_t *i, size_t len, uint64_t *v)
{
	size_t start = *i;

	*v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (*v > (UINT64_MAX - (uint64_t)(s[*i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	return *i > start ? 0 : -1;
}

enum blob_range
blob_range_parse(
    const char *h, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
	uint64_t a = 0, b = 0;
	size_t i = 0;
	bool has_a, has_b;

	if (len < 6 || strncmp(h, "bytes=", 6) != 0)
		return BLOB_RANGE_WHOLE;
	i = 6;
	i += span_ows(h, i, len);
	has_a = i < len && h[i] != '-';
	if (has_a && range_num(h, &i, len, &a) == -1)
		return BLOB_RANGE_WHOLE;
	if (i == len || h[i++] != '-')
		return BLOB_RANGE_WHOLE;
	has_b = i < len && h[i] >= '0' && h[i] <= '9';
	if (has_b && range_num(h, &i, len, &b) == -1)
		return BLOB_RANGE_WHOLE;
	i += span_ows(h, i, len);
	/* several ranges or trailing junk: the whole blob */
	if (i != len || (!has_a && !has_b) || (has_a && has_b && b < a))
		return BLOB_RANGE_WHOLE;
	if (!has_a) {
		/* the last b bytes */
		if (b == 0 || size == 0)
			return BLOB_RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return BLOB_RANGE_PART;
	}
	if (a >= size)
		return BLOB_RANGE_UNSATISFIABLE;
	*first = a;
	*last = has_b && b < size ? b : size - 1;
	return BLOB_RANGE_PART;
}
