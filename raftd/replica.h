/*
 * The log driver of one node: assigns indexes to proposed commands, hands
 * them to the log writer, advances the commit index, applies committed
 * entries in order through the state machine and gives every proposer
 * its result.
 *
 * Single node for now: an entry is committed as soon as it is durable
 * (a quorum of one), and every term is 1.  replica_durable() is the one
 * place where a Raft driver will replace "durable => committed" with the
 * commit index of the consensus core.
 */
#ifndef RAFTD_REPLICA_H
#define RAFTD_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto/command.h"
#include "raftd/fsm.h"
#include "raftd/store.h"

#define REPLICA_TERM 1
/* entries proposed but not applied yet, at most */
#define REPLICA_PENDING_MAX 4096

struct replica;

/* runs on the loop thread once the proposal is applied */
typedef void (*replica_done_cb)(
    void *waiter, const struct fsm_result *, void *arg);

/*
 * Recovers (applies every log entry above the applied index) and starts
 * the log writer.  pending_max bounds the proposals in flight.
 */
struct replica *replica_open(struct store *, struct fsm *, struct event_base *,
    size_t pending_max, replica_done_cb, void *arg);
/*
 * Stamps c->ts (the wall clock in ns, never lower than the last ts in the
 * log), encodes and queues the command.  Returns its index, or 0 when
 * pending_max proposals are already in flight.
 */
uint64_t replica_propose(struct replica *, struct cmd *c, void *waiter);
/* blocks until everything proposed is durable and applied */
void replica_flush(struct replica *);
/* flushes and stops the writer; the store stays open */
void replica_close(struct replica *);

uint64_t replica_last_index(const struct replica *);
uint64_t replica_commit_index(const struct replica *);
uint64_t replica_applied_index(const struct replica *);
uint64_t replica_term(const struct replica *);
/* synced log writes so far (group commit: usually fewer than entries) */
uint64_t replica_log_commits(const struct replica *);

#endif
