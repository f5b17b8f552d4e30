/*
 * raftd as a role process.  Single node for now: this node is the leader
 * of term 1 and its only voter; a proposal is committed once the log
 * writer has made it durable (raftd/replica.c).
 *
 * apid -> raftd (rep channel "raftd.api", one peer: apid's pid):
 *   MSG_RAFT_PROPOSE  encoded command        -> cmd_result after apply
 *   MSG_RAFT_READ     read_req               -> read result
 *   MSG_RAFT_STATUS   empty                  -> str json
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "raftd/fsm.h"
#include "raftd/keys.h"
#include "raftd/raftd.h"
#include "raftd/replica.h"
#include "raftd/store.h"

#define RAFTD_API_NCTX 1024
/* how often the allowed apid pid is compared with the announced one */
#define RAFTD_PEER_SYNC_MS 10

struct raftd {
	struct role_env *env;
	struct store *store;
	struct fsm *fsm;
	struct replica *replica;
	struct ipc_chan *api;
	struct event *peer_ev;
	pid_t api_peer; /* the apid pid the channel accepts */
	bool stopping;
};

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
raftd_reply_status(struct ipc_rctx *rctx, uint16_t status)
{
	struct fsm_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	raftd_reply_result(rctx, &res);
}

/* a proposal was applied: answer its requester */
static void
raftd_applied(void *waiter, const struct fsm_result *res, void *arg)
{
	(void)arg;
	raftd_reply_result(waiter, res);
}

static void
raftd_propose(struct raftd *rd, struct ipc_msg *m)
{
	struct cmd c;

	if (cmd_decode(m->payload, m->len, &c) == -1)
		fatalx("%s: malformed proposal from apid", __func__);
	/* refused early what apply would refuse anyway (API.md §6 rule 2) */
	if (!keys_scope_valid(c.scope) || c.key_len == 0 ||
	    c.key_len > KEYS_USER_KEY_MAX) {
		log_warnx("%s: %s with a bad scope or key", __func__,
		    cmd_type_name(c.type));
		return raftd_reply_status(m->rctx, ST_BAD_COMMAND);
	}
	if (rd->stopping)
		return raftd_reply_status(m->rctx, ST_NO_LEADER);
	/* the command's pointers into the payload are copied by encoding */
	if (replica_propose(rd->replica, &c, m->rctx) == 0) {
		log_warnx("%s: too many proposals in flight", __func__);
		return raftd_reply_status(m->rctx, ST_NO_LEADER);
	}
}

static void
raftd_read(struct raftd *rd, struct ipc_msg *m)
{
	struct read_req q;
	struct pbuf pb;

	if (read_req_decode(m->payload, m->len, &q, NULL) == -1)
		fatalx("%s: malformed read request from apid", __func__);
	/*
	 * one node: everything committed is applied before the loop runs
	 * again, so a local read is also linearizable
	 */
	pb_init(&pb);
	fsm_read(rd->fsm, &q, &pb);
	raftd_reply(m->rctx, MSG_RAFT_READ, &pb);
}

static struct json_object *
raftd_state_json(struct raftd *rd)
{
	struct json_object *o, *voters;
	const char *node = rd->env->node_id;

	o = json_object_new_object();
	voters = json_object_new_array();
	json_object_array_add(voters, json_object_new_string(node));
	json_object_object_add(o, "node", json_object_new_string(node));
	json_object_object_add(o, "role", json_object_new_string("leader"));
	json_object_object_add(o, "leader", json_object_new_string(node));
	json_object_object_add(o, "term",
	    json_object_new_int64((int64_t)replica_term(rd->replica)));
	json_object_object_add(o, "commit_index",
	    json_object_new_int64((int64_t)replica_commit_index(rd->replica)));
	json_object_object_add(o, "applied_index",
	    json_object_new_int64((int64_t)replica_applied_index(rd->replica)));
	json_object_object_add(o, "voters", voters);
	return o;
}

static void
raftd_status_reply(struct raftd *rd, struct ipc_msg *m)
{
	struct json_object *o;
	struct pbuf pb;

	if (m->len != 0)
		fatalx("%s: malformed status request from apid", __func__);
	o = raftd_state_json(rd);
	pb_init(&pb);
	pb_add_str(
	    &pb, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	raftd_reply(m->rctx, MSG_RAFT_STATUS, &pb);
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
	pid_t apid = rd->env->pids[ROLE_APID];

	if (apid == rd->api_peer)
		return;
	ipc_set_peer(rd->api, getuid(), &apid, 1);
	rd->api_peer = apid;
	log_debug("raftd.api accepts apid pid %d", (int)apid);
}

static void
raftd_peer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	raftd_peer_sync(arg);
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

static int
raftd_start(struct role_env *env)
{
	struct raftd *rd;
	struct timeval tv = { 0, RAFTD_PEER_SYNC_MS * 1000 };
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
	rd->replica = replica_open(rd->store, rd->fsm, env->base,
	    REPLICA_PENDING_MAX, raftd_applied, rd);
	role_url(env, "raftd.api", url, sizeof(url));
	rd->api = ipc_rep_listen(
	    env->ipc, url, RAFTD_API_NCTX, raftd_dispatch_apid, rd);
	if (rd->api == NULL) {
		log_warnx("%s: cannot listen on %s", __func__, url);
		return -1;
	}
	rd->api_peer = -1;
	raftd_peer_sync(rd);
	if ((rd->peer_ev = event_new(
		 env->base, -1, EV_PERSIST, raftd_peer_cb, rd)) == NULL ||
	    event_add(rd->peer_ev, &tv) == -1)
		fatalx("%s: peer timer", __func__);
	log_info("serving: applied index %llu, last index %llu",
	    (unsigned long long)replica_applied_index(rd->replica),
	    (unsigned long long)replica_last_index(rd->replica));
	return 0;
}

static char *
raftd_status(struct role_env *env)
{
	struct raftd *rd = env->state;
	struct json_object *o;
	char *s;

	if (rd == NULL || rd->replica == NULL)
		return strdup("{}");
	o = raftd_state_json(rd);
	json_object_object_add(o, "last_index",
	    json_object_new_int64((int64_t)replica_last_index(rd->replica)));
	json_object_object_add(o, "rocksdb_bytes",
	    json_object_new_int64((int64_t)store_size_bytes(rd->store)));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void
raftd_stop(struct role_env *env)
{
	struct raftd *rd = env->state;

	if (rd != NULL) {
		rd->stopping = true;
		/* everything proposed gets durable, applied and answered */
		replica_close(rd->replica);
		rd->replica = NULL;
		if (rd->peer_ev != NULL)
			event_free(rd->peer_ev);
		ipc_close(rd->api);
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
	.ctl = NULL,
	.stop = raftd_stop,
};
