/*
 * Inside the raftd role: the role state shared by the request handlers
 * (raftd.c) and the cluster view and watches (raftd_view.c).
 */
#ifndef RAFTD_RAFTD_INT_H
#define RAFTD_RAFTD_INT_H

#include <stdbool.h>

#include <json-c/json.h>

#include "common/ipc.h"
#include "raftd/node.h"
#include "raftd/raftd.h"

/* MSG_RAFT_WATCH calls kept open at most; more are answered at once */
#define RAFTD_WATCH_MAX 64
#define RAFTD_WATCH_MS 1000

struct transport;
struct cache_sweep;
struct key_cleanup;
struct raftd_events;
struct raftd_blobs;
struct blob_gc;

struct raftd_watch {
	struct ipc_rctx *rctx; /* NULL: free */
	uint64_t deadline_ms;
};

/* what a membership request needs to build its reply */
struct raftd_mwait {
	struct ipc_rctx *rctx; /* from apid, or: */
	bool ctl; /* from insidbctl, answered by corr */
	uint64_t corr;
	uint8_t op;
	uint64_t id;
};

struct raftd {
	struct role_env *env;
	struct store *store;
	struct fsm *fsm;
	struct node *node;
	struct transport *net;
	struct ipc_chan *api;
	struct event *peer_ev;
	struct cache_sweep *sweep; /* the leader's cache expiry */
	pid_t api_peer; /* the apid pid the channel accepts */
	uint64_t self_id;
	bool stopping;
	struct raftd_watch watches[RAFTD_WATCH_MAX];
	struct key_cleanup *cleanup; /* the leader's key cleanup task */
	struct raftd_events *events; /* the applied-event stream */
	struct raftd_blobs *blobs; /* the applied-blob stream to blobd */
	struct blob_gc *blob_gc; /* the leader's blob GC */
	pid_t blobd_peer; /* the blobd pid the channel accepts */
};

/* core id <-> configured node: 1-based position in cfg.nodes */
const struct cfg_node *raftd_node_by_id(const struct raftd *, uint64_t id);
uint64_t raftd_id_of(const struct raftd *, const char *node_id);
/* the node's name, "" for 0 or an unknown id */
const char *raftd_name(const struct raftd *, uint64_t id);
/* "host:port" of the node's raft binding, client_domain when set */
void
raftd_raft_address(const struct raftd *, uint64_t id, char *buf, size_t len);

/* a join names its node's raft binding, or client_domain with its port */
bool raftd_join_address_ok(struct raftd *, uint64_t id, const char *addr);
void
raftd_ctl(struct role_env *, uint64_t corr, const char *verb, const char *args);

/* the MSG_RAFT_STATUS object */
struct json_object *raftd_state_json(struct raftd *);
void raftd_reply_json(struct ipc_rctx *, uint16_t type, struct json_object *);
void raftd_watch(struct raftd *, struct ipc_msg *);
/* answers watches: all of them (changed) or those past their time */
void raftd_watches_answer(struct raftd *, bool all);

#endif
