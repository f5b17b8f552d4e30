/*
 * raftd state: RocksDB store, apply of the values commands (API.md §11)
 * with usage accounting and limits (§7.1), reads, atomic applied index,
 * and the raftd role serving apid (the Raft node: check_node.c).
 */
#include <check.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <json-c/json.h>

#include "common/ipc.h"
#include "common/role.h"

#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/fsm.h"
#include "raftd/fsm_int.h"
#include "raftd/keys.h"
#include "raftd/raftd.h"
#include "raftd/rlog.h"
#include "raftd/store.h"

#define ROOT "root"

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
	snprintf(dir, sizeof(dir), "/tmp/check_fsm.XXXXXX");
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

/* an encoded command; the caller frees */
static uint8_t *
cmd_make(uint16_t type, const char *scope, const char *key, size_t key_len,
    const char *value, const char *old, int64_t num, size_t *len)
{
	struct cmd c;
	struct pbuf pb;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.ts = 1000;
	snprintf(c.scope, sizeof(c.scope), "%s", scope);
	c.key = (const uint8_t *)key;
	c.key_len = key_len;
	c.value = (const uint8_t *)value;
	c.value_len = value != NULL ? strlen(value) : 0;
	c.old_value = (const uint8_t *)old;
	c.old_value_len = old != NULL ? strlen(old) : 0;
	c.num = num;
	pb_init(&pb);
	cmd_encode(&pb, &c);
	ck_assert_int_eq(pb.err, 0);
	return pb_steal(&pb, len);
}

/* applies one command as the next entry; returns its status */
static uint16_t
apply(uint16_t type, const char *scope, const char *key, const char *value,
    const char *old, int64_t num, struct fsm_result *res)
{
	struct fsm_entry e = { 0 };
	struct fsm_result local;
	uint8_t *buf;
	uint16_t status;

	buf = cmd_make(type, scope, key, key != NULL ? strlen(key) : 0, value,
	    old, num, &e.len);
	e.index = applied_index() + 1;
	e.term = 1;
	e.data = buf;
	fsm_apply(fsm, &e, 1, res != NULL ? res : &local);
	free(buf);
	ck_assert_uint_eq(applied_index(), e.index);
	status = res != NULL ? res->status : local.status;
	if (res == NULL)
		fsm_result_clear(&local);
	return status;
}

static uint16_t
apply_raw(const char *scope, const char *key, size_t key_len)
{
	struct fsm_entry e = { 0 };
	struct fsm_result res;
	uint8_t *buf;
	uint16_t status;

	buf = cmd_make(CMD_KV_SET, scope, key, key_len, "v", NULL, 0, &e.len);
	e.index = applied_index() + 1;
	e.term = 1;
	e.data = buf;
	fsm_apply(fsm, &e, 1, &res);
	free(buf);
	status = res.status;
	fsm_result_clear(&res);
	return status;
}

static uint16_t
kv_set(const char *scope, const char *key, const char *value)
{
	return apply(CMD_KV_SET, scope, key, value, NULL, 0, NULL);
}

/* the stored value as a string ("" when empty), NULL when absent */
static char *
kv_get(const char *scope, const char *key)
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
	q.op = READ_KV_GET;
	q.consistency = READ_LINEARIZABLE;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)key;
	q.key_len = strlen(key);
	pb_init(&out);
	fsm_read(fsm, &q, &out);
	pr_init(&r, out.data, out.len);
	ck_assert_int_eq(pr_get_u16(&r, &status), 0);
	ck_assert_int_eq(pr_get_u8(&r, &cons), 0);
	ck_assert_uint_eq(cons, READ_LINEARIZABLE);
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
ck_value(const char *scope, const char *key, const char *want)
{
	char *got = kv_get(scope, key);

	if (want == NULL)
		ck_assert_ptr_null(got);
	else {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, want);
	}
	free(got);
}

/* bytes_on_disk through the READ_USAGE encoding */
static uint64_t
disk_usage(const char *scope)
{
	struct read_req q;
	struct pbuf out;
	struct pread r;
	uint16_t status;
	uint8_t cons;
	uint64_t c[FSM_COUNTERS];

	memset(&q, 0, sizeof(q));
	q.op = READ_USAGE;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	pb_init(&out);
	fsm_read(fsm, &q, &out);
	pr_init(&r, out.data, out.len);
	pr_get_u16(&r, &status);
	pr_get_u8(&r, &cons);
	for (int i = 0; i < FSM_COUNTERS; i++)
		pr_get_u64(&r, &c[i]);
	ck_assert_int_eq(pr_end(&r), 0);
	ck_assert_uint_eq(status, ST_OK);
	pb_free(&out);
	return c[FSM_BYTES_ON_DISK];
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

/* number of records in a column family */
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
	ck_assert_uint_eq(kv_set("s1", "k", "abc"), ST_OK);
	ck_value("s1", "k", "abc");
	ck_assert_uint_eq(disk_usage("s1"), 1 + 3);
	ck_assert_uint_eq(kv_set("s1", "k", "abcdef"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 1 + 6);
	ck_assert_uint_eq(kv_set("s1", "k", ""), ST_OK);
	ck_value("s1", "k", "");
	ck_assert_uint_eq(disk_usage("s1"), 1);
	ck_assert_uint_eq(kv_set("s1", "key2", "xy"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 1 + 4 + 2);
	ck_assert_uint_eq(
	    apply(CMD_KV_DELETE, "s1", "k", NULL, NULL, 0, NULL), ST_OK);
	ck_value("s1", "k", NULL);
	ck_assert_uint_eq(disk_usage("s1"), 6);
	/* deleting an absent key succeeds and changes nothing */
	ck_assert_uint_eq(
	    apply(CMD_KV_DELETE, "s1", "k", NULL, NULL, 0, NULL), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 6);
	ck_assert_uint_eq(
	    apply(CMD_KV_DELETE, "s1", "key2", NULL, NULL, 0, NULL), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 0);
	/* nothing left behind: no value, no usage record */
	ck_assert_uint_eq(cf_count(STORE_CF_KV), 0);
	ck_assert_uint_eq(applied_index(), 7);
}
END_TEST

START_TEST(len_is_byte_length)
{
	/* "é" is 2 bytes in UTF-8, "€" 3 */
	ck_assert_uint_eq(kv_set("s1", "\xc3\xa9", "\xe2\x82\xac"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 5);
}
END_TEST

START_TEST(setnx_results)
{
	ck_assert_uint_eq(
	    apply(CMD_KV_SETNX, "s1", "k", "v1", NULL, 0, NULL), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 3);
	ck_assert_uint_eq(apply(CMD_KV_SETNX, "s1", "k", "v22", NULL, 0, NULL),
	    ST_KEY_EXISTS);
	ck_value("s1", "k", "v1");
	ck_assert_uint_eq(disk_usage("s1"), 3);
	/* KEY_EXISTS is decided before the quota */
	set_disk_limit("s1", 0);
	ck_assert_uint_eq(apply(CMD_KV_SETNX, "s1", "k", "v22", NULL, 0, NULL),
	    ST_KEY_EXISTS);
	ck_assert_uint_eq(apply(CMD_KV_SETNX, "s1", "new", "v", NULL, 0, NULL),
	    ST_DISK_LIMIT);
	ck_value("s1", "new", NULL);
}
END_TEST

START_TEST(cas_results)
{
	struct fsm_result res;

	ck_assert_uint_eq(
	    apply(CMD_KV_CAS, "s1", "k", "new", "old", 0, NULL), ST_NOT_FOUND);
	ck_value("s1", "k", NULL);
	ck_assert_uint_eq(kv_set("s1", "k", "old"), ST_OK);
	ck_assert_uint_eq(apply(CMD_KV_CAS, "s1", "k", "new", "olD", 0, NULL),
	    ST_CAS_CONFLICT);
	/* a prefix of the stored value is not equal */
	ck_assert_uint_eq(apply(CMD_KV_CAS, "s1", "k", "new", "ol", 0, NULL),
	    ST_CAS_CONFLICT);
	ck_value("s1", "k", "old");
	ck_assert_uint_eq(
	    apply(CMD_KV_CAS, "s1", "k", "longer", "old", 0, NULL), ST_OK);
	ck_value("s1", "k", "longer");
	ck_assert_uint_eq(disk_usage("s1"), 1 + 6);
	/* conflict is decided before the quota */
	set_disk_limit("s1", 7);
	ck_assert_uint_eq(apply(CMD_KV_CAS, "s1", "k", "longer!", "x", 0, NULL),
	    ST_CAS_CONFLICT);
	ck_assert_uint_eq(
	    apply(CMD_KV_CAS, "s1", "k", "longer!", "longer", 0, &res),
	    ST_DISK_LIMIT);
	ck_assert_uint_eq(res.usage, 7);
	ck_assert_uint_eq(res.limit, 7);
	fsm_result_clear(&res);
	ck_value("s1", "k", "longer");
	/* shrinking is allowed; cas on an empty stored value */
	ck_assert_uint_eq(
	    apply(CMD_KV_CAS, "s1", "k", "", "longer", 0, NULL), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 1);
	ck_assert_uint_eq(
	    apply(CMD_KV_CAS, "s1", "k", "z", "", 0, NULL), ST_OK);
	ck_value("s1", "k", "z");
	ck_assert_uint_eq(disk_usage("s1"), 2);
}
END_TEST

START_TEST(quota_boundary)
{
	struct fsm_result res;

	set_disk_limit("s1", 10);
	/* usage + delta == limit is allowed */
	ck_assert_uint_eq(kv_set("s1", "k", "123456789"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 10);
	ck_assert_uint_eq(
	    apply(CMD_KV_SET, "s1", "j", "", NULL, 0, &res), ST_DISK_LIMIT);
	ck_assert_uint_eq(res.usage, 10);
	ck_assert_uint_eq(res.limit, 10);
	fsm_result_clear(&res);
	ck_value("s1", "j", NULL);
	ck_assert_uint_eq(disk_usage("s1"), 10);
	/* the same size (delta 0) and shrinking are never refused */
	ck_assert_uint_eq(kv_set("s1", "k", "abcdefghi"), ST_OK);
	ck_assert_uint_eq(kv_set("s1", "k", "1234"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 5);
	/* a limit lowered below usage still allows shrinking and deleting */
	set_disk_limit("s1", 2);
	ck_assert_uint_eq(kv_set("s1", "k", "12345"), ST_DISK_LIMIT);
	ck_assert_uint_eq(kv_set("s1", "k", "123"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 4);
	ck_assert_uint_eq(
	    apply(CMD_KV_DELETE, "s1", "k", NULL, NULL, 0, NULL), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), 0);
	/* a limit of 0 allows nothing that grows */
	set_disk_limit("s1", 0);
	ck_assert_uint_eq(kv_set("s1", "k", ""), ST_DISK_LIMIT);
	/* other scopes are not limited by it */
	ck_assert_uint_eq(kv_set("s2", "k", "123456789012"), ST_OK);
}
END_TEST

START_TEST(root_counted_never_limited)
{
	set_disk_limit(ROOT, 1);
	ck_assert_uint_eq(kv_set(ROOT, "key", "value"), ST_OK);
	ck_assert_uint_eq(disk_usage(ROOT), 8);
}
END_TEST

static void
ck_bump(const char *key, int64_t delta, uint16_t want_status, const char *want)
{
	struct fsm_result res;

	ck_assert_uint_eq(
	    apply(CMD_KV_BUMP, "s1", key, NULL, NULL, delta, &res),
	    want_status);
	if (want != NULL) {
		ck_assert_uint_eq(res.data_len, strlen(want));
		ck_assert_mem_eq(res.data, want, strlen(want));
		ck_value("s1", key, want);
	} else
		ck_assert_uint_eq(res.data_len, 0);
	fsm_result_clear(&res);
}

START_TEST(bump_results)
{
	ck_bump("n", 5, ST_OK, "5");
	ck_assert_uint_eq(disk_usage("s1"), 2);
	ck_bump("n", -3, ST_OK, "2");
	ck_bump("n", -10, ST_OK, "0");
	ck_bump("n", 9, ST_OK, "9");
	ck_bump("n", 1, ST_OK, "10");
	ck_assert_uint_eq(disk_usage("s1"), 3);
	/* absent key counts as 0, negative delta floors at 0 */
	ck_bump("m", -4, ST_OK, "0");
	ck_assert_uint_eq(disk_usage("s1"), 5);
	/* stored forms: sign, leading zeros, empty, "-0" */
	kv_set("s1", "p", "+5");
	ck_bump("p", 0, ST_OK, "5");
	kv_set("s1", "p", "-0");
	ck_bump("p", 1, ST_OK, "1");
	kv_set("s1", "p", "007");
	ck_bump("p", 1, ST_OK, "8");
	kv_set("s1", "p", "");
	ck_bump("p", 3, ST_OK, "3");
	kv_set("s1", "p", "-7");
	ck_bump("p", 2, ST_OK, "0");
	/* not integers: the stored value is kept */
	kv_set("s1", "x", "abc");
	ck_bump("x", 1, ST_NOT_INTEGER, NULL);
	ck_value("s1", "x", "abc");
	kv_set("s1", "x", "+");
	ck_bump("x", 1, ST_NOT_INTEGER, NULL);
	kv_set("s1", "x", " 1");
	ck_bump("x", 1, ST_NOT_INTEGER, NULL);
	kv_set("s1", "x", "1.5");
	ck_bump("x", 1, ST_NOT_INTEGER, NULL);
	kv_set("s1", "x", "--1");
	ck_bump("x", 1, ST_NOT_INTEGER, NULL);
	/* int64 bounds */
	kv_set("s1", "o", "9223372036854775807");
	ck_bump("o", 0, ST_OK, "9223372036854775807");
	ck_bump("o", 1, ST_OVERFLOW, NULL);
	ck_value("s1", "o", "9223372036854775807");
	ck_bump("o", INT64_MIN, ST_OK, "0");
	kv_set("s1", "o", "-9223372036854775808");
	ck_bump("o", -1, ST_OVERFLOW, NULL);
	ck_bump("o", INT64_MAX, ST_OK, "0");
	kv_set("s1", "o", "9223372036854775808");
	ck_bump("o", -1, ST_OVERFLOW, NULL);
	kv_set("s1", "o", "99999999999999999999999");
	ck_bump("o", 0, ST_OVERFLOW, NULL);
}
END_TEST

START_TEST(bump_quota)
{
	struct fsm_result res;

	kv_set("s1", "n", "9");
	set_disk_limit("s1", 2);
	ck_assert_uint_eq(
	    apply(CMD_KV_BUMP, "s1", "n", NULL, NULL, 1, &res), ST_DISK_LIMIT);
	ck_assert_uint_eq(res.usage, 2);
	ck_assert_uint_eq(res.limit, 2);
	ck_assert_uint_eq(res.data_len, 0);
	fsm_result_clear(&res);
	ck_value("s1", "n", "9");
	ck_bump("n", -1, ST_OK, "8");
}
END_TEST

START_TEST(bad_commands)
{
	struct fsm_entry e = { 0 };
	struct fsm_result res;
	char big[KEYS_USER_KEY_MAX + 2];
	uint8_t junk[5] = { 0, 1, 2, 3, 4 };

	ck_assert_uint_eq(kv_set("s1", "", "v"), ST_BAD_COMMAND);
	ck_assert_uint_eq(kv_set("a:b", "k", "v"), ST_BAD_COMMAND);
	ck_assert_uint_eq(kv_set("a b", "k", "v"), ST_BAD_COMMAND);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_uint_eq(kv_set("s1", big, "v"), ST_BAD_COMMAND);
	big[KEYS_USER_KEY_MAX] = '\0';
	ck_assert_uint_eq(kv_set("s1", big, "v"), ST_OK);
	ck_assert_uint_eq(disk_usage("s1"), KEYS_USER_KEY_MAX + 1);
	/* a malformed entry still takes its index: apply is deterministic */
	e.index = applied_index() + 1;
	e.term = 1;
	e.data = junk;
	e.len = sizeof(junk);
	fsm_apply(fsm, &e, 1, &res);
	ck_assert_uint_eq(res.status, ST_BAD_COMMAND);
	ck_assert_uint_eq(applied_index(), e.index);
	ck_assert_uint_eq(cf_count(STORE_CF_KV), 2);
}
END_TEST

/* one fsm_apply call over several entries that read each other's writes */
START_TEST(batch_sees_own_writes)
{
	struct fsm_entry e[8] = { 0 };
	struct fsm_result res[8];
	uint8_t *bufs[8];
	size_t n = 0;

#define ADD(t, k, v, o, num) \
	do { \
		bufs[n] = \
		    cmd_make(t, "s1", k, strlen(k), v, o, num, &e[n].len); \
		e[n].data = bufs[n]; \
		e[n].index = n + 1; \
		e[n].term = 1; \
		n++; \
	} while (0)
	ADD(CMD_KV_SET, "k", "a", NULL, 0);
	ADD(CMD_KV_SETNX, "k", "b", NULL, 0);
	ADD(CMD_KV_BUMP, "c", NULL, NULL, 1);
	ADD(CMD_KV_BUMP, "c", NULL, NULL, 1);
	ADD(CMD_KV_CAS, "k", "bb", "a", 0);
	ADD(CMD_KV_CAS, "k", "ccc", "a", 0);
	ADD(CMD_KV_DELETE, "k", NULL, NULL, 0);
	ADD(CMD_KV_SETNX, "k", "d", NULL, 0);
#undef ADD
	fsm_apply(fsm, e, n, res);
	ck_assert_uint_eq(res[0].status, ST_OK);
	ck_assert_uint_eq(res[1].status, ST_KEY_EXISTS);
	ck_assert_uint_eq(res[2].status, ST_OK);
	ck_assert_mem_eq(res[2].data, "1", 1);
	ck_assert_uint_eq(res[3].status, ST_OK);
	ck_assert_mem_eq(res[3].data, "2", 1);
	ck_assert_uint_eq(res[4].status, ST_OK);
	ck_assert_uint_eq(res[5].status, ST_CAS_CONFLICT);
	ck_assert_uint_eq(res[6].status, ST_OK);
	ck_assert_uint_eq(res[7].status, ST_OK);
	for (size_t i = 0; i < n; i++) {
		fsm_result_clear(&res[i]);
		free(bufs[i]);
	}
	ck_assert_uint_eq(applied_index(), 8);
	ck_value("s1", "k", "d");
	ck_value("s1", "c", "2");
	ck_assert_uint_eq(disk_usage("s1"), (1 + 1) + (1 + 1));
}
END_TEST

START_TEST(applied_index_atomic_and_idempotent)
{
	struct fsm_entry e[3] = { 0 };
	struct fsm_result res[3];
	uint8_t *bufs[3];

	for (int i = 0; i < 3; i++) {
		bufs[i] = cmd_make(
		    CMD_KV_BUMP, "s1", "n", 1, NULL, NULL, 10, &e[i].len);
		e[i].data = bufs[i];
		e[i].index = i + 1;
		e[i].term = 1;
	}
	fsm_apply(fsm, e, 2, res);
	fsm_result_clear(&res[0]);
	fsm_result_clear(&res[1]);
	db_close();
	db_open();
	ck_assert_uint_eq(applied_index(), 2);
	ck_value("s1", "n", "20");
	ck_assert_uint_eq(disk_usage("s1"), 3);
	/* entries at or below the applied index are not applied again */
	fsm_apply(fsm, e, 2, res);
	ck_assert_uint_eq(res[0].status, ST_COMMIT_UNKNOWN);
	ck_assert_uint_eq(res[1].status, ST_COMMIT_UNKNOWN);
	ck_assert_uint_eq(applied_index(), 2);
	ck_value("s1", "n", "20");
	/* a batch overlapping the applied index applies only what is new */
	fsm_apply(fsm, e, 3, res);
	ck_assert_uint_eq(res[0].status, ST_COMMIT_UNKNOWN);
	ck_assert_uint_eq(res[1].status, ST_COMMIT_UNKNOWN);
	ck_assert_uint_eq(res[2].status, ST_OK);
	ck_assert_mem_eq(res[2].data, "30", 2);
	for (int i = 0; i < 3; i++) {
		fsm_result_clear(&res[i]);
		free(bufs[i]);
	}
	db_close();
	db_open();
	ck_assert_uint_eq(applied_index(), 3);
	ck_value("s1", "n", "30");
	ck_assert_uint_eq(disk_usage("s1"), 3);
}
END_TEST

/* keys of an iterate read, joined with ',' */
static char *
iterate(const char *scope, const char *prefix, uint64_t offset, uint64_t limit,
    uint32_t *count)
{
	struct read_req q;
	struct pbuf out;
	struct pread r;
	uint16_t status;
	uint8_t cons;
	uint32_t n;
	const uint8_t *k;
	size_t klen;
	char *s;
	size_t len = 0;

	memset(&q, 0, sizeof(q));
	q.op = READ_KV_ITERATE;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)prefix;
	q.key_len = strlen(prefix);
	q.offset = offset;
	q.limit = limit;
	pb_init(&out);
	fsm_read(fsm, &q, &out);
	pr_init(&r, out.data, out.len);
	pr_get_u16(&r, &status);
	pr_get_u8(&r, &cons);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_int_eq(pr_get_u32(&r, &n), 0);
	s = calloc(1, out.len + 1);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_int_eq(pr_get_bytes(&r, &k, &klen), 0);
		if (i > 0)
			s[len++] = ',';
		memcpy(s + len, k, klen);
		len += klen;
	}
	ck_assert_int_eq(pr_end(&r), 0);
	pb_free(&out);
	*count = n;
	return s;
}

static void
ck_iterate(const char *scope, const char *prefix, uint64_t offset,
    uint64_t limit, const char *want)
{
	uint32_t n;
	char *got = iterate(scope, prefix, offset, limit, &n);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(iterate_order_offset_limit)
{
	static const char *const keys[] = { "b", "a\xff", "ab", "a", "c", "a:x",
		"ba" };
	uint32_t n;
	char key[16];
	char *got;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_uint_eq(kv_set("s", keys[i], "v"), ST_OK);
	/* neighbours that share a textual prefix with scope "s" */
	kv_set("s2", "a", "v");
	kv_set("s-", "a", "v");
	kv_set("S", "a", "v");
	kv_set("s_", "a", "v");
	kv_set("sa", "a", "v");
	set_disk_limit("s", 1000);
	ck_iterate("s", "", 0, 100, "a,a:x,ab,a\xff,b,ba,c");
	ck_iterate("s", "a", 0, 100, "a,a:x,ab,a\xff");
	ck_iterate("s", "a", 1, 2, "a:x,ab");
	ck_iterate("s", "a", 3, 100, "a\xff");
	ck_iterate("s", "a", 4, 100, "");
	ck_iterate("s", "a\xff", 0, 100, "a\xff");
	ck_iterate("s", "b", 0, 1, "b");
	ck_iterate("s", "bb", 0, 10, "");
	ck_iterate("s", "", 0, 0, "");
	ck_iterate("s2", "", 0, 10, "a");
	ck_iterate("nobody", "", 0, 10, "");
	/* limits above the maximum are clamped */
	for (int i = 0; i < FSM_ITERATE_LIMIT_MAX + 5; i++) {
		snprintf(key, sizeof(key), "m%05d", i);
		kv_set("big", key, "");
	}
	got = iterate("big", "m", 0, UINT64_MAX, &n);
	ck_assert_uint_eq(n, FSM_ITERATE_LIMIT_MAX);
	ck_assert_mem_eq(got, "m00000,m00001", 13);
	free(got);
	got = iterate("big", "m", FSM_ITERATE_LIMIT_MAX, 100, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(got, "m01000,m01001,m01002,m01003,m01004");
	free(got);
}
END_TEST

START_TEST(scope_isolation)
{
	ck_assert_uint_eq(kv_set("a", "k", "1"), ST_OK);
	ck_assert_uint_eq(kv_set("ab", "k", "22"), ST_OK);
	ck_value("a", "k", "1");
	ck_value("ab", "k", "22");
	ck_value("b", "k", NULL);
	ck_assert_uint_eq(disk_usage("a"), 2);
	ck_assert_uint_eq(disk_usage("ab"), 3);
	ck_assert_uint_eq(
	    apply(CMD_KV_SETNX, "b", "k", "x", NULL, 0, NULL), ST_OK);
	ck_assert_uint_eq(
	    apply(CMD_KV_DELETE, "a", "k", NULL, NULL, 0, NULL), ST_OK);
	ck_value("a", "k", NULL);
	ck_value("ab", "k", "22");
	ck_assert_uint_eq(disk_usage("a"), 0);
	ck_assert_uint_eq(disk_usage("ab"), 3);
	ck_assert_uint_eq(disk_usage("b"), 2);
}
END_TEST

/*
 * Internal records sit under a prefix no user key reaches: a user key
 * that spells an internal key of another scope stays a user value.
 */
START_TEST(internal_records_unreachable)
{
	struct keybuf k;

	ck_assert_uint_eq(kv_set("s1", "k", "v"), ST_OK);
	keys_internal(&k, KEYS_KIND_USAGE, "s1");
	ck_assert_uint_eq(k.b[0], 0);
	keys_user(&k, "s2", (const uint8_t *)"x", 1);
	ck_assert_uint_ne(k.b[0], 0);
	/* NUL is no part of a user key: not even as a suffix of the scope */
	ck_assert_uint_eq(apply_raw("s2", "\0us1", 4), ST_BAD_COMMAND);
	ck_assert_uint_eq(disk_usage("s1"), 2);
	ck_iterate("s1", "", 0, 100, "k");
	ck_assert(!keys_scope_valid(""));
	ck_assert(!keys_scope_valid("a:b"));
	ck_assert(keys_scope_valid("Az09_-"));
}
END_TEST

/* --- the role: apid's requests over the raftd.api channel --- */

struct client {
	int replies;
	int errors;
	uint8_t got[16][1024];
	size_t got_len[16];
};

static struct event_base *rbase;
static struct role_env renv;
static char rhome[64];
static char rroot[] = ROOT;
static char rnode[] = "node0";
static struct cfg_node rcfg_node;

static void
role_up(void)
{
	evthread_use_pthreads();
	memset(&renv, 0, sizeof(renv));
	rbase = event_base_new();
	snprintf(rhome, sizeof(rhome), "/check-fsm-%d", (int)getpid());
	renv.id = ROLE_RAFTD;
	renv.hooks = &raftd_hooks;
	renv.base = rbase;
	renv.ipc = ipc_new(rbase);
	renv.cfg.insid_home = rhome;
	renv.cfg.root_prefix = rroot;
	memset(&rcfg_node, 0, sizeof(rcfg_node));
	snprintf(rcfg_node.id, sizeof(rcfg_node.id), "%s", rnode);
	snprintf(rcfg_node.raft_binding.host,
	    sizeof(rcfg_node.raft_binding.host), "127.0.0.1");
	rcfg_node.raft_binding.port = 7000;
	renv.cfg.nodes = &rcfg_node;
	renv.cfg.n_nodes = 1;
	renv.cfg.default_leader = rnode;
	renv.cfg.raft_heartbeat_interval_ms = 100;
	renv.cfg.raft_election_timeout_ms = 1000;
	renv.self = &rcfg_node;
	renv.nfds = 0;
	renv.node_id = rnode;
	renv.data_dir = dir;
	renv.pids[ROLE_APID] = getpid();
	ck_assert_int_eq(raftd_hooks.start(&renv), 0);
}

static void
role_down(void)
{
	raftd_hooks.stop(&renv);
	ck_assert_ptr_null(renv.state);
	ipc_free(renv.ipc);
	event_base_free(rbase);
}

static void
on_reply(int err, struct ipc_msg *m, void *arg)
{
	struct client *cl = arg;

	if (err != 0) {
		cl->errors++;
		return;
	}
	ck_assert_uint_lt(cl->replies, 16);
	ck_assert_uint_le(m->len, sizeof(cl->got[0]));
	memcpy(cl->got[cl->replies], m->payload, m->len);
	cl->got_len[cl->replies] = m->len;
	cl->replies++;
}

static void
client_wait(struct client *cl, int want)
{
	struct timeval tv = { 0, 100000 };

	for (int i = 0; i < 100 && cl->replies + cl->errors < want; i++) {
		event_base_loopexit(rbase, &tv);
		event_base_loop(rbase, EVLOOP_ONCE);
	}
	ck_assert_int_eq(cl->errors, 0);
	ck_assert_int_eq(cl->replies, want);
}

/* runs the loop for about ms milliseconds */
static void
client_run(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(rbase, &tv);
	event_base_loop(rbase, EVLOOP_NO_EXIT_ON_EMPTY);
}

static struct ipc_chan *
client_dial(void)
{
	struct ipc_chan *cli;
	char url[256];

	role_url(&renv, "raftd.api", url, sizeof(url));
	cli = ipc_req_dial(renv.ipc, url, 16);
	ck_assert_ptr_nonnull(cli);
	return cli;
}

/* MSG_RAFT_PROPOSE: the payload is the encoded command */
static void
client_propose(struct ipc_chan *cli, struct client *cl, uint16_t type,
    const char *key, const char *value, int64_t num)
{
	uint8_t *c;
	size_t len;

	c = cmd_make(type, ROOT, key, strlen(key), value, NULL, num, &len);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_PROPOSE, c, len, 5000, on_reply, cl), 0);
	free(c);
}

static void
client_read(
    struct ipc_chan *cli, struct client *cl, uint16_t op, const char *key)
{
	struct read_req q;
	struct pbuf pb;

	memset(&q, 0, sizeof(q));
	q.op = op;
	snprintf(q.scope, sizeof(q.scope), ROOT);
	q.key = (const uint8_t *)key;
	q.key_len = strlen(key);
	q.limit = 10;
	pb_init(&pb);
	read_req_encode(&pb, &q);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_READ, pb.data, pb.len, 5000, on_reply, cl),
	    0);
	pb_free(&pb);
}

static void
ck_result(struct client *cl, int i, uint16_t status, const char *data)
{
	struct cmd_result res;

	ck_assert_int_eq(
	    cmd_result_decode(cl->got[i], cl->got_len[i], &res), 0);
	ck_assert_uint_eq(res.status, status);
	ck_assert_uint_eq(res.data_len, strlen(data));
	ck_assert_mem_eq(res.data, data, res.data_len);
}

static int64_t
json_int(struct json_object *o, const char *name)
{
	struct json_object *v;

	ck_assert(json_object_object_get_ex(o, name, &v));
	return json_object_get_int64(v);
}

START_TEST(role_serves_apid)
{
	struct ipc_chan *cli;
	struct client cl;
	struct json_object *o, *v;
	struct pread r;
	uint16_t status;
	uint8_t cons;
	const uint8_t *p;
	size_t n;
	uint32_t count;
	char *json;

	role_up();
	cli = client_dial();
	memset(&cl, 0, sizeof(cl));
	client_propose(cli, &cl, CMD_KV_SET, "a", "hello", 0);
	client_propose(cli, &cl, CMD_KV_BUMP, "b", NULL, 5);
	client_propose(cli, &cl, CMD_KV_SETNX, "a", "x", 0);
	client_wait(&cl, 3);
	/* requests are answered in any order: check them by content */
	for (int i = 0; i < 3; i++) {
		struct cmd_result res;

		ck_assert_int_eq(
		    cmd_result_decode(cl.got[i], cl.got_len[i], &res), 0);
		if (res.data_len == 1)
			ck_result(&cl, i, ST_OK, "5");
		else
			ck_assert(
			    res.status == ST_OK || res.status == ST_KEY_EXISTS);
	}
	memset(&cl, 0, sizeof(cl));
	client_propose(cli, &cl, CMD_KV_BUMP, "b", NULL, 5);
	client_wait(&cl, 1);
	ck_result(&cl, 0, ST_OK, "10");

	memset(&cl, 0, sizeof(cl));
	client_read(cli, &cl, READ_KV_GET, "a");
	client_wait(&cl, 1);
	pr_init(&r, cl.got[0], cl.got_len[0]);
	pr_get_u16(&r, &status);
	pr_get_u8(&r, &cons);
	pr_get_bytes(&r, &p, &n);
	ck_assert_int_eq(pr_end(&r), 0);
	ck_assert_uint_eq(status, ST_OK);
	ck_assert_mem_eq(p, "hello", 5);

	memset(&cl, 0, sizeof(cl));
	client_read(cli, &cl, READ_KV_ITERATE, "");
	client_wait(&cl, 1);
	pr_init(&r, cl.got[0], cl.got_len[0]);
	pr_get_u16(&r, &status);
	pr_get_u8(&r, &cons);
	pr_get_u32(&r, &count);
	ck_assert_uint_eq(count, 2);

	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, NULL, 0, 5000, on_reply, &cl), 0);
	client_wait(&cl, 1);
	pr_init(&r, cl.got[0], cl.got_len[0]);
	ck_assert_int_eq(pr_get_strdup(&r, &json), 0);
	o = json_tokener_parse(json);
	ck_assert_ptr_nonnull(o);
	/* entry 1: the bootstrap configuration, 2: the leader's no-op */
	ck_assert_int_eq(json_int(o, "commit_index"), 6);
	ck_assert_int_eq(json_int(o, "applied_index"), 6);
	ck_assert_int_eq(json_int(o, "term"), 2);
	ck_assert(json_object_object_get_ex(o, "needs_join", &v));
	ck_assert(!json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "leader", &v));
	ck_assert_str_eq(json_object_get_string(v), "node0");
	json_object_put(o);
	free(json);

	json = raftd_hooks.status(&renv);
	o = json_tokener_parse(json);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_int(o, "last_index"), 6);
	ck_assert_int_gt(json_int(o, "rocksdb_bytes"), 0);
	json_object_put(o);
	free(json);

	ipc_close(cli);
	role_down();

	/* a restart serves the same state */
	role_up();
	cli = client_dial();
	memset(&cl, 0, sizeof(cl));
	client_propose(cli, &cl, CMD_KV_BUMP, "b", NULL, 1);
	client_wait(&cl, 1);
	ck_result(&cl, 0, ST_OK, "11");
	ipc_close(cli);
	role_down();
}
END_TEST

/* the payload of a MEMBER or SNAPSHOT reply: u16 status, str json */
static uint16_t
status_json_reply(struct client *cl, int i, struct json_object **o)
{
	struct pread r;
	uint16_t st;
	char *json;

	pr_init(&r, cl->got[i], cl->got_len[i]);
	pr_get_u16(&r, &st);
	ck_assert_int_eq(pr_get_strdup(&r, &json), 0);
	ck_assert_int_eq(pr_end(&r), 0);
	*o = json_tokener_parse(json);
	ck_assert_ptr_nonnull(*o);
	free(json);
	return st;
}

static void
client_member(struct ipc_chan *cli, struct client *cl, uint8_t op,
    const char *id, const char *addr)
{
	struct pbuf b;

	pb_init(&b);
	pb_add_u8(&b, op);
	pb_add_str(&b, id);
	if (op == MEMBER_JOIN)
		pb_add_str(&b, addr);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_MEMBER, b.data, b.len, 5000, on_reply, cl),
	    0);
	pb_free(&b);
}

/* watch, membership and snapshot requests of a one-node cluster */
START_TEST(role_watch_member_snapshot)
{
	struct ipc_chan *cli;
	struct client cl;
	struct json_object *o, *v;
	struct pbuf b;
	struct pread r;
	char *json;
	int64_t version;
	struct timespec t0, t1;

	role_up();
	cli = client_dial();
	/* version 0: the view at once */
	memset(&cl, 0, sizeof(cl));
	pb_init(&b);
	pb_add_u64(&b, 0);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_WATCH, b.data, b.len, 5000, on_reply, &cl),
	    0);
	client_wait(&cl, 1);
	pr_init(&r, cl.got[0], cl.got_len[0]);
	ck_assert_int_eq(pr_get_strdup(&r, &json), 0);
	o = json_tokener_parse(json);
	free(json);
	ck_assert_ptr_nonnull(o);
	version = json_int(o, "version");
	ck_assert_int_gt(version, 0);
	ck_assert(json_object_object_get_ex(o, "nodes", &v));
	ck_assert_int_eq(json_object_array_length(v), 1);
	json_object_put(o);
	/* the current version: answered after about a second unchanged */
	memset(&cl, 0, sizeof(cl));
	pb_reset(&b);
	pb_add_u64(&b, (uint64_t)version);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_WATCH, b.data, b.len, 5000, on_reply, &cl),
	    0);
	client_run(800);
	ck_assert_int_eq(cl.replies, 0);
	client_run(600);
	client_wait(&cl, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000,
	    900);
	pb_free(&b);

	/* one at a time: requests may be served in any order */
	memset(&cl, 0, sizeof(cl));
	/* already a member at its address: ok at once */
	client_member(cli, &cl, MEMBER_JOIN, "node0", "127.0.0.1:7000");
	client_wait(&cl, 1);
	/* not the node's raft binding, not a configured node */
	client_member(cli, &cl, MEMBER_JOIN, "node0", "127.0.0.1:7001");
	client_wait(&cl, 2);
	client_member(cli, &cl, MEMBER_JOIN, "node9", "127.0.0.1:7000");
	client_wait(&cl, 3);
	ck_assert_uint_eq(status_json_reply(&cl, 0, &o), MEMBER_OK);
	ck_assert(json_object_object_get_ex(o, "voter", &v));
	ck_assert(json_object_get_boolean(v));
	json_object_put(o);
	ck_assert_uint_eq(status_json_reply(&cl, 1, &o), MEMBER_BAD_REQUEST);
	json_object_put(o);
	ck_assert_uint_eq(status_json_reply(&cl, 2, &o), MEMBER_BAD_REQUEST);
	json_object_put(o);

	memset(&cl, 0, sizeof(cl));
	/* the last voter cannot go; transfer to itself is done at once */
	client_member(cli, &cl, MEMBER_REMOVE, "node0", NULL);
	client_wait(&cl, 1);
	client_member(cli, &cl, MEMBER_TRANSFER, "node0", NULL);
	client_wait(&cl, 2);
	client_member(cli, &cl, MEMBER_TRANSFER, "node9", NULL);
	client_wait(&cl, 3);
	ck_assert_uint_eq(status_json_reply(&cl, 0, &o), MEMBER_INVALID);
	json_object_put(o);
	ck_assert_uint_eq(status_json_reply(&cl, 1, &o), MEMBER_OK);
	ck_assert(json_object_object_get_ex(o, "leader", &v));
	ck_assert_str_eq(json_object_get_string(v), "node0");
	json_object_put(o);
	ck_assert_uint_eq(status_json_reply(&cl, 2, &o), MEMBER_NOT_FOUND);
	json_object_put(o);

	/* a snapshot at the applied index */
	memset(&cl, 0, sizeof(cl));
	client_propose(cli, &cl, CMD_KV_SET, "a", "v", 0);
	client_wait(&cl, 1);
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_SNAPSHOT, NULL, 0, 5000, on_reply, &cl), 0);
	client_wait(&cl, 1);
	ck_assert_uint_eq(status_json_reply(&cl, 0, &o), 0);
	/* bootstrap configuration, no-op, the set */
	ck_assert_int_eq(json_int(o, "index"), 3);
	json_object_put(o);
	ipc_close(cli);
	role_down();
}
END_TEST

/* only the apid pid the supervisor announced may call, also a later one */
START_TEST(role_accepts_announced_apid_only)
{
	struct ipc_chan *cli;
	struct client cl;

	role_up();
	/* what role.c does on MSG_SUP_PIDS */
	renv.pids[ROLE_APID] = getpid() + 1;
	raftd_hooks.pids(&renv);
	client_run(100);
	cli = client_dial();
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, NULL, 0, 300, on_reply, &cl), 0);
	client_run(600);
	ck_assert_int_eq(cl.errors, 1);
	ck_assert_int_eq(cl.replies, 0);
	/* apid (re)started: the supervisor announces its pid */
	renv.pids[ROLE_APID] = getpid();
	raftd_hooks.pids(&renv);
	client_run(100);
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, NULL, 0, 5000, on_reply, &cl), 0);
	client_wait(&cl, 1);
	ipc_close(cli);
	role_down();
}
END_TEST

/* a malformed message from apid is a bug: the role exits */
START_TEST(role_malformed_proposal_is_fatal)
{
	struct ipc_chan *cli;
	struct client cl;

	role_up();
	cli = client_dial();
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_PROPOSE, "\0\0\0\1", 4, 5000, on_reply, &cl),
	    0);
	client_wait(&cl, 1);
}
END_TEST

static Suite *
fsm_suite(void)
{
	Suite *s = suite_create("fsm");
	TCase *tc = tcase_create("values");
	TCase *tr = tcase_create("role");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_update_delete_accounting);
	tcase_add_test(tc, len_is_byte_length);
	tcase_add_test(tc, setnx_results);
	tcase_add_test(tc, cas_results);
	tcase_add_test(tc, quota_boundary);
	tcase_add_test(tc, root_counted_never_limited);
	tcase_add_test(tc, bump_results);
	tcase_add_test(tc, bump_quota);
	tcase_add_test(tc, bad_commands);
	tcase_add_test(tc, batch_sees_own_writes);
	tcase_add_test(tc, applied_index_atomic_and_idempotent);
	tcase_add_test(tc, iterate_order_offset_limit);
	tcase_add_test(tc, scope_isolation);
	tcase_add_test(tc, internal_records_unreachable);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, role_serves_apid);
	tcase_add_test(tr, role_accepts_announced_apid_only);
	tcase_add_test(tr, role_watch_member_snapshot);
	tcase_add_exit_test(tr, role_malformed_proposal_is_fatal, 1);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(fsm_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
