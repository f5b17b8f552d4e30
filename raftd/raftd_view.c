/*
 * The node's cluster view (MSG_RAFT_STATUS: API.md §17.3 plus the fields
 * msg.h lists) and MSG_RAFT_WATCH calls waiting for it to change.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/msg.h"
#include "raftd/raftd_int.h"

const struct cfg_node *
raftd_node_by_id(const struct raftd *rd, uint64_t id)
{
	const struct cfg *c = &rd->env->cfg;

	if (c->n_nodes == 0 && id == 1)
		return rd->env->self;
	if (id == 0 || id > c->n_nodes)
		return NULL;
	return &c->nodes[id - 1];
}

uint64_t
raftd_id_of(const struct raftd *rd, const char *node_id)
{
	const struct cfg *c = &rd->env->cfg;

	if (c->n_nodes == 0)
		return strcmp(node_id, rd->env->node_id) == 0 ? 1 : 0;
	for (size_t i = 0; i < c->n_nodes; i++)
		if (strcmp(c->nodes[i].id, node_id) == 0)
			return i + 1;
	return 0;
}

const char *
raftd_name(const struct raftd *rd, uint64_t id)
{
	const struct cfg_node *n;

	if (id == rd->self_id)
		return rd->env->node_id;
	n = raftd_node_by_id(rd, id);
	return n != NULL ? n->id : "";
}

static void
raftd_host_port(
    const char *host, bool ipv6, uint16_t port, char *buf, size_t len)
{
	snprintf(buf, len, ipv6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
}

void
raftd_raft_address(const struct raftd *rd, uint64_t id, char *buf, size_t len)
{
	const struct cfg_node *n = raftd_node_by_id(rd, id);

	if (n == NULL)
		snprintf(buf, len, "%s", "");
	else if (n->client_domain != NULL)
		raftd_host_port(
		    n->client_domain, false, n->raft_binding.port, buf, len);
	else
		raftd_host_port(n->raft_binding.host, n->raft_binding.ipv6,
		    n->raft_binding.port, buf, len);
}

/* API.md §4: client_domain, else the binding's host */
static struct json_object *
raftd_url(
    const struct raftd *rd, const struct cfg_node *n, const struct cfg_addr *a)
{
	char hp[CFG_HOST_MAX + 16], url[CFG_HOST_MAX + 32];

	if (n->client_domain != NULL)
		raftd_host_port(
		    n->client_domain, false, a->port, hp, sizeof(hp));
	else
		raftd_host_port(a->host, a->ipv6, a->port, hp, sizeof(hp));
	snprintf(url, sizeof(url), "%s://%s",
	    rd->env->tls_cert_pem != NULL ? "https" : "http", hp);
	return json_object_new_string(url);
}

static const char *
raftd_role_name(int role)
{
	switch (role) {
	case RAFT_LEADER:
		return "leader";
	case RAFT_CANDIDATE:
	case RAFT_PRECANDIDATE:
		return "candidate";
	default:
		return "follower";
	}
}

static const char *
raftd_member_role(struct raftd *rd, const struct raft_server *s)
{
	const struct raft *r = node_core(rd->node);

	if (s->role == RAFT_LEARNER)
		return "learner";
	if (s->id == rd->self_id)
		return raftd_role_name(raft_role(r));
	return s->id == raft_leader(r) ? "leader" : "follower";
}

static void
raftd_member_health(struct raftd *rd, struct json_object *o, uint64_t id)
{
	const struct raft *r = node_core(rd->node);
	bool leader = raft_role(r) == RAFT_LEADER;
	int64_t match = -1, contact = -1;

	if (id == rd->self_id) {
		match = (int64_t)raft_last_index(r);
		contact = 0;
	} else if (leader) {
		match = node_peer_match(rd->node, id);
		contact = node_peer_contact_ms(rd->node, id);
	} else if (id == raft_leader(r)) {
		contact = node_peer_contact_ms(rd->node, id);
	}
	json_object_object_add(
	    o, "match_index", match >= 0 ? json_object_new_int64(match) : NULL);
	json_object_object_add(o, "last_contact_ms",
	    contact >= 0 ? json_object_new_int64(contact) : NULL);
	json_object_object_add(o, "healthy",
	    contact >= 0 ? json_object_new_boolean(contact < 2000) : NULL);
}

/* members in configuration file order (API.md §17.3) */
static struct json_object *
raftd_members_json(struct raftd *rd, struct json_object *voters)
{
	const struct raft_config *c = raft_config(node_core(rd->node));
	struct json_object *arr = json_object_new_array(), *o;
	const struct cfg_node *n;
	char addr[CFG_HOST_MAX + 16];

	for (uint64_t id = 1; id <= RAFT_MAX_NODES; id++) {
		int pos = raft_config_find(c, id);

		if (pos < 0 || (n = raftd_node_by_id(rd, id)) == NULL)
			continue;
		o = json_object_new_object();
		raftd_raft_address(rd, id, addr, sizeof(addr));
		json_object_object_add(o, "id", json_object_new_string(n->id));
		json_object_object_add(
		    o, "raft_address", json_object_new_string(addr));
		json_object_object_add(
		    o, "public_url", raftd_url(rd, n, &n->public_binding));
		json_object_object_add(
		    o, "private_url", raftd_url(rd, n, &n->private_binding));
		json_object_object_add(o, "role",
		    json_object_new_string(
			raftd_member_role(rd, &c->servers[pos])));
		json_object_object_add(o, "voter",
		    json_object_new_boolean(
			c->servers[pos].role == RAFT_VOTER));
		raftd_member_health(rd, o, id);
		json_object_array_add(arr, o);
		if (c->servers[pos].role == RAFT_VOTER)
			json_object_array_add(
			    voters, json_object_new_string(n->id));
	}
	return arr;
}

/* {"in_bucket":[14 counts, not cumulative],"count":n,"sum":secs} */
static struct json_object *
fsync_json(struct raftd *rd)
{
	struct json_object *o = json_object_new_object();
	struct json_object *b = json_object_new_array();
	struct metrics_hist h;

	node_fsync_hist(rd->node, &h);
	for (int i = 0; i < METRICS_NBUCKETS; i++)
		json_object_array_add(
		    b, json_object_new_int64((int64_t)h.in_bucket[i]));
	json_object_object_add(o, "in_bucket", b);
	json_object_object_add(
	    o, "count", json_object_new_int64((int64_t)h.count));
	json_object_object_add(o, "sum", json_object_new_double(h.sum));
	return o;
}

struct json_object *
raftd_state_json(struct raftd *rd)
{
	const struct raft *r = node_core(rd->node);
	const struct raft_config *c = raft_config(r);
	struct json_object *o = json_object_new_object();
	struct json_object *voters = json_object_new_array();
	const char *role = raftd_role_name(raft_role(r));
	int pos = raft_config_find(c, rd->self_id);

	if (pos >= 0 && c->servers[pos].role == RAFT_LEARNER)
		role = "learner";
	json_object_object_add(o, "leader",
	    json_object_new_string(raftd_name(rd, raft_leader(r))));
	json_object_object_add(
	    o, "term", json_object_new_int64((int64_t)raft_term(r)));
	json_object_object_add(
	    o, "commit_index", json_object_new_int64((int64_t)raft_commit(r)));
	json_object_object_add(o, "nodes", raftd_members_json(rd, voters));
	json_object_object_add(
	    o, "node", json_object_new_string(rd->env->node_id));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "applied_index",
	    json_object_new_int64((int64_t)node_applied(rd->node)));
	json_object_object_add(o, "last_index",
	    json_object_new_int64((int64_t)raft_last_index(r)));
	json_object_object_add(o, "needs_join",
	    json_object_new_boolean(node_needs_join(rd->node)));
	json_object_object_add(o, "transferring",
	    json_object_new_boolean(node_transferring(rd->node)));
	json_object_object_add(
	    o, "removed", json_object_new_boolean(node_removed(rd->node)));
	json_object_object_add(o, "snapshots",
	    json_object_new_int64((int64_t)node_snapshots(rd->node)));
	json_object_object_add(o, "rocksdb_bytes",
	    json_object_new_int64((int64_t)store_size_bytes(rd->store)));
	json_object_object_add(o, "fsync", fsync_json(rd));
	json_object_object_add(o, "version",
	    json_object_new_int64((int64_t)node_version(rd->node)));
	json_object_object_add(o, "voters", voters);
	return o;
}

void
raftd_reply_json(struct ipc_rctx *rctx, uint16_t type, struct json_object *o)
{
	struct pbuf pb;

	pb_init(&pb);
	pb_add_str(
	    &pb, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	if (pb.err)
		fatalx("%s: cannot encode reply %u", __func__, type);
	ipc_reply(rctx, type, pb.data, pb.len);
	pb_free(&pb);
}

static void
raftd_watch_reply(struct raftd *rd, struct ipc_rctx *rctx)
{
	struct json_object *o = raftd_state_json(rd);

	raftd_reply_json(rctx, MSG_RAFT_WATCH, o);
	json_object_put(o);
}

void
raftd_watch(struct raftd *rd, struct ipc_msg *m)
{
	struct pread pr;
	uint64_t version;

	pr_init(&pr, m->payload, m->len);
	pr_get_u64(&pr, &version);
	if (pr_end(&pr) != 0)
		fatalx("%s: malformed watch request from apid", __func__);
	if (version == 0 || version != node_version(rd->node) || rd->stopping)
		return raftd_watch_reply(rd, m->rctx);
	for (size_t i = 0; i < RAFTD_WATCH_MAX; i++)
		if (rd->watches[i].rctx == NULL) {
			rd->watches[i].rctx = m->rctx;
			rd->watches[i].deadline_ms =
			    node_now_ms() + RAFTD_WATCH_MS;
			return;
		}
	raftd_watch_reply(rd, m->rctx);
}

void
raftd_watches_answer(struct raftd *rd, bool all)
{
	uint64_t now = node_now_ms();

	for (size_t i = 0; i < RAFTD_WATCH_MAX; i++) {
		struct raftd_watch *w = &rd->watches[i];
		struct ipc_rctx *rctx = w->rctx;

		if (rctx == NULL || (!all && now < w->deadline_ms))
			continue;
		w->rctx = NULL;
		raftd_watch_reply(rd, rctx);
	}
}
