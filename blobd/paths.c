#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobd/paths.h"
#include "common/crypto.h"
#include "common/log.h"

bool
blob_scope_ok(const char *scope)
{
	size_t n = 0;

	for (const char *p = scope; *p != '\0'; p++, n++) {
		if (n >= BLOB_SCOPE_MAX)
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	}
	return n > 0;
}

bool
blob_key_ok(const uint8_t *key, size_t len)
{
	return len > 0 && len <= BLOB_KEY_MAX && memchr(key, 0, len) == NULL;
}

void
blob_name(const uint8_t *key, size_t len, char out[65])
{
	crypto_sha256_hex(key, len, out);
}

bool
blob_name_ok(const char *name)
{
	size_t n;

	for (n = 0; name[n] != '\0'; n++) {
		if (n >= 64)
			return false;
		if (!((name[n] >= '0' && name[n] <= '9') ||
			(name[n] >= 'a' && name[n] <= 'f')))
			return false;
	}
	return n == 64;
}

int
blob_rel(
    const char *scope, const uint8_t *key, size_t len, char out[BLOB_REL_MAX])
{
	char hex[65];

	if (!blob_scope_ok(scope))
		return -1;
	blob_name(key, len, hex);
	snprintf(out, BLOB_REL_MAX, "%s/%s", scope, hex);
	return 0;
}

void
blob_tmp_rel(const char *prefix, uint64_t id, char out[BLOB_TMP_MAX])
{
	int n;

	n = snprintf(out, BLOB_TMP_MAX, "%s/%.8s-%016llx", BLOB_TMP_DIR, prefix,
	    (unsigned long long)id);
	if (n < 0 || n >= BLOB_TMP_MAX)
		fatalx("%s: name too long", __func__);
}

int
blob_urlencode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	uint8_t c;

	for (size_t i = 0; i < len; i++) {
		c = in[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

char *
blob_download_url(
    const char *base, const char *scope, const uint8_t *key, size_t len)
{
	char *enc, *url;
	size_t enclen = 3 * len + 1;

	if (!blob_scope_ok(scope))
		return NULL;
	if ((enc = malloc(enclen)) == NULL)
		fatal("%s: malloc", __func__);
	if (blob_urlencode(key, len, enc, enclen) == -1)
		fatalx("%s: encoding overflow", __func__);
	if (asprintf(&url, "%s%s?key=%s&scope=%s", base, BLOB_PATH_DOWNLOAD,
		enc, scope) == -1)
		fatal("%s: asprintf", __func__);
	free(enc);
	return url;
}
