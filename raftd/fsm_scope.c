/*
 * Counting what the state holds of one data scope (fsm_scope.h): plain
 * reads of the store, bounded per kind.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_int.h"
#include "raftd/fsm_keys.h"
#include "raftd/fsm_scope.h"

#define UUID_LEN 36
/* key records of one scope whose aliases are counted */
#define SCOPE_KEYS_MAX 16

struct scope_scan {
	struct fsm *fsm;
	struct fsm_scope_counts *out;
	int err;
};

/* calls fn on each record of [lo, prefix end of lo) in cf; bounded */
static uint64_t
scan_prefix(struct scope_scan *sc, enum store_cf cf, const struct keybuf *lo,
    void (*fn)(struct scope_scan *, const char *, size_t, const char *, size_t,
	void *),
    void *arg)
{
	struct store *s = sc->fsm->store;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	struct keybuf hi;
	uint64_t n = 0;
	char *err = NULL;

	if (keys_prefix_end(lo, &hi) == -1)
		fatalx("%s: prefix", __func__);
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi.b, hi.len);
	it = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
	for (rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val = rocksdb_iter_value(it, &vlen);

		if (n >= FSM_SCOPE_SCAN_MAX) {
			sc->out->truncated = true;
			break;
		}
		n++;
		if (fn != NULL)
			fn(sc, key, klen, val, vlen, arg);
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		sc->err = -1;
	}
	return n;
}

static int
record_present(struct scope_scan *sc, const struct keybuf *k)
{
	struct store *s = sc->fsm->store;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	char *err = NULL, *v;
	size_t vlen;

	v = rocksdb_get_cf(s->db, ro, s->cf[STORE_CF_KV], (const char *)k->b,
	    k->len, &vlen, &err);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		sc->err = -1;
		return 0;
	}
	rocksdb_free(v);
	return v != NULL;
}

struct scope_keys {
	const char *ds;
	char uuid[SCOPE_KEYS_MAX][UUID_LEN + 1];
	size_t n;
};

static void
key_record_cb(struct scope_scan *sc, const char *key, size_t klen,
    const char *val, size_t vlen, void *arg)
{
	struct scope_keys *sk = arg;
	struct fsm_key_rec r;

	if (fsm_key_rec_decode((const uint8_t *)val, vlen, &r) == -1 ||
	    r.ds_len != strlen(sk->ds) || memcmp(r.ds, sk->ds, r.ds_len) != 0)
		return;
	sc->out->key_records++;
	if (klen == 2 + UUID_LEN && sk->n < SCOPE_KEYS_MAX) {
		memcpy(sk->uuid[sk->n], key + 2, UUID_LEN);
		sk->uuid[sk->n++][UUID_LEN] = '\0';
	}
}

static void
alias_record_cb(struct scope_scan *sc, const char *key, size_t klen,
    const char *val, size_t vlen, void *arg)
{
	struct scope_keys *sk = arg;
	struct fsm_alias_rec ar;
	char parent[UUID_LEN + 1];
	struct keybuf k;

	(void)key;
	(void)klen;
	if (fsm_alias_rec_decode((const uint8_t *)val, vlen, &ar) == -1 ||
	    ar.parent_len != UUID_LEN)
		return;
	memcpy(parent, ar.parent, UUID_LEN);
	parent[UUID_LEN] = '\0';
	for (size_t i = 0; i < sk->n; i++)
		if (strcmp(sk->uuid[i], parent) == 0)
			sc->out->aliases++;
	if (!keys_scope_valid(parent))
		return;
	keys_internal(&k, KEYS_KIND_KEY, parent);
	if (!record_present(sc, &k))
		sc->out->orphan_aliases++;
}

static void
alias_index_cb(struct scope_scan *sc, const char *key, size_t klen,
    const char *val, size_t vlen, void *arg)
{
	char parent[UUID_LEN + 1];
	struct keybuf k;

	(void)val;
	(void)vlen;
	(void)arg;
	if (klen < 2 + UUID_LEN)
		return;
	memcpy(parent, key + 2, UUID_LEN);
	parent[UUID_LEN] = '\0';
	if (!keys_scope_valid(parent))
		return;
	keys_internal(&k, KEYS_KIND_KEY, parent);
	if (!record_present(sc, &k))
		sc->out->orphan_alias_index++;
}

int
fsm_scope_count(struct fsm *f, const char *ds, struct fsm_scope_counts *out)
{
	struct scope_scan sc = { f, out, 0 };
	struct scope_keys sk;
	struct keybuf k;

	memset(out, 0, sizeof(*out));
	if (!keys_scope_valid(ds))
		return -1;
	memset(&sk, 0, sizeof(sk));
	sk.ds = ds;
	if (keys_user(&k, ds, (const uint8_t *)"", 0) == -1)
		return -1;
	out->values = scan_prefix(&sc, STORE_CF_KV, &k, NULL, NULL);
	out->cache_entries = scan_prefix(&sc, STORE_CF_CACHE, &k, NULL, NULL);
	keys_internal(&k, KEYS_KIND_USAGE, ds);
	out->usage = record_present(&sc, &k);
	keys_internal(&k, KEYS_KIND_LIMITS, ds);
	out->limits = record_present(&sc, &k);
	keys_internal(&k, KEYS_KIND_SCOPE_INDEX, ds);
	out->scope_index = record_present(&sc, &k);
	k.b[0] = 0x00;
	k.b[1] = KEYS_KIND_KEY;
	k.len = 2;
	scan_prefix(&sc, STORE_CF_KV, &k, key_record_cb, &sk);
	k.b[1] = KEYS_KIND_ALIAS;
	scan_prefix(&sc, STORE_CF_KV, &k, alias_record_cb, &sk);
	k.b[1] = KEYS_KIND_ALIAS_INDEX;
	scan_prefix(&sc, STORE_CF_KV, &k, alias_index_cb, NULL);
	for (size_t i = 0; i < sk.n; i++) {
		fsm_alias_index_key(&k, sk.uuid[i], 0, false);
		out->alias_index +=
		    scan_prefix(&sc, STORE_CF_KV, &k, NULL, NULL);
	}
	return sc.err;
}
