/*
 * Membership requests (API.md §17, msg.h MSG_RAFT_MEMBER) on the leader.
 * One change runs at a time: the core refuses a second while a config
 * entry is uncommitted, so a request waits (NODE_CHANGE_WAIT_MS) and
 * retries on every tick.  A join adds the node as a learner; the leader
 * promotes it to voter, as a separate change, on a tick once its match
 * index has reached the commit index and it answered within
 * NODE_HEALTHY_MS (every learner here came from a join).  Replies come when
 * the leader has applied the change (a join: the learner entry), or for
 * a transfer when the target leads.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proto/msg.h"
#include "raftd/node_int.h"

static void
node_mreq_answer(struct node *n, struct node_mreq *q, uint16_t st, uint64_t id)
{
	void *waiter = q->waiter;

	memset(q, 0, sizeof(*q));
	n->hooks.member_done(waiter, st, id, n->hooks.arg);
}

static void
node_member_reply(struct node *n, void *waiter, uint16_t st, uint64_t id)
{
	n->hooks.member_done(waiter, st, id, n->hooks.arg);
}

bool
node_transferring(const struct node *n)
{
	if (raft_role(n->r) != RAFT_LEADER)
		return false;
	for (size_t i = 0; i < NODE_MEMBER_WAIT_MAX; i++)
		if (n->mreqs[i].phase == NM_WAIT_LEADER)
			return true;
	return false;
}

static bool
node_peer_healthy(const struct node *n, uint64_t id)
{
	int64_t ms = node_peer_contact_ms(n, id);

	return ms >= 0 && ms < NODE_HEALTHY_MS;
}

/* tries to start a waiting change: 1 started, 0 wait, -1 answered */
static int
node_mreq_start(struct node *n, struct node_mreq *q)
{
	uint64_t index;
	int rc;

	if (raft_role(n->r) != RAFT_LEADER) {
		node_mreq_answer(n, q, MEMBER_NOT_LEADER, raft_leader(n->r));
		return -1;
	}
	rc = raft_change(n->r,
	    q->op == MEMBER_JOIN ? RAFT_ADD_VOTER : RAFT_REMOVE, q->id, &index);
	switch (rc) {
	case RAFT_OK:
		q->phase = NM_WAIT_APPLY;
		q->index = index;
		q->term = raft_term(n->r);
		if (q->op == MEMBER_JOIN)
			snprintf(n->peers[q->id].addr,
			    sizeof(n->peers[q->id].addr), "%s", q->addr);
		log_info("membership: %s node %llu at index %llu",
		    q->op == MEMBER_JOIN ? "adding learner" : "removing",
		    (unsigned long long)q->id, (unsigned long long)index);
		node_pump(n);
		return 1;
	case RAFT_ECHANGE:
	case RAFT_EAGAIN:
	case RAFT_ETRANSFER:
		return 0;
	default:
		log_warnx("membership change of node %llu: %s",
		    (unsigned long long)q->id, raft_strerror(rc));
		node_mreq_answer(n, q, MEMBER_INVALID, 0);
		return -1;
	}
}

static struct node_mreq *
node_mreq_new(struct node *n, uint8_t op, uint64_t id, void *waiter)
{
	for (size_t i = 0; i < NODE_MEMBER_WAIT_MAX; i++) {
		struct node_mreq *q = &n->mreqs[i];

		if (q->phase != NM_FREE)
			continue;
		memset(q, 0, sizeof(*q));
		q->op = op;
		q->id = id;
		q->waiter = waiter;
		return q;
	}
	return NULL;
}

static void
node_join(struct node *n, uint64_t id, const char *addr, void *waiter)
{
	const struct raft_config *c = raft_config(n->r);
	struct node_mreq *q;

	if (raft_config_find(c, id) >= 0) {
		if (n->peers[id].addr[0] != '\0' &&
		    strcmp(n->peers[id].addr, addr) != 0)
			return node_member_reply(
			    n, waiter, MEMBER_CONFLICT, id);
		snprintf(
		    n->peers[id].addr, sizeof(n->peers[id].addr), "%s", addr);
		return node_member_reply(n, waiter, MEMBER_OK, id);
	}
	if ((q = node_mreq_new(n, MEMBER_JOIN, id, waiter)) == NULL)
		return node_member_reply(n, waiter, MEMBER_INVALID, 0);
	snprintf(q->addr, sizeof(q->addr), "%s", addr);
	q->phase = NM_WAIT_IDLE;
	q->deadline_ms = node_now_ms() + NODE_CHANGE_WAIT_MS;
	(void)node_mreq_start(n, q);
}

static void
node_remove(struct node *n, uint64_t id, void *waiter)
{
	const struct raft_config *c = raft_config(n->r);
	int pos = raft_config_find(c, id);
	struct node_mreq *q;

	if (pos < 0)
		return node_member_reply(n, waiter, MEMBER_NOT_FOUND, 0);
	if (id == n->opts.id ||
	    (c->servers[pos].role == RAFT_VOTER &&
		raft_config_voters(c) == 1) ||
	    (q = node_mreq_new(n, MEMBER_REMOVE, id, waiter)) == NULL)
		return node_member_reply(n, waiter, MEMBER_INVALID, 0);
	q->phase = NM_WAIT_IDLE;
	q->deadline_ms = node_now_ms() + NODE_CHANGE_WAIT_MS;
	(void)node_mreq_start(n, q);
}

static void
node_transfer(struct node *n, uint64_t id, void *waiter)
{
	const struct raft_config *c = raft_config(n->r);
	int pos = raft_config_find(c, id);
	struct node_mreq *q;
	uint64_t wait;
	int rc;

	if (pos < 0)
		return node_member_reply(n, waiter, MEMBER_NOT_FOUND, 0);
	if (id == n->opts.id)
		return node_member_reply(n, waiter, MEMBER_OK, id);
	if (c->servers[pos].role != RAFT_VOTER || !node_peer_healthy(n, id) ||
	    node_peer_match(n, id) < (int64_t)raft_commit(n->r) ||
	    (q = node_mreq_new(n, MEMBER_TRANSFER, id, waiter)) == NULL)
		return node_member_reply(n, waiter, MEMBER_INVALID, 0);
	if ((rc = raft_transfer(n->r, id)) != RAFT_OK) {
		log_warnx("transfer to node %llu: %s", (unsigned long long)id,
		    raft_strerror(rc));
		return node_member_reply(n, waiter, MEMBER_INVALID, 0);
	}
	/* the core abandons it after one election timeout */
	wait = n->opts.election_ms + n->tick_ms;
	q->phase = NM_WAIT_LEADER;
	q->term = raft_term(n->r);
	q->deadline_ms = node_now_ms() +
	    (wait < NODE_TRANSFER_MAX_MS ? wait : NODE_TRANSFER_MAX_MS);
	node_pump(n);
}

void
node_member(
    struct node *n, uint8_t op, uint64_t id, const char *address, void *waiter)
{
	if (n->removed || n->closing || raft_role(n->r) != RAFT_LEADER)
		return node_member_reply(
		    n, waiter, MEMBER_NOT_LEADER, raft_leader(n->r));
	if (id == 0 || id > RAFT_MAX_NODES)
		return node_member_reply(n, waiter, MEMBER_NOT_FOUND, 0);
	switch (op) {
	case MEMBER_JOIN:
		return node_join(n, id, address != NULL ? address : "", waiter);
	case MEMBER_REMOVE:
		return node_remove(n, id, waiter);
	case MEMBER_TRANSFER:
		return node_transfer(n, id, waiter);
	default:
		return node_member_reply(n, waiter, MEMBER_BAD_REQUEST, 0);
	}
}

static void
node_mreq_check(struct node *n, struct node_mreq *q, uint64_t now)
{
	switch (q->phase) {
	case NM_WAIT_IDLE:
		if (node_mreq_start(n, q) == 0 && now >= q->deadline_ms)
			node_mreq_answer(n, q, MEMBER_INVALID, 0);
		break;
	case NM_WAIT_APPLY:
		if (node_applied(n) >= q->index) {
			/* applied: ours unless another term's entry won */
			if (raft_term_at(n->r, q->index) == q->term)
				node_mreq_answer(n, q, MEMBER_OK, q->id);
			else
				node_mreq_answer(n, q, MEMBER_TIMEOUT, 0);
		} else if (now >= q->deadline_ms + NODE_CHANGE_WAIT_MS) {
			node_mreq_answer(n, q, MEMBER_TIMEOUT, 0);
		}
		break;
	case NM_WAIT_LEADER:
		if (raft_leader(n->r) == q->id && raft_term(n->r) > q->term)
			node_mreq_answer(n, q, MEMBER_OK, q->id);
		else if (now >= q->deadline_ms)
			node_mreq_answer(n, q, MEMBER_TIMEOUT, 0);
		break;
	default:
		break;
	}
}

/* one caught-up, healthy learner becomes a voter (API.md §17.1) */
static void
node_promote(struct node *n)
{
	const struct raft_config *c = raft_config(n->r);
	uint64_t index;

	if (raft_role(n->r) != RAFT_LEADER ||
	    raft_config_index(n->r) > raft_commit(n->r))
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t id = c->servers[i].id;

		if (c->servers[i].role != RAFT_LEARNER ||
		    !node_peer_healthy(n, id) ||
		    node_peer_match(n, id) < (int64_t)raft_commit(n->r))
			continue;
		/* the core may still find it behind its last index: later */
		if (raft_change(n->r, RAFT_PROMOTE, id, &index) == RAFT_OK) {
			log_info("membership: promoting node %llu to voter at "
				 "index %llu",
			    (unsigned long long)id, (unsigned long long)index);
			node_pump(n);
		}
		return;
	}
}

void
node_members_check(struct node *n)
{
	uint64_t now = node_now_ms();

	node_promote(n);
	for (size_t i = 0; i < NODE_MEMBER_WAIT_MAX; i++)
		if (n->mreqs[i].phase != NM_FREE)
			node_mreq_check(n, &n->mreqs[i], now);
}

void
node_members_fail_all(struct node *n)
{
	for (size_t i = 0; i < NODE_MEMBER_WAIT_MAX; i++)
		if (n->mreqs[i].phase != NM_FREE)
			node_mreq_answer(n, &n->mreqs[i], MEMBER_TIMEOUT, 0);
}
