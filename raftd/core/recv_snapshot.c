/*
 * InstallSnapshot in chunks (paper §7): the leader streams its latest
 * snapshot one chunk at a time; the follower assembles it, then hands it
 * to the driver to install (struct raft_ready.snapshot_install).
 */
#include "raft_int.h"

void
raft_send_snapshot_chunk(struct raft *r, struct raft_progress *p)
{
	struct raft_msg m;
	uint64_t left;

	RAFT_ASSERT(r->snap.index > 0);
	if (p->snap_index != r->snap.index) {
		p->snap_index = r->snap.index;
		p->snap_offset = 0;
	}
	RAFT_ASSERT(p->snap_offset <= r->snap_len);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.to = p->id;
	m.snap = r->snap;
	m.offset = p->snap_offset;
	m.total = r->snap_len;
	left = r->snap_len - p->snap_offset;
	m.len = (uint32_t)(left < r->opt.snapshot_chunk_bytes
		? left
		: r->opt.snapshot_chunk_bytes);
	if (m.len > 0) {
		m.data = raft_xmalloc(m.len);
		memcpy(m.data, r->snap_data + p->snap_offset, m.len);
	}
	raft_send(r, &m);
}

static void
install(struct raft *r)
{
	const struct raft_snapshot_meta *s = &r->in_snap;

	if (rl_term(&r->log, s->index) == s->term) {
		/* we hold that entry: by log matching, all before it too */
		r->commit = s->index;
		return;
	}
	RAFT_ASSERT(s->index > r->commit);
	RAFT_ASSERT(s->config.n <= RAFT_MAX_NODES);
	rl_reset(&r->log, s->index, s->term);
	r->snap = *s;
	free(r->snap_data);
	r->snap_data = r->in_data;
	r->snap_len = r->in_len;
	r->in_data = NULL;
	r->config = s->config;
	r->config_index = s->index;
	r->commit = s->index;
	r->stable = s->index;
	r->unstable = s->index + 1;
	r->install_pending = true;
}

static void
in_reset(struct raft *r)
{
	free(r->in_data);
	r->in_data = NULL;
	r->in_len = r->in_total = 0;
	memset(&r->in_snap, 0, sizeof(r->in_snap));
}

static bool
in_start(struct raft *r, const struct raft_msg *m)
{
	if (m->offset != 0 || m->total > r->opt.max_snapshot_bytes)
		return false;
	in_reset(r);
	r->in_snap = m->snap;
	r->in_total = m->total;
	r->in_data = raft_xmalloc(m->total);
	return true;
}

void
raft_recv_snapshot(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp;

	r->leader = m->from;
	r->election_elapsed = 0;
	r->quiet_elapsed = 0;
	memset(&resp, 0, sizeof(resp));
	resp.to = m->from;
	resp.index = m->snap.index;
	if (m->snap.index <= r->commit) {
		resp.type = RAFT_MSG_APPEND_RESP;
		resp.index = r->commit;
		raft_send(r, &resp);
		return;
	}
	resp.type = RAFT_MSG_SNAPSHOT_RESP;
	if ((r->in_snap.index != m->snap.index ||
		r->in_snap.term != m->snap.term || r->in_total != m->total) &&
	    !in_start(r, m)) {
		resp.reject = 1;
		raft_send(r, &resp);
		return;
	}
	if (m->offset == r->in_len && m->len > 0) {
		memcpy(r->in_data + r->in_len, m->data, m->len);
		r->in_len += m->len;
	}
	if (r->in_len < r->in_total) {
		resp.offset = r->in_len;
		raft_send(r, &resp);
		return;
	}
	install(r);
	in_reset(r);
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.index = r->snap.index > r->commit ? r->snap.index : r->commit;
	raft_send(r, &resp);
}
