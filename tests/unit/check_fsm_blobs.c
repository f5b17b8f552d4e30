/*
 * Blob metadata in the state machine (API.md §13, §7.1): the refusal
 * order of CMD_BLOB_PUT, the bytes_on_disk quota, tombstones, purges,
 * the reads, a deleted key's cleanup of its blob records, snapshots, and
 * the applied-blob stream raftd keeps for blobd.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/blob_gc.h"
#include "raftd/fsm.h"
#include "raftd/fsm_blobs.h"
#include "raftd/fsm_int.h"
#include "raftd/keys.h"
#include "raftd/node.h"
#include "raftd/node_snap.h"
#include "raftd/raftd_blobs.h"
#include "raftd/store.h"

#define ROOT "root"
#define HASH_A \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define KEY_UUID "0b0e7c1e-6a8e-4d3e-9a55-2f1d1c7a0a01"

static char dir[64];
static struct store *st;
static struct fsm *fsm;

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
db_open(void)
{
	st = store_open(dir);
	ck_assert_ptr_nonnull(st);
	fsm = fsm_open(st, ROOT);
}

static void
db_close(void)
{
	fsm_free(fsm);
	store_close(st);
	fsm = NULL;
	st = NULL;
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_fsm_blobs.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	db_open();
}

static void
teardown(void)
{
	if (st != NULL)
		db_close();
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t
applied_index(void)
{
	uint64_t index, term;

	fsm_applied(fsm, &index, &term);
	return index;
}

/* applies c as the next entry; res (when not NULL) is the caller's */
static uint16_t
apply_cmd(const struct cmd *c, struct fsm_result *res)
{
	struct fsm_entry e = { 0 };
	struct fsm_result local;
	struct pbuf pb;
	uint16_t status;

	pb_init(&pb);
	cmd_encode(&pb, c);
	ck_assert_int_eq(pb.err, 0);
	e.index = applied_index() + 1;
	e.term = 1;
	e.data = pb.data;
	e.len = pb.len;
	fsm_apply(fsm, &e, 1, res != NULL ? res : &local);
	pb_free(&pb);
	ck_assert_uint_eq(applied_index(), e.index);
	status = res != NULL ? res->status : local.status;
	if (res == NULL)
		fsm_result_clear(&local);
	return status;
}

static void
meta_encode(struct pbuf *pb, uint64_t size, const char *hash, const char *node,
    const char *name, const char *type)
{
	pb_add_str(pb, "owner-uuid");
	pb_add_str(pb, node);
	pb_add_str(pb, "badge-of-node");
	pb_add_u64(pb, size);
	pb_add_str(pb, hash);
	pb_add_str(pb, name);
	pb_add_str(pb, type);
}

static void
cmd_init(struct cmd *c, uint16_t type, int64_t ts, const char *scope,
    const char *key)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->ts = ts;
	snprintf(c->scope, sizeof(c->scope), "%s", scope);
	c->key = (const uint8_t *)key;
	c->key_len = key != NULL ? strlen(key) : 0;
}

/* a put of size bytes with num = size and well-formed metadata */
static uint16_t
put_res(int64_t ts, const char *scope, const char *key, uint64_t size,
    struct fsm_result *res)
{
	struct cmd c;
	struct pbuf pb;
	uint16_t st;

	pb_init(&pb);
	meta_encode(&pb, size, HASH_A, "node0", "a.pdf", "application/pdf");
	cmd_init(&c, CMD_BLOB_PUT, ts, scope, key);
	c.num = (int64_t)size;
	c.value = pb.data;
	c.value_len = pb.len;
	st = apply_cmd(&c, res);
	pb_free(&pb);
	return st;
}

static uint16_t
put(int64_t ts, const char *scope, const char *key, uint64_t size)
{
	return put_res(ts, scope, key, size, NULL);
}

static uint16_t
del(int64_t ts, const char *scope, const char *key)
{
	struct cmd c;

	cmd_init(&c, CMD_BLOB_DELETE, ts, scope, key);
	return apply_cmd(&c, NULL);
}

/* a purge of "scope/key" pairs; res (when not NULL) is the caller's */
static uint16_t
purge(const char *const *pairs, size_t n, struct fsm_result *res)
{
	char scope[CMD_SCOPE_MAX + 1] = "s1";
	struct pbuf pb;
	struct cmd c;
	uint16_t st;

	pb_init(&pb);
	pb_add_u32(&pb, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const char *slash = strchr(pairs[i], '/');

		ck_assert_ptr_nonnull(slash);
		pb_add_bytes(&pb, pairs[i], (size_t)(slash - pairs[i]));
		pb_add_str(&pb, slash + 1);
		if (i == 0)
			snprintf(scope, sizeof(scope), "%.*s",
			    (int)(slash - pairs[i]), pairs[i]);
	}
	cmd_init(&c, CMD_BLOB_PURGE, 1, scope, NULL);
	c.value = pb.data;
	c.value_len = pb.len;
	st = apply_cmd(&c, res);
	pb_free(&pb);
	return st;
}

static uint64_t
disk(const char *scope)
{
	struct fsm_usage u;

	ck_assert_int_eq(fsm_usage_read(fsm, scope, &u), 0);
	return u.c[FSM_BYTES_ON_DISK];
}

static void
set_disk_limit(const char *scope, uint64_t limit)
{
	struct fsm_batch b;
	struct fsm_limits l;

	memset(&l, 0, sizeof(l));
	l.mask = 1u << FSM_BYTES_ON_DISK;
	l.v[FSM_BYTES_ON_DISK] = limit;
	fsm_batch_begin(fsm, &b);
	fsm_limits_put(&b, scope, &l);
	fsm_batch_commit(&b, 0, 0);
	fsm_batch_end(&b);
}

static void
read_run(uint16_t op, const char *scope, const char *key, size_t key_len,
    uint64_t offset, uint64_t limit, struct pbuf *out)
{
	struct read_req q, dq;
	struct pbuf req;

	memset(&q, 0, sizeof(q));
	q.op = op;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)key;
	q.key_len = key_len;
	q.offset = offset;
	q.limit = limit;
	/* through the codec, as raftd gets it from apid or blobd */
	pb_init(&req);
	read_req_encode(&req, &q);
	ck_assert_int_eq(read_req_decode(req.data, req.len, &dq, NULL), 0);
	pb_init(out);
	fsm_read(fsm, &dq, out);
	ck_assert_int_eq(out->err, 0);
	pb_free(&req);
}

/* the last record get() read: r's pointers point into it */
static uint8_t get_rec[2 * KEYS_MAX + 1024];

/* READ_BLOB_GET: the status; on ST_OK the decoded record */
static uint16_t
get(const char *scope, const char *key, struct fsm_blob_rec *r)
{
	const uint8_t *rec;
	size_t len;
	struct pbuf out;
	struct pread rd;
	uint16_t status;
	uint8_t cons;

	read_run(READ_BLOB_GET, scope, key, strlen(key), 0, 0, &out);
	pr_init(&rd, out.data, out.len);
	ck_assert_int_eq(pr_get_u16(&rd, &status), 0);
	ck_assert_int_eq(pr_get_u8(&rd, &cons), 0);
	if (status == ST_OK) {
		ck_assert_int_eq(pr_get_bytes(&rd, &rec, &len), 0);
		ck_assert_uint_le(len, sizeof(get_rec));
		memcpy(get_rec, rec, len);
		ck_assert_int_eq(fsm_blob_rec_decode(get_rec, len, r), 0);
	}
	ck_assert_int_eq(pr_end(&rd), 0);
	pb_free(&out);
	return status;
}

/* READ_BLOB_ITERATE as "k1,k2," */
static void
ck_iterate(const char *scope, const char *prefix, uint64_t offset,
    uint64_t limit, const char *want)
{
	const uint8_t *k;
	size_t klen;
	struct pbuf out, got;
	struct pread rd;
	uint16_t status;
	uint8_t cons;
	uint32_t n;

	read_run(READ_BLOB_ITERATE, scope, prefix, strlen(prefix), offset,
	    limit, &out);
	pr_init(&rd, out.data, out.len);
	pr_get_u16(&rd, &status);
	pr_get_u8(&rd, &cons);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_int_eq(pr_get_u32(&rd, &n), 0);
	pb_init(&got);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_int_eq(pr_get_bytes(&rd, &k, &klen), 0);
		pb_add_raw(&got, k, klen);
		pb_add_raw(&got, ",", 1);
	}
	ck_assert_int_eq(pr_end(&rd), 0);
	pb_add_u8(&got, 0);
	ck_assert_str_eq((const char *)got.data, want);
	pb_free(&got);
	pb_free(&out);
}

START_TEST(put_refusal_order)
{
	struct fsm_blob_rec r;

	ck_assert_uint_eq(put(100, "s1", "a", 10), ST_OK);
	ck_assert_uint_eq(disk("s1"), 10);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_LIVE);
	ck_assert_int_eq(r.uploaded_at, 100);
	ck_assert_int_eq(r.tombstoned_at, 0);
	ck_assert_uint_eq(r.meta.size, 10);
	ck_assert_uint_eq(r.meta.hash_len, 64);
	ck_assert_mem_eq(r.meta.hash, HASH_A, 64);
	ck_assert_mem_eq(r.meta.node_id, "node0", 5);
	ck_assert_mem_eq(r.meta.type, "application/pdf", 15);
	/* present: KEY_EXISTS, even when the quota would refuse too */
	set_disk_limit("s1", 15);
	ck_assert_uint_eq(put(101, "s1", "a", 10), ST_KEY_EXISTS);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_int_eq(r.uploaded_at, 100);
	ck_assert_uint_eq(disk("s1"), 10);
	/* tombstoned: BLOB_TOMBSTONED before anything else */
	ck_assert_uint_eq(del(102, "s1", "a"), ST_OK);
	ck_assert_uint_eq(put(103, "s1", "a", 100), ST_BLOB_TOMBSTONED);
	ck_assert_uint_eq(put(103, "s1", "a", 1), ST_BLOB_TOMBSTONED);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_TOMBSTONED);
	ck_assert_uint_eq(disk("s1"), 0);
	/* the same key in another scope is another blob */
	ck_assert_uint_eq(put(104, "s2", "a", 3), ST_OK);
	ck_assert_uint_eq(disk("s2"), 3);
}
END_TEST

START_TEST(put_disk_quota)
{
	struct fsm_result res;
	struct fsm_blob_rec r;

	set_disk_limit("s1", 100);
	ck_assert_uint_eq(put(1, "s1", "a", 60), ST_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(put_res(2, "s1", "b", 41, &res), ST_DISK_LIMIT);
	ck_assert_uint_eq(res.usage, 60);
	ck_assert_uint_eq(res.limit, 100);
	fsm_result_clear(&res);
	/* a refused put leaves nothing behind */
	ck_assert_uint_eq(get("s1", "b", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(disk("s1"), 60);
	/* exactly up to the limit is allowed */
	ck_assert_uint_eq(put(3, "s1", "b", 40), ST_OK);
	ck_assert_uint_eq(disk("s1"), 100);
	ck_assert_uint_eq(put(4, "s1", "c", 1), ST_DISK_LIMIT);
	/* an empty blob adds nothing and is never refused */
	ck_assert_uint_eq(put(5, "s1", "empty", 0), ST_OK);
	/* a delete frees room */
	ck_assert_uint_eq(del(6, "s1", "a"), ST_OK);
	ck_assert_uint_eq(disk("s1"), 40);
	ck_assert_uint_eq(put(7, "s1", "c", 60), ST_OK);
	ck_assert_uint_eq(disk("s1"), 100);
	/* root is counted but never limited */
	set_disk_limit(ROOT, 1);
	ck_assert_uint_eq(put(8, ROOT, "big", 1000), ST_OK);
	ck_assert_uint_eq(disk(ROOT), 1000);
}
END_TEST

START_TEST(delete_tombstones)
{
	struct fsm_blob_rec r;

	ck_assert_uint_eq(del(1, "s1", "nope"), ST_NOT_FOUND);
	ck_assert_uint_eq(put(2, "s1", "a", 7), ST_OK);
	ck_assert_uint_eq(put(3, "s1", "b", 5), ST_OK);
	ck_assert_uint_eq(disk("s1"), 12);
	ck_assert_uint_eq(del(4, "s1", "a"), ST_OK);
	ck_assert_uint_eq(disk("s1"), 5);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_TOMBSTONED);
	ck_assert_int_eq(r.uploaded_at, 2);
	ck_assert_int_eq(r.tombstoned_at, 4);
	ck_assert_uint_eq(r.meta.size, 7);
	/* already tombstoned: not found, and nothing is subtracted twice */
	ck_assert_uint_eq(del(5, "s1", "a"), ST_NOT_FOUND);
	ck_assert_uint_eq(disk("s1"), 5);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_int_eq(r.tombstoned_at, 4);
	ck_assert_uint_eq(del(6, "s1", "b"), ST_OK);
	ck_assert_uint_eq(disk("s1"), 0);
}
END_TEST

/* the removed list of a result as "scope/key," */
static void
ck_removed(const struct fsm_result *res, const char *want)
{
	const uint8_t *s, *k;
	size_t slen, klen;
	struct pbuf got;
	struct pread rd;

	pb_init(&got);
	pr_init(&rd, res->blobs_removed, res->blobs_removed_len);
	while (pr_remaining(&rd) > 0) {
		ck_assert_int_eq(pr_get_bytes(&rd, &s, &slen), 0);
		ck_assert_int_eq(pr_get_bytes(&rd, &k, &klen), 0);
		pb_add_raw(&got, s, slen);
		pb_add_raw(&got, "/", 1);
		pb_add_raw(&got, k, klen);
		pb_add_raw(&got, ",", 1);
	}
	pb_add_u8(&got, 0);
	ck_assert_str_eq((const char *)got.data, want);
	pb_free(&got);
}

START_TEST(purge_only_tombstoned)
{
	static const char *const list[] = { "s1/a", "s1/b", "s1/none", "s2/c" };
	struct fsm_result res;
	struct fsm_blob_rec r;

	ck_assert_uint_eq(put(1, "s1", "a", 4), ST_OK);
	ck_assert_uint_eq(put(2, "s1", "b", 5), ST_OK);
	ck_assert_uint_eq(put(3, "s2", "c", 6), ST_OK);
	ck_assert_uint_eq(del(4, "s1", "a"), ST_OK);
	ck_assert_uint_eq(del(5, "s2", "c"), ST_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(purge(list, 4, &res), ST_OK);
	ck_removed(&res, "s1/a,s2/c,");
	fsm_result_clear(&res);
	ck_assert_uint_eq(get("s1", "a", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get("s2", "c", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get("s1", "b", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_LIVE);
	/* usage was released by the delete, not again by the purge */
	ck_assert_uint_eq(disk("s1"), 5);
	ck_assert_uint_eq(disk("s2"), 0);
	/* purged: the key can be uploaded again */
	ck_assert_uint_eq(put(6, "s1", "a", 8), ST_OK);
	ck_assert_uint_eq(disk("s1"), 13);
	/* a purge finding only live blobs removes nothing */
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(purge(list, 2, &res), ST_OK);
	ck_assert_uint_eq(res.blobs_removed_len, 0);
	fsm_result_clear(&res);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
}
END_TEST

/* a purge command with the raw value v */
static uint16_t
purge_raw(const struct pbuf *v)
{
	struct cmd c;

	cmd_init(&c, CMD_BLOB_PURGE, 1, "s1", NULL);
	c.value = v->data;
	c.value_len = v->len;
	return apply_cmd(&c, NULL);
}

START_TEST(purge_malformed_changes_nothing)
{
	struct fsm_blob_rec r;
	struct pbuf v;

	ck_assert_uint_eq(put(1, "s1", "a", 4), ST_OK);
	ck_assert_uint_eq(del(2, "s1", "a"), ST_OK);
	/* the first pair is good, the second has a bad scope */
	pb_init(&v);
	pb_add_u32(&v, 2);
	pb_add_str(&v, "s1");
	pb_add_str(&v, "a");
	pb_add_str(&v, "s:1");
	pb_add_str(&v, "a");
	ck_assert_uint_eq(purge_raw(&v), ST_BAD_COMMAND);
	pb_free(&v);
	/* trailing bytes */
	pb_init(&v);
	pb_add_u32(&v, 1);
	pb_add_str(&v, "s1");
	pb_add_str(&v, "a");
	pb_add_u8(&v, 0);
	ck_assert_uint_eq(purge_raw(&v), ST_BAD_COMMAND);
	pb_free(&v);
	/* an empty key */
	pb_init(&v);
	pb_add_u32(&v, 2);
	pb_add_str(&v, "s1");
	pb_add_str(&v, "a");
	pb_add_str(&v, "s1");
	pb_add_str(&v, "");
	ck_assert_uint_eq(purge_raw(&v), ST_BAD_COMMAND);
	pb_free(&v);
	/* more pairs than one purge may carry */
	pb_init(&v);
	pb_add_u32(&v, FSM_BLOB_PURGE_MAX + 1);
	for (int i = 0; i <= FSM_BLOB_PURGE_MAX; i++) {
		pb_add_str(&v, "s1");
		pb_add_str(&v, "a");
	}
	ck_assert_uint_eq(purge_raw(&v), ST_BAD_COMMAND);
	pb_free(&v);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_TOMBSTONED);
	/* the largest list is accepted */
	pb_init(&v);
	pb_add_u32(&v, FSM_BLOB_PURGE_MAX);
	for (int i = 0; i < FSM_BLOB_PURGE_MAX; i++) {
		pb_add_str(&v, "s1");
		pb_add_str(&v, "a");
	}
	ck_assert_uint_eq(purge_raw(&v), ST_OK);
	pb_free(&v);
	ck_assert_uint_eq(get("s1", "a", &r), ST_NOT_FOUND);
}
END_TEST

/* a put with a hand-made value and num */
static uint16_t
put_value(const char *key, size_t key_len, const struct pbuf *v, int64_t num)
{
	struct cmd c;

	cmd_init(&c, CMD_BLOB_PUT, 1, "s1", NULL);
	c.key = (const uint8_t *)key;
	c.key_len = key_len;
	c.value = v->data;
	c.value_len = v->len;
	c.num = num;
	return apply_cmd(&c, NULL);
}

static uint16_t
put_meta(const char *key, uint64_t size, int64_t num, const char *hash,
    const char *name, const char *type)
{
	struct pbuf v;
	uint16_t st;

	pb_init(&v);
	meta_encode(&v, size, hash, "node0", name, type);
	st = put_value(key, strlen(key), &v, num);
	pb_free(&v);
	return st;
}

START_TEST(put_validation)
{
	static char long_key[KEYS_USER_KEY_MAX + 2];
	static char long_name[FSM_BLOB_NAME_MAX + 2];
	char type[FSM_BLOB_TYPE_MAX + 2];
	char upper[65];
	struct fsm_blob_rec r;
	struct pbuf v;

	memcpy(upper, HASH_A, sizeof(upper));
	upper[0] = 'F';
	ck_assert_uint_eq(put_meta("k", 3, 3, upper, "n", "t"), ST_BAD_COMMAND);
	ck_assert_uint_eq(put_meta("k", 3, 3, "abc", "n", "t"), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    put_meta("k", 3, 3, HASH_A "0", "n", "t"), ST_BAD_COMMAND);
	/* size and num must agree and be positive */
	ck_assert_uint_eq(
	    put_meta("k", 3, 4, HASH_A, "n", "t"), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    put_meta("k", 3, -3, HASH_A, "n", "t"), ST_BAD_COMMAND);
	/* bounded strings */
	memset(type, 'x', sizeof(type) - 1);
	type[sizeof(type) - 1] = '\0';
	ck_assert_uint_eq(
	    put_meta("k", 3, 3, HASH_A, "n", type), ST_BAD_COMMAND);
	type[FSM_BLOB_TYPE_MAX] = '\0';
	ck_assert_uint_eq(put_meta("t255", 3, 3, HASH_A, "n", type), ST_OK);
	memset(long_name, 'n', sizeof(long_name) - 1);
	ck_assert_uint_eq(
	    put_meta("k", 3, 3, HASH_A, long_name, "t"), ST_BAD_COMMAND);
	/* keys: 1..4096 bytes without NUL, like values keys */
	memset(long_key, 'k', sizeof(long_key) - 1);
	ck_assert_uint_eq(
	    put_meta(long_key, 3, 3, HASH_A, "n", "t"), ST_BAD_COMMAND);
	long_key[KEYS_USER_KEY_MAX] = '\0';
	ck_assert_uint_eq(put_meta(long_key, 3, 3, HASH_A, "n", "t"), ST_OK);
	ck_assert_uint_eq(put_meta("", 3, 3, HASH_A, "n", "t"), ST_BAD_COMMAND);
	pb_init(&v);
	meta_encode(&v, 3, HASH_A, "node0", "n", "t");
	ck_assert_uint_eq(put_value("a\0b", 3, &v, 3), ST_BAD_COMMAND);
	/* trailing bytes after the fields */
	pb_add_u8(&v, 1);
	ck_assert_uint_eq(put_value("k", 1, &v, 3), ST_BAD_COMMAND);
	pb_free(&v);
	/* a missing field */
	pb_init(&v);
	pb_add_str(&v, "owner");
	pb_add_str(&v, "node0");
	ck_assert_uint_eq(put_value("k", 1, &v, 3), ST_BAD_COMMAND);
	pb_free(&v);
	ck_assert_uint_eq(get("s1", "k", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(disk("s1"), 6);
	/* a delete needs a key too */
	ck_assert_uint_eq(del(2, "s1", ""), ST_BAD_COMMAND);
}
END_TEST

START_TEST(iterate_skips_tombstones_before_paging)
{
	static const char *const keys[] = { "k1", "k2", "k3", "k4", "k5",
		"x1" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_uint_eq(put((int64_t)i + 1, "s1", keys[i], 1), ST_OK);
	ck_assert_uint_eq(put(9, "s2", "k9", 1), ST_OK);
	ck_assert_uint_eq(del(10, "s1", "k1"), ST_OK);
	ck_assert_uint_eq(del(11, "s1", "k3"), ST_OK);
	ck_iterate("s1", "", 0, 100, "k2,k4,k5,x1,");
	ck_iterate("s1", "k", 0, 100, "k2,k4,k5,");
	/* offset counts live blobs only: k2 is skipped, not k1 */
	ck_iterate("s1", "k", 1, 100, "k4,k5,");
	ck_iterate("s1", "k", 1, 1, "k4,");
	ck_iterate("s1", "k", 3, 10, "");
	ck_iterate("s1", "k", 0, 0, "");
	ck_iterate("s2", "", 0, 100, "k9,");
	ck_iterate("s3", "", 0, 100, "");
}
END_TEST

START_TEST(iterate_limit_bounded)
{
	char key[16];
	struct pbuf out;
	struct pread rd;
	uint16_t status;
	uint8_t cons;
	uint32_t n;

	for (int i = 0; i < FSM_ITERATE_LIMIT_MAX + 5; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		ck_assert_uint_eq(put(i + 1, "s1", key, 0), ST_OK);
	}
	read_run(READ_BLOB_ITERATE, "s1", "", 0, 0, 5000, &out);
	pr_init(&rd, out.data, out.len);
	pr_get_u16(&rd, &status);
	pr_get_u8(&rd, &cons);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_int_eq(pr_get_u32(&rd, &n), 0);
	ck_assert_uint_eq(n, FSM_ITERATE_LIMIT_MAX);
	pb_free(&out);
}
END_TEST

/* one READ_BLOB_SCAN step appended to got as "scope/key=state,"; the
 * next cursor into cursor */
static uint32_t
scan_step(struct keybuf *cursor, uint64_t limit, struct pbuf *got)
{
	const uint8_t *s, *k, *rec, *next;
	size_t slen, klen, rlen, nlen;
	struct fsm_blob_rec r;
	struct pbuf out;
	struct pread rd;
	uint16_t status;
	uint8_t cons;
	uint32_t n;
	char state[8];

	/* the scan crosses scopes: it needs no scope */
	read_run(READ_BLOB_SCAN, "", (const char *)cursor->b, cursor->len, 0,
	    limit, &out);
	pr_init(&rd, out.data, out.len);
	pr_get_u16(&rd, &status);
	pr_get_u8(&rd, &cons);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_int_eq(pr_get_u32(&rd, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_int_eq(pr_get_bytes(&rd, &s, &slen), 0);
		ck_assert_int_eq(pr_get_bytes(&rd, &k, &klen), 0);
		ck_assert_int_eq(pr_get_bytes(&rd, &rec, &rlen), 0);
		ck_assert_int_eq(fsm_blob_rec_decode(rec, rlen, &r), 0);
		pb_add_raw(got, s, slen);
		pb_add_raw(got, "/", 1);
		pb_add_raw(got, k, klen);
		snprintf(state, sizeof(state), "=%u,", r.state);
		pb_add_raw(got, state, strlen(state));
	}
	ck_assert_int_eq(pr_get_bytes(&rd, &next, &nlen), 0);
	ck_assert_int_eq(pr_end(&rd), 0);
	ck_assert_uint_le(nlen, sizeof(cursor->b));
	memcpy(cursor->b, next, nlen);
	cursor->len = nlen;
	pb_free(&out);
	return n;
}

START_TEST(scan_cursor_over_scopes)
{
	struct keybuf cursor = { .len = 0 };
	struct pbuf got;
	int steps = 0;

	ck_assert_uint_eq(put(1, "s2", "b", 1), ST_OK);
	ck_assert_uint_eq(put(2, "s1", "a:1", 1), ST_OK);
	ck_assert_uint_eq(put(3, "s3", "z", 1), ST_OK);
	ck_assert_uint_eq(put(4, "s1", "a", 1), ST_OK);
	ck_assert_uint_eq(put(5, "s2", "a", 1), ST_OK);
	ck_assert_uint_eq(del(6, "s2", "a"), ST_OK);
	/* two at a time until the cursor comes back empty */
	pb_init(&got);
	do {
		ck_assert_uint_le(scan_step(&cursor, 2, &got), 2);
		steps++;
	} while (cursor.len > 0 && steps < 10);
	ck_assert_int_eq(steps, 3);
	pb_add_u8(&got, 0);
	/* tombstoned ones are included, with their state */
	ck_assert_str_eq(
	    (const char *)got.data, "s1/a=0,s1/a:1=0,s2/a=1,s2/b=0,s3/z=0,");
	pb_free(&got);
	/* all at once; limit 0 is the largest */
	pb_init(&got);
	ck_assert_uint_eq(scan_step(&cursor, 0, &got), 5);
	ck_assert_uint_eq(cursor.len, 0);
	pb_free(&got);
	/* an empty family */
	teardown();
	setup();
	pb_init(&got);
	ck_assert_uint_eq(scan_step(&cursor, 10, &got), 0);
	ck_assert_uint_eq(cursor.len, 0);
	pb_free(&got);
}
END_TEST

START_TEST(gc_scan_finds_tombstones)
{
	struct keybuf cursor = { .len = 0 };
	struct fsm_result res;
	struct fsm_blob_rec r;
	struct pbuf out, list;
	struct cmd c;
	int n;

	ck_assert_uint_eq(put(1, "s1", "a", 1), ST_OK);
	ck_assert_uint_eq(put(2, "s1", "b", 1), ST_OK);
	ck_assert_uint_eq(put(3, "s2", "c", 1), ST_OK);
	ck_assert_uint_eq(put(4, "s2", "d", 1), ST_OK);
	ck_assert_uint_eq(del(5, "s1", "b"), ST_OK);
	ck_assert_uint_eq(del(6, "s2", "d"), ST_OK);
	/* a bounded step resumes from its cursor */
	pb_init(&out);
	n = fsm_blobs_tombstoned(fsm, &cursor, 2, 100, &out);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_gt(cursor.len, 0);
	n += fsm_blobs_tombstoned(fsm, &cursor, 2, 100, &out);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(cursor.len, 0);
	/* the list is what GC proposes: u32 n, then the pairs */
	pb_init(&list);
	pb_add_u32(&list, (uint32_t)n);
	pb_add_raw(&list, out.data, out.len);
	cmd_init(&c, CMD_BLOB_PURGE, 7, "s1", NULL);
	c.value = list.data;
	c.value_len = list.len;
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(apply_cmd(&c, &res), ST_OK);
	ck_removed(&res, "s1/b,s2/d,");
	fsm_result_clear(&res);
	pb_free(&list);
	pb_free(&out);
	ck_assert_uint_eq(get("s1", "b", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	/* at most max per step */
	ck_assert_uint_eq(del(8, "s1", "a"), ST_OK);
	ck_assert_uint_eq(del(9, "s2", "c"), ST_OK);
	pb_init(&out);
	ck_assert_int_eq(fsm_blobs_tombstoned(fsm, &cursor, 100, 1, &out), 1);
	ck_assert_uint_gt(cursor.len, 0);
	pb_free(&out);
}
END_TEST

/* a key command on KEY_UUID in scope ds; res (when not NULL) the caller's */
static uint16_t
key_cmd(uint16_t type, const char *ds, struct fsm_result *res)
{
	struct pbuf v;
	struct cmd c;
	uint16_t st;

	pb_init(&v);
	if (type == CMD_KEY_CREATE) {
		pb_add_str(&v, "name");
		pb_add_str(&v, "entity");
		pb_add_str(&v, "token");
	}
	cmd_init(&c, type, 1, ds, KEY_UUID);
	c.value = v.data;
	c.value_len = v.len;
	st = apply_cmd(&c, res);
	pb_free(&v);
	return st;
}

static size_t
blob_count(void)
{
	rocksdb_iterator_t *it;
	size_t n = 0;

	it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[STORE_CF_BLOB]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it))
		n++;
	rocksdb_iter_destroy(it);
	return n;
}

START_TEST(key_purge_removes_blobs)
{
	struct fsm_result res;
	struct fsm_blob_rec r;

	fsm_key_guard_set(fsm, true);
	ck_assert_uint_eq(key_cmd(CMD_KEY_CREATE, "ds1", NULL), ST_OK);
	ck_assert_uint_eq(put(2, "ds1", "a", 3), ST_OK);
	ck_assert_uint_eq(put(3, "ds1", "b", 4), ST_OK);
	ck_assert_uint_eq(del(4, "ds1", "b"), ST_OK);
	ck_assert_uint_eq(put(5, ROOT, "keep", 1), ST_OK);
	ck_assert_uint_eq(key_cmd(CMD_KEY_TOMBSTONE, "ds1", NULL), ST_OK);
	/* a deleted key's scope takes no new blob */
	ck_assert_uint_eq(put(6, "ds1", "c", 1), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(get("ds1", "c", &r), ST_NOT_FOUND);
	/* blobs are data: FINISH waits for a purge */
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(key_cmd(CMD_KEY_FINISH, "ds1", &res), ST_OK);
	ck_assert_uint_eq(res.data_len, 1);
	ck_assert_uint_eq(res.data[0], 0);
	fsm_result_clear(&res);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(key_cmd(CMD_KEY_PURGE, "ds1", &res), ST_OK);
	ck_assert_uint_eq(res.data_len, 1);
	ck_assert_uint_eq(res.data[0], 1);
	/* live and tombstoned alike, each listed for the stream */
	ck_removed(&res, "ds1/a,ds1/b,");
	fsm_result_clear(&res);
	ck_assert_uint_eq(get("ds1", "a", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get("ds1", "b", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get(ROOT, "keep", &r), ST_OK);
	ck_assert_uint_eq(blob_count(), 1);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(key_cmd(CMD_KEY_FINISH, "ds1", &res), ST_OK);
	ck_assert_uint_eq(res.data[0], 1);
	fsm_result_clear(&res);
}
END_TEST

START_TEST(key_purge_budget_counts_blobs)
{
	struct fsm_result res;
	char key[16];
	size_t removed;
	struct pread rd;

	fsm_key_guard_set(fsm, true);
	ck_assert_uint_eq(key_cmd(CMD_KEY_CREATE, "ds1", NULL), ST_OK);
	for (int i = 0; i < 1003; i++) {
		snprintf(key, sizeof(key), "b%04d", i);
		ck_assert_uint_eq(put(i + 2, "ds1", key, 1), ST_OK);
	}
	ck_assert_uint_eq(key_cmd(CMD_KEY_TOMBSTONE, "ds1", NULL), ST_OK);
	/* at most 1000 records per purge command */
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(key_cmd(CMD_KEY_PURGE, "ds1", &res), ST_OK);
	ck_assert_uint_eq(res.data[0], 0);
	removed = 0;
	pr_init(&rd, res.blobs_removed, res.blobs_removed_len);
	while (pr_remaining(&rd) > 0) {
		const uint8_t *p;
		size_t len;

		ck_assert_int_eq(pr_get_bytes(&rd, &p, &len), 0);
		ck_assert_int_eq(pr_get_bytes(&rd, &p, &len), 0);
		removed++;
	}
	ck_assert_uint_eq(removed, 1000);
	fsm_result_clear(&res);
	ck_assert_uint_eq(blob_count(), 1003 - removed);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(key_cmd(CMD_KEY_PURGE, "ds1", &res), ST_OK);
	ck_assert_uint_eq(res.data[0], 1);
	fsm_result_clear(&res);
	ck_assert_uint_eq(blob_count(), 0);
}
END_TEST

START_TEST(blobs_survive_reopen_and_snapshot)
{
	struct raft_snapshot_meta meta;
	struct fsm_blob_rec r;
	char dir2[64];
	uint8_t *data;
	uint64_t len, index;

	ck_assert_uint_eq(put(1, "s1", "a", 5), ST_OK);
	ck_assert_uint_eq(put(2, "s1", "b", 6), ST_OK);
	ck_assert_uint_eq(del(3, "s1", "b"), ST_OK);
	db_close();
	db_open();
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	index = applied_index();
	ck_assert_int_eq(node_snap_take(st, &data, &len), 0);
	db_close();
	memcpy(dir2, dir, sizeof(dir));
	snprintf(dir, sizeof(dir), "/tmp/check_fsm_blobs.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	db_open();
	ck_assert_uint_eq(put(1, "s1", "stale", 1), ST_OK);
	memset(&meta, 0, sizeof(meta));
	meta.index = index;
	meta.term = 1;
	node_snap_install(st, &meta, data, len);
	free(data);
	fsm_reload(fsm);
	/* the snapshot replaces the blob records too */
	ck_assert_uint_eq(get("s1", "stale", &r), ST_NOT_FOUND);
	ck_assert_uint_eq(get("s1", "a", &r), ST_OK);
	ck_assert_uint_eq(r.meta.size, 5);
	ck_assert_uint_eq(get("s1", "b", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_TOMBSTONED);
	ck_assert_int_eq(r.tombstoned_at, 3);
	ck_assert_uint_eq(disk("s1"), 5);
	ck_assert_uint_eq(put(9, "s1", "b", 1), ST_BLOB_TOMBSTONED);
	nftw(dir2, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* --- the applied-blob stream --- */

struct captured {
	int replies;
	uint8_t *data;
	size_t len;
};

static struct captured cap;

static void
capture(void *waiter, const uint8_t *p, size_t len)
{
	ck_assert_ptr_eq(waiter, &cap);
	free(cap.data);
	cap.data = malloc(len);
	ck_assert_ptr_nonnull(cap.data);
	memcpy(cap.data, p, len);
	cap.len = len;
	cap.replies++;
}

static void
stream_request(struct raftd_blobs *rb, uint64_t epoch, uint64_t after)
{
	struct pbuf pb;

	pb_init(&pb);
	pb_add_u64(&pb, epoch);
	pb_add_u64(&pb, after);
	raftd_blobs_request(rb, &cap, pb.data, pb.len);
	pb_free(&pb);
}

struct reply_head {
	uint64_t epoch, lost, last;
	uint32_t n;
};

/* the captured reply's head, and its records as "seq:kind:scope/key:
 * size:hash8:node," (hash8: the first 8 characters) */
static void
ck_reply(struct reply_head *h, const char *want)
{
	const uint8_t *scope, *key, *hash, *node;
	size_t slen, klen, hlen, nlen;
	struct pbuf got;
	struct pread rd;
	char line[128];

	pr_init(&rd, cap.data, cap.len);
	pr_get_u64(&rd, &h->epoch);
	pr_get_u64(&rd, &h->lost);
	pr_get_u64(&rd, &h->last);
	ck_assert_int_eq(pr_get_u32(&rd, &h->n), 0);
	pb_init(&got);
	for (uint32_t i = 0; i < h->n; i++) {
		uint64_t seq, size;
		uint8_t kind;

		pr_get_u64(&rd, &seq);
		pr_get_u8(&rd, &kind);
		pr_get_bytes(&rd, &scope, &slen);
		pr_get_bytes(&rd, &key, &klen);
		pr_get_u64(&rd, &size);
		pr_get_bytes(&rd, &hash, &hlen);
		ck_assert_int_eq(pr_get_bytes(&rd, &node, &nlen), 0);
		snprintf(line, sizeof(line),
		    "%llu:%u:%.*s/%.*s:%llu:%.*s:%.*s,",
		    (unsigned long long)seq, kind, (int)slen,
		    (const char *)scope, (int)klen, (const char *)key,
		    (unsigned long long)size, hlen > 8 ? 8 : (int)hlen,
		    (const char *)hash, (int)nlen, (const char *)node);
		pb_add_raw(&got, line, strlen(line));
	}
	ck_assert_int_eq(pr_end(&rd), 0);
	pb_add_u8(&got, 0);
	if (want != NULL)
		ck_assert_str_eq((const char *)got.data, want);
	pb_free(&got);
}

/* applies a put through the state machine and hands it to the stream */
static uint16_t
stream_put(
    struct raftd_blobs *rb, const char *scope, const char *key, uint64_t size)
{
	struct fsm_result res;
	struct pbuf pb, v;
	struct cmd c;
	uint16_t status;

	pb_init(&v);
	meta_encode(&v, size, HASH_A, "node2", "f", "t");
	cmd_init(&c, CMD_BLOB_PUT, 1, scope, key);
	c.num = (int64_t)size;
	c.value = v.data;
	c.value_len = v.len;
	pb_init(&pb);
	cmd_encode(&pb, &c);
	memset(&res, 0, sizeof(res));
	status = apply_cmd(&c, &res);
	raftd_blobs_applied(rb, pb.data, pb.len, &res);
	fsm_result_clear(&res);
	pb_free(&pb);
	pb_free(&v);
	return status;
}

START_TEST(stream_put_purge_resync)
{
	static const char *const list[] = { "s1/a", "s1/b" };
	struct raftd_blobs *rb = raftd_blobs_new();
	struct reply_head h;
	struct fsm_result res;
	struct pbuf pb;
	struct cmd c;
	uint64_t epoch = raftd_blobs_epoch(rb);

	memset(&cap, 0, sizeof(cap));
	raftd_blobs_set_reply(rb, capture);
	ck_assert_uint_ne(epoch, 0);
	/* no epoch yet: answered at once, empty */
	stream_request(rb, 0, 0);
	ck_assert_int_eq(cap.replies, 1);
	ck_reply(&h, "");
	ck_assert_uint_eq(h.epoch, epoch);
	ck_assert_uint_eq(h.last, 0);
	/* a refused put is no record */
	ck_assert_uint_eq(stream_put(rb, "s1", "a", 10), ST_OK);
	ck_assert_uint_eq(stream_put(rb, "s1", "a", 10), ST_KEY_EXISTS);
	ck_assert_uint_eq(stream_put(rb, "s1", "b", 0), ST_OK);
	stream_request(rb, epoch, 0);
	ck_assert_int_eq(cap.replies, 2);
	ck_reply(&h, "1:1:s1/a:10:9f86d081:node2,2:1:s1/b:0:9f86d081:node2,");
	ck_assert_uint_eq(h.last, 2);
	ck_assert_uint_eq(h.lost, 0);
	/* nothing after 2: the request waits for the next record */
	stream_request(rb, epoch, 2);
	ck_assert_int_eq(cap.replies, 2);
	ck_assert_uint_eq(del(2, "s1", "a"), ST_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(purge(list, 2, &res), ST_OK);
	cmd_init(&c, CMD_BLOB_PURGE, 1, "s1", NULL);
	pb_init(&pb);
	cmd_encode(&pb, &c);
	raftd_blobs_applied(rb, pb.data, pb.len, &res);
	pb_free(&pb);
	fsm_result_clear(&res);
	ck_assert_int_eq(cap.replies, 3);
	/* only a was purged: b is live */
	ck_reply(&h, "3:2:s1/a:0::,");
	ck_assert_uint_eq(h.last, 3);
	/* a snapshot install */
	stream_request(rb, epoch, 3);
	ck_assert_int_eq(cap.replies, 3);
	raftd_blobs_resync(rb);
	ck_assert_int_eq(cap.replies, 4);
	ck_reply(&h, "4:3:/:0::,");
	/* an unknown epoch (raftd restarted) starts from the oldest */
	stream_request(rb, epoch + 2, 4);
	ck_assert_int_eq(cap.replies, 5);
	ck_reply(&h, NULL);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_uint_eq(h.lost, 0);
	/* a waiter past its time, or at stop, gets an empty reply */
	stream_request(rb, epoch, 4);
	ck_assert_int_eq(cap.replies, 5);
	raftd_blobs_tick(rb, false);
	ck_assert_int_eq(cap.replies, 5);
	raftd_blobs_tick(rb, true);
	ck_assert_int_eq(cap.replies, 6);
	ck_reply(&h, "");
	ck_assert_uint_eq(h.last, 4);
	raftd_blobs_free(rb);
	free(cap.data);
	memset(&cap, 0, sizeof(cap));
}
END_TEST

START_TEST(stream_ring_bounded)
{
	struct raftd_blobs *rb = raftd_blobs_new();
	uint64_t epoch = raftd_blobs_epoch(rb), seen = 0, total = 0;
	struct reply_head h;
	struct fsm_result res;
	struct pbuf pb, v;
	struct cmd c;
	char key[16];

	memset(&cap, 0, sizeof(cap));
	raftd_blobs_set_reply(rb, capture);
	pb_init(&v);
	meta_encode(&v, 1, HASH_A, "n", "f", "t");
	memset(&res, 0, sizeof(res));
	for (int i = 0; i < RAFTD_BLOBS_RING + 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cmd_init(&c, CMD_BLOB_PUT, 1, "s1", key);
		c.num = 1;
		c.value = v.data;
		c.value_len = v.len;
		pb_init(&pb);
		cmd_encode(&pb, &c);
		raftd_blobs_applied(rb, pb.data, pb.len, &res);
		pb_free(&pb);
	}
	pb_free(&v);
	/* records 2..10 left the ring before they were fetched */
	stream_request(rb, epoch, 1);
	ck_reply(&h, NULL);
	ck_assert_uint_eq(h.lost, 9);
	ck_assert_uint_gt(h.n, 0);
	ck_assert_uint_le(cap.len, RAFTD_BLOBS_REPLY_BYTES + 64);
	/* the rest comes in bounded replies, in order, none twice */
	for (int i = 0; i < 100 && h.last < RAFTD_BLOBS_RING + 10; i++) {
		total += h.n;
		ck_assert_uint_gt(h.last, seen);
		seen = h.last;
		stream_request(rb, epoch, seen);
		ck_reply(&h, NULL);
		ck_assert_uint_eq(h.lost, 0);
	}
	total += h.n;
	ck_assert_uint_eq(h.last, RAFTD_BLOBS_RING + 10);
	ck_assert_uint_eq(total, RAFTD_BLOBS_RING);
	raftd_blobs_free(rb);
	free(cap.data);
	memset(&cap, 0, sizeof(cap));
}
END_TEST

/* --- blob GC on a one-node cluster, the stream fed by the node's hook --- */

static struct event_base *base;
static struct node *gnode;
static int answered;

static void
n_send(void *arg, const struct raft_msg *m)
{
	(void)arg;
	(void)m;
}

static void
n_proposed(void *w, const struct fsm_result *res, void *arg)
{
	(void)arg;
	if (w != NULL)
		*(uint16_t *)w = res->status;
	answered++;
}

static void
n_applied_result(
    void *arg, const uint8_t *cmd, size_t len, const struct fsm_result *res)
{
	raftd_blobs_applied(arg, cmd, len, res);
}

static int64_t
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* runs the loop until *count reaches want; bounded by 5 s */
static void
run_until_count(const int *count, int want)
{
	struct timeval tv = { 0, 10000 };
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (*count < want) {
		ck_assert_int_lt(ms_since(&t0), 5000);
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
node_start(struct raftd_blobs *rb)
{
	struct timeval tv = { 0, 10000 };
	struct node_opts o;
	struct node_hooks h;
	struct timespec t0;

	evthread_use_pthreads();
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&o, 0, sizeof(o));
	o.id = 1;
	o.bootstrap = true;
	o.heartbeat_ms = 20;
	o.election_ms = 100;
	o.seed = 42;
	memset(&h, 0, sizeof(h));
	h.send = n_send;
	h.proposed = n_proposed;
	h.applied_result = n_applied_result;
	h.arg = rb;
	gnode = node_open(st, fsm, base, &o, &h);
	ck_assert_ptr_nonnull(gnode);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (raft_role(node_core(gnode)) != RAFT_LEADER) {
		ck_assert_int_lt(ms_since(&t0), 5000);
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
node_stop(void)
{
	node_close(gnode);
	gnode = NULL;
	event_base_free(base);
	base = NULL;
}

/* proposes c through the node and waits for its apply */
static uint16_t
node_apply(struct cmd *c)
{
	uint64_t leader;
	uint16_t status = UINT16_MAX;
	int want = answered + 1;

	ck_assert_uint_eq(node_propose(gnode, c, &status, &leader), ST_OK);
	run_until_count(&answered, want);
	return status;
}

static uint16_t
node_put(const char *key, uint64_t size)
{
	struct pbuf v;
	struct cmd c;
	uint16_t status;

	pb_init(&v);
	meta_encode(&v, size, HASH_A, "node0", "f", "t");
	cmd_init(&c, CMD_BLOB_PUT, 0, "s1", key);
	c.num = (int64_t)size;
	c.value = v.data;
	c.value_len = v.len;
	status = node_apply(&c);
	pb_free(&v);
	return status;
}

static int gone;

/* the purge has no waiter: its effect is watched instead */
static void
gone_check(evutil_socket_t fd, short what, void *arg)
{
	struct fsm_blob_rec r;

	(void)fd;
	(void)what;
	(void)arg;
	if (get("s1", "a", &r) == ST_NOT_FOUND)
		gone = 1;
}

START_TEST(gc_purges_on_the_leader)
{
	struct raftd_blobs *rb = raftd_blobs_new();
	struct timeval tv = { 0, 5000 };
	struct reply_head h;
	struct fsm_blob_rec r;
	struct blob_gc *gc;
	struct event *ev;
	struct cmd c;

	memset(&cap, 0, sizeof(cap));
	raftd_blobs_set_reply(rb, capture);
	node_start(rb);
	gc = blob_gc_start(base, gnode, fsm, 3600000);
	/* nothing tombstoned: nothing proposed */
	ck_assert_int_eq(blob_gc_run(gc), 0);
	ck_assert_uint_eq(node_put("a", 3), ST_OK);
	ck_assert_uint_eq(node_put("b", 4), ST_OK);
	ck_assert_int_eq(blob_gc_run(gc), 0);
	cmd_init(&c, CMD_BLOB_DELETE, 0, "s1", "a");
	ck_assert_uint_eq(node_apply(&c), ST_OK);
	ck_assert_uint_eq(disk("s1"), 4);
	/* the next pass purges the tombstone, whatever its age */
	gone = 0;
	ev = event_new(base, -1, EV_PERSIST, gone_check, NULL);
	event_add(ev, &tv);
	ck_assert_int_eq(blob_gc_run(gc), 1);
	run_until_count(&gone, 1);
	event_free(ev);
	ck_assert_uint_eq(get("s1", "b", &r), ST_OK);
	ck_assert_uint_eq(r.state, FSM_BLOB_LIVE);
	ck_assert_int_eq(blob_gc_run(gc), 0);
	/* the node's hook fed the stream: two puts, then the purge */
	stream_request(rb, 0, 0);
	ck_assert_int_eq(cap.replies, 1);
	ck_reply(&h,
	    "1:1:s1/a:3:9f86d081:node0,2:1:s1/b:4:9f86d081:node0,"
	    "3:2:s1/a:0::,");
	blob_gc_free(gc);
	node_stop();
	raftd_blobs_free(rb);
	free(cap.data);
	memset(&cap, 0, sizeof(cap));
}
END_TEST

static Suite *
fsm_blobs_suite(void)
{
	Suite *s = suite_create("fsm_blobs");
	TCase *tc = tcase_create("apply");
	TCase *ts = tcase_create("stream");
	TCase *tn = tcase_create("node");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_refusal_order);
	tcase_add_test(tc, put_disk_quota);
	tcase_add_test(tc, delete_tombstones);
	tcase_add_test(tc, purge_only_tombstoned);
	tcase_add_test(tc, purge_malformed_changes_nothing);
	tcase_add_test(tc, put_validation);
	tcase_add_test(tc, iterate_skips_tombstones_before_paging);
	tcase_add_test(tc, iterate_limit_bounded);
	tcase_add_test(tc, scan_cursor_over_scopes);
	tcase_add_test(tc, gc_scan_finds_tombstones);
	tcase_add_test(tc, key_purge_removes_blobs);
	tcase_add_test(tc, key_purge_budget_counts_blobs);
	tcase_add_test(tc, blobs_survive_reopen_and_snapshot);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_add_test(ts, stream_put_purge_resync);
	tcase_add_test(ts, stream_ring_bounded);
	suite_add_tcase(s, ts);
	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_set_timeout(tn, 30);
	tcase_add_test(tn, gc_purges_on_the_leader);
	suite_add_tcase(s, tn);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(fsm_blobs_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
