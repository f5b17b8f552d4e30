/*
 * Subscriber slots and shakes in the state machine (API.md §14.5, §14.6):
 * acquire up to the limit, re-acquire without a second entry, release,
 * incarnation changes and resets dropping a node's entries, the shake
 * block and its end, removed nodes, and `subscribers` equal to the
 * number of entries throughout.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "proto/codec.h"
#include "raftd/fsm_int.h"
#include "raftd/fsm_slots.h"
#include "tests/unit/fsm_fixture.h"

#define DS "ds1"
#define S1 "11111111-1111-4111-8111-111111111111"
#define S2 "22222222-2222-4222-8222-222222222222"
#define S3 "33333333-3333-4333-8333-333333333333"
#define INC_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define INC_B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define MS 1000000LL

static struct pbuf val;

static void
limit_subscribers(const char *scope, uint64_t limit)
{
	struct fsm_batch b;
	struct fsm_limits l;

	memset(&l, 0, sizeof(l));
	l.mask = 1u << FSM_SUBSCRIBERS;
	l.v[FSM_SUBSCRIBERS] = limit;
	fsm_batch_begin(fixture_fsm, &b);
	fsm_limits_put(&b, scope, &l);
	fsm_batch_commit(&b, 0, 0);
	fsm_batch_end(&b);
}

static uint16_t
slot(uint16_t type, const char *scope, const char *node, const char *inc,
    const char *session, int64_t ts, struct fsm_result *res)
{
	struct cmd c;
	uint16_t st;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.ts = ts;
	snprintf(c.scope, sizeof(c.scope), "%s", scope);
	if (session != NULL) {
		c.key = (const uint8_t *)session;
		c.key_len = strlen(session);
	}
	pb_init(&val);
	pb_add_str(&val, node);
	pb_add_str(&val, inc);
	c.value = val.data;
	c.value_len = val.len;
	st = fixture_apply(&c, res);
	pb_free(&val);
	return st;
}

static uint16_t
acquire(const char *node, const char *inc, const char *session, int64_t ts)
{
	return slot(CMD_SLOT_ACQUIRE, DS, node, inc, session, ts, NULL);
}

static uint16_t
release(const char *node, const char *inc, const char *session)
{
	return slot(CMD_SLOT_RELEASE, DS, node, inc, session, 1, NULL);
}

static uint64_t
subscribers(void)
{
	return fixture_usage(DS, FSM_SUBSCRIBERS);
}

static uint16_t
shake(
    uint16_t type, int64_t ts, int64_t num, const char *const *nodes, size_t n)
{
	struct cmd c;
	uint16_t st;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.ts = ts;
	c.num = num;
	snprintf(c.scope, sizeof(c.scope), "%s", DS);
	pb_init(&val);
	if (type == CMD_SHAKE_END) {
		pb_add_u32(&val, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			pb_add_str(&val, nodes[i]);
	} else if (type == CMD_SLOT_DROP_NODE) {
		pb_add_str(&val, nodes[0]);
		snprintf(c.scope, sizeof(c.scope), "%s", FIXTURE_ROOT);
	}
	c.value = val.data;
	c.value_len = val.len;
	st = fixture_apply(&c, NULL);
	pb_free(&val);
	return st;
}

START_TEST(acquire_up_to_limit)
{
	struct fsm_result res;

	limit_subscribers(DS, 2);
	ck_assert_uint_eq(acquire("node0", INC_A, S1, 1), ST_OK);
	ck_assert_uint_eq(acquire("node1", INC_B, S2, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(
	    slot(CMD_SLOT_ACQUIRE, DS, "node1", INC_B, S3, 1, &res),
	    ST_SUBSCRIBER_LIMIT);
	ck_assert_uint_eq(res.usage, 2);
	ck_assert_uint_eq(res.limit, 2);
	fsm_result_clear(&res);
	ck_assert_uint_eq(subscribers(), 2);
	/* an existing entry is granted again without a second one */
	ck_assert_uint_eq(acquire("node0", INC_A, S1, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
	/* release frees the room; a second release changes nothing */
	ck_assert_uint_eq(release("node0", INC_A, S1), ST_OK);
	ck_assert_uint_eq(release("node0", INC_A, S1), ST_OK);
	ck_assert_uint_eq(subscribers(), 1);
	ck_assert_uint_eq(acquire("node1", INC_B, S3, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
}
END_TEST

START_TEST(root_is_never_limited)
{
	limit_subscribers(FIXTURE_ROOT, 0);
	ck_assert_uint_eq(
	    slot(CMD_SLOT_ACQUIRE, FIXTURE_ROOT, "node0", INC_A, S1, 1, NULL),
	    ST_OK);
	ck_assert_uint_eq(fixture_usage(FIXTURE_ROOT, FSM_SUBSCRIBERS), 1);
}
END_TEST

START_TEST(new_incarnation_drops_old_entries)
{
	ck_assert_uint_eq(acquire("node0", INC_A, S1, 1), ST_OK);
	ck_assert_uint_eq(acquire("node0", INC_A, S2, 1), ST_OK);
	ck_assert_uint_eq(acquire("node1", INC_A, S3, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 3);
	/* node0 restarted: its first acquire drops what the crash left */
	ck_assert_uint_eq(acquire("node0", INC_B, S1, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
	/* a reset with the same incarnation keeps the entries */
	ck_assert_uint_eq(
	    slot(CMD_SLOT_RESET, FIXTURE_ROOT, "node0", INC_B, NULL, 1, NULL),
	    ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
	/* a reset with another one drops them; node1's stay */
	ck_assert_uint_eq(
	    slot(CMD_SLOT_RESET, FIXTURE_ROOT, "node0", INC_A, NULL, 1, NULL),
	    ST_OK);
	ck_assert_uint_eq(subscribers(), 1);
}
END_TEST

START_TEST(shake_blocks_then_ends)
{
	static const char *const purged[] = { "node0", "node1" };
	struct fsm_result res;

	ck_assert_uint_eq(acquire("node0", INC_A, S1, 1), ST_OK);
	ck_assert_uint_eq(acquire("node1", INC_A, S2, 1), ST_OK);
	ck_assert_uint_eq(acquire("node2", INC_A, S3, 1), ST_OK);
	ck_assert_uint_eq(
	    shake(CMD_SHAKE_BEGIN, 1000 * MS, 60000, NULL, 0), ST_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_uint_eq(
	    slot(CMD_SLOT_ACQUIRE, DS, "node0", INC_A,
		"44444444-4444-4444-8444-444444444444", 1001 * MS, &res),
	    ST_SHAKE_BLOCKED);
	fsm_result_clear(&res);
	/* the block ends by itself after its time */
	ck_assert_uint_eq(
	    acquire("node0", INC_A, "44444444-4444-4444-8444-444444444444",
		61000 * MS),
	    ST_OK);
	ck_assert_uint_eq(subscribers(), 4);
	/* the end drops the purged nodes' entries of the scope only */
	ck_assert_uint_eq(
	    slot(CMD_SLOT_ACQUIRE, "ds2", "node0", INC_A, S1, 1, NULL), ST_OK);
	ck_assert_uint_eq(
	    shake(CMD_SHAKE_BEGIN, 62000 * MS, 60000, NULL, 0), ST_OK);
	ck_assert_uint_eq(
	    shake(CMD_SHAKE_END, 62001 * MS, 0, purged, 2), ST_OK);
	ck_assert_uint_eq(subscribers(), 1);
	ck_assert_uint_eq(fixture_usage("ds2", FSM_SUBSCRIBERS), 1);
	ck_assert_uint_eq(acquire("node0", INC_A, S1, 62002 * MS), ST_OK);
	ck_assert_uint_eq(subscribers(), 2);
}
END_TEST

START_TEST(drop_node_and_bad_commands)
{
	static const char *const node0[] = { "node0" };

	ck_assert_uint_eq(acquire("node0", INC_A, S1, 1), ST_OK);
	ck_assert_uint_eq(acquire("node1", INC_A, S2, 1), ST_OK);
	ck_assert_uint_eq(shake(CMD_SLOT_DROP_NODE, 1, 0, node0, 1), ST_OK);
	ck_assert_uint_eq(subscribers(), 1);
	/* malformed: a session that is no UUID, a node id with a NUL */
	ck_assert_uint_eq(acquire("node0", INC_A, "short", 1), ST_BAD_COMMAND);
	ck_assert_uint_eq(acquire("no\001de", INC_A, S1, 1), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    shake(CMD_SHAKE_BEGIN, 1, 0, NULL, 0), ST_BAD_COMMAND);
	ck_assert_uint_eq(
	    shake(CMD_SHAKE_BEGIN, 1, 60001, NULL, 0), ST_BAD_COMMAND);
	ck_assert_uint_eq(subscribers(), 1);
}
END_TEST

static Suite *
slots_suite(void)
{
	Suite *s = suite_create("fsm_slots");
	TCase *tc = tcase_create("slots");

	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, acquire_up_to_limit);
	tcase_add_test(tc, root_is_never_limited);
	tcase_add_test(tc, new_incarnation_drops_old_entries);
	tcase_add_test(tc, shake_blocks_then_ends);
	tcase_add_test(tc, drop_node_and_bad_commands);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(slots_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
