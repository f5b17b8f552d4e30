/*
 * Request pieces shared by the values and cache routes (data_req.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/data_req.h"
#include "apid/http_parse.h"
#include "common/log.h"
#include "proto/msg.h"

#define ITERATE_LIMIT_DEFAULT 100
#define ITERATE_LIMIT_MAX 1000

int
apid_body_str(struct areq *ar, const char *name, const char **s, size_t *len)
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

int
apid_check_key(struct areq *ar, const char *name, const char *k, size_t len)
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

int
apid_body_key(struct areq *ar, const char **k, size_t *len)
{
	if (apid_body_str(ar, "key", k, len) == -1)
		return -1;
	return apid_check_key(ar, "key", *k, *len);
}

int
apid_body_value(struct areq *ar, const char *name, const char **v, size_t *len)
{
	if (apid_body_str(ar, name, v, len) == -1)
		return -1;
	if (*len > ar->a->max_value) {
		apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "%s: larger than %zu bytes", name, ar->a->max_value);
		return -1;
	}
	return 0;
}

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

void
apid_data_get(struct areq *ar, uint16_t op)
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
	if (apid_check_key(ar, "key", k, klen) == 0) {
		memset(&q, 0, sizeof(q));
		q.op = op;
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

int
apid_query_int(struct areq *ar, const char *name, int64_t *v)
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
	if (apid_query_int(ar, "offset", offset) == -1 ||
	    apid_query_int(ar, "limit", limit) == -1)
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

void
apid_data_iterate(struct areq *ar, uint16_t op)
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
	q.op = op;
	q.key = (const uint8_t *)prefix;
	q.key_len = plen;
	q.offset = (uint64_t)offset;
	q.limit = (uint64_t)limit;
	apid_read_send(ar, &q, iterate_done);
out:
	free(prefix);
}

int
apid_delete_key(struct areq *ar, const char **k, size_t *len, char **owned)
{
	int rc;

	*owned = NULL;
	if (ar->have_doc) {
		if (apid_body_str(ar, "key", k, len) == -1)
			return -1;
	} else {
		/* DELETE with an empty body: the query names the key */
		if ((rc = apid_query(ar, "key", owned, len)) == -1)
			return -1;
		if (rc == 0) {
			apid_error(
			    ar, 400, "BAD_REQUEST", NULL, "key: required");
			return -1;
		}
		*k = *owned;
	}
	if (apid_check_key(ar, "key", *k, *len) == -1) {
		free(*owned);
		*owned = NULL;
		return -1;
	}
	return 0;
}

int
apid_body_set_cmd(struct areq *ar, uint16_t type, struct cmd *c)
{
	const char *k, *v;
	size_t klen, vlen;

	if (apid_body_key(ar, &k, &klen) == -1 ||
	    apid_body_value(ar, "value", &v, &vlen) == -1)
		return -1;
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->key = (const uint8_t *)k;
	c->key_len = klen;
	c->value = (const uint8_t *)v;
	c->value_len = vlen;
	return 0;
}

int
apid_body_cas_cmd(struct areq *ar, uint16_t type, struct cmd *c)
{
	const char *k, *o, *n;
	size_t klen, olen, nlen;

	if (apid_body_key(ar, &k, &klen) == -1 ||
	    apid_body_value(ar, "old_value", &o, &olen) == -1 ||
	    apid_body_value(ar, "new_value", &n, &nlen) == -1)
		return -1;
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->key = (const uint8_t *)k;
	c->key_len = klen;
	c->old_value = (const uint8_t *)o;
	c->old_value_len = olen;
	c->value = (const uint8_t *)n;
	c->value_len = nlen;
	return 0;
}

void
apid_data_propose(struct areq *ar, struct cmd *c, areq_ipc_cb done)
{
	struct pbuf b;

	c->ts = 0; /* raftd stamps it */
	snprintf(c->scope, sizeof(c->scope), "%s", ar->id.scope);
	pb_init(&b);
	cmd_encode(&b, c);
	apid_raft_call(ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, done);
	pb_free(&b);
}
