/*
 * Entity names (API.md §3.5) and the key_name rule of §2.6.
 */
#include <string.h>

#include "apid/keys_pure.h"

/* length of the UTF-8 sequence at s, 0 when invalid; *cp the code point */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool
entity_key_name_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t off = 0, cps = 0, n;
	uint32_t cp;

	while (off < len) {
		if ((n = utf8_next(p + off, len - off, &cp)) == 0)
			return false;
		/* C0, DEL and C1 controls */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		off += n;
		if (++cps > KEY_NAME_MAX_CP)
			return false;
	}
	return cps >= 1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

void
entity_name(const char *key_name, size_t len, char *out, size_t outlen)
{
	static const char repl[] = " `-.:/\\|~!@#$%^&*()[]{}=+?";
	size_t lo = 0, hi = len, o = 0;

	if (outlen == 0)
		return;
	while (lo < hi && is_space(key_name[lo]))
		lo++;
	while (hi > lo && is_space(key_name[hi - 1]))
		hi--;
	for (size_t i = lo; i < hi && o + 1 < outlen; i++) {
		char c = key_name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c != '\0' && strchr(repl, c) != NULL)
			c = '_';
		out[o++] = c;
	}
	out[o] = '\0';
}
