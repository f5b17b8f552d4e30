/*
 * The invariant checker.  It only observes: the core's public observers,
 * what nodes wrote to their simulated disks, what they applied, and what
 * clients were told.  Checked after every simulation step:
 *
 *  - election safety: at most one leader per term (paper §5.2)
 *  - log matching: two durable entries with the same index and term have
 *    the same payload and the same predecessor term (§5.3)
 *  - leader completeness: a new leader holds every entry committed so far
 *  - state machine safety: every node applies the same entry at an index,
 *    in order, and only entries it knows committed (§5.4)
 *  - the commit index of a running node never goes back, and a leader's
 *    moves only onto an entry of its own term (§5.4.2)
 *  - an acknowledged write is applied everywhere (checked at the end)
 *  - linearizable reads: a read returns a value at least as new as every
 *    write acknowledged before the read started
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct lm_slot {
	uint64_t index;
	uint64_t term;
	uint64_t prev_term;
	uint64_t hash;
};

struct checker {
	uint64_t *leader_of; /* by term */
	uint64_t n_terms;
	uint64_t *cterm; /* committed term by index */
	uint64_t *ahash; /* applied entry hash by index */
	uint64_t n_idx;
	uint64_t max_committed;
	struct lm_slot *lm;
	uint64_t lm_cap;
	uint64_t lm_n;
	uint64_t max_widx[SIM_KEYS];
	uint64_t max_acked_index;
	uint64_t acked;
	uint64_t acked_live;
};

struct checker *
check_new(void)
{
	struct checker *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();
	return c;
}

void
check_free(struct checker *c)
{
	free(c->leader_of);
	free(c->cterm);
	free(c->ahash);
	free(c->lm);
	free(c);
}

static void *
grow(void *p, uint64_t *n, uint64_t need, size_t size)
{
	uint64_t old = *n, cap = old ? old : 1024;

	if (need < old)
		return p;
	while (cap <= need)
		cap *= 2;
	p = realloc(p, cap * size);
	if (p == NULL)
		abort();
	memset((char *)p + old * size, 0, (cap - old) * size);
	*n = cap;
	return p;
}

static void
need_index(struct checker *c, uint64_t index)
{
	uint64_t n = c->n_idx;

	c->cterm = grow(c->cterm, &n, index, sizeof(uint64_t));
	n = c->n_idx;
	c->ahash = grow(c->ahash, &n, index, sizeof(uint64_t));
	c->n_idx = n;
}

static uint64_t
entry_hash(const struct raft_entry *e)
{
	uint64_t h = 1469598103934665603ULL;
	uint32_t i;

	h = (h ^ e->term) * 1099511628211ULL;
	h = (h ^ e->type) * 1099511628211ULL;
	for (i = 0; i < e->len; i++)
		h = (h ^ e->data[i]) * 1099511628211ULL;
	return h | 1;
}

static void
check_leader(struct sim *s, struct node *n)
{
	struct checker *c = s->chk;
	uint64_t term = raft_term(n->r), i, last, base;

	c->leader_of = grow(c->leader_of, &c->n_terms, term, sizeof(uint64_t));
	if (c->leader_of[term] != 0 && c->leader_of[term] != n->id)
		sim_fail(s,
		    "election safety: two leaders in term %llu: %llu "
		    "and %llu",
		    (unsigned long long)term,
		    (unsigned long long)c->leader_of[term],
		    (unsigned long long)n->id);
	c->leader_of[term] = n->id;
	if (n->seen_role == RAFT_LEADER)
		return;
	/* leader completeness: every committed entry is in its log */
	last = raft_last_index(n->r);
	base = raft_log_base(n->r);
	if (last < c->max_committed)
		sim_fail(s,
		    "leader completeness: leader %llu term %llu has "
		    "last index %llu < committed %llu",
		    (unsigned long long)n->id, (unsigned long long)term,
		    (unsigned long long)last,
		    (unsigned long long)c->max_committed);
	for (i = base + 1; i <= c->max_committed && i <= last; i++)
		if (c->cterm[i] != 0 && raft_term_at(n->r, i) != c->cterm[i])
			sim_fail(s,
			    "leader completeness: leader %llu has term "
			    "%llu at committed index %llu (term %llu)",
			    (unsigned long long)n->id,
			    (unsigned long long)raft_term_at(n->r, i),
			    (unsigned long long)i,
			    (unsigned long long)c->cterm[i]);
}

static void
check_commit(struct sim *s, struct node *n)
{
	struct checker *c = s->chk;
	uint64_t commit = raft_commit(n->r), i, t;

	/* §5.4.2: a leader's commit index moves only onto its own term */
	if (s->commit_rule && raft_role(n->r) == RAFT_LEADER &&
	    n->seen_role == RAFT_LEADER && commit > n->seen_commit &&
	    raft_term_at(n->r, commit) != raft_term(n->r))
		sim_fail(s,
		    "commit rule: leader %llu term %llu committed "
		    "index %llu of term %llu by counting replicas",
		    (unsigned long long)n->id,
		    (unsigned long long)raft_term(n->r),
		    (unsigned long long)commit,
		    (unsigned long long)raft_term_at(n->r, commit));

	if (commit < n->seen_commit)
		sim_fail(s, "commit index of node %llu went back: %llu -> %llu",
		    (unsigned long long)n->id,
		    (unsigned long long)n->seen_commit,
		    (unsigned long long)commit);
	n->seen_commit = commit;
	need_index(c, commit);
	i = n->seen_committed_to;
	if (i < raft_log_base(n->r))
		i = raft_log_base(n->r);
	for (i = i + 1; i <= commit; i++) {
		t = raft_term_at(n->r, i);
		if (t == 0)
			sim_fail(s,
			    "node %llu committed index %llu it does "
			    "not hold",
			    (unsigned long long)n->id, (unsigned long long)i);
		if (c->cterm[i] != 0 && c->cterm[i] != t)
			sim_fail(s,
			    "committed entry changed: index %llu term "
			    "%llu, node %llu commits term %llu",
			    (unsigned long long)i,
			    (unsigned long long)c->cterm[i],
			    (unsigned long long)n->id, (unsigned long long)t);
		c->cterm[i] = t;
	}
	if (commit > n->seen_committed_to)
		n->seen_committed_to = commit;
	if (commit > c->max_committed)
		c->max_committed = commit;
}

void
check_step(struct sim *s)
{
	uint64_t id;
	struct node *n;

	for (id = 1; id <= SIM_MAX_IDS && !s->violated; id++) {
		n = &s->nodes[id];
		if (!n->up)
			continue;
		check_commit(s, n);
		if (raft_role(n->r) == RAFT_LEADER)
			check_leader(s, n);
		n->seen_role = raft_role(n->r);
	}
}

static struct lm_slot *
lm_find(struct checker *c, uint64_t index, uint64_t term)
{
	uint64_t h = (index * 0x9e3779b97f4a7c15ULL) ^ (term * 0xff51afd7ULL);
	uint64_t k;

	if (c->lm_n * 2 >= c->lm_cap) {
		struct lm_slot *old = c->lm;
		uint64_t old_cap = c->lm_cap;

		c->lm_cap = old_cap ? old_cap * 2 : 4096;
		c->lm = calloc(c->lm_cap, sizeof(*c->lm));
		if (c->lm == NULL)
			abort();
		c->lm_n = 0;
		for (k = 0; k < old_cap; k++)
			if (old[k].index != 0) {
				*lm_find(c, old[k].index, old[k].term) = old[k];
				c->lm_n++;
			}
		free(old);
	}
	for (k = h % c->lm_cap;; k = (k + 1) % c->lm_cap)
		if (c->lm[k].index == 0 ||
		    (c->lm[k].index == index && c->lm[k].term == term))
			return &c->lm[k];
}

/* entries just made durable at node n, preceded by prev_term */
void
check_durable_entries(
    struct sim *s, struct node *n, const struct raft_entry *e, uint32_t cnt)
{
	struct checker *c = s->chk;
	struct lm_slot *slot;
	uint64_t prev_term = 0;
	uint32_t k;

	for (k = 0; k < cnt; k++) {
		if (k > 0)
			prev_term = e[k - 1].term;
		else if (e[0].index - 1 == n->base)
			prev_term = n->base_term;
		else
			prev_term = n->log[e[0].index - 2 - n->base].term;
		slot = lm_find(c, e[k].index, e[k].term);
		if (slot->index == 0) {
			slot->index = e[k].index;
			slot->term = e[k].term;
			slot->prev_term = prev_term;
			slot->hash = entry_hash(&e[k]);
			c->lm_n++;
			continue;
		}
		if (slot->prev_term != prev_term ||
		    slot->hash != entry_hash(&e[k]))
			sim_fail(s,
			    "log matching: node %llu index %llu term "
			    "%llu differs (prev term %llu vs %llu)",
			    (unsigned long long)n->id,
			    (unsigned long long)e[k].index,
			    (unsigned long long)e[k].term,
			    (unsigned long long)prev_term,
			    (unsigned long long)slot->prev_term);
	}
}

void
check_apply(struct sim *s, struct node *n, const struct raft_entry *e)
{
	struct checker *c = s->chk;
	uint64_t h = entry_hash(e);

	if (e->index != n->sm.applied + 1)
		sim_fail(s, "node %llu applied index %llu after %llu",
		    (unsigned long long)n->id, (unsigned long long)e->index,
		    (unsigned long long)n->sm.applied);
	if (e->index > raft_commit(n->r))
		sim_fail(s,
		    "node %llu applied index %llu beyond its commit "
		    "index %llu",
		    (unsigned long long)n->id, (unsigned long long)e->index,
		    (unsigned long long)raft_commit(n->r));
	need_index(c, e->index);
	if (c->ahash[e->index] != 0 && c->ahash[e->index] != h)
		sim_fail(s,
		    "state machine safety: node %llu applied a "
		    "different entry at index %llu (term %llu)",
		    (unsigned long long)n->id, (unsigned long long)e->index,
		    (unsigned long long)e->term);
	c->ahash[e->index] = h;
}

void
check_ack(struct sim *s, struct node *n, const struct proposal *p)
{
	struct checker *c = s->chk;

	(void)n;
	if (p->index > c->max_widx[p->key])
		c->max_widx[p->key] = p->index;
	if (p->index > c->max_acked_index)
		c->max_acked_index = p->index;
	c->acked++;
	if (p->liveness)
		c->acked_live++;
}

void
check_read(
    struct sim *s, struct node *n, const struct pending_read *rd, uint64_t widx)
{
	if (widx < rd->min_widx)
		sim_fail(s,
		    "stale read at node %llu: key %u returned write "
		    "at index %llu, but the write at index %llu was "
		    "acknowledged before the read started",
		    (unsigned long long)n->id, rd->key,
		    (unsigned long long)widx, (unsigned long long)rd->min_widx);
}

uint64_t
check_max_acked_widx(struct sim *s, uint32_t key)
{
	return s->chk->max_widx[key];
}

uint64_t
check_max_acked_index(struct sim *s)
{
	return s->chk->max_acked_index;
}

uint64_t
check_acked_count(struct sim *s)
{
	return s->chk->acked;
}

uint64_t
check_liveness_acked(struct sim *s)
{
	return s->chk->acked_live;
}
