/*
 * Apply of the cache commands (API.md §12) with their accounting of
 * bytes_in_memory (§7.1).  Expiry is decided with the command's ts only:
 * an entry with expires_at <= ts is absent, and a write that finds one
 * releases it (bytes and record) before doing its own work, exactly as
 * the sweep would have.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_cache.h"

#define NS_PER_MS 1000000

/* an entry as found by apply */
struct centry {
	int found; /* a record exists, live or not */
	int live; /* found and expires_at > ts */
	int64_t expires_at;
	const char *val;
	size_t val_len;
	char *raw; /* rocksdb_free */
};

static int
cache_key(
    struct keybuf *k, const char *scope, const uint8_t *key, size_t key_len)
{
	if (key_len == 0 || memchr(key, '\0', key_len) != NULL)
		return -1;
	return keys_user(k, scope, key, key_len);
}

static void
cache_find(
    struct fsm_batch *b, const struct keybuf *k, int64_t ts, struct centry *e)
{
	size_t len;

	memset(e, 0, sizeof(*e));
	if (fsm_batch_get(b, STORE_CF_CACHE, k, &e->raw, &len) == 0) {
		e->raw = NULL;
		return;
	}
	if (len < FSM_CACHE_HDR)
		fatalx("%s: cache record of %zu bytes", __func__, len);
	e->found = 1;
	e->expires_at = (int64_t)keys_get_u64((const uint8_t *)e->raw);
	e->val = e->raw + FSM_CACHE_HDR;
	e->val_len = len - FSM_CACHE_HDR;
	e->live = e->expires_at > ts;
}

static void
cache_found_free(struct centry *e)
{
	if (e->raw != NULL)
		rocksdb_free(e->raw);
	e->raw = NULL;
}

/* removes a found entry and releases its bytes */
static void
cache_release(struct fsm_batch *b, const char *scope, const struct keybuf *k,
    size_t key_len, struct centry *e)
{
	struct fsm_result ignored;

	memset(&ignored, 0, sizeof(ignored));
	if (fsm_charge(b, scope, FSM_BYTES_IN_MEMORY,
		-((int64_t)key_len + (int64_t)e->val_len), &ignored) == -1)
		fatalx("%s: a negative charge was refused", __func__);
	fsm_batch_del(b, STORE_CF_CACHE, k);
	e->found = e->live = 0;
	e->val_len = 0;
}

static void
cache_put(struct fsm_batch *b, const struct keybuf *k, int64_t expires_at,
    const uint8_t *val, size_t len)
{
	uint8_t *rec;

	if ((rec = malloc(FSM_CACHE_HDR + len)) == NULL)
		fatal("%s", __func__);
	keys_put_u64(rec, (uint64_t)expires_at);
	if (len > 0)
		memcpy(rec + FSM_CACHE_HDR, val, len);
	fsm_batch_put(b, STORE_CF_CACHE, k, rec, FSM_CACHE_HDR + len);
	free(rec);
}

/* ts + ttl, saturated; the ttl (ms) must be positive */
static int
cache_expiry(const struct cmd *c, int64_t *out)
{
	int64_t ns;

	if (c->num <= 0)
		return -1;
	if (__builtin_mul_overflow(c->num, (int64_t)NS_PER_MS, &ns) ||
	    __builtin_add_overflow(c->ts, ns, out))
		*out = INT64_MAX;
	return 0;
}

/* set, setnx and cas once the entry is known live or absent */
static uint16_t
cache_write(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    const struct centry *e, int64_t expires_at, struct fsm_result *res)
{
	int64_t delta;

	delta = e->live ? (int64_t)c->value_len - (int64_t)e->val_len
			: (int64_t)c->key_len + (int64_t)c->value_len;
	if (fsm_charge(b, c->scope, FSM_BYTES_IN_MEMORY, delta, res) == -1)
		return res->status;
	cache_put(b, k, expires_at, c->value, c->value_len);
	return res->status = ST_OK;
}

static uint16_t
cache_one(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    struct centry *e, struct fsm_result *res)
{
	int64_t expires_at = 0;

	if ((c->type == CMD_CACHE_SET || c->type == CMD_CACHE_SETNX) &&
	    cache_expiry(c, &expires_at) == -1)
		return res->status = ST_BAD_COMMAND;
	if (e->found && !e->live)
		cache_release(b, c->scope, k, c->key_len, e);
	switch (c->type) {
	case CMD_CACHE_SET:
		return cache_write(b, c, k, e, expires_at, res);
	case CMD_CACHE_SETNX:
		if (e->live)
			return res->status = ST_KEY_EXISTS;
		return cache_write(b, c, k, e, expires_at, res);
	case CMD_CACHE_CAS:
		if (!e->live)
			return res->status = ST_NOT_FOUND;
		if (e->val_len != c->old_value_len ||
		    (e->val_len > 0 &&
			memcmp(e->val, c->old_value, e->val_len) != 0))
			return res->status = ST_CAS_CONFLICT;
		return cache_write(b, c, k, e, e->expires_at, res);
	case CMD_CACHE_DELETE:
		if (e->live)
			cache_release(b, c->scope, k, c->key_len, e);
		return res->status = ST_OK;
	default:
		fatalx("%s: type %u is not a cache command", __func__, c->type);
	}
}

/* the next (scope, key) of an expire list; -1 when malformed */
static int
expire_next(struct pread *r, char scope[CMD_SCOPE_MAX + 1], struct keybuf *k,
    size_t *klen)
{
	const uint8_t *s, *key;
	size_t slen;

	if (pr_get_bytes(r, &s, &slen) == -1 ||
	    pr_get_bytes(r, &key, klen) == -1 || slen > CMD_SCOPE_MAX)
		return -1;
	memcpy(scope, s, slen);
	scope[slen] = '\0';
	if (!keys_scope_valid(scope) || cache_key(k, scope, key, *klen) == -1)
		return -1;
	return 0;
}

/*
 * value: u32 n (<= FSM_CACHE_EXPIRE_MAX), n * (bytes scope, bytes key).
 * Each entry still expired at ts goes; one refreshed since stays.  The
 * whole list is checked before anything changes.
 */
static uint16_t
cache_expire(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char scope[CMD_SCOPE_MAX + 1];
	struct pread r, check;
	struct centry e;
	struct keybuf k;
	size_t klen;
	uint32_t n;

	pr_init(&r, c->value, c->value_len);
	if (pr_get_u32(&r, &n) == -1 || n > FSM_CACHE_EXPIRE_MAX)
		return res->status = ST_BAD_COMMAND;
	check = r;
	for (uint32_t i = 0; i < n; i++)
		if (expire_next(&check, scope, &k, &klen) == -1)
			return res->status = ST_BAD_COMMAND;
	if (pr_end(&check) == -1)
		return res->status = ST_BAD_COMMAND;
	for (uint32_t i = 0; i < n; i++) {
		if (expire_next(&r, scope, &k, &klen) == -1)
			fatalx("%s: list changed while applied", __func__);
		cache_find(b, &k, c->ts, &e);
		if (e.found && !e.live)
			cache_release(b, scope, &k, klen, &e);
		cache_found_free(&e);
	}
	return res->status = ST_OK;
}

uint16_t
fsm_cache_apply(
    struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct centry e;
	struct keybuf k;
	uint16_t st;

	if (c->type == CMD_CACHE_EXPIRE)
		return cache_expire(b, c, res);
	if (cache_key(&k, c->scope, c->key, c->key_len) == -1)
		return res->status = ST_BAD_COMMAND;
	cache_find(b, &k, c->ts, &e);
	st = cache_one(b, c, &k, &e, res);
	cache_found_free(&e);
	return st;
}
