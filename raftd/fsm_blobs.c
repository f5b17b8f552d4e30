/*
 * Apply of the blob metadata commands (API.md §13, §7.1):
 *   BLOB_PUT     refused in this order: tombstone (ST_BLOB_TOMBSTONED),
 *                metadata present (ST_KEY_EXISTS), bytes_on_disk + size
 *                over the limit (ST_DISK_LIMIT); else stored with
 *                uploaded_at = ts and size charged
 *   BLOB_DELETE  absent or tombstoned: ST_NOT_FOUND; else tombstoned at
 *                ts and size released
 *   BLOB_PURGE   removes the listed records that are still tombstoned
 * Every command is checked whole before it writes, so a malformed or
 * refused one changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_blobs.h"

static bool
blob_str_ok(const uint8_t *p, size_t len, size_t max)
{
	return len <= max && (len == 0 || memchr(p, '\0', len) == NULL);
}

static bool
blob_hash_ok(const uint8_t *p, size_t len)
{
	if (len != FSM_BLOB_HASH_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
			(p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static void
blob_meta_get(struct pread *rd, struct fsm_blob_meta *m)
{
	pr_get_bytes(rd, &m->owner, &m->owner_len);
	pr_get_bytes(rd, &m->node_id, &m->node_id_len);
	pr_get_bytes(rd, &m->node_uuid, &m->node_uuid_len);
	pr_get_u64(rd, &m->size);
	pr_get_bytes(rd, &m->hash, &m->hash_len);
	pr_get_bytes(rd, &m->name, &m->name_len);
	pr_get_bytes(rd, &m->type, &m->type_len);
}

static int
blob_meta_check(const struct fsm_blob_meta *m)
{
	if (!blob_str_ok(m->owner, m->owner_len, FSM_BLOB_UUID_MAX) ||
	    !blob_str_ok(m->node_id, m->node_id_len, FSM_BLOB_NODE_MAX) ||
	    !blob_str_ok(m->node_uuid, m->node_uuid_len, FSM_BLOB_UUID_MAX) ||
	    !blob_hash_ok(m->hash, m->hash_len) ||
	    !blob_str_ok(m->name, m->name_len, FSM_BLOB_NAME_MAX) ||
	    !blob_str_ok(m->type, m->type_len, FSM_BLOB_TYPE_MAX) ||
	    m->size > INT64_MAX)
		return -1;
	return 0;
}

int
fsm_blob_meta_decode(const uint8_t *p, size_t len, struct fsm_blob_meta *m)
{
	struct pread rd;

	memset(m, 0, sizeof(*m));
	pr_init(&rd, p, len);
	blob_meta_get(&rd, m);
	if (pr_end(&rd) == -1)
		return -1;
	return blob_meta_check(m);
}

int
fsm_blob_rec_decode(const uint8_t *p, size_t len, struct fsm_blob_rec *r)
{
	struct pread rd;

	memset(r, 0, sizeof(*r));
	pr_init(&rd, p, len);
	pr_get_u8(&rd, &r->state);
	pr_get_i64(&rd, &r->uploaded_at);
	pr_get_i64(&rd, &r->tombstoned_at);
	blob_meta_get(&rd, &r->meta);
	if (pr_end(&rd) == -1 || r->state > FSM_BLOB_TOMBSTONED)
		return -1;
	return blob_meta_check(&r->meta);
}

/* the record key of a blob key: 1..KEYS_USER_KEY_MAX bytes, no NUL */
static int
blob_key(struct keybuf *k, const char *scope, const uint8_t *key, size_t len)
{
	if (len == 0 || memchr(key, '\0', len) != NULL)
		return -1;
	return keys_user(k, scope, key, len);
}

/* 1 with the record decoded (free raw with rocksdb_free), 0 when absent */
static int
blob_load(struct fsm_batch *b, const struct keybuf *k, char **raw, size_t *len,
    struct fsm_blob_rec *r)
{
	if (fsm_batch_get(b, STORE_CF_BLOB, k, raw, len) == 0)
		return 0;
	if (fsm_blob_rec_decode((const uint8_t *)*raw, *len, r) == -1)
		fatalx("%s: malformed blob record", __func__);
	return 1;
}

static uint16_t
blob_put(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    struct fsm_result *res)
{
	struct fsm_blob_meta m;
	struct fsm_blob_rec r;
	struct pbuf pb;
	char *raw;
	size_t len;
	uint16_t st;

	if (fsm_blob_meta_decode(c->value, c->value_len, &m) == -1 ||
	    c->num < 0 || (uint64_t)c->num != m.size)
		return res->status = ST_BAD_COMMAND;
	if (blob_load(b, k, &raw, &len, &r) == 1) {
		st = r.state == FSM_BLOB_TOMBSTONED ? ST_BLOB_TOMBSTONED
						    : ST_KEY_EXISTS;
		rocksdb_free(raw);
		return res->status = st;
	}
	if (fsm_charge(b, c->scope, FSM_BYTES_ON_DISK, c->num, res) == -1)
		return res->status;
	pb_init(&pb);
	pb_add_u8(&pb, FSM_BLOB_LIVE);
	pb_add_i64(&pb, c->ts);
	pb_add_i64(&pb, 0);
	pb_add_raw(&pb, c->value, c->value_len);
	if (pb.err)
		fatalx("%s: out of memory", __func__);
	fsm_batch_put(b, STORE_CF_BLOB, k, pb.data, pb.len);
	pb_free(&pb);
	return res->status = ST_OK;
}

static uint16_t
blob_delete(struct fsm_batch *b, const struct cmd *c, const struct keybuf *k,
    struct fsm_result *res)
{
	struct fsm_blob_rec r;
	char *raw;
	size_t len;

	if (blob_load(b, k, &raw, &len, &r) == 0)
		return res->status = ST_NOT_FOUND;
	if (r.state == FSM_BLOB_TOMBSTONED) {
		rocksdb_free(raw);
		return res->status = ST_NOT_FOUND;
	}
	/* the record stays as it was but for state and tombstoned_at */
	raw[0] = FSM_BLOB_TOMBSTONED;
	keys_put_u64((uint8_t *)raw + 9, (uint64_t)c->ts);
	fsm_batch_put(b, STORE_CF_BLOB, k, raw, len);
	rocksdb_free(raw);
	if (fsm_charge(b, c->scope, FSM_BYTES_ON_DISK, -(int64_t)r.meta.size,
		res) == -1)
		fatalx("%s: a negative charge was refused", __func__);
	return res->status = ST_OK;
}

/* one (scope, key) pair of a purge list; -1 when malformed */
static int
purge_pair(struct pread *rd, char scope[CMD_SCOPE_MAX + 1], struct keybuf *k)
{
	const uint8_t *s, *key;
	size_t slen, klen;

	if (pr_get_bytes(rd, &s, &slen) == -1 ||
	    pr_get_bytes(rd, &key, &klen) == -1 || slen > CMD_SCOPE_MAX ||
	    memchr(s, '\0', slen) != NULL)
		return -1;
	memcpy(scope, s, slen);
	scope[slen] = '\0';
	if (!keys_scope_valid(scope))
		return -1;
	return blob_key(k, scope, key, klen);
}

static void
removed_add(struct pbuf *out, const char *scope, const struct keybuf *k)
{
	size_t slen = strlen(scope);

	pb_add_bytes(out, scope, slen);
	pb_add_bytes(out, k->b + slen + 1, k->len - slen - 1);
}

static void
removed_set(struct fsm_result *res, struct pbuf *removed)
{
	if (removed->err)
		fatalx("%s: out of memory", __func__);
	free(res->blobs_removed);
	res->blobs_removed = NULL;
	res->blobs_removed_len = 0;
	if (removed->len > 0)
		res->blobs_removed = pb_steal(removed, &res->blobs_removed_len);
	pb_free(removed);
}

static uint16_t
blob_purge(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char scope[CMD_SCOPE_MAX + 1];
	struct fsm_blob_rec r;
	struct pbuf removed;
	struct keybuf k;
	struct pread rd;
	uint32_t n;
	char *raw;
	size_t len;

	/* the whole list is checked before anything is removed */
	pr_init(&rd, c->value, c->value_len);
	if (pr_get_u32(&rd, &n) == -1 || n > FSM_BLOB_PURGE_MAX)
		return res->status = ST_BAD_COMMAND;
	for (uint32_t i = 0; i < n; i++)
		if (purge_pair(&rd, scope, &k) == -1)
			return res->status = ST_BAD_COMMAND;
	if (pr_end(&rd) == -1)
		return res->status = ST_BAD_COMMAND;
	pr_init(&rd, c->value, c->value_len);
	pr_get_u32(&rd, &n);
	pb_init(&removed);
	for (uint32_t i = 0; i < n; i++) {
		if (purge_pair(&rd, scope, &k) == -1)
			fatalx("%s: checked list changed", __func__);
		if (blob_load(b, &k, &raw, &len, &r) == 0)
			continue;
		rocksdb_free(raw);
		/* uploaded again since GC saw the tombstone: not ours */
		if (r.state != FSM_BLOB_TOMBSTONED)
			continue;
		fsm_batch_del(b, STORE_CF_BLOB, &k);
		removed_add(&removed, scope, &k);
	}
	removed_set(res, &removed);
	return res->status = ST_OK;
}

uint16_t
fsm_blobs_apply(
    struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct keybuf k;

	if (c->type == CMD_BLOB_PURGE)
		return blob_purge(b, c, res);
	if (blob_key(&k, c->scope, c->key, c->key_len) == -1)
		return res->status = ST_BAD_COMMAND;
	switch (c->type) {
	case CMD_BLOB_PUT:
		return blob_put(b, c, &k, res);
	case CMD_BLOB_DELETE:
		return blob_delete(b, c, &k, res);
	default:
		fatalx("%s: type %u is not a blob command", __func__, c->type);
	}
}

/* an iterator over the blob records of the scope, through the batch */
static rocksdb_iterator_t *
scope_iter(struct fsm_batch *b, const char *scope, rocksdb_readoptions_t *ro,
    struct keybuf *lo, struct keybuf *hi)
{
	struct store *s = b->fsm->store;
	rocksdb_iterator_t *base;

	if (keys_user(lo, scope, (const uint8_t *)"", 0) == -1 ||
	    keys_prefix_end(lo, hi) == -1)
		fatalx("%s: scope prefix", __func__);
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi->b, hi->len);
	base = rocksdb_create_iterator_cf(s->db, ro, s->cf[STORE_CF_BLOB]);
	/* the iterator with base owns the base iterator */
	return rocksdb_writebatch_wi_create_iterator_with_base_cf(
	    b->wb, base, s->cf[STORE_CF_BLOB]);
}

static void
scope_iter_end(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro)
{
	char *err = NULL;

	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL)
		fatalx("blob scope scan: %s", err);
}

/* the iterator's key when it is a record of the scope [lo, hi) */
static const char *
scope_key(rocksdb_iterator_t *it, const struct keybuf *lo, size_t *klen)
{
	const char *key;

	if (!rocksdb_iter_valid(it))
		return NULL;
	key = rocksdb_iter_key(it, klen);
	if (*klen < lo->len || *klen > KEYS_MAX ||
	    memcmp(key, lo->b, lo->len) != 0)
		return NULL;
	return key;
}

/* deletes the records whose full keys were collected in keys */
static void
purge_collected(struct fsm_batch *b, const struct pbuf *keys)
{
	struct keybuf k;
	struct pread rd;
	const uint8_t *key;
	size_t klen;

	pr_init(&rd, keys->data, keys->len);
	while (pr_remaining(&rd) > 0) {
		if (pr_get_bytes(&rd, &key, &klen) == -1 || klen > KEYS_MAX)
			fatalx("%s: malformed key list", __func__);
		memcpy(k.b, key, klen);
		k.len = klen;
		fsm_batch_del(b, STORE_CF_BLOB, &k);
	}
}

bool
fsm_blobs_purge_scope(
    struct fsm_batch *b, const char *scope, int *budget, struct fsm_result *res)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	struct keybuf lo, hi, k;
	struct pbuf removed, keys;
	const char *key;
	size_t klen;

	it = scope_iter(b, scope, ro, &lo, &hi);
	pb_init(&removed);
	pb_init(&keys);
	if (res->blobs_removed_len > 0)
		pb_add_raw(
		    &removed, res->blobs_removed, res->blobs_removed_len);
	/* collected first: the batch is not written while it is iterated */
	for (rocksdb_iter_seek(it, (const char *)lo.b, lo.len);
	     *budget > 0 && (key = scope_key(it, &lo, &klen)) != NULL;
	     rocksdb_iter_next(it)) {
		memcpy(k.b, key, klen);
		k.len = klen;
		pb_add_bytes(&keys, k.b, k.len);
		removed_add(&removed, scope, &k);
		(*budget)--;
	}
	scope_iter_end(it, ro);
	if (keys.err)
		fatalx("%s: out of memory", __func__);
	purge_collected(b, &keys);
	pb_free(&keys);
	removed_set(res, &removed);
	return fsm_blobs_scope_empty(b, scope);
}

bool
fsm_blobs_scope_empty(struct fsm_batch *b, const char *scope)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	struct keybuf lo, hi;
	size_t klen;
	bool empty;

	it = scope_iter(b, scope, ro, &lo, &hi);
	rocksdb_iter_seek(it, (const char *)lo.b, lo.len);
	empty = scope_key(it, &lo, &klen) == NULL;
	scope_iter_end(it, ro);
	return empty;
}
