/*
 * Prometheus text of GET /metrics (apid/metrics_text.c): cumulative
 * histogram buckets, label escaping, the request table by class and code.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apid/metrics_text.h"

static char *
text_of(struct pbuf *b)
{
	char *s = malloc(b->len + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	return s;
}

START_TEST(test_label_escaping)
{
	const char *labels[] = { "peer", "a\\b\"c\nd", "x", "", NULL };
	struct pbuf b;
	char *s;

	pb_init(&b);
	metrics_sample_u64(&b, "m", labels, 7);
	s = text_of(&b);
	ck_assert_str_eq(s, "m{peer=\"a\\\\b\\\"c\\nd\",x=\"\"} 7\n");
	free(s);
	pb_free(&b);
}
END_TEST

START_TEST(test_no_labels)
{
	struct pbuf b;
	char *s;

	pb_init(&b);
	metrics_sample_u64(&b, "insidb_raft_term", NULL, 42);
	metrics_sample_double(&b, "r", NULL, 2.5);
	s = text_of(&b);
	ck_assert_str_eq(s, "insidb_raft_term 42\nr 2.5\n");
	free(s);
	pb_free(&b);
}
END_TEST

START_TEST(test_family_help_escaped)
{
	struct pbuf b;
	char *s;

	pb_init(&b);
	metrics_family(&b, "m", "gauge", "a \"q\" back\\slash\nline");
	s = text_of(&b);
	/* HELP escapes backslash and line feed, not quotes */
	ck_assert_str_eq(
	    s, "# HELP m a \"q\" back\\\\slash\\nline\n# TYPE m gauge\n");
	free(s);
	pb_free(&b);
}
END_TEST

START_TEST(test_double_format)
{
	char buf[64];

	metrics_format_double(0.0005, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.0005");
	metrics_format_double(10, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10");
	metrics_format_double(0.1 + 0.2, buf, sizeof(buf));
	ck_assert_double_eq(strtod(buf, NULL), 0.1 + 0.2);
	metrics_format_double(1.0 / 0.0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "+Inf");
}
END_TEST

START_TEST(test_histogram_cumulative)
{
	struct metrics_hist h;
	struct pbuf b;
	char *s;

	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, 0.0001); /* le 0.0005 */
	metrics_hist_observe(&h, 0.0005); /* bound is inclusive */
	metrics_hist_observe(&h, 0.003); /* le 0.005 */
	metrics_hist_observe(&h, 0.7); /* le 1 */
	metrics_hist_observe(&h, 30); /* only +Inf */
	pb_init(&b);
	metrics_hist_put(&b, "d", "class", "values", &h);
	s = text_of(&b);
	ck_assert_str_eq(s,
	    "d_bucket{class=\"values\",le=\"0.0005\"} 2\n"
	    "d_bucket{class=\"values\",le=\"0.001\"} 2\n"
	    "d_bucket{class=\"values\",le=\"0.0025\"} 2\n"
	    "d_bucket{class=\"values\",le=\"0.005\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.01\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.025\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.05\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.1\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.25\"} 3\n"
	    "d_bucket{class=\"values\",le=\"0.5\"} 3\n"
	    "d_bucket{class=\"values\",le=\"1\"} 4\n"
	    "d_bucket{class=\"values\",le=\"2.5\"} 4\n"
	    "d_bucket{class=\"values\",le=\"5\"} 4\n"
	    "d_bucket{class=\"values\",le=\"10\"} 4\n"
	    "d_bucket{class=\"values\",le=\"+Inf\"} 5\n"
	    "d_sum{class=\"values\"} 30.7036\n"
	    "d_count{class=\"values\"} 5\n");
	free(s);
	pb_free(&b);
}
END_TEST

START_TEST(test_histogram_unlabelled)
{
	struct metrics_hist h;
	struct pbuf b;
	char *s;

	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, 2);
	pb_init(&b);
	metrics_hist_put(&b, "f", NULL, NULL, &h);
	s = text_of(&b);
	ck_assert_ptr_nonnull(strstr(s, "f_bucket{le=\"1\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(s, "f_bucket{le=\"2.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(s, "f_bucket{le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(s, "\nf_sum 2\nf_count 1\n"));
	free(s);
	pb_free(&b);
}
END_TEST

START_TEST(test_requests_by_class_and_code)
{
	struct metrics_reqs *r = calloc(1, sizeof(*r));
	struct pbuf b;
	char *s;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(metrics_class_index("metrics"), 8);
	ck_assert_int_eq(metrics_class_index("nope"), -1);
	metrics_reqs_observe(r, "values", 200, 0.002);
	metrics_reqs_observe(r, "values", 200, 0.004);
	metrics_reqs_observe(r, "values", 404, 0.001);
	metrics_reqs_observe(r, "admin", 401, 0.0001);
	metrics_reqs_observe(r, "bogus", 200, 0.1); /* ignored */
	pb_init(&b);
	metrics_reqs_put(&b, r);
	s = text_of(&b);
	ck_assert_ptr_nonnull(strstr(s,
	    "# TYPE insidb_http_requests_total counter\n"
	    "insidb_http_requests_total{class=\"values\",code=\"200\"} 2\n"
	    "insidb_http_requests_total{class=\"values\",code=\"404\"} 1\n"
	    "insidb_http_requests_total{class=\"admin\",code=\"401\"} 1\n"
	    "# HELP insidb_http_request_duration_seconds"));
	ck_assert_ptr_null(strstr(s, "bogus"));
	ck_assert_ptr_nonnull(strstr(
	    s, "# TYPE insidb_http_request_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "insidb_http_request_duration_seconds_bucket{class=\"values\","
	    "le=\"0.001\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "insidb_http_request_duration_seconds_bucket{class=\"values\","
	    "le=\"0.0025\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "insidb_http_request_duration_seconds_count{class=\"values\"} "
	    "3\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    "insidb_http_request_duration_seconds_count{class=\"metrics\"} "
	    "0\n"));
	free(s);
	pb_free(&b);
	free(r);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_no_labels);
	tcase_add_test(tc, test_family_help_escaped);
	tcase_add_test(tc, test_double_format);
	tcase_add_test(tc, test_histogram_cumulative);
	tcase_add_test(tc, test_histogram_unlabelled);
	tcase_add_test(tc, test_requests_by_class_and_code);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
