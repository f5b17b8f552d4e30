/*
 * raft_wire: round trips of every Raft message type with random contents,
 * and refusal of truncated, corrupted and oversized input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/raft_wire.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint8_t *
rnd_bytes(uint32_t n)
{
	uint8_t *p;
	uint32_t i;

	if (n == 0)
		return NULL;
	p = malloc(n);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
	return p;
}

static void
rnd_config(struct raft_config *c)
{
	uint32_t i;

	memset(c, 0, sizeof(*c));
	c->n = (uint32_t)(rnd() % (RAFT_MAX_NODES + 1));
	for (i = 0; i < c->n; i++) {
		c->servers[i].id = (uint64_t)i * 1000 + 1 + rnd() % 999;
		c->servers[i].role = (uint8_t)(rnd() % 2);
		c->servers[i].promote = (uint8_t)(rnd() % 2);
	}
}

/* a message of the type with random values in exactly the used fields */
static void
rnd_msg(struct raft_msg *m, uint8_t type)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = rnd();
	m->to = rnd();
	m->term = rnd();
	switch (type) {
	case RAFT_MSG_APPEND:
		m->prev_index = rnd();
		m->prev_term = rnd();
		m->commit = rnd();
		m->n_entries = (uint32_t)(rnd() % 8);
		if (m->n_entries > 0)
			m->entries = calloc(m->n_entries, sizeof(*m->entries));
		for (i = 0; i < m->n_entries; i++) {
			m->entries[i].term = rnd();
			m->entries[i].index = rnd();
			m->entries[i].type = (uint8_t)(rnd() % 3);
			m->entries[i].len = (uint32_t)(rnd() % 300);
			m->entries[i].data = rnd_bytes(m->entries[i].len);
		}
		break;
	case RAFT_MSG_APPEND_RESP:
		m->reject = (uint8_t)(rnd() % 2);
		m->index = rnd();
		m->hint_index = rnd();
		m->hint_term = rnd();
		break;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE:
		m->index = rnd();
		m->log_term = rnd();
		m->force = (uint8_t)(rnd() % 2);
		break;
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PREVOTE_RESP:
		m->reject = (uint8_t)(rnd() % 2);
		break;
	case RAFT_MSG_HEARTBEAT:
		m->commit = rnd();
		m->seq = rnd();
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		m->seq = rnd();
		m->index = rnd();
		break;
	case RAFT_MSG_SNAPSHOT:
		m->snap.index = rnd();
		m->snap.term = rnd();
		rnd_config(&m->snap.config);
		m->len = (uint32_t)(rnd() % 2000);
		m->offset = rnd() % 100000;
		m->total = m->offset + m->len + rnd() % 5000;
		m->data = rnd_bytes(m->len);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		m->index = rnd();
		m->offset = rnd();
		m->reject = (uint8_t)(rnd() % 2);
		break;
	default:
		break;
	}
}

static void
assert_msg_eq(const struct raft_msg *a, const struct raft_msg *b)
{
	uint32_t i;

	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->reject, b->reject);
	ck_assert_uint_eq(a->force, b->force);
	ck_assert(a->from == b->from && a->to == b->to && a->term == b->term);
	ck_assert(a->prev_index == b->prev_index);
	ck_assert(a->prev_term == b->prev_term);
	ck_assert(a->commit == b->commit && a->index == b->index);
	ck_assert(a->log_term == b->log_term);
	ck_assert(a->hint_index == b->hint_index);
	ck_assert(a->hint_term == b->hint_term && a->seq == b->seq);
	ck_assert(a->offset == b->offset && a->total == b->total);
	ck_assert(a->snap.index == b->snap.index);
	ck_assert(a->snap.term == b->snap.term);
	ck_assert_uint_eq(a->snap.config.n, b->snap.config.n);
	for (i = 0; i < a->snap.config.n; i++) {
		ck_assert(a->snap.config.servers[i].id ==
		    b->snap.config.servers[i].id);
		ck_assert_uint_eq(a->snap.config.servers[i].role,
		    b->snap.config.servers[i].role);
		ck_assert_uint_eq(a->snap.config.servers[i].promote,
		    b->snap.config.servers[i].promote);
	}
	ck_assert_uint_eq(a->len, b->len);
	if (a->len > 0)
		ck_assert_int_eq(memcmp(a->data, b->data, a->len), 0);
	ck_assert_uint_eq(a->n_entries, b->n_entries);
	for (i = 0; i < a->n_entries; i++) {
		ck_assert(a->entries[i].term == b->entries[i].term);
		ck_assert(a->entries[i].index == b->entries[i].index);
		ck_assert_uint_eq(a->entries[i].type, b->entries[i].type);
		ck_assert_uint_eq(a->entries[i].len, b->entries[i].len);
		if (a->entries[i].len > 0)
			ck_assert_int_eq(
			    memcmp(a->entries[i].data, b->entries[i].data,
				a->entries[i].len),
			    0);
	}
}

START_TEST(roundtrip_every_type)
{
	struct raft_msg m, d;
	struct pbuf b;
	uint8_t type;
	int round;

	for (round = 0; round < 200; round++) {
		for (type = RAFT_MSG_APPEND; type <= RAFT_MSG_TIMEOUT_NOW;
		     type++) {
			rnd_msg(&m, type);
			pb_init(&b);
			ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
			ck_assert_int_eq(
			    raft_wire_decode(b.data, b.len, &d), 0);
			assert_msg_eq(&m, &d);
			raft_wire_msg_free(&d);
			raft_wire_msg_free(&m);
			pb_free(&b);
		}
	}
}
END_TEST

START_TEST(every_truncation_rejected)
{
	struct raft_msg m, d;
	struct pbuf b;
	uint8_t type, *copy;
	size_t cut;

	for (type = RAFT_MSG_APPEND; type <= RAFT_MSG_TIMEOUT_NOW; type++) {
		rnd_msg(&m, type);
		pb_init(&b);
		ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
		for (cut = 0; cut < b.len; cut++) {
			/* a fresh allocation so ASan sees any overread */
			copy = malloc(cut + 1);
			memcpy(copy, b.data, cut);
			ck_assert_int_eq(raft_wire_decode(copy, cut, &d), -1);
			ck_assert_ptr_null(d.entries);
			ck_assert_ptr_null(d.data);
			free(copy);
		}
		/* trailing bytes are refused as well */
		pb_add_u8(&b, 0);
		ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
		raft_wire_msg_free(&m);
		pb_free(&b);
	}
}
END_TEST

START_TEST(unknown_type_rejected)
{
	struct raft_msg m, d;
	struct pbuf b;
	uint8_t bad[] = { 0, RAFT_MSG_TIMEOUT_NOW + 1, 200, 255 };
	size_t i;

	for (i = 0; i < sizeof(bad); i++) {
		memset(&m, 0, sizeof(m));
		m.type = bad[i];
		pb_init(&b);
		ck_assert_int_eq(raft_wire_encode(&b, &m), -1);
		ck_assert_uint_eq(b.len, 0);
		pb_add_u8(&b, bad[i]);
		pb_add_u64(&b, 1);
		pb_add_u64(&b, 2);
		pb_add_u64(&b, 3);
		ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
		pb_free(&b);
	}
}
END_TEST

/* the header of an APPEND up to its entry count */
static void
append_head(struct pbuf *b, uint32_t n)
{
	pb_add_u8(b, RAFT_MSG_APPEND);
	pb_add_u64(b, 1);
	pb_add_u64(b, 2);
	pb_add_u64(b, 3);
	pb_add_u64(b, 4);
	pb_add_u64(b, 5);
	pb_add_u64(b, 6);
	pb_add_u32(b, n);
}

START_TEST(corrupted_lengths_rejected)
{
	struct raft_msg d;
	struct pbuf b;

	/* entry data length past the end */
	pb_init(&b);
	append_head(&b, 1);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 1);
	pb_add_u8(&b, RAFT_ENTRY_NORMAL);
	pb_add_u32(&b, 100);
	pb_add_raw(&b, "abc", 3);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* entry data length of 4 GiB - 1 */
	pb_init(&b);
	append_head(&b, 1);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 1);
	pb_add_u8(&b, RAFT_ENTRY_NORMAL);
	pb_add_u32(&b, UINT32_MAX);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* second entry broken after a good first one: nothing leaks */
	pb_init(&b);
	append_head(&b, 2);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 1);
	pb_add_u8(&b, RAFT_ENTRY_NORMAL);
	pb_add_bytes(&b, "hello", 5);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 2);
	pb_add_u8(&b, 7); /* no such entry type */
	pb_add_bytes(&b, "x", 1);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* snapshot chunk running past its total */
	pb_init(&b);
	pb_add_u8(&b, RAFT_MSG_SNAPSHOT);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 2);
	pb_add_u64(&b, 3);
	pb_add_u64(&b, 10);
	pb_add_u64(&b, 2);
	pb_add_u8(&b, 0);
	pb_add_u64(&b, 8);
	pb_add_u64(&b, 10);
	pb_add_bytes(&b, "abcd", 4);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* flag byte other than 0 or 1 */
	pb_init(&b);
	pb_add_u8(&b, RAFT_MSG_VOTE_RESP);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 2);
	pb_add_u64(&b, 3);
	pb_add_u8(&b, 2);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);
}
END_TEST

START_TEST(oversized_counts_rejected)
{
	struct raft_msg m, d;
	struct pbuf b;
	uint32_t i;

	/* a huge entry count with few bytes behind it */
	pb_init(&b);
	append_head(&b, 1000000);
	for (i = 0; i < 4; i++)
		pb_add_u64(&b, 0);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* one more entry than allowed, each of them well formed */
	pb_init(&b);
	append_head(&b, RAFT_WIRE_MAX_ENTRIES + 1);
	for (i = 0; i < RAFT_WIRE_MAX_ENTRIES + 1; i++) {
		pb_add_u64(&b, 1);
		pb_add_u64(&b, i);
		pb_add_u8(&b, RAFT_ENTRY_NOOP);
		pb_add_u32(&b, 0);
	}
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* too many servers in a snapshot configuration */
	pb_init(&b);
	pb_add_u8(&b, RAFT_MSG_SNAPSHOT);
	pb_add_u64(&b, 1);
	pb_add_u64(&b, 2);
	pb_add_u64(&b, 3);
	pb_add_u64(&b, 10);
	pb_add_u64(&b, 2);
	pb_add_u8(&b, RAFT_MAX_NODES + 1);
	for (i = 0; i < RAFT_MAX_NODES + 1; i++) {
		pb_add_u64(&b, i + 1);
		pb_add_u8(&b, 0);
		pb_add_u8(&b, 0);
	}
	pb_add_u64(&b, 0);
	pb_add_u64(&b, 0);
	pb_add_u32(&b, 0);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), -1);
	pb_free(&b);

	/* the encoder refuses what the decoder would refuse */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.n_entries = RAFT_WIRE_MAX_ENTRIES + 1;
	m.entries = calloc(m.n_entries, sizeof(*m.entries));
	pb_init(&b);
	ck_assert_int_eq(raft_wire_encode(&b, &m), -1);
	ck_assert_uint_eq(b.len, 0);
	free(m.entries);

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.len = RAFT_WIRE_MAX_BYTES;
	m.total = m.len;
	m.data = calloc(1, m.len);
	ck_assert_int_eq(raft_wire_encode(&b, &m), -1);
	ck_assert_uint_eq(b.len, 0);
	/* the largest chunk that fits is accepted both ways */
	m.len = RAFT_WIRE_MAX_BYTES - 64;
	ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
	ck_assert_int_eq(raft_wire_decode(b.data, b.len, &d), 0);
	ck_assert_uint_eq(d.len, m.len);
	raft_wire_msg_free(&d);
	free(m.data);
	pb_free(&b);

	/* a duplicate server id in the configuration */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.snap.config.n = 2;
	m.snap.config.servers[0].id = 5;
	m.snap.config.servers[1].id = 5;
	pb_init(&b);
	ck_assert_int_eq(raft_wire_encode(&b, &m), -1);
	pb_free(&b);
}
END_TEST

START_TEST(random_mutations_never_crash)
{
	struct raft_msg m, d;
	struct pbuf b;
	uint8_t type;
	int round, k, ok = 0;

	for (round = 0; round < 300; round++) {
		type =
		    (uint8_t)(RAFT_MSG_APPEND + round % RAFT_MSG_TIMEOUT_NOW);
		rnd_msg(&m, type);
		pb_init(&b);
		ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
		for (k = 0; k < 4; k++)
			b.data[rnd() % b.len] = (uint8_t)rnd();
		if (raft_wire_decode(b.data, b.len, &d) == 0) {
			ok++;
			raft_wire_msg_free(&d);
		}
		raft_wire_msg_free(&m);
		pb_free(&b);
	}
	/* mutated payload bytes still decode: the test did decode things */
	ck_assert_int_gt(ok, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("raft_wire");
	TCase *tc = tcase_create("wire");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, roundtrip_every_type);
	tcase_add_test(tc, every_truncation_rejected);
	tcase_add_test(tc, unknown_type_rejected);
	tcase_add_test(tc, corrupted_lengths_rejected);
	tcase_add_test(tc, oversized_counts_rejected);
	tcase_add_test(tc, random_mutations_never_crash);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
