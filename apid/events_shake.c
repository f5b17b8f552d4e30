/*
 * events/purge (API.md §14.4) closes this node's sessions of the caller's
 * scope; events/shake (§14.6), on the leader, blocks the scope's slots,
 * purges every member through its public purge route with the caller's
 * credential, then lifts the block and drops the slot entries of the
 * nodes it reached, so `subscribers` counts only what unreachable nodes
 * may still hold.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "apid/events.h"
#include "apid/events_hub.h"
#include "apid/http_parse.h"
#include "common/cluster_url.h"
#include "common/log.h"
#include "proto/msg.h"

#define PURGE_PATH "/db/api/v1/events/purge"
#define SHAKE_CALL_MS 5000
#define SHAKE_ATTEMPTS 3
#define SHAKE_RATE_WAIT_MS 1000 /* a 429 without Retry-After */
#define SHAKE_RATE_WAIT_MAX_MS 2000
#define SHAKE_BLOCK_MS 60000

/* {"disconnected_sessions":n */
static void
put_count(struct pbuf *b, uint64_t n)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%" PRIu64, n);

	pb_add_lit(b, "{\"disconnected_sessions\":");
	pb_add_raw(b, num, (size_t)len);
}

static void
purge_route(struct areq *ar)
{
	struct pbuf b;
	size_t n = apid_events_purge(ar->id.scope);

	pb_init(&b);
	put_count(&b, n);
	pb_add_lit(&b, ",\"key_uuid\":");
	json_put_cstr(&b, ar->id.root ? ar->id.entity : ar->id.key_uuid);
	pb_add_lit(&b, ",\"success\":true}\n");
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

struct shake_node {
	struct shake *sh;
	const struct cfg_node *node;
	struct hcall *call;
	struct event *timer;
	int attempts;
	bool purged;
};

struct shake {
	struct areq *ar;
	char *token;
	uint64_t total;
	size_t nnodes;
	size_t waiting;
	struct shake_node nodes[VIEW_MEMBERS_MAX];
};

static void
shake_free(void *arg)
{
	struct shake *sh = arg;

	for (size_t i = 0; i < sh->nnodes; i++) {
		if (sh->nodes[i].call != NULL)
			hclient_cancel(sh->nodes[i].call);
		if (sh->nodes[i].timer != NULL)
			event_free(sh->nodes[i].timer);
	}
	if (sh->token != NULL) {
		explicit_bzero(sh->token, strlen(sh->token));
		free(sh->token);
	}
	free(sh);
}

static void
end_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct shake *sh = ar->hstate;
	struct cmd_result res;
	bool first = true;
	struct pbuf b;

	/* the block ends by itself within a minute if this failed */
	if (err == 0 && cmd_result_decode(p, len, &res) == 0 &&
	    res.status != ST_OK)
		log_warnx("apid: shake of %s: the end was refused (%u)",
		    ar->id.scope, res.status);
	else if (err != 0)
		log_warnx("apid: shake of %s: the end was not confirmed",
		    ar->id.scope);
	pb_init(&b);
	put_count(&b, sh->total);
	for (size_t i = 0; i < sh->nnodes; i++) {
		if (sh->nodes[i].purged)
			continue;
		if (first)
			pb_add_lit(&b, ",\"failed_nodes\":[");
		else
			pb_add_lit(&b, ",");
		json_put_cstr(&b, sh->nodes[i].node->id);
		first = false;
	}
	if (!first)
		pb_add_lit(&b, "]");
	if (first)
		pb_add_lit(&b, ",\"success\":true}\n");
	else
		pb_add_lit(&b, ",\"success\":false}\n");
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

/* step 3: the purged nodes' entries go, and the block with them */
static void
shake_end(struct shake *sh)
{
	struct pbuf val, b;
	uint32_t n = 0;
	struct cmd c;

	for (size_t i = 0; i < sh->nnodes; i++)
		n += sh->nodes[i].purged;
	pb_init(&val);
	pb_add_u32(&val, n);
	for (size_t i = 0; i < sh->nnodes; i++)
		if (sh->nodes[i].purged)
			pb_add_str(&val, sh->nodes[i].node->id);
	memset(&c, 0, sizeof(c));
	c.type = CMD_SHAKE_END;
	snprintf(c.scope, sizeof(c.scope), "%s", sh->ar->id.scope);
	c.value = val.data;
	c.value_len = val.len;
	pb_init(&b);
	cmd_encode(&b, &c);
	if (val.err || b.err)
		fatalx("%s: out of memory", __func__);
	apid_raft_call(
	    sh->ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, end_done);
	pb_free(&b);
	pb_free(&val);
}

static void node_call(struct shake_node *);

static void
node_finished(struct shake_node *sn, bool purged)
{
	sn->purged = purged;
	if (--sn->sh->waiting == 0)
		shake_end(sn->sh);
}

static void
node_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_call(arg);
}

static void
node_retry(struct shake_node *sn, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (sn->timer == NULL &&
	    (sn->timer = evtimer_new(
		 sn->sh->ar->a->env->base, node_retry_cb, sn)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(sn->timer, &tv);
}

/* a 429's wait: its Retry-After, at most SHAKE_RATE_WAIT_MAX_MS */
static int
rate_wait_ms(const struct hclient_resp *r)
{
	if (r->retry_after < 0)
		return SHAKE_RATE_WAIT_MS;
	if (r->retry_after >= SHAKE_RATE_WAIT_MAX_MS / 1000)
		return SHAKE_RATE_WAIT_MAX_MS;
	return r->retry_after * 1000;
}

static void
node_done(const struct hclient_resp *r, void *arg)
{
	struct shake_node *sn = arg;
	const struct jb_member *m;
	struct jb_doc doc;
	bool ok = false;

	sn->call = NULL;
	if (r->err == 0 && r->status == 200) {
		memset(&doc, 0, sizeof(doc));
		if (jb_parse(&doc, r->body, r->body_len) == 0 &&
		    (m = jb_find(&doc, "disconnected_sessions")) != NULL &&
		    m->is_int && m->num >= 0) {
			sn->sh->total += (uint64_t)m->num;
			ok = true;
		}
		jb_free(&doc);
		if (ok) {
			node_finished(sn, true);
			return;
		}
	}
	if (sn->attempts >= SHAKE_ATTEMPTS) {
		log_warnx("apid: shake of %s: node %s not purged",
		    sn->sh->ar->id.scope, sn->node->id);
		node_finished(sn, false);
		return;
	}
	/* 100 then 200 ms apart; a rate limit is waited out (<= 2 s) */
	if (r->err == 0 && r->status == 429)
		node_retry(sn, rate_wait_ms(r));
	else
		node_retry(sn, 100 * sn->attempts);
}

static void
node_call(struct shake_node *sn)
{
	char base[CURL_BASE_MAX], url[CURL_BASE_MAX + 32];
	struct apid *a = sn->sh->ar->a;

	sn->attempts++;
	if (curl_node_base(
		sn->node, CURL_BIND_PUBLIC, a->tls, base, sizeof(base)) == -1) {
		node_finished(sn, false);
		return;
	}
	snprintf(url, sizeof(url), "%s%s", base, PURGE_PATH);
	sn->call = hclient_request(a->hc, "POST", url, sn->sh->token, NULL,
	    NULL, 0, SHAKE_CALL_MS, 0, node_done, sn);
	if (sn->call == NULL)
		node_finished(sn, false);
}

/* step 2: this node at once, the others over HTTP */
static void
begin_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct shake *sh = ar->hstate;
	const struct apid_view *v = apid_view(ar->a);
	struct cmd_result res;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	sh->total = apid_events_purge(ar->id.scope);
	sh->nodes[0].node = ar->a->env->self;
	sh->nodes[0].purged = true;
	sh->nnodes = 1;
	for (size_t i = 0; v != NULL && i < v->nmembers; i++) {
		const struct cfg_node *n =
		    cfg_node(&ar->a->env->cfg, v->members[i]);

		if (n == NULL || strcmp(n->id, ar->a->env->node_id) == 0 ||
		    sh->nnodes == VIEW_MEMBERS_MAX)
			continue;
		sh->nodes[sh->nnodes].sh = sh;
		sh->nodes[sh->nnodes].node = n;
		sh->nnodes++;
	}
	sh->waiting = sh->nnodes - 1;
	if (sh->waiting == 0) {
		shake_end(sh);
		return;
	}
	for (size_t i = 1; i < sh->nnodes; i++)
		node_call(&sh->nodes[i]);
}

static void
shake_route(struct areq *ar)
{
	const char *auth;
	struct shake *sh;
	struct pbuf b;
	struct cmd c;
	size_t len;

	/* the purge calls carry the caller's credential unchanged */
	auth = http_req_header(ar->req, "Authorization", &len);
	if (auth == NULL || len < 7 || strncasecmp(auth, "Bearer ", 7) != 0) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "Authorization: a Bearer credential is required");
		return;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL ||
	    (sh->token = strndup(auth + 7, len - 7)) == NULL)
		fatal("%s", __func__);
	sh->ar = ar;
	ar->hstate = sh;
	ar->hstate_free = shake_free;
	memset(&c, 0, sizeof(c));
	c.type = CMD_SHAKE_BEGIN;
	c.num = SHAKE_BLOCK_MS;
	snprintf(c.scope, sizeof(c.scope), "%s", ar->id.scope);
	pb_init(&b);
	cmd_encode(&b, &c);
	apid_raft_call(
	    ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, begin_done);
	pb_free(&b);
}

apid_handler
apid_events_admin_handler(enum route_id id)
{
	switch (id) {
	case R_EVENTS_PURGE:
		return purge_route;
	case R_EVENTS_SHAKE:
		return shake_route;
	default:
		return NULL;
	}
}
