/*
 * Pure rules of events: the §7.3 window decision of apply (accept below
 * the limit, open the window when first found exhausted, refuse inside
 * 24 h, reset after), unlimited scopes counted; Retry-After; the
 * emitted_at text and the frame of §14.3; the WebSocket accept key and
 * header checks of the handshake.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apid/events_pure.h"
#include "apid/ws_pure.h"
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

START_TEST(retry_after_rounds_up)
{
	ck_assert_int_eq(apid_event_retry_after(T0 + 10 * S, T0), 10);
	ck_assert_int_eq(apid_event_retry_after(T0 + 10 * S + 1, T0), 11);
	ck_assert_int_eq(apid_event_retry_after(T0 + 1, T0), 1);
	ck_assert_int_eq(apid_event_retry_after(T0, T0), 1);
	ck_assert_int_eq(apid_event_retry_after(T0 - S, T0), 1);
}
END_TEST

START_TEST(time_trims_fraction)
{
	char out[APID_EVENT_TIME_MAX];

	/* 2023-11-14T22:13:20Z is 1700000000 */
	apid_event_time(T0, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
	apid_event_time(T0 + 500000000, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20.5Z");
	apid_event_time(T0 + 120000, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20.00012Z");
	apid_event_time(T0 + 999999999, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20.999999999Z");
	apid_event_time(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
}
END_TEST

START_TEST(frame_shape)
{
	struct pbuf b;
	const char *want = "{\"topic\":\"a\\\"b\",\"data\":[1, 2.50],"
			   "\"emitted_at\":\"2023-11-14T22:13:20.25Z\"}";

	pb_init(&b);
	apid_event_frame(&b, (const uint8_t *)"a\"b", 3,
	    (const uint8_t *)"[1, 2.50]", 9, T0 + 250000000);
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert(memcmp(b.data, want, b.len) == 0);
	pb_free(&b);
}
END_TEST

START_TEST(accept_key_rfc6455)
{
	char out[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

	/* the example of RFC 6455 §1.3 */
	ws_accept_key(key, strlen(key), out);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert(ws_key_valid(key, strlen(key)));
	ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ", 22));
	ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25j*Q==", 24));
}
END_TEST

START_TEST(header_tokens)
{
	const char *v = "keep-alive, Upgrade";

	ck_assert(ws_header_has_token(v, strlen(v), "upgrade"));
	ck_assert(ws_header_has_token(v, strlen(v), "keep-alive"));
	ck_assert(!ws_header_has_token(v, strlen(v), "upgrad"));
	ck_assert(!ws_header_has_token("upgrades", 8, "upgrade"));
	ck_assert(ws_header_has_token(" WebSocket ", 11, "websocket"));
	ck_assert(!ws_header_has_token("", 0, "websocket"));
}
END_TEST

START_TEST(topic_rules)
{
	char big[APID_EVENT_TOPIC_MAX + 1];

	memset(big, 't', sizeof(big));
	ck_assert(apid_event_topic_valid(big, APID_EVENT_TOPIC_MAX));
	ck_assert(!apid_event_topic_valid(big, APID_EVENT_TOPIC_MAX + 1));
	ck_assert(!apid_event_topic_valid("", 0));
	ck_assert(!apid_event_topic_valid("a\0b", 3));
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
	tc = tcase_create("apid");
	tcase_add_test(tc, retry_after_rounds_up);
	tcase_add_test(tc, time_trims_fraction);
	tcase_add_test(tc, frame_shape);
	tcase_add_test(tc, accept_key_rfc6455);
	tcase_add_test(tc, header_tokens);
	tcase_add_test(tc, topic_rules);
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
