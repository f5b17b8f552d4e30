#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cluster_url.h"
#include "apid/blobs.h"
#include "apid/http_parse.h"
#include "apid/metrics.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

/*
 * Replies.
 */

void
apid_error(struct areq *ar, int status, const char *type,
    const struct pbuf *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_respond_error(ar->req, status, type, msg, extra);
}

void
apid_reply(struct areq *ar, int status, const struct pbuf *extra,
    const struct pbuf *json)
{
	http_respond_json(ar->req, status, extra, json);
}

void
apid_reply_text(struct areq *ar, const char *json)
{
	struct pbuf b;

	pb_init(&b);
	pb_add_raw(&b, json, strlen(json));
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

void
apid_retry_error(struct areq *ar, const char *type, const char *msg)
{
	struct pbuf h;

	pb_init(&h);
	http_hdr_add(&h, "Retry-After", "1");
	apid_error(ar, 503, type, &h, "%s", msg);
	pb_free(&h);
}

/*
 * Step 9 helpers.
 */

static void
json_too_big(struct http_req *req, void *arg)
{
	struct areq *ar = arg;

	(void)req;
	apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
	    "body: larger than %zu bytes", ar->a->json_limit);
}

static void
json_body_done(struct http_req *req, void *arg)
{
	char err[JB_ERR_MAX];
	struct areq *ar = arg;

	if (req->body.len == 0 && ar->json_empty_ok) {
		ar->json_done(ar);
		return;
	}
	if (jb_parse(&ar->doc, (const char *)req->body.data, req->body.len) ==
	    -1) {
		/* answering may free ar: release the document first */
		memcpy(err, ar->doc.err, sizeof(err));
		jb_free(&ar->doc);
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s", err);
		return;
	}
	ar->have_doc = true;
	ar->json_done(ar);
}

void
apid_read_json(struct areq *ar, void (*done)(struct areq *), bool empty_ok)
{
	struct http_req *req = ar->req;

	if (req->content_length > (int64_t)ar->a->json_limit) {
		json_too_big(req, ar);
		return;
	}
	ar->json_done = done;
	ar->json_empty_ok = empty_ok;
	http_req_read_body(
	    req, ar->a->json_limit, json_body_done, json_too_big, ar);
}

int
apid_query(struct areq *ar, const char *name, char **val, size_t *len)
{
	int rc;

	if (ar->req->query == NULL)
		return 0;
	rc = http_query_get(ar->req->query, ar->req->query_len, name, val, len);
	if (rc == -1)
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "%s: bad percent-encoding or not UTF-8", name);
	return rc;
}

int
apid_query_consistency(struct areq *ar)
{
	size_t len;
	char *v;
	int rc;

	ar->consistency = READ_LOCAL;
	if ((rc = apid_query(ar, "consistency", &v, &len)) <= 0)
		return rc;
	if (strcmp(v, "linearizable") == 0)
		ar->consistency = READ_LINEARIZABLE;
	else if (strcmp(v, "default") != 0) {
		free(v);
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "consistency: must be default or linearizable");
		return -1;
	}
	free(v);
	return 0;
}

/*
 * IPC to raftd.
 */

static void
raft_done(int err, struct ipc_msg *m, void *arg)
{
	struct areq *ar = arg;

	if (err == 0 && m == NULL)
		err = EIO;
	ar->ipc_cb(ar, err, err ? NULL : m->payload, err ? 0 : m->len);
}

void
apid_raft_call(struct areq *ar, uint16_t type, const struct pbuf *payload,
    int timeout_ms, areq_ipc_cb cb)
{
	ar->ipc_cb = cb;
	if (payload->err) {
		cb(ar, ENOMEM, NULL, 0);
		return;
	}
	if (ar->a->raft == NULL) {
		cb(ar, ECONNREFUSED, NULL, 0);
		return;
	}
	/* a call that could not even be sent proposed nothing */
	if (ipc_call(ar->a->raft, type, payload->data, payload->len, timeout_ms,
		raft_done, ar) == -1)
		cb(ar, errno == EAGAIN ? EAGAIN : ECONNREFUSED, NULL, 0);
}

void
apid_ipc_error(struct areq *ar, int err, bool write)
{
	if (err == ETIMEDOUT && write)
		apid_retry_error(ar, "COMMIT_UNKNOWN",
		    "the write was not confirmed in time; it may still apply");
	else if (err == ETIMEDOUT || err == ECONNREFUSED || err == EAGAIN)
		apid_retry_error(ar, "NO_LEADER", "no leader reachable");
	else if (write && err == EIO)
		apid_retry_error(ar, "COMMIT_UNKNOWN",
		    "the write was not confirmed; it may still apply");
	else
		apid_error(ar, 500, "INTERNAL_ERROR", NULL,
		    "internal error talking to the state machine");
}

/*
 * Reads.
 */

static int
read_reply_decode(const uint8_t *p, size_t len, struct read_reply *rr)
{
	pr_init(&rr->rest, p, len);
	pr_get_u16(&rr->rest, &rr->status);
	pr_get_u8(&rr->rest, &rr->consistency);
	return rr->rest.err ? -1 : 0;
}

void
apid_consistency_hdr(struct pbuf *h, uint8_t consistency)
{
	http_hdr_add(h, "X-Insidb-Consistency", "%s",
	    consistency == READ_LINEARIZABLE ? "linearizable" : "local");
}

/* a read failed or found nothing; -1 after answering */
int
apid_read_check(struct areq *ar, int err, const uint8_t *p, size_t len,
    struct read_reply *rr)
{
	struct cmd_result res;
	struct pbuf h;

	if (err != 0) {
		apid_ipc_error(ar, err, false);
		return -1;
	}
	if (read_reply_decode(p, len, rr) == -1)
		fatalx("%s: malformed read result from raftd", __func__);
	if (rr->status == ST_OK)
		return 0;
	if (rr->status == ST_NOT_FOUND) {
		pb_init(&h);
		apid_consistency_hdr(&h, rr->consistency);
		apid_error(ar, 404, "KEY_NOT_FOUND", &h, "key not found");
		pb_free(&h);
		return -1;
	}
	memset(&res, 0, sizeof(res));
	res.status = rr->status;
	apid_cmd_error(ar, &res);
	return -1;
}

void
apid_read_send(struct areq *ar, struct read_req *q, areq_ipc_cb cb)
{
	struct pbuf b;

	q->consistency = ar->consistency;
	snprintf(q->scope, sizeof(q->scope), "%s", ar->id.scope);
	pb_init(&b);
	read_req_encode(&b, q);
	apid_raft_call(ar, MSG_RAFT_READ, &b, APID_READ_WAIT_MS, cb);
	pb_free(&b);
}

/* 307 to the leader's binding of the kind the request came in on */
void
apid_redirect(struct areq *ar, const char *leader)
{
	const struct cfg_node *n = cfg_node(&ar->a->env->cfg, leader);
	char loc[CURL_BASE_MAX + HTTP_HEAD_MAX];
	struct http_req *req = ar->req;
	struct pbuf h, body;

	if (n == NULL ||
	    curl_location(n, (enum curl_binding)req->binding, ar->a->tls,
		req->path, req->path_len, req->query, req->query_len, loc,
		sizeof(loc)) == -1) {
		apid_retry_error(ar, "NO_LEADER", "no leader known");
		return;
	}
	pb_init(&h);
	http_hdr_add(&h, "Location", "%s", loc);
	http_hdr_add(&h, "X-Insidb-Leader", "%s", leader);
	pb_init(&body);
	pb_add_raw(&body, "{\"error_type\":\"NOT_LEADER\",\"message\":", 37);
	json_put_cstr(&body, "this node is not the leader");
	pb_add_raw(&body, ",\"leader\":", 10);
	json_put_cstr(&body, leader);
	pb_add_raw(&body, "}\n", 2);
	apid_reply(ar, 307, &h, &body);
	pb_free(&h);
	pb_free(&body);
}

static void
apid_limit_error(struct areq *ar, const char *type, const char *what,
    const struct cmd_result *res)
{
	struct pbuf h;
	char name[64];

	pb_init(&h);
	snprintf(name, sizeof(name), "X-Current-%s-Usage", what);
	http_hdr_add(&h, name, "%" PRIu64, res->usage);
	snprintf(name, sizeof(name), "X-%s-Usage-Limit", what);
	http_hdr_add(&h, name, "%" PRIu64, res->limit);
	apid_error(ar, 400, type, &h, "%s usage would pass its limit",
	    strcmp(what, "Disk") == 0 ? "disk" : "memory");
	pb_free(&h);
}

void
apid_cmd_error(struct areq *ar, const struct cmd_result *res)
{
	char leader[CFG_ID_MAX + 1];
	struct pbuf h;

	switch (res->status) {
	case ST_NOT_FOUND:
		apid_error(ar, 404, "KEY_NOT_FOUND", NULL, "key not found");
		break;
	case ST_KEY_EXISTS:
		apid_error(ar, 409, "KEY_EXISTS", NULL, "key already exists");
		break;
	case ST_CAS_CONFLICT:
		apid_error(ar, 409, "CAS_CONFLICT", NULL,
		    "current value differs from old_value");
		break;
	case ST_DISK_LIMIT:
		apid_limit_error(ar, "DISK_LIMIT_EXCEEDED", "Disk", res);
		break;
	case ST_MEMORY_LIMIT:
		apid_limit_error(ar, "MEMORY_LIMIT_EXCEEDED", "Memory", res);
		break;
	case ST_NOT_INTEGER:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "key: the stored value is not an integer");
		break;
	case ST_OVERFLOW:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "value: the result overflows int64");
		break;
	case ST_API_KEY_NOT_FOUND:
		/* the key was deleted while its write was in flight */
		pb_init(&h);
		http_hdr_add(&h, "WWW-Authenticate", "Bearer");
		apid_error(ar, 401, "AUTHENTICATION_FAILED", &h, "%s",
		    "the key was deleted");
		pb_free(&h);
		break;
	case ST_NO_LEADER:
		apid_retry_error(ar, "NO_LEADER", "no leader known");
		break;
	case ST_SUBSCRIBER_LIMIT:
		apid_error(ar, 503, "SUBSCRIBER_LIMIT_EXCEEDED", NULL,
		    "the scope's subscriber limit is reached");
		break;
	case ST_SHAKE_BLOCKED:
		/* Retry-After tells this refusal apart (slots.c) */
		apid_retry_error(ar, "SUBSCRIBER_LIMIT_EXCEEDED",
		    "a shake of the scope is in progress");
		break;
	case ST_COMMIT_UNKNOWN:
		apid_retry_error(ar, "COMMIT_UNKNOWN",
		    "the write was not confirmed in time; it may still apply");
		break;
	case ST_NOT_LEADER:
		if (res->data_len == 0 || res->data_len > CFG_ID_MAX) {
			apid_retry_error(ar, "NO_LEADER", "no leader known");
			break;
		}
		memcpy(leader, res->data, res->data_len);
		leader[res->data_len] = '\0';
		/* never a redirect to ourselves */
		if (strcmp(leader, ar->a->env->node_id) == 0)
			apid_retry_error(ar, "NO_LEADER", "no leader known");
		else
			apid_redirect(ar, leader);
		break;
	default:
		apid_error(ar, 500, "INTERNAL_ERROR", NULL,
		    "internal error (status %u)", res->status);
		break;
	}
}

/*
 * The pipeline of §2.2, steps 2-8.
 */

static bool
step_ip_filter(struct areq *ar)
{
	struct http_req *req = ar->req;
	struct apid *a = ar->a;
	struct client_ip peer;
	size_t xlen = 0;
	char *xff;

	if (client_ip_from_sockaddr(
		(const struct sockaddr *)&req->peer, &peer) == -1) {
		apid_error(ar, 403, "FORBIDDEN", NULL, "address refused");
		return false;
	}
	xff = http_req_header_join(req, "X-Forwarded-For", &xlen);
	client_ip_resolve(&peer, xff, xlen, a->trusted, a->ntrusted, &ar->ip);
	free(xff);
	if (!client_ip_permitted(&ar->ip, a->permitted, a->npermitted,
		req->binding == BIND_PUBLIC)) {
		apid_error(
		    ar, 403, "FORBIDDEN", NULL, "client address not permitted");
		return false;
	}
	return true;
}

static bool
step_route(struct areq *ar)
{
	struct http_req *req = ar->req;
	struct pbuf h;

	switch (route_lookup(req->path, req->path_len, req->binding,
	    route_method_bit(req->method), &ar->route)) {
	case ROUTE_FOUND:
		return true;
	case ROUTE_BAD_METHOD:
		pb_init(&h);
		http_hdr_add(&h, "Allow", "%s", ar->route->allow);
		apid_error(ar, 405, "METHOD_NOT_ALLOWED", &h,
		    "method %s not allowed; use %s", req->method,
		    ar->route->allow);
		pb_free(&h);
		return false;
	default:
		apid_error(ar, 404, "NOT_FOUND", NULL, "no such path");
		return false;
	}
}

static bool
step_rate_limit(struct areq *ar)
{
	struct ratelimit_verdict v;
	char rate[64];
	struct pbuf h;

	if (ar->route->category == RL_EXEMPT)
		return true;
	ratelimit_take(ar->a->rl, ar->route->category, ar->ip.family,
	    ar->ip.addr, http_now_ms(), &v);
	if (v.allowed)
		return true;
	http_format_rate(v.limit, rate, sizeof(rate));
	pb_init(&h);
	http_hdr_add(&h, "Retry-After", "%d", v.retry_after_s);
	http_hdr_add(&h, "X-RateLimit-Limit", "%s", rate);
	http_hdr_add(&h, "X-RateLimit-Burst", "%" PRId64, v.burst);
	http_hdr_add(&h, "X-RateLimit-Scope", "ip");
	apid_error(ar, 429, "RATE_LIMITED", &h, "rate limit exceeded");
	pb_free(&h);
	return false;
}

static void
auth_failed(struct areq *ar, const char *msg)
{
	struct pbuf h;

	pb_init(&h);
	http_hdr_add(&h, "WWW-Authenticate", "Bearer");
	apid_error(ar, 401, "AUTHENTICATION_FAILED", &h, "%s", msg);
	pb_free(&h);
}

static bool step_credential(struct areq *, char *t, size_t tlen);

/*
 * events/subscribe only (§2.3): the `token` query parameter, whose '+'
 * came back as spaces from the form decoding; never logged
 */
static bool
step_token_param(struct areq *ar)
{
	size_t tlen;
	char *t;
	int rc;

	if ((rc = apid_query(ar, "token", &t, &tlen)) == -1)
		return false;
	if (rc == 0 || tlen == 0) {
		if (rc == 1)
			free(t);
		auth_failed(ar, "credential missing");
		return false;
	}
	for (size_t i = 0; i < tlen; i++)
		if (t[i] == ' ')
			t[i] = '+';
	return step_credential(ar, t, tlen);
}

/* the root key here; entity and alias tokens in auth.c */
static bool
step_authenticate(struct areq *ar)
{
	const char *hdr, *tok;
	size_t hlen, tlen;
	char *t;

	if (ar->route->auth == AUTH_NONE)
		return true;
	hdr = http_req_header(ar->req, "Authorization", &hlen);
	if (hdr == NULL && ar->route->id == R_EVENTS_SUBSCRIBE)
		return step_token_param(ar);
	if (hdr == NULL || http_bearer_token(hdr, hlen, &tok, &tlen) == -1) {
		auth_failed(ar, "credential missing");
		return false;
	}
	if ((t = strndup(tok, tlen)) == NULL) {
		apid_error(ar, 500, "INTERNAL_ERROR", NULL, "out of memory");
		return false;
	}
	return step_credential(ar, t, tlen);
}

/* takes t (malloc'd) */
static bool
step_credential(struct areq *ar, char *t, size_t tlen)
{
	bool root;

	root = crypto_str_equal(t, ar->a->root_key);
	if (!root && ar->route->auth == AUTH_ROOT) {
		free(t);
		auth_failed(ar, "the root key is required");
		return false;
	}
	if (!root) {
		/* entity and alias tokens: continues in apid_after_auth */
		apid_auth_token(ar, t, tlen);
		free(t);
		return false;
	}
	free(t);
	ar->id.root = true;
	snprintf(ar->id.entity, sizeof(ar->id.entity), "root");
	snprintf(ar->id.scope, sizeof(ar->id.scope), "%s",
	    ar->a->env->cfg.root_prefix);
	return true;
}

/* key-type rules of §15.3 that come before leader routing */
static bool
step_key_type(struct areq *ar)
{
	if (ar->route->auth == AUTH_ENTITY && ar->id.alias) {
		if (ar->route->id == R_ALIAS_SET)
			apid_error(ar, 400, "ALIAS_NOT_ALLOWED", NULL,
			    "an alias cannot have aliases");
		else
			apid_error(ar, 403, "FORBIDDEN", NULL,
			    "an alias cannot delete aliases");
		return false;
	}
	if (ar->route->auth != AUTH_ENTITY || !ar->id.root)
		return true;
	if (ar->route->id == R_ALIAS_SET)
		apid_error(ar, 400, "ALIAS_NOT_ALLOWED", NULL,
		    "the root key cannot have aliases");
	else
		apid_error(
		    ar, 403, "FORBIDDEN", NULL, "the root key has no aliases");
	return false;
}

/* §4: leader-only routes on a node that does not lead */
static bool
step_leader(struct areq *ar)
{
	const char *leader = NULL;

	if (!ar->route->leader)
		return true;
	switch (apid_leader_check(ar->a, &leader)) {
	case LEADER_OTHER:
		apid_redirect(ar, leader);
		return false;
	case LEADER_NONE:
		apid_retry_error(ar, "NO_LEADER", "no leader known");
		return false;
	case LEADER_TRANSFERRING:
		apid_retry_error(
		    ar, "NO_LEADER", "leadership transfer running");
		return false;
	default:
		return true;
	}
}

static apid_handler
handler_for(enum route_id id)
{
	apid_handler h;

	if ((h = apid_metrics_handler(id)) != NULL)
		return h;
	if ((h = apid_keys_handler(id)) != NULL)
		return h;
	if ((h = apid_admin_handler(id)) != NULL)
		return h;
	if ((h = apid_values_handler(id)) != NULL)
		return h;
	if ((h = apid_cache_handler(id)) != NULL)
		return h;
	if ((h = apid_events_handler(id)) != NULL)
		return h;
	if ((h = apid_cluster_handler(id)) != NULL)
		return h;
	if ((h = apid_blobs_handler(id)) != NULL)
		return h;
	return apid_system_handler(id);
}

void
apid_on_head(struct http_req *req, void *arg)
{
	struct apid *a = arg;
	struct areq *ar;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		fatal("%s: calloc", __func__);
	ar->a = a;
	ar->req = req;
	req->app = ar;
	a->requests++;
	if (a->stopping) {
		http_req_set_close(req);
		apid_error(ar, 503, "SHUTTING_DOWN", NULL, "node is stopping");
		return;
	}
	if (!step_ip_filter(ar) || !step_route(ar))
		return;
	if (ar->route->ops != OPS_NONE)
		a->ops[ar->route->ops]++;
	if (!step_rate_limit(ar) || !step_authenticate(ar))
		return;
	apid_after_auth(ar);
}

void
apid_after_auth(struct areq *ar)
{
	struct http_req *req = ar->req;
	apid_handler h;

	if (!step_key_type(ar))
		return;
	if (!step_leader(ar) || !apid_key_bucket(ar))
		return;
	if ((h = handler_for(ar->route->id)) == NULL) {
		apid_error(ar, 501, "NOT_IMPLEMENTED", NULL,
		    "%.*s is not implemented yet", (int)req->path_len,
		    req->path);
		return;
	}
	h(ar);
}

void
apid_on_free(struct http_req *req, void *arg)
{
	struct areq *ar = req->app;

	(void)arg;
	if (ar == NULL)
		return;
	if (ar->route != NULL)
		apid_metrics_request_done(ar->route->metrics_class, req->status,
		    (double)(req->answered_us - req->started_us) / 1e6);
	if (ar->have_doc)
		jb_free(&ar->doc);
	if (ar->hstate != NULL && ar->hstate_free != NULL)
		ar->hstate_free(ar->hstate);
	free(ar);
	req->app = NULL;
}
