/*
 * Cache routes (API.md §12): cache/set, get, delete, setnx, cas,
 * iterate/prefix in the caller's data scope.  Entries expire after their
 * ttl; raftd decides expiry (apply with the leader's ts, reads with the
 * node's clock).
 */
#include <stdlib.h>
#include <string.h>

#include "apid/data_req.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

#define CACHE_TTL_MIN_S 1
#define CACHE_TTL_MAX_S 31536000

/*
 * Writes.
 */

static void
cache_write_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status == ST_NOT_FOUND && ar->route->id == R_CACHE_CAS) {
		apid_error(ar, 412, "PRECONDITION_FAILED", NULL,
		    "key: does not exist or has expired");
		return;
	}
	if (res.status == ST_NOT_FOUND && ar->route->id == R_CACHE_DELETE)
		res.status = ST_OK;
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	apid_reply_text(ar, "{}\n");
}

static void
cache_propose(struct areq *ar, struct cmd *c)
{
	apid_data_propose(ar, c, cache_write_done);
}

/* the optional "ttl" in milliseconds; -1 after answering */
static int
cache_ttl(struct areq *ar, int64_t *ttl_ms)
{
	const struct jb_member *m = jb_find(&ar->doc, "ttl");

	if (m == NULL || m->type == JB_NULL) {
		*ttl_ms = ar->a->env->cfg.cache_standard_ttl_ms;
		return 0;
	}
	if (m->type != JB_NUMBER || !m->is_int || m->num < CACHE_TTL_MIN_S ||
	    m->num > CACHE_TTL_MAX_S) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "ttl: must be an integer number of seconds, %d-%d",
		    CACHE_TTL_MIN_S, CACHE_TTL_MAX_S);
		return -1;
	}
	*ttl_ms = m->num * 1000;
	return 0;
}

/* cache/set and cache/setnx */
static void
cache_set_body(struct areq *ar)
{
	int64_t ttl_ms;
	struct cmd c;

	if (apid_body_set_cmd(ar,
		ar->route->id == R_CACHE_SETNX ? CMD_CACHE_SETNX
					       : CMD_CACHE_SET,
		&c) == -1 ||
	    cache_ttl(ar, &ttl_ms) == -1)
		return;
	c.num = ttl_ms;
	cache_propose(ar, &c);
}

static void
cache_set_begin(struct areq *ar)
{
	apid_read_json(ar, cache_set_body, false);
}

static void
cache_cas_body(struct areq *ar)
{
	struct cmd c;

	if (apid_body_cas_cmd(ar, CMD_CACHE_CAS, &c) == -1)
		return;
	cache_propose(ar, &c);
}

static void
cache_cas_begin(struct areq *ar)
{
	apid_read_json(ar, cache_cas_body, false);
}

static void
cache_delete_body(struct areq *ar)
{
	const char *k;
	size_t klen;
	char *owned;
	struct cmd c;

	if (apid_delete_key(ar, &k, &klen, &owned) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.type = CMD_CACHE_DELETE;
	c.key = (const uint8_t *)k;
	c.key_len = klen;
	cache_propose(ar, &c);
	free(owned);
}

static void
cache_delete_begin(struct areq *ar)
{
	apid_read_json(
	    ar, cache_delete_body, strcmp(ar->req->method, "DELETE") == 0);
}

/*
 * Reads.
 */

static void
cache_get_begin(struct areq *ar)
{
	apid_data_get(ar, READ_CACHE_GET);
}

static void
cache_iterate_begin(struct areq *ar)
{
	apid_data_iterate(ar, READ_CACHE_ITERATE);
}

apid_handler
apid_cache_handler(enum route_id id)
{
	switch (id) {
	case R_CACHE_SET:
	case R_CACHE_SETNX:
		return cache_set_begin;
	case R_CACHE_GET:
		return cache_get_begin;
	case R_CACHE_DELETE:
		return cache_delete_begin;
	case R_CACHE_CAS:
		return cache_cas_begin;
	case R_CACHE_ITERATE:
		return cache_iterate_begin;
	default:
		return NULL;
	}
}
