/*
 * Key routes of API.md §15.2-15.3: limits of the caller's scope and the
 * caller's aliases.  New alias UUIDs and tokens are made here, on the
 * leader, and travel inside the command; apply decides on the count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/keys.h"
#include "common/log.h"
#include "proto/msg.h"

static const char *const limit_names[KEYREC_LIMITS] = { "bytes_on_disk",
	"bytes_in_memory", "events_emitted", "subscribers",
	"rate_per_second_data_limit", "rate_per_second_event_limit" };

void
keys_read(struct areq *ar, uint16_t op, const char *scope, const char *key,
    uint64_t offset, uint64_t limit, areq_ipc_cb cb)
{
	struct read_req q;
	struct pbuf b;

	memset(&q, 0, sizeof(q));
	q.op = op;
	q.consistency = ar->consistency;
	snprintf(q.scope, sizeof(q.scope), "%s", scope);
	q.key = (const uint8_t *)key;
	q.key_len = key != NULL ? strlen(key) : 0;
	q.offset = offset;
	q.limit = limit;
	pb_init(&b);
	read_req_encode(&b, &q);
	apid_raft_call(ar, MSG_RAFT_READ, &b, APID_READ_WAIT_MS, cb);
	pb_free(&b);
}

void
keys_propose(struct areq *ar, struct cmd *c, areq_ipc_cb cb)
{
	struct pbuf b;

	c->ts = 0;
	pb_init(&b);
	cmd_encode(&b, c);
	apid_raft_call(ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, cb);
	pb_free(&b);
}

void
keys_not_found(struct areq *ar, const char *type, const char *msg)
{
	apid_error(ar, 404, type, NULL, "%s", msg);
}

int
keys_read_ok(struct areq *ar, int err, const uint8_t *p, size_t len,
    struct pread *rest, uint16_t *status)
{
	uint8_t cons;

	if (err != 0) {
		apid_ipc_error(ar, err, false);
		return -1;
	}
	pr_init(rest, p, len);
	pr_get_u16(rest, status);
	pr_get_u8(rest, &cons);
	if (rest->err)
		fatalx("%s: malformed read result from raftd", __func__);
	ar->consistency = cons;
	if (*status == ST_OK || *status == ST_NOT_FOUND)
		return 0;
	apid_error(ar, 500, "INTERNAL_ERROR", NULL,
	    "internal error reading state (status %u)", *status);
	return -1;
}

int
keys_cmd_result(struct areq *ar, int err, const uint8_t *p, size_t len,
    struct cmd_result *res)
{
	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return -1;
	}
	if (cmd_result_decode(p, len, res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	return 0;
}

int
keys_limits_json(struct pbuf *b, struct pread *rest, bool root)
{
	struct limitsrec l;
	uint64_t usage[4];
	char buf[96];
	int n, first = 1;

	if (limitsrec_get(rest, &l) == -1)
		return -1;
	for (int i = 0; i < 4; i++)
		pr_get_u64(rest, &usage[i]);
	if (rest->err)
		return -1;
	pb_add_raw(b, "{\"usage\":{", 10);
	for (int i = 0; i < 4; i++) {
		n = snprintf(buf, sizeof(buf), "%s\"%s\":%" PRIu64,
		    i ? "," : "", limit_names[i], usage[i]);
		pb_add_raw(b, buf, (size_t)n);
	}
	pb_add_raw(b, "},\"max_limits\":{", 16);
	for (int i = 0; i < KEYREC_LIMITS && !root; i++) {
		if (!(l.mask & (1u << i)))
			continue;
		n = snprintf(buf, sizeof(buf), "%s\"%s\":%" PRIu64,
		    first ? "" : ",", limit_names[i], l.v[i]);
		pb_add_raw(b, buf, (size_t)n);
		first = 0;
	}
	pb_add_raw(b, "}}", 2);
	return 0;
}

int
keys_body_str(struct areq *ar, const char *name, const char **s, size_t *len)
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

/*
 * limits
 */

static void
limits_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct pread rest;
	struct pbuf b, h;
	uint16_t st;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	pb_init(&b);
	if (st != ST_OK || keys_limits_json(&b, &rest, ar->id.root) == -1)
		fatalx("%s: malformed limits result from raftd", __func__);
	pb_add_raw(&b, "\n", 1);
	pb_init(&h);
	apid_consistency_hdr(&h, ar->consistency);
	apid_reply(ar, 200, &h, &b);
	pb_free(&b);
	pb_free(&h);
}

static void
limits_begin(struct areq *ar)
{
	if (apid_query_consistency(ar) == -1)
		return;
	keys_read(ar, READ_LIMITS, ar->id.scope, NULL, 0, 0, limits_done);
}

/*
 * alias/set
 */

static void
alias_set_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;
	struct pbuf b;
	char *token = ar->hstate;

	if (keys_cmd_result(ar, err, p, len, &res) == -1)
		return;
	switch (res.status) {
	case ST_OK:
		pb_init(&b);
		pb_add_raw(&b, "{\"alias\":", 9);
		json_put_cstr(&b, token);
		pb_add_raw(&b, "}\n", 2);
		apid_reply(ar, 200, NULL, &b);
		pb_free(&b);
		return;
	case ST_ALIAS_LIMIT:
		apid_error(ar, 409, "ALIAS_LIMIT_REACHED", NULL,
		    "the key already has 16 aliases");
		return;
	case ST_API_KEY_NOT_FOUND:
		apid_error(ar, 401, "AUTHENTICATION_FAILED", NULL,
		    "the key was deleted");
		return;
	default:
		apid_cmd_error(ar, &res);
	}
}

static void
alias_set_begin(struct areq *ar)
{
	struct token_claims tc;
	struct pbuf v;
	struct cmd c;
	char *token;

	memset(&tc, 0, sizeof(tc));
	snprintf(tc.ds, sizeof(tc.ds), "%.36s", ar->id.scope);
	tc.is_alias = true;
	if (crypto_uuid4(tc.k) == -1 ||
	    (token = crypto_token_encrypt(apid_token_key(ar->a), &tc, NULL)) ==
		NULL) {
		apid_error(
		    ar, 500, "INTERNAL_ERROR", NULL, "could not make a token");
		return;
	}
	ar->hstate = token;
	ar->hstate_free = free;
	pb_init(&v);
	pb_add_bytes(&v, tc.k, strlen(tc.k));
	pb_add_bytes(&v, token, strlen(token));
	memset(&c, 0, sizeof(c));
	c.type = CMD_ALIAS_CREATE;
	snprintf(c.scope, sizeof(c.scope), "%s", ar->id.scope);
	c.key = (const uint8_t *)ar->id.key_uuid;
	c.key_len = strlen(ar->id.key_uuid);
	c.value = v.data;
	c.value_len = v.len;
	keys_propose(ar, &c, alias_set_done);
	pb_free(&v);
}

/*
 * alias/delete
 */

static void
alias_delete_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (keys_cmd_result(ar, err, p, len, &res) == -1)
		return;
	switch (res.status) {
	case ST_OK:
		apid_reply_text(ar, "{\"status\":\"ok\"}\n");
		return;
	case ST_ALIAS_NOT_FOUND:
		keys_not_found(ar, "ALIAS_NOT_FOUND", "alias not found");
		return;
	case ST_FORBIDDEN:
		apid_error(ar, 403, "FORBIDDEN", NULL,
		    "the alias belongs to another key");
		return;
	case ST_API_KEY_NOT_FOUND:
		apid_error(ar, 401, "AUTHENTICATION_FAILED", NULL,
		    "the key was deleted");
		return;
	default:
		apid_cmd_error(ar, &res);
	}
}

static void
alias_delete_body(struct areq *ar)
{
	struct token_claims tc;
	const char *tok;
	size_t len;
	struct cmd c;

	if (keys_body_str(ar, "alias", &tok, &len) == -1)
		return;
	if (crypto_token_decrypt(apid_token_key(ar->a), tok, len, &tc) == -1 ||
	    !tc.is_alias) {
		keys_not_found(ar, "ALIAS_NOT_FOUND", "alias: not an alias");
		return;
	}
	apid_token_forget(ar->a, tok, len);
	memset(&c, 0, sizeof(c));
	c.type = CMD_ALIAS_DELETE;
	snprintf(c.scope, sizeof(c.scope), "%s", ar->id.scope);
	c.key = (const uint8_t *)tc.k;
	c.key_len = strlen(tc.k);
	c.old_value = (const uint8_t *)ar->id.key_uuid;
	c.old_value_len = strlen(ar->id.key_uuid);
	keys_propose(ar, &c, alias_delete_done);
}

static void
alias_delete_begin(struct areq *ar)
{
	apid_read_json(ar, alias_delete_body, false);
}

/*
 * alias/list
 */

static void
alias_list_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct pread rest;
	const uint8_t *u, *t;
	size_t ulen, tlen;
	struct pbuf b;
	uint16_t st;
	uint32_t n = 0;

	if (keys_read_ok(ar, err, p, len, &rest, &st) == -1)
		return;
	if (st == ST_OK)
		pr_get_u32(&rest, &n);
	pb_init(&b);
	pb_add_raw(&b, "{\"aliases\":[", 12);
	for (uint32_t i = 0; i < n && n <= 1024; i++) {
		pr_get_bytes(&rest, &u, &ulen);
		pr_get_bytes(&rest, &t, &tlen);
		if (rest.err)
			fatalx("%s: malformed aliases from raftd", __func__);
		if (i > 0)
			pb_add_raw(&b, ",", 1);
		json_put_str(&b, t, tlen);
	}
	pb_add_raw(&b, "]}\n", 3);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

static void
alias_list_begin(struct areq *ar)
{
	if (ar->id.root) {
		apid_reply_text(ar, "{\"aliases\":[]}\n");
		return;
	}
	keys_read(ar, READ_ALIASES, ar->id.scope, ar->id.key_uuid, 0, 0,
	    alias_list_done);
}

apid_handler
apid_keys_handler(enum route_id id)
{
	switch (id) {
	case R_LIMITS:
		return limits_begin;
	case R_ALIAS_SET:
		return alias_set_begin;
	case R_ALIAS_DELETE:
		return alias_delete_begin;
	case R_ALIAS_LIST:
		return alias_list_begin;
	default:
		return NULL;
	}
}
