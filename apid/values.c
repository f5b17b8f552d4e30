/*
 * Values routes (API.md §11): set, get, delete, iterate/prefix, setnx,
 * cas, bump, in the caller's data scope.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/data_req.h"
#include "apid/http_parse.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

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
	apid_data_propose(ar, c, write_done);
}

/* set and setnx */
static void
set_body(struct areq *ar)
{
	struct cmd c;

	if (apid_body_set_cmd(ar,
		ar->route->id == R_SETNX ? CMD_KV_SETNX : CMD_KV_SET, &c) == -1)
		return;
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
	struct cmd c;

	if (apid_body_cas_cmd(ar, CMD_KV_CAS, &c) == -1)
		return;
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

	if (apid_body_key(ar, &k, &klen) == -1)
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
delete_body(struct areq *ar)
{
	const char *k;
	size_t klen;
	char *owned;
	struct cmd c;

	if (apid_delete_key(ar, &k, &klen, &owned) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_DELETE;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	propose(ar, &c);
	free(owned);
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
get_begin(struct areq *ar)
{
	apid_data_get(ar, READ_KV_GET);
}

static void
iterate_begin(struct areq *ar)
{
	apid_data_iterate(ar, READ_KV_ITERATE);
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
