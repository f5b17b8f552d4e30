/*
 * The control protocol and the command grammar: what insidbctl sends is
 * what the supervisor decodes, and malformed input is refused, never
 * crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "supervisor/ctl_proto.h"

static const uint8_t *
payload_of(const struct pbuf *b, struct ctl_hdr *h)
{
	ck_assert_int_ge(b->len, CTL_HDR_LEN);
	ck_assert_int_eq(ctl_hdr_decode(b->data, h), 0);
	ck_assert_uint_eq(h->version, CTL_VERSION);
	ck_assert_uint_eq(h->len, b->len - CTL_HDR_LEN);
	return b->data + CTL_HDR_LEN;
}

START_TEST(request_round_trip)
{
	char *argv[] = { "join", "node3", "127.0.0.1:7003" },
	     *words[CTL_ARGS_MAX];
	const uint8_t *p;
	struct ctl_hdr h;
	struct pbuf b;
	int n;

	pb_init(&b);
	ctl_request_encode(&b, 3, argv);
	ck_assert_int_eq(b.err, 0);
	p = payload_of(&b, &h);
	ck_assert_int_eq(ctl_request_decode(p, h.len, words, &n), 0);
	ck_assert_uint_eq(h.type, CTL_REQUEST);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(words[i], argv[i]);
	ctl_words_free(words, n);
	pb_free(&b);
}
END_TEST

START_TEST(reply_round_trip)
{
	const uint8_t *p;
	struct ctl_hdr h;
	struct pbuf b;
	char *json;
	int status;

	pb_init(&b);
	ctl_reply_encode(&b, 1, "{\"error\":\"x\"}");
	p = payload_of(&b, &h);
	ck_assert_int_eq(ctl_reply_decode(p, h.len, &status, &json), 0);
	ck_assert_uint_eq(h.type, CTL_REPLY);
	ck_assert_int_eq(status, 1);
	ck_assert_str_eq(json, "{\"error\":\"x\"}");
	free(json);
	pb_free(&b);
}
END_TEST

static int
decode_words(int argc, char **argv)
{
	char *words[CTL_ARGS_MAX];
	const uint8_t *p;
	struct ctl_hdr h;
	struct pbuf b;
	int n, rc;

	pb_init(&b);
	ctl_request_encode(&b, argc, argv);
	p = payload_of(&b, &h);
	rc = ctl_request_decode(p, h.len, words, &n);
	if (rc == 0)
		ctl_words_free(words, n);
	else
		ck_assert_int_eq(n, 0);
	pb_free(&b);
	return rc;
}

START_TEST(request_refuses_bad_words)
{
	char *empty[] = { "" }, *ctrl[] = { "sta\ntus" }, *del[] = { "a\x7f" };
	char *nine[9] = { "a", "a", "a", "a", "a", "a", "a", "a", "a" };
	char *long_word[1];

	long_word[0] = malloc(CTL_WORD_MAX + 2);
	memset(long_word[0], 'a', CTL_WORD_MAX + 1);
	long_word[0][CTL_WORD_MAX + 1] = '\0';
	ck_assert_int_eq(decode_words(1, empty), -1);
	ck_assert_int_eq(decode_words(1, ctrl), -1);
	ck_assert_int_eq(decode_words(1, del), -1);
	ck_assert_int_eq(decode_words(9, nine), -1);
	ck_assert_int_eq(decode_words(0, nine), -1);
	ck_assert_int_eq(decode_words(1, long_word), -1);
	long_word[0][CTL_WORD_MAX] = '\0';
	ck_assert_int_eq(decode_words(1, long_word), 0);
	free(long_word[0]);
}
END_TEST

START_TEST(request_refuses_truncation_and_trailing_bytes)
{
	char *argv[] = { "status" }, *words[CTL_ARGS_MAX];
	uint8_t extra[64];
	struct ctl_hdr h;
	struct pbuf b;
	const uint8_t *p;
	int n;

	pb_init(&b);
	ctl_request_encode(&b, 1, argv);
	p = payload_of(&b, &h);
	for (size_t cut = 0; cut < h.len; cut++)
		ck_assert_int_eq(ctl_request_decode(p, cut, words, &n), -1);
	memcpy(extra, p, h.len);
	extra[h.len] = 0;
	ck_assert_int_eq(ctl_request_decode(extra, h.len + 1, words, &n), -1);
	pb_free(&b);
}
END_TEST

START_TEST(header_refuses_bad_magic)
{
	uint8_t hb[CTL_HDR_LEN] = "GET / HTTP/1";
	struct ctl_hdr h;

	ck_assert_int_eq(ctl_hdr_decode(hb, &h), -1);
}
END_TEST

/* random payloads: decoding must fail or succeed cleanly, never crash */
START_TEST(random_payloads)
{
	char *words[CTL_ARGS_MAX], *json;
	uint8_t buf[256];
	unsigned int seed = 12345;
	int n, status;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		/* small counts and lengths so some inputs get deep */
		if (len >= 8 && (iter & 1)) {
			buf[0] = buf[1] = buf[2] = 0;
			buf[3] = (uint8_t)(1 + buf[3] % 3);
			buf[4] = buf[5] = buf[6] = 0;
			buf[7] = (uint8_t)(buf[7] % 16);
		}
		if (ctl_request_decode(buf, len, words, &n) == 0)
			ctl_words_free(words, n);
		if (ctl_reply_decode(buf, len, &status, &json) == 0)
			free(json);
	}
}
END_TEST

static int
match(const char *line)
{
	char copy[256], *words[CTL_ARGS_MAX], *save, *w;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (w = strtok_r(copy, " ", &save); w != NULL && n < CTL_ARGS_MAX;
	     w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	return ctl_cmd_match(n, words) != NULL;
}

START_TEST(grammar)
{
	const struct ctl_cmd *c;
	char *w[] = { "leader", "transfer", "node2" };

	ck_assert(match("status"));
	ck_assert(match("show cluster"));
	ck_assert(match("show node"));
	ck_assert(match("leader transfer node2"));
	ck_assert(match("join node3 127.0.0.1:7003"));
	ck_assert(match("remove node3"));
	ck_assert(match("snapshot"));
	ck_assert(match("backup /tmp/b"));
	ck_assert(match("log level debug"));
	ck_assert(match("reload"));
	ck_assert(match("rootkey"));
	ck_assert(!match("status extra"));
	ck_assert(!match("show"));
	ck_assert(!match("show clusters"));
	ck_assert(!match("sho cluster"));
	ck_assert(!match("join node3"));
	ck_assert(!match("log level"));
	ck_assert(!match("log"));
	ck_assert(!match("leader"));
	ck_assert(!match("rootkeys"));
	c = ctl_cmd_match(3, w);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->verb, "leader transfer");
	ck_assert(c->privileged);
	ck_assert_str_eq(c->argnames[0], "node");
	w[0] = "status";
	ck_assert(!ctl_cmd_match(1, w)->privileged);
	w[0] = "rootkey";
	ck_assert(ctl_cmd_match(1, w)->privileged);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl_proto");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, request_round_trip);
	tcase_add_test(tc, reply_round_trip);
	tcase_add_test(tc, request_refuses_bad_words);
	tcase_add_test(tc, request_refuses_truncation_and_trailing_bytes);
	tcase_add_test(tc, header_refuses_bad_magic);
	tcase_add_test(tc, random_payloads);
	tcase_add_test(tc, grammar);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
