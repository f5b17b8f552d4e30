#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proto/codec.h"
#include "raftd/keys.h"
#include "raftd/node_snap.h"
#include "raftd/rlog.h"

#define NODE_SNAP_VERSION 1

static const enum store_cf node_snap_cfs[] = { STORE_CF_KV, STORE_CF_CACHE,
	STORE_CF_META, STORE_CF_BLOB };
#define NODE_SNAP_NCF (sizeof(node_snap_cfs) / sizeof(node_snap_cfs[0]))

/* above every key of a state CF (keys are at most KEYS_MAX bytes) */
static uint8_t node_snap_key_end[KEYS_MAX + 1];

static int
node_snap_add_cf(struct store *s, enum store_cf cf, struct pbuf *pb)
{
	rocksdb_iterator_t *it;
	const char *k, *v;
	size_t klen, vlen;
	char *err = NULL;

	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[cf]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && !pb->err;
	     rocksdb_iter_next(it)) {
		k = rocksdb_iter_key(it, &klen);
		v = rocksdb_iter_value(it, &vlen);
		pb_add_u8(pb, (uint8_t)cf);
		pb_add_bytes(pb, k, klen);
		pb_add_bytes(pb, v, vlen);
		if (pb->len > NODE_SNAP_MAX)
			pb->err = 1;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
	return pb->err ? -1 : 0;
}

int
node_snap_take(struct store *s, uint8_t **data, uint64_t *len)
{
	struct pbuf pb;
	size_t n;

	/* the loop thread is the only writer of the state CFs: consistent */
	pb_init(&pb);
	pb_add_u8(&pb, NODE_SNAP_VERSION);
	for (size_t i = 0; i < NODE_SNAP_NCF; i++)
		if (node_snap_add_cf(s, node_snap_cfs[i], &pb) == -1) {
			pb_free(&pb);
			log_warnx("%s: state exceeds %u bytes", __func__,
			    (unsigned)NODE_SNAP_MAX);
			return -1;
		}
	*data = pb_steal(&pb, &n);
	*len = n;
	return 0;
}

static bool
node_snap_cf_ok(uint8_t cf)
{
	for (size_t i = 0; i < NODE_SNAP_NCF; i++)
		if (node_snap_cfs[i] == cf)
			return true;
	return false;
}

/* walks the records; wb NULL: only checks them */
static int
node_snap_walk(
    struct store *s, rocksdb_writebatch_t *wb, const uint8_t *d, uint64_t len)
{
	struct pread pr;
	const uint8_t *k, *v;
	size_t klen, vlen;
	uint8_t version, cf;

	if (len > NODE_SNAP_MAX)
		return -1;
	pr_init(&pr, d, len);
	if (pr_get_u8(&pr, &version) == -1 || version != NODE_SNAP_VERSION)
		return -1;
	while (pr_remaining(&pr) > 0) {
		if (pr_get_u8(&pr, &cf) == -1 ||
		    pr_get_bytes(&pr, &k, &klen) == -1 ||
		    pr_get_bytes(&pr, &v, &vlen) == -1 ||
		    !node_snap_cf_ok(cf) || klen > KEYS_MAX)
			return -1;
		if (wb != NULL)
			rocksdb_writebatch_put_cf(wb, s->cf[cf],
			    (const char *)k, klen, (const char *)v, vlen);
	}
	return pr_end(&pr) == 0 ? 0 : -1;
}

int
node_snap_check(const uint8_t *data, uint64_t len)
{
	return node_snap_walk(NULL, NULL, data, len);
}

static void
node_snap_write(struct store *s, rocksdb_writebatch_t *wb, const char *what)
{
	char *err = NULL;

	rocksdb_write(s->db, s->wo_sync, wb, &err);
	rocksdb_writebatch_destroy(wb);
	if (err != NULL)
		fatalx("%s: %s", what, err);
}

/* "snap": u64 index, u64 term, membership */
static void
node_snap_put_meta(struct store *s, rocksdb_writebatch_t *wb,
    const struct raft_snapshot_meta *m, const char *key, const uint8_t *data,
    uint64_t len)
{
	uint8_t cfg[1 + RAFT_MAX_NODES * 10];
	size_t clen = raft_config_encode(&m->config, cfg, sizeof(cfg));
	uint8_t *buf;
	size_t n = 8 + 8 + 4 + clen + (data != NULL ? len : 0);

	if (clen == 0)
		fatalx("%s: membership does not encode", __func__);
	if ((buf = malloc(n)) == NULL)
		fatal("%s", __func__);
	keys_put_u64(buf, m->index);
	keys_put_u64(buf + 8, m->term);
	buf[16] = (uint8_t)(clen >> 24);
	buf[17] = (uint8_t)(clen >> 16);
	buf[18] = (uint8_t)(clen >> 8);
	buf[19] = (uint8_t)clen;
	memcpy(buf + 20, cfg, clen);
	if (data != NULL && len > 0)
		memcpy(buf + 20 + clen, data, len);
	rocksdb_writebatch_put_cf(
	    wb, s->cf[STORE_CF_RAFT], key, strlen(key), (const char *)buf, n);
	free(buf);
}

/* parses a "snap" or "install" record; *rest: what follows the meta */
static int
node_snap_get_meta(const uint8_t *buf, size_t n, struct raft_snapshot_meta *m,
    const uint8_t **rest, size_t *rest_len)
{
	size_t clen;

	if (n < 20)
		return -1;
	m->index = keys_get_u64(buf);
	m->term = keys_get_u64(buf + 8);
	clen = (size_t)buf[16] << 24 | (size_t)buf[17] << 16 |
	    (size_t)buf[18] << 8 | buf[19];
	if (clen > n - 20 ||
	    raft_config_decode(&m->config, buf + 20, clen) != RAFT_OK)
		return -1;
	*rest = buf + 20 + clen;
	*rest_len = n - 20 - clen;
	return 0;
}

void
node_snap_save(struct store *s, const struct raft_snapshot_meta *m,
    const uint8_t *data, uint64_t len)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();

	node_snap_put_meta(s, wb, m, KEYS_RAFT_SNAP, NULL, 0);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT], KEYS_RAFT_SNAPDATA,
	    strlen(KEYS_RAFT_SNAPDATA), (const char *)data, len);
	node_snap_write(s, wb, __func__);
}

static void
node_snap_replace(struct store *s, const struct raft_snapshot_meta *m,
    const uint8_t *data, uint64_t len)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	uint8_t k0[KEYS_LOG_LEN], k1[KEYS_LOG_LEN], base[16];

	memset(node_snap_key_end, 0xff, sizeof(node_snap_key_end));
	for (size_t i = 0; i < NODE_SNAP_NCF; i++)
		rocksdb_writebatch_delete_range_cf(wb, s->cf[node_snap_cfs[i]],
		    "", 0, (const char *)node_snap_key_end,
		    sizeof(node_snap_key_end));
	if (node_snap_walk(s, wb, data, len) == -1)
		fatalx("%s: malformed snapshot %llu", __func__,
		    (unsigned long long)m->index);
	keys_log(k0, 0);
	keys_log(k1, UINT64_MAX);
	rocksdb_writebatch_delete_range_cf(wb, s->cf[STORE_CF_LOG],
	    (const char *)k0, sizeof(k0), (const char *)k1, sizeof(k1));
	keys_put_u64(base, m->index);
	keys_put_u64(base + 8, m->term);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT], KEYS_RAFT_BASE,
	    strlen(KEYS_RAFT_BASE), (const char *)base, sizeof(base));
	node_snap_put_meta(s, wb, m, KEYS_RAFT_SNAP, NULL, 0);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT], KEYS_RAFT_SNAPDATA,
	    strlen(KEYS_RAFT_SNAPDATA), (const char *)data, len);
	rocksdb_writebatch_delete_cf(wb, s->cf[STORE_CF_RAFT],
	    KEYS_RAFT_INSTALL, strlen(KEYS_RAFT_INSTALL));
	node_snap_write(s, wb, __func__);
}

void
node_snap_install(struct store *s, const struct raft_snapshot_meta *m,
    const uint8_t *data, uint64_t len)
{
	rocksdb_writebatch_t *wb;

	/* the leader is authenticated: a bad snapshot is a broken peer */
	if (node_snap_check(data, len) == -1)
		fatalx("%s: malformed snapshot %llu from the leader", __func__,
		    (unsigned long long)m->index);
	wb = rocksdb_writebatch_create();
	node_snap_put_meta(s, wb, m, KEYS_RAFT_INSTALL, data, len);
	node_snap_write(s, wb, __func__);
	node_snap_replace(s, m, data, len);
	log_info("installed snapshot %llu (term %llu, %llu bytes)",
	    (unsigned long long)m->index, (unsigned long long)m->term,
	    (unsigned long long)len);
}

int
node_snap_redo(struct store *s)
{
	struct raft_snapshot_meta m;
	const uint8_t *data;
	size_t dlen, vlen;
	char *val;
	int found;

	found = store_get(s, STORE_CF_RAFT, KEYS_RAFT_INSTALL,
	    strlen(KEYS_RAFT_INSTALL), &val, &vlen);
	if (found == -1)
		fatalx("%s: cannot read the install record", __func__);
	if (found == 0)
		return 0;
	if (node_snap_get_meta((uint8_t *)val, vlen, &m, &data, &dlen) == -1)
		fatalx("%s: malformed install record", __func__);
	log_info("redoing the install of snapshot %llu",
	    (unsigned long long)m.index);
	node_snap_replace(s, &m, data, dlen);
	rocksdb_free(val);
	return 1;
}

int
node_snap_load(struct store *s, struct raft_snapshot_meta *m, uint8_t **data,
    uint64_t *len)
{
	const uint8_t *rest;
	size_t rlen, vlen;
	char *val;
	int found;

	memset(m, 0, sizeof(*m));
	*data = NULL;
	*len = 0;
	found = store_get(s, STORE_CF_RAFT, KEYS_RAFT_SNAP,
	    strlen(KEYS_RAFT_SNAP), &val, &vlen);
	if (found == -1)
		fatalx("%s: cannot read the snapshot record", __func__);
	if (found == 0)
		return 0;
	if (node_snap_get_meta((uint8_t *)val, vlen, m, &rest, &rlen) == -1)
		fatalx("%s: malformed snapshot record", __func__);
	rocksdb_free(val);
	found = store_get(s, STORE_CF_RAFT, KEYS_RAFT_SNAPDATA,
	    strlen(KEYS_RAFT_SNAPDATA), &val, &vlen);
	if (found != 1)
		fatalx("%s: snapshot %llu without its data", __func__,
		    (unsigned long long)m->index);
	if ((*data = malloc(vlen > 0 ? vlen : 1)) == NULL)
		fatal("%s", __func__);
	memcpy(*data, val, vlen);
	*len = vlen;
	rocksdb_free(val);
	return 1;
}

/* applies the stored log up to the stored commit index */
static void
node_snap_apply_log(struct store *s, struct fsm *f)
{
	struct raft_hard_state hs;
	struct raft_entry e;
	struct fsm_entry fe;
	struct fsm_result res;
	uint64_t applied, term;

	rlog_hard_state(s, &hs);
	fsm_applied(f, &applied, &term);
	for (uint64_t i = applied + 1; i <= hs.commit; i++) {
		if (rlog_read(s, i, &e) != 1)
			break;
		fe.index = e.index;
		fe.term = e.term;
		fe.type = e.type;
		fe.data = e.data;
		fe.len = e.len;
		fsm_apply(f, &fe, 1, &res);
		fsm_result_clear(&res);
		free(e.data);
	}
}

void
node_snap_force_new_cluster(struct store *s, struct fsm *f, uint64_t id)
{
	struct raft_snapshot_meta m;
	struct raft_hard_state hs;
	rocksdb_writebatch_t *wb;
	uint64_t applied, term, len, v[3];
	uint8_t *data, buf[24];

	node_snap_redo(s);
	fsm_reload(f);
	node_snap_apply_log(s, f);
	fsm_applied(f, &applied, &term);
	rlog_hard_state(s, &hs);
	memset(&m, 0, sizeof(m));
	m.index = applied;
	m.term = term;
	m.config.n = 1;
	m.config.servers[0].id = id;
	m.config.servers[0].role = RAFT_VOTER;
	if (node_snap_take(s, &data, &len) == -1)
		fatalx("%s: the restored state is too large", __func__);
	wb = rocksdb_writebatch_create();
	memset(buf, 0, sizeof(buf));
	rocksdb_writebatch_delete_range_cf(wb, s->cf[STORE_CF_LOG],
	    (const char *)buf, KEYS_LOG_LEN,
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff", KEYS_LOG_LEN + 1);
	v[0] = hs.term > term ? hs.term : term;
	v[1] = 0;
	v[2] = applied;
	for (int i = 0; i < 3; i++)
		keys_put_u64(buf + 8 * i, v[i]);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT],
	    KEYS_RAFT_HARD_STATE, strlen(KEYS_RAFT_HARD_STATE),
	    (const char *)buf, 24);
	keys_put_u64(buf, applied);
	keys_put_u64(buf + 8, term);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT], KEYS_RAFT_BASE,
	    strlen(KEYS_RAFT_BASE), (const char *)buf, 16);
	rocksdb_writebatch_delete_cf(wb, s->cf[STORE_CF_RAFT],
	    KEYS_RAFT_REMOVED, strlen(KEYS_RAFT_REMOVED));
	if (applied > 0) {
		node_snap_put_meta(s, wb, &m, KEYS_RAFT_SNAP, NULL, 0);
		rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT],
		    KEYS_RAFT_SNAPDATA, strlen(KEYS_RAFT_SNAPDATA),
		    (const char *)data, len);
	} else {
		rocksdb_writebatch_delete_cf(wb, s->cf[STORE_CF_RAFT],
		    KEYS_RAFT_SNAP, strlen(KEYS_RAFT_SNAP));
		rocksdb_writebatch_delete_cf(wb, s->cf[STORE_CF_RAFT],
		    KEYS_RAFT_SNAPDATA, strlen(KEYS_RAFT_SNAPDATA));
	}
	node_snap_write(s, wb, __func__);
	free(data);
	log_info("forced a new one-node cluster at index %llu (term %llu)",
	    (unsigned long long)applied, (unsigned long long)term);
}
