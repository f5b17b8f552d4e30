/*
 * Apply of the key, alias and limits commands (API.md §3, §15.3, §16).
 * The leader's apid makes every UUID and token; apply only decides on
 * existence, tombstones and the alias count, so it stays deterministic.
 *
 * Command layouts (struct cmd members; unused ones empty):
 *   KEY_CREATE     scope ds, key key uuid, value bytes key_name,
 *                  bytes entity name, bytes token
 *   KEY_TOMBSTONE  scope ds, key key uuid
 *   KEY_PURGE      scope ds, key key uuid; data u8 1 when nothing is left
 *   KEY_FINISH     scope ds, key key uuid; data u8 1 when the record
 *                  went, 0 when data of the scope is left (purge again)
 *   ALIAS_CREATE   scope ds, key parent key uuid, value bytes alias uuid,
 *                  bytes token
 *   ALIAS_DELETE   scope ds, key alias uuid, old_value the caller's key
 *                  uuid (ST_FORBIDDEN when it is not the parent)
 *   LIMITS_SET     scope ds, key key uuid, value a limits record (keys.h:
 *                  u8 mask, 6 * u64); members in mask replace the stored
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_blobs.h"
#include "raftd/fsm_events.h"
#include "raftd/fsm_keys.h"

#define UUID_LEN 36

int
fsm_key_rec_decode(const uint8_t *p, size_t len, struct fsm_key_rec *r)
{
	struct pread rd;

	pr_init(&rd, p, len);
	pr_get_u8(&rd, &r->tombstone);
	pr_get_i64(&rd, &r->created);
	pr_get_u64(&rd, &r->alias_count);
	pr_get_u64(&rd, &r->alias_seq);
	pr_get_bytes(&rd, &r->ds, &r->ds_len);
	pr_get_bytes(&rd, &r->name, &r->name_len);
	pr_get_bytes(&rd, &r->entity, &r->entity_len);
	pr_get_bytes(&rd, &r->token, &r->token_len);
	return pr_end(&rd);
}

void
fsm_key_rec_encode(struct pbuf *pb, const struct fsm_key_rec *r)
{
	pb_add_u8(pb, r->tombstone);
	pb_add_i64(pb, r->created);
	pb_add_u64(pb, r->alias_count);
	pb_add_u64(pb, r->alias_seq);
	pb_add_bytes(pb, r->ds, r->ds_len);
	pb_add_bytes(pb, r->name, r->name_len);
	pb_add_bytes(pb, r->entity, r->entity_len);
	pb_add_bytes(pb, r->token, r->token_len);
}

int
fsm_alias_rec_decode(const uint8_t *p, size_t len, struct fsm_alias_rec *r)
{
	struct pread rd;

	pr_init(&rd, p, len);
	pr_get_bytes(&rd, &r->parent, &r->parent_len);
	pr_get_i64(&rd, &r->created);
	pr_get_u64(&rd, &r->seq);
	pr_get_bytes(&rd, &r->token, &r->token_len);
	return pr_end(&rd);
}

void
fsm_alias_rec_encode(struct pbuf *pb, const struct fsm_alias_rec *r)
{
	pb_add_bytes(pb, r->parent, r->parent_len);
	pb_add_i64(pb, r->created);
	pb_add_u64(pb, r->seq);
	pb_add_bytes(pb, r->token, r->token_len);
}

void
fsm_alias_index_key(
    struct keybuf *k, const char *parent, uint64_t seq, bool with_seq)
{
	keys_internal(k, KEYS_KIND_ALIAS_INDEX, parent);
	if (with_seq) {
		keys_put_u64(k->b + k->len, seq);
		k->len += 8;
	}
}

void
fsm_limits_default(struct fsm_limits *l)
{
	static const uint64_t def[FSM_LIMITS] = { 1073741824, 262144000, 1000,
		100, 25, 10 };

	l->mask = (1u << FSM_LIMITS) - 1;
	memcpy(l->v, def, sizeof(def));
}

/* a command's key as a uuid string; -1 when it is not 36 plain bytes */
static int
cmd_uuid(const uint8_t *p, size_t len, char out[UUID_LEN + 1])
{
	if (len != UUID_LEN || memchr(p, '\0', len) != NULL)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return keys_scope_valid(out) ? 0 : -1;
}

struct key_loaded {
	char *raw;
	struct fsm_key_rec rec;
};

/* 1 found (free raw with rocksdb_free), 0 absent */
static int
key_load(struct fsm_batch *b, const char *uuid, struct key_loaded *kl)
{
	struct keybuf k;
	size_t len;

	keys_internal(&k, KEYS_KIND_KEY, uuid);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &kl->raw, &len) == 0)
		return 0;
	if (fsm_key_rec_decode((const uint8_t *)kl->raw, len, &kl->rec) == -1)
		fatalx("%s: malformed key record %s", __func__, uuid);
	return 1;
}

static void
key_store(struct fsm_batch *b, const char *uuid, const struct fsm_key_rec *r)
{
	struct keybuf k;
	struct pbuf pb;

	keys_internal(&k, KEYS_KIND_KEY, uuid);
	pb_init(&pb);
	fsm_key_rec_encode(&pb, r);
	if (pb.err)
		fatalx("%s: out of memory", __func__);
	fsm_batch_put(b, STORE_CF_KV, &k, pb.data, pb.len);
	pb_free(&pb);
}

static bool
key_ds_is(const struct fsm_key_rec *r, const char *ds)
{
	return r->ds_len == strlen(ds) && memcmp(r->ds, ds, r->ds_len) == 0;
}

/* the live key of the command's scope: 1, else 0 (status set) */
static int
key_live(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct key_loaded *kl, struct fsm_result *res)
{
	if (key_load(b, uuid, kl) == 0) {
		res->status = ST_API_KEY_NOT_FOUND;
		return 0;
	}
	if (kl->rec.tombstone || !key_ds_is(&kl->rec, c->scope)) {
		rocksdb_free(kl->raw);
		res->status = ST_API_KEY_NOT_FOUND;
		return 0;
	}
	return 1;
}

static uint16_t
key_create(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct fsm_result *res)
{
	struct key_loaded kl;
	struct fsm_key_rec r;
	struct fsm_limits l;
	struct keybuf k;
	struct pread rd;
	size_t len;

	memset(&r, 0, sizeof(r));
	pr_init(&rd, c->value, c->value_len);
	pr_get_bytes(&rd, &r.name, &r.name_len);
	pr_get_bytes(&rd, &r.entity, &r.entity_len);
	pr_get_bytes(&rd, &r.token, &r.token_len);
	if (pr_end(&rd) == -1 || r.token_len == 0)
		return res->status = ST_BAD_COMMAND;
	if (key_load(b, uuid, &kl) == 1) {
		rocksdb_free(kl.raw);
		return res->status = ST_KEY_EXISTS;
	}
	/* one key per scope: the scope index names exactly one */
	keys_internal(&k, KEYS_KIND_SCOPE_INDEX, c->scope);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &kl.raw, &len) == 1) {
		rocksdb_free(kl.raw);
		return res->status = ST_KEY_EXISTS;
	}
	r.created = c->ts;
	r.ds = (const uint8_t *)c->scope;
	r.ds_len = strlen(c->scope);
	key_store(b, uuid, &r);
	keys_internal(&k, KEYS_KIND_SCOPE_INDEX, c->scope);
	fsm_batch_put(b, STORE_CF_KV, &k, uuid, UUID_LEN);
	/* a fresh scope: zero usage is the absent record */
	fsm_limits_default(&l);
	fsm_limits_put(b, c->scope, &l);
	return res->status = ST_OK;
}

static uint16_t
key_tombstone(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct fsm_result *res)
{
	struct key_loaded kl;

	if (!key_live(b, c, uuid, &kl, res))
		return res->status;
	kl.rec.tombstone = 1;
	key_store(b, uuid, &kl.rec);
	rocksdb_free(kl.raw);
	return res->status = ST_OK;
}

static uint16_t
limits_set(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct fsm_result *res)
{
	struct key_loaded kl;
	struct fsm_limits cur;
	uint8_t mask;

	if (c->value_len != 1 + FSM_LIMITS * 8 ||
	    c->value[0] >= (1u << FSM_LIMITS))
		return res->status = ST_BAD_COMMAND;
	if (!key_live(b, c, uuid, &kl, res))
		return res->status;
	rocksdb_free(kl.raw);
	fsm_limits_get(b, c->scope, &cur);
	mask = c->value[0];
	for (int i = 0; i < FSM_LIMITS; i++)
		if (mask & (1u << i))
			cur.v[i] = keys_get_u64(c->value + 1 + 8 * i);
	cur.mask |= mask;
	fsm_limits_put(b, c->scope, &cur);
	return res->status = ST_OK;
}

static uint16_t
alias_create(struct fsm_batch *b, const struct cmd *c, const char *parent,
    struct fsm_result *res)
{
	char alias[UUID_LEN + 1];
	struct fsm_alias_rec ar;
	struct key_loaded kl, probe;
	const uint8_t *au;
	size_t aulen;
	struct keybuf k;
	struct pread rd;
	struct pbuf pb;

	memset(&ar, 0, sizeof(ar));
	pr_init(&rd, c->value, c->value_len);
	pr_get_bytes(&rd, &au, &aulen);
	pr_get_bytes(&rd, &ar.token, &ar.token_len);
	if (pr_end(&rd) == -1 || cmd_uuid(au, aulen, alias) == -1 ||
	    ar.token_len == 0)
		return res->status = ST_BAD_COMMAND;
	if (!key_live(b, c, parent, &kl, res))
		return res->status;
	if (kl.rec.alias_count >= FSM_ALIASES_MAX) {
		rocksdb_free(kl.raw);
		return res->status = ST_ALIAS_LIMIT;
	}
	keys_internal(&k, KEYS_KIND_ALIAS, alias);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &probe.raw, &aulen) == 1) {
		rocksdb_free(probe.raw);
		rocksdb_free(kl.raw);
		return res->status = ST_KEY_EXISTS;
	}
	ar.parent = (const uint8_t *)parent;
	ar.parent_len = UUID_LEN;
	ar.created = c->ts;
	ar.seq = kl.rec.alias_seq++;
	kl.rec.alias_count++;
	pb_init(&pb);
	fsm_alias_rec_encode(&pb, &ar);
	if (pb.err)
		fatalx("%s: out of memory", __func__);
	fsm_batch_put(b, STORE_CF_KV, &k, pb.data, pb.len);
	pb_free(&pb);
	fsm_alias_index_key(&k, parent, ar.seq, true);
	fsm_batch_put(b, STORE_CF_KV, &k, alias, UUID_LEN);
	key_store(b, parent, &kl.rec);
	rocksdb_free(kl.raw);
	return res->status = ST_OK;
}

static uint16_t
alias_delete(struct fsm_batch *b, const struct cmd *c, const char *alias,
    struct fsm_result *res)
{
	char caller[UUID_LEN + 1];
	struct fsm_alias_rec ar;
	struct key_loaded kl;
	struct keybuf k, ik;
	char *raw;
	size_t len;

	if (cmd_uuid(c->old_value, c->old_value_len, caller) == -1)
		return res->status = ST_BAD_COMMAND;
	keys_internal(&k, KEYS_KIND_ALIAS, alias);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &raw, &len) == 0)
		return res->status = ST_ALIAS_NOT_FOUND;
	if (fsm_alias_rec_decode((const uint8_t *)raw, len, &ar) == -1)
		fatalx("%s: malformed alias record %s", __func__, alias);
	if (ar.parent_len != UUID_LEN || memcmp(ar.parent, caller, UUID_LEN)) {
		rocksdb_free(raw);
		return res->status = ST_FORBIDDEN;
	}
	fsm_alias_index_key(&ik, caller, ar.seq, true);
	rocksdb_free(raw);
	if (!key_live(b, c, caller, &kl, res))
		return res->status;
	fsm_batch_del(b, STORE_CF_KV, &k);
	fsm_batch_del(b, STORE_CF_KV, &ik);
	if (kl.rec.alias_count > 0)
		kl.rec.alias_count--;
	key_store(b, caller, &kl.rec);
	rocksdb_free(kl.raw);
	return res->status = ST_OK;
}

/*
 * Deletes the records of [lo, hi) in cf, through the batch so that this
 * batch's own earlier writes count; at most *budget, which it lowers.
 * With del_alias, each value is an alias uuid whose record goes too.
 */
static void
purge_range(struct fsm_batch *b, enum store_cf cf, const struct keybuf *lo,
    const struct keybuf *hi, int *budget, bool del_alias)
{
	struct store *s = b->fsm->store;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *base, *it;
	struct keybuf k, ak;
	char *err = NULL;
	char alias[UUID_LEN + 1];

	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi->b, hi->len);
	base = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
	it = rocksdb_writebatch_wi_create_iterator_with_base_cf(
	    b->wb, base, s->cf[cf]);
	for (rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	     rocksdb_iter_valid(it) && *budget >= 2; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val;

		if (klen > sizeof(k.b) || klen < lo->len ||
		    memcmp(key, lo->b, lo->len) != 0)
			break;
		memcpy(k.b, key, klen);
		k.len = klen;
		if (del_alias) {
			val = rocksdb_iter_value(it, &vlen);
			if (cmd_uuid((const uint8_t *)val, vlen, alias) == 0) {
				keys_internal(&ak, KEYS_KIND_ALIAS, alias);
				fsm_batch_del(b, STORE_CF_KV, &ak);
				(*budget)--;
			}
		}
		fsm_batch_del(b, cf, &k);
		(*budget)--;
	}
	rocksdb_iter_get_error(it, &err);
	/* the iterator with base owns the base iterator */
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
}

/* 1 when [lo, hi) of cf is empty as the batch sees it */
static int
range_empty(struct fsm_batch *b, enum store_cf cf, const struct keybuf *lo,
    const struct keybuf *hi)
{
	struct store *s = b->fsm->store;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *base, *it;
	int empty;

	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(
	    ro, (const char *)hi->b, hi->len);
	base = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
	it = rocksdb_writebatch_wi_create_iterator_with_base_cf(
	    b->wb, base, s->cf[cf]);
	rocksdb_iter_seek(it, (const char *)lo->b, lo->len);
	empty = 1;
	if (rocksdb_iter_valid(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		empty = !(klen >= lo->len && memcmp(key, lo->b, lo->len) == 0);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return empty;
}

/* values, cache entries, blobs, aliases, then usage and limits: in order */
static uint16_t
key_purge(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct fsm_result *res)
{
	static const enum store_cf data_cfs[] = { STORE_CF_KV, STORE_CF_CACHE };
	struct key_loaded kl;
	struct keybuf lo, hi, k;
	int budget = FSM_PURGE_MAX;
	uint8_t done = 1;

	if (key_load(b, uuid, &kl) == 0)
		return res->status = ST_API_KEY_NOT_FOUND;
	if (!kl.rec.tombstone || !key_ds_is(&kl.rec, c->scope)) {
		rocksdb_free(kl.raw);
		return res->status = ST_API_KEY_NOT_FOUND;
	}
	rocksdb_free(kl.raw);
	for (size_t i = 0; i < sizeof(data_cfs) / sizeof(data_cfs[0]); i++) {
		if (keys_user(&lo, c->scope, (const uint8_t *)"", 0) == -1 ||
		    keys_prefix_end(&lo, &hi) == -1)
			fatalx("%s: scope prefix", __func__);
		purge_range(b, data_cfs[i], &lo, &hi, &budget, false);
		if (!range_empty(b, data_cfs[i], &lo, &hi))
			done = 0;
	}
	/* blob records: each one a PURGE of the applied-blob stream */
	if (!fsm_blobs_purge_scope(b, c->scope, &budget, res))
		done = 0;
	fsm_alias_index_key(&lo, uuid, 0, false);
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: alias prefix", __func__);
	purge_range(b, STORE_CF_KV, &lo, &hi, &budget, true);
	if (!range_empty(b, STORE_CF_KV, &lo, &hi))
		done = 0;
	if (done && budget >= 2) {
		keys_internal(&k, KEYS_KIND_USAGE, c->scope);
		fsm_batch_del(b, STORE_CF_KV, &k);
		keys_internal(&k, KEYS_KIND_LIMITS, c->scope);
		fsm_batch_del(b, STORE_CF_KV, &k);
		keys_internal(&k, KEYS_KIND_EVENT_WINDOW, c->scope);
		fsm_batch_del(b, STORE_CF_KV, &k);
	} else
		done = 0;
	if ((res->data = malloc(1)) == NULL)
		fatal("%s", __func__);
	res->data[0] = done;
	res->data_len = 1;
	return res->status = ST_OK;
}

/* no values, cache entries, blobs or aliases of the scope are left */
static bool
scope_empty(struct fsm_batch *b, const char *scope, const char *uuid)
{
	static const enum store_cf cfs[] = { STORE_CF_KV, STORE_CF_CACHE };
	struct keybuf lo, hi;

	for (size_t i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++) {
		if (keys_user(&lo, scope, (const uint8_t *)"", 0) == -1 ||
		    keys_prefix_end(&lo, &hi) == -1)
			fatalx("%s: scope prefix", __func__);
		if (!range_empty(b, cfs[i], &lo, &hi))
			return false;
	}
	if (!fsm_blobs_scope_empty(b, scope))
		return false;
	fsm_alias_index_key(&lo, uuid, 0, false);
	if (keys_prefix_end(&lo, &hi) == -1)
		fatalx("%s: alias prefix", __func__);
	return range_empty(b, STORE_CF_KV, &lo, &hi);
}

static uint16_t
key_finish(struct fsm_batch *b, const struct cmd *c, const char *uuid,
    struct fsm_result *res)
{
	struct key_loaded kl;
	struct keybuf k;

	if (key_load(b, uuid, &kl) == 0)
		return res->status = ST_API_KEY_NOT_FOUND;
	if (!kl.rec.tombstone || !key_ds_is(&kl.rec, c->scope)) {
		rocksdb_free(kl.raw);
		return res->status = ST_API_KEY_NOT_FOUND;
	}
	rocksdb_free(kl.raw);
	if ((res->data = malloc(1)) == NULL)
		fatal("%s", __func__);
	res->data_len = 1;
	/* a write that landed after the last purge: purge again first */
	if (!scope_empty(b, c->scope, uuid)) {
		res->data[0] = 0;
		return res->status = ST_OK;
	}
	res->data[0] = 1;
	keys_internal(&k, KEYS_KIND_KEY, uuid);
	fsm_batch_del(b, STORE_CF_KV, &k);
	keys_internal(&k, KEYS_KIND_SCOPE_INDEX, c->scope);
	fsm_batch_del(b, STORE_CF_KV, &k);
	return res->status = ST_OK;
}

static bool
cmd_adds_data(uint16_t type)
{
	switch (type) {
	case CMD_KV_SET:
	case CMD_KV_SETNX:
	case CMD_KV_CAS:
	case CMD_KV_BUMP:
	case CMD_CACHE_SET:
	case CMD_CACHE_SETNX:
	case CMD_CACHE_CAS:
	case CMD_EVENT_PUBLISH:
	case CMD_BLOB_PUT:
	case CMD_SLOT_ACQUIRE:
		return true;
	default:
		return false;
	}
}

uint16_t
fsm_keys_guard(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char uuid[UUID_LEN + 1];
	struct key_loaded kl;
	struct keybuf k;
	char *raw;
	size_t len;
	int live;

	if (!b->fsm->key_guard || !cmd_adds_data(c->type) ||
	    (b->fsm->root_scope != NULL &&
		strcmp(b->fsm->root_scope, c->scope) == 0))
		return ST_OK;
	keys_internal(&k, KEYS_KIND_SCOPE_INDEX, c->scope);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &raw, &len) == 0)
		return res->status = ST_API_KEY_NOT_FOUND;
	if (cmd_uuid((const uint8_t *)raw, len, uuid) == -1)
		fatalx("%s: malformed scope index of %s", __func__, c->scope);
	rocksdb_free(raw);
	if (key_load(b, uuid, &kl) == 0)
		fatalx(
		    "%s: scope %s indexes a missing key", __func__, c->scope);
	live = !kl.rec.tombstone && key_ds_is(&kl.rec, c->scope);
	rocksdb_free(kl.raw);
	return live ? ST_OK : (res->status = ST_API_KEY_NOT_FOUND);
}

uint16_t
fsm_keys_apply(struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	char uuid[UUID_LEN + 1];

	if (cmd_uuid(c->key, c->key_len, uuid) == -1)
		return res->status = ST_BAD_COMMAND;
	switch (c->type) {
	case CMD_KEY_CREATE:
		return key_create(b, c, uuid, res);
	case CMD_KEY_TOMBSTONE:
		return key_tombstone(b, c, uuid, res);
	case CMD_KEY_PURGE:
		return key_purge(b, c, uuid, res);
	case CMD_KEY_FINISH:
		return key_finish(b, c, uuid, res);
	case CMD_ALIAS_CREATE:
		return alias_create(b, c, uuid, res);
	case CMD_ALIAS_DELETE:
		return alias_delete(b, c, uuid, res);
	case CMD_LIMITS_SET:
		return limits_set(b, c, uuid, res);
	default:
		fatalx("%s: type %u is not a key command", __func__, c->type);
	}
}
