/*
 * raftd as a role process: owns the node's RocksDB database, runs the Raft
 * node (raftd/node.h) with its peers over the transport (raftd/transport.h)
 * and serves apid on the "raftd.api" channel.
 *
 * apid, blobd -> raftd (rep channel "raftd.api", peers: apid's and
 * blobd's pids), payloads as in proto/msg.h:
 *   MSG_RAFT_PROPOSE   encoded command  -> cmd_result after apply
 *   MSG_RAFT_READ      read_req         -> read result
 *   MSG_RAFT_STATUS    empty            -> str json
 *   MSG_RAFT_WATCH     u64 version      -> str json
 *   MSG_RAFT_MEMBER    op, id, address  -> u16 status, str json
 *   MSG_RAFT_SNAPSHOT  empty            -> u16 status, str json
 *   MSG_RAFT_BLOBS     epoch, after     -> applied blob changes (blobd)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/blob_gc.h"
#include "raftd/cache_sweep.h"
#include "raftd/fsm.h"
#include "raftd/keys.h"
#include "raftd/node_snap.h"
#include "raftd/raftd_blobs.h"
#include "raftd/raftd_events.h"
#include "raftd/raftd_int.h"
#include "raftd/key_cleanup.h"
#include "raftd/store.h"
#include "raftd/transport.h"

#define RAFTD_API_NCTX 1024
/* how often the allowed apid pid and open watches are looked at */
/* watch deadlines (1 s) are checked at this period */
#define RAFTD_WATCH_CHECK_MS 100

static void
raftd_reply(struct ipc_rctx *rctx, uint16_t type, struct pbuf *pb)
{
	if (pb->err)
		fatalx("%s: cannot encode reply %u", __func__, type);
	ipc_reply(rctx, type, pb->data, pb->len);
	pb_free(pb);
}

static void
raftd_reply_result(struct ipc_rctx *rctx, const struct fsm_result *res)
{
	struct pbuf pb;

	pb_init(&pb);
	fsm_result_encode(&pb, res);
	raftd_reply(rctx, MSG_RAFT_PROPOSE, &pb);
}

static void
raftd_reply_status(struct ipc_rctx *rctx, uint16_t status, const char *data)
{
	struct fsm_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	res.data = (uint8_t *)data;
	res.data_len = data != NULL ? strlen(data) : 0;
	raftd_reply_result(rctx, &res);
}

/* --- node hooks --- */

static void
raftd_proposed(void *waiter, const struct fsm_result *res, void *arg)
{
	struct raftd *rd = arg;

	/* the cache sweep's proposals have no one waiting */
	if (waiter == NULL)
		return;
	if (key_cleanup_proposed(rd->cleanup, waiter, res))
		return;
	raftd_reply_result(waiter, res);
}

static void
raftd_read_done(void *waiter, const uint8_t *res, size_t len, void *arg)
{
	(void)arg;
	ipc_reply(waiter, MSG_RAFT_READ, res, len);
}

static void
raftd_member_json(struct raftd *rd, struct raftd_mwait *w, uint16_t st,
    uint64_t id, struct json_object *o)
{
	const struct raft_config *c = raft_config(node_core(rd->node));
	char addr[CFG_HOST_MAX + 16];

	if (st == MEMBER_NOT_LEADER) {
		json_object_object_add(
		    o, "leader", json_object_new_string(raftd_name(rd, id)));
	} else if (st == MEMBER_OK && w->op == MEMBER_JOIN) {
		raftd_raft_address(rd, w->id, addr, sizeof(addr));
		json_object_object_add(o, "node_id",
		    json_object_new_string(raftd_name(rd, w->id)));
		json_object_object_add(
		    o, "raft_address", json_object_new_string(addr));
		json_object_object_add(o, "voter",
		    json_object_new_boolean(raft_config_is_voter(c, w->id)));
	} else if (st == MEMBER_OK && w->op == MEMBER_TRANSFER) {
		json_object_object_add(
		    o, "leader", json_object_new_string(raftd_name(rd, id)));
	}
}

static const char *
raftd_member_error(uint16_t st)
{
	switch (st) {
	case MEMBER_NOT_LEADER:
		return "not the leader";
	case MEMBER_CONFLICT:
		return "a member at another address";
	case MEMBER_INVALID:
		return "invalid membership change";
	case MEMBER_NOT_FOUND:
		return "not a member";
	case MEMBER_TIMEOUT:
		return "timed out";
	default:
		return "bad request";
	}
}

static void
raftd_member_done(void *waiter, uint16_t st, uint64_t id, void *arg)
{
	struct raftd *rd = arg;
	struct raftd_mwait *w = waiter;
	struct json_object *o = json_object_new_object();
	struct pbuf pb;

	raftd_member_json(rd, w, st, id, o);
	if (w->ctl) {
		if (st != MEMBER_OK)
			json_object_object_add(o, "error",
			    json_object_new_string(raftd_member_error(st)));
		role_ctl_reply(rd->env, w->corr, st == MEMBER_OK ? 0 : 1,
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		free(w);
		return;
	}
	pb_init(&pb);
	pb_add_u16(&pb, st);
	pb_add_str(
	    &pb, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	raftd_reply(w->rctx, MSG_RAFT_MEMBER, &pb);
	free(w);
}

static void
raftd_changed(void *arg)
{
	raftd_watches_answer(arg, true);
}

static void
raftd_send(void *arg, const struct raft_msg *m)
{
	struct raftd *rd = arg;

	/* a full queue or an unknown peer: Raft resends */
	if (rd->net != NULL)
		(void)transport_send(rd->net, m);
}

static void
raftd_send_ctl(void *arg, uint64_t to, const uint8_t *buf, size_t len)
{
	struct raftd *rd = arg;

	/* lost like any message: the waiting read times out */
	if (rd->net != NULL)
		(void)transport_send_ctl(rd->net, to, buf, len);
}

static void
raftd_net_ctl(uint64_t from, const uint8_t *buf, size_t len, void *arg)
{
	struct raftd *rd = arg;

	if (rd->node != NULL)
		node_recv_ctl(rd->node, from, buf, len);
}

static void
raftd_net_recv(uint64_t from, const struct raft_msg *m, void *arg)
{
	struct raftd *rd = arg;

	if (m->from != from || rd->node == NULL)
		return;
	node_recv(rd->node, m);
}

/* --- apid requests --- */

/* commands of a whole scope or node have no key */
static bool
cmd_has_key(uint16_t type)
{
	switch (type) {
	case CMD_CACHE_EXPIRE:
	case CMD_SLOT_RESET:
	case CMD_SHAKE_BEGIN:
	case CMD_SHAKE_END:
	case CMD_SLOT_DROP_NODE:
	case CMD_BLOB_PURGE:
		return false;
	default:
		return true;
	}
}

static void
raftd_propose(struct raftd *rd, struct ipc_msg *m)
{
	struct cmd c;
	uint64_t leader;
	uint16_t st;

	if (cmd_decode(m->payload, m->len, &c) == -1)
		fatalx("%s: malformed proposal from apid", __func__);
	/* refused early what apply would refuse anyway (API.md §6 rule 2) */
	if (!keys_scope_valid(c.scope) ||
	    (c.key_len == 0 && cmd_has_key(c.type)) ||
	    c.key_len > KEYS_USER_KEY_MAX) {
		log_warnx("%s: %s with a bad scope or key", __func__,
		    cmd_type_name(c.type));
		return raftd_reply_status(m->rctx, ST_BAD_COMMAND, NULL);
	}
	if (rd->stopping)
		return raftd_reply_status(m->rctx, ST_NO_LEADER, NULL);
	/* the command's pointers into the payload are copied by encoding */
	st = node_propose(rd->node, &c, m->rctx, &leader);
	if (st == ST_NOT_LEADER)
		return raftd_reply_status(
		    m->rctx, ST_NOT_LEADER, raftd_name(rd, leader));
	if (st != ST_OK)
		return raftd_reply_status(m->rctx, st, NULL);
}

static void
raftd_read(struct raftd *rd, struct ipc_msg *m)
{
	struct read_req q;

	if (read_req_decode(m->payload, m->len, &q, NULL) == -1)
		fatalx("%s: malformed read request from apid", __func__);
	node_read(rd->node, m->payload, m->len, m->rctx);
}

static void
raftd_status_reply(struct raftd *rd, struct ipc_msg *m)
{
	struct json_object *o;

	if (m->len != 0)
		fatalx("%s: malformed status request from apid", __func__);
	o = raftd_state_json(rd);
	raftd_reply_json(m->rctx, MSG_RAFT_STATUS, o);
	json_object_put(o);
}

bool
raftd_join_address_ok(struct raftd *rd, uint64_t id, const char *addr)
{
	const struct cfg_node *n = raftd_node_by_id(rd, id);
	char want[CFG_HOST_MAX + 16];

	if (n == NULL)
		return false;
	snprintf(want, sizeof(want), n->raft_binding.ipv6 ? "[%s]:%u" : "%s:%u",
	    n->raft_binding.host, (unsigned)n->raft_binding.port);
	if (strcmp(addr, want) == 0)
		return true;
	if (n->client_domain == NULL)
		return false;
	snprintf(want, sizeof(want), "%s:%u", n->client_domain,
	    (unsigned)n->raft_binding.port);
	return strcmp(addr, want) == 0;
}

static void
raftd_member(struct raftd *rd, struct ipc_msg *m)
{
	struct raftd_mwait *w;
	struct pread pr;
	char *id = NULL, *addr = NULL;
	uint8_t op;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->rctx = m->rctx;
	pr_init(&pr, m->payload, m->len);
	pr_get_u8(&pr, &op);
	pr_get_strdup(&pr, &id);
	if (op == MEMBER_JOIN)
		pr_get_strdup(&pr, &addr);
	w->op = op;
	if (pr_end(&pr) != 0 || op < MEMBER_JOIN || op > MEMBER_TRANSFER) {
		raftd_member_done(w, MEMBER_BAD_REQUEST, 0, rd);
	} else if ((w->id = raftd_id_of(rd, id)) == 0) {
		raftd_member_done(w,
		    op == MEMBER_JOIN ? MEMBER_BAD_REQUEST : MEMBER_NOT_FOUND,
		    0, rd);
	} else if (op == MEMBER_JOIN &&
	    !raftd_join_address_ok(rd, w->id, addr)) {
		raftd_member_done(w, MEMBER_BAD_REQUEST, 0, rd);
	} else {
		node_member(rd->node, op, w->id, addr, w);
	}
	free(id);
	free(addr);
}

static void
raftd_snapshot(struct raftd *rd, struct ipc_msg *m)
{
	const struct raft_snapshot_meta *sm;
	uint64_t index;
	uint16_t st = 0;
	char json[64];
	struct pbuf pb;

	if (m->len != 0)
		fatalx("%s: malformed snapshot request from apid", __func__);
	if (node_snapshot_now(rd->node, &index) == -1) {
		/* nothing applied since the last one is not a failure */
		sm = raft_snapshot_meta(node_core(rd->node));
		index = sm->index;
		if (index == 0 || index != node_applied(rd->node))
			st = 1;
	}
	snprintf(
	    json, sizeof(json), "{\"index\":%llu}", (unsigned long long)index);
	pb_init(&pb);
	pb_add_u16(&pb, st);
	pb_add_str(&pb, json);
	raftd_reply(m->rctx, MSG_RAFT_SNAPSHOT, &pb);
}

static void
raftd_dispatch_apid(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct raftd *rd = arg;

	(void)ch;
	switch (m->hdr.type) {
	case MSG_RAFT_PROPOSE:
		raftd_propose(rd, m);
		break;
	case MSG_RAFT_READ:
		raftd_read(rd, m);
		break;
	case MSG_RAFT_STATUS:
		raftd_status_reply(rd, m);
		break;
	case MSG_RAFT_WATCH:
		raftd_watch(rd, m);
		break;
	case MSG_RAFT_MEMBER:
		raftd_member(rd, m);
		break;
	case MSG_RAFT_SNAPSHOT:
		raftd_snapshot(rd, m);
		break;
	case MSG_RAFT_EVENTS:
		raftd_events_request(rd->events, m->rctx, m->payload, m->len);
		break;
	case MSG_RAFT_BLOBS:
		raftd_blobs_request(rd->blobs, m->rctx, m->payload, m->len);
		break;
	default:
		fatalx("%s: unexpected message %u", __func__, m->hdr.type);
	}
}

/*
 * The supervisor announces apid's pid (MSG_SUP_PIDS) after raftd started
 * and again whenever apid restarts; role.c keeps it in env->pids.  Only
 * that process may use the channel (0: nobody).
 */
static void
raftd_peer_sync(struct raftd *rd)
{
	pid_t pids[2] = { rd->env->pids[ROLE_APID], rd->env->pids[ROLE_BLOBD] };

	if (pids[0] == rd->api_peer && pids[1] == rd->blobd_peer)
		return;
	/* blobd proposes blob metadata, reads it and follows MSG_RAFT_BLOBS */
	ipc_set_peer(rd->api, getuid(), pids, 2);
	rd->api_peer = pids[0];
	rd->blobd_peer = pids[1];
	log_debug("raftd.api accepts apid pid %d, blobd pid %d", (int)pids[0],
	    (int)pids[1]);
}

static void
raftd_pids(struct role_env *env)
{
	if (env->state != NULL)
		raftd_peer_sync(env->state);
}

static void
raftd_applied(void *arg, const uint8_t *cmd, size_t len)
{
	struct raftd *rd = arg;

	raftd_events_applied(rd->events, cmd, len);
}

static void
raftd_applied_result(
    void *arg, const uint8_t *cmd, size_t len, const struct fsm_result *res)
{
	struct raftd *rd = arg;

	raftd_blobs_applied(rd->blobs, cmd, len, res);
}

static void
raftd_installed(void *arg)
{
	struct raftd *rd = arg;

	raftd_blobs_resync(rd->blobs);
}

static void
raftd_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	raftd_watches_answer(arg, false);
	raftd_events_tick(((struct raftd *)arg)->events, false);
	raftd_blobs_tick(((struct raftd *)arg)->blobs, false);
}

static char *
raftd_db_path(const char *data_dir)
{
	size_t n = strlen(data_dir);
	char *path;

	if (asprintf(&path, "%s%sraft", data_dir,
		n > 0 && data_dir[n - 1] == '/' ? "" : "/") == -1)
		fatal("%s", __func__);
	return path;
}

static struct transport_tls *
raftd_tls(struct transport_tls *tls, const char *cert, const char *key,
    const char *ca, bool skip_verify)
{
	if (cert == NULL || key == NULL)
		return NULL;
	memset(tls, 0, sizeof(*tls));
	tls->cert_pem = cert;
	tls->cert_len = strlen(cert);
	tls->key_pem = key;
	tls->key_len = strlen(key);
	tls->ca_pem = ca;
	tls->ca_len = ca != NULL ? strlen(ca) : 0;
	tls->skip_verify = skip_verify;
	return tls;
}

/* peers from cfg.nodes: client_domain or the raft binding's host */
static int
raftd_net_start(struct raftd *rd)
{
	struct role_env *env = rd->env;
	struct transport_tls tls, *tp;
	const struct cfg_node *n;

	if (env->cfg.n_nodes < 2)
		return 0;
	tp = raftd_tls(&tls, env->tls_cert_pem, env->tls_key_pem,
	    env->tls_ca_pem, env->cfg.client_skip_verify);
	rd->net = transport_new(env->base, env->nfds > 0 ? env->fds[0] : -1,
	    rd->self_id, env->cfg.instance_secret, tp, NULL, raftd_net_recv,
	    rd);
	if (rd->net == NULL)
		return -1;
	transport_set_ctl_cb(rd->net, raftd_net_ctl, rd);
	for (uint64_t id = 1; id <= env->cfg.n_nodes; id++) {
		if (id == rd->self_id)
			continue;
		n = raftd_node_by_id(rd, id);
		if (transport_add_peer(rd->net, id,
			n->client_domain != NULL ? n->client_domain
						 : n->raft_binding.host,
			n->raft_binding.port) == -1)
			return -1;
	}
	return 0;
}

static int
raftd_node_start(struct raftd *rd)
{
	struct role_env *env = rd->env;
	struct node_opts o;
	struct node_hooks h;
	struct timespec ts;

	memset(&o, 0, sizeof(o));
	memset(&h, 0, sizeof(h));
	if ((rd->self_id = raftd_id_of(rd, env->node_id)) == 0 ||
	    rd->self_id > RAFT_MAX_NODES) {
		log_warnx("%s: node %s is not configured (or past node %d)",
		    __func__, env->node_id, RAFT_MAX_NODES);
		return -1;
	}
	o.id = rd->self_id;
	o.bootstrap = env->cfg.default_leader == NULL ||
	    strcmp(env->cfg.default_leader, env->node_id) == 0;
	if (env->force_new_cluster) {
		node_snap_force_new_cluster(rd->store, rd->fsm, rd->self_id);
		o.bootstrap = true;
	}
	o.heartbeat_ms = env->cfg.raft_heartbeat_interval_ms > 0
	    ? (uint32_t)env->cfg.raft_heartbeat_interval_ms
	    : 100;
	o.election_ms = env->cfg.raft_election_timeout_ms > 0
	    ? (uint32_t)env->cfg.raft_election_timeout_ms
	    : 1000;
	o.snapshot_threshold = env->cfg.raft_snapshot_threshold > 0
	    ? (uint64_t)env->cfg.raft_snapshot_threshold
	    : 0;
	o.snapshot_trailing = env->cfg.raft_snapshot_trailing > 0
	    ? (uint64_t)env->cfg.raft_snapshot_trailing
	    : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	o.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	h.send = raftd_send;
	h.send_ctl = raftd_send_ctl;
	h.proposed = raftd_proposed;
	h.read_done = raftd_read_done;
	h.member_done = raftd_member_done;
	h.changed = raftd_changed;
	h.applied = raftd_applied;
	h.applied_result = raftd_applied_result;
	h.installed = raftd_installed;
	h.arg = rd;
	rd->node = node_open(rd->store, rd->fsm, env->base, &o, &h);
	rd->sweep = cache_sweep_start(env->base, rd->node, rd->fsm);
	rd->blob_gc = blob_gc_start(
	    env->base, rd->node, rd->fsm, env->cfg.blobs_gc_interval_ms);
	return 0;
}

static int
raftd_start(struct role_env *env)
{
	struct raftd *rd;
	struct timeval tv = { 0, RAFTD_WATCH_CHECK_MS * 1000 };
	char url[256], *path;

	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		fatal("%s", __func__);
	rd->env = env;
	env->state = rd;
	path = raftd_db_path(env->data_dir);
	rd->store = store_open(path);
	free(path);
	if (rd->store == NULL)
		return -1;
	rd->fsm = fsm_open(rd->store, env->cfg.root_prefix);
	rd->events = raftd_events_new(env->cfg.events_replay_window_ms);
	rd->blobs = raftd_blobs_new();
	fsm_key_guard_set(rd->fsm, true);
	if (raftd_node_start(rd) == -1 || raftd_net_start(rd) == -1)
		return -1;
	rd->cleanup = key_cleanup_new(
	    env->base, rd->fsm, rd->node, KEY_CLEANUP_INTERVAL_MS);
	role_url(env, "raftd.api", url, sizeof(url));
	rd->api = ipc_rep_listen(
	    env->ipc, url, RAFTD_API_NCTX, raftd_dispatch_apid, rd);
	if (rd->api == NULL) {
		log_warnx("%s: cannot listen on %s", __func__, url);
		return -1;
	}
	rd->api_peer = -1;
	rd->blobd_peer = -1;
	raftd_peer_sync(rd);
	if ((rd->peer_ev = event_new(
		 env->base, -1, EV_PERSIST, raftd_watch_cb, rd)) == NULL ||
	    event_add(rd->peer_ev, &tv) == -1)
		fatalx("%s: peer timer", __func__);
	log_info("serving: node id %llu, applied index %llu, last index %llu%s",
	    (unsigned long long)rd->self_id,
	    (unsigned long long)node_applied(rd->node),
	    (unsigned long long)raft_last_index(node_core(rd->node)),
	    node_needs_join(rd->node) ? ", waiting to join" : "");
	return 0;
}

static char *
raftd_status(struct role_env *env)
{
	struct raftd *rd = env->state;
	struct json_object *o;
	char *s;

	if (rd == NULL || rd->node == NULL)
		return strdup("{}");
	o = raftd_state_json(rd);
	json_object_object_add(o, "log_commits",
	    json_object_new_int64((int64_t)node_log_commits(rd->node)));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* tls.* reload: connections made from now on use the new material */
static void
raftd_reload(struct role_env *env, const struct role_reload *rl)
{
	struct raftd *rd = env->state;
	struct transport_tls tls;

	if (rd == NULL || rd->net == NULL)
		return;
	if (transport_set_tls(rd->net,
		raftd_tls(&tls, rl->tls_cert_pem, rl->tls_key_pem,
		    rl->tls_ca_pem, rl->cfg.client_skip_verify)) == -1)
		log_warnx("reload: the new TLS material does not load; the "
			  "raft transport keeps the old");
}

static void
raftd_stop(struct role_env *env)
{
	struct raftd *rd = env->state;

	if (rd != NULL) {
		rd->stopping = true;
		raftd_watches_answer(rd, true);
		raftd_events_tick(rd->events, true);
		raftd_blobs_tick(rd->blobs, true);
		blob_gc_free(rd->blob_gc);
		rd->blob_gc = NULL;
		cache_sweep_free(rd->sweep);
		rd->sweep = NULL;
		key_cleanup_stop(rd->cleanup);
		/* everything proposed gets durable, applied and answered */
		node_close(rd->node);
		rd->node = NULL;
		key_cleanup_free(rd->cleanup);
		rd->cleanup = NULL;
		transport_free(rd->net);
		if (rd->peer_ev != NULL)
			event_free(rd->peer_ev);
		ipc_close(rd->api);
		raftd_events_free(rd->events);
		raftd_blobs_free(rd->blobs);
		fsm_free(rd->fsm);
		store_close(rd->store);
		free(rd);
		env->state = NULL;
	}
	role_exit(env, 0);
}

const struct role_hooks raftd_hooks = {
	.name = "raftd",
	.start = raftd_start,
	.status = raftd_status,
	.ctl = raftd_ctl,
	.stop = raftd_stop,
	.reload = raftd_reload,
	.pids = raftd_pids,
};
