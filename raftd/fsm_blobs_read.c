/*
 * Reads of the blob metadata (proto/command.h):
 *   READ_BLOB_GET      key: the record (also a tombstoned one), bytes
 *   READ_BLOB_ITERATE  key = prefix, offset, limit (<= 1000): live blob
 *                      keys only; tombstones are skipped before offset
 *                      counts (§13.4)
 *   READ_BLOB_SCAN     key = cursor (empty: the start), limit (0 or over
 *                      FSM_BLOB_SCAN_MAX: that many): u32 n, n * (str
 *                      scope, bytes key, bytes record), bytes next cursor
 *                      (empty at the end).  The cursor is the record key
 *                      to resume at; blobd passes it back as is.
 * and the GC's scan for tombstones.
 */
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_blobs.h"

static void
bread_status(struct pbuf *out, const struct read_req *q, uint16_t st)
{
	pb_add_u16(out, st);
	pb_add_u8(out, q->consistency);
}

static rocksdb_iterator_t *
bread_iter(struct fsm *f, rocksdb_readoptions_t *ro, const struct keybuf *lo,
    const struct keybuf *hi)
{
	if (lo != NULL)
		rocksdb_readoptions_set_iterate_lower_bound(
		    ro, (const char *)lo->b, lo->len);
	if (hi != NULL)
		rocksdb_readoptions_set_iterate_upper_bound(
		    ro, (const char *)hi->b, hi->len);
	return rocksdb_create_iterator_cf(
	    f->store->db, ro, f->store->cf[STORE_CF_BLOB]);
}

static int
bread_iter_end(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro)
{
	char *err = NULL;

	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("blob scan: %s", err);
		rocksdb_free(err);
		return -1;
	}
	return 0;
}

/* the state byte of a stored record */
static uint8_t
bread_state(const char *val, size_t len)
{
	if (len < FSM_BLOB_HDR || (uint8_t)val[0] > FSM_BLOB_TOMBSTONED)
		fatalx("%s: blob record of %zu bytes", __func__, len);
	return (uint8_t)val[0];
}

static void
bread_get(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf k;
	char *val;
	size_t vlen;
	int found;

	if (q->key_len == 0 || memchr(q->key, '\0', q->key_len) != NULL ||
	    keys_user(&k, q->scope, q->key, q->key_len) == -1)
		return bread_status(out, q, ST_BAD_COMMAND);
	found = store_get(f->store, STORE_CF_BLOB, k.b, k.len, &val, &vlen);
	if (found == -1)
		return bread_status(out, q, ST_INTERNAL);
	if (found == 0)
		return bread_status(out, q, ST_NOT_FOUND);
	bread_state(val, vlen);
	bread_status(out, q, ST_OK);
	pb_add_bytes(out, val, vlen);
	rocksdb_free(val);
}

/* live keys in [lo, hi): tombstoned ones are skipped before offset counts */
static int
bread_live(struct fsm *f, const struct keybuf *lo, const struct keybuf *hi,
    size_t skip, const struct read_req *q, struct pbuf *keys, uint32_t *n)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = bread_iter(f, ro, lo, hi);
	uint64_t offset = q->offset, limit = q->limit;

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
		if (bread_state(val, vlen) != FSM_BLOB_LIVE)
			continue;
		if (offset > 0) {
			offset--;
			continue;
		}
		pb_add_bytes(keys, key + skip, klen - skip);
		(*n)++;
	}
	return bread_iter_end(it, ro);
}

static void
bread_iterate(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf lo, hi;
	struct pbuf keys;
	uint32_t n;

	if (keys_user(&lo, q->scope, q->key, q->key_len) == -1)
		return bread_status(out, q, ST_BAD_COMMAND);
	/* the scope part ends with ':', so the prefix always has an end */
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: prefix without end", __func__);
	pb_init(&keys);
	if (bread_live(f, &lo, &hi, strlen(q->scope) + 1, q, &keys, &n) == -1) {
		pb_free(&keys);
		return bread_status(out, q, ST_INTERNAL);
	}
	bread_status(out, q, ST_OK);
	pb_add_u32(out, n);
	pb_add_raw(out, keys.data, keys.len);
	pb_free(&keys);
}

/* appends (str scope, bytes key) of a record key; -1 when malformed */
static int
bread_add_pair(struct pbuf *out, const char *key, size_t klen)
{
	const char *colon = memchr(key, ':', klen);

	if (colon == NULL || colon == key ||
	    (size_t)(colon - key) > CMD_SCOPE_MAX || colon + 1 == key + klen)
		return -1;
	pb_add_bytes(out, key, (size_t)(colon - key));
	pb_add_bytes(out, colon + 1, klen - (size_t)(colon - key) - 1);
	return 0;
}

/* seeks to the cursor (empty: the first record) */
static void
bread_seek(rocksdb_iterator_t *it, const uint8_t *cursor, size_t len)
{
	if (len > 0)
		rocksdb_iter_seek(it, (const char *)cursor, len);
	else
		rocksdb_iter_seek_to_first(it);
}

/* the iterator's key as the next cursor (empty when at the end) */
static void
bread_cursor(rocksdb_iterator_t *it, struct keybuf *cursor)
{
	size_t klen;
	const char *key;

	cursor->len = 0;
	if (!rocksdb_iter_valid(it))
		return;
	key = rocksdb_iter_key(it, &klen);
	if (klen > sizeof(cursor->b))
		fatalx("%s: blob key of %zu bytes", __func__, klen);
	memcpy(cursor->b, key, klen);
	cursor->len = klen;
}

static void
bread_scan(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	struct keybuf next;
	struct pbuf items;
	uint64_t limit = q->limit;
	uint32_t n = 0;

	if (q->key_len > KEYS_MAX)
		return bread_status(out, q, ST_BAD_COMMAND);
	if (limit == 0 || limit > FSM_BLOB_SCAN_MAX)
		limit = FSM_BLOB_SCAN_MAX;
	ro = rocksdb_readoptions_create();
	it = bread_iter(f, ro, NULL, NULL);
	pb_init(&items);
	for (bread_seek(it, q->key, q->key_len);
	     rocksdb_iter_valid(it) && n < limit; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		bread_state(val, vlen);
		if (bread_add_pair(&items, key, klen) == -1)
			fatalx(
			    "%s: blob key outside the user layout", __func__);
		pb_add_bytes(&items, val, vlen);
		n++;
	}
	bread_cursor(it, &next);
	if (bread_iter_end(it, ro) == -1) {
		pb_free(&items);
		return bread_status(out, q, ST_INTERNAL);
	}
	bread_status(out, q, ST_OK);
	pb_add_u32(out, n);
	pb_add_raw(out, items.data, items.len);
	pb_add_bytes(out, next.b, next.len);
	pb_free(&items);
}

void
fsm_blobs_read(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	switch (q->op) {
	case READ_BLOB_GET:
		return bread_get(f, q, out);
	case READ_BLOB_ITERATE:
		return bread_iterate(f, q, out);
	case READ_BLOB_SCAN:
		return bread_scan(f, q, out);
	default:
		return bread_status(out, q, ST_BAD_COMMAND);
	}
}

int
fsm_blobs_tombstoned(struct fsm *f, struct keybuf *cursor, size_t scan_max,
    size_t max, struct pbuf *out)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = bread_iter(f, ro, NULL, NULL);
	size_t scanned = 0, n = 0;

	for (bread_seek(it, cursor->b, cursor->len);
	     rocksdb_iter_valid(it) && scanned < scan_max && n < max;
	     rocksdb_iter_next(it), scanned++) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		if (bread_state(val, vlen) != FSM_BLOB_TOMBSTONED)
			continue;
		if (bread_add_pair(out, key, klen) == -1)
			fatalx(
			    "%s: blob key outside the user layout", __func__);
		n++;
	}
	bread_cursor(it, cursor);
	if (bread_iter_end(it, ro) == -1)
		return -1;
	return (int)n;
}
