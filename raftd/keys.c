#include <string.h>

#include "common/log.h"
#include "raftd/keys.h"

bool
keys_scope_valid(const char *scope)
{
	size_t n;

	n = strlen(scope);
	if (n == 0 || n > CMD_SCOPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = scope[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int
keys_user(
    struct keybuf *k, const char *scope, const uint8_t *key, size_t key_len)
{
	size_t n;

	n = strlen(scope);
	if (n > CMD_SCOPE_MAX)
		fatalx("%s: scope too long", __func__);
	if (key_len > KEYS_USER_KEY_MAX)
		return -1;
	memcpy(k->b, scope, n);
	k->b[n] = ':';
	if (key_len > 0)
		memcpy(k->b + n + 1, key, key_len);
	k->len = n + 1 + key_len;
	return 0;
}

void
keys_internal(struct keybuf *k, uint8_t kind, const char *scope)
{
	size_t n;

	n = strlen(scope);
	if (n > CMD_SCOPE_MAX)
		fatalx("%s: scope too long", __func__);
	k->b[0] = 0x00;
	k->b[1] = kind;
	memcpy(k->b + 2, scope, n);
	k->len = n + 2;
}

int
keys_prefix_end(const struct keybuf *k, struct keybuf *end)
{
	size_t n;

	n = k->len;
	while (n > 0 && k->b[n - 1] == 0xff)
		n--;
	if (n == 0)
		return -1;
	memcpy(end->b, k->b, n);
	end->b[n - 1]++;
	end->len = n;
	return 0;
}

void
keys_put_u64(uint8_t *out, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = v & 0xff;
		v >>= 8;
	}
}

uint64_t
keys_get_u64(const uint8_t *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

void
keys_log(uint8_t out[KEYS_LOG_LEN], uint64_t index)
{
	keys_put_u64(out, index);
}

uint64_t
keys_log_index(const uint8_t *key, size_t len)
{
	if (len != KEYS_LOG_LEN)
		fatalx("%s: log key of %zu bytes", __func__, len);
	return keys_get_u64(key);
}
