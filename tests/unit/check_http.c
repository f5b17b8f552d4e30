/*
 * apid's pure pieces: query decoding, strict JSON bodies, credentials,
 * routes, key rules, uptime text, error bodies, rate limits, client IP,
 * cluster URLs (redirect Location, join parameters), raftd's view, and
 * the outgoing HTTP client against an evhttp server in the same loop.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "apid/client_ip.h"
#include "common/cluster_url.h"
#include "common/http_client.h"
#include "apid/http_parse.h"
#include "apid/json_body.h"
#include "apid/ratelimit.h"
#include "apid/routes.h"
#include "apid/view.h"
#include "common/config.h"

/*
 * Query parameters (§2.4).
 */

static int
q(const char *query, const char *name, char **v)
{
	size_t len;
	int rc = http_query_get(query, strlen(query), name, v, &len);

	if (rc == 1)
		ck_assert_uint_eq(len, strlen(*v));
	return rc;
}

START_TEST(query_basic)
{
	char *v;

	ck_assert_int_eq(q("key=abc&limit=5", "limit", &v), 1);
	ck_assert_str_eq(v, "5");
	free(v);
	ck_assert_int_eq(q("key=abc&limit=5", "key", &v), 1);
	ck_assert_str_eq(v, "abc");
	free(v);
	ck_assert_int_eq(q("key=abc", "prefix", &v), 0);
	ck_assert_int_eq(q("", "key", &v), 0);
	ck_assert_int_eq(q("keyx=1&xkey=2", "key", &v), 0);
}
END_TEST

START_TEST(query_decoding)
{
	char *v;

	ck_assert_int_eq(q("key=a+b%2Bc%20d", "key", &v), 1);
	ck_assert_str_eq(v, "a b+c d");
	free(v);
	ck_assert_int_eq(q("key=%C3%A9", "key", &v), 1);
	ck_assert_str_eq(v, "\xc3\xa9");
	free(v);
	/* the name is decoded too */
	ck_assert_int_eq(q("k%65y=1", "key", &v), 1);
	ck_assert_str_eq(v, "1");
	free(v);
}
END_TEST

START_TEST(query_first_wins)
{
	char *v;

	ck_assert_int_eq(q("key=one&key=two", "key", &v), 1);
	ck_assert_str_eq(v, "one");
	free(v);
	ck_assert_int_eq(q("a=1&key&key=two", "key", &v), 1);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(q("key=", "key", &v), 1);
	ck_assert_str_eq(v, "");
	free(v);
}
END_TEST

START_TEST(query_malformed)
{
	char *v;

	ck_assert_int_eq(q("key=%ff", "key", &v), -1);
	ck_assert_int_eq(q("key=%C3", "key", &v), -1);
	ck_assert_int_eq(q("key=%zz", "key", &v), -1);
	ck_assert_int_eq(q("key=ab%2", "key", &v), -1);
	ck_assert_int_eq(q("key=%ED%A0%80", "key", &v), -1); /* surrogate */
	ck_assert_int_eq(q("key=%C0%AF", "key", &v), -1); /* overlong */
	/* a bad escape elsewhere does not matter */
	ck_assert_int_eq(q("x=%zz&key=1", "key", &v), 1);
	free(v);
}
END_TEST

START_TEST(int_syntax)
{
	int64_t v;

	ck_assert_int_eq(http_parse_int64("42", 2, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(http_parse_int64("-7", 2, &v), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(http_parse_int64("9223372036854775807", 19, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(http_parse_int64("-9223372036854775808", 20, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(http_parse_int64("9223372036854775808", 19, &v), -1);
	ck_assert_int_eq(http_parse_int64("+1", 2, &v), -1);
	ck_assert_int_eq(http_parse_int64(" 1", 2, &v), -1);
	ck_assert_int_eq(http_parse_int64("1 ", 2, &v), -1);
	ck_assert_int_eq(http_parse_int64("-", 1, &v), -1);
	ck_assert_int_eq(http_parse_int64("", 0, &v), -1);
	ck_assert_int_eq(http_parse_int64("1.0", 3, &v), -1);
	ck_assert_int_eq(http_parse_int64("1e3", 3, &v), -1);
}
END_TEST

/*
 * Strict JSON bodies (§2.5).
 */

static int
jp(struct jb_doc *d, const char *s)
{
	return jb_parse(d, s, strlen(s));
}

START_TEST(json_members)
{
	struct jb_doc d;
	const char *s;
	size_t len;
	int64_t n;

	ck_assert_int_eq(
	    jp(&d,
		" {\"key\":\"a\\\"b\",\"n\":-12,\"x\":[1,{\"y\":null}],"
		"\"t\":true} \n"),
	    0);
	ck_assert_int_eq(jb_string(&d, "key", &s, &len), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(s, "a\"b");
	ck_assert_int_eq(jb_int(&d, "n", &n), 1);
	ck_assert_int_eq(n, -12);
	ck_assert_int_eq(jb_string(&d, "absent", &s, &len), 0);
	ck_assert_ptr_nonnull(jb_find(&d, "x"));
	ck_assert_int_eq(jb_find(&d, "x")->type, JB_ARRAY);
	ck_assert_uint_eq(jb_find(&d, "x")->raw_len, 14);
	jb_free(&d);
}
END_TEST

START_TEST(json_duplicates)
{
	struct jb_doc d;

	ck_assert_int_eq(
	    jp(&d, "{\"key\":\"a\",\"value\":\"b\",\"key\":\"c\"}"), -1);
	ck_assert_ptr_nonnull(strstr(d.err, "\"key\""));
	jb_free(&d);
	/* equal after unescaping */
	ck_assert_int_eq(jp(&d, "{\"a\":1,\"\\u0061\":2}"), -1);
	jb_free(&d);
	/* nested objects too */
	ck_assert_int_eq(jp(&d, "{\"l\":{\"m\":1,\"m\":2}}"), -1);
	jb_free(&d);
	/* the same name in different objects is fine */
	ck_assert_int_eq(jp(&d, "{\"m\":{\"m\":1},\"n\":{\"m\":2}}"), 0);
	jb_free(&d);
}
END_TEST

START_TEST(json_types)
{
	struct jb_doc d;
	const char *s;
	size_t len;
	int64_t n;

	ck_assert_int_eq(jp(&d,
			     "{\"key\":5,\"value\":\"5\",\"f\":1.5,\"e\":1e3,"
			     "\"o\":{}}"),
	    0);
	ck_assert_int_eq(jb_string(&d, "key", &s, &len), -1);
	ck_assert_ptr_nonnull(strstr(d.err, "key"));
	ck_assert_int_eq(jb_int(&d, "value", &n), -1);
	ck_assert_ptr_nonnull(strstr(d.err, "value"));
	ck_assert_int_eq(jb_int(&d, "f", &n), -1);
	ck_assert_ptr_nonnull(strstr(d.err, "f:"));
	ck_assert_int_eq(jb_int(&d, "e", &n), -1);
	ck_assert_int_eq(jb_string(&d, "o", &s, &len), -1);
	jb_free(&d);
}
END_TEST

START_TEST(json_null_is_absent)
{
	struct jb_doc d;
	const char *s;
	size_t len;
	int64_t n;

	ck_assert_int_eq(jp(&d, "{\"key\":null,\"n\":null}"), 0);
	ck_assert_int_eq(jb_string(&d, "key", &s, &len), 0);
	ck_assert_int_eq(jb_int(&d, "n", &n), 0);
	jb_free(&d);
}
END_TEST

START_TEST(json_trailing_and_shape)
{
	static const char *bad[] = { "", "   ", "[]", "\"s\"", "1", "null",
		"{} {}", "{}x", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":01}",
		"{\"a\":-}", "{\"a\":1.}", "{\"a\":tru}", "{a:1}",
		"{\"a\":\"x\"", "{\"a\":[1,]}", "{\"a\":\"\\x\"}",
		"{\"a\":\"tab\there\"}", "{\"a\":NaN}" };
	struct jb_doc d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(jp(&d, bad[i]) == -1, "accepted: %s", bad[i]);
		jb_free(&d);
	}
	ck_assert_int_eq(jp(&d, "{}\r\n\t "), 0);
	jb_free(&d);
}
END_TEST

START_TEST(json_utf8)
{
	struct jb_doc d;
	const char *s;
	size_t len;

	ck_assert_int_eq(jp(&d, "{\"a\":\"\xff\"}"), -1);
	jb_free(&d);
	ck_assert_int_eq(jp(&d, "{\"a\":\"\xc0\xaf\"}"), -1); /* overlong */
	jb_free(&d);
	ck_assert_int_eq(jp(&d, "{\"\xe9\":1}"), -1); /* in a name */
	jb_free(&d);
	ck_assert_int_eq(jp(&d, "{\"a\":\"\\ud800\"}"), -1); /* lone */
	jb_free(&d);
	ck_assert_int_eq(jp(&d, "{\"a\":\"\\udc00\\ud800\"}"), -1);
	jb_free(&d);
	ck_assert_int_eq(jp(&d,
			     "{\"a\":\"\\ud83d\\ude00\\u00e9\xc3\xa9\","
			     "\"z\":\"x\\u0000y\"}"),
	    0);
	ck_assert_int_eq(jb_string(&d, "a", &s, &len), 1);
	ck_assert_uint_eq(len, 8);
	ck_assert_int_eq(memcmp(s, "\xf0\x9f\x98\x80\xc3\xa9\xc3\xa9", 8), 0);
	ck_assert_int_eq(jb_string(&d, "z", &s, &len), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(s, "x\0y", 3), 0);
	jb_free(&d);
}
END_TEST

START_TEST(json_numbers)
{
	struct jb_doc d;
	int64_t n;

	ck_assert_int_eq(jp(&d,
			     "{\"max\":9223372036854775807,"
			     "\"min\":-9223372036854775808,"
			     "\"over\":9223372036854775808,"
			     "\"huge\":123456789012345678901234567890,"
			     "\"big\":1e400}"),
	    0);
	ck_assert_int_eq(jb_int(&d, "max", &n), 1);
	ck_assert(n == INT64_MAX);
	ck_assert_int_eq(jb_int(&d, "min", &n), 1);
	ck_assert(n == INT64_MIN);
	ck_assert_int_eq(jb_int(&d, "over", &n), -1);
	ck_assert_ptr_nonnull(strstr(d.err, "over"));
	ck_assert_int_eq(jb_int(&d, "huge", &n), -1);
	ck_assert_int_eq(jb_int(&d, "big", &n), -1);
	jb_free(&d);
}
END_TEST

START_TEST(json_depth)
{
	char buf[512];
	struct jb_doc d;
	size_t i, n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "{\"a\":");
	for (i = 0; i < 100; i++)
		buf[n++] = '[';
	for (i = 0; i < 100; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	ck_assert_int_eq(jb_parse(&d, buf, n), -1);
	jb_free(&d);
}
END_TEST

static char *
members_body(int n)
{
	char *buf = malloc((size_t)n * 16 + 8);
	size_t off = 0;
	int i;

	ck_assert_ptr_nonnull(buf);
	buf[off++] = '{';
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(
		    buf + off, "%s\"m%d\":%d", i ? "," : "", i, i);
	buf[off++] = '}';
	buf[off] = '\0';
	return buf;
}

START_TEST(json_member_bound)
{
	struct jb_doc d;
	char *body;

	body = members_body(JB_MEMBERS_MAX);
	ck_assert_int_eq(jp(&d, body), 0);
	ck_assert_uint_eq(d.n, JB_MEMBERS_MAX);
	jb_free(&d);
	free(body);
	body = members_body(JB_MEMBERS_MAX + 1);
	ck_assert_int_eq(jp(&d, body), -1);
	jb_free(&d);
	free(body);
}
END_TEST

/*
 * Credentials (§3.1).
 */

static const char *
tok(const char *hdr)
{
	static char out[256];
	const char *t;
	size_t len;

	if (http_bearer_token(hdr, strlen(hdr), &t, &len) == -1)
		return NULL;
	memcpy(out, t, len);
	out[len] = '\0';
	return out;
}

START_TEST(bearer_prefix)
{
	ck_assert_str_eq(tok("Bearer abc"), "abc");
	ck_assert_str_eq(tok("bearer abc"), "abc");
	ck_assert_str_eq(tok("BEARER    abc  "), "abc");
	ck_assert_str_eq(tok("  abc\t"), "abc");
	ck_assert_str_eq(tok("abc=="), "abc==");
	/* no space after it: not a prefix */
	ck_assert_str_eq(tok("Bearerabc"), "Bearerabc");
	ck_assert_str_eq(tok("Bearer"), "Bearer");
	ck_assert_ptr_null(tok(""));
	ck_assert_ptr_null(tok("   "));
	ck_assert_ptr_null(tok("Bearer "));
	ck_assert_ptr_null(tok("Bearer    \t"));
}
END_TEST

/*
 * Routes (§21).
 */

static void
allow_text(unsigned methods, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} order[] = { { M_GET, "GET" }, { M_HEAD, "HEAD" }, { M_POST, "POST" },
		{ M_DELETE, "DELETE" } };
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < 4; i++) {
		if ((methods & order[i].bit) == 0)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, order[i].name, len - strlen(buf) - 1);
	}
}

START_TEST(routes_table)
{
	const struct route *r, *found;
	char allow[64];
	int i;

	for (i = 0; i < R_COUNT; i++) {
		r = route_by_id((enum route_id)i);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->id, i);
		allow_text(r->methods, allow, sizeof(allow));
		ck_assert_str_eq(r->allow, allow);
		ck_assert_int_eq(route_lookup(r->path, strlen(r->path),
				     r->binding, M_GET | M_POST, &found),
		    (r->methods & (M_GET | M_POST)) ? ROUTE_FOUND
						    : ROUTE_BAD_METHOD);
		ck_assert_ptr_eq(found, r);
		/* exactly one binding */
		ck_assert_int_eq(
		    route_lookup(r->path, strlen(r->path),
			r->binding == BIND_PUBLIC ? BIND_PRIVATE : BIND_PUBLIC,
			M_GET, &found),
		    ROUTE_NOT_FOUND);
	}
}
END_TEST

static enum route_match
look(const char *path, int binding, const char *method, const struct route **r)
{
	return route_lookup(
	    path, strlen(path), binding, route_method_bit(method), r);
}

START_TEST(routes_lookup)
{
	const struct route *r;

	ck_assert_int_eq(
	    look("/db/api/v1/set", BIND_PUBLIC, "POST", &r), ROUTE_FOUND);
	ck_assert_int_eq(r->id, R_SET);
	ck_assert(r->leader);
	ck_assert_int_eq(
	    look("/db/api/v1/get", BIND_PUBLIC, "POST", &r), ROUTE_BAD_METHOD);
	ck_assert_str_eq(r->allow, "GET, HEAD");
	ck_assert(r->consistency);
	ck_assert_int_eq(look("/db/api/v1/delete", BIND_PUBLIC, "GET", &r),
	    ROUTE_BAD_METHOD);
	ck_assert_str_eq(r->allow, "POST, DELETE");
	ck_assert_int_eq(look("/db/api/v1/alias/set", BIND_PUBLIC, "PUT", &r),
	    ROUTE_BAD_METHOD);
	ck_assert_str_eq(r->allow, "GET, POST");
	ck_assert_int_eq(look("/db/api/v1/ping", BIND_PUBLIC, "OPTIONS", &r),
	    ROUTE_BAD_METHOD);
	ck_assert_int_eq(
	    look("/db/api/v1/ping", BIND_PUBLIC, "HEAD", &r), ROUTE_FOUND);
	ck_assert_int_eq(
	    look("/metrics", BIND_PRIVATE, "GET", &r), ROUTE_FOUND);
	ck_assert_int_eq(r->auth, AUTH_NONE);
	ck_assert_int_eq(
	    look("/metrics", BIND_PUBLIC, "GET", &r), ROUTE_NOT_FOUND);
	ck_assert_int_eq(
	    look("/db/api/v1/join", BIND_PRIVATE, "GET", &r), ROUTE_FOUND);
	ck_assert_int_eq(r->auth, AUTH_ROOT);
	ck_assert_int_eq(
	    look("/db/internal/v1/blob/download", BIND_PRIVATE, "GET", &r),
	    ROUTE_FOUND);
	ck_assert_int_eq(r->category, RL_EXEMPT);
	ck_assert_int_eq(
	    look("/db/api/v1/set/", BIND_PUBLIC, "POST", &r), ROUTE_NOT_FOUND);
	ck_assert_int_eq(
	    look("/DB/api/v1/set", BIND_PUBLIC, "POST", &r), ROUTE_NOT_FOUND);
	ck_assert_int_eq(
	    look("/db/api/v1/se", BIND_PUBLIC, "POST", &r), ROUTE_NOT_FOUND);
	ck_assert_int_eq(look("", BIND_PUBLIC, "POST", &r), ROUTE_NOT_FOUND);
}
END_TEST

/*
 * Keys, uptime, output.
 */

START_TEST(key_rules)
{
	uint8_t k[HTTP_KEY_MAX + 1];

	memset(k, 'k', sizeof(k));
	ck_assert_int_eq(http_key_check(k, 0), 400);
	ck_assert_int_eq(http_key_check(k, 1), 0);
	ck_assert_int_eq(http_key_check(k, HTTP_KEY_MAX), 0);
	ck_assert_int_eq(http_key_check(k, HTTP_KEY_MAX + 1), 413);
	ck_assert_int_eq(http_key_check((const uint8_t *)"a\0b", 3), 400);
	ck_assert_int_eq(http_key_check((const uint8_t *)"a:/ b", 5), 0);
	ck_assert_int_eq(http_prefix_check(k, 0), 0);
	ck_assert_int_eq(http_prefix_check(k, HTTP_KEY_MAX), 0);
	ck_assert_int_eq(http_prefix_check(k, HTTP_KEY_MAX + 1), 413);
	ck_assert_int_eq(http_prefix_check((const uint8_t *)"\0", 1), 400);
}
END_TEST

START_TEST(uptime_text)
{
	char b[64];

	http_format_uptime(0, b, sizeof(b));
	ck_assert_str_eq(b, "0s");
	http_format_uptime(12, b, sizeof(b));
	ck_assert_str_eq(b, "12s");
	http_format_uptime(300, b, sizeof(b));
	ck_assert_str_eq(b, "5m0s");
	http_format_uptime(2 * 3600 + 34 * 60 + 12, b, sizeof(b));
	ck_assert_str_eq(b, "2h34m12s");
	http_format_uptime(3600, b, sizeof(b));
	ck_assert_str_eq(b, "1h0m0s");
	http_format_uptime(50 * 3600 + 1, b, sizeof(b));
	ck_assert_str_eq(b, "50h0m1s");
}
END_TEST

START_TEST(error_body_shape)
{
	struct json_object *o, *v;
	struct pbuf b;

	pb_init(&b);
	http_error_body(&b, "BAD_REQUEST", "key: \"x\"\n\x01 bad");
	ck_assert_uint_gt(b.len, 0);
	ck_assert_int_eq(b.data[b.len - 1], '\n');
	pb_add_u8(&b, 0);
	ck_assert_ptr_null(strchr((const char *)b.data, '\x01'));
	o = json_tokener_parse((const char *)b.data);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_object_length(o), 2);
	ck_assert(json_object_object_get_ex(o, "error_type", &v));
	ck_assert_str_eq(json_object_get_string(v), "BAD_REQUEST");
	ck_assert(json_object_object_get_ex(o, "message", &v));
	ck_assert_str_eq(json_object_get_string(v), "key: \"x\"\n\x01 bad");
	/* compact, members in order */
	ck_assert_int_eq(
	    strncmp((const char *)b.data,
		"{\"error_type\":\"BAD_REQUEST\",\"message\":", 38),
	    0);
	json_object_put(o);
	pb_free(&b);
}
END_TEST

START_TEST(json_string_out)
{
	struct pbuf b;

	pb_init(&b);
	json_put_str(&b, "a\"\\\t\x7f\xc3\xa9\xff", 8);
	pb_add_u8(&b, 0);
	ck_assert_str_eq(
	    (const char *)b.data, "\"a\\\"\\\\\\t\x7f\xc3\xa9\\ufffd\"");
	pb_free(&b);
}
END_TEST

START_TEST(rate_text)
{
	char b[64];

	http_format_rate(1000, b, sizeof(b));
	ck_assert_str_eq(b, "1000");
	http_format_rate(2.5, b, sizeof(b));
	ck_assert_str_eq(b, "2.5");
	http_format_rate(0.1, b, sizeof(b));
	ck_assert_str_eq(b, "0.1");
}
END_TEST

/*
 * Per-IP buckets (§8).
 */

START_TEST(rate_buckets)
{
	struct cfg_rate rates[CFG_RL_COUNT];
	const uint8_t ip1[4] = { 10, 0, 0, 1 }, ip2[4] = { 10, 0, 0, 2 };
	struct ratelimit_verdict v;
	struct ratelimit *rl;
	int i;

	for (i = 0; i < CFG_RL_COUNT; i++) {
		rates[i].limit = 1;
		rates[i].burst = 2;
	}
	rates[CFG_RL_CACHE].limit = 0.25;
	rates[CFG_RL_CACHE].burst = 1;
	rl = ratelimit_new(rates);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip1, 1000, &v);
	ck_assert(v.allowed);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip1, 1000, &v);
	ck_assert(v.allowed);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip1, 1000, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_after_s, 1);
	ck_assert_int_eq(v.burst, 2);
	/* another IP and another category have their own buckets */
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip2, 1000, &v);
	ck_assert(v.allowed);
	ratelimit_take(rl, CFG_RL_SYSTEM, AF_INET, ip1, 1000, &v);
	ck_assert(v.allowed);
	/* half a token is not enough, a whole one is */
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip1, 1500, &v);
	ck_assert(!v.allowed);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip1, 2000, &v);
	ck_assert(v.allowed);
	/* 0.25/s: four seconds until the next token */
	ratelimit_take(rl, CFG_RL_CACHE, AF_INET, ip1, 0, &v);
	ck_assert(v.allowed);
	ratelimit_take(rl, CFG_RL_CACHE, AF_INET, ip1, 0, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_after_s, 4);
	/* never more than the burst after a long idle time */
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip2, 1000000, &v);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip2, 1000000, &v);
	ratelimit_take(rl, CFG_RL_VALUES, AF_INET, ip2, 1000000, &v);
	ck_assert(!v.allowed);
	ratelimit_free(rl);
}
END_TEST

/*
 * Client IP (§9).
 */

static void
ip(const char *s, struct client_ip *out)
{
	ck_assert_int_eq(client_ip_parse(s, strlen(s), out), 0);
}

static const char *
resolved(const char *peer, const char *xff, struct cfg_net *trusted, size_t n)
{
	static char buf[64];
	struct client_ip p, out;

	ip(peer, &p);
	client_ip_resolve(&p, xff, xff ? strlen(xff) : 0, trusted, n, &out);
	client_ip_format(&out, buf, sizeof(buf));
	return buf;
}

START_TEST(client_ip_xff)
{
	struct cfg_net t[2];
	struct client_ip a;

	ck_assert_int_eq(cfg_net_parse("10.0.0.0/8", &t[0], false), 0);
	ck_assert_int_eq(cfg_net_parse("::1", &t[1], false), 0);
	ip("::ffff:192.0.2.1", &a);
	ck_assert_int_eq(a.family, AF_INET);
	/* untrusted peer: header ignored */
	ck_assert_str_eq(resolved("192.0.2.9", "1.2.3.4", t, 2), "192.0.2.9");
	/* walk from the right, skipping trusted proxies */
	ck_assert_str_eq(
	    resolved("10.0.0.1", "1.2.3.4, 5.6.7.8, 10.1.1.1", t, 2),
	    "5.6.7.8");
	/* all trusted: the left-most */
	ck_assert_str_eq(
	    resolved("::1", "10.0.0.7,10.0.0.8", t, 2), "10.0.0.7");
	/* an invalid entry examined: the peer */
	ck_assert_str_eq(
	    resolved("10.0.0.1", "1.2.3.4, junk", t, 2), "10.0.0.1");
	/* an invalid entry left of the client does not matter */
	ck_assert_str_eq(
	    resolved("10.0.0.1", "junk, 1.2.3.4", t, 2), "1.2.3.4");
	ck_assert_str_eq(resolved("10.0.0.1", NULL, t, 2), "10.0.0.1");
}
END_TEST

START_TEST(client_ip_filter)
{
	struct cfg_net n[2];
	struct client_ip a, b;

	ck_assert_int_eq(cfg_net_parse("*", &n[0], true), 0);
	ck_assert_int_eq(cfg_net_parse("127.0.0.1", &n[1], false), 0);
	ip("192.0.2.1", &a);
	ip("127.0.0.1", &b);
	ck_assert(client_ip_permitted(&a, n, 2, true));
	ck_assert(!client_ip_permitted(&a, n, 2, false));
	ck_assert(client_ip_permitted(&b, n, 2, false));
	ck_assert(!client_ip_permitted(&b, n, 0, false));
}
END_TEST

/*
 * Cluster URLs (§4, §17.1).
 */

static const char cluster_yaml[] = "instance_secret: \"0123456789abcdef0123\"\n"
				   "default_leader: node0\n"
				   "insid_home: /srv/insidb\n"
				   "control_socket: /run/insid-{node}.sock\n"
				   "nodes:\n"
				   "  node0:\n"
				   "    public_binding: 127.0.0.1:8080\n"
				   "    private_binding: 127.0.0.1:8081\n"
				   "    raft_binding: 127.0.0.1:7000\n"
				   "  node1:\n"
				   "    public_binding: \"[::1]:8082\"\n"
				   "    private_binding: \"[::1]:8083\"\n"
				   "    raft_binding: \"[::1]:7001\"\n"
				   "  node2:\n"
				   "    public_binding: 127.0.0.2:8084\n"
				   "    private_binding: 127.0.0.2:8085\n"
				   "    raft_binding: 127.0.0.2:7002\n"
				   "    client_domain: node2.example.net\n";

static struct cfg ccfg;

static void
cluster_setup(void)
{
	struct cfg_errors errs;

	memset(&ccfg, 0, sizeof(ccfg));
	memset(&errs, 0, sizeof(errs));
	if (cfg_parse("c.yaml", cluster_yaml, strlen(cluster_yaml), NULL, 0,
		false, &ccfg, &errs) == -1)
		ck_abort_msg("config: %s", errs.n > 0 ? errs.msgs[0] : "?");
	cfg_errors_free(&errs);
}

static void
cluster_teardown(void)
{
	cfg_free(&ccfg);
}

static const char *
loc(const char *node, enum curl_binding b, bool tls, const char *path,
    const char *query)
{
	static char out[512];

	ck_assert(cfg_node(&ccfg, node) != NULL);
	ck_assert_int_eq(
	    curl_location(cfg_node(&ccfg, node), b, tls, path, strlen(path),
		query, query != NULL ? strlen(query) : 0, out, sizeof(out)),
	    0);
	return out;
}

START_TEST(location_binding_kind)
{
	ck_assert_str_eq(loc("node0", CURL_BIND_PUBLIC, false, "/db/api/v1/set",
			     "a=1%2B2&b"),
	    "http://127.0.0.1:8080/db/api/v1/set?a=1%2B2&b");
	ck_assert_str_eq(
	    loc("node0", CURL_BIND_PRIVATE, false, "/db/api/v1/join", "x=1"),
	    "http://127.0.0.1:8081/db/api/v1/join?x=1");
	ck_assert_str_eq(
	    loc("node0", CURL_BIND_PUBLIC, true, "/db/api/v1/bump", NULL),
	    "https://127.0.0.1:8080/db/api/v1/bump");
	/* a request that ended in '?' keeps it */
	ck_assert_str_eq(loc("node0", CURL_BIND_PUBLIC, false, "/p", ""),
	    "http://127.0.0.1:8080/p?");
}
END_TEST

START_TEST(location_ipv6_and_domain)
{
	ck_assert_str_eq(
	    loc("node1", CURL_BIND_PUBLIC, false, "/db/api/v1/set", NULL),
	    "http://[::1]:8082/db/api/v1/set");
	ck_assert_str_eq(loc("node1", CURL_BIND_PRIVATE, true, "/x", "q=%5B"),
	    "https://[::1]:8083/x?q=%5B");
	/* client_domain replaces the host, the binding gives the port */
	ck_assert_str_eq(
	    loc("node2", CURL_BIND_PUBLIC, true, "/db/api/v1/set", NULL),
	    "https://node2.example.net:8084/db/api/v1/set");
	ck_assert_str_eq(loc("node2", CURL_BIND_PRIVATE, false, "/j", "a=b"),
	    "http://node2.example.net:8085/j?a=b");
}
END_TEST

START_TEST(location_bounded)
{
	const struct cfg_node *n = cfg_node(&ccfg, "node0");
	char small[32], base[CURL_BASE_MAX];

	/* "http://127.0.0.1:8080" is 21 bytes: the path must fit too */
	ck_assert_int_eq(curl_location(n, CURL_BIND_PUBLIC, false,
			     "/0123456789", 11, NULL, 0, small, sizeof(small)),
	    -1);
	ck_assert_int_eq(curl_location(n, CURL_BIND_PUBLIC, false, "/012345678",
			     10, NULL, 0, small, sizeof(small)),
	    0);
	ck_assert_str_eq(small, "http://127.0.0.1:8080/012345678");
	ck_assert_int_eq(
	    curl_node_base(n, CURL_BIND_PRIVATE, true, base, sizeof(base)), 0);
	ck_assert_str_eq(base, "https://127.0.0.1:8081");
}
END_TEST

START_TEST(raft_addresses)
{
	char out[CURL_ADDR_MAX];

	curl_raft_address(cfg_node(&ccfg, "node0"), out, sizeof(out));
	ck_assert_str_eq(out, "127.0.0.1:7000");
	curl_raft_address(cfg_node(&ccfg, "node1"), out, sizeof(out));
	ck_assert_str_eq(out, "[::1]:7001");
	curl_raft_address(cfg_node(&ccfg, "node2"), out, sizeof(out));
	ck_assert_str_eq(out, "node2.example.net:7002");
}
END_TEST

static enum join_param
jc(const char *id, const char *addr, char *canon)
{
	const struct cfg_node *n = NULL;
	enum join_param rc = curl_join_check(&ccfg, id, addr, &n, canon);

	if (rc == JOIN_OK)
		ck_assert_str_eq(n->id, id);
	return rc;
}

START_TEST(join_parameters)
{
	char canon[CURL_ADDR_MAX];

	ck_assert_int_eq(jc(NULL, "127.0.0.1:7000", canon), JOIN_BAD_ID);
	ck_assert_int_eq(jc("", "127.0.0.1:7000", canon), JOIN_BAD_ID);
	ck_assert_int_eq(jc("node9", "127.0.0.1:7000", canon), JOIN_BAD_ID);
	/* the id is checked first, then the address */
	ck_assert_int_eq(jc("node9", NULL, canon), JOIN_BAD_ID);
	ck_assert_int_eq(jc("node0", NULL, canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(jc("node0", "", canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(jc("node0", "127.0.0.1:7001", canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(jc("node0", "127.0.0.1", canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(jc("node0", "127.0.0.1:8081", canon), JOIN_BAD_ADDR);
	/* another node's address */
	ck_assert_int_eq(jc("node0", "[::1]:7001", canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(jc("node0", "127.0.0.1:7000", canon), JOIN_OK);
	ck_assert_str_eq(canon, "127.0.0.1:7000");
	/* IPv6 with or without brackets; raftd gets brackets */
	ck_assert_int_eq(jc("node1", "[::1]:7001", canon), JOIN_OK);
	ck_assert_str_eq(canon, "[::1]:7001");
	ck_assert_int_eq(jc("node1", "::1:7001", canon), JOIN_OK);
	ck_assert_str_eq(canon, "[::1]:7001");
	ck_assert_int_eq(jc("node1", "[::1]:7000", canon), JOIN_BAD_ADDR);
	/* client_domain with the binding's port, or the binding itself */
	ck_assert_int_eq(jc("node2", "node2.example.net:7002", canon), JOIN_OK);
	ck_assert_str_eq(canon, "node2.example.net:7002");
	ck_assert_int_eq(jc("node2", "NODE2.example.net:7002", canon), JOIN_OK);
	ck_assert_int_eq(jc("node2", "127.0.0.2:7002", canon), JOIN_OK);
	ck_assert_str_eq(canon, "127.0.0.2:7002");
	ck_assert_int_eq(
	    jc("node2", "node2.example.net:8085", canon), JOIN_BAD_ADDR);
	ck_assert_int_eq(
	    jc("node2", "node3.example.net:7002", canon), JOIN_BAD_ADDR);
}
END_TEST

START_TEST(url_split)
{
	struct curl_parts p;

	ck_assert_int_eq(curl_parse("http://127.0.0.1:8081/db/api/v1/join?"
				    "followerId=n1",
			     &p),
	    0);
	ck_assert(!p.tls);
	ck_assert_str_eq(p.host, "127.0.0.1");
	ck_assert_uint_eq(p.port, 8081);
	ck_assert_str_eq(p.target, "/db/api/v1/join?followerId=n1");
	ck_assert_int_eq(curl_parse("https://[::1]:8083/x", &p), 0);
	ck_assert(p.tls && p.ipv6);
	ck_assert_str_eq(p.host, "::1");
	ck_assert_uint_eq(p.port, 8083);
	ck_assert_int_eq(curl_parse("https://node2.example.net", &p), 0);
	ck_assert_uint_eq(p.port, 443);
	ck_assert_str_eq(p.target, "/");
	ck_assert_int_eq(curl_parse("HTTP://h", &p), 0);
	ck_assert_uint_eq(p.port, 80);
	ck_assert_int_eq(curl_parse("ftp://h/x", &p), -1);
	ck_assert_int_eq(curl_parse("/db/api/v1/set", &p), -1);
	ck_assert_int_eq(curl_parse("http://:80/", &p), -1);
	ck_assert_int_eq(curl_parse("http://h:0/", &p), -1);
	ck_assert_int_eq(curl_parse("http://h:65536/", &p), -1);
	ck_assert_int_eq(curl_parse("http://h:8x/", &p), -1);
	ck_assert_int_eq(curl_parse("http://[::1/", &p), -1);
	ck_assert_int_eq(curl_parse("http://[::1]x/", &p), -1);
	ck_assert_int_eq(curl_parse("http://u@h/", &p), -1);
	ck_assert_int_eq(curl_parse("http://h/#f", &p), 0);
	ck_assert_int_eq(curl_parse("http://h#f", &p), -1);
}
END_TEST

START_TEST(view_from_status)
{
	const char *st =
	    "{\"leader\":\"node2\",\"term\":7,\"commit_index\":10,"
	    "\"nodes\":[{\"id\":\"node0\",\"voter\":true},{\"id\":\"node2\"},"
	    "{\"voter\":false},7],\"node\":\"node0\",\"role\":\"follower\","
	    "\"needs_join\":false,\"transferring\":true,\"removed\":false,"
	    "\"version\":42}";
	struct apid_view v;

	ck_assert_int_eq(view_parse(st, strlen(st), &v), 0);
	ck_assert_str_eq(v.leader, "node2");
	ck_assert_str_eq(v.role, "follower");
	ck_assert_int_eq(v.term, 7);
	ck_assert_uint_eq(v.version, 42);
	ck_assert(v.transferring && !v.needs_join && !v.removed);
	/* entries without an id are skipped */
	ck_assert_uint_eq(v.nmembers, 2);
	ck_assert(view_is_member(&v, "node0") && view_is_member(&v, "node2"));
	ck_assert(!view_is_member(&v, "node1"));

	st = "{\"leader\":\"\",\"needs_join\":true,\"version\":\"3\","
	     "\"term\":\"x\"}";
	ck_assert_int_eq(view_parse(st, strlen(st), &v), 0);
	ck_assert_str_eq(v.leader, "");
	ck_assert(v.needs_join);
	ck_assert_uint_eq(v.version, 0);
	ck_assert_int_eq(v.term, 0);
	ck_assert_uint_eq(v.nmembers, 0);

	ck_assert_int_eq(view_parse("[1]", 3, &v), -1);
	ck_assert_int_eq(view_parse("{\"leader\":", 10, &v), -1);
	ck_assert_int_eq(view_parse("", 0, &v), -1);
}
END_TEST

/*
 * Outgoing HTTP client (§18.3) against a local evhttp server: /r/<n>
 * redirects to /r/<n-1> down to /r/0, which answers 200 with the
 * Authorization it saw; /hang never answers; /big is over the body bound;
 * /echo answers the POST body with its content type; /retry/<v> answers
 * 503 with Retry-After: <v>.
 */

struct hc_test {
	struct event_base *base;
	struct evhttp *srv;
	unsigned port;
	struct evhttp_request *hung;
	int retry_after;
	bool called;
	int calls;
	int err;
	int status;
	char body[256];
	char url[256];
};

static struct hc_test ht;

static void
srv_reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Redirect", b);
	evbuffer_free(b);
}

static void
srv_cb(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req), *v;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body;
	char loc[128], text[256];
	int n;

	(void)arg;
	if (strncmp(uri, "/r/", 3) == 0 && (n = atoi(uri + 3)) > 0) {
		snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/r/%d", ht.port,
		    n - 1);
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "Location", loc);
		srv_reply(req, n % 2 ? 307 : 302, "");
	} else if (strcmp(uri, "/r/0") == 0) {
		v = evhttp_find_header(in, "Authorization");
		srv_reply(req, 200, v != NULL ? v : "none");
	} else if (strncmp(uri, "/retry/", 7) == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", uri + 7);
		srv_reply(req, 503, "busy");
	} else if (strcmp(uri, "/hang") == 0)
		ht.hung = req;
	else if (strcmp(uri, "/big") == 0) {
		body = evbuffer_new();
		memset(text, 'x', sizeof(text));
		for (n = 0; n < 8 * 1024; n++)
			evbuffer_add(body, text, sizeof(text));
		evhttp_send_reply(req, 200, "OK", body);
		evbuffer_free(body);
	} else if (strcmp(uri, "/echo") == 0) {
		body = evhttp_request_get_input_buffer(req);
		v = evhttp_find_header(in, "Content-Type");
		snprintf(text, sizeof(text), "%s %s %.*s",
		    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
								       : "GET",
		    v != NULL ? v : "-", (int)evbuffer_get_length(body),
		    (const char *)evbuffer_pullup(body, -1));
		srv_reply(req, 200, text);
	} else
		srv_reply(req, 404, "nope");
}

static void
hc_setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	/* the server side writes to connections the client dropped */
	signal(SIGPIPE, SIG_IGN);
	memset(&ht, 0, sizeof(ht));
	ht.base = event_base_new();
	ht.srv = evhttp_new(ht.base);
	ck_assert(ht.base != NULL && ht.srv != NULL);
	evhttp_set_gencb(ht.srv, srv_cb, NULL);
	bs = evhttp_bind_socket_with_handle(ht.srv, "127.0.0.1", 0);
	ck_assert(bs != NULL);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
			     (struct sockaddr *)&sin, &len),
	    0);
	ht.port = ntohs(sin.sin_port);
}

static void
hc_teardown(void)
{
	evhttp_free(ht.srv);
	event_base_free(ht.base);
}

static void
hc_done(const struct hclient_resp *r, void *arg)
{
	(void)arg;
	ht.called = true;
	ht.calls++;
	ht.err = r->err;
	ht.status = r->status;
	snprintf(ht.body, sizeof(ht.body), "%.*s", (int)r->body_len,
	    r->body != NULL ? r->body : "");
	snprintf(ht.url, sizeof(ht.url), "%s", r->url);
	ht.retry_after = r->retry_after;
	event_base_loopbreak(ht.base);
}

/* runs the loop until the callback ran or `secs` passed */
static void
hc_run(int secs)
{
	struct timeval tv = { secs, 0 };

	ht.called = false;
	event_base_loopexit(ht.base, &tv);
	event_base_dispatch(ht.base);
}

static struct hcall *
hc_get(struct hclient *hc, const char *path, int timeout_ms, int redirects)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", ht.port, path);
	return hclient_request(hc, "GET", url, "sekrit", NULL, NULL, 0,
	    timeout_ms, redirects, hc_done, NULL);
}

START_TEST(client_redirects)
{
	struct hclient *hc = hclient_new(ht.base, false, NULL, false);
	char want[128];

	ck_assert(hc != NULL);
	/* five redirects (307 and 302 alternate) are followed */
	ck_assert(hc_get(hc, "/r/5", 5000, 5) != NULL);
	ck_assert(!ht.called);
	hc_run(5);
	ck_assert(ht.called);
	ck_assert_int_eq(ht.err, 0);
	ck_assert_int_eq(ht.status, 200);
	ck_assert_str_eq(ht.body, "Bearer sekrit");
	snprintf(want, sizeof(want), "http://127.0.0.1:%u/r/0", ht.port);
	ck_assert_str_eq(ht.url, want);
	/* a sixth is not */
	ck_assert(hc_get(hc, "/r/6", 5000, 5) != NULL);
	hc_run(5);
	ck_assert(ht.called);
	ck_assert_int_eq(ht.err, ELOOP);
	/* without redirects allowed the first one ends the call */
	ck_assert(hc_get(hc, "/r/1", 5000, 0) != NULL);
	hc_run(5);
	ck_assert_int_eq(ht.err, ELOOP);
	ck_assert_int_eq(ht.calls, 3);
	hclient_free(hc);
}
END_TEST

START_TEST(client_retry_after)
{
	struct hclient *hc = hclient_new(ht.base, false, NULL, false);

	ck_assert(hc != NULL);
	ck_assert(hc_get(hc, "/retry/2", 5000, 0) != NULL);
	hc_run(5);
	ck_assert_int_eq(ht.status, 503);
	ck_assert_int_eq(ht.retry_after, 2);
	/* the date form and junk are not a number of seconds */
	ck_assert(hc_get(hc, "/retry/Sun,%2006%20Nov", 5000, 0) != NULL);
	hc_run(5);
	ck_assert_int_eq(ht.status, 503);
	ck_assert_int_eq(ht.retry_after, -1);
	/* absent */
	ck_assert(hc_get(hc, "/r/0", 5000, 0) != NULL);
	hc_run(5);
	ck_assert_int_eq(ht.status, 200);
	ck_assert_int_eq(ht.retry_after, -1);
	hclient_free(hc);
}
END_TEST

START_TEST(client_failures)
{
	struct hclient *hc = hclient_new(ht.base, false, NULL, false);
	struct timeval t0, t1;
	char url[64];
	int fd;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	/* the deadline ends a call the server never answers */
	gettimeofday(&t0, NULL);
	ck_assert(hc_get(hc, "/hang", 300, 5) != NULL);
	hc_run(5);
	gettimeofday(&t1, NULL);
	ck_assert(ht.called);
	ck_assert_int_eq(ht.err, ETIMEDOUT);
	ck_assert_int_lt(
	    (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000,
	    2000);
	ck_assert(ht.hung != NULL);
	/* a body over the bound */
	ck_assert(hc_get(hc, "/big", 5000, 5) != NULL);
	hc_run(5);
	ck_assert(ht.called);
	ck_assert_int_ne(ht.err, 0);
	/* nobody listening: a closed port */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(
	    url, sizeof(url), "http://127.0.0.1:%u/x", ntohs(sin.sin_port));
	close(fd);
	ck_assert(hclient_request(hc, "GET", url, NULL, NULL, NULL, 0, 5000, 5,
		      hc_done, NULL) != NULL);
	hc_run(5);
	ck_assert(ht.called);
	ck_assert_int_eq(ht.err, ECONNREFUSED);
	/* bad URLs, and https without TLS, are refused at once */
	ck_assert(hclient_request(hc, "GET", "ftp://127.0.0.1/", NULL, NULL,
		      NULL, 0, 5000, 5, hc_done, NULL) == NULL);
	ck_assert(hclient_request(hc, "GET", "https://127.0.0.1/", NULL, NULL,
		      NULL, 0, 5000, 5, hc_done, NULL) == NULL);
	hclient_free(hc);
}
END_TEST

START_TEST(client_post_and_cancel)
{
	struct hclient *hc = hclient_new(ht.base, false, NULL, false);
	struct hcall *c;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ht.port);
	ck_assert(hclient_request(hc, "POST", url, NULL, "application/json",
		      "{\"a\":1}", 7, 5000, 0, hc_done, NULL) != NULL);
	hc_run(5);
	ck_assert_int_eq(ht.err, 0);
	ck_assert_int_eq(ht.status, 200);
	ck_assert_str_eq(ht.body, "POST application/json {\"a\":1}");
	/* a cancelled call never calls back */
	c = hc_get(hc, "/hang", 300, 0);
	ck_assert(c != NULL);
	hclient_cancel(c);
	hc_run(1);
	ck_assert(!ht.called);
	/* freeing the client cancels what is in flight */
	ck_assert(hc_get(hc, "/hang", 300, 0) != NULL);
	hclient_free(hc);
	hc_run(1);
	ck_assert(!ht.called);
	ck_assert_int_eq(ht.calls, 1);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, query_basic);
	tcase_add_test(tc, query_decoding);
	tcase_add_test(tc, query_first_wins);
	tcase_add_test(tc, query_malformed);
	tcase_add_test(tc, int_syntax);
	tcase_add_test(tc, json_members);
	tcase_add_test(tc, json_duplicates);
	tcase_add_test(tc, json_types);
	tcase_add_test(tc, json_null_is_absent);
	tcase_add_test(tc, json_trailing_and_shape);
	tcase_add_test(tc, json_utf8);
	tcase_add_test(tc, json_numbers);
	tcase_add_test(tc, json_depth);
	tcase_add_test(tc, json_member_bound);
	tcase_add_test(tc, bearer_prefix);
	tcase_add_test(tc, routes_table);
	tcase_add_test(tc, routes_lookup);
	tcase_add_test(tc, key_rules);
	tcase_add_test(tc, uptime_text);
	tcase_add_test(tc, error_body_shape);
	tcase_add_test(tc, json_string_out);
	tcase_add_test(tc, rate_text);
	tcase_add_test(tc, rate_buckets);
	tcase_add_test(tc, client_ip_xff);
	tcase_add_test(tc, client_ip_filter);
	suite_add_tcase(s, tc);
	tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_test(tc, location_binding_kind);
	tcase_add_test(tc, location_ipv6_and_domain);
	tcase_add_test(tc, location_bounded);
	tcase_add_test(tc, raft_addresses);
	tcase_add_test(tc, join_parameters);
	tcase_add_test(tc, url_split);
	tcase_add_test(tc, view_from_status);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_add_checked_fixture(tc, hc_setup, hc_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, client_redirects);
	tcase_add_test(tc, client_retry_after);
	tcase_add_test(tc, client_failures);
	tcase_add_test(tc, client_post_and_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
