/*
 * Values routes (API.md §11): set, get, delete, iterate/prefix, setnx,
 * cas, bump, in the caller's data scope.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

#define ITERATE_LIMIT_DEFAULT 100
#define ITERATE_LIMIT_MAX 1000

/*
 * Body members.
 */

/* a required string member; -1 after answering */
static int
body_str(struct areq *ar, const char *name, const char **s, size_t *len)
{
	int rc = jb_string(&ar->doc, name, s, len);

	if (rc == -1) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s", ar->doc.err);
		return -1;
	}
	if (rc == 0) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s: required", name);
		return -1;
	}
	return 0;
}

static int
check_key(struct areq *ar, const char *name, const char *k, size_t len)
{
	switch (http_key_check((const uint8_t *)k, len)) {
	case 0:
		return 0;
	case 413:
		apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "%s: longer than %d bytes", name, HTTP_KEY_MAX);
		return -1;
	default:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "%s: must be 1-%d bytes without NUL", name, HTTP_KEY_MAX);
		return -1;
	}
}

static int
body_key(struct areq *ar, const char **k, size_t *len)
{
	if (body_str(ar, "key", k, len) == -1)
		return -1;
	return check_key(ar, "key", *k, *len);
}

static int
body_value(struct areq *ar, const char *name, const char **v, size_t *len)
{
	if (body_str(ar, name, v, len) == -1)
		return -1;
	if (*len > ar->a->max_value) {
		apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "%s: larger than %zu bytes", name, ar->a->max_value);
		return -1;
	}
	return 0;
}

/*
 * Writes.
 */

static void
write_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;
	struct pbuf b;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status == ST_NOT_FOUND && ar->route->id == R_CAS) {
		apid_error(ar, 412, "PRECONDITION_FAILED", NULL,
		    "key: does not exist");
		return;
	}
	if (res.status == ST_NOT_FOUND && ar->route->id == R_DELETE)
		res.status = ST_OK;
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	if (ar->route->id != R_BUMP) {
		apid_reply_text(ar, "{}\n");
		return;
	}
	pb_init(&b);
	pb_add_raw(&b, "{\"data\":", 8);
	json_put_str(&b, res.data, res.data_len);
	pb_add_raw(&b, "}\n", 2);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

static void
propose(struct areq *ar, struct cmd *c)
{
	struct pbuf b;

	c->ts = 0; /* raftd stamps it */
	snprintf(c->scope, sizeof(c->scope), "%s", ar->id.scope);
	pb_init(&b);
	cmd_encode(&b, c);
	apid_raft_call(
	    ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, write_done);
	pb_free(&b);
}

/* set and setnx */
static void
set_body(struct areq *ar)
{
	const char *k, *v;
	size_t klen, vlen;
	struct cmd c;

	if (body_key(ar, &k, &klen) == -1 ||
	    body_value(ar, "value", &v, &vlen) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = ar->route->id == R_SETNX ? CMD_KV_SETNX : CMD_KV_SET;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	c.value = (const uint8_t *)v;
	c.value_len = vlen;
	propose(ar, &c);
}

static void
set_begin(struct areq *ar)
{
	apid_read_json(ar, set_body, false);
}

static void
cas_body(struct areq *ar)
{
	const char *k, *o, *n;
	size_t klen, olen, nlen;
	struct cmd c;

	if (body_key(ar, &k, &klen) == -1 ||
	    body_value(ar, "old_value", &o, &olen) == -1 ||
	    body_value(ar, "new_value", &n, &nlen) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_CAS;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	c.old_value = (const uint8_t *)o;
	c.old_value_len = olen;
	c.value = (const uint8_t *)n;
	c.value_len = nlen;
	propose(ar, &c);
}

static void
cas_begin(struct areq *ar)
{
	apid_read_json(ar, cas_body, false);
}

/* ^[+-]?[0-9]+$ within int64 */
static int
parse_delta(const char *s, size_t len, int64_t *out)
{
	if (len > 0 && s[0] == '+') {
		if (len == 1 || s[1] == '-')
			return -1;
		s++;
		len--;
	}
	return http_parse_int64(s, len, out);
}

static void
bump_body(struct areq *ar)
{
	const struct jb_member *m;
	const char *k;
	size_t klen;
	struct cmd c;
	int64_t delta;

	if (body_key(ar, &k, &klen) == -1)
		return;
	m = jb_find(&ar->doc, "value");
	if (m == NULL || m->type == JB_NULL) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "value: required");
		return;
	}
	if (m->type == JB_NUMBER && m->is_int)
		delta = m->num;
	else if (m->type != JB_STRING ||
	    parse_delta(m->str, m->str_len, &delta) == -1) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "value: must be an integer (string or number) within "
		    "int64");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_BUMP;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	c.num = delta;
	propose(ar, &c);
}

static void
bump_begin(struct areq *ar)
{
	apid_read_json(ar, bump_body, false);
}

static void
delete_key(struct areq *ar, const char *k, size_t klen)
{
	struct cmd c;

	if (check_key(ar, "key", k, klen) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_DELETE;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	propose(ar, &c);
}

static void
delete_body(struct areq *ar)
{
	const char *k;
	size_t klen;
	char *q;
	int rc;

	if (ar->have_doc) {
		if (body_str(ar, "key", &k, &klen) == 0)
			delete_key(ar, k, klen);
		return;
	}
	/* DELETE with an empty body: the query names the key */
	if ((rc = apid_query(ar, "key", &q, &klen)) == -1)
		return;
	if (rc == 0) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "key: required");
		return;
	}
	delete_key(ar, q, klen);
	free(q);
}

static void
delete_begin(struct areq *ar)
{
	apid_read_json(ar, delete_body, strcmp(ar->req->method, "DELETE") == 0);
}

/*
 * Reads.
 */

static void
get_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct read_reply rr;
	const uint8_t *v;
	struct pbuf b, h;
	size_t vlen;

	if (apid_read_check(ar, err, p, len, &rr) == -1)
		return;
	pr_get_bytes(&rr.rest, &v, &vlen);
	if (pr_end(&rr.rest) == -1)
		fatalx("%s: malformed get result from raftd", __func__);
	pb_init(&b);
	pb_init(&h);
	apid_consistency_hdr(&h, rr.consistency);
	pb_add_raw(&b, "{\"data\":", 8);
	json_put_str(&b, v, vlen);
	pb_add_raw(&b, "}\n", 2);
	apid_reply(ar, 200, &h, &b);
	pb_free(&b);
	pb_free(&h);
}

static void
get_begin(struct areq *ar)
{
	struct read_req q;
	size_t klen;
	char *k;
	int rc;

	if (apid_query_consistency(ar) == -1)
		return;
	if ((rc = apid_query(ar, "key", &k, &klen)) == -1)
		return;
	if (rc == 0) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "key: required");
		return;
	}
	if (check_key(ar, "key", k, klen) == 0) {
		memset(&q, 0, sizeof(q));
		q.op = READ_KV_GET;
		q.key = (const uint8_t *)k;
		q.key_len = klen;
		apid_read_send(ar, &q, get_done);
	}
	free(k);
}

static void
iterate_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct read_reply rr;
	const uint8_t *k;
	struct pbuf b, h;
	uint32_t i, n = 0;
	size_t klen;

	if (apid_read_check(ar, err, p, len, &rr) == -1)
		return;
	pr_get_u32(&rr.rest, &n);
	pb_init(&b);
	pb_add_raw(&b, "{\"data\":[", 9);
	for (i = 0; i < n && rr.rest.err == 0; i++) {
		if (pr_get_bytes(&rr.rest, &k, &klen) == -1)
			break;
		if (i > 0)
			pb_add_raw(&b, ",", 1);
		json_put_str(&b, k, klen);
	}
	if (pr_end(&rr.rest) == -1)
		fatalx("%s: malformed iterate result from raftd", __func__);
	pb_add_raw(&b, "]}\n", 3);
	pb_init(&h);
	apid_consistency_hdr(&h, rr.consistency);
	apid_reply(ar, 200, &h, &b);
	pb_free(&b);
	pb_free(&h);
}

/* an integer query parameter; 1 found, 0 absent, -1 after answering */
static int
query_int(struct areq *ar, const char *name, int64_t *v)
{
	size_t len;
	char *s;
	int rc;

	if ((rc = apid_query(ar, name, &s, &len)) <= 0)
		return rc;
	rc = http_parse_int64(s, len, v);
	free(s);
	if (rc == -1) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "%s: must be a decimal integer", name);
		return -1;
	}
	return 1;
}

static int
iterate_params(struct areq *ar, int64_t *offset, int64_t *limit)
{
	*offset = 0;
	*limit = ITERATE_LIMIT_DEFAULT;
	if (query_int(ar, "offset", offset) == -1 ||
	    query_int(ar, "limit", limit) == -1)
		return -1;
	if (*offset < 0) {
		apid_error(
		    ar, 400, "BAD_REQUEST", NULL, "offset: must be 0 or more");
		return -1;
	}
	if (*limit < 1) {
		apid_error(
		    ar, 400, "BAD_REQUEST", NULL, "limit: must be 1 or more");
		return -1;
	}
	if (*limit > ITERATE_LIMIT_MAX)
		*limit = ITERATE_LIMIT_MAX;
	return 0;
}

static void
iterate_begin(struct areq *ar)
{
	int64_t offset, limit;
	char *prefix = NULL;
	struct read_req q;
	size_t plen = 0;
	int rc;

	if (apid_query_consistency(ar) == -1 ||
	    (rc = apid_query(ar, "prefix", &prefix, &plen)) == -1)
		return;
	if (iterate_params(ar, &offset, &limit) == -1)
		goto out;
	if (plen > 0 && prefix[plen - 1] == '*')
		plen--;
	switch (http_prefix_check((const uint8_t *)prefix, plen)) {
	case 413:
		apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "prefix: longer than %d bytes", HTTP_KEY_MAX);
		goto out;
	case 400:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "prefix: must not contain NUL");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.op = READ_KV_ITERATE;
	q.key = (const uint8_t *)prefix;
	q.key_len = plen;
	q.offset = (uint64_t)offset;
	q.limit = (uint64_t)limit;
	apid_read_send(ar, &q, iterate_done);
out:
	free(prefix);
}

apid_handler
apid_values_handler(enum route_id id)
{
	switch (id) {
	case R_SET:
	case R_SETNX:
		return set_begin;
	case R_GET:
		return get_begin;
	case R_DELETE:
		return delete_begin;
	case R_ITERATE:
		return iterate_begin;
	case R_CAS:
		return cas_begin;
	case R_BUMP:
		return bump_begin;
	default:
		return NULL;
	}
}
