/*
 * Pure rules of events: the §7.3 window decision of apply (accept below
 * the limit, open the window when first found exhausted, refuse inside
 * 24 h, reset after), unlimited scopes counted.
 */
#include <check.h>
#include <stdlib.h>

#include "raftd/fsm_events.h"

#define S 1000000000LL
#define T0 (1700000000LL * S)

START_TEST(window_accepts_below_limit)
{
	struct fsm_event_window w = { 0, false, 0 };

	for (int i = 0; i < 3; i++)
		ck_assert(fsm_event_window_step(&w, true, 3, T0 + i));
	ck_assert_uint_eq(w.emitted, 3);
	ck_assert(!w.has_start);
}
END_TEST

START_TEST(window_opens_at_first_refusal)
{
	struct fsm_event_window w = { 3, false, 0 };

	ck_assert(!fsm_event_window_step(&w, true, 3, T0));
	ck_assert(w.has_start);
	ck_assert_int_eq(w.start, T0);
	ck_assert_uint_eq(w.emitted, 3);
	/* later refusals inside the window keep its start */
	ck_assert(!fsm_event_window_step(&w, true, 3, T0 + 3600 * S));
	ck_assert_int_eq(w.start, T0);
	ck_assert(
	    !fsm_event_window_step(&w, true, 3, T0 + FSM_EVENT_WINDOW_NS - 1));
	ck_assert_int_eq(w.start, T0);
	ck_assert_uint_eq(w.emitted, 3);
}
END_TEST

START_TEST(window_resets_after_24h)
{
	struct fsm_event_window w = { 3, true, T0 };

	ck_assert(fsm_event_window_step(&w, true, 3, T0 + FSM_EVENT_WINDOW_NS));
	ck_assert_uint_eq(w.emitted, 1);
	ck_assert_int_eq(w.start, T0 + FSM_EVENT_WINDOW_NS);
	/* accepted again below the limit, the stored start stays */
	ck_assert(
	    fsm_event_window_step(&w, true, 3, T0 + FSM_EVENT_WINDOW_NS + 1));
	ck_assert(
	    fsm_event_window_step(&w, true, 3, T0 + FSM_EVENT_WINDOW_NS + 2));
	ck_assert_uint_eq(w.emitted, 3);
	/* exhausted again: the window is the one the reset opened */
	ck_assert(
	    !fsm_event_window_step(&w, true, 3, T0 + FSM_EVENT_WINDOW_NS + 3));
	ck_assert_int_eq(w.start, T0 + FSM_EVENT_WINDOW_NS);
}
END_TEST

START_TEST(window_clock_back_refuses)
{
	struct fsm_event_window w = { 2, true, T0 };

	ck_assert(!fsm_event_window_step(&w, true, 2, T0 - 30 * S));
	ck_assert_int_eq(w.start, T0);
}
END_TEST

START_TEST(window_limit_zero)
{
	struct fsm_event_window w = { 0, false, 0 };

	ck_assert(!fsm_event_window_step(&w, true, 0, T0));
	ck_assert(
	    !fsm_event_window_step(&w, true, 0, T0 + FSM_EVENT_WINDOW_NS));
	ck_assert_uint_eq(w.emitted, 0);
}
END_TEST

START_TEST(window_unlimited_counts)
{
	struct fsm_event_window w = { 5000, false, 0 };

	ck_assert(fsm_event_window_step(&w, false, 0, T0));
	ck_assert_uint_eq(w.emitted, 5001);
	ck_assert(!w.has_start);
}
END_TEST

static Suite *
events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, window_accepts_below_limit);
	tcase_add_test(tc, window_opens_at_first_refusal);
	tcase_add_test(tc, window_resets_after_24h);
	tcase_add_test(tc, window_clock_back_refuses);
	tcase_add_test(tc, window_limit_zero);
	tcase_add_test(tc, window_unlimited_counts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(events_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
