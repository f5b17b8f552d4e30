/*
 * Linearizable reads without a log entry: ReadIndex (dissertation §6.4)
 * and the optional leader lease bounded by the election timeout.  A
 * heartbeat round carries a sequence number; a read recorded at commit
 * index c with sequence s is safe once a majority echoed s or later.
 */
#include "raft_int.h"

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : (x > y ? -1 : 0);
}

/* the highest heartbeat round a quorum of voters has answered */
static uint64_t
quorum_seq(const struct raft *r)
{
	uint64_t seq[RAFT_MAX_NODES];
	uint32_t i, n = 0;
	const struct raft_server *s;

	for (i = 0; i < r->config.n; i++) {
		s = &r->config.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		if (s->id == r->id) {
			seq[n++] = r->hb_seq;
			continue;
		}
		for (uint32_t k = 0; k < r->n_prs; k++)
			if (r->prs[k].id == s->id)
				seq[n++] = r->prs[k].acked_seq;
	}
	if (n < raft_quorum(r))
		return 0;
	qsort(seq, n, sizeof(seq[0]), cmp_desc);
	return seq[raft_quorum(r) - 1];
}

/*
 * voters that answered a heartbeat sent at tick t refuse to elect anyone
 * before t + election_ticks (the vote rule in election.c); one tick of
 * margin for ticks that land between send and receipt.
 */
bool
raft_lease_valid(const struct raft *r)
{
	uint64_t s;

	if (!r->opt.lease_reads || r->lease_revoked || r->role != RAFT_LEADER ||
	    r->commit < r->term_start)
		return false;
	s = quorum_seq(r);
	if (s == 0 || r->hb_seq - s >= RAFT_SEQ_RING)
		return false;
	return r->now - r->seq_tick[s % RAFT_SEQ_RING] + 1 <
	    r->opt.election_ticks;
}

void
raft_reads_advance(struct raft *r)
{
	uint64_t s;
	uint32_t k = 0;

	if (r->role != RAFT_LEADER || r->n_reads == 0)
		return;
	s = quorum_seq(r);
	RAFT_ASSERT(s <= r->hb_seq);
	while (k < r->n_reads && r->reads[k].seq <= s) {
		RAFT_ASSERT(r->reads[k].index <= r->commit);
		RAFT_ASSERT(k == 0 || r->reads[k - 1].seq <= r->reads[k].seq);
		raft_read_done(r, r->reads[k].req_id, r->reads[k].index, true);
		k++;
	}
	memmove(r->reads, r->reads + k, (r->n_reads - k) * sizeof(r->reads[0]));
	r->n_reads -= k;
}

void
raft_reads_fail(struct raft *r)
{
	uint32_t k;

	for (k = 0; k < r->n_reads; k++)
		raft_read_done(r, r->reads[k].req_id, 0, false);
	r->n_reads = 0;
}

int
raft_read_index(struct raft *r, uint64_t req_id)
{
	struct raft_pending_read *rd;

	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	/* our commit index may lag the last leader's until then */
	if (r->commit < r->term_start)
		return RAFT_EAGAIN;
	if (r->n_reads + r->n_rdone >= RAFT_MAX_READS)
		return RAFT_EBUSY;
#ifdef RAFT_BUG_READINDEX_NO_CONFIRM
	raft_read_done(r, req_id, r->commit, true);
	return RAFT_OK;
#endif
	if (raft_lease_valid(r)) {
		raft_read_done(r, req_id, r->commit, true);
		return RAFT_OK;
	}
	rd = &r->reads[r->n_reads++];
	rd->req_id = req_id;
	rd->index = r->commit;
	rd->seq = r->hb_seq + 1;
	r->read_bcast = true;
	return RAFT_OK;
}
