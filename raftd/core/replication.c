/*
 * The leader: log replication (paper §5.3) with batching, pipelining in a
 * bounded in-flight window per follower, fast backtracking, the commit
 * rule that counts only current-term entries (§5.4.2), heartbeats and
 * check-quorum (dissertation §6.2).
 */
#include "raft_int.h"

struct raft_progress *
raft_progress(struct raft *r, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

/* the set of followers follows the configuration in force */
void
raft_progress_reset(struct raft *r)
{
	struct raft_progress old[RAFT_MAX_NODES], *p;
	uint32_t i, n_old = r->n_prs;
	uint64_t id;

	memcpy(old, r->prs, sizeof(old));
	r->n_prs = 0;
	for (i = 0; i < r->config.n; i++) {
		id = r->config.servers[i].id;
		if (id == r->id)
			continue;
		p = &r->prs[r->n_prs++];
		memset(p, 0, sizeof(*p));
		for (uint32_t k = 0; k < n_old; k++)
			if (old[k].id == id)
				*p = old[k];
		if (p->id == 0) {
			p->id = id;
			p->next = rl_last(&r->log) + 1;
			p->state = PR_PROBE;
		}
	}
}

/* what the leader believes of a follower must hang together */
static void
progress_check(const struct raft *r, const struct raft_progress *p)
{
	uint32_t k;
	uint64_t prev = p->match;

	RAFT_ASSERT(p->match < p->next);
	RAFT_ASSERT(p->match <= rl_last(&r->log));
	RAFT_ASSERT(p->n_inflight <= r->opt.max_inflight);
	RAFT_ASSERT(p->state == PR_REPLICATE || p->n_inflight == 0);
	for (k = 0; k < p->n_inflight; k++) {
		uint64_t last =
		    p->inflight[(p->inflight_head + k) % RAFT_MAX_INFLIGHT];

		RAFT_ASSERT(last > prev && last < p->next);
		prev = last;
	}
}

static void
inflight_free_to(struct raft_progress *p, uint64_t index)
{
	while (p->n_inflight > 0 && p->inflight[p->inflight_head] <= index) {
		p->inflight_head = (p->inflight_head + 1) % RAFT_MAX_INFLIGHT;
		p->n_inflight--;
	}
}

static void
become_probe(struct raft_progress *p)
{
	p->state = PR_PROBE;
	p->paused = false;
	p->stalls = 0;
	p->n_inflight = 0;
	p->inflight_head = 0;
	p->next = p->match + 1;
}

static void
become_replicate(struct raft_progress *p)
{
	p->state = PR_REPLICATE;
	p->paused = false;
	p->n_inflight = 0;
	p->inflight_head = 0;
	p->next = p->match + 1;
}

static uint32_t
batch_size(const struct raft *r, uint64_t from)
{
	uint64_t last = rl_last(&r->log), i;
	uint64_t bytes = 0;
	uint32_t n = 0;

	for (i = from; i <= last && n < r->opt.max_batch_entries; i++) {
		bytes += rl_get(&r->log, i)->len;
		if (n > 0 && bytes > r->opt.max_batch_bytes)
			break;
		n++;
	}
	return n;
}

static bool
send_one(struct raft *r, struct raft_progress *p)
{
	struct raft_msg m;
	uint32_t i, n;

	progress_check(r, p);
	if (p->state == PR_SNAPSHOT || (p->state == PR_PROBE && p->paused))
		return false;
	if (p->state == PR_REPLICATE && p->n_inflight >= r->opt.max_inflight)
		return false;
	if (p->next <= r->log.base) {
		/* the entries it needs are compacted away */
		p->state = PR_SNAPSHOT;
		p->n_inflight = 0;
		p->inflight_head = 0;
		p->next = p->match + 1;
		p->snap_index = r->snap.index;
		p->snap_offset = 0;
		raft_send_snapshot_chunk(r, p);
		return false;
	}
	n = batch_size(r, p->next);
	if (n == 0 && p->state == PR_REPLICATE)
		return false;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.to = p->id;
	m.prev_index = p->next - 1;
	m.prev_term = rl_term(&r->log, m.prev_index);
	m.commit = r->commit;
	m.n_entries = n;
	if (n > 0)
		m.entries = raft_xcalloc(n, sizeof(*m.entries));
	for (i = 0; i < n; i++)
		raft_entry_copy(&m.entries[i], rl_get(&r->log, p->next + i));
	raft_send(r, &m);
	if (p->state == PR_PROBE) {
		p->paused = true;
		return false;
	}
	p->next += n;
	p->inflight[(p->inflight_head + p->n_inflight) % RAFT_MAX_INFLIGHT] =
	    p->next - 1;
	p->n_inflight++;
	return true;
}

/* pipelining: keep sending until the window is full or nothing is left */
void
raft_send_append(struct raft *r, struct raft_progress *p)
{
	uint32_t bound = RAFT_MAX_INFLIGHT + 1;

	while (bound-- > 0 && send_one(r, p))
		;
}

void
raft_bcast_append(struct raft *r)
{
	uint32_t i;

	r->need_bcast = false;
	for (i = 0; i < r->n_prs; i++)
		raft_send_append(r, &r->prs[i]);
}

void
raft_bcast_heartbeat(struct raft *r)
{
	struct raft_msg m;
	struct raft_progress *p;
	uint32_t i;

	r->read_bcast = false;
	r->hb_seq++;
	r->seq_tick[r->hb_seq % RAFT_SEQ_RING] = r->now;
	for (i = 0; i < r->n_prs; i++) {
		p = &r->prs[i];
		memset(&m, 0, sizeof(m));
		m.type = RAFT_MSG_HEARTBEAT;
		m.to = p->id;
		/* never past what the follower is known to hold */
		m.commit = p->match < r->commit ? p->match : r->commit;
		m.seq = r->hb_seq;
		raft_send(r, &m);
	}
	raft_reads_advance(r);
}

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : (x > y ? -1 : 0);
}

bool
raft_maybe_commit(struct raft *r)
{
	uint64_t match[RAFT_MAX_NODES], n_match = 0, idx;
	uint32_t i;
	struct raft_progress *p;

	for (i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].role != RAFT_VOTER)
			continue;
		if (r->config.servers[i].id == r->id) {
			match[n_match++] = r->stable;
			continue;
		}
		p = raft_progress(r, r->config.servers[i].id);
		RAFT_ASSERT(p != NULL);
		match[n_match++] = p->match;
	}
	if (n_match == 0)
		return false;
	qsort(match, n_match, sizeof(match[0]), cmp_desc);
	idx = match[raft_quorum(r) - 1];
	if (idx <= r->commit)
		return false;
#ifndef RAFT_BUG_COMMIT_OLD_TERM
	/* §5.4.2: only an entry of the current term commits by counting */
	if (rl_term(&r->log, idx) != r->term)
		return false;
#endif
	RAFT_ASSERT(idx <= r->stable || !raft_is_voter(r, r->id) ||
	    raft_quorum(r) < n_match);
	r->commit = idx;
	r->need_bcast = true;
	raft_after_config_commit(r);
	if (r->role == RAFT_LEADER)
		raft_reads_advance(r);
	return true;
}

static void
send_timeout_now(struct raft *r, uint64_t to)
{
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_TIMEOUT_NOW;
	m.to = to;
	/* its election ignores the lease: ours is void from here on */
	r->lease_revoked = true;
	raft_send(r, &m);
}

static void
recv_append_resp(
    struct raft *r, struct raft_progress *p, const struct raft_msg *m)
{
	uint64_t next;

	if (m->reject) {
		if (p->state == PR_REPLICATE && m->index > p->match) {
			become_probe(p);
		} else if (p->state == PR_PROBE && m->index == p->next - 1) {
			next = m->hint_index;
			if (m->hint_term > 0)
				next = raft_find_conflict(
				    r, m->hint_index, m->hint_term);
			/* the match lies before our log: send a snapshot */
			if (next == r->log.base && next > 0 &&
			    rl_term(&r->log, next) > m->hint_term)
				next--;
			p->next =
			    next + 1 > p->match + 1 ? next + 1 : p->match + 1;
			p->paused = false;
		}
		raft_send_append(r, p);
		return;
	}
	/* a follower cannot hold what we never had */
	if (m->index > rl_last(&r->log))
		return;
	if (m->index > p->match)
		p->match = m->index;
	if (p->next < p->match + 1)
		p->next = p->match + 1;
	if (p->state == PR_PROBE ||
	    (p->state == PR_SNAPSHOT && p->match >= p->snap_index))
		become_replicate(p);
	inflight_free_to(p, p->match);
	progress_check(r, p);
	raft_maybe_commit(r);
	if (r->role != RAFT_LEADER)
		return;
	if (r->transferee == p->id && p->match == rl_last(&r->log))
		send_timeout_now(r, p->id);
	raft_send_append(r, p);
}

static void
recv_heartbeat_resp(
    struct raft *r, struct raft_progress *p, const struct raft_msg *m)
{
	if (m->seq > p->acked_seq)
		p->acked_seq = m->seq;
	raft_reads_advance(r);
	if (p->state == PR_SNAPSHOT) {
		/* retransmit a chunk that may have been lost */
		raft_send_snapshot_chunk(r, p);
		return;
	}
	/* appends or acks lost: no progress over several heartbeats */
	if (p->state == PR_REPLICATE && p->match + 1 < p->next &&
	    p->match == p->stall_match)
		p->stalls++;
	else
		p->stalls = 0;
	p->stall_match = p->match;
	if (p->stalls >= 3)
		become_probe(p);
	if (p->match < rl_last(&r->log)) {
		if (p->state == PR_REPLICATE &&
		    p->n_inflight >= r->opt.max_inflight)
			inflight_free_to(p, p->inflight[p->inflight_head]);
		p->paused = false;
		raft_send_append(r, p);
	}
}

static void
recv_snapshot_resp(
    struct raft *r, struct raft_progress *p, const struct raft_msg *m)
{
	if (p->state != PR_SNAPSHOT || m->index != p->snap_index)
		return;
	if (p->snap_index != r->snap.index) {
		/* a newer snapshot replaced it: start over */
		p->snap_index = r->snap.index;
		p->snap_offset = 0;
	} else if (m->reject) {
		p->snap_offset = 0;
	} else if (m->offset <= r->snap_len) {
		/* the follower says what it holds: a crash may have lost it */
		p->snap_offset = m->offset;
	} else {
		return;
	}
	if (p->snap_offset < r->snap_len || p->snap_offset == 0)
		raft_send_snapshot_chunk(r, p);
}

int
raft_step_leader(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *p = raft_progress(r, m->from);

	/* two leaders in one term would break election safety (§5.2) */
	RAFT_ASSERT(m->type != RAFT_MSG_APPEND &&
	    m->type != RAFT_MSG_HEARTBEAT && m->type != RAFT_MSG_SNAPSHOT);
	if (p == NULL)
		return RAFT_OK;
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
		p->active = true;
		recv_append_resp(r, p, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		p->active = true;
		recv_heartbeat_resp(r, p, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		p->active = true;
		recv_snapshot_resp(r, p, m);
		break;
	default:
		break;
	}
	return RAFT_OK;
}

/* dissertation §6.2: a leader that cannot reach a majority steps down */
static bool
check_quorum(struct raft *r)
{
	uint32_t i, active = 0;
	struct raft_progress *p;

	for (i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].role != RAFT_VOTER)
			continue;
		if (r->config.servers[i].id == r->id) {
			active++;
			continue;
		}
		p = raft_progress(r, r->config.servers[i].id);
		if (p != NULL && p->active)
			active++;
	}
	for (i = 0; i < r->n_prs; i++)
		r->prs[i].active = false;
	return active >= raft_quorum(r);
}

void
raft_leader_tick(struct raft *r)
{
	r->quiet_elapsed = 0;
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->transferee != 0 &&
	    ++r->transfer_elapsed >= r->opt.election_ticks)
		r->transferee = 0;
	if (r->election_elapsed >= r->opt.election_ticks) {
		r->election_elapsed = 0;
		if (!check_quorum(r)) {
			raft_become_follower(r, r->term, 0);
			return;
		}
	}
	if (r->heartbeat_elapsed >= r->opt.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		raft_bcast_heartbeat(r);
		raft_maybe_promote(r);
	}
}

int
raft_transfer(struct raft *r, uint64_t target)
{
	struct raft_progress *p;

	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee != 0)
		return RAFT_ETRANSFER;
	if (target == r->id || !raft_is_voter(r, target))
		return RAFT_EINVAL;
	p = raft_progress(r, target);
	RAFT_ASSERT(p != NULL);
	r->transferee = target;
	/* abandoned after one election timeout (leader tick) */
	r->transfer_elapsed = 0;
	if (p->match == rl_last(&r->log))
		send_timeout_now(r, target);
	else
		raft_send_append(r, p);
	return RAFT_OK;
}
