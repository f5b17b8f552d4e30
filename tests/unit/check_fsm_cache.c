/*
 * Apply and reads of the cache family (API.md §12): expiry decided by the
 * command's ts in apply and by the clock in reads, bytes_in_memory
 * accounting and its limit (§7.1), CMD_CACHE_EXPIRE and the sweep's scan.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "raftd/fsm.h"
#include "raftd/fsm_cache.h"
#include "raftd/fsm_int.h"
#include "raftd/keys.h"
#include "raftd/node_snap.h"
#include "raftd/store.h"

#define ROOT "root"
#define MS 1000000LL
#define HOUR_MS 3600000LL

static char dir[64];
static struct store *st;
static struct fsm *fsm;
/* a ts an hour from now: entries it writes are live for reads */
static int64_t now_ts;

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
	snprintf(dir, sizeof(dir), "/tmp/check_fsm_cache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	db_open();
	now_ts = fsm_cache_now();
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

/* a cache command at ts with num = ttl in ms */
static uint16_t
capply(uint16_t type, int64_t ts, const char *scope, const char *key,
    const char *value, const char *old, int64_t ttl_ms, struct fsm_result *res)
{
	struct cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.ts = ts;
	snprintf(c.scope, sizeof(c.scope), "%s", scope);
	c.key = (const uint8_t *)key;
	c.key_len = key != NULL ? strlen(key) : 0;
	c.value = (const uint8_t *)value;
	c.value_len = value != NULL ? strlen(value) : 0;
	c.old_value = (const uint8_t *)old;
	c.old_value_len = old != NULL ? strlen(old) : 0;
	c.num = ttl_ms;
	return apply_cmd(&c, res);
}

static uint16_t
cset(int64_t ts, const char *scope, const char *key, const char *value,
    int64_t ttl_ms)
{
	return capply(CMD_CACHE_SET, ts, scope, key, value, NULL, ttl_ms, NULL);
}

static uint16_t
csetnx(int64_t ts, const char *scope, const char *key, const char *value,
    int64_t ttl_ms)
{
	return capply(
	    CMD_CACHE_SETNX, ts, scope, key, value, NULL, ttl_ms, NULL);
}

static uint16_t
ccas(int64_t ts, const char *scope, const char *key, const char *old,
    const char *value)
{
	return capply(CMD_CACHE_CAS, ts, scope, key, value, old, 0, NULL);
}

static uint16_t
cdel(int64_t ts, const char *scope, const char *key)
{
	return capply(CMD_CACHE_DELETE, ts, scope, key, NULL, NULL, 0, NULL);
}

/* CMD_CACHE_EXPIRE at ts of n (scope, key) pairs; raw n when n_said >= 0 */
static uint16_t
cexpire(int64_t ts, const char *const *pairs, size_t n, int64_t n_said)
{
	struct pbuf list;
	struct cmd c;
	uint16_t status;

	pb_init(&list);
	pb_add_u32(&list, n_said >= 0 ? (uint32_t)n_said : (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		pb_add_bytes(&list, pairs[2 * i], strlen(pairs[2 * i]));
		pb_add_bytes(&list, pairs[2 * i + 1], strlen(pairs[2 * i + 1]));
	}
	memset(&c, 0, sizeof(c));
	c.type = CMD_CACHE_EXPIRE;
	c.ts = ts;
	snprintf(c.scope, sizeof(c.scope), "%s", "s1");
	c.value = list.data;
	c.value_len = list.len;
	status = apply_cmd(&c, NULL);
	pb_free(&list);
	return status;
}

/* a read; the value of GET ("" when empty) or NULL when not found */
static char *
cget_op(uint16_t op, const char *scope, const char *key)
{
	struct read_req q;
	struct pbuf out;
	struct pread r;
	uint16_t status;
	uint8_t cons;
	const uint8_t *val;
	size_t vlen;
	char *s = NULL;

	memset(&q, 0, sizeof(q));
	q.op = op;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)key;
	q.key_len = strlen(key);
	pb_init(&out);
	fsm_read(fsm, &q, &out);
	pr_init(&r, out.data, out.len);
	ck_assert_int_eq(pr_get_u16(&r, &status), 0);
	ck_assert_int_eq(pr_get_u8(&r, &cons), 0);
	if (status == ST_OK) {
		ck_assert_int_eq(pr_get_bytes(&r, &val, &vlen), 0);
		s = strndup((const char *)val, vlen);
	} else
		ck_assert_uint_eq(status, ST_NOT_FOUND);
	ck_assert_int_eq(pr_end(&r), 0);
	pb_free(&out);
	return s;
}

static void
ck_op_value(uint16_t op, const char *scope, const char *key, const char *want)
{
	char *got = cget_op(op, scope, key);

	if (want == NULL)
		ck_assert_ptr_null(got);
	else {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, want);
	}
	free(got);
}

static void
ck_cache(const char *scope, const char *key, const char *want)
{
	ck_op_value(READ_CACHE_GET, scope, key, want);
}

/* iterate as "k1,k2," */
static void
ck_iterate(const char *scope, const char *prefix, uint64_t offset,
    uint64_t limit, const char *want)
{
	struct read_req q;
	struct pbuf out, got;
	struct pread r;
	uint16_t status;
	uint8_t cons;
	uint32_t n;

	memset(&q, 0, sizeof(q));
	q.op = READ_CACHE_ITERATE;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)prefix;
	q.key_len = strlen(prefix);
	q.offset = offset;
	q.limit = limit;
	pb_init(&out);
	pb_init(&got);
	fsm_read(fsm, &q, &out);
	pr_init(&r, out.data, out.len);
	pr_get_u16(&r, &status);
	pr_get_u8(&r, &cons);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_int_eq(pr_get_u32(&r, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *k;
		size_t klen;

		ck_assert_int_eq(pr_get_bytes(&r, &k, &klen), 0);
		pb_add_raw(&got, k, klen);
		pb_add_raw(&got, ",", 1);
	}
	ck_assert_int_eq(pr_end(&r), 0);
	pb_add_u8(&got, 0);
	ck_assert_str_eq((const char *)got.data, want);
	pb_free(&got);
	pb_free(&out);
}

static uint64_t
usage(const char *scope, enum fsm_counter ctr)
{
	struct fsm_usage u;

	ck_assert_int_eq(fsm_usage_read(fsm, scope, &u), 0);
	return u.c[ctr];
}

static uint64_t
mem(const char *scope)
{
	return usage(scope, FSM_BYTES_IN_MEMORY);
}

static void
set_limit(const char *scope, enum fsm_counter ctr, uint64_t limit)
{
	struct fsm_batch b;
	struct fsm_limits l;

	memset(&l, 0, sizeof(l));
	l.mask = 1u << ctr;
	l.v[ctr] = limit;
	fsm_batch_begin(fsm, &b);
	fsm_limits_put(&b, scope, &l);
	fsm_batch_commit(&b, 0, 0);
	fsm_batch_end(&b);
}

static size_t
cf_count(enum store_cf cf)
{
	rocksdb_iterator_t *it;
	size_t n = 0;

	it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[cf]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it))
		n++;
	rocksdb_iter_destroy(it);
	return n;
}

START_TEST(set_update_delete_accounting)
{
	ck_assert_uint_eq(cset(now_ts, "s1", "key", "value", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 8);
	ck_cache("s1", "key", "value");
	/* replacing: + (len(new) - len(old)) */
	ck_assert_uint_eq(cset(now_ts, "s1", "key", "vv", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 5);
	ck_assert_uint_eq(cset(now_ts, "s1", "key", "", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 3);
	ck_cache("s1", "key", "");
	ck_assert_uint_eq(cset(now_ts, "s1", "k2", "abcd", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 9);
	ck_assert_uint_eq(cdel(now_ts, "s1", "key"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 6);
	ck_cache("s1", "key", NULL);
	/* deleting an absent key succeeds and changes nothing */
	ck_assert_uint_eq(cdel(now_ts, "s1", "key"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 6);
	ck_assert_uint_eq(cdel(now_ts, "s1", "k2"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 0);
	/* the cache never counts on disk */
	ck_assert_uint_eq(usage("s1", FSM_BYTES_ON_DISK), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 0);
	/* byte lengths, not characters: "é" is 2 bytes */
	ck_assert_uint_eq(
	    cset(now_ts, "s1", "\xc3\xa9", "\xc3\xa9\xc3\xa9", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 6);
}
END_TEST

START_TEST(values_and_cache_are_separate)
{
	struct cmd c;

	ck_assert_uint_eq(cset(now_ts, "s1", "k", "cached", HOUR_MS), ST_OK);
	ck_op_value(READ_KV_GET, "s1", "k", NULL);
	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_SET;
	c.ts = now_ts;
	snprintf(c.scope, sizeof(c.scope), "s1");
	c.key = (const uint8_t *)"k";
	c.key_len = 1;
	c.value = (const uint8_t *)"stored";
	c.value_len = 6;
	ck_assert_uint_eq(apply_cmd(&c, NULL), ST_OK);
	ck_op_value(READ_KV_GET, "s1", "k", "stored");
	ck_cache("s1", "k", "cached");
	ck_assert_uint_eq(mem("s1"), 7);
	ck_assert_uint_eq(usage("s1", FSM_BYTES_ON_DISK), 7);
	ck_assert_uint_eq(cdel(now_ts, "s1", "k"), ST_OK);
	ck_op_value(READ_KV_GET, "s1", "k", "stored");
	ck_cache("s1", "k", NULL);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(usage("s1", FSM_BYTES_ON_DISK), 7);
	/* scopes are separate too */
	ck_assert_uint_eq(cset(now_ts, "s2", "k", "x", HOUR_MS), ST_OK);
	ck_cache("s1", "k", NULL);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(mem("s2"), 2);
}
END_TEST

START_TEST(setnx_and_cas_results)
{
	struct fsm_result res;

	ck_assert_uint_eq(csetnx(now_ts, "s1", "k", "one", HOUR_MS), ST_OK);
	ck_assert_uint_eq(
	    csetnx(now_ts, "s1", "k", "two", HOUR_MS), ST_KEY_EXISTS);
	ck_cache("s1", "k", "one");
	ck_assert_uint_eq(mem("s1"), 4);
	ck_assert_uint_eq(ccas(now_ts, "s1", "nope", "a", "b"), ST_NOT_FOUND);
	ck_assert_uint_eq(ccas(now_ts, "s1", "k", "on", "x"), ST_CAS_CONFLICT);
	ck_assert_uint_eq(ccas(now_ts, "s1", "k", "one", "three"), ST_OK);
	ck_cache("s1", "k", "three");
	ck_assert_uint_eq(mem("s1"), 6);
	/* quota: delta len(new) - len(old); KEY_EXISTS comes first */
	set_limit("s1", FSM_BYTES_IN_MEMORY, 7);
	ck_assert_uint_eq(capply(CMD_CACHE_CAS, now_ts, "s1", "k", "threeee",
			      "three", 0, &res),
	    ST_MEMORY_LIMIT);
	ck_assert_uint_eq(res.usage, 6);
	ck_assert_uint_eq(res.limit, 7);
	fsm_result_clear(&res);
	ck_cache("s1", "k", "three");
	ck_assert_uint_eq(
	    csetnx(now_ts, "s1", "k", "zzzzzzzzzz", HOUR_MS), ST_KEY_EXISTS);
	ck_assert_uint_eq(ccas(now_ts, "s1", "k", "three", "four"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 5);
}
END_TEST

START_TEST(memory_quota_boundary)
{
	struct fsm_result res;

	set_limit("s1", FSM_BYTES_IN_MEMORY, 10);
	/* usage + delta == limit is allowed */
	ck_assert_uint_eq(cset(now_ts, "s1", "k", "123456789", HOUR_MS), ST_OK);
	ck_assert_uint_eq(
	    capply(CMD_CACHE_SET, now_ts, "s1", "j", "", NULL, HOUR_MS, &res),
	    ST_MEMORY_LIMIT);
	ck_assert_uint_eq(res.usage, 10);
	ck_assert_uint_eq(res.limit, 10);
	fsm_result_clear(&res);
	ck_assert_uint_eq(
	    capply(CMD_CACHE_SETNX, now_ts, "s1", "j", "", NULL, HOUR_MS, &res),
	    ST_MEMORY_LIMIT);
	fsm_result_clear(&res);
	ck_cache("s1", "j", NULL);
	ck_assert_uint_eq(mem("s1"), 10);
	/* shrinking is never refused, even above a lowered limit */
	set_limit("s1", FSM_BYTES_IN_MEMORY, 2);
	ck_assert_uint_eq(cset(now_ts, "s1", "k", "1234", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem("s1"), 5);
	ck_assert_uint_eq(
	    cset(now_ts, "s1", "k", "12345", HOUR_MS), ST_MEMORY_LIMIT);
	ck_assert_uint_eq(cdel(now_ts, "s1", "k"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 0);
	/* a disk limit does not limit the cache, root is never limited */
	set_limit("s2", FSM_BYTES_ON_DISK, 0);
	ck_assert_uint_eq(cset(now_ts, "s2", "k", "v", HOUR_MS), ST_OK);
	set_limit(ROOT, FSM_BYTES_IN_MEMORY, 0);
	ck_assert_uint_eq(cset(now_ts, ROOT, "k", "v", HOUR_MS), ST_OK);
	ck_assert_uint_eq(mem(ROOT), 2);
}
END_TEST

/* apply decides expiry with ts only: expires_at = ts + ttl, <= ts is gone */
START_TEST(expiry_in_apply)
{
	int64_t t = now_ts;

	ck_assert_uint_eq(cset(t, "s1", "k", "old", 1000), ST_OK);
	ck_assert_uint_eq(
	    csetnx(t + 999 * MS, "s1", "k", "new", 1000), ST_KEY_EXISTS);
	ck_assert_uint_eq(mem("s1"), 4);
	/* at expires_at the entry is absent; setnx releases it first */
	ck_assert_uint_eq(
	    csetnx(t + 1000 * MS, "s1", "k", "newer", 1000), ST_OK);
	ck_assert_uint_eq(mem("s1"), 6);
	/* cas on an expired entry: not found, and its bytes are released */
	ck_assert_uint_eq(
	    ccas(t + 2000 * MS, "s1", "k", "newer", "x"), ST_NOT_FOUND);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 0);
	/* set over an expired entry counts it as created */
	ck_assert_uint_eq(cset(t, "s1", "a", "12345", 1000), ST_OK);
	ck_assert_uint_eq(cset(t + 5000 * MS, "s1", "a", "1", 1000), ST_OK);
	ck_assert_uint_eq(mem("s1"), 2);
	/* delete of an expired entry releases it as well */
	ck_assert_uint_eq(cdel(t + 9000 * MS, "s1", "a"), ST_OK);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 0);
}
END_TEST

START_TEST(cas_keeps_set_resets_expiry)
{
	int64_t t = now_ts;

	ck_assert_uint_eq(cset(t, "s1", "c", "v1", 1000), ST_OK);
	ck_assert_uint_eq(ccas(t + 500 * MS, "s1", "c", "v1", "v2"), ST_OK);
	/* the cas kept t + 1000 ms */
	ck_assert_uint_eq(csetnx(t + 1000 * MS, "s1", "c", "v3", 1000), ST_OK);
	ck_assert_uint_eq(mem("s1"), 3);

	ck_assert_uint_eq(cset(t, "s1", "s", "v1", 1000), ST_OK);
	ck_assert_uint_eq(cset(t + 500 * MS, "s1", "s", "v2", 1000), ST_OK);
	/* the second set moved the expiry to t + 1500 ms */
	ck_assert_uint_eq(
	    csetnx(t + 1200 * MS, "s1", "s", "v3", 1000), ST_KEY_EXISTS);
	ck_assert_uint_eq(csetnx(t + 1500 * MS, "s1", "s", "v3", 1000), ST_OK);
}
END_TEST

START_TEST(expire_command)
{
	int64_t t = now_ts;
	const char *pairs[] = { "s1", "a", "s1", "b", "s2", "a", "s1",
		"missing", "s1", "a" };

	ck_assert_uint_eq(cset(t, "s1", "a", "12", 1000), ST_OK);
	ck_assert_uint_eq(cset(t, "s1", "b", "123", 1000), ST_OK);
	ck_assert_uint_eq(cset(t, "s2", "a", "1234", 1000), ST_OK);
	/* b is refreshed after the sweep saw it expired: it stays */
	ck_assert_uint_eq(cset(t + 1500 * MS, "s1", "b", "123", 1000), ST_OK);
	ck_assert_uint_eq(mem("s1"), 7);
	ck_assert_uint_eq(mem("s2"), 5);
	ck_assert_uint_eq(cexpire(t + 2000 * MS, pairs, 5, -1), ST_OK);
	ck_assert_uint_eq(mem("s1"), 4);
	ck_assert_uint_eq(mem("s2"), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 1);
	/* an entry not yet expired at ts stays */
	ck_assert_uint_eq(cexpire(t + 2499 * MS, pairs + 2, 1, -1), ST_OK);
	ck_assert_uint_eq(mem("s1"), 4);
	ck_assert_uint_eq(cexpire(t + 2500 * MS, pairs + 2, 1, -1), ST_OK);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 0);
}
END_TEST

START_TEST(expire_malformed_changes_nothing)
{
	int64_t t = now_ts;
	const char *good[] = { "s1", "a" };
	const char *bad_scope[] = { "s1", "a", "s:1", "b" };
	const char *empty_key[] = { "s1", "a", "s1", "" };

	ck_assert_uint_eq(cset(t, "s1", "a", "12", 1000), ST_OK);
	/* the list says more entries than it has, or more than 1000 */
	ck_assert_uint_eq(cexpire(t + 2000 * MS, good, 1, 2), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    cexpire(t + 2000 * MS, good, 1, FSM_CACHE_EXPIRE_MAX + 1),
	    ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    cexpire(t + 2000 * MS, bad_scope, 2, -1), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    cexpire(t + 2000 * MS, empty_key, 2, -1), ST_BAD_COMMAND);
	/* trailing bytes after the list */
	ck_assert_uint_eq(cexpire(t + 2000 * MS, good, 1, 0), ST_BAD_COMMAND);
	ck_assert_uint_eq(mem("s1"), 3);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 1);
	ck_assert_uint_eq(cexpire(t + 2000 * MS, good, 1, -1), ST_OK);
	ck_assert_uint_eq(mem("s1"), 0);
}
END_TEST

START_TEST(bad_commands)
{
	ck_assert_uint_eq(cset(now_ts, "s1", "k", "v", 0), ST_BAD_COMMAND);
	ck_assert_uint_eq(csetnx(now_ts, "s1", "k", "v", -5), ST_BAD_COMMAND);
	ck_assert_uint_eq(cset(now_ts, "s1", "", "v", 1000), ST_BAD_COMMAND);
	ck_assert_uint_eq(mem("s1"), 0);
	ck_assert_uint_eq(cf_count(STORE_CF_CACHE), 0);
	/* a huge ttl saturates instead of wrapping into the past */
	ck_assert_uint_eq(cset(now_ts, "s1", "k", "v", INT64_MAX), ST_OK);
	ck_cache("s1", "k", "v");
}
END_TEST

/* reads use the node's clock: entries written an hour ago with ttl 1 s */
START_TEST(reads_hide_expired)
{
	int64_t past = now_ts - HOUR_MS * MS;

	ck_assert_uint_eq(cset(past, "s1", "a", "1", 1000), ST_OK);
	ck_assert_uint_eq(cset(now_ts, "s1", "b", "2", HOUR_MS), ST_OK);
	ck_assert_uint_eq(cset(past, "s1", "c", "3", 1000), ST_OK);
	ck_assert_uint_eq(cset(now_ts, "s1", "d", "4", HOUR_MS), ST_OK);
	ck_assert_uint_eq(cset(past, "s1", "e", "5", 1000), ST_OK);
	ck_cache("s1", "a", NULL);
	ck_cache("s1", "b", "2");
	/* still counted until removed */
	ck_assert_uint_eq(mem("s1"), 10);
	/* expired entries are filtered before offset and limit */
	ck_iterate("s1", "", 0, 100, "b,d,");
	ck_iterate("s1", "", 0, 1, "b,");
	ck_iterate("s1", "", 1, 1, "d,");
	ck_iterate("s1", "", 2, 1, "");
	ck_iterate("s1", "c", 0, 10, "");
	ck_iterate("s2", "", 0, 10, "");
}
END_TEST

static size_t
list_count(const struct pbuf *b, int n, const char *want)
{
	struct pread r;
	struct pbuf got;

	pb_init(&got);
	pr_init(&r, b->data, b->len);
	for (int i = 0; i < n; i++) {
		const uint8_t *s, *k;
		size_t slen, klen;

		ck_assert_int_eq(pr_get_bytes(&r, &s, &slen), 0);
		ck_assert_int_eq(pr_get_bytes(&r, &k, &klen), 0);
		pb_add_raw(&got, s, slen);
		pb_add_raw(&got, "/", 1);
		pb_add_raw(&got, k, klen);
		pb_add_raw(&got, ",", 1);
	}
	ck_assert_int_eq(pr_end(&r), 0);
	pb_add_u8(&got, 0);
	ck_assert_str_eq((const char *)got.data, want);
	pb_free(&got);
	return (size_t)n;
}

START_TEST(sweep_scan_bounded)
{
	int64_t past = now_ts - HOUR_MS * MS;
	struct keybuf cursor = { .len = 0 };
	struct pbuf out;
	int n;

	ck_assert_uint_eq(cset(past, "s1", "a", "1", 1000), ST_OK);
	ck_assert_uint_eq(cset(now_ts, "s1", "b", "2", HOUR_MS), ST_OK);
	ck_assert_uint_eq(cset(past, "s1", "c", "3", 1000), ST_OK);
	ck_assert_uint_eq(cset(past, "s2", "x:y", "4", 1000), ST_OK);
	/* the whole family at once */
	pb_init(&out);
	n = fsm_cache_expired(fsm, &cursor, now_ts, 100, 100, &out);
	ck_assert_int_eq(n, 3);
	list_count(&out, n, "s1/a,s1/c,s2/x:y,");
	ck_assert_uint_eq(cursor.len, 0);
	pb_free(&out);
	/* two entries scanned per step: the cursor resumes */
	pb_init(&out);
	n = fsm_cache_expired(fsm, &cursor, now_ts, 2, 100, &out);
	list_count(&out, n, "s1/a,");
	ck_assert_uint_gt(cursor.len, 0);
	pb_free(&out);
	pb_init(&out);
	n = fsm_cache_expired(fsm, &cursor, now_ts, 2, 100, &out);
	list_count(&out, n, "s1/c,s2/x:y,");
	ck_assert_uint_eq(cursor.len, 0);
	pb_free(&out);
	/* at most max entries per step */
	pb_init(&out);
	n = fsm_cache_expired(fsm, &cursor, now_ts, 100, 1, &out);
	list_count(&out, n, "s1/a,");
	pb_free(&out);
	/* a later clock sees b expired too */
	cursor.len = 0;
	pb_init(&out);
	n = fsm_cache_expired(
	    fsm, &cursor, now_ts + 2 * HOUR_MS * MS, 100, 100, &out);
	ck_assert_int_eq(n, 4);
	pb_free(&out);
}
END_TEST

START_TEST(entries_survive_reopen)
{
	ck_assert_uint_eq(cset(now_ts, "s1", "k", "kept", HOUR_MS), ST_OK);
	db_close();
	db_open();
	ck_cache("s1", "k", "kept");
	ck_assert_uint_eq(mem("s1"), 5);
}
END_TEST

/* a snapshot carries cache entries, their expiry and the usage */
START_TEST(entries_in_snapshot)
{
	struct raft_snapshot_meta meta;
	char dir2[64];
	uint8_t *data;
	uint64_t len, index;

	ck_assert_uint_eq(cset(now_ts, "s1", "k", "snap", HOUR_MS), ST_OK);
	ck_assert_uint_eq(
	    cset(now_ts - HOUR_MS * MS, "s1", "old", "x", 1000), ST_OK);
	index = applied_index();
	ck_assert_int_eq(node_snap_take(st, &data, &len), 0);
	db_close();
	memcpy(dir2, dir, sizeof(dir));
	snprintf(dir, sizeof(dir), "/tmp/check_fsm_cache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	db_open();
	ck_cache("s1", "k", NULL);
	memset(&meta, 0, sizeof(meta));
	meta.index = index;
	meta.term = 1;
	node_snap_install(st, &meta, data, len);
	free(data);
	fsm_reload(fsm);
	ck_assert_uint_eq(applied_index(), index);
	ck_cache("s1", "k", "snap");
	ck_cache("s1", "old", NULL);
	ck_assert_uint_eq(mem("s1"), 9);
	/* the expired entry came along and is still released by apply */
	ck_assert_uint_eq(csetnx(now_ts, "s1", "old", "yy", 1000), ST_OK);
	ck_assert_uint_eq(mem("s1"), 10);
	nftw(dir2, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

static Suite *
fsm_cache_suite(void)
{
	Suite *s = suite_create("fsm_cache");
	TCase *tc = tcase_create("apply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_update_delete_accounting);
	tcase_add_test(tc, values_and_cache_are_separate);
	tcase_add_test(tc, setnx_and_cas_results);
	tcase_add_test(tc, memory_quota_boundary);
	tcase_add_test(tc, expiry_in_apply);
	tcase_add_test(tc, cas_keeps_set_resets_expiry);
	tcase_add_test(tc, expire_command);
	tcase_add_test(tc, expire_malformed_changes_nothing);
	tcase_add_test(tc, bad_commands);
	tcase_add_test(tc, reads_hide_expired);
	tcase_add_test(tc, sweep_scan_bounded);
	tcase_add_test(tc, entries_survive_reopen);
	tcase_add_test(tc, entries_in_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(fsm_cache_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
