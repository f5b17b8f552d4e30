/*
 * Inside the Raft node: the state shared by the batch executor (node.c),
 * reads (node_read.c) and membership changes (node_member.c).
 */
#ifndef RAFTD_NODE_INT_H
#define RAFTD_NODE_INT_H

#include "raftd/node.h"
#include "raftd/rlog.h"

/* reads waiting, at most; beyond that a read is refused (NO_LEADER) */
#define NODE_READS_MAX 1024
/* a leader confirms within this, else default reads answer locally */
#define NODE_READ_CONFIRM_MS 1000
/* a follower's read index round and its apply wait, each */
#define NODE_READ_REMOTE_MS 2000
/* a member answered within this is healthy (API.md §17.3) */
#define NODE_HEALTHY_MS 2000
/* a join waits this long for a running change */
#define NODE_CHANGE_WAIT_MS 10000
#define NODE_TRANSFER_MAX_MS 5000
#define NODE_MEMBER_WAIT_MAX 64
#define NODE_ADDR_MAX 300

/* driver messages over the transport (node_recv_ctl) */
enum node_ctl {
	NODE_CTL_READ_INDEX = 1, /* u64 req id */
	NODE_CTL_READ_INDEX_RESP = 2, /* u64 req id, u64 index, u8 ok */
	/* leader -> a server outside its configuration: u64 term, u64
	 * index of that (committed) configuration */
	NODE_CTL_REMOVED = 3,
};

struct node_slot {
	uint64_t index; /* 0: free */
	uint64_t term;
	void *waiter;
	uint64_t deadline_ms;
};

enum node_read_phase {
	NR_FREE = 0,
	NR_INDEX, /* waiting for a read index */
	NR_APPLY, /* waiting until applied >= index */
};

struct node_rd {
	int phase;
	bool linearizable;
	bool leader; /* confirmed through our own core */
	uint64_t req_id;
	uint64_t index;
	uint64_t deadline_ms;
	void *waiter;
	uint8_t *req; /* the request bytes */
	size_t len;
};

/* a read index the core confirms for a follower */
struct node_remote_rd {
	uint64_t req_id; /* ours, 0: free */
	uint64_t from;
	uint64_t their_id;
};

struct node_peer {
	uint64_t match; /* from its append acks, this term */
	uint64_t contact_ms; /* last message from it, 0: never */
	uint64_t told_removed_ms; /* last NODE_CTL_REMOVED sent to it */
	char addr[NODE_ADDR_MAX + 1]; /* as it joined, "" unknown */
};

enum node_member_phase {
	NM_FREE = 0,
	NM_WAIT_IDLE, /* another change runs */
	NM_WAIT_APPLY, /* our config entry is in the log */
	NM_WAIT_LEADER, /* transfer: until the target leads */
};

struct node_mreq {
	int phase;
	uint8_t op;
	uint64_t id;
	uint64_t index; /* NM_WAIT_APPLY */
	uint64_t term;
	uint64_t deadline_ms;
	void *waiter;
	char addr[NODE_ADDR_MAX + 1];
};

struct node {
	struct store *store;
	struct fsm *fsm;
	struct event_base *base;
	struct node_opts opts;
	struct node_hooks hooks;
	struct raft *r;
	struct rlog_writer *writer;
	struct event *tick_ev;
	struct event *pump_ev; /* more batches than one loop turn takes */
	uint32_t tick_ms;

	/* the batch being executed */
	bool batch_out;
	struct raft_ready rd;
	struct rlog_job job;
	bool *sent; /* rd.msgs already sent early */
	uint64_t stored_last; /* last index in the stored log */
	uint64_t durable_term; /* term of the last stored hard state */
	uint64_t durable_vote;
	bool pumping;
	bool closing;

	int64_t last_ts;
	struct node_slot *slots; /* index % NODE_PENDING_MAX */
	uint64_t sweep_ms;

	struct node_rd reads[NODE_READS_MAX];
	uint32_t n_reads;
	struct node_remote_rd remote[RAFT_MAX_READS];
	uint64_t next_req_id;

	struct node_peer peers[RAFT_MAX_NODES + 1]; /* by core id */
	uint64_t peers_term;

	struct node_mreq mreqs[NODE_MEMBER_WAIT_MAX];

	uint64_t snap_index; /* of the last snapshot */
	uint64_t snapshots; /* taken or installed since start (metrics) */
	bool ever_member; /* seen itself in a configuration */
	bool removed;

	/* what MSG_RAFT_WATCH reports changes of */
	uint64_t version;
	uint64_t seen_leader, seen_term, seen_config;
	int seen_role;
};

void node_pump(struct node *);

/* node_read.c */
void node_reads_done(struct node *, const struct raft_read *, uint32_t n);
void node_reads_check(struct node *);
void node_reads_fail_all(struct node *);

void node_mark_removed(struct node *);
void node_ctl_send(struct node *, uint64_t to, struct pbuf *);

/* node_member.c */
void node_members_check(struct node *);
void node_members_fail_all(struct node *);

#endif
