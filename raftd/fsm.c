#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_blobs.h"
#include "raftd/fsm_cache.h"
#include "raftd/fsm_events.h"
#include "raftd/fsm_slots.h"
#include "raftd/fsm_int.h"
#include "raftd/fsm_keys.h"

struct fsm *
fsm_open(struct store *store, const char *root_scope)
{
	struct fsm *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal("%s", __func__);
	f->store = store;
	if (root_scope != NULL && (f->root_scope = strdup(root_scope)) == NULL)
		fatal("%s", __func__);
	store_applied(store, &f->applied_index, &f->applied_term);
	return f;
}

void
fsm_reload(struct fsm *f)
{
	store_applied(f->store, &f->applied_index, &f->applied_term);
}

void
fsm_key_guard_set(struct fsm *f, bool on)
{
	f->key_guard = on;
}

void
fsm_free(struct fsm *f)
{
	if (f == NULL)
		return;
	free(f->root_scope);
	free(f);
}

void
fsm_applied(const struct fsm *f, uint64_t *index, uint64_t *term)
{
	*index = f->applied_index;
	*term = f->applied_term;
}

void
fsm_batch_begin(struct fsm *f, struct fsm_batch *b)
{
	b->fsm = f;
	b->wb = rocksdb_writebatch_wi_create(0, 1);
}

void
fsm_batch_commit(struct fsm_batch *b, uint64_t index, uint64_t term)
{
	struct store *s = b->fsm->store;
	uint8_t rec[16];
	char *err = NULL;

	if (index != 0) {
		keys_put_u64(rec, index);
		keys_put_u64(rec + 8, term);
		rocksdb_writebatch_wi_put_cf(b->wb, s->cf[STORE_CF_META],
		    KEYS_META_APPLIED, strlen(KEYS_META_APPLIED),
		    (const char *)rec, sizeof(rec));
	}
	/* unsynced: everything here can be rebuilt from the synced log */
	rocksdb_write_writebatch_wi(s->db, s->wo_nosync, b->wb, &err);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
	if (index != 0) {
		b->fsm->applied_index = index;
		b->fsm->applied_term = term;
	}
}

void
fsm_batch_end(struct fsm_batch *b)
{
	rocksdb_writebatch_wi_destroy(b->wb);
	b->wb = NULL;
}

int
fsm_batch_get(struct fsm_batch *b, enum store_cf cf, const struct keybuf *k,
    char **val, size_t *vlen)
{
	struct store *s = b->fsm->store;
	char *err = NULL;

	*val = rocksdb_writebatch_wi_get_from_batch_and_db_cf(b->wb, s->db,
	    s->ro, s->cf[cf], (const char *)k->b, k->len, vlen, &err);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
	return *val != NULL;
}

void
fsm_batch_put(struct fsm_batch *b, enum store_cf cf, const struct keybuf *k,
    const void *val, size_t vlen)
{
	rocksdb_writebatch_wi_put_cf(b->wb, b->fsm->store->cf[cf],
	    (const char *)k->b, k->len, val, vlen);
}

void
fsm_batch_del(struct fsm_batch *b, enum store_cf cf, const struct keybuf *k)
{
	rocksdb_writebatch_wi_delete_cf(
	    b->wb, b->fsm->store->cf[cf], (const char *)k->b, k->len);
}

void
fsm_usage_decode(const uint8_t *p, size_t len, struct fsm_usage *u)
{
	if (len != FSM_COUNTERS * 8)
		fatalx("%s: usage record of %zu bytes", __func__, len);
	for (int i = 0; i < FSM_COUNTERS; i++)
		u->c[i] = keys_get_u64(p + 8 * i);
}

void
fsm_usage_get(struct fsm_batch *b, const char *scope, struct fsm_usage *u)
{
	struct keybuf k;
	char *val;
	size_t vlen;

	memset(u, 0, sizeof(*u));
	keys_internal(&k, KEYS_KIND_USAGE, scope);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 0)
		return;
	fsm_usage_decode((const uint8_t *)val, vlen, u);
	rocksdb_free(val);
}

static void
fsm_usage_put(struct fsm_batch *b, const char *scope, const struct fsm_usage *u)
{
	uint8_t rec[FSM_COUNTERS * 8];
	struct keybuf k;
	int zero = 1;

	keys_internal(&k, KEYS_KIND_USAGE, scope);
	for (int i = 0; i < FSM_COUNTERS; i++) {
		keys_put_u64(rec + 8 * i, u->c[i]);
		if (u->c[i] != 0)
			zero = 0;
	}
	/* an all-zero record is the same as none: keep the state minimal */
	if (zero)
		fsm_batch_del(b, STORE_CF_KV, &k);
	else
		fsm_batch_put(b, STORE_CF_KV, &k, rec, sizeof(rec));
}

void
fsm_limits_get(struct fsm_batch *b, const char *scope, struct fsm_limits *l)
{
	struct keybuf k;
	char *val;
	size_t vlen;

	memset(l, 0, sizeof(*l));
	keys_internal(&k, KEYS_KIND_LIMITS, scope);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 0)
		return;
	if (vlen != 1 + FSM_LIMITS * 8)
		fatalx("%s: limits record of %zu bytes", __func__, vlen);
	l->mask = (uint8_t)val[0];
	for (int i = 0; i < FSM_LIMITS; i++)
		l->v[i] = keys_get_u64((const uint8_t *)val + 1 + 8 * i);
	rocksdb_free(val);
}

void
fsm_limits_put(
    struct fsm_batch *b, const char *scope, const struct fsm_limits *l)
{
	uint8_t rec[1 + FSM_LIMITS * 8];
	struct keybuf k;

	keys_internal(&k, KEYS_KIND_LIMITS, scope);
	rec[0] = l->mask;
	for (int i = 0; i < FSM_LIMITS; i++)
		keys_put_u64(rec + 1 + 8 * i, l->v[i]);
	fsm_batch_put(b, STORE_CF_KV, &k, rec, sizeof(rec));
}

static int
fsm_is_root(const struct fsm *f, const char *scope)
{
	return f->root_scope != NULL && strcmp(f->root_scope, scope) == 0;
}

static uint64_t
fsm_counter_add(uint64_t usage, int64_t delta)
{
	uint64_t mag;

	if (delta >= 0) {
		mag = (uint64_t)delta;
		return usage > UINT64_MAX - mag ? UINT64_MAX : usage + mag;
	}
	mag = (uint64_t)(-(delta + 1)) + 1;
	return mag > usage ? 0 : usage - mag;
}

int
fsm_charge(struct fsm_batch *b, const char *scope, enum fsm_counter ctr,
    int64_t delta, struct fsm_result *res)
{
	struct fsm_usage u;
	struct fsm_limits l;
	uint64_t limit;

	fsm_usage_get(b, scope, &u);
	if (delta > 0 && !fsm_is_root(b->fsm, scope)) {
		fsm_limits_get(b, scope, &l);
		limit = l.v[ctr];
		if ((l.mask & (1u << ctr)) &&
		    ((uint64_t)delta > limit ||
			u.c[ctr] > limit - (uint64_t)delta)) {
			res->status = ctr == FSM_BYTES_IN_MEMORY
			    ? ST_MEMORY_LIMIT
			    : ST_DISK_LIMIT;
			res->usage = u.c[ctr];
			res->limit = limit;
			return -1;
		}
	}
	if (delta == 0)
		return 0;
	u.c[ctr] = fsm_counter_add(u.c[ctr], delta);
	fsm_usage_put(b, scope, &u);
	return 0;
}

static uint16_t
fsm_apply_one(
    struct fsm_batch *b, const struct fsm_entry *e, struct fsm_result *res)
{
	struct cmd c;

	/* no-op and membership entries only move the applied index */
	if (e->type != 0)
		return res->status = ST_OK;
	if (cmd_decode(e->data, e->len, &c) == -1 ||
	    !keys_scope_valid(c.scope)) {
		log_warnx("%s: entry %llu: malformed command", __func__,
		    (unsigned long long)e->index);
		return res->status = ST_BAD_COMMAND;
	}
	if (fsm_keys_guard(b, &c, res) != ST_OK)
		return res->status;
	switch (c.type) {
	case CMD_KV_SET:
	case CMD_KV_DELETE:
	case CMD_KV_SETNX:
	case CMD_KV_CAS:
	case CMD_KV_BUMP:
		return fsm_kv_apply(b, &c, res);
	case CMD_CACHE_SET:
	case CMD_CACHE_SETNX:
	case CMD_CACHE_DELETE:
	case CMD_CACHE_CAS:
	case CMD_CACHE_EXPIRE:
		return fsm_cache_apply(b, &c, res);
	case CMD_KEY_CREATE:
	case CMD_KEY_TOMBSTONE:
	case CMD_KEY_PURGE:
	case CMD_KEY_FINISH:
	case CMD_ALIAS_CREATE:
	case CMD_ALIAS_DELETE:
	case CMD_LIMITS_SET:
		return fsm_keys_apply(b, &c, res);
	case CMD_EVENT_PUBLISH:
		return fsm_events_apply(b, &c, res);
	case CMD_SLOT_ACQUIRE:
	case CMD_SLOT_RELEASE:
	case CMD_SLOT_RESET:
	case CMD_SHAKE_BEGIN:
	case CMD_SHAKE_END:
	case CMD_SLOT_DROP_NODE:
		return fsm_slots_apply(b, &c, res);
	case CMD_BLOB_PUT:
	case CMD_BLOB_DELETE:
	case CMD_BLOB_PURGE:
		return fsm_blobs_apply(b, &c, res);
	default:
		return res->status = ST_BAD_COMMAND;
	}
}

void
fsm_apply(struct fsm *f, const struct fsm_entry *entries, size_t n,
    struct fsm_result *results)
{
	struct fsm_batch b;
	uint64_t last = 0, last_term = 0;

	fsm_batch_begin(f, &b);
	for (size_t i = 0; i < n; i++) {
		const struct fsm_entry *e = &entries[i];
		uint64_t next = last != 0 ? last + 1 : f->applied_index + 1;

		memset(&results[i], 0, sizeof(results[i]));
		if (e->index < next && last == 0) {
			results[i].status = ST_COMMIT_UNKNOWN;
			continue;
		}
		if (e->index != next)
			fatalx("%s: entry %llu applied after %llu", __func__,
			    (unsigned long long)e->index,
			    (unsigned long long)(next - 1));
		fsm_apply_one(&b, e, &results[i]);
		last = e->index;
		last_term = e->term;
	}
	if (last != 0)
		fsm_batch_commit(&b, last, last_term);
	fsm_batch_end(&b);
}

void
fsm_result_clear(struct fsm_result *res)
{
	free(res->data);
	free(res->blobs_removed);
	memset(res, 0, sizeof(*res));
}

void
fsm_result_encode(struct pbuf *pb, const struct fsm_result *res)
{
	struct cmd_result r;

	r.status = res->status;
	r.usage = res->usage;
	r.limit = res->limit;
	r.data = res->data;
	r.data_len = res->data_len;
	cmd_result_encode(pb, &r);
}
