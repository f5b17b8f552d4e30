/*
 * Reads of the key, alias and limits records (fsm_keys.h).  Results after
 * the status and consistency byte of command.h, when ST_OK:
 *   READ_KEY     key = key uuid: bytes key record, u8 mask, 6 * u64
 *                limits of the record's ds
 *   READ_ALIAS   key = alias uuid: bytes alias record, bytes parent's key
 *                record (empty when absent), u8 mask, 6 * u64 limits of
 *                the parent's ds
 *   READ_ALIASES key = parent key uuid: u32 n, n * (bytes alias uuid,
 *                bytes token), oldest first
 *   READ_LIMITS  scope = ds: u8 mask, 6 * u64 limits, 4 * u64 usage
 *   READ_KEYS    offset, limit (<= 1000): u32 n, n * (bytes key uuid,
 *                bytes key record) of live keys in ascending uuid order
 * READ_KEY and READ_ALIAS answer ST_NOT_FOUND when the record is absent.
 */
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_keys.h"

#define UUID_LEN 36

static void
kr_status(struct pbuf *out, const struct read_req *q, uint16_t st)
{
	pb_add_u16(out, st);
	pb_add_u8(out, q->consistency);
}

static int
kr_uuid(const struct read_req *q, char out[UUID_LEN + 1])
{
	if (q->key_len != UUID_LEN || memchr(q->key, '\0', UUID_LEN) != NULL)
		return -1;
	memcpy(out, q->key, UUID_LEN);
	out[UUID_LEN] = '\0';
	return keys_scope_valid(out) ? 0 : -1;
}

/* 1 found (rocksdb_free *val), 0 absent, -1 storage error */
static int
kr_get(struct fsm *f, uint8_t kind, const char *id, char **val, size_t *len)
{
	struct keybuf k;

	keys_internal(&k, kind, id);
	return store_get(f->store, STORE_CF_KV, k.b, k.len, val, len);
}

static int
kr_limits(struct fsm *f, const uint8_t *ds, size_t dslen, struct pbuf *out)
{
	char scope[CMD_SCOPE_MAX + 1];
	char *val;
	size_t len;
	int found;

	if (dslen == 0 || dslen > CMD_SCOPE_MAX)
		fatalx("%s: key record with a bad ds", __func__);
	memcpy(scope, ds, dslen);
	scope[dslen] = '\0';
	if ((found = kr_get(f, KEYS_KIND_LIMITS, scope, &val, &len)) == -1)
		return -1;
	if (found == 0) {
		pb_add_u8(out, 0);
		for (int i = 0; i < FSM_LIMITS; i++)
			pb_add_u64(out, 0);
		return 0;
	}
	if (len != 1 + FSM_LIMITS * 8)
		fatalx("%s: limits record of %zu bytes", __func__, len);
	pb_add_raw(out, val, len);
	rocksdb_free(val);
	return 0;
}

static void
read_key(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	char uuid[UUID_LEN + 1];
	struct fsm_key_rec r;
	struct pbuf body;
	char *val;
	size_t len;
	int found;

	if (kr_uuid(q, uuid) == -1)
		return kr_status(out, q, ST_BAD_COMMAND);
	if ((found = kr_get(f, KEYS_KIND_KEY, uuid, &val, &len)) == -1)
		return kr_status(out, q, ST_INTERNAL);
	if (found == 0)
		return kr_status(out, q, ST_NOT_FOUND);
	if (fsm_key_rec_decode((const uint8_t *)val, len, &r) == -1)
		fatalx("%s: malformed key record", __func__);
	pb_init(&body);
	pb_add_bytes(&body, val, len);
	found = kr_limits(f, r.ds, r.ds_len, &body);
	rocksdb_free(val);
	if (found == -1) {
		pb_free(&body);
		return kr_status(out, q, ST_INTERNAL);
	}
	kr_status(out, q, ST_OK);
	pb_add_raw(out, body.data, body.len);
	pb_free(&body);
}

static void
read_alias(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	char uuid[UUID_LEN + 1], parent[UUID_LEN + 1];
	struct fsm_alias_rec ar;
	struct fsm_key_rec kr;
	struct pbuf body;
	char *aval, *pval = NULL;
	size_t alen, plen = 0;
	int found, rc = 0;

	if (kr_uuid(q, uuid) == -1)
		return kr_status(out, q, ST_BAD_COMMAND);
	if ((found = kr_get(f, KEYS_KIND_ALIAS, uuid, &aval, &alen)) == -1)
		return kr_status(out, q, ST_INTERNAL);
	if (found == 0)
		return kr_status(out, q, ST_NOT_FOUND);
	if (fsm_alias_rec_decode((const uint8_t *)aval, alen, &ar) == -1 ||
	    ar.parent_len != UUID_LEN)
		fatalx("%s: malformed alias record", __func__);
	memcpy(parent, ar.parent, UUID_LEN);
	parent[UUID_LEN] = '\0';
	pb_init(&body);
	pb_add_bytes(&body, aval, alen);
	rocksdb_free(aval);
	if ((found = kr_get(f, KEYS_KIND_KEY, parent, &pval, &plen)) == -1)
		rc = -1;
	else if (found == 0) {
		pb_add_bytes(&body, "", 0);
		for (int i = 0; i < 1 + FSM_LIMITS; i++)
			i == 0 ? pb_add_u8(&body, 0) : pb_add_u64(&body, 0);
	} else {
		if (fsm_key_rec_decode((const uint8_t *)pval, plen, &kr) == -1)
			fatalx("%s: malformed key record", __func__);
		pb_add_bytes(&body, pval, plen);
		rc = kr_limits(f, kr.ds, kr.ds_len, &body);
		rocksdb_free(pval);
	}
	if (rc == -1) {
		pb_free(&body);
		return kr_status(out, q, ST_INTERNAL);
	}
	kr_status(out, q, ST_OK);
	pb_add_raw(out, body.data, body.len);
	pb_free(&body);
}

typedef int (*kr_row_fn)(struct fsm *, const char *key, size_t klen,
    const char *val, size_t vlen, struct pbuf *rows);

/* rows of [lo, end of lo) after offset, at most limit accepted by fn */
static int
kr_scan(struct fsm *f, const struct keybuf *lo, uint64_t offset, uint64_t limit,
    kr_row_fn fn, struct pbuf *rows, uint32_t *n)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	struct keybuf hi;
	char *err = NULL;
	int rc = 0;

	if (keys_prefix_end(lo, &hi) == -1)
		fatalx("%s: prefix without end", __func__);
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi.b, hi.len);
	it = rocksdb_create_iterator_cf(
	    f->store->db, ro, f->store->cf[STORE_CF_KV]);
	*n = 0;
	for (rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	     rocksdb_iter_valid(it) && *n < limit; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);
		struct pbuf row;

		pb_init(&row);
		if (fn(f, key + lo->len, klen - lo->len, val, vlen, &row) ==
		    1) {
			if (offset > 0)
				offset--;
			else {
				pb_add_raw(rows, row.data, row.len);
				(*n)++;
			}
		}
		pb_free(&row);
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		rc = -1;
	}
	return rc;
}

static int
alias_row(struct fsm *f, const char *key, size_t klen, const char *val,
    size_t vlen, struct pbuf *row)
{
	char uuid[UUID_LEN + 1];
	struct fsm_alias_rec ar;
	char *aval;
	size_t alen;

	(void)key;
	(void)klen;
	if (vlen != UUID_LEN)
		fatalx("%s: malformed alias index", __func__);
	memcpy(uuid, val, UUID_LEN);
	uuid[UUID_LEN] = '\0';
	if (kr_get(f, KEYS_KIND_ALIAS, uuid, &aval, &alen) != 1)
		return 0;
	if (fsm_alias_rec_decode((const uint8_t *)aval, alen, &ar) == -1)
		fatalx("%s: malformed alias record", __func__);
	pb_add_bytes(row, uuid, UUID_LEN);
	pb_add_bytes(row, ar.token, ar.token_len);
	rocksdb_free(aval);
	return 1;
}

static int
key_row(struct fsm *f, const char *key, size_t klen, const char *val,
    size_t vlen, struct pbuf *row)
{
	struct fsm_key_rec r;

	(void)f;
	if (fsm_key_rec_decode((const uint8_t *)val, vlen, &r) == -1)
		fatalx("%s: malformed key record", __func__);
	if (r.tombstone)
		return 0;
	pb_add_bytes(row, key, klen);
	pb_add_bytes(row, val, vlen);
	return 1;
}

static void
read_rows(struct fsm *f, const struct read_req *q, const struct keybuf *lo,
    uint64_t offset, uint64_t limit, kr_row_fn fn, struct pbuf *out)
{
	struct pbuf rows;
	uint32_t n;

	pb_init(&rows);
	if (kr_scan(f, lo, offset, limit, fn, &rows, &n) == -1) {
		pb_free(&rows);
		return kr_status(out, q, ST_INTERNAL);
	}
	kr_status(out, q, ST_OK);
	pb_add_u32(out, n);
	pb_add_raw(out, rows.data, rows.len);
	pb_free(&rows);
}

static void
read_aliases(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	char uuid[UUID_LEN + 1];
	struct keybuf lo;

	if (kr_uuid(q, uuid) == -1)
		return kr_status(out, q, ST_BAD_COMMAND);
	fsm_alias_index_key(&lo, uuid, 0, false);
	read_rows(f, q, &lo, 0, FSM_ALIASES_MAX * 4, alias_row, out);
}

static void
read_keys(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct keybuf lo;
	uint64_t limit = q->limit;

	if (limit > FSM_ITERATE_LIMIT_MAX)
		limit = FSM_ITERATE_LIMIT_MAX;
	lo.b[0] = 0x00;
	lo.b[1] = KEYS_KIND_KEY;
	lo.len = 2;
	read_rows(f, q, &lo, q->offset, limit, key_row, out);
}

static void
read_limits(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	struct fsm_usage u;
	struct pbuf body;

	pb_init(&body);
	if (kr_limits(f, (const uint8_t *)q->scope, strlen(q->scope), &body) ==
		-1 ||
	    fsm_usage_read(f, q->scope, &u) == -1) {
		pb_free(&body);
		return kr_status(out, q, ST_INTERNAL);
	}
	kr_status(out, q, ST_OK);
	pb_add_raw(out, body.data, body.len);
	for (int i = 0; i < FSM_COUNTERS; i++)
		pb_add_u64(out, u.c[i]);
	pb_free(&body);
}

void
fsm_keys_read(struct fsm *f, const struct read_req *q, struct pbuf *out)
{
	switch (q->op) {
	case READ_KEY:
		return read_key(f, q, out);
	case READ_ALIAS:
		return read_alias(f, q, out);
	case READ_ALIASES:
		return read_aliases(f, q, out);
	case READ_LIMITS:
		return read_limits(f, q, out);
	case READ_KEYS:
		return read_keys(f, q, out);
	default:
		fatalx("%s: op %u is not a key read", __func__, q->op);
	}
}

int
fsm_keys_tombstoned(struct fsm *f, struct fsm_dead_key *out, size_t max)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	struct keybuf lo, hi;
	struct fsm_key_rec r;
	char *err = NULL;
	size_t n = 0, seen = 0;

	lo.b[0] = 0x00;
	lo.b[1] = KEYS_KIND_KEY;
	lo.len = 2;
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: prefix without end", __func__);
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi.b, hi.len);
	it = rocksdb_create_iterator_cf(
	    f->store->db, ro, f->store->cf[STORE_CF_KV]);
	for (rocksdb_iter_seek(it, (const char *)lo.b, lo.len);
	     rocksdb_iter_valid(it) && n < max && seen < FSM_DEAD_SCAN_MAX;
	     rocksdb_iter_next(it), seen++) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		if (fsm_key_rec_decode((const uint8_t *)val, vlen, &r) == -1)
			fatalx("%s: malformed key record", __func__);
		if (!r.tombstone || klen != 2 + UUID_LEN || r.ds_len == 0 ||
		    r.ds_len > CMD_SCOPE_MAX)
			continue;
		memcpy(out[n].uuid, key + 2, UUID_LEN);
		out[n].uuid[UUID_LEN] = '\0';
		memcpy(out[n].ds, r.ds, r.ds_len);
		out[n].ds[r.ds_len] = '\0';
		n++;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		return -1;
	}
	return (int)n;
}
