/*
 * Reads against the applied state (READ_KV_GET, READ_KV_ITERATE,
 * READ_USAGE), encoded as the read result of proto/command.h.  When the
 * status is not ST_OK nothing follows the consistency byte.  They run on
 * the loop: point reads and short scans served from memtables and the
 * block cache.
 */
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_blobs.h"
#include "raftd/fsm_cache.h"
#include "raftd/fsm_int.h"
#include "raftd/fsm_keys.h"

int
fsm_usage_read(struct fsm *f, const char *scope, struct fsm_usage *u)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	int found;

	memset(u, 0, sizeof(*u));
	keys_internal(&k, KEYS_KIND_USAGE, scope);
	found = store_get(f->store, STORE_CF_KV, k.b, k.len, &val, &vlen);
	if (found == -1)
		return -1;
	if (found == 1) {
		fsm_usage_decode((const uint8_t *)val, vlen, u);
		rocksdb_free(val);
	}
	return 0;
}

static void
read_status(struct pbuf *out, const struct read_req *q, uint16_t st)
{
	pb_add_u16(out, st);
	pb_add_u8(out, q->consistency);
}

static void
read_get(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	int found;

	if (q->key_len == 0 ||
	    keys_user(&k, q->scope, q->key, q->key_len) == -1)
		return read_status(out, q, ST_BAD_COMMAND);
	found = store_get(f->store, STORE_CF_KV, k.b, k.len, &val, &vlen);
	if (found == -1)
		return read_status(out, q, ST_INTERNAL);
	if (found == 0)
		return read_status(out, q, ST_NOT_FOUND);
	read_status(out, q, ST_OK);
	pb_add_bytes(out, val, vlen);
	rocksdb_free(val);
}

/* the keys of the scope starting with prefix, after offset, at most limit */
static int
read_scan(struct fsm *f, const struct keybuf *lo, const struct keybuf *hi,
    size_t skip, const struct read_req *q, struct pbuf *keys, uint32_t *n)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	uint64_t offset = q->offset, limit = q->limit;
	char *err = NULL;

	if (limit > FSM_ITERATE_LIMIT_MAX)
		limit = FSM_ITERATE_LIMIT_MAX;
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_lower_bound(
	    ro, (const char *)lo->b, lo->len);
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi->b, hi->len);
	it = rocksdb_create_iterator_cf(
	    f->store->db, ro, f->store->cf[STORE_CF_KV]);
	*n = 0;
	for (rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	     rocksdb_iter_valid(it) && *n < limit; rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if (klen < skip || memcmp(key, lo->b, lo->len) != 0)
			break;
		if (offset > 0) {
			offset--;
			continue;
		}
		pb_add_bytes(keys, key + skip, klen - skip);
		(*n)++;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		return -1;
	}
	return 0;
}

static void
read_iterate(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf lo, hi;
	struct pbuf keys;
	uint32_t n;
	size_t skip;

	if (keys_user(&lo, q->scope, q->key, q->key_len) == -1)
		return read_status(out, q, ST_BAD_COMMAND);
	/* the scope part ends with ':', so the prefix always has an end */
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: prefix without end", __func__);
	skip = strlen(q->scope) + 1;
	pb_init(&keys);
	if (read_scan(f, &lo, &hi, skip, q, &keys, &n) == -1) {
		pb_free(&keys);
		return read_status(out, q, ST_INTERNAL);
	}
	read_status(out, q, ST_OK);
	pb_add_u32(out, n);
	pb_add_raw(out, keys.data, keys.len);
	pb_free(&keys);
}

static void
read_usage(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct fsm_usage u;

	if (fsm_usage_read(f, q->scope, &u) == -1)
		return read_status(out, q, ST_INTERNAL);
	read_status(out, q, ST_OK);
	for (int i = 0; i < FSM_COUNTERS; i++)
		pb_add_u64(out, u.c[i]);
}

void
fsm_read(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	/* the blob scan crosses every scope: its scope is not used */
	if (q->op == READ_BLOB_SCAN)
		return fsm_blobs_read(f, q, out);
	if (!keys_scope_valid(q->scope))
		return read_status(out, q, ST_BAD_COMMAND);
	switch (q->op) {
	case READ_KV_GET:
		return read_get(f, q, out);
	case READ_KV_ITERATE:
		return read_iterate(f, q, out);
	case READ_USAGE:
		return read_usage(f, q, out);
	case READ_CACHE_GET:
	case READ_CACHE_ITERATE:
		return fsm_cache_read(f, q, out);
	case READ_KEY:
	case READ_ALIAS:
	case READ_ALIASES:
	case READ_LIMITS:
	case READ_KEYS:
		return fsm_keys_read(f, q, out);
	case READ_BLOB_GET:
	case READ_BLOB_ITERATE:
		return fsm_blobs_read(f, q, out);
	default:
		return read_status(out, q, ST_BAD_COMMAND);
	}
}
