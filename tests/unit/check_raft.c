/*
 * Unit tests of the raft core, each naming the section of the Raft paper
 * ("In Search of an Understandable Consensus Algorithm") or of Ongaro's
 * dissertation ("Consensus: Bridging Theory and Practice") it checks.
 * A tiny synchronous harness: every batch is persisted at once and its
 * messages are delivered unless a test drops them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "raftd/core/raft.h"

#define MAXN 6
#define MAXQ 4096

struct net {
	struct raft *r[MAXN + 1];
	uint32_t n;
	struct raft_msg q[MAXQ];
	uint32_t nq;
	bool drop[MAXN + 1][MAXN + 1];
	int drop_type;
	struct raft_entry applied[MAXN + 1][64];
	uint32_t n_applied[MAXN + 1];
	struct raft_read reads[MAXN + 1][16];
	uint32_t n_reads[MAXN + 1];
	struct raft_snapshot_meta installed[MAXN + 1];
};

static struct raft_options
opts(void)
{
	struct raft_options o;

	raft_options_default(&o);
	o.election_ticks = 10;
	o.heartbeat_ticks = 1;
	return o;
}

static struct raft_config
voters(uint32_t n)
{
	struct raft_config c;
	uint32_t i;

	memset(&c, 0, sizeof(c));
	c.n = n;
	for (i = 0; i < n; i++)
		c.servers[i].id = i + 1;
	return c;
}

static struct raft *
boot_node(
    uint64_t id, const struct raft_config *c, const struct raft_options *o)
{
	struct raft_boot b;
	struct raft *r;

	memset(&b, 0, sizeof(b));
	b.bootstrap = c;
	r = raft_new(id, o, &b, 42);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void
net_init(struct net *nw, uint32_t n, const struct raft_options *o)
{
	struct raft_config c = voters(n);
	uint32_t i;

	memset(nw, 0, sizeof(*nw));
	nw->n = n;
	for (i = 1; i <= n; i++)
		nw->r[i] = boot_node(i, &c, o);
}

static void
net_free(struct net *nw)
{
	uint32_t i;

	for (i = 0; i < nw->nq; i++)
		raft_msg_free(&nw->q[i]);
	for (i = 1; i <= MAXN; i++) {
		for (uint32_t k = 0; k < nw->n_applied[i]; k++)
			free(nw->applied[i][k].data);
		raft_free(nw->r[i]);
	}
}

/* run one node's batches: persist (nothing to do), queue msgs, apply */
static void
flush(struct net *nw, uint64_t id)
{
	struct raft_ready rd;
	struct raft_entry *e;
	uint32_t i;

	while (nw->r[id] != NULL && raft_ready(nw->r[id], &rd)) {
		if (rd.snapshot_install)
			nw->installed[id] = rd.snapshot;
		for (i = 0; i < rd.n_msgs; i++) {
			ck_assert_uint_lt(nw->nq, MAXQ);
			nw->q[nw->nq++] = rd.msgs[i];
			memset(&rd.msgs[i], 0, sizeof(rd.msgs[i]));
		}
		for (i = 0; i < rd.n_committed && nw->n_applied[id] < 64; i++) {
			e = &nw->applied[id][nw->n_applied[id]++];
			*e = rd.committed[i];
			rd.committed[i].data = NULL;
		}
		for (i = 0; i < rd.n_reads && nw->n_reads[id] < 16; i++)
			nw->reads[id][nw->n_reads[id]++] = rd.reads[i];
		raft_advance(nw->r[id], &rd);
	}
}

static void
flush_all(struct net *nw)
{
	uint32_t i;

	for (i = 1; i <= nw->n; i++)
		flush(nw, i);
}

/* deliver queued messages until the network is quiet */
static void
deliver(struct net *nw)
{
	struct raft_msg m;
	uint32_t rounds = 0;

	flush_all(nw);
	while (nw->nq > 0 && rounds++ < 100000) {
		m = nw->q[0];
		memmove(nw->q, nw->q + 1, (nw->nq - 1) * sizeof(m));
		nw->nq--;
		if (!nw->drop[m.from][m.to] && m.type != nw->drop_type &&
		    nw->r[m.to] != NULL) {
			raft_step(nw->r[m.to], &m);
			flush(nw, m.to);
		}
		raft_msg_free(&m);
	}
}

static void
tick_until_campaign(struct net *nw, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < 100 && raft_role(nw->r[id]) == RAFT_FOLLOWER; i++)
		raft_tick(nw->r[id]);
	ck_assert_int_ne(raft_role(nw->r[id]), RAFT_FOLLOWER);
}

static void
tick_all(struct net *nw, uint32_t ticks)
{
	uint32_t t, i;

	for (t = 0; t < ticks; t++) {
		for (i = 1; i <= nw->n; i++)
			if (nw->r[i] != NULL)
				raft_tick(nw->r[i]);
		deliver(nw);
	}
}

static void
elect(struct net *nw, uint64_t id)
{
	/* every node must have waited out the leader lease */
	uint32_t i, t;

	for (t = 0; t < 10; t++)
		for (i = 1; i <= nw->n; i++)
			if (i != id && nw->r[i] != NULL)
				raft_tick(nw->r[i]);
	tick_until_campaign(nw, id);
	deliver(nw);
	ck_assert_int_eq(raft_role(nw->r[id]), RAFT_LEADER);
}

static uint32_t
count_queued(struct net *nw, int type, uint64_t from)
{
	uint32_t i, n = 0;

	for (i = 0; i < nw->nq; i++)
		if (nw->q[i].type == type && nw->q[i].from == from)
			n++;
	return n;
}

static void
propose(struct net *nw, uint64_t id, const char *s)
{
	ck_assert_int_eq(raft_propose(nw->r[id], (const uint8_t *)s,
			     (uint32_t)strlen(s), NULL),
	    RAFT_OK);
}

static struct raft_msg
msg(int type, uint64_t from, uint64_t to, uint64_t term)
{
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)type;
	m.from = from;
	m.to = to;
	m.term = term;
	return m;
}

/* §5.2: a follower that hears nothing for an election timeout starts an
 * election; with pre-vote (§9.6) it first asks without raising its term */
START_TEST(test_election_timeout_starts_prevote)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	tick_until_campaign(&nw, 1);
	ck_assert_int_eq(raft_role(nw.r[1]), RAFT_PRECANDIDATE);
	ck_assert_uint_eq(raft_term(nw.r[1]), 1);
	flush(&nw, 1);
	ck_assert_uint_eq(count_queued(&nw, RAFT_MSG_PREVOTE, 1), 2);
	ck_assert_uint_eq(nw.q[0].term, 2);
	net_free(&nw);
}
END_TEST

/* §5.2: a candidate with votes from a majority becomes leader; the others
 * learn of it through its AppendEntries */
START_TEST(test_election_majority_wins)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 5, &o);
	nw.drop[1][4] = nw.drop[1][5] = true;
	elect(&nw, 1);
	ck_assert_uint_eq(raft_term(nw.r[1]), 2);
	ck_assert_uint_eq(raft_leader(nw.r[2]), 1);
	ck_assert_uint_eq(raft_vote(nw.r[2]), 1);
	ck_assert_uint_eq(raft_leader(nw.r[4]), 0);
	net_free(&nw);
}
END_TEST

/* §5.2: each server votes for at most one candidate in a term */
START_TEST(test_election_one_vote_per_term)
{
	struct net nw;
	struct raft_options o = opts();
	struct raft_msg m;
	struct raft_ready rd;

	net_init(&nw, 3, &o);
	tick_all(&nw, 10); /* past the lease after start */
	flush_all(&nw);
	m = msg(RAFT_MSG_VOTE, 2, 1, 2);
	m.index = 1;
	m.log_term = 1;
	ck_assert_int_eq(raft_step(nw.r[1], &m), RAFT_OK);
	m.from = 3;
	ck_assert_int_eq(raft_step(nw.r[1], &m), RAFT_OK);
	ck_assert_int_eq(raft_ready(nw.r[1], &rd), 1);
	ck_assert_uint_eq(rd.n_msgs, 2);
	ck_assert_uint_eq(rd.msgs[0].to, 2);
	ck_assert_uint_eq(rd.msgs[0].reject, 0);
	ck_assert_uint_eq(rd.msgs[1].to, 3);
	ck_assert_uint_eq(rd.msgs[1].reject, 1);
	/* the grant leaves with the vote in the same batch's hard state */
	ck_assert(rd.has_hard_state);
	ck_assert_uint_eq(rd.hard_state.vote, 2);
	ck_assert_uint_eq(rd.hard_state.term, 2);
	raft_advance(nw.r[1], &rd);
	net_free(&nw);
}
END_TEST

/* §5.4.1: a vote is denied to a candidate whose log is less up-to-date */
START_TEST(test_election_restriction)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	propose(&nw, 1, "x");
	deliver(&nw);
	/* node 3 misses nothing; node 2 falls behind */
	nw.drop[1][2] = true;
	propose(&nw, 1, "y");
	deliver(&nw);
	ck_assert_uint_lt(raft_last_index(nw.r[2]), raft_last_index(nw.r[3]));
	raft_free(nw.r[1]);
	nw.r[1] = NULL;
	nw.drop[1][2] = false;
	tick_all(&nw, 12);
	/* 2 cannot win: 3 refuses it, 3 wins with 2's vote */
	tick_until_campaign(&nw, 2);
	deliver(&nw);
	ck_assert_int_ne(raft_role(nw.r[2]), RAFT_LEADER);
	tick_all(&nw, 40);
	ck_assert_int_eq(raft_role(nw.r[3]), RAFT_LEADER);
	net_free(&nw);
}
END_TEST

/* §5.3: the leader replicates a proposal, commits it once a majority
 * holds it, and every node applies it */
START_TEST(test_replication_commit_and_apply)
{
	struct net nw;
	struct raft_options o = opts();
	uint32_t i;
	uint64_t idx;

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	ck_assert_int_eq(
	    raft_propose(nw.r[1], (const uint8_t *)"hello", 5, &idx), RAFT_OK);
	ck_assert_uint_eq(idx, 3); /* config 1, noop 2 */
	deliver(&nw);
	tick_all(&nw, 2);
	for (i = 1; i <= 3; i++) {
		ck_assert_uint_eq(raft_commit(nw.r[i]), 3);
		ck_assert_uint_eq(nw.n_applied[i], 3);
		ck_assert_uint_eq(nw.applied[i][2].len, 5);
		ck_assert_mem_eq(nw.applied[i][2].data, "hello", 5);
		ck_assert_uint_eq(nw.applied[i][1].type, RAFT_ENTRY_NOOP);
	}
	net_free(&nw);
}
END_TEST

/* §5.3: followers reject appends that do not match at prev_index, and a
 * conflicting suffix is replaced by the leader's entries */
START_TEST(test_replication_consistency_check)
{
	struct raft_options o = opts();
	struct raft_config c = voters(3);
	struct raft *f = boot_node(2, &c, &o);
	struct raft_entry e[2], x;
	struct raft_msg m;
	struct raft_ready rd;

	raft_ready(f, &rd);
	raft_advance(f, &rd);
	memset(e, 0, sizeof(e));
	e[0].term = 2;
	e[0].index = 2;
	e[1].term = 2;
	e[1].index = 3;
	m = msg(RAFT_MSG_APPEND, 1, 2, 2);
	m.prev_index = 1;
	m.prev_term = 1;
	m.entries = e;
	m.n_entries = 2;
	ck_assert_int_eq(raft_step(f, &m), RAFT_OK);
	ck_assert_uint_eq(raft_last_index(f), 3);
	/* a leader of term 3 whose entry 3 is of term 3: no match at 3 */
	memset(&x, 0, sizeof(x));
	x.term = 3;
	x.index = 4;
	m = msg(RAFT_MSG_APPEND, 3, 2, 3);
	m.prev_index = 3;
	m.prev_term = 3;
	m.entries = &x;
	m.n_entries = 1;
	raft_step(f, &m);
	ck_assert_uint_eq(raft_last_index(f), 3);
	/* it backs up: entry 3 of term 3 replaces ours */
	x.index = 3;
	m.prev_index = 2;
	m.prev_term = 2;
	raft_step(f, &m);
	ck_assert_uint_eq(raft_term_at(f, 3), 3);
	ck_assert_int_eq(raft_ready(f, &rd), 1);
	ck_assert_uint_eq(rd.n_msgs, 3);
	ck_assert_uint_eq(rd.msgs[1].reject, 1);
	ck_assert_uint_eq(rd.msgs[1].index, 3);
	/* fast backtracking: the hint names our last entry of term <= 3 */
	ck_assert_uint_eq(rd.msgs[1].hint_index, 3);
	ck_assert_uint_eq(rd.msgs[1].hint_term, 2);
	ck_assert_uint_eq(rd.msgs[2].reject, 0);
	ck_assert_uint_eq(rd.msgs[2].index, 3);
	/* the driver deletes from the first entry's index on */
	ck_assert_uint_eq(rd.entries[0].index, 2);
	ck_assert_uint_eq(rd.entries[rd.n_entries - 1].term, 3);
	raft_advance(f, &rd);
	raft_free(f);
}
END_TEST

/* §5.4.2: a leader never commits an entry of an earlier term by counting
 * replicas, only once an entry of its own term is on a majority */
START_TEST(test_safety_no_commit_of_old_term_by_counting)
{
	struct raft_options o = opts();
	struct raft_config c = voters(3);
	struct raft_entry log[2];
	uint8_t buf[64];
	struct raft_boot b;
	struct net nw;
	struct raft_msg m;

	o.max_batch_entries = 1;
	memset(&nw, 0, sizeof(nw));
	nw.n = 3;
	memset(log, 0, sizeof(log));
	log[0].term = 1;
	log[0].index = 1;
	log[0].type = RAFT_ENTRY_CONFIG;
	log[0].len = (uint32_t)raft_config_encode(&c, buf, sizeof(buf));
	log[0].data = buf;
	log[1].term = 2;
	log[1].index = 2;
	memset(&b, 0, sizeof(b));
	b.hard_state.term = 3;
	b.hard_state.commit = 1;
	b.entries = log;
	b.n_entries = 2;
	nw.r[1] = raft_new(1, &o, &b, 1);
	b.n_entries = 1;
	nw.r[2] = raft_new(2, &o, &b, 2);
	nw.r[3] = raft_new(3, &o, &b, 3);
	nw.drop_type = RAFT_MSG_APPEND;
	elect(&nw, 1);
	ck_assert_uint_eq(raft_term(nw.r[1]), 4);
	ck_assert_uint_eq(raft_last_index(nw.r[1]), 3);
	ck_assert_uint_eq(raft_commit(nw.r[1]), 1);
	/* a majority (1 and 2) holds the term-2 entry 2: not enough */
	m = msg(RAFT_MSG_APPEND_RESP, 2, 1, 4);
	m.index = 2;
	raft_step(nw.r[1], &m);
	ck_assert_uint_eq(raft_commit(nw.r[1]), 1);
	m.index = 3;
	raft_step(nw.r[1], &m);
	ck_assert_uint_eq(raft_commit(nw.r[1]), 3);
	net_free(&nw);
}
END_TEST

/* §5.4: committed entries reach followers through the leader's commit
 * index; a follower never commits past what it holds */
START_TEST(test_safety_follower_commit_bounded)
{
	struct raft_options o = opts();
	struct raft_config c = voters(3);
	struct raft *f = boot_node(2, &c, &o);
	struct raft_msg m;

	m = msg(RAFT_MSG_HEARTBEAT, 1, 2, 2);
	m.commit = 50;
	raft_step(f, &m);
	ck_assert_uint_eq(raft_commit(f), 1);
	ck_assert_uint_eq(raft_leader(f), 1);
	raft_free(f);
}
END_TEST

/* §9.6: a server that was partitioned away does not disrupt the cluster:
 * pre-votes are refused while a leader is heard, and the term stays */
START_TEST(test_prevote_partitioned_node_cannot_disrupt)
{
	struct net nw;
	struct raft_options o = opts();
	uint64_t term;

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	term = raft_term(nw.r[1]);
	nw.drop[3][1] = nw.drop[3][2] = nw.drop[1][3] = nw.drop[2][3] = true;
	tick_all(&nw, 100);
	/* node 3 campaigned over and over without raising its term */
	ck_assert_uint_eq(raft_term(nw.r[3]), term);
	memset(nw.drop, 0, sizeof(nw.drop));
	tick_all(&nw, 30);
	ck_assert_int_eq(raft_role(nw.r[1]), RAFT_LEADER);
	ck_assert_uint_eq(raft_term(nw.r[1]), term);
	net_free(&nw);
}
END_TEST

/* §6.2: a leader that does not hear from a majority for an election
 * timeout steps down (check-quorum) */
START_TEST(test_check_quorum_leader_steps_down)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	nw.drop[2][1] = nw.drop[3][1] = true;
	tick_all(&nw, 25);
	ck_assert_int_ne(raft_role(nw.r[1]), RAFT_LEADER);
	net_free(&nw);
}
END_TEST

/* §4.1, §4.2.1: a new server joins as a learner, does not count towards
 * quorums, is promoted once caught up; one change at a time */
START_TEST(test_membership_learner_then_voter)
{
	struct net nw;
	struct raft_options o = opts();
	const struct raft_config *cfg;
	struct raft_boot b;
	uint64_t idx;

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	ck_assert_int_eq(
	    raft_change(nw.r[1], RAFT_ADD_VOTER, 4, &idx), RAFT_OK);
	ck_assert_int_eq(
	    raft_change(nw.r[1], RAFT_REMOVE, 3, NULL), RAFT_ECHANGE);
	cfg = raft_config(nw.r[1]);
	ck_assert_uint_eq(cfg->n, 4);
	ck_assert(!raft_config_is_voter(cfg, 4));
	ck_assert_uint_eq(raft_config_voters(cfg), 3);
	memset(&b, 0, sizeof(b));
	nw.r[4] = raft_new(4, &o, &b, 4);
	nw.n = 4;
	deliver(&nw);
	ck_assert_uint_eq(raft_commit(nw.r[1]), idx);
	tick_all(&nw, 3);
	cfg = raft_config(nw.r[1]);
	ck_assert(raft_config_is_voter(cfg, 4));
	ck_assert_uint_eq(raft_config_voters(raft_config(nw.r[4])), 4);
	net_free(&nw);
}
END_TEST

/* §4.2.2: a leader removed from the configuration keeps leading until the
 * change commits, then steps down; the others elect a new leader */
START_TEST(test_membership_remove_leader)
{
	struct net nw;
	struct raft_options o = opts();
	uint64_t idx;

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	tick_all(&nw, 1);
	ck_assert_int_eq(raft_change(nw.r[1], RAFT_REMOVE, 1, &idx), RAFT_OK);
	ck_assert_int_eq(raft_role(nw.r[1]), RAFT_LEADER);
	deliver(&nw);
	ck_assert_uint_ge(raft_commit(nw.r[1]), idx);
	ck_assert_int_ne(raft_role(nw.r[1]), RAFT_LEADER);
	tick_all(&nw, 40);
	ck_assert(raft_role(nw.r[2]) == RAFT_LEADER ||
	    raft_role(nw.r[3]) == RAFT_LEADER);
	ck_assert_int_ne(raft_role(nw.r[1]), RAFT_LEADER);
	net_free(&nw);
}
END_TEST

/* §7: a snapshot compacts the log keeping a trailing window; a follower
 * that needs compacted entries receives the snapshot in chunks */
START_TEST(test_compaction_snapshot_in_chunks)
{
	struct net nw;
	struct raft_options o = opts();
	uint8_t state[100];
	uint32_t i;

	o.snapshot_chunk_bytes = 30;
	net_init(&nw, 3, &o);
	elect(&nw, 1);
	nw.drop[1][3] = true;
	for (i = 0; i < 20; i++)
		propose(&nw, 1, "v");
	deliver(&nw);
	ck_assert_uint_eq(raft_applied(nw.r[1]), 22);
	memset(state, 7, sizeof(state));
	ck_assert_int_eq(
	    raft_snapshot(nw.r[1], 22, state, sizeof(state), 5), RAFT_OK);
	ck_assert_uint_eq(raft_log_base(nw.r[1]), 17);
	ck_assert_uint_eq(raft_snapshot_meta(nw.r[1])->index, 22);
	ck_assert_int_eq(raft_snapshot(nw.r[1], 30, state, 1, 0), RAFT_EINVAL);
	nw.drop[1][3] = false;
	tick_all(&nw, 10);
	ck_assert_uint_eq(nw.installed[3].index, 22);
	ck_assert_uint_eq(nw.installed[3].config.n, 3);
	ck_assert_uint_eq(raft_commit(nw.r[3]), 22);
	ck_assert_uint_eq(raft_log_base(nw.r[3]), 22);
	net_free(&nw);
}
END_TEST

/* §3.10: leadership transfer: the leader brings the target up to date,
 * sends TimeoutNow, and the target wins at once, lease or not */
START_TEST(test_transfer_timeout_now)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	nw.drop[1][2] = true;
	propose(&nw, 1, "a");
	deliver(&nw);
	nw.drop[1][2] = false;
	ck_assert_int_eq(raft_transfer(nw.r[1], 2), RAFT_OK);
	ck_assert_int_eq(raft_propose(nw.r[1], (const uint8_t *)"b", 1, NULL),
	    RAFT_ETRANSFER);
	ck_assert_int_eq(raft_transfer(nw.r[1], 9), RAFT_ETRANSFER);
	deliver(&nw);
	tick_all(&nw, 8);
	ck_assert_int_eq(raft_role(nw.r[2]), RAFT_LEADER);
	ck_assert_int_eq(raft_role(nw.r[1]), RAFT_FOLLOWER);
	ck_assert_uint_eq(raft_leader(nw.r[3]), 2);
	net_free(&nw);
}
END_TEST

/* §6.4: ReadIndex: the read waits for a heartbeat round acknowledged by
 * a majority, and then carries the commit index of the request time */
START_TEST(test_read_index_needs_quorum)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	ck_assert_int_eq(raft_read_index(nw.r[1], 7), RAFT_ENOTLEADER);
	elect(&nw, 1);
	tick_all(&nw, 1);
	nw.drop[2][1] = nw.drop[3][1] = true;
	ck_assert_int_eq(raft_read_index(nw.r[1], 7), RAFT_OK);
	deliver(&nw);
	ck_assert_uint_eq(nw.n_reads[1], 0);
	nw.drop[2][1] = false;
	tick_all(&nw, 1);
	ck_assert_uint_eq(nw.n_reads[1], 1);
	ck_assert_uint_eq(nw.reads[1][0].req_id, 7);
	ck_assert(nw.reads[1][0].ok);
	ck_assert_uint_eq(nw.reads[1][0].index, raft_commit(nw.r[1]));
	net_free(&nw);
}
END_TEST

/* §6.4: a leader that loses leadership fails its pending reads */
START_TEST(test_read_index_fails_on_step_down)
{
	struct net nw;
	struct raft_options o = opts();

	net_init(&nw, 3, &o);
	elect(&nw, 1);
	tick_all(&nw, 1);
	nw.drop[2][1] = nw.drop[3][1] = true;
	ck_assert_int_eq(raft_read_index(nw.r[1], 9), RAFT_OK);
	tick_all(&nw, 25);
	ck_assert_uint_eq(nw.n_reads[1], 1);
	ck_assert(!nw.reads[1][0].ok);
	net_free(&nw);
}
END_TEST

/* §6.4.1: with the lease, a leader that heard a majority within the
 * election timeout answers at once; without contact the lease runs out */
START_TEST(test_read_lease)
{
	struct net nw;
	struct raft_options o = opts();

	o.lease_reads = true;
	net_init(&nw, 3, &o);
	elect(&nw, 1);
	tick_all(&nw, 2);
	ck_assert_int_eq(raft_read_index(nw.r[1], 1), RAFT_OK);
	flush(&nw, 1);
	ck_assert_uint_eq(nw.n_reads[1], 1);
	nw.drop[2][1] = nw.drop[3][1] = true;
	tick_all(&nw, 9);
	ck_assert_int_eq(raft_read_index(nw.r[1], 2), RAFT_OK);
	flush(&nw, 1);
	ck_assert_uint_eq(nw.n_reads[1], 1);
	net_free(&nw);
}
END_TEST

/* the ordering contract: nothing is sent before it is handed out with
 * its hard state, and no second batch before raft_advance() */
START_TEST(test_ready_one_batch_at_a_time)
{
	struct raft_options o = opts();
	struct raft_config c = voters(1);
	struct raft *r = boot_node(1, &c, &o);
	struct raft_ready rd, rd2;

	ck_assert_int_eq(raft_ready(r, &rd), 1);
	ck_assert(rd.has_hard_state);
	ck_assert_uint_eq(rd.n_entries, 1);
	ck_assert_uint_eq(rd.entries[0].type, RAFT_ENTRY_CONFIG);
	ck_assert_uint_eq(rd.n_committed, 0); /* not durable yet */
	ck_assert_int_eq(raft_ready(r, &rd2), 0);
	raft_advance(r, &rd);
	ck_assert_int_eq(raft_ready(r, &rd), 1);
	ck_assert_uint_eq(rd.n_committed, 1);
	raft_advance(r, &rd);
	raft_free(r);
}
END_TEST

/* the driver restarts a node from its disk: the term and vote stay, the
 * committed entries after the snapshot are handed out to apply again */
START_TEST(test_restart_from_disk)
{
	struct raft_options o = opts();
	struct raft_config c = voters(3);
	struct raft_entry log[3];
	uint8_t cfg[64];
	struct raft_boot b;
	struct raft_ready rd;
	struct raft *r;

	memset(log, 0, sizeof(log));
	log[0].term = 1;
	log[0].index = 1;
	log[0].type = RAFT_ENTRY_CONFIG;
	log[0].len = (uint32_t)raft_config_encode(&c, cfg, sizeof(cfg));
	log[0].data = cfg;
	log[1].term = 2;
	log[1].index = 2;
	log[1].type = RAFT_ENTRY_NOOP;
	log[2].term = 2;
	log[2].index = 3;
	log[2].len = 1;
	log[2].data = (uint8_t *)"z";
	memset(&b, 0, sizeof(b));
	b.hard_state.term = 3;
	b.hard_state.vote = 2;
	b.hard_state.commit = 2;
	b.entries = log;
	b.n_entries = 3;
	b.applied = 1;
	r = raft_new(1, &o, &b, 9);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(raft_term(r), 3);
	ck_assert_uint_eq(raft_vote(r), 2);
	ck_assert_uint_eq(raft_last_index(r), 3);
	ck_assert_uint_eq(raft_config(r)->n, 3);
	ck_assert_int_eq(raft_ready(r, &rd), 1);
	ck_assert(!rd.has_hard_state);
	ck_assert_uint_eq(rd.n_entries, 0);
	ck_assert_uint_eq(rd.n_committed, 1);
	ck_assert_uint_eq(rd.committed[0].index, 2);
	raft_advance(r, &rd);
	ck_assert_uint_eq(raft_applied(r), 2);
	raft_free(r);
	/* a commit index past the log is a corrupted disk */
	b.hard_state.commit = 9;
	ck_assert_ptr_null(raft_new(1, &o, &b, 9));
}
END_TEST

START_TEST(test_config_codec)
{
	struct raft_config c = voters(3), d;
	uint8_t buf[256];
	size_t n;

	c.servers[2].role = RAFT_LEARNER;
	c.servers[2].promote = 1;
	n = raft_config_encode(&c, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(raft_config_decode(&d, buf, n), RAFT_OK);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_uint_eq(d.servers[2].role, RAFT_LEARNER);
	ck_assert_uint_eq(d.servers[2].promote, 1);
	ck_assert_int_eq(raft_config_decode(&d, buf, n - 1), RAFT_EINVAL);
	buf[1] = 0; /* id 0 */
	ck_assert_int_eq(raft_config_decode(&d, buf, n), RAFT_EINVAL);
	ck_assert_uint_eq(raft_config_encode(&c, buf, 3), 0);
}
END_TEST

START_TEST(test_bad_messages_rejected)
{
	struct raft_options o = opts();
	struct raft_config c = voters(3);
	struct raft *r = boot_node(2, &c, &o);
	struct raft_msg m = msg(RAFT_MSG_APPEND, 1, 3, 2);
	struct raft_entry e;

	ck_assert_int_eq(raft_step(r, &m), RAFT_EINVAL); /* not for us */
	m = msg(99, 1, 2, 2);
	ck_assert_int_eq(raft_step(r, &m), RAFT_EINVAL);
	memset(&e, 0, sizeof(e));
	e.index = 7; /* not prev_index + 1 */
	e.term = 1;
	m = msg(RAFT_MSG_APPEND, 1, 2, 2);
	m.entries = &e;
	m.n_entries = 1;
	ck_assert_int_eq(raft_step(r, &m), RAFT_EINVAL);
	/* a config entry that does not decode */
	e.index = 2;
	e.type = RAFT_ENTRY_CONFIG;
	e.len = 1;
	e.data = (uint8_t *)"\x05";
	m.prev_index = 1;
	m.prev_term = 1;
	ck_assert_int_eq(raft_step(r, &m), RAFT_EINVAL);
	ck_assert_uint_eq(raft_term(r), 1);
	ck_assert_uint_eq(raft_last_index(r), 1);
	raft_free(r);
}
END_TEST

static Suite *
raft_suite(void)
{
	Suite *s = suite_create("raft");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_election_timeout_starts_prevote);
	tcase_add_test(tc, test_election_majority_wins);
	tcase_add_test(tc, test_election_one_vote_per_term);
	tcase_add_test(tc, test_election_restriction);
	tcase_add_test(tc, test_replication_commit_and_apply);
	tcase_add_test(tc, test_replication_consistency_check);
	tcase_add_test(tc, test_safety_no_commit_of_old_term_by_counting);
	tcase_add_test(tc, test_safety_follower_commit_bounded);
	tcase_add_test(tc, test_prevote_partitioned_node_cannot_disrupt);
	tcase_add_test(tc, test_check_quorum_leader_steps_down);
	tcase_add_test(tc, test_membership_learner_then_voter);
	tcase_add_test(tc, test_membership_remove_leader);
	tcase_add_test(tc, test_compaction_snapshot_in_chunks);
	tcase_add_test(tc, test_transfer_timeout_now);
	tcase_add_test(tc, test_read_index_needs_quorum);
	tcase_add_test(tc, test_read_index_fails_on_step_down);
	tcase_add_test(tc, test_read_lease);
	tcase_add_test(tc, test_ready_one_batch_at_a_time);
	tcase_add_test(tc, test_restart_from_disk);
	tcase_add_test(tc, test_config_codec);
	tcase_add_test(tc, test_bad_messages_rejected);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(raft_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
