/*
 * The streaming multipart/form-data parser (apid/multipart.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/multipart.h"

#define MAXPARTS 8
#define MAXDATA 4096

struct got_part {
	char name[64];
	int has_name, has_filename, has_ctype;
	char filename[64];
	char ctype[128];
	char data[MAXDATA];
	size_t len;
	int ended;
};

struct got {
	struct got_part parts[MAXPARTS];
	int n;
	int stop_in_data; /* return non-zero from on_data */
	size_t pieces; /* on_data calls */
};

static void
copy_str(char *dst, size_t cap, const char *s, size_t len)
{
	ck_assert_uint_lt(len, cap);
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int
on_begin(void *arg, const struct mp_part *p)
{
	struct got *g = arg;
	struct got_part *gp;

	ck_assert_int_lt(g->n, MAXPARTS);
	gp = &g->parts[g->n++];
	memset(gp, 0, sizeof(*gp));
	gp->has_name = p->has_name;
	gp->has_filename = p->has_filename;
	gp->has_ctype = p->has_content_type;
	if (p->has_name)
		copy_str(gp->name, sizeof(gp->name), p->name, p->name_len);
	if (p->has_filename)
		copy_str(gp->filename, sizeof(gp->filename), p->filename,
		    p->filename_len);
	if (p->has_content_type)
		copy_str(gp->ctype, sizeof(gp->ctype), p->content_type,
		    p->content_type_len);
	return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
	struct got *g = arg;
	struct got_part *gp;

	ck_assert_int_gt(g->n, 0);
	ck_assert_uint_gt(n, 0);
	gp = &g->parts[g->n - 1];
	ck_assert_int_eq(gp->ended, 0);
	ck_assert_uint_le(gp->len + n, MAXDATA);
	memcpy(gp->data + gp->len, d, n);
	gp->len += n;
	g->pieces++;
	return g->stop_in_data;
}

static int
on_end(void *arg)
{
	struct got *g = arg;

	ck_assert_int_gt(g->n, 0);
	g->parts[g->n - 1].ended = 1;
	return 0;
}

static const struct mp_callbacks cbs = { on_begin, on_data, on_end };

/* data with delimiter look-alikes: CR, CRLF, "--", a near boundary */
static const char blob_data[] = "line1\r\nline2\r\n--\r\n--XyZb\r\r\n--XyZbou"
				"x\r\n-\r\n--XyZbound\r\n--XyZboundar\r";
static const char sample[] =
    "preamble text, ignored\r\n"
    "--XyZboundary\r\n"
    "Content-Disposition: form-data; name=\"key\"\r\n"
    "\r\n"
    "reports/2024.pdf\r\n"
    "--XyZboundary\r\n"
    "content-disposition: form-data; name=blob; "
    "filename=\"a \\\"q\\\".bin\"\r\n"
    "Content-Type:  application/pdf \r\n"
    "\r\n"
    "line1\r\nline2\r\n--\r\n--XyZb\r\r\n--XyZboux\r\n-\r\n--XyZbound\r\n"
    "--XyZboundar\r"
    "\r\n--XyZboundary--\r\n"
    "epilogue \r\n--XyZboundary\r\n garbage";

static void
check_sample(const struct got *g)
{
	ck_assert_int_eq(g->n, 2);
	ck_assert(g->parts[0].has_name);
	ck_assert_str_eq(g->parts[0].name, "key");
	ck_assert(!g->parts[0].has_filename);
	ck_assert(!g->parts[0].has_ctype);
	ck_assert_uint_eq(g->parts[0].len, 16);
	ck_assert(memcmp(g->parts[0].data, "reports/2024.pdf", 16) == 0);
	ck_assert(g->parts[0].ended);
	ck_assert_str_eq(g->parts[1].name, "blob");
	ck_assert(g->parts[1].has_filename);
	ck_assert_str_eq(g->parts[1].filename, "a \"q\".bin");
	ck_assert_str_eq(g->parts[1].ctype, "application/pdf");
	ck_assert_uint_eq(g->parts[1].len, sizeof(blob_data) - 1);
	ck_assert(memcmp(g->parts[1].data, blob_data, g->parts[1].len) == 0);
	ck_assert(g->parts[1].ended);
}

static int
parse_split(const char *body, size_t len, size_t split, struct got *g)
{
	struct mp *m;
	int rc;

	memset(g, 0, sizeof(*g));
	m = mp_new("XyZboundary", &cbs, g);
	ck_assert_ptr_nonnull(m);
	rc = mp_feed(m, body, split);
	if (rc == MP_OK)
		rc = mp_feed(m, body + split, len - split);
	if (rc == MP_OK)
		rc = mp_finish(m);
	mp_free(m);
	return rc;
}

START_TEST(sample_every_split)
{
	size_t len = sizeof(sample) - 1, i;
	struct got g;

	for (i = 0; i <= len; i++) {
		ck_assert_msg(parse_split(sample, len, i, &g) == MP_OK,
		    "split at %zu", i);
		check_sample(&g);
	}
}
END_TEST

START_TEST(sample_byte_by_byte)
{
	size_t len = sizeof(sample) - 1, i;
	struct got g;
	struct mp *m;

	memset(&g, 0, sizeof(g));
	m = mp_new("XyZboundary", &cbs, &g);
	for (i = 0; i < len; i++)
		ck_assert_int_eq(mp_feed(m, sample + i, 1), MP_OK);
	ck_assert(mp_done(m));
	ck_assert_int_eq(mp_finish(m), MP_OK);
	mp_free(m);
	check_sample(&g);
}
END_TEST

START_TEST(data_in_pieces_not_whole)
{
	char body[8192];
	struct got g;
	size_t n = 0, i;
	struct mp *m;

	/* a 4000-byte part fed in 100-byte feeds arrives in many pieces */
	n += (size_t)sprintf(body,
	    "--b\r\nContent-Disposition: form-data; "
	    "name=\"blob\"\r\n\r\n");
	for (i = 0; i < 4000; i++)
		body[n++] = (char)('a' + i % 26);
	n += (size_t)sprintf(body + n, "\r\n--b--");
	memset(&g, 0, sizeof(g));
	m = mp_new("b", &cbs, &g);
	for (i = 0; i < n; i += 100)
		ck_assert_int_eq(
		    mp_feed(m, body + i, n - i < 100 ? n - i : 100), MP_OK);
	ck_assert_int_eq(mp_finish(m), MP_OK);
	mp_free(m);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.parts[0].len, 4000);
	ck_assert_uint_ge(g.pieces, 40);
	ck_assert_int_eq(g.parts[0].data[3999], 'a' + 3999 % 26);
}
END_TEST

static int
parse_all(
    const char *boundary, const char *body, struct got *g, const char **err)
{
	struct mp *m;
	int rc;

	memset(g, 0, sizeof(*g));
	m = mp_new(boundary, &cbs, g);
	ck_assert_ptr_nonnull(m);
	rc = mp_feed(m, body, strlen(body));
	if (rc == MP_OK)
		rc = mp_finish(m);
	if (err != NULL)
		*err = rc == MP_OK ? NULL : strdup(mp_error(m));
	mp_free(m);
	return rc;
}

START_TEST(missing_final_boundary)
{
	struct got g;
	const char *err;

	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name=\"key\"\r\n\r\nk1\r\n--b\r\n",
			     &g, &err),
	    MP_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "closing boundary"));
	free((void *)err);
	/* the data of an unfinished part never ended */
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name=\"key\"\r\n\r\nk1",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(g.parts[0].ended, 0);
	/* no boundary at all */
	ck_assert_int_eq(parse_all("b", "just text", &g, NULL), MP_ERROR);
	ck_assert_int_eq(g.n, 0);
	ck_assert_int_eq(parse_all("b", "", &g, NULL), MP_ERROR);
}
END_TEST

START_TEST(header_too_long)
{
	char body[MP_HEAD_MAX + 256];
	struct got g;
	const char *err;
	size_t n;

	n = (size_t)sprintf(body, "--b\r\nX-Long: ");
	memset(body + n, 'x', MP_HEAD_MAX);
	n += MP_HEAD_MAX;
	strcpy(body + n, "\r\n\r\ndata\r\n--b--");
	ck_assert_int_eq(parse_all("b", body, &g, &err), MP_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "headers longer"));
	free((void *)err);
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(crlf_rules)
{
	struct got g;

	/* LF-only header lines, a CR not followed by LF */
	ck_assert_int_eq(parse_all("b",
			     "--b\nContent-Disposition: form-data; "
			     "name=k\n\nv\n--b--",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name=k\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(
	    parse_all("b", "--b\r\nA: b\rc\r\n\r\nv\r\n--b--", &g, NULL),
	    MP_ERROR);
	/* a delimiter not preceded by CRLF is data */
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name=k\r\n\r\nv--b\n--b\r\n--b--",
			     &g, NULL),
	    MP_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.parts[0].len, 8);
	ck_assert(memcmp(g.parts[0].data, "v--b\n--b", 8) == 0);
	/* padding after a boundary; a part with no headers, empty data */
	ck_assert_int_eq(
	    parse_all("b", "--b \t\r\n\r\n\r\n--b--  ", &g, NULL), MP_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert(!g.parts[0].has_name);
	ck_assert_uint_eq(g.parts[0].len, 0);
	ck_assert(g.parts[0].ended);
	/* something else right after the boundary */
	ck_assert_int_eq(
	    parse_all("b", "--bx\r\n\r\n\r\n--b--", &g, NULL), MP_ERROR);
	ck_assert_int_eq(parse_all("b", "--b-x", &g, NULL), MP_ERROR);
}
END_TEST

START_TEST(bad_disposition)
{
	struct got g;

	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: attachment; "
			     "name=k\r\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name=\"k\r\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data; "
			     "name\r\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_ERROR);
	ck_assert_int_eq(
	    parse_all("b", "--b\r\nBad Name: x\r\n\r\nv\r\n--b--", &g, NULL),
	    MP_ERROR);
	/* folded header lines are not allowed */
	ck_assert_int_eq(parse_all("b",
			     "--b\r\nContent-Disposition: form-data;\r\n "
			     "name=k\r\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_ERROR);
	/* first parameter wins, unknown ones are ignored, any case */
	ck_assert_int_eq(parse_all("b",
			     "--b\r\ncontent-DISPOSITION: Form-Data; "
			     "NAME=\"a\"; name=b; filename*=UTF-8''x; "
			     "FileName=\"\"\r\n\r\nv\r\n--b--",
			     &g, NULL),
	    MP_OK);
	ck_assert_str_eq(g.parts[0].name, "a");
	ck_assert(g.parts[0].has_filename);
	ck_assert_str_eq(g.parts[0].filename, "");
}
END_TEST

START_TEST(stop_from_callback)
{
	struct got g;
	struct mp *m;
	const char body[] = "--b\r\nContent-Disposition: form-data; "
			    "name=k\r\n\r\nvalue\r\n--b--";

	memset(&g, 0, sizeof(g));
	g.stop_in_data = 1;
	m = mp_new("b", &cbs, &g);
	ck_assert_int_eq(mp_feed(m, body, sizeof(body) - 1), MP_STOPPED);
	ck_assert_int_eq(mp_feed(m, "x", 1), MP_STOPPED);
	ck_assert_int_eq(mp_finish(m), MP_STOPPED);
	mp_free(m);
}
END_TEST

START_TEST(content_type_boundary)
{
	char b[MP_BOUNDARY_MAX + 1];
	char long_b[200];

	ck_assert_int_eq(mp_content_type("multipart/form-data; boundary=abc",
			     33, b, sizeof(b)),
	    1);
	ck_assert_str_eq(b, "abc");
	ck_assert_int_eq(mp_content_type("Multipart/Form-Data;charset=utf-8; "
					 "BOUNDARY=\"a b:c\"",
			     strlen("Multipart/Form-Data;charset=utf-8; "
				    "BOUNDARY=\"a b:c\""),
			     b, sizeof(b)),
	    1);
	ck_assert_str_eq(b, "a b:c");
	ck_assert_int_eq(
	    mp_content_type("application/json", 16, b, sizeof(b)), 0);
	ck_assert_int_eq(mp_content_type("multipart/form-dataX; boundary=a", 32,
			     b, sizeof(b)),
	    0);
	ck_assert_int_eq(
	    mp_content_type("multipart/mixed; boundary=a", 27, b, sizeof(b)),
	    0);
	ck_assert_int_eq(
	    mp_content_type("multipart/form-data", 19, b, sizeof(b)), -1);
	ck_assert_int_eq(
	    mp_content_type("multipart/form-data; boundary=", 30, b, sizeof(b)),
	    -1);
	ck_assert_int_eq(mp_content_type("multipart/form-data; boundary=\"a",
			     32, b, sizeof(b)),
	    -1);
	/* over 70 characters */
	memcpy(long_b, "multipart/form-data; boundary=", 30);
	memset(long_b + 30, 'z', 71);
	ck_assert_int_eq(mp_content_type(long_b, 101, b, sizeof(b)), -1);
	ck_assert_int_eq(mp_content_type(long_b, 100, b, sizeof(b)), 1);
	ck_assert_uint_eq(strlen(b), 70);
	ck_assert_ptr_null(mp_new("", &cbs, NULL));
	ck_assert_ptr_null(mp_new("a\rb", &cbs, NULL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("multipart");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, sample_every_split);
	tcase_add_test(tc, sample_byte_by_byte);
	tcase_add_test(tc, data_in_pieces_not_whole);
	tcase_add_test(tc, missing_final_boundary);
	tcase_add_test(tc, header_too_long);
	tcase_add_test(tc, crlf_rules);
	tcase_add_test(tc, bad_disposition);
	tcase_add_test(tc, stop_from_callback);
	tcase_add_test(tc, content_type_boundary);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
