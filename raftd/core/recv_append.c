/*
 * A follower receiving AppendEntries and heartbeats (paper §5.3): the
 * consistency check on (prev_index, prev_term), truncation of a
 * conflicting suffix, and the commit index from the leader.
 */
#include "raft_int.h"

static void
heard_leader(struct raft *r, const struct raft_msg *m)
{
	r->leader = m->from;
	r->election_elapsed = 0;
	r->quiet_elapsed = 0;
}

/* drop our entries from index on: they conflict with the leader's */
static void
truncate_from(struct raft *r, uint64_t index)
{
	/* a committed entry never changes (§5.4) */
	RAFT_ASSERT(index > r->commit);
	rl_truncate(&r->log, index);
	if (r->unstable > index)
		r->unstable = index;
	if (r->stable >= index)
		r->stable = index - 1;
	if (r->config_index >= index)
		raft_config_rebuild(r);
}

static uint64_t
append_entries(struct raft *r, const struct raft_msg *m)
{
	const struct raft_entry *e;
	uint32_t i;

	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		if (e->index <= rl_last(&r->log)) {
			if (rl_term(&r->log, e->index) == e->term)
				continue;
			truncate_from(r, e->index);
		}
		rl_append(&r->log, e);
		if (e->type == RAFT_ENTRY_CONFIG)
			raft_config_apply_entry(r, e);
	}
	return m->prev_index + m->n_entries;
}

void
raft_recv_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp;
	uint64_t last_new, hint;

	heard_leader(r, m);
	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = m->from;
	if (m->prev_index < r->commit) {
		/* everything up to our commit index matches already */
		resp.index = r->commit;
		raft_send(r, &resp);
		return;
	}
	if (rl_term(&r->log, m->prev_index) != m->prev_term) {
		resp.reject = 1;
		resp.index = m->prev_index;
		hint = raft_find_conflict(r, m->prev_index, m->prev_term);
		resp.hint_index = hint;
		resp.hint_term = rl_term(&r->log, hint);
		raft_send(r, &resp);
		return;
	}
	last_new = append_entries(r, m);
	RAFT_ASSERT(last_new <= rl_last(&r->log));
	RAFT_ASSERT(rl_term(&r->log, last_new) <= m->term);
	if (m->commit > r->commit) {
		r->commit = m->commit < last_new ? m->commit : last_new;
		RAFT_ASSERT(r->commit <= rl_last(&r->log));
	}
	resp.index = last_new;
	raft_send(r, &resp);
}

void
raft_recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp;
	uint64_t c = m->commit;

	heard_leader(r, m);
	if (c > rl_last(&r->log))
		c = rl_last(&r->log);
	if (c > r->commit)
		r->commit = c;
	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_HEARTBEAT_RESP;
	resp.to = m->from;
	resp.seq = m->seq;
	resp.index = rl_last(&r->log);
	raft_send(r, &resp);
}
