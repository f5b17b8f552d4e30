/*
 * Apply of the values commands (API.md §11) with their accounting of
 * bytes_on_disk (§7.1): "len" is the byte length of the user key or value.
 * Every command decides first and writes last, so a refused command
 * changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_int.h"

/* "-9223372036854775808" and a NUL */
#define KV_INT_MAX_LEN 21

enum kv_int_parse {
	KV_INT_OK = 0,
	KV_INT_NOT_INTEGER = -1,
	KV_INT_OVERFLOW = -2,
};

/*
 * ^[+-]?[0-9]+$ within int64; the empty string counts as 0.  A digit
 * string outside int64 is an integer that overflows.
 */
static int
kv_int_parse(const char *s, size_t len, int64_t *out)
{
	uint64_t mag = 0, max;
	size_t i = 0;
	int neg = 0;

	*out = 0;
	if (len == 0)
		return KV_INT_OK;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return KV_INT_NOT_INTEGER;
	for (size_t j = i; j < len; j++)
		if (s[j] < '0' || s[j] > '9')
			return KV_INT_NOT_INTEGER;
	max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (mag > (max - d) / 10)
			return KV_INT_OVERFLOW;
		mag = mag * 10 + d;
	}
	if (neg)
		*out =
		    mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return KV_INT_OK;
}

static int
kv_key(struct keybuf *k, const struct cmd *c)
{
	if (c->key_len == 0 || memchr(c->key, '\0', c->key_len) != NULL)
		return -1;
	return keys_user(k, c->scope, c->key, c->key_len);
}

/* the size change of writing a value of new_len over (found, old_len) */
static int64_t
kv_delta(const struct cmd *c, int found, size_t old_len, size_t new_len)
{
	if (!found)
		return (int64_t)c->key_len + (int64_t)new_len;
	return (int64_t)new_len - (int64_t)old_len;
}

static uint16_t
kv_write(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, size_t old_len, const void *val, size_t len,
    struct fsm_result *res)
{
	if (fsm_charge(b, c->scope, FSM_BYTES_ON_DISK,
		kv_delta(c, found, old_len, len), res) == -1)
		return res->status;
	fsm_batch_put(b, STORE_CF_KV, k, val, len);
	return res->status = ST_OK;
}

static uint16_t
kv_set(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, const char *old, size_t old_len, struct fsm_result *res)
{
	(void)old;
	return kv_write(b, c, k, found, old_len, c->value, c->value_len, res);
}

static uint16_t
kv_setnx(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, const char *old, size_t old_len, struct fsm_result *res)
{
	(void)old;
	if (found)
		return res->status = ST_KEY_EXISTS;
	return kv_write(b, c, k, found, old_len, c->value, c->value_len, res);
}

static uint16_t
kv_cas(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, const char *old, size_t old_len, struct fsm_result *res)
{
	if (!found)
		return res->status = ST_NOT_FOUND;
	if (old_len != c->old_value_len ||
	    (old_len > 0 && memcmp(old, c->old_value, old_len) != 0))
		return res->status = ST_CAS_CONFLICT;
	return kv_write(b, c, k, found, old_len, c->value, c->value_len, res);
}

static uint16_t
kv_delete(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, const char *old, size_t old_len, struct fsm_result *res)
{
	(void)old;
	if (!found)
		return res->status = ST_OK;
	if (fsm_charge(b, c->scope, FSM_BYTES_ON_DISK,
		-((int64_t)c->key_len + (int64_t)old_len), res) == -1)
		fatalx("%s: a negative charge was refused", __func__);
	fsm_batch_del(b, STORE_CF_KV, k);
	return res->status = ST_OK;
}

static uint16_t
kv_bump(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    int found, const char *old, size_t old_len, struct fsm_result *res)
{
	char out[KV_INT_MAX_LEN];
	int64_t stored, sum;
	int len, rc;

	if ((rc = kv_int_parse(old, found ? old_len : 0, &stored)) != KV_INT_OK)
		return res->status =
			   rc == KV_INT_OVERFLOW ? ST_OVERFLOW : ST_NOT_INTEGER;
	if (__builtin_add_overflow(stored, c->num, &sum))
		return res->status = ST_OVERFLOW;
	if (sum < 0)
		sum = 0;
	len = snprintf(out, sizeof(out), "%lld", (long long)sum);
	if (len < 0 || (size_t)len >= sizeof(out))
		fatalx("%s: snprintf", __func__);
	if (kv_write(b, c, k, found, old_len, out, (size_t)len, res) != ST_OK)
		return res->status;
	if ((res->data = malloc((size_t)len)) == NULL)
		fatal("%s", __func__);
	memcpy(res->data, out, (size_t)len);
	res->data_len = (size_t)len;
	return res->status;
}

typedef uint16_t (*kv_apply_fn)(struct fsm_batch *, const struct cmd *,
    const struct keybuf *, int, const char *, size_t, struct fsm_result *);

static kv_apply_fn
kv_fn(uint16_t type)
{
	switch (type) {
	case CMD_KV_SET:
		return kv_set;
	case CMD_KV_DELETE:
		return kv_delete;
	case CMD_KV_SETNX:
		return kv_setnx;
	case CMD_KV_CAS:
		return kv_cas;
	case CMD_KV_BUMP:
		return kv_bump;
	default:
		fatalx("%s: type %u is not a values command", __func__, type);
	}
}

uint16_t
fsm_kv_apply(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct keybuf k;
	char *old;
	size_t old_len = 0;
	int found;
	uint16_t st;

	if (kv_key(&k, c) == -1)
		return res->status = ST_BAD_COMMAND;
	found = fsm_batch_get(b, STORE_CF_KV, &k, &old, &old_len);
	st = kv_fn(c->type)(
	    b, c, &k, found, found ? old : NULL, found ? old_len : 0, res);
	if (found)
		rocksdb_free(old);
	return st;
}
