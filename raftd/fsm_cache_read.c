/*
 * Reads of the cache (READ_CACHE_GET, READ_CACHE_ITERATE) and the sweep's
 * scan for expired entries.  Reads compare expires_at with this node's
 * CLOCK_REALTIME: an expired entry is invisible even before the sweep's
 * command removes it.
 */
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "raftd/fsm_cache.h"

int64_t
fsm_cache_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
cread_status(struct pbuf *out, const struct read_req *q, uint16_t st)
{
	pb_add_u16(out, st);
	pb_add_u8(out, q->consistency);
}

static int64_t
cread_expiry(const char *val, size_t len)
{
	if (len < FSM_CACHE_HDR)
		fatalx("%s: cache record of %zu bytes", __func__, len);
	return (int64_t)keys_get_u64((const uint8_t *)val);
}

static void
cread_get(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	int found;

	if (q->key_len == 0 ||
	    keys_user(&k, q->scope, q->key, q->key_len) == -1)
		return cread_status(out, q, ST_BAD_COMMAND);
	found = store_get(f->store, STORE_CF_CACHE, k.b, k.len, &val, &vlen);
	if (found == -1)
		return cread_status(out, q, ST_INTERNAL);
	if (found == 0)
		return cread_status(out, q, ST_NOT_FOUND);
	if (cread_expiry(val, vlen) <= fsm_cache_now()) {
		rocksdb_free(val);
		return cread_status(out, q, ST_NOT_FOUND);
	}
	cread_status(out, q, ST_OK);
	pb_add_bytes(out, val + FSM_CACHE_HDR, vlen - FSM_CACHE_HDR);
	rocksdb_free(val);
}

static rocksdb_iterator_t *
cread_iter(struct fsm *f, rocksdb_readoptions_t *ro, const struct keybuf *lo,
    const struct keybuf *hi)
{
	if (lo != NULL)
		rocksdb_readoptions_set_iterate_lower_bound(
		    ro, (const char *)lo->b, lo->len);
	if (hi != NULL)
		rocksdb_readoptions_set_iterate_upper_bound(
		    ro, (const char *)hi->b, hi->len);
	return rocksdb_create_iterator_cf(
	    f->store->db, ro, f->store->cf[STORE_CF_CACHE]);
}

static int
cread_iter_end(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro)
{
	char *err = NULL;

	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("cache scan: %s", err);
		rocksdb_free(err);
		return -1;
	}
	return 0;
}

/* live keys in [lo, hi): expired ones are skipped before offset counts */
static int
cread_scan(struct fsm *f, const struct keybuf *lo, const struct keybuf *hi,
    size_t skip, const struct read_req *q, struct pbuf *keys, uint32_t *n)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = cread_iter(f, ro, lo, hi);
	uint64_t offset = q->offset, limit = q->limit;
	int64_t now = fsm_cache_now();

	if (limit > FSM_ITERATE_LIMIT_MAX)
		limit = FSM_ITERATE_LIMIT_MAX;
	*n = 0;
	for (rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	     rocksdb_iter_valid(it) && *n < limit; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		if (klen < skip || memcmp(key, lo->b, lo->len) != 0)
			break;
		if (cread_expiry(val, vlen) <= now)
			continue;
		if (offset > 0) {
			offset--;
			continue;
		}
		pb_add_bytes(keys, key + skip, klen - skip);
		(*n)++;
	}
	return cread_iter_end(it, ro);
}

static void
cread_iterate(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf lo, hi;
	struct pbuf keys;
	uint32_t n;

	if (keys_user(&lo, q->scope, q->key, q->key_len) == -1)
		return cread_status(out, q, ST_BAD_COMMAND);
	/* the scope part ends with ':', so the prefix always has an end */
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: prefix without end", __func__);
	pb_init(&keys);
	if (cread_scan(f, &lo, &hi, strlen(q->scope) + 1, q, &keys, &n) == -1) {
		pb_free(&keys);
		return cread_status(out, q, ST_INTERNAL);
	}
	cread_status(out, q, ST_OK);
	pb_add_u32(out, n);
	pb_add_raw(out, keys.data, keys.len);
	pb_free(&keys);
}

void
fsm_cache_read(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	switch (q->op) {
	case READ_CACHE_GET:
		return cread_get(f, q, out);
	case READ_CACHE_ITERATE:
		return cread_iterate(f, q, out);
	default:
		return cread_status(out, q, ST_BAD_COMMAND);
	}
}

/* appends (scope, key) of a cache CF key; -1 when it is not a user key */
static int
cread_add_expired(struct pbuf *out, const char *key, size_t klen)
{
	const char *colon = memchr(key, ':', klen);

	if (colon == NULL || colon == key ||
	    (size_t)(colon - key) > CMD_SCOPE_MAX || colon + 1 == key + klen)
		return -1;
	pb_add_bytes(out, key, (size_t)(colon - key));
	pb_add_bytes(out, colon + 1, klen - (size_t)(colon - key) - 1);
	return 0;
}

int
fsm_cache_expired(struct fsm *f, struct keybuf *cursor, int64_t now,
    size_t scan_max, size_t max, struct pbuf *out)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = cread_iter(f, ro, NULL, NULL);
	size_t scanned = 0, n = 0;

	if (cursor->len > 0)
		rocksdb_iter_seek(it, (const char *)cursor->b, cursor->len);
	else
		rocksdb_iter_seek_to_first(it);
	for (; rocksdb_iter_valid(it) && scanned < scan_max && n < max;
	     rocksdb_iter_next(it), scanned++) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		if (cread_expiry(val, vlen) > now)
			continue;
		if (cread_add_expired(out, key, klen) == -1)
			log_warnx(
			    "%s: cache key outside the user layout", __func__);
		else
			n++;
	}
	cursor->len = 0;
	if (rocksdb_iter_valid(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if (klen <= sizeof(cursor->b)) {
			memcpy(cursor->b, key, klen);
			cursor->len = klen;
		}
	}
	if (cread_iter_end(it, ro) == -1)
		return -1;
	return (int)n;
}
