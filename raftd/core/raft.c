/*
 * The raft core's entry points: creation, ticks, the step dispatcher,
 * proposals, and the batch of work handed to the driver.
 */
#include "raft_int.h"

void (*raft_assert_hook)(const char *, int, const char *);

void
raft_assert_fail(const char *file, int line, const char *expr)
{
	if (raft_assert_hook != NULL)
		raft_assert_hook(file, line, expr);
	abort();
}

/* allocation failure leaves the core unable to keep its invariants */
void *
raft_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	RAFT_ASSERT(p != NULL);
	return p;
}

void *
raft_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	RAFT_ASSERT(p != NULL);
	return p;
}

void *
raft_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	RAFT_ASSERT(p != NULL);
	return p;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
uint64_t
raft_rand(struct raft *r)
{
	uint64_t *s = r->rng;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

void
raft_options_default(struct raft_options *o)
{
	memset(o, 0, sizeof(*o));
	o->election_ticks = 10;
	o->heartbeat_ticks = 1;
	o->max_batch_entries = 64;
	o->max_batch_bytes = 1 << 20;
	o->max_inflight = 4;
	o->max_uncommitted = 4096;
	o->snapshot_chunk_bytes = 64 * 1024;
	o->max_snapshot_bytes = 1ULL << 34;
	o->lease_reads = false;
}

static bool
options_valid(const struct raft_options *o)
{
	return o->election_ticks >= 2 &&
	    o->heartbeat_ticks < o->election_ticks && o->heartbeat_ticks > 0 &&
	    o->max_batch_entries > 0 && o->max_inflight > 0 &&
	    o->max_inflight <= RAFT_MAX_INFLIGHT &&
	    o->snapshot_chunk_bytes > 0 && o->max_uncommitted > 0;
}

static void
boot_bootstrap(struct raft *r, const struct raft_config *c)
{
	uint8_t buf[1 + RAFT_MAX_NODES * 10];
	struct raft_entry e;

	e.term = 1;
	e.index = 1;
	e.type = RAFT_ENTRY_CONFIG;
	e.len = (uint32_t)raft_config_encode(c, buf, sizeof(buf));
	e.data = buf;
	RAFT_ASSERT(e.len > 0);
	rl_append(&r->log, &e);
	r->term = 1;
	/* every first member holds this same entry: it is committed */
	r->commit = 1;
}

static int
boot_load(struct raft *r, const struct raft_boot *b)
{
	uint32_t i;

	r->term = b->hard_state.term;
	r->vote = b->hard_state.vote;
	r->commit = b->hard_state.commit;
	r->snap = b->snapshot;
	if (b->snapshot_len > 0) {
		r->snap_data = raft_xmalloc(b->snapshot_len);
		memcpy(r->snap_data, b->snapshot_data, b->snapshot_len);
		r->snap_len = b->snapshot_len;
	}
	if (b->log_base_index > b->snapshot.index)
		return RAFT_EINVAL;
	rl_reset(&r->log, b->log_base_index, b->log_base_term);
	for (i = 0; i < b->n_entries; i++) {
		if (b->entries[i].index != rl_last(&r->log) + 1 ||
		    b->entries[i].term < rl_term(&r->log, rl_last(&r->log)))
			return RAFT_EINVAL;
		rl_append(&r->log, &b->entries[i]);
	}
	if (rl_last(&r->log) < b->snapshot.index)
		rl_reset(&r->log, b->snapshot.index, b->snapshot.term);
	if (r->commit < r->snap.index)
		r->commit = r->snap.index;
	if (r->commit > rl_last(&r->log))
		return RAFT_EINVAL;
	r->applied = b->applied > r->snap.index ? b->applied : r->snap.index;
	if (r->applied > r->commit)
		return RAFT_EINVAL;
	if (rl_last(&r->log) == 0 && r->snap.index == 0 && b->bootstrap)
		boot_bootstrap(r, b->bootstrap);
	return RAFT_OK;
}

struct raft *
raft_new(uint64_t id, const struct raft_options *opt, const struct raft_boot *b,
    uint64_t seed)
{
	struct raft *r;
	uint64_t x = seed ^ (id * 0x9e3779b97f4a7c15ULL);
	int i;

	if (id == 0 || !options_valid(opt))
		return NULL;
	r = raft_xcalloc(1, sizeof(*r));
	r->id = id;
	r->opt = *opt;
	for (i = 0; i < 4; i++)
		r->rng[i] = splitmix64(&x);
	if (boot_load(r, b) != RAFT_OK) {
		raft_free(r);
		return NULL;
	}
	r->applying = r->applied;
	r->stable =
	    b->n_entries > 0 || b->snapshot.index > 0 ? rl_last(&r->log) : 0;
	if (r->stable < r->log.base)
		r->stable = r->log.base;
	r->unstable = r->stable + 1;
	r->hs_out = b->hard_state;
	raft_config_rebuild(r);
	raft_become_follower(r, r->term, 0);
	/* a restarted node may have promised a leader not to vote: wait */
	r->quiet_elapsed = 0;
	return r;
}

void
raft_free(struct raft *r)
{
	uint32_t i;

	if (r == NULL)
		return;
	rl_free(&r->log);
	free(r->snap_data);
	free(r->in_data);
	for (i = 0; i < r->n_msgs; i++)
		raft_msg_free(&r->msgs[i]);
	free(r->msgs);
	free(r->rdone);
	free(r);
}

/* cheap structural invariants, checked after every entry point */
static void
invariants(const struct raft *r)
{
	uint64_t last = rl_last(&r->log);

	RAFT_ASSERT(r->commit <= last);
	RAFT_ASSERT(r->applied <= r->commit || r->batch_out);
	RAFT_ASSERT(r->stable <= last);
	RAFT_ASSERT(r->log.base <= r->snap.index || r->snap.index == 0);
	RAFT_ASSERT(r->snap.index <= r->commit);
	RAFT_ASSERT(r->unstable <= last + 1);
	RAFT_ASSERT(r->vote == 0 || r->term > 0);
	RAFT_ASSERT(r->config.n <= RAFT_MAX_NODES);
	RAFT_ASSERT(r->config_index <= last);
	RAFT_ASSERT(r->n_reads <= RAFT_MAX_READS);
	RAFT_ASSERT(r->role != RAFT_LEADER || r->leader == r->id);
	RAFT_ASSERT(r->role != RAFT_CANDIDATE || r->vote == r->id);
	RAFT_ASSERT(r->role == RAFT_LEADER || r->n_reads == 0);
	RAFT_ASSERT(rl_term(&r->log, last) <= r->term);
}

void
raft_tick(struct raft *r)
{
	r->now++;
	if (r->quiet_elapsed < UINT32_MAX)
		r->quiet_elapsed++;
	if (r->role == RAFT_LEADER) {
		raft_leader_tick(r);
		return;
	}
	r->election_elapsed++;
	if (r->election_elapsed >= r->timeout && raft_can_campaign(r))
		raft_campaign(r, true, false);
	else if (r->election_elapsed >= r->timeout)
		r->election_elapsed = 0;
	invariants(r);
}

/* entries come from a peer: a bad one must not reach an assertion */
static bool
entry_valid(const struct raft_entry *e, uint64_t index, uint64_t term)
{
	struct raft_config c;

	if (e->index != index || e->term > term || e->term == 0 ||
	    e->type > RAFT_ENTRY_NOOP || (e->len > 0 && e->data == NULL))
		return false;
	return e->type != RAFT_ENTRY_CONFIG ||
	    raft_config_decode(&c, e->data, e->len) == RAFT_OK;
}

static bool
msg_valid(const struct raft *r, const struct raft_msg *m)
{
	if (m->to != r->id || m->from == 0 || m->from == r->id)
		return false;
	if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TIMEOUT_NOW)
		return false;
	if (m->type == RAFT_MSG_APPEND) {
		if (m->n_entries > 0 && m->entries == NULL)
			return false;
		for (uint32_t i = 0; i < m->n_entries; i++)
			if (!entry_valid(
				&m->entries[i], m->prev_index + 1 + i, m->term))
				return false;
	}
	if (m->type == RAFT_MSG_SNAPSHOT &&
	    (m->offset > m->total || m->len > m->total - m->offset ||
		(m->len > 0 && !m->data) || m->snap.config.n > RAFT_MAX_NODES ||
		m->snap.index == 0 || m->snap.term > m->term))
		return false;
	return true;
}

int
raft_step(struct raft *r, const struct raft_msg *m)
{
	int rc = RAFT_OK;

	if (!msg_valid(r, m))
		return RAFT_EINVAL;
	if (raft_step_term(r, m) == 0) {
		if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE)
			raft_recv_vote(r, m);
		else
			rc = r->step(r, m);
	}
	invariants(r);
	return rc;
}

/* queue a message for the next batch; takes over m's pointers */
void
raft_send(struct raft *r, struct raft_msg *m)
{
	RAFT_ASSERT(m->to != r->id && m->to != 0);
	m->from = r->id;
	if (m->type != RAFT_MSG_PREVOTE && m->type != RAFT_MSG_PREVOTE_RESP)
		m->term = r->term;
	/* a driver that does not drain batches loses messages, as a
	 * network would; raft retries */
	if (r->n_msgs >= RAFT_MAX_PENDING_MSGS) {
		raft_msg_free(m);
		return;
	}
	if (r->n_msgs == r->cap_msgs) {
		r->cap_msgs = r->cap_msgs ? r->cap_msgs * 2 : 16;
		r->msgs = raft_xrealloc(r->msgs, r->cap_msgs * sizeof(*m));
	}
	r->msgs[r->n_msgs++] = *m;
}

void
raft_read_done(struct raft *r, uint64_t req_id, uint64_t index, bool ok)
{
	if (r->n_rdone == r->cap_rdone) {
		r->cap_rdone = r->cap_rdone ? r->cap_rdone * 2 : 16;
		r->rdone =
		    raft_xrealloc(r->rdone, r->cap_rdone * sizeof(*r->rdone));
	}
	r->rdone[r->n_rdone].req_id = req_id;
	r->rdone[r->n_rdone].index = index;
	r->rdone[r->n_rdone].ok = ok;
	r->n_rdone++;
}

void
raft_append_local(struct raft *r, int type, const uint8_t *data, uint32_t len)
{
	struct raft_entry e;

	RAFT_ASSERT(r->role == RAFT_LEADER);
	e.term = r->term;
	e.index = rl_last(&r->log) + 1;
	e.type = (uint8_t)type;
	e.len = len;
	e.data = (uint8_t *)data;
	rl_append(&r->log, &e);
	if (type == RAFT_ENTRY_CONFIG) {
		raft_config_apply_entry(r, &e);
		raft_progress_reset(r);
	}
	r->need_bcast = true;
}

int
raft_propose(struct raft *r, const uint8_t *data, uint32_t len, uint64_t *index)
{
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee != 0)
		return RAFT_ETRANSFER;
	if (len > r->opt.max_batch_bytes || (len > 0 && data == NULL))
		return RAFT_EINVAL;
	if (rl_last(&r->log) - r->commit >= r->opt.max_uncommitted)
		return RAFT_EBUSY;
	raft_append_local(r, RAFT_ENTRY_NORMAL, data, len);
	if (index != NULL)
		*index = rl_last(&r->log);
	return RAFT_OK;
}

int
raft_snapshot(struct raft *r, uint64_t index, const uint8_t *data, uint64_t len,
    uint64_t trailing)
{
	struct raft_config c;
	uint64_t keep;

	if (index > r->applied || index <= r->snap.index ||
	    index <= r->log.base || (len > 0 && data == NULL))
		return RAFT_EINVAL;
	if (raft_config_at(r, index, &c) != RAFT_OK)
		return RAFT_EINVAL;
	r->snap.index = index;
	r->snap.term = rl_term(&r->log, index);
	r->snap.config = c;
	RAFT_ASSERT(r->snap.term != 0);
	free(r->snap_data);
	r->snap_data = raft_xmalloc(len);
	memcpy(r->snap_data, data, len);
	r->snap_len = len;
	/* trailing entries let slow followers catch up without a snapshot */
	keep = index > trailing ? index - trailing : 0;
	if (keep > r->log.base && keep <= r->stable) {
		rl_compact(&r->log, keep);
		r->compact_index = keep;
		r->compact_term = r->log.base_term;
	}
	return RAFT_OK;
}

static void
ready_entries(struct raft *r, struct raft_ready *rd)
{
	uint64_t i, last = rl_last(&r->log);

	if (r->unstable > last)
		return;
	rd->n_entries = (uint32_t)(last - r->unstable + 1);
	rd->entries = raft_xcalloc(rd->n_entries, sizeof(*rd->entries));
	for (i = r->unstable; i <= last; i++)
		raft_entry_copy(
		    &rd->entries[i - r->unstable], rl_get(&r->log, i));
	r->unstable = last + 1;
}

static void
ready_committed(struct raft *r, struct raft_ready *rd)
{
	uint64_t i, to = r->commit < r->stable ? r->commit : r->stable;

#ifdef RAFT_BUG_APPLY_UNCOMMITTED
	to = r->stable;
#endif
	rd->applied_to = r->applied;
	if (rd->snapshot_install || to <= r->applied)
		return;
	RAFT_ASSERT(r->applied >= r->log.base);
	rd->n_committed = (uint32_t)(to - r->applied);
	rd->committed = raft_xcalloc(rd->n_committed, sizeof(*rd->committed));
	for (i = r->applied + 1; i <= to; i++)
		raft_entry_copy(
		    &rd->committed[i - r->applied - 1], rl_get(&r->log, i));
	rd->applied_to = to;
}

static void
ready_install(struct raft *r, struct raft_ready *rd)
{
	if (!r->install_pending)
		return;
	rd->snapshot_install = true;
	rd->snapshot = r->snap;
	rd->snapshot_len = r->snap_len;
	rd->snapshot_data = raft_xmalloc(r->snap_len);
	memcpy(rd->snapshot_data, r->snap_data, r->snap_len);
	r->install_pending = false;
}

int
raft_ready(struct raft *r, struct raft_ready *rd)
{
	struct raft_hard_state hs;

	memset(rd, 0, sizeof(*rd));
	if (r->batch_out)
		return 0;
	if (r->role == RAFT_LEADER && r->need_bcast)
		raft_bcast_append(r);
	if (r->role == RAFT_LEADER && r->read_bcast)
		raft_bcast_heartbeat(r);
	hs.term = r->term;
	hs.vote = r->vote;
	hs.commit = r->commit;
#ifdef RAFT_BUG_VOTE_NOT_PERSISTED
	hs.vote = r->hs_out.term == r->term ? r->hs_out.vote : 0;
#endif
	if (memcmp(&hs, &r->hs_out, sizeof(hs)) != 0) {
		rd->has_hard_state = true;
		rd->hard_state = hs;
		r->hs_out = hs;
	}
	ready_install(r, rd);
	ready_entries(r, rd);
	ready_committed(r, rd);
	rd->compact_index = r->compact_index;
	rd->compact_term = r->compact_term;
	r->compact_index = 0;
	rd->msgs = r->msgs;
	rd->n_msgs = r->n_msgs;
	r->msgs = NULL;
	r->n_msgs = r->cap_msgs = 0;
	rd->reads = r->rdone;
	rd->n_reads = r->n_rdone;
	r->rdone = NULL;
	r->n_rdone = r->cap_rdone = 0;
	rd->last_index = rl_last(&r->log);
	rd->last_term = rl_term(&r->log, rd->last_index);
	if (!rd->has_hard_state && !rd->snapshot_install &&
	    rd->n_entries == 0 && rd->n_committed == 0 &&
	    rd->compact_index == 0 && rd->n_msgs == 0 && rd->n_reads == 0)
		return 0;
	r->batch_out = true;
	return 1;
}

void
raft_ready_free(struct raft_ready *rd)
{
	uint32_t i;

	for (i = 0; i < rd->n_entries; i++)
		free(rd->entries[i].data);
	for (i = 0; i < rd->n_committed; i++)
		free(rd->committed[i].data);
	for (i = 0; i < rd->n_msgs; i++)
		raft_msg_free(&rd->msgs[i]);
	free(rd->entries);
	free(rd->committed);
	free(rd->msgs);
	free(rd->reads);
	free(rd->snapshot_data);
	memset(rd, 0, sizeof(*rd));
}

void
raft_advance(struct raft *r, struct raft_ready *rd)
{
	uint64_t upto;

	RAFT_ASSERT(r->batch_out);
	r->batch_out = false;
	if (rd->snapshot_install &&
	    rl_term(&r->log, rd->snapshot.index) == rd->snapshot.term) {
		if (rd->snapshot.index > r->stable)
			r->stable = rd->snapshot.index;
		if (rd->snapshot.index > r->applied)
			r->applied = rd->snapshot.index;
	}
	if (rl_term(&r->log, rd->last_index) == rd->last_term)
		upto = rd->last_index;
	else
		upto = rd->last_index < r->unstable - 1 ? rd->last_index
							: r->unstable - 1;
	if (upto > r->stable && upto >= r->log.base)
		r->stable = upto;
	if (rd->applied_to > r->applied)
		r->applied = rd->applied_to;
	RAFT_ASSERT(r->stable <= rl_last(&r->log));
	RAFT_ASSERT(r->applied <= r->commit || rd->n_committed > 0);
	raft_ready_free(rd);
	if (r->role == RAFT_LEADER) {
		raft_maybe_commit(r);
		raft_reads_advance(r);
	}
	invariants(r);
}

void
raft_msg_free(struct raft_msg *m)
{
	uint32_t i;

	for (i = 0; i < m->n_entries; i++)
		free(m->entries[i].data);
	free(m->entries);
	free(m->data);
	m->entries = NULL;
	m->n_entries = 0;
	m->data = NULL;
	m->len = 0;
}

void
raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src)
{
	uint32_t i;

	*dst = *src;
	dst->entries = NULL;
	dst->data = NULL;
	if (src->n_entries > 0) {
		dst->entries =
		    raft_xcalloc(src->n_entries, sizeof(*src->entries));
		for (i = 0; i < src->n_entries; i++)
			raft_entry_copy(&dst->entries[i], &src->entries[i]);
	}
	if (src->len > 0) {
		dst->data = raft_xmalloc(src->len);
		memcpy(dst->data, src->data, src->len);
	}
}

uint64_t
raft_id(const struct raft *r)
{
	return r->id;
}

int
raft_role(const struct raft *r)
{
	return r->role;
}

uint64_t
raft_term(const struct raft *r)
{
	return r->term;
}

uint64_t
raft_vote(const struct raft *r)
{
	return r->vote;
}

uint64_t
raft_leader(const struct raft *r)
{
	return r->leader;
}

uint64_t
raft_commit(const struct raft *r)
{
	return r->commit;
}

uint64_t
raft_applied(const struct raft *r)
{
	return r->applied;
}

uint64_t
raft_last_index(const struct raft *r)
{
	return rl_last(&r->log);
}

uint64_t
raft_log_base(const struct raft *r)
{
	return r->log.base;
}

uint64_t
raft_term_at(const struct raft *r, uint64_t index)
{
	return rl_term(&r->log, index);
}

const struct raft_entry *
raft_entry_at(const struct raft *r, uint64_t index)
{
	return rl_get(&r->log, index);
}

const struct raft_config *
raft_config(const struct raft *r)
{
	return &r->config;
}

uint64_t
raft_config_index(const struct raft *r)
{
	return r->config_index;
}

const struct raft_snapshot_meta *
raft_snapshot_meta(const struct raft *r)
{
	return &r->snap;
}

const char *
raft_strerror(int err)
{
	switch (err) {
	case RAFT_OK:
		return "ok";
	case RAFT_ENOTLEADER:
		return "not the leader";
	case RAFT_EBUSY:
		return "busy";
	case RAFT_EINVAL:
		return "invalid argument";
	case RAFT_ETRANSFER:
		return "leadership transfer in progress";
	case RAFT_EAGAIN:
		return "leader not ready";
	case RAFT_ECHANGE:
		return "membership change in flight";
	default:
		return "unknown error";
	}
}

const char *
raft_msg_name(int type)
{
	static const char *names[] = { "?", "append", "append_resp", "vote",
		"vote_resp", "prevote", "prevote_resp", "heartbeat",
		"heartbeat_resp", "snapshot", "snapshot_resp", "timeout_now" };

	if (type < 0 || type > RAFT_MSG_TIMEOUT_NOW)
		return "?";
	return names[type];
}
