/*
 * Leader election (paper §5.2) with pre-vote (dissertation §9.6), the
 * leader-lease vote rule that keeps removed or partitioned servers from
 * disrupting (dissertation §4.2.3), and TimeoutNow (§3.10).
 */
#include "raft_int.h"

void
raft_reset_timeout(struct raft *r)
{
	r->timeout = r->opt.election_ticks +
	    (uint32_t)(raft_rand(r) % r->opt.election_ticks);
}

void
raft_become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
	RAFT_ASSERT(term >= r->term);
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
	}
	if (r->role == RAFT_LEADER)
		raft_reads_fail(r);
	r->role = RAFT_FOLLOWER;
	r->step = raft_step_follower;
	r->leader = leader;
	r->transferee = 0;
	r->need_bcast = false;
	r->read_bcast = false;
	r->election_elapsed = 0;
	raft_reset_timeout(r);
}

void
raft_become_leader(struct raft *r)
{
	RAFT_ASSERT(r->role == RAFT_CANDIDATE);
	RAFT_ASSERT(r->vote == r->id);
	/* §5.4.1: our log is at least as up-to-date as a majority's */
	RAFT_ASSERT(r->n_granted >= raft_quorum(r));
	r->role = RAFT_LEADER;
	r->step = raft_step_leader;
	r->leader = r->id;
	r->transferee = 0;
	r->lease_revoked = false;
	r->n_reads = 0;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	r->quiet_elapsed = 0;
	r->n_prs = 0;
	raft_progress_reset(r);
	r->term_start = rl_last(&r->log) + 1;
	/* commits the previous terms' entries (§5.4.2) */
	raft_append_local(r, RAFT_ENTRY_NOOP, NULL, 0);
}

static bool
tally_has(const uint64_t *ids, uint32_t n, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* record a vote; true once the outcome is decided */
static void
tally(struct raft *r, uint64_t from, bool granted)
{
	if (!raft_is_voter(r, from) ||
	    tally_has(r->votes_granted, r->n_granted, from) ||
	    tally_has(r->votes_rejected, r->n_rejected, from))
		return;
	if (granted)
		r->votes_granted[r->n_granted++] = from;
	else
		r->votes_rejected[r->n_rejected++] = from;
}

static void
tally_decide(struct raft *r)
{
	uint32_t q = raft_quorum(r);

	RAFT_ASSERT(
	    r->n_granted + r->n_rejected <= raft_config_voters(&r->config));
	if (r->n_granted >= q) {
		if (r->role == RAFT_PRECANDIDATE)
			raft_campaign(r, false, false);
		else
			raft_become_leader(r);
	} else if (r->n_rejected >= q) {
		raft_become_follower(r, r->term, 0);
	}
}

void
raft_campaign(struct raft *r, bool pre, bool force)
{
	struct raft_msg m;
	uint32_t i;
	uint64_t last = rl_last(&r->log);

	if (!raft_can_campaign(r))
		return;
	if (r->role == RAFT_LEADER)
		raft_reads_fail(r);
	r->step = raft_step_candidate;
	r->leader = 0;
	r->transferee = 0;
	r->n_granted = r->n_rejected = 0;
	r->election_elapsed = 0;
	raft_reset_timeout(r);
	if (pre) {
		r->role = RAFT_PRECANDIDATE;
	} else {
		r->role = RAFT_CANDIDATE;
		r->term++;
		r->vote = r->id;
	}
	tally(r, r->id, true);
	for (i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].id == r->id ||
		    r->config.servers[i].role != RAFT_VOTER)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
		m.to = r->config.servers[i].id;
		m.term = r->term + (pre ? 1 : 0);
		m.index = last;
		m.log_term = rl_term(&r->log, last);
		m.force = force;
		raft_send(r, &m);
	}
	tally_decide(r);
}

static bool
is_from_leader(int type)
{
	return type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
	    type == RAFT_MSG_SNAPSHOT;
}

static void
reply_stale(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp;

	memset(&resp, 0, sizeof(resp));
	resp.to = m->from;
	if (is_from_leader(m->type)) {
		/* tells a deposed leader of the newer term */
		resp.type = RAFT_MSG_APPEND_RESP;
		resp.reject = 1;
		raft_send(r, &resp);
	} else if (m->type == RAFT_MSG_PREVOTE) {
		resp.type = RAFT_MSG_PREVOTE_RESP;
		resp.term = r->term;
		resp.reject = 1;
		raft_send(r, &resp);
	}
}

/* the term rules every message goes through; non-zero: drop it */
int
raft_step_term(struct raft *r, const struct raft_msg *m)
{
	bool vote = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;

	if (m->term > r->term) {
		/* a leader was heard less than an election timeout ago */
		if (vote && !m->force &&
		    r->quiet_elapsed < r->opt.election_ticks)
			return 1;
		if (m->type == RAFT_MSG_PREVOTE)
			return 0;
		if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)
			return 0;
		raft_become_follower(
		    r, m->term, is_from_leader(m->type) ? m->from : 0);
		return 0;
	}
	if (m->term < r->term) {
		reply_stale(r, m);
		return 1;
	}
	return 0;
}

void
raft_recv_vote(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	bool can, up;
	struct raft_msg resp;

	can = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
	    (pre && m->term > r->term);
	up = raft_log_up_to_date(r, m->index, m->log_term);
#ifdef RAFT_BUG_VOTE_NO_LOG_CHECK
	up = true;
#endif
	memset(&resp, 0, sizeof(resp));
	resp.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
	resp.to = m->from;
	if (can && up) {
		resp.term = pre ? m->term : r->term;
		if (!pre) {
			RAFT_ASSERT(m->term == r->term);
			r->vote = m->from;
			r->election_elapsed = 0;
		}
	} else {
		resp.term = r->term;
		resp.reject = 1;
	}
	raft_send(r, &resp);
}

int
raft_step_follower(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		raft_recv_append(r, m);
		break;
	case RAFT_MSG_HEARTBEAT:
		raft_recv_heartbeat(r, m);
		break;
	case RAFT_MSG_SNAPSHOT:
		raft_recv_snapshot(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		/* §3.10: start an election at once, past the leader lease */
		raft_campaign(r, false, true);
		break;
	default:
		break;
	}
	return RAFT_OK;
}

int
raft_step_candidate(struct raft *r, const struct raft_msg *m)
{
	if (is_from_leader(m->type)) {
		RAFT_ASSERT(m->term == r->term);
		raft_become_follower(r, m->term, m->from);
		return raft_step_follower(r, m);
	}
	if ((m->type == RAFT_MSG_PREVOTE_RESP &&
		r->role == RAFT_PRECANDIDATE) ||
	    (m->type == RAFT_MSG_VOTE_RESP && r->role == RAFT_CANDIDATE)) {
		tally(r, m->from, !m->reject);
		tally_decide(r);
	}
	return RAFT_OK;
}
