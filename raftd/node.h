/*
 * The Raft node: drives the consensus core (raftd/core/raft.h) on the
 * libevent loop.  It boots the core from the stored state, ticks it from
 * a timer, and executes every batch in the order of the core's contract:
 * persist (one synced write on the log writer thread, rlog.c), send,
 * apply through the state machine (fsm.c), answer reads, advance.
 *
 * Node ids: the core's id of a configured node is its 1-based position
 * in cfg.nodes, which every node reads from the same file.
 *
 * Proposals are answered when their entry is applied: by index and the
 * term they were proposed in; an entry replaced by another term's entry
 * answers ST_COMMIT_UNKNOWN, as does one not applied within
 * NODE_PROPOSE_WAIT_MS.
 */
#ifndef RAFTD_NODE_H
#define RAFTD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/metrics_hist.h"
#include "proto/command.h"
#include "raftd/core/raft.h"
#include "raftd/fsm.h"
#include "raftd/store.h"

/* proposals waiting for their entry, at most */
#define NODE_PENDING_MAX 8192
#define NODE_PROPOSE_WAIT_MS 10000

struct node;

struct node_opts {
	uint64_t id; /* this node's core id, > 0 */
	bool bootstrap; /* empty state: a one-voter configuration of itself */
	uint32_t heartbeat_ms;
	uint32_t election_ms; /* randomised by the core in [e, 2e) */
	uint64_t snapshot_threshold; /* applied entries between snapshots */
	uint64_t snapshot_trailing; /* entries kept behind a snapshot */
	uint64_t seed;
};

struct node_hooks {
	/* to the peer m->to; m stays the caller's; loss is fine */
	void (*send)(void *arg, const struct raft_msg *m);
	/* a driver message (read index) to peer `to`; loss is fine */
	void (*send_ctl)(void *arg, uint64_t to, const uint8_t *, size_t);
	/* a proposal was applied (or failed, status set) */
	void (*proposed)(void *waiter, const struct fsm_result *, void *arg);
	/* a read is answered: result is the read result of command.h */
	void (*read_done)(void *waiter, const uint8_t *, size_t, void *arg);
	/*
	 * a membership request is answered (enum member_status); id: the
	 * leader for MEMBER_NOT_LEADER (0: unknown) and an ok TRANSFER, the
	 * node for JOIN
	 */
	void (*member_done)(
	    void *waiter, uint16_t status, uint64_t id, void *arg);
	/* leader, term, role or membership changed */
	void (*changed)(void *arg);
	/* an entry's command applied with ST_OK (NULL: not wanted) */
	void (*applied)(void *arg, const uint8_t *cmd, size_t len);
	/* the same with its result (NULL: not wanted) */
	void (*applied_result)(void *arg, const uint8_t *cmd, size_t len,
	    const struct fsm_result *);
	/* a received snapshot replaced the state (NULL: not wanted) */
	void (*installed)(void *arg);
	void *arg;
};

struct node *node_open(struct store *, struct fsm *, struct event_base *,
    const struct node_opts *, const struct node_hooks *);
/* persists what is pending, applies it, answers every waiter; frees */
void node_close(struct node *);

/* from the transport */
void node_recv(struct node *, const struct raft_msg *);
void node_recv_ctl(struct node *, uint64_t from, const uint8_t *, size_t);

/*
 * Leader: stamps c->ts (never lower than the last ts in the log) and
 * proposes; the hook answers later.  Otherwise answers at once:
 * ST_NOT_LEADER (leader's core id in *leader), ST_NO_LEADER.
 */
uint16_t
node_propose(struct node *, struct cmd *c, void *waiter, uint64_t *leader);

/* req is a read request (command.h), copied; read_done answers */
void node_read(struct node *, const uint8_t *req, size_t len, void *waiter);

/* membership (msg.h MSG_RAFT_MEMBER); member_done answers */
void node_member(
    struct node *, uint8_t op, uint64_t id, const char *address, void *waiter);

/* takes a snapshot now: 0 and its index, or -1 */
int node_snapshot_now(struct node *, uint64_t *index);

/* CLOCK_MONOTONIC in milliseconds */
uint64_t node_now_ms(void);

/* observers */
const struct raft *node_core(const struct node *);
uint64_t node_applied(const struct node *);
/* snapshots taken or installed since the node started */
uint64_t node_snapshots(const struct node *);
bool node_needs_join(const struct node *);
bool node_removed(const struct node *);
bool node_transferring(const struct node *);
uint64_t node_version(const struct node *);
uint64_t node_log_commits(const struct node *);
/* the log writer's fsync durations (API.md §19.2) */
void node_fsync_hist(const struct node *, struct metrics_hist *);
/* leader's view of a peer: -1 when unknown */
int64_t node_peer_match(const struct node *, uint64_t id);
int64_t node_peer_contact_ms(const struct node *, uint64_t id);

#endif
