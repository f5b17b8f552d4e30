/*
 * Apply of the subscriber slot commands (CMD_SLOT_*, CMD_SHAKE_*): the
 * entries of §14.5 and the shake block of §14.6, with the scope's
 * `subscribers` usage kept equal to its number of entries.  Layout in
 * raftd/fsm_slots.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_slots.h"
#include "raftd/keys.h"

#define SLOT_ID_MAX 64
#define SLOT_SESSION_LEN 36

struct slot_args {
	char node[SLOT_ID_MAX + 1];
	char incarnation[SLOT_ID_MAX + 1];
};

static int
get_id(struct pread *r, char out[SLOT_ID_MAX + 1])
{
	const uint8_t *p;
	size_t len;

	if (pr_get_bytes(r, &p, &len) == -1 || len > SLOT_ID_MAX)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	/* node ids and incarnations have the shape of scopes */
	return strlen(out) == len && keys_scope_valid(out) ? 0 : -1;
}

/* value = str node, str incarnation */
static int
args_decode(const struct cmd *c, struct slot_args *a)
{
	struct pread r;

	pr_init(&r, c->value, c->value_len);
	if (get_id(&r, a->node) == -1 || get_id(&r, a->incarnation) == -1)
		return -1;
	return pr_end(&r);
}

static void
key_add(struct keybuf *k, const void *p, size_t len)
{
	if (k->len + len > sizeof(k->b))
		fatalx("%s: key too long", __func__);
	memcpy(k->b + k->len, p, len);
	k->len += len;
}

/* 0x00 kind <a> [0x00 <b> [0x00 <c>]]: b and c may be NULL */
static void
slot_key(struct keybuf *k, uint8_t kind, const char *a, const char *b,
    const uint8_t *c, size_t clen)
{
	static const uint8_t nul = 0;

	k->len = 0;
	key_add(k, &nul, 1);
	key_add(k, &kind, 1);
	key_add(k, a, strlen(a));
	if (b == NULL)
		return;
	key_add(k, &nul, 1);
	key_add(k, b, strlen(b));
	key_add(k, &nul, 1);
	if (c != NULL)
		key_add(k, c, clen);
}

static void
subscribers_less(struct fsm_batch *b, const char *scope)
{
	struct fsm_usage u;
	struct fsm_result ignored;

	/* a purged scope has no usage record left: do not make one */
	fsm_usage_get(b, scope, &u);
	if (u.c[FSM_SUBSCRIBERS] == 0)
		return;
	memset(&ignored, 0, sizeof(ignored));
	fsm_charge(b, scope, FSM_SUBSCRIBERS, -1, &ignored);
}

struct found_keys {
	struct keybuf *k;
	size_t n, cap;
};

/* every key of kv starting with prefix, as the batch sees them */
static void
prefix_collect(
    struct fsm_batch *b, const struct keybuf *prefix, struct found_keys *out)
{
	struct store *s = b->fsm->store;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *base, *it;

	memset(out, 0, sizeof(*out));
	ro = rocksdb_readoptions_create();
	base = rocksdb_create_iterator_cf(s->db, ro, s->cf[STORE_CF_KV]);
	it = rocksdb_writebatch_wi_create_iterator_with_base_cf(
	    b->wb, base, s->cf[STORE_CF_KV]);
	for (rocksdb_iter_seek(it, (const char *)prefix->b, prefix->len);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if (klen < prefix->len ||
		    memcmp(key, prefix->b, prefix->len) != 0)
			break;
		if (klen > KEYS_MAX || out->n >= FSM_SLOTS_DROP_MAX)
			fatalx("%s: slot records out of bounds", __func__);
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 16;
			struct keybuf *k =
			    reallocarray(out->k, cap, sizeof(*k));

			if (k == NULL)
				fatal("%s", __func__);
			out->k = k;
			out->cap = cap;
		}
		memcpy(out->k[out->n].b, key, klen);
		out->k[out->n].len = klen;
		out->n++;
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
}

/* drops the entries under prefix (a node's, or a node's in one scope) */
static void
entries_drop(struct fsm_batch *b, const struct keybuf *prefix)
{
	struct found_keys f;
	char scope[CMD_SCOPE_MAX + 1];

	prefix_collect(b, prefix, &f);
	for (size_t i = 0; i < f.n; i++) {
		const uint8_t *k = f.k[i].b, *end = k + f.k[i].len;
		const uint8_t *sc, *se;

		/* 0x00 'S' node 0x00 scope 0x00 session */
		if ((sc = memchr(k + 2, 0, (size_t)(end - k - 2))) == NULL ||
		    (se = memchr(sc + 1, 0, (size_t)(end - sc - 1))) == NULL ||
		    (size_t)(se - sc - 1) > CMD_SCOPE_MAX)
			fatalx("%s: malformed slot entry", __func__);
		memcpy(scope, sc + 1, (size_t)(se - sc - 1));
		scope[se - sc - 1] = '\0';
		fsm_batch_del(b, STORE_CF_KV, &f.k[i]);
		subscribers_less(b, scope);
	}
	free(f.k);
}

static void
node_entries_drop(struct fsm_batch *b, const char *node)
{
	struct keybuf prefix;
	static const uint8_t nul = 0;

	slot_key(&prefix, KEYS_KIND_SLOT, node, NULL, NULL, 0);
	key_add(&prefix, &nul, 1);
	entries_drop(b, &prefix);
}

/* a new incarnation of the node drops the entries of its older ones */
static void
incarnation_set(struct fsm_batch *b, const struct slot_args *a)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	bool same = false;

	slot_key(&k, KEYS_KIND_INCARNATION, a->node, NULL, NULL, 0);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 1) {
		same = vlen == strlen(a->incarnation) &&
		    memcmp(val, a->incarnation, vlen) == 0;
		rocksdb_free(val);
	}
	if (same)
		return;
	node_entries_drop(b, a->node);
	fsm_batch_put(
	    b, STORE_CF_KV, &k, a->incarnation, strlen(a->incarnation));
}

static bool
shake_blocks(struct fsm_batch *b, const char *scope, int64_t ts)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	int64_t until;

	slot_key(&k, KEYS_KIND_SHAKE_BLOCK, scope, NULL, NULL, 0);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 0)
		return false;
	if (vlen != 8)
		fatalx("%s: block record of %zu bytes", __func__, vlen);
	until = (int64_t)keys_get_u64((const uint8_t *)val);
	rocksdb_free(val);
	return ts < until;
}

static bool
session_valid(const struct cmd *c)
{
	char s[SLOT_SESSION_LEN + 1];

	if (c->key_len != SLOT_SESSION_LEN)
		return false;
	memcpy(s, c->key, SLOT_SESSION_LEN);
	s[SLOT_SESSION_LEN] = '\0';
	/* a session id has the shape of a scope */
	return strlen(s) == SLOT_SESSION_LEN && keys_scope_valid(s);
}

static uint16_t
slot_acquire(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct slot_args a;
	struct keybuf k;
	char *val;
	size_t vlen;

	if (args_decode(c, &a) == -1 || !session_valid(c))
		return res->status = ST_BAD_COMMAND;
	incarnation_set(b, &a);
	slot_key(&k, KEYS_KIND_SLOT, a.node, c->scope, c->key, c->key_len);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 1) {
		/* granted again, without a second entry */
		rocksdb_free(val);
		return res->status = ST_OK;
	}
	if (shake_blocks(b, c->scope, c->ts))
		return res->status = ST_SHAKE_BLOCKED;
	if (fsm_charge(b, c->scope, FSM_SUBSCRIBERS, 1, res) == -1)
		return res->status = ST_SUBSCRIBER_LIMIT;
	fsm_batch_put(b, STORE_CF_KV, &k, "", 0);
	return res->status = ST_OK;
}

static uint16_t
slot_release(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct slot_args a;
	struct keybuf k;
	char *val;
	size_t vlen;

	if (args_decode(c, &a) == -1 || !session_valid(c))
		return res->status = ST_BAD_COMMAND;
	slot_key(&k, KEYS_KIND_SLOT, a.node, c->scope, c->key, c->key_len);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 0)
		return res->status = ST_OK;
	rocksdb_free(val);
	fsm_batch_del(b, STORE_CF_KV, &k);
	subscribers_less(b, c->scope);
	return res->status = ST_OK;
}

static uint16_t
shake_begin(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct keybuf k;
	uint8_t rec[8];
	int64_t until;

	/* the block is bounded whatever was asked: a failed shake ends */
	if (c->num <= 0 || c->num > FSM_SHAKE_BLOCK_NS / 1000000)
		return res->status = ST_BAD_COMMAND;
	if (__builtin_add_overflow(c->ts, c->num * 1000000, &until))
		until = INT64_MAX;
	slot_key(&k, KEYS_KIND_SHAKE_BLOCK, c->scope, NULL, NULL, 0);
	keys_put_u64(rec, (uint64_t)until);
	fsm_batch_put(b, STORE_CF_KV, &k, rec, sizeof(rec));
	return res->status = ST_OK;
}

static uint16_t
shake_end(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char node[SLOT_ID_MAX + 1];
	struct keybuf k;
	struct pread r;
	uint32_t n;

	pr_init(&r, c->value, c->value_len);
	if (pr_get_u32(&r, &n) == -1 || n > 1024)
		return res->status = ST_BAD_COMMAND;
	for (uint32_t i = 0; i < n; i++)
		if (get_id(&r, node) == -1)
			return res->status = ST_BAD_COMMAND;
	if (pr_end(&r) == -1)
		return res->status = ST_BAD_COMMAND;
	pr_init(&r, c->value, c->value_len);
	pr_get_u32(&r, &n);
	for (uint32_t i = 0; i < n; i++) {
		get_id(&r, node);
		slot_key(&k, KEYS_KIND_SLOT, node, c->scope, NULL, 0);
		entries_drop(b, &k);
	}
	slot_key(&k, KEYS_KIND_SHAKE_BLOCK, c->scope, NULL, NULL, 0);
	fsm_batch_del(b, STORE_CF_KV, &k);
	return res->status = ST_OK;
}

static uint16_t
drop_node(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char node[SLOT_ID_MAX + 1];
	struct keybuf k;
	struct pread r;

	pr_init(&r, c->value, c->value_len);
	if (get_id(&r, node) == -1 || pr_end(&r) == -1)
		return res->status = ST_BAD_COMMAND;
	node_entries_drop(b, node);
	slot_key(&k, KEYS_KIND_INCARNATION, node, NULL, NULL, 0);
	fsm_batch_del(b, STORE_CF_KV, &k);
	return res->status = ST_OK;
}

uint16_t
fsm_slots_apply(
    struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct slot_args a;

	switch (c->type) {
	case CMD_SLOT_ACQUIRE:
		return slot_acquire(b, c, res);
	case CMD_SLOT_RELEASE:
		return slot_release(b, c, res);
	case CMD_SLOT_RESET:
		if (args_decode(c, &a) == -1)
			return res->status = ST_BAD_COMMAND;
		incarnation_set(b, &a);
		return res->status = ST_OK;
	case CMD_SHAKE_BEGIN:
		return shake_begin(b, c, res);
	case CMD_SHAKE_END:
		return shake_end(b, c, res);
	case CMD_SLOT_DROP_NODE:
		return drop_node(b, c, res);
	default:
		fatalx("%s: type %u is not a slot command", __func__, c->type);
	}
}
