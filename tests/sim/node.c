/*
 * The driver of one simulated server: it executes the core's batches in
 * the order raft.h prescribes against an in-memory disk whose writes take
 * time and are lost by a crash until reported durable, applies committed
 * entries to the model state machine and answers its clients.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define PAYLOAD_LEN 12

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void
disk_truncate(struct node *n, uint64_t from)
{
	while (n->n_log > 0 && n->base + n->n_log >= from) {
		n->n_log--;
		free(n->log[n->n_log].data);
	}
}

static void
disk_append(struct node *n, const struct raft_entry *e)
{
	struct raft_entry *d;

	if (e->index != n->base + n->n_log + 1)
		abort();
	if (n->n_log == n->cap_log) {
		n->cap_log = n->cap_log ? n->cap_log * 2 : 64;
		n->log = xrealloc(n->log, n->cap_log * sizeof(*n->log));
	}
	d = &n->log[n->n_log++];
	*d = *e;
	d->data = NULL;
	if (e->len > 0) {
		d->data = xrealloc(NULL, e->len);
		memcpy(d->data, e->data, e->len);
	}
}

static void
disk_compact(struct node *n, uint64_t index, uint64_t term)
{
	uint64_t drop, k;

	if (index <= n->base)
		return;
	drop = index - n->base;
	if (drop > n->n_log)
		drop = n->n_log;
	for (k = 0; k < drop; k++)
		free(n->log[k].data);
	memmove(n->log, n->log + drop, (n->n_log - drop) * sizeof(*n->log));
	n->n_log -= drop;
	n->base = index;
	n->base_term = term;
}

static void
disk_set_snapshot(struct node *n, const struct raft_snapshot_meta *m,
    const uint8_t *data, uint64_t len)
{
	free(n->snap_data);
	n->snap = *m;
	n->snap_data = xrealloc(NULL, len);
	memcpy(n->snap_data, data, len);
	n->snap_len = len;
}

static void
sm_load(struct node *n)
{
	memset(&n->sm, 0, sizeof(n->sm));
	if (n->snap.index == 0)
		return;
	if (n->snap_len != sizeof(n->sm))
		abort();
	memcpy(&n->sm, n->snap_data, sizeof(n->sm));
	if (n->sm.applied != n->snap.index)
		abort();
}

static void
node_start(struct sim *s, struct node *n, const struct raft_config *boot)
{
	struct raft_boot b;
	uint64_t seed;

	memset(&b, 0, sizeof(b));
	b.hard_state = n->hs;
	b.snapshot = n->snap;
	b.snapshot_data = n->snap_data;
	b.snapshot_len = n->snap_len;
	b.log_base_index = n->base;
	b.log_base_term = n->base_term;
	b.entries = n->log;
	b.n_entries = (uint32_t)n->n_log;
	b.applied = n->snap.index;
	b.bootstrap = boot;
	sm_load(n);
	seed = s->seed * 0x100000001b3ULL + n->id * 131 + n->incarnation;
	n->r = raft_new(n->id, &s->opt, &b, seed);
	if (n->r == NULL)
		sim_fail(s, "node %llu: raft_new refused its own disk",
		    (unsigned long long)n->id);
	n->up = n->r != NULL;
	n->seen_commit = n->up ? raft_commit(n->r) : 0;
	n->seen_committed_to = n->up ? raft_log_base(n->r) : 0;
	n->seen_role = RAFT_FOLLOWER;
	sim_trace(s, "node %llu starts: term %llu commit %llu last %llu",
	    (unsigned long long)n->id, (unsigned long long)n->hs.term,
	    (unsigned long long)n->hs.commit,
	    (unsigned long long)(n->base + n->n_log));
}

void
node_boot(struct sim *s, struct node *n, const struct raft_config *boot)
{
	n->exists = true;
	if (boot != NULL) {
		n->initial = true;
		n->boot = *boot;
	}
	node_start(s, n, boot);
}

void
node_crash(struct sim *s, struct node *n)
{
	if (n->writing)
		raft_ready_free(&n->rd);
	n->writing = false;
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->n_props = 0;
	n->n_reads = 0;
	n->incarnation++;
	sim_trace(s, "node %llu crashes", (unsigned long long)n->id);
}

void
node_restart(struct sim *s, struct node *n)
{
	/* like the driver: an empty disk on a first member bootstraps */
	node_start(s, n, n->initial ? &n->boot : NULL);
}

void
node_free(struct node *n)
{
	if (n->writing)
		raft_ready_free(&n->rd);
	raft_free(n->r);
	disk_truncate(n, 0);
	free(n->log);
	free(n->snap_data);
	memset(n, 0, sizeof(*n));
}

static void
sm_apply(struct sim *s, struct node *n, const struct raft_entry *e)
{
	uint64_t wid;
	uint32_t key, k;

	check_apply(s, n, e);
	n->sm.applied = e->index;
	if (e->type == RAFT_ENTRY_NORMAL && e->len == PAYLOAD_LEN) {
		memcpy(&wid, e->data, 8);
		memcpy(&key, e->data + 8, 4);
		n->sm.val[key % SIM_KEYS] = wid;
		n->sm.widx[key % SIM_KEYS] = e->index;
	}
	/* the proposer's client learns the outcome */
	for (k = 0; k < n->n_props;) {
		if (n->props[k].index > e->index) {
			k++;
			continue;
		}
		if (n->props[k].index == e->index &&
		    n->props[k].term == e->term) {
			check_ack(s, n, &n->props[k]);
			s->stat_commits++;
		}
		n->props[k] = n->props[--n->n_props];
	}
}

static void
serve_reads(struct sim *s, struct node *n)
{
	uint32_t k;
	struct pending_read *rd;

	for (k = 0; k < n->n_reads;) {
		rd = &n->reads[k];
		if (rd->index == 0 || rd->index > n->sm.applied) {
			k++;
			continue;
		}
		check_read(s, n, rd, n->sm.widx[rd->key]);
		s->stat_reads++;
		n->reads[k] = n->reads[--n->n_reads];
	}
}

static void
take_reads(struct node *n, const struct raft_ready *rd)
{
	uint32_t i, k;

	for (i = 0; i < rd->n_reads; i++)
		for (k = 0; k < n->n_reads; k++) {
			if (n->reads[k].req_id != rd->reads[i].req_id)
				continue;
			if (rd->reads[i].ok) {
				n->reads[k].index = rd->reads[i].index;
				if (n->reads[k].index == 0)
					n->reads[k].index = 1;
			} else {
				n->reads[k] = n->reads[--n->n_reads];
			}
			break;
		}
}

static void
persist(struct sim *s, struct node *n, struct raft_ready *rd)
{
	uint32_t i;

	if (rd->snapshot_install) {
		disk_set_snapshot(
		    n, &rd->snapshot, rd->snapshot_data, rd->snapshot_len);
		disk_truncate(n, 0);
		n->base = rd->snapshot.index;
		n->base_term = rd->snapshot.term;
		sm_load(n);
		sim_trace(s, "node %llu installs snapshot %llu/%llu",
		    (unsigned long long)n->id,
		    (unsigned long long)rd->snapshot.index,
		    (unsigned long long)rd->snapshot.term);
	}
	if (rd->n_entries > 0) {
		disk_truncate(n, rd->entries[0].index);
		for (i = 0; i < rd->n_entries; i++)
			disk_append(n, &rd->entries[i]);
		check_durable_entries(s, n, rd->entries, rd->n_entries);
	}
	if (rd->has_hard_state)
		n->hs = rd->hard_state;
	if (rd->compact_index > 0)
		disk_compact(n, rd->compact_index, rd->compact_term);
}

static void
maybe_snapshot(struct sim *s, struct node *n)
{
	struct raft_snapshot_meta m;

	if (n->sm.applied <
	    raft_snapshot_meta(n->r)->index + s->p.snapshot_every)
		return;
	if (raft_snapshot(n->r, n->sm.applied, (const uint8_t *)&n->sm,
		sizeof(n->sm), s->p.trailing) != RAFT_OK)
		return;
	/* the driver writes its own snapshot synchronously */
	m = *raft_snapshot_meta(n->r);
	disk_set_snapshot(n, &m, (const uint8_t *)&n->sm, sizeof(n->sm));
	sim_trace(s, "node %llu snapshot at %llu", (unsigned long long)n->id,
	    (unsigned long long)m.index);
}

/* the batch is durable: the rest of the ordering contract */
void
node_disk_done(struct sim *s, struct node *n)
{
	struct raft_ready *rd = &n->rd;
	uint32_t i;

	persist(s, n, rd);
	for (i = 0; i < rd->n_msgs; i++)
		net_send(s, &rd->msgs[i]);
	for (i = 0; i < rd->n_committed && !s->violated; i++)
		sm_apply(s, n, &rd->committed[i]);
	take_reads(n, rd);
	raft_advance(n->r, rd);
	n->writing = false;
	serve_reads(s, n);
	maybe_snapshot(s, n);
}

static bool
durable_work(const struct raft_ready *rd)
{
	return rd->has_hard_state || rd->snapshot_install ||
	    rd->n_entries > 0 || rd->compact_index > 0;
}

/* the client of a proposal whose entry was overwritten learns it failed */
static void
prune_proposals(struct node *n)
{
	uint32_t k;

	for (k = 0; k < n->n_props;) {
		if (raft_term_at(n->r, n->props[k].index) != n->props[k].term)
			n->props[k] = n->props[--n->n_props];
		else
			k++;
	}
}

void
node_pump(struct sim *s, struct node *n)
{
	uint32_t bound = 64;

	if (n->up)
		prune_proposals(n);
	while (n->up && !n->writing && !s->violated && bound-- > 0) {
		if (!raft_ready(n->r, &n->rd))
			return;
		n->writing = true;
		if (durable_work(&n->rd)) {
			net_schedule(s, EV_DISK, n->id,
			    1 + sim_below(s, s->p.disk_ms_max));
			return;
		}
		node_disk_done(s, n);
	}
}

int
node_propose(struct sim *s, struct node *n, uint32_t key, bool liveness)
{
	uint8_t payload[PAYLOAD_LEN];
	uint64_t wid, index;
	struct proposal *p;
	int rc;

	if (n->n_props >= SIM_MAX_WAITING)
		return RAFT_EBUSY;
	wid = ++s->next_wid;
	memcpy(payload, &wid, 8);
	memcpy(payload + 8, &key, 4);
	rc = raft_propose(n->r, payload, sizeof(payload), &index);
	if (rc != RAFT_OK)
		return rc;
	p = &n->props[n->n_props++];
	p->index = index;
	p->term = raft_term(n->r);
	p->wid = wid;
	p->key = key;
	p->liveness = liveness;
	sim_trace(s, "client: write %llu key %u at node %llu index %llu",
	    (unsigned long long)wid, key, (unsigned long long)n->id,
	    (unsigned long long)index);
	return RAFT_OK;
}

int
node_read(struct sim *s, struct node *n, uint32_t key)
{
	struct pending_read *rd;
	uint64_t req;
	int rc;

	if (n->n_reads >= SIM_MAX_WAITING)
		return RAFT_EBUSY;
	req = ++s->next_req;
	rc = raft_read_index(n->r, req);
	if (rc != RAFT_OK)
		return rc;
	rd = &n->reads[n->n_reads++];
	rd->req_id = req;
	rd->key = key;
	rd->min_widx = check_max_acked_widx(s, key);
	rd->index = 0;
	sim_trace(s, "client: read %llu key %u at node %llu (>= %llu)",
	    (unsigned long long)req, key, (unsigned long long)n->id,
	    (unsigned long long)rd->min_widx);
	return RAFT_OK;
}
