/*
 * Pure pieces of the blob routes (apid/blob_pure.h): byte ranges of
 * API.md §13.2, media types of §13.1, entity tags, HTTP dates and the
 * metadata record of READ_BLOB_GET.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/blob_pure.h"
#include "proto/codec.h"

static enum blob_range
rng(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
	*a = *b = 12345;
	return blob_range_parse(h, strlen(h), size, a, b);
}

START_TEST(ranges)
{
	uint64_t a, b;

	ck_assert_int_eq(rng("bytes=10-19", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(a, 10);
	ck_assert_uint_eq(b, 19);
	ck_assert_int_eq(rng("bytes=90-", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(a, 90);
	ck_assert_uint_eq(b, 99);
	ck_assert_int_eq(rng("bytes=-5", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(a, 95);
	ck_assert_uint_eq(b, 99);
	/* a suffix longer than the blob is the whole blob, as a range */
	ck_assert_int_eq(rng("bytes=-500", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, 99);
	/* an end past the blob is clamped */
	ck_assert_int_eq(rng("bytes=50-1000", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(b, 99);
	ck_assert_int_eq(rng("bytes=99-99", 100, &a, &b), BLOB_RANGE_PART);
	ck_assert_uint_eq(a, 99);
	/* starts at or past the end, an empty suffix, an empty blob */
	ck_assert_int_eq(
	    rng("bytes=100-", 100, &a, &b), BLOB_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(
	    rng("bytes=100-200", 100, &a, &b), BLOB_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(
	    rng("bytes=-0", 100, &a, &b), BLOB_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(rng("bytes=0-", 0, &a, &b), BLOB_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(rng("bytes=-3", 0, &a, &b), BLOB_RANGE_UNSATISFIABLE);
	/* several ranges or bad syntax: the whole blob, untouched outputs */
	ck_assert_int_eq(rng("bytes=0-1,3-4", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_uint_eq(a, 12345);
	ck_assert_int_eq(rng("bytes=5-1", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("bytes=-", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("bytes=a-b", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("items=0-1", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("bytes=0-1x", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("bytes=+1-2", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(
	    rng("bytes=99999999999999999999-", 100, &a, &b), BLOB_RANGE_WHOLE);
	ck_assert_int_eq(rng("", 100, &a, &b), BLOB_RANGE_WHOLE);
}
END_TEST

static bool
mt(const char *s)
{
	return blob_media_type_valid(s, strlen(s));
}

START_TEST(media_types)
{
	char long_type[300];

	ck_assert(mt("application/pdf"));
	ck_assert(mt("text/plain; charset=utf-8"));
	ck_assert(mt("text/plain;charset=\"utf-8\";format=flowed"));
	ck_assert(mt("application/vnd.api+json"));
	ck_assert(!mt(""));
	ck_assert(!mt("text"));
	ck_assert(!mt("text/"));
	ck_assert(!mt("/plain"));
	ck_assert(!mt("not a type"));
	ck_assert(!mt("text/plain; charset"));
	ck_assert(!mt("text/plain; charset=\"utf-8"));
	ck_assert(!mt("text/plain\r\nX: y"));
	ck_assert(!mt("text/pl ain"));
	/* 255 bytes at most */
	memset(long_type, 'a', sizeof(long_type));
	memcpy(long_type, "text/", 5);
	ck_assert(blob_media_type_valid(long_type, 255));
	ck_assert(!blob_media_type_valid(long_type, 256));
}
END_TEST

START_TEST(etags)
{
	char h[65];
	char v[200];

	memset(h, 'a', 64);
	h[64] = '\0';
	snprintf(v, sizeof(v), "\"%s\"", h);
	ck_assert(blob_etag_matches(v, strlen(v), h));
	ck_assert(blob_etag_matches("*", 1, h));
	snprintf(v, sizeof(v), "\"x\", W/\"%s\"", h);
	ck_assert(blob_etag_matches(v, strlen(v), h));
	ck_assert(!blob_etag_matches("\"x\"", 3, h));
	ck_assert(!blob_etag_matches(h, 64, h)); /* unquoted */
	snprintf(v, sizeof(v), "\"%.63s\"", h);
	ck_assert(!blob_etag_matches(v, strlen(v), h));
	ck_assert(!blob_etag_matches("", 0, h));
}
END_TEST

START_TEST(http_dates)
{
	char d[BLOB_DATE_LEN];

	blob_http_date(784111777LL * 1000000000LL + 999, d, sizeof(d));
	ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
	blob_http_date(0, d, sizeof(d));
	ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	blob_http_date(1740823445LL * 1000000000LL, d, sizeof(d));
	ck_assert_str_eq(d, "Sat, 01 Mar 2025 10:04:05 GMT");
}
END_TEST

static void
record(struct pbuf *b, uint8_t state, const char *hash)
{
	pb_add_u8(b, state);
	pb_add_i64(b, 5);
	pb_add_i64(b, state ? 9 : 0);
	pb_add_str(b, "owner-uuid");
	pb_add_str(b, "node0");
	pb_add_str(b, "badge");
	pb_add_u64(b, 1234);
	pb_add_str(b, hash);
	pb_add_str(b, "2024.pdf");
	pb_add_str(b, "application/pdf");
}

START_TEST(meta_record)
{
	char hash[65];
	struct blob_meta m;
	struct pbuf b;

	memset(hash, 'f', 64);
	hash[64] = '\0';
	pb_init(&b);
	record(&b, 1, hash);
	ck_assert_int_eq(blob_meta_decode(b.data, b.len, &m), 0);
	ck_assert_uint_eq(m.state, 1);
	ck_assert_int_eq(m.uploaded_at, 5);
	ck_assert_int_eq(m.tombstoned_at, 9);
	ck_assert_uint_eq(m.size, 1234);
	ck_assert(
	    m.ctype_len == 15 && memcmp(m.ctype, "application/pdf", 15) == 0);
	ck_assert(m.name_len == 8 && memcmp(m.name, "2024.pdf", 8) == 0);
	/* short, trailing bytes, a hash that is not lowercase hex */
	ck_assert_int_eq(blob_meta_decode(b.data, b.len - 1, &m), -1);
	pb_add_u8(&b, 0);
	ck_assert_int_eq(blob_meta_decode(b.data, b.len, &m), -1);
	pb_reset(&b);
	hash[0] = 'F';
	record(&b, 0, hash);
	ck_assert_int_eq(blob_meta_decode(b.data, b.len, &m), -1);
	pb_reset(&b);
	record(&b, 0, "abc");
	ck_assert_int_eq(blob_meta_decode(b.data, b.len, &m), -1);
	pb_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("blob_pure");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, ranges);
	tcase_add_test(tc, media_types);
	tcase_add_test(tc, etags);
	tcase_add_test(tc, http_dates);
	tcase_add_test(tc, meta_record);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
