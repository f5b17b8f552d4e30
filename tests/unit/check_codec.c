/*
 * proto codec: round trips of every type and refusal of malformed input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"

START_TEST(roundtrip_scalars)
{
	struct pbuf b;
	struct pread r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;
	int bl;
	char *s;
	const uint8_t *p;
	size_t n;

	pb_init(&b);
	pb_add_u8(&b, 0xab);
	pb_add_u16(&b, 0xbeef);
	pb_add_u32(&b, 0xdeadbeef);
	pb_add_u64(&b, 0x0123456789abcdefULL);
	pb_add_i64(&b, -42);
	pb_add_bool(&b, 1);
	pb_add_str(&b, "hello");
	pb_add_bytes(&b, "a\0b", 3);
	pb_add_str(&b, NULL);
	ck_assert_int_eq(b.err, 0);

	pr_init(&r, b.data, b.len);
	ck_assert_int_eq(pr_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0xab);
	ck_assert_int_eq(pr_get_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0xbeef);
	ck_assert_int_eq(pr_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(pr_get_u64(&r, &u64), 0);
	ck_assert(u64 == 0x0123456789abcdefULL);
	ck_assert_int_eq(pr_get_i64(&r, &i64), 0);
	ck_assert(i64 == -42);
	ck_assert_int_eq(pr_get_bool(&r, &bl), 0);
	ck_assert_int_eq(bl, 1);
	ck_assert_int_eq(pr_get_strdup(&r, &s), 0);
	ck_assert_str_eq(s, "hello");
	free(s);
	ck_assert_int_eq(pr_get_bytes(&r, &p, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(p, "a\0b", 3), 0);
	ck_assert_int_eq(pr_get_strdup(&r, &s), 0);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(pr_end(&r), 0);
	pb_free(&b);
}
END_TEST

START_TEST(big_endian_layout)
{
	struct pbuf b;

	pb_init(&b);
	pb_add_u32(&b, 0x01020304);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_uint_eq(b.data[0], 1);
	ck_assert_uint_eq(b.data[3], 4);
	pb_free(&b);
}
END_TEST

START_TEST(short_input_fails_and_sticks)
{
	const uint8_t three[3] = { 0, 0, 0 };
	struct pread r;
	uint32_t v;
	uint8_t u8;

	pr_init(&r, three, sizeof(three));
	ck_assert_int_eq(pr_get_u32(&r, &v), -1);
	/* the error sticks: a later, satisfiable get fails too */
	ck_assert_int_eq(pr_get_u8(&r, &u8), -1);
	ck_assert_int_eq(pr_end(&r), -1);
}
END_TEST

START_TEST(length_prefix_past_end)
{
	/* claims 100 bytes, holds 2 */
	const uint8_t buf[] = { 0, 0, 0, 100, 'a', 'b' };
	struct pread r;
	const uint8_t *p;
	size_t n;

	pr_init(&r, buf, sizeof(buf));
	ck_assert_int_eq(pr_get_bytes(&r, &p, &n), -1);
	ck_assert_int_eq(pr_end(&r), -1);
}
END_TEST

START_TEST(huge_length_prefix)
{
	const uint8_t buf[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	struct pread r;
	const uint8_t *p;
	size_t n;

	pr_init(&r, buf, sizeof(buf));
	ck_assert_int_eq(pr_get_bytes(&r, &p, &n), -1);
}
END_TEST

START_TEST(string_with_nul_refused)
{
	struct pbuf b;
	struct pread r;
	char *s;

	pb_init(&b);
	pb_add_bytes(&b, "a\0b", 3);
	pr_init(&r, b.data, b.len);
	ck_assert_int_eq(pr_get_strdup(&r, &s), -1);
	ck_assert_ptr_null(s);
	pb_free(&b);
}
END_TEST

START_TEST(bool_out_of_range)
{
	const uint8_t buf[] = { 2 };
	struct pread r;
	int v;

	pr_init(&r, buf, sizeof(buf));
	ck_assert_int_eq(pr_get_bool(&r, &v), -1);
}
END_TEST

START_TEST(trailing_bytes_fail_end)
{
	const uint8_t buf[] = { 1, 2 };
	struct pread r;
	uint8_t v;

	pr_init(&r, buf, sizeof(buf));
	ck_assert_int_eq(pr_get_u8(&r, &v), 0);
	ck_assert_int_eq(pr_end(&r), -1);
}
END_TEST

START_TEST(header_roundtrip_and_checks)
{
	uint8_t buf[PROTO_HDR_LEN + 5];
	struct proto_hdr h = { PROTO_VERSION, MSG_RAFT_PROPOSE, 5, 77 };
	struct proto_hdr out;

	memset(buf, 0, sizeof(buf));
	proto_hdr_encode(buf, &h);
	ck_assert_int_eq(proto_hdr_decode(buf, sizeof(buf), &out), 0);
	ck_assert_uint_eq(out.type, MSG_RAFT_PROPOSE);
	ck_assert_uint_eq(out.len, 5);
	ck_assert(out.corr == 77);
	/* length disagreeing with the buffer */
	ck_assert_int_eq(proto_hdr_decode(buf, sizeof(buf) - 1, &out), -1);
	ck_assert_int_eq(proto_hdr_decode(buf, 3, &out), -1);
	/* another version */
	h.version = PROTO_VERSION + 1;
	proto_hdr_encode(buf, &h);
	ck_assert_int_eq(proto_hdr_decode(buf, sizeof(buf), &out), -1);
}
END_TEST

START_TEST(command_roundtrip)
{
	struct cmd c, d;
	struct pbuf b;

	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_CAS;
	c.ts = 1700000000123456789LL;
	strcpy(c.scope, "root");
	c.key = (const uint8_t *)"k";
	c.key_len = 1;
	c.value = (const uint8_t *)"new";
	c.value_len = 3;
	c.old_value = (const uint8_t *)"old\0x";
	c.old_value_len = 5;
	c.num = -3;
	pb_init(&b);
	cmd_encode(&b, &c);
	ck_assert_int_eq(cmd_decode(b.data, b.len, &d), 0);
	ck_assert_uint_eq(d.type, CMD_KV_CAS);
	ck_assert(d.ts == c.ts);
	ck_assert_str_eq(d.scope, "root");
	ck_assert_uint_eq(d.key_len, 1);
	ck_assert_uint_eq(d.old_value_len, 5);
	ck_assert_int_eq(memcmp(d.old_value, "old\0x", 5), 0);
	ck_assert(d.num == -3);
	/* every truncation is refused */
	for (size_t n = 0; n < b.len; n++)
		ck_assert_int_eq(cmd_decode(b.data, n, &d), -1);
	pb_free(&b);
}
END_TEST

START_TEST(command_bad_type_and_scope)
{
	struct cmd c, d;
	struct pbuf b;

	memset(&c, 0, sizeof(c));
	c.type = CMD_TYPE_MAX;
	strcpy(c.scope, "root");
	pb_init(&b);
	cmd_encode(&b, &c);
	ck_assert_int_eq(cmd_decode(b.data, b.len, &d), -1);
	pb_reset(&b);
	c.type = CMD_KV_SET;
	c.scope[0] = '\0';
	cmd_encode(&b, &c);
	ck_assert_int_eq(cmd_decode(b.data, b.len, &d), -1);
	pb_free(&b);
}
END_TEST

START_TEST(result_and_read_roundtrip)
{
	struct cmd_result res = { ST_DISK_LIMIT, 10, 20, (const uint8_t *)"x",
		1 };
	struct cmd_result out;
	struct read_req q, qo;
	struct pbuf b;

	pb_init(&b);
	cmd_result_encode(&b, &res);
	ck_assert_int_eq(cmd_result_decode(b.data, b.len, &out), 0);
	ck_assert_uint_eq(out.status, ST_DISK_LIMIT);
	ck_assert(out.usage == 10 && out.limit == 20);
	ck_assert_uint_eq(out.data_len, 1);
	pb_reset(&b);

	memset(&q, 0, sizeof(q));
	q.op = READ_KV_ITERATE;
	q.consistency = READ_LINEARIZABLE;
	strcpy(q.scope, "abc");
	q.key = (const uint8_t *)"pre";
	q.key_len = 3;
	q.offset = 5;
	q.limit = 100;
	read_req_encode(&b, &q);
	ck_assert_int_eq(read_req_decode(b.data, b.len, &qo, NULL), 0);
	ck_assert_uint_eq(qo.op, READ_KV_ITERATE);
	ck_assert_str_eq(qo.scope, "abc");
	ck_assert(qo.offset == 5 && qo.limit == 100);
	ck_assert_int_eq(read_req_decode(b.data, b.len - 1, &qo, NULL), -1);
	pb_free(&b);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, roundtrip_scalars);
	tcase_add_test(tc, big_endian_layout);
	tcase_add_test(tc, short_input_fails_and_sticks);
	tcase_add_test(tc, length_prefix_past_end);
	tcase_add_test(tc, huge_length_prefix);
	tcase_add_test(tc, string_with_nul_refused);
	tcase_add_test(tc, bool_out_of_range);
	tcase_add_test(tc, trailing_bytes_fail_end);
	tcase_add_test(tc, header_roundtrip_and_checks);
	tcase_add_test(tc, command_roundtrip);
	tcase_add_test(tc, command_bad_type_and_scope);
	tcase_add_test(tc, result_and_read_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
