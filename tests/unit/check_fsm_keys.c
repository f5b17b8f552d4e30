/*
 * Apply and reads of the key, alias and limits commands (API.md §3, §15.3,
 * §16, raftd/fsm_keys.h), and the pure apid parts of identity: entity
 * names (§3.5), key_name checks, the token cache (§3.4) and the per-key
 * buckets (§8.2).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/keys_pure.h"
#include "apid/keys_rec.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "raftd/fsm.h"
#include "raftd/fsm_keys.h"
#include "raftd/fsm_scope.h"
#include "raftd/store.h"

#define ROOT "root"
#define K1 "11111111-1111-4111-8111-111111111111"
#define K2 "22222222-2222-4222-8222-222222222222"
#define DS1 "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define DS2 "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"

static char dir[64];
static struct store *st;
static struct fsm *fsm;
static uint64_t next_index;

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	uint64_t term;

	snprintf(dir, sizeof(dir), "/tmp/check_fsm_keys.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	st = store_open(dir);
	ck_assert_ptr_nonnull(st);
	fsm = fsm_open(st, ROOT);
	fsm_applied(fsm, &next_index, &term);
	next_index++;
}

static void
teardown(void)
{
	fsm_free(fsm);
	store_close(st);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* applies c as the next entry; status, and *data (first byte) if any */
static uint16_t
apply_cmd(struct cmd *c, int *data)
{
	struct fsm_entry e;
	struct fsm_result res;
	struct pbuf pb;
	uint16_t s;

	c->ts = 1000 + (int64_t)next_index;
	pb_init(&pb);
	cmd_encode(&pb, c);
	ck_assert_int_eq(pb.err, 0);
	memset(&e, 0, sizeof(e));
	e.index = next_index++;
	e.term = 1;
	e.data = pb.data;
	e.len = pb.len;
	fsm_apply(fsm, &e, 1, &res);
	s = res.status;
	if (data != NULL)
		*data = res.data_len == 1 ? res.data[0] : -1;
	fsm_result_clear(&res);
	pb_free(&pb);
	return s;
}

static void
cmd_init(struct cmd *c, uint16_t type, const char *scope, const char *key)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	snprintf(c->scope, sizeof(c->scope), "%s", scope);
	c->key = (const uint8_t *)key;
	c->key_len = strlen(key);
}

static uint16_t
key_create(const char *uuid, const char *ds, const char *name)
{
	struct pbuf v;
	struct cmd c;
	char token[64];
	uint16_t s;

	snprintf(token, sizeof(token), "insi_token_%s", uuid);
	pb_init(&v);
	pb_add_bytes(&v, name, strlen(name));
	pb_add_bytes(&v, "entity", 6);
	pb_add_bytes(&v, token, strlen(token));
	cmd_init(&c, CMD_KEY_CREATE, ds, uuid);
	c.value = v.data;
	c.value_len = v.len;
	s = apply_cmd(&c, NULL);
	pb_free(&v);
	return s;
}

static uint16_t
simple(uint16_t type, const char *ds, const char *uuid, int *data)
{
	struct cmd c;

	cmd_init(&c, type, ds, uuid);
	return apply_cmd(&c, data);
}

static void
alias_uuid(int i, char out[37])
{
	snprintf(out, 37, "cccccccc-cccc-4ccc-8ccc-%012d", i);
}

static uint16_t
alias_create(const char *parent, const char *ds, int i)
{
	char uuid[37], token[64];
	struct pbuf v;
	struct cmd c;
	uint16_t s;

	alias_uuid(i, uuid);
	snprintf(token, sizeof(token), "insi_alias_%d", i);
	pb_init(&v);
	pb_add_bytes(&v, uuid, 36);
	pb_add_bytes(&v, token, strlen(token));
	cmd_init(&c, CMD_ALIAS_CREATE, ds, parent);
	c.value = v.data;
	c.value_len = v.len;
	s = apply_cmd(&c, NULL);
	pb_free(&v);
	return s;
}

static uint16_t
alias_delete(int i, const char *caller, const char *ds)
{
	char uuid[37];
	struct cmd c;

	alias_uuid(i, uuid);
	cmd_init(&c, CMD_ALIAS_DELETE, ds, uuid);
	c.old_value = (const uint8_t *)caller;
	c.old_value_len = strlen(caller);
	return apply_cmd(&c, NULL);
}

static uint16_t
kv_set(const char *scope, const char *key, const char *value)
{
	struct cmd c;

	cmd_init(&c, CMD_KV_SET, scope, key);
	c.value = (const uint8_t *)value;
	c.value_len = strlen(value);
	return apply_cmd(&c, NULL);
}

/* a read; its status, the rest in *out (caller frees) */
static uint16_t
rd(uint16_t op, const char *scope, const char *key, uint64_t off, uint64_t lim,
    struct pbuf *out, struct pread *rest)
{
	struct read_req q;
	uint16_t s;
	uint8_t cons;

	memset(&q, 0, sizeof(q));
	q.op = op;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)key;
	q.key_len = key != NULL ? strlen(key) : 0;
	q.offset = off;
	q.limit = lim;
	pb_init(out);
	fsm_read(fsm, &q, out);
	pr_init(rest, out->data, out->len);
	pr_get_u16(rest, &s);
	pr_get_u8(rest, &cons);
	ck_assert_int_eq(rest->err, 0);
	return s;
}

static void
read_key(
    const char *uuid, struct keyrec *r, struct limitsrec *l, struct pbuf *out)
{
	struct pread rest;
	const uint8_t *rec;
	size_t len;

	ck_assert_uint_eq(rd(READ_KEY, ROOT, uuid, 0, 0, out, &rest), ST_OK);
	ck_assert_int_eq(pr_get_bytes(&rest, &rec, &len), 0);
	ck_assert_int_eq(keyrec_decode(rec, len, r), 0);
	ck_assert_int_eq(limitsrec_get(&rest, l), 0);
	ck_assert_int_eq(pr_end(&rest), 0);
}

static void
limits_usage(const char *ds, struct limitsrec *l, uint64_t usage[4])
{
	struct pbuf out;
	struct pread rest;

	ck_assert_uint_eq(rd(READ_LIMITS, ds, NULL, 0, 0, &out, &rest), ST_OK);
	ck_assert_int_eq(limitsrec_get(&rest, l), 0);
	for (int i = 0; i < 4; i++)
		pr_get_u64(&rest, &usage[i]);
	ck_assert_int_eq(pr_end(&rest), 0);
	pb_free(&out);
}

/* the alias tokens of parent, oldest first, into out (n returned) */
static uint32_t
aliases(const char *parent, char tokens[][64])
{
	struct pbuf out;
	struct pread rest;
	const uint8_t *u, *t;
	size_t ul, tl;
	uint32_t n;

	ck_assert_uint_eq(
	    rd(READ_ALIASES, ROOT, parent, 0, 0, &out, &rest), ST_OK);
	pr_get_u32(&rest, &n);
	for (uint32_t i = 0; i < n; i++) {
		pr_get_bytes(&rest, &u, &ul);
		pr_get_bytes(&rest, &t, &tl);
		ck_assert_uint_lt(tl, 64);
		memcpy(tokens[i], t, tl);
		tokens[i][tl] = '\0';
	}
	ck_assert_int_eq(pr_end(&rest), 0);
	pb_free(&out);
	return n;
}

START_TEST(create_sets_record_defaults_and_zero_usage)
{
	struct limitsrec l;
	struct keyrec r;
	uint64_t u[4];
	struct pbuf out;

	ck_assert_uint_eq(key_create(K1, DS1, "Name One"), ST_OK);
	read_key(K1, &r, &l, &out);
	ck_assert_uint_eq(r.tombstone, 0);
	ck_assert_int_eq(r.created, 1000 + (int64_t)next_index - 1);
	ck_assert_int_eq(keyrec_ds_is(&r, DS1), 1);
	ck_assert_mem_eq(r.name, "Name One", r.name_len);
	ck_assert_uint_eq(r.token_len, strlen("insi_token_" K1));
	ck_assert_uint_eq(l.mask, 0x3f);
	ck_assert_uint_eq(l.v[0], 1073741824);
	ck_assert_uint_eq(l.v[1], 262144000);
	ck_assert_uint_eq(l.v[2], 1000);
	ck_assert_uint_eq(l.v[3], 100);
	ck_assert_uint_eq(l.v[4], 25);
	ck_assert_uint_eq(l.v[5], 10);
	pb_free(&out);
	limits_usage(DS1, &l, u);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(u[i], 0);
	/* a second create of the same uuid changes nothing */
	ck_assert_uint_eq(key_create(K1, DS2, "Other"), ST_KEY_EXISTS);
	read_key(K1, &r, &l, &out);
	ck_assert_int_eq(keyrec_ds_is(&r, DS1), 1);
	pb_free(&out);
	/* malformed uuids and values are refused */
	ck_assert_uint_eq(key_create("short", DS1, "x"), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    simple(CMD_KEY_TOMBSTONE, DS1, "nope", NULL), ST_BAD_COMMAND);
}
END_TEST

START_TEST(absent_key_reads_not_found)
{
	struct pbuf out;
	struct pread rest;

	ck_assert_uint_eq(
	    rd(READ_KEY, ROOT, K1, 0, 0, &out, &rest), ST_NOT_FOUND);
	pb_free(&out);
	ck_assert_uint_eq(
	    rd(READ_ALIAS, ROOT, K2, 0, 0, &out, &rest), ST_NOT_FOUND);
	pb_free(&out);
}
END_TEST

START_TEST(aliases_counted_ordered_and_owned)
{
	char tokens[20][64], want[16];
	char uuid[37];
	struct pbuf out;
	struct pread rest;
	const uint8_t *rec, *prec;
	size_t len, plen;
	struct aliasrec a;

	ck_assert_uint_eq(key_create(K1, DS1, "one"), ST_OK);
	ck_assert_uint_eq(key_create(K2, DS2, "two"), ST_OK);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(alias_create(K1, DS1, i), ST_OK);
	ck_assert_uint_eq(alias_create(K1, DS1, 16), ST_ALIAS_LIMIT);
	/* the wrong ds, an unknown parent */
	ck_assert_uint_eq(alias_create(K2, DS1, 17), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(
	    alias_create("33333333-3333-4333-8333-333333333333", DS1, 18),
	    ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(aliases(K1, tokens), 16);
	for (int i = 0; i < 16; i++) {
		snprintf(want, sizeof(want), "insi_alias_%d", i);
		ck_assert_str_eq(tokens[i], want);
	}
	ck_assert_uint_eq(aliases(K2, tokens), 0);
	/* the alias names its parent */
	alias_uuid(3, uuid);
	ck_assert_uint_eq(rd(READ_ALIAS, ROOT, uuid, 0, 0, &out, &rest), ST_OK);
	pr_get_bytes(&rest, &rec, &len);
	pr_get_bytes(&rest, &prec, &plen);
	ck_assert_int_eq(aliasrec_decode(rec, len, &a), 0);
	ck_assert_mem_eq(a.parent, K1, 36);
	ck_assert_uint_gt(plen, 0);
	pb_free(&out);
	/* only the parent deletes */
	ck_assert_uint_eq(alias_delete(3, K2, DS2), ST_FORBIDDEN);
	ck_assert_uint_eq(alias_delete(3, K1, DS1), ST_OK);
	ck_assert_uint_eq(alias_delete(3, K1, DS1), ST_ALIAS_NOT_FOUND);
	ck_assert_uint_eq(aliases(K1, tokens), 15);
	ck_assert_str_eq(tokens[2], "insi_alias_2");
	ck_assert_str_eq(tokens[3], "insi_alias_4");
	/* room for one more, which goes last */
	ck_assert_uint_eq(alias_create(K1, DS1, 16), ST_OK);
	ck_assert_uint_eq(alias_create(K1, DS1, 17), ST_ALIAS_LIMIT);
	ck_assert_uint_eq(aliases(K1, tokens), 16);
	ck_assert_str_eq(tokens[15], "insi_alias_16");
	/* an alias uuid is never reused */
	ck_assert_uint_eq(alias_create(K2, DS2, 0), ST_KEY_EXISTS);
}
END_TEST

START_TEST(limits_set_merges_members)
{
	uint8_t rec[1 + 6 * 8];
	struct limitsrec l;
	uint64_t u[4];
	struct cmd c;

	ck_assert_uint_eq(key_create(K1, DS1, "one"), ST_OK);
	memset(rec, 0, sizeof(rec));
	rec[0] = 1u << 0 | 1u << 4;
	keys_put_u64(rec + 1, 10);
	keys_put_u64(rec + 1 + 4 * 8, 3);
	cmd_init(&c, CMD_LIMITS_SET, DS1, K1);
	c.value = rec;
	c.value_len = sizeof(rec);
	ck_assert_uint_eq(apply_cmd(&c, NULL), ST_OK);
	limits_usage(DS1, &l, u);
	ck_assert_uint_eq(l.mask, 0x3f);
	ck_assert_uint_eq(l.v[0], 10);
	ck_assert_uint_eq(l.v[1], 262144000);
	ck_assert_uint_eq(l.v[4], 3);
	/* the new limit holds for writes */
	ck_assert_uint_eq(kv_set(DS1, "abc", "1234"), ST_OK);
	ck_assert_uint_eq(kv_set(DS1, "d", "123"), ST_DISK_LIMIT);
	limits_usage(DS1, &l, u);
	ck_assert_uint_eq(u[0], 7);
	/* wrong ds, bad record */
	cmd_init(&c, CMD_LIMITS_SET, DS2, K1);
	c.value = rec;
	c.value_len = sizeof(rec);
	ck_assert_uint_eq(apply_cmd(&c, NULL), ST_API_KEY_NOT_FOUND);
	cmd_init(&c, CMD_LIMITS_SET, DS1, K1);
	c.value = rec;
	c.value_len = 5;
	ck_assert_uint_eq(apply_cmd(&c, NULL), ST_BAD_COMMAND);
}
END_TEST

START_TEST(tombstone_purge_finish)
{
	char tokens[20][64];
	struct fsm_dead_key dead[4];
	struct limitsrec l;
	struct keyrec r;
	uint64_t u[4];
	struct pbuf out;
	struct pread rest;
	char key[32];
	int done = -1, rounds = 0;

	ck_assert_uint_eq(key_create(K1, DS1, "one"), ST_OK);
	ck_assert_uint_eq(key_create(K2, DS2, "two"), ST_OK);
	for (int i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		ck_assert_uint_eq(kv_set(DS1, key, "v"), ST_OK);
	}
	ck_assert_uint_eq(kv_set(DS2, "keep", "v"), ST_OK);
	for (int i = 0; i < 5; i++) {
		struct cmd c;

		snprintf(key, sizeof(key), "c%d", i);
		cmd_init(&c, CMD_CACHE_SET, DS1, key);
		c.value = (const uint8_t *)"cv";
		c.value_len = 2;
		c.num = 3600 * 1000;
		ck_assert_uint_eq(apply_cmd(&c, NULL), ST_OK);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(alias_create(K1, DS1, i), ST_OK);
	/* purge and finish need a tombstone */
	ck_assert_uint_eq(
	    simple(CMD_KEY_PURGE, DS1, K1, NULL), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(
	    simple(CMD_KEY_FINISH, DS1, K1, NULL), ST_API_KEY_NOT_FOUND);
	ck_assert_int_eq(fsm_keys_tombstoned(fsm, dead, 4), 0);
	ck_assert_uint_eq(
	    simple(CMD_KEY_TOMBSTONE, DS2, K1, NULL), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(simple(CMD_KEY_TOMBSTONE, DS1, K1, NULL), ST_OK);
	ck_assert_uint_eq(
	    simple(CMD_KEY_TOMBSTONE, DS1, K1, NULL), ST_API_KEY_NOT_FOUND);
	read_key(K1, &r, &l, &out);
	ck_assert_uint_eq(r.tombstone, 1);
	pb_free(&out);
	/* a tombstoned parent takes no aliases or limits */
	ck_assert_uint_eq(alias_create(K1, DS1, 9), ST_API_KEY_NOT_FOUND);
	ck_assert_int_eq(fsm_keys_tombstoned(fsm, dead, 4), 1);
	ck_assert_str_eq(dead[0].uuid, K1);
	ck_assert_str_eq(dead[0].ds, DS1);
	/* 2500 values, 5 cache entries, 3 aliases (2 records each), usage,
	 * limits */
	while (done != 1) {
		ck_assert_uint_eq(simple(CMD_KEY_PURGE, DS1, K1, &done), ST_OK);
		ck_assert_int_ge(done, 0);
		ck_assert_int_lt(++rounds, 10);
	}
	ck_assert_int_eq(rounds, 3);
	ck_assert_uint_eq(
	    rd(READ_KV_ITERATE, DS1, "", 0, 1000, &out, &rest), ST_OK);
	{
		uint32_t n;

		pr_get_u32(&rest, &n);
		ck_assert_uint_eq(n, 0);
	}
	pb_free(&out);
	ck_assert_uint_eq(
	    rd(READ_CACHE_ITERATE, DS1, "", 0, 1000, &out, &rest), ST_OK);
	{
		uint32_t n;

		pr_get_u32(&rest, &n);
		ck_assert_uint_eq(n, 0);
	}
	pb_free(&out);
	ck_assert_uint_eq(aliases(K1, tokens), 0);
	{
		char uuid[37];

		alias_uuid(1, uuid);
		ck_assert_uint_eq(rd(READ_ALIAS, ROOT, uuid, 0, 0, &out, &rest),
		    ST_NOT_FOUND);
		pb_free(&out);
	}
	limits_usage(DS1, &l, u);
	ck_assert_uint_eq(l.mask, 0);
	ck_assert_uint_eq(u[0], 0);
	/* the other scope is untouched */
	limits_usage(DS2, &l, u);
	ck_assert_uint_eq(l.mask, 0x3f);
	ck_assert_uint_eq(u[0], 5);
	/* the key record goes last */
	ck_assert_uint_eq(rd(READ_KEY, ROOT, K1, 0, 0, &out, &rest), ST_OK);
	pb_free(&out);
	/* a value written after the purge keeps the record until purged */
	ck_assert_uint_eq(kv_set(DS1, "late", "v"), ST_OK);
	ck_assert_uint_eq(simple(CMD_KEY_FINISH, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 0);
	ck_assert_uint_eq(rd(READ_KEY, ROOT, K1, 0, 0, &out, &rest), ST_OK);
	pb_free(&out);
	ck_assert_uint_eq(simple(CMD_KEY_PURGE, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(simple(CMD_KEY_FINISH, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(
	    rd(READ_KEY, ROOT, K1, 0, 0, &out, &rest), ST_NOT_FOUND);
	pb_free(&out);
	ck_assert_int_eq(fsm_keys_tombstoned(fsm, dead, 4), 0);
	ck_assert_uint_eq(
	    simple(CMD_KEY_FINISH, DS1, K1, NULL), ST_API_KEY_NOT_FOUND);
}
END_TEST

START_TEST(read_keys_lists_live_in_uuid_order)
{
	struct pbuf out;
	struct pread rest;
	const uint8_t *u, *rec;
	size_t ul, rl;
	uint32_t n;

	ck_assert_uint_eq(key_create(K2, DS2, "two"), ST_OK);
	ck_assert_uint_eq(key_create(K1, DS1, "one"), ST_OK);
	ck_assert_uint_eq(key_create("33333333-3333-4333-8333-333333333333",
			      "dddddddd-dddd-4ddd-8ddd-dddddddddddd", "three"),
	    ST_OK);
	ck_assert_uint_eq(simple(CMD_KEY_TOMBSTONE, DS2, K2, NULL), ST_OK);
	ck_assert_uint_eq(rd(READ_KEYS, ROOT, NULL, 0, 10, &out, &rest), ST_OK);
	pr_get_u32(&rest, &n);
	ck_assert_uint_eq(n, 2);
	pr_get_bytes(&rest, &u, &ul);
	pr_get_bytes(&rest, &rec, &rl);
	ck_assert_mem_eq(u, K1, 36);
	pr_get_bytes(&rest, &u, &ul);
	pr_get_bytes(&rest, &rec, &rl);
	ck_assert_mem_eq(u, "33333333", 8);
	ck_assert_int_eq(pr_end(&rest), 0);
	pb_free(&out);
	/* offset counts live keys; limit bounds */
	ck_assert_uint_eq(rd(READ_KEYS, ROOT, NULL, 1, 1, &out, &rest), ST_OK);
	pr_get_u32(&rest, &n);
	ck_assert_uint_eq(n, 1);
	pr_get_bytes(&rest, &u, &ul);
	ck_assert_mem_eq(u, "33333333", 8);
	pb_free(&out);
}
END_TEST

START_TEST(apply_is_deterministic_in_one_batch)
{
	struct fsm_entry e[3];
	struct fsm_result res[3];
	struct pbuf pb[3], v;
	struct cmd c;

	/* create, alias, tombstone in one batch: later entries see earlier */
	pb_init(&v);
	pb_add_bytes(&v, "n", 1);
	pb_add_bytes(&v, "n", 1);
	pb_add_bytes(&v, "tok", 3);
	for (int i = 0; i < 3; i++)
		pb_init(&pb[i]);
	cmd_init(&c, CMD_KEY_CREATE, DS1, K1);
	c.value = v.data;
	c.value_len = v.len;
	cmd_encode(&pb[0], &c);
	pb_reset(&v);
	pb_add_bytes(&v, "cccccccc-cccc-4ccc-8ccc-000000000001", 36);
	pb_add_bytes(&v, "atok", 4);
	cmd_init(&c, CMD_ALIAS_CREATE, DS1, K1);
	c.value = v.data;
	c.value_len = v.len;
	cmd_encode(&pb[1], &c);
	cmd_init(&c, CMD_KEY_TOMBSTONE, DS1, K1);
	cmd_encode(&pb[2], &c);
	for (int i = 0; i < 3; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].index = next_index++;
		e[i].term = 1;
		e[i].data = pb[i].data;
		e[i].len = pb[i].len;
	}
	fsm_apply(fsm, e, 3, res);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(res[i].status, ST_OK);
		fsm_result_clear(&res[i]);
		pb_free(&pb[i]);
	}
	pb_free(&v);
}
END_TEST

/*
 * apid pure parts
 */

START_TEST(entity_names)
{
	char out[ENTITY_NAME_MAX];
	const char *in =
	    "  My Key-1.a:b/c\\d|e~f!g@h#i$j%k^l&m*n(o)p[q]r{s}t=u+"
	    "v?w`x Ü  ";

	entity_name(in, strlen(in), out, sizeof(out));
	ck_assert_str_eq(
	    out, "my_key_1_a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_t_u_v_w_x_Ü");
	entity_name("\t\n", 2, out, sizeof(out));
	ck_assert_str_eq(out, "");
	entity_name("ABC_xyz,;'\"", 11, out, sizeof(out));
	ck_assert_str_eq(out, "abc_xyz,;'\"");
	/* truncation stays bounded */
	entity_name("abcdef", 6, out, 4);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(key_names)
{
	char buf[600];

	ck_assert(entity_key_name_valid("a", 1));
	ck_assert(!entity_key_name_valid("", 0));
	ck_assert(!entity_key_name_valid("a\x01", 2));
	ck_assert(!entity_key_name_valid("a\x7f", 2));
	ck_assert(!entity_key_name_valid("\xc2\x85", 2)); /* C1 NEL */
	ck_assert(!entity_key_name_valid("\xff", 1));
	memset(buf, 'x', 129);
	ck_assert(!entity_key_name_valid(buf, 129));
	ck_assert(entity_key_name_valid(buf, 128));
	/* 128 code points of 2 bytes */
	for (int i = 0; i < 128; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	ck_assert(entity_key_name_valid(buf, 256));
	memcpy(buf + 256, "\xc3\xa9", 2);
	ck_assert(!entity_key_name_valid(buf, 258));
}
END_TEST

static void
claims(struct token_claims *c, int i)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->k, sizeof(c->k), "k-%d", i);
	snprintf(c->ds, sizeof(c->ds), "ds-%d", i);
	c->is_alias = i % 2;
}

START_TEST(token_cache_expires_and_bounds)
{
	struct tcache *tc = tcache_new(3, 1000);
	struct token_claims c, got;
	char tok[16];

	claims(&c, 1);
	ck_assert_int_eq(tcache_get(tc, "t1", 2, 0, &got), 0);
	tcache_put(tc, "t1", 2, 0, &c);
	ck_assert_int_eq(tcache_get(tc, "t1", 2, 999, &got), 1);
	ck_assert_str_eq(got.k, "k-1");
	ck_assert(got.is_alias);
	/* a prefix or a longer token is another token */
	ck_assert_int_eq(tcache_get(tc, "t", 1, 10, &got), 0);
	ck_assert_int_eq(tcache_get(tc, "t1x", 3, 10, &got), 0);
	ck_assert_int_eq(tcache_get(tc, "t1", 2, 1000, &got), 0);
	ck_assert_uint_eq(tcache_count(tc), 0);
	/* full: the oldest goes */
	for (int i = 0; i < 5; i++) {
		snprintf(tok, sizeof(tok), "tok%d", i);
		claims(&c, i);
		tcache_put(tc, tok, strlen(tok), 100 + i, &c);
		ck_assert_uint_le(tcache_count(tc), 3);
	}
	ck_assert_int_eq(tcache_get(tc, "tok0", 4, 200, &got), 0);
	ck_assert_int_eq(tcache_get(tc, "tok1", 4, 200, &got), 0);
	ck_assert_int_eq(tcache_get(tc, "tok4", 4, 200, &got), 1);
	ck_assert_str_eq(got.k, "k-4");
	tcache_del(tc, "tok4", 4);
	ck_assert_int_eq(tcache_get(tc, "tok4", 4, 200, &got), 0);
	/* ttl 0: no cache */
	tcache_set_ttl(tc, 0);
	tcache_put(tc, "z", 1, 300, &c);
	ck_assert_int_eq(tcache_get(tc, "z", 1, 300, &got), 0);
	tcache_free(tc);
}
END_TEST

START_TEST(key_buckets)
{
	struct kbuckets *kb = kbuckets_new(2);
	struct kbucket_verdict v;

	for (int i = 0; i < 3; i++) {
		kbuckets_take(kb, "s1", KBUCKET_DATA, 3, 0, &v);
		ck_assert(v.allowed);
	}
	kbuckets_take(kb, "s1", KBUCKET_DATA, 3, 0, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_after_s, 1);
	ck_assert_uint_eq(v.burst, 3);
	/* a refusal takes nothing: one token after 1/3 s */
	kbuckets_take(kb, "s1", KBUCKET_DATA, 3, 340, &v);
	ck_assert(v.allowed);
	kbuckets_take(kb, "s1", KBUCKET_DATA, 3, 340, &v);
	ck_assert(!v.allowed);
	/* events are another bucket */
	kbuckets_take(kb, "s1", KBUCKET_EVENTS, 1, 340, &v);
	ck_assert(v.allowed);
	/* a lower rate caps the tokens at once; 0 allows nothing */
	kbuckets_take(kb, "s1", KBUCKET_DATA, 0, 10000, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_after_s, 60);
	/* bounded: a third scope drops an idle one */
	kbuckets_take(kb, "s2", KBUCKET_DATA, 5, 10000, &v);
	ck_assert(v.allowed);
	ck_assert_uint_le(kbuckets_count(kb), 2);
	/* slow rate: Retry-After rounds up */
	kbuckets_take(kb, "s3", KBUCKET_DATA, 1, 20000, &v);
	kbuckets_take(kb, "s3", KBUCKET_DATA, 1, 20000, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_after_s, 1);
	ck_assert_uint_le(kbuckets_count(kb), 2);
	kbuckets_free(kb);
}
END_TEST

static uint16_t
data_cmd(uint16_t type, const char *scope, const char *key, int64_t num)
{
	struct cmd c;

	cmd_init(&c, type, scope, key);
	c.value = (const uint8_t *)"vv";
	c.value_len = 2;
	c.old_value = (const uint8_t *)"v";
	c.old_value_len = 1;
	c.num = num;
	return apply_cmd(&c, NULL);
}

static uint16_t
get_status(uint16_t op, const char *scope, const char *key)
{
	struct pbuf out;
	struct pread rest;
	uint16_t s;

	s = rd(op, scope, key, 0, 0, &out, &rest);
	pb_free(&out);
	return s;
}

/* a write in flight when its key is deleted must not outlive the key */
START_TEST(guard_refuses_writes_of_dead_scopes)
{
	static const uint16_t adds[] = { CMD_KV_SET, CMD_KV_SETNX, CMD_KV_CAS,
		CMD_KV_BUMP, CMD_CACHE_SET, CMD_CACHE_SETNX, CMD_CACHE_CAS };
	int done;

	fsm_key_guard_set(fsm, true);
	/* no key ever had the scope; root needs none */
	ck_assert_uint_eq(kv_set(DS1, "a", "v"), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(get_status(READ_KV_GET, DS1, "a"), ST_NOT_FOUND);
	ck_assert_uint_eq(kv_set(ROOT, "r", "v"), ST_OK);

	ck_assert_uint_eq(key_create(K1, DS1, "One"), ST_OK);
	ck_assert_uint_eq(kv_set(DS1, "a", "v"), ST_OK);
	ck_assert_uint_eq(data_cmd(CMD_CACHE_SET, DS1, "c", 3600000), ST_OK);
	ck_assert_uint_eq(kv_set(DS2, "a", "v"), ST_API_KEY_NOT_FOUND);
	/* a scope belongs to one key */
	ck_assert_uint_eq(key_create(K2, DS1, "Two"), ST_KEY_EXISTS);

	ck_assert_uint_eq(simple(CMD_KEY_TOMBSTONE, DS1, K1, NULL), ST_OK);
	for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++)
		ck_assert_uint_eq(data_cmd(adds[i], DS1, "late", 3600000),
		    ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(get_status(READ_KV_GET, DS1, "late"), ST_NOT_FOUND);
	ck_assert_uint_eq(
	    get_status(READ_CACHE_GET, DS1, "late"), ST_NOT_FOUND);
	/* deletes only remove, so they still apply */
	ck_assert_uint_eq(data_cmd(CMD_KV_DELETE, DS1, "a", 0), ST_OK);
	ck_assert_uint_eq(get_status(READ_KV_GET, DS1, "a"), ST_NOT_FOUND);

	ck_assert_uint_eq(simple(CMD_KEY_PURGE, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(simple(CMD_KEY_FINISH, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 1);
	/* after the key went, the scope index went with it */
	ck_assert_uint_eq(kv_set(DS1, "late", "v"), ST_API_KEY_NOT_FOUND);
	ck_assert_uint_eq(get_status(READ_KV_GET, DS1, "late"), ST_NOT_FOUND);

	/* a new key of the same scope writes again */
	ck_assert_uint_eq(key_create(K2, DS1, "Two"), ST_OK);
	ck_assert_uint_eq(kv_set(DS1, "late", "v"), ST_OK);
	/* the guard is off by default: kv-only tests use keyless scopes */
	fsm_key_guard_set(fsm, false);
	ck_assert_uint_eq(kv_set(DS2, "a", "v"), ST_OK);
}
END_TEST

/* the operator's view of a scope (show scope) follows the key's life */
START_TEST(scope_counts_follow_the_key)
{
	struct fsm_scope_counts n;
	int done;

	ck_assert_uint_eq(key_create(K1, DS1, "One"), ST_OK);
	ck_assert_uint_eq(kv_set(DS1, "a", "v"), ST_OK);
	ck_assert_uint_eq(kv_set(DS1, "b", "v"), ST_OK);
	ck_assert_uint_eq(data_cmd(CMD_CACHE_SET, DS1, "c", 3600000), ST_OK);
	ck_assert_uint_eq(alias_create(K1, DS1, 0), ST_OK);
	ck_assert_uint_eq(alias_create(K1, DS1, 1), ST_OK);
	ck_assert_int_eq(fsm_scope_count(fsm, DS1, &n), 0);
	ck_assert_uint_eq(n.values, 2);
	ck_assert_uint_eq(n.cache_entries, 1);
	ck_assert_uint_eq(n.usage, 1);
	ck_assert_uint_eq(n.limits, 1);
	ck_assert_uint_eq(n.key_records, 1);
	ck_assert_uint_eq(n.scope_index, 1);
	ck_assert_uint_eq(n.aliases, 2);
	ck_assert_uint_eq(n.alias_index, 2);
	ck_assert_uint_eq(n.orphan_aliases, 0);
	ck_assert_uint_eq(n.orphan_alias_index, 0);
	ck_assert(!n.truncated);
	/* another scope holds nothing of it */
	ck_assert_int_eq(fsm_scope_count(fsm, DS2, &n), 0);
	ck_assert_uint_eq(n.values + n.cache_entries + n.usage + n.limits +
		n.key_records + n.scope_index + n.aliases + n.alias_index,
	    0);

	ck_assert_uint_eq(simple(CMD_KEY_TOMBSTONE, DS1, K1, NULL), ST_OK);
	ck_assert_uint_eq(simple(CMD_KEY_PURGE, DS1, K1, &done), ST_OK);
	ck_assert_uint_eq(simple(CMD_KEY_FINISH, DS1, K1, &done), ST_OK);
	ck_assert_int_eq(done, 1);
	ck_assert_int_eq(fsm_scope_count(fsm, DS1, &n), 0);
	ck_assert_uint_eq(n.values + n.cache_entries + n.usage + n.limits +
		n.key_records + n.scope_index + n.aliases + n.alias_index +
		n.orphan_aliases + n.orphan_alias_index,
	    0);
	ck_assert_int_eq(fsm_scope_count(fsm, "bad:scope", &n), -1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("fsm_keys");
	TCase *tc = tcase_create("apply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_sets_record_defaults_and_zero_usage);
	tcase_add_test(tc, absent_key_reads_not_found);
	tcase_add_test(tc, aliases_counted_ordered_and_owned);
	tcase_add_test(tc, limits_set_merges_members);
	tcase_add_test(tc, tombstone_purge_finish);
	tcase_add_test(tc, read_keys_lists_live_in_uuid_order);
	tcase_add_test(tc, apply_is_deterministic_in_one_batch);
	tcase_add_test(tc, guard_refuses_writes_of_dead_scopes);
	tcase_add_test(tc, scope_counts_follow_the_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("apid");
	tcase_add_test(tc, entity_names);
	tcase_add_test(tc, key_names);
	tcase_add_test(tc, token_cache_expires_and_bounds);
	tcase_add_test(tc, key_buckets);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
