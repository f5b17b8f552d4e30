/*
 * Cluster membership routes (API.md §17): join, admin/cluster,
 * admin/cluster/remove and admin/cluster/transfer, answered from
 * MSG_RAFT_MEMBER and MSG_RAFT_STATUS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "apid/slots.h"
#include "common/cluster_url.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

/* a join may wait 10 s for a running change before raftd answers */
#define JOIN_WAIT_MS (APID_WRITE_WAIT_MS + 1000)
/* raftd gives up a transfer within 5 s */
#define TRANSFER_WAIT_MS 6000
#define STATUS_WAIT_MS 2000
#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static struct json_object *
json_parse_bytes(const uint8_t *s, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, (const char *)s, (int)len);
	json_tokener_free(tok);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *
json_str(struct json_object *o, const char *name)
{
	struct json_object *m;

	if (o != NULL && json_object_object_get_ex(o, name, &m) &&
	    json_object_is_type(m, json_type_string))
		return json_object_get_string(m);
	return NULL;
}

static const char *
json_str_or_empty(struct json_object *o, const char *name)
{
	const char *s = json_str(o, name);

	return s != NULL ? s : "";
}

static void
reply_json_object(struct areq *ar, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_OUT);
	struct pbuf b;

	pb_init(&b);
	pb_add_raw(&b, text, strlen(text));
	pb_add_raw(&b, "\n", 1);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

/*
 * Membership changes.
 */

static void
member_ok(struct areq *ar, struct json_object *o)
{
	struct json_object *out = json_object_new_object(), *m;
	const char *leader;

	switch (ar->route->id) {
	case R_JOIN:
		json_object_object_add(out, "node_id",
		    json_object_new_string(json_str_or_empty(o, "node_id")));
		json_object_object_add(out, "raft_address",
		    json_object_new_string(
			json_str_or_empty(o, "raft_address")));
		json_object_object_add(out, "voter",
		    json_object_new_boolean(
			json_object_object_get_ex(o, "voter", &m) &&
			json_object_get_boolean(m)));
		break;
	case R_ADMIN_CLUSTER_TRANSFER:
		leader = json_str(o, "leader");
		json_object_object_add(
		    out, "success", json_object_new_boolean(1));
		json_object_object_add(out, "leader",
		    json_object_new_string(leader != NULL ? leader : ""));
		break;
	default:
		json_object_object_add(
		    out, "success", json_object_new_boolean(1));
		break;
	}
	reply_json_object(ar, out);
	json_object_put(out);
}

static void
member_not_leader(struct areq *ar, struct json_object *o)
{
	const char *leader = json_str(o, "leader");

	if (leader == NULL || leader[0] == '\0' ||
	    strcmp(leader, ar->a->env->node_id) == 0)
		apid_retry_error(ar, "NO_LEADER", "no leader known");
	else
		apid_redirect(ar, leader);
}

static void
member_timeout(struct areq *ar)
{
	if (ar->route->id == R_ADMIN_CLUSTER_TRANSFER)
		apid_retry_error(ar, "TRANSFER_TIMEOUT",
		    "leadership transfer did not finish in time");
	else
		apid_retry_error(ar, "COMMIT_UNKNOWN",
		    "the membership change was not confirmed in time; it may "
		    "still apply");
}

static void
member_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct json_object *o;
	const uint8_t *s;
	const char *id;
	struct pread r;
	uint16_t st;
	size_t slen, idlen;

	if (err == ETIMEDOUT) {
		member_timeout(ar);
		return;
	}
	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	pr_init(&r, p, len);
	pr_get_u16(&r, &st);
	pr_get_bytes(&r, &s, &slen);
	if (pr_end(&r) == -1)
		fatalx("%s: malformed member reply from raftd", __func__);
	o = json_parse_bytes(s, slen);
	switch (st) {
	case MEMBER_OK:
		/* a removed node's subscriber slots go with it (§14.5) */
		if (ar->route->id == R_ADMIN_CLUSTER_REMOVE &&
		    jb_string(&ar->doc, "node_id", &id, &idlen) == 1)
			apid_slots_drop_node(id);
		member_ok(ar, o);
		break;
	case MEMBER_NOT_LEADER:
		member_not_leader(ar, o);
		break;
	case MEMBER_CONFLICT:
		apid_error(ar, 409, "MEMBER_CONFLICT", NULL,
		    "the node is a member with another address");
		break;
	case MEMBER_INVALID:
		apid_error(ar, 409, "INVALID_MEMBERSHIP_CHANGE", NULL,
		    "the membership change is not possible now");
		break;
	case MEMBER_NOT_FOUND:
		apid_error(ar, 404, "NODE_NOT_FOUND", NULL,
		    "the node is not a cluster member");
		break;
	case MEMBER_TIMEOUT:
		member_timeout(ar);
		break;
	case MEMBER_BAD_REQUEST:
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s: refused",
		    ar->route->id == R_JOIN ? "followerAddr" : "node_id");
		break;
	default:
		apid_error(ar, 500, "INTERNAL_ERROR", NULL,
		    "internal error (member status %u)", st);
		break;
	}
	json_object_put(o);
}

static void
member_send(struct areq *ar, uint8_t op, const char *id, const char *addr)
{
	struct pbuf b;

	pb_init(&b);
	pb_add_u8(&b, op);
	pb_add_str(&b, id);
	if (op == MEMBER_JOIN)
		pb_add_str(&b, addr);
	apid_raft_call(ar, MSG_RAFT_MEMBER, &b,
	    op == MEMBER_TRANSFER   ? TRANSFER_WAIT_MS
		: op == MEMBER_JOIN ? JOIN_WAIT_MS
				    : APID_WRITE_WAIT_MS,
	    member_done);
	pb_free(&b);
}

static void
join_begin(struct areq *ar)
{
	char *id = NULL, *addr = NULL, canon[CURL_ADDR_MAX];
	const struct cfg_node *n;
	size_t len;

	if (apid_query(ar, "followerId", &id, &len) == -1)
		return;
	if (apid_query(ar, "followerAddr", &addr, &len) == -1)
		goto out;
	switch (curl_join_check(&ar->a->env->cfg, id, addr, &n, canon)) {
	case JOIN_BAD_ID:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "followerId: required, a node id of the configuration");
		break;
	case JOIN_BAD_ADDR:
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "followerAddr: required, the node's Raft address "
		    "host:port");
		break;
	default:
		member_send(ar, MEMBER_JOIN, n->id, canon);
		break;
	}
out:
	free(id);
	free(addr);
}

/* remove and transfer: body {"node_id"} */
static void
member_body(struct areq *ar)
{
	const char *id;
	size_t len;
	int rc;

	rc = jb_string(&ar->doc, "node_id", &id, &len);
	if (rc == -1) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s", ar->doc.err);
		return;
	}
	if (rc == 0 || len == 0 || strlen(id) != len) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "node_id: required, a node id");
		return;
	}
	/* raftd knows members by their configured id only */
	if (cfg_node(&ar->a->env->cfg, id) == NULL) {
		apid_error(ar, 404, "NODE_NOT_FOUND", NULL,
		    "node_id: not a cluster member");
		return;
	}
	member_send(ar,
	    ar->route->id == R_ADMIN_CLUSTER_TRANSFER ? MEMBER_TRANSFER
						      : MEMBER_REMOVE,
	    id, NULL);
}

static void
member_begin(struct areq *ar)
{
	apid_read_json(ar, member_body, false);
}

/*
 * admin/cluster (§17.3): raftd's view, nodes in file order, URLs from the
 * configuration.
 */

static struct json_object *
member_by_id(struct json_object *nodes, const char *id)
{
	struct json_object *e;
	const char *eid;
	size_t i, n;

	n = json_object_array_length(nodes);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(nodes, i);
		if ((eid = json_str(e, "id")) != NULL && strcmp(eid, id) == 0)
			return e;
	}
	return NULL;
}

/* a member of raftd's entry as is; null when absent */
static void
copy_member(struct json_object *out, struct json_object *in, const char *name)
{
	struct json_object *m = NULL;

	if (json_object_object_get_ex(in, name, &m) && m != NULL)
		json_object_get(m);
	json_object_object_add(out, name, m);
}

static struct json_object *
cluster_node(struct areq *ar, const struct cfg_node *n, struct json_object *e)
{
	struct json_object *o = json_object_new_object();
	char buf[CURL_BASE_MAX];
	const char *raft;

	json_object_object_add(o, "id", json_object_new_string(n->id));
	if ((raft = json_str(e, "raft_address")) != NULL)
		json_object_object_add(
		    o, "raft_address", json_object_new_string(raft));
	else {
		curl_raft_address(n, buf, sizeof(buf));
		json_object_object_add(
		    o, "raft_address", json_object_new_string(buf));
	}
	if (curl_node_base(n, CURL_BIND_PUBLIC, ar->a->tls, buf, sizeof(buf)) ==
	    0)
		json_object_object_add(
		    o, "public_url", json_object_new_string(buf));
	if (curl_node_base(
		n, CURL_BIND_PRIVATE, ar->a->tls, buf, sizeof(buf)) == 0)
		json_object_object_add(
		    o, "private_url", json_object_new_string(buf));
	copy_member(o, e, "role");
	copy_member(o, e, "voter");
	copy_member(o, e, "match_index");
	copy_member(o, e, "last_contact_ms");
	copy_member(o, e, "healthy");
	return o;
}

static struct json_object *
cluster_view(struct areq *ar, struct json_object *st)
{
	const struct cfg *cfg = &ar->a->env->cfg;
	struct json_object *out, *nodes, *arr, *e;
	size_t i;

	out = json_object_new_object();
	json_object_object_add(out, "leader",
	    json_object_new_string(json_str_or_empty(st, "leader")));
	copy_member(out, st, "term");
	copy_member(out, st, "commit_index");
	arr = json_object_new_array();
	if (json_object_object_get_ex(st, "nodes", &nodes) &&
	    json_object_is_type(nodes, json_type_array))
		for (i = 0; i < cfg->n_nodes; i++) {
			e = member_by_id(nodes, cfg->nodes[i].id);
			if (e != NULL)
				json_object_array_add(
				    arr, cluster_node(ar, &cfg->nodes[i], e));
		}
	json_object_object_add(out, "nodes", arr);
	return out;
}

static void
cluster_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct json_object *st, *out;
	const uint8_t *s;
	struct pread r;
	size_t slen;

	if (err != 0) {
		apid_ipc_error(ar, err, false);
		return;
	}
	pr_init(&r, p, len);
	if (pr_get_bytes(&r, &s, &slen) == -1 ||
	    (st = json_parse_bytes(s, slen)) == NULL) {
		apid_error(ar, 500, "INTERNAL_ERROR", NULL,
		    "malformed status from the state machine");
		return;
	}
	out = cluster_view(ar, st);
	reply_json_object(ar, out);
	json_object_put(out);
	json_object_put(st);
}

static void
cluster_begin(struct areq *ar)
{
	struct pbuf empty;

	pb_init(&empty);
	apid_raft_call(
	    ar, MSG_RAFT_STATUS, &empty, STATUS_WAIT_MS, cluster_done);
	pb_free(&empty);
}

apid_handler
apid_cluster_handler(enum route_id id)
{
	switch (id) {
	case R_JOIN:
		return join_begin;
	case R_ADMIN_CLUSTER:
		return cluster_begin;
	case R_ADMIN_CLUSTER_REMOVE:
	case R_ADMIN_CLUSTER_TRANSFER:
		return member_begin;
	default:
		return NULL;
	}
}
