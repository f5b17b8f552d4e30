/*
 * simrun: deterministic simulation of a raft cluster.
 *
 *   simrun --seeds N [--from S]    run seeds S .. S+N-1
 *   simrun --seed S --trace        replay one seed with a readable trace
 *   simrun --twice                 run every seed twice, compare traces
 *   simrun --expect-violation      succeed only if some seed fails
 *   simrun --keep-going            report every failing seed
 *   simrun --no-commit-rule        leave §5.4.2 to its consequences
 *
 * Each seed draws its own cluster size and fault rates (swarm testing),
 * runs a safety phase with faults, then a liveness phase on a healed
 * network that must elect a leader and commit within bounded time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define SAFETY_TICKS 1500
#define LIVENESS_TICKS 600
#define LIVENESS_WRITES 5
#define RING_LINES 200

static jmp_buf assert_jmp;
static struct sim *assert_sim;

static uint64_t
splitmix(uint64_t *x)
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

uint64_t
sim_rand(struct sim *s)
{
	uint64_t *r = s->rng, out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return out;
}

uint32_t
sim_below(struct sim *s, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)(sim_rand(s) % n);
}

bool
sim_pct(struct sim *s, uint32_t pct)
{
	return sim_below(s, 100) < pct;
}

static bool
sim_pm(struct sim *s, uint32_t pm)
{
	return sim_below(s, 1000) < pm;
}

void
sim_hash(struct sim *s, uint64_t v)
{
	s->hash = (s->hash ^ v) * 0x100000001b3ULL;
	s->hash ^= s->hash >> 29;
}

void
sim_trace(struct sim *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int off;

	if (!s->trace)
		return;
	off = snprintf(
	    line, sizeof(line), "%8llu ", (unsigned long long)s->now_ms);
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	va_end(ap);
	if (s->trace_out != NULL) {
		fprintf(s->trace_out, "%s\n", line);
		return;
	}
	free(s->ring[s->ring_head]);
	s->ring[s->ring_head] = strdup(line);
	s->ring_head = (s->ring_head + 1) % RING_LINES;
	if (s->ring_n < RING_LINES)
		s->ring_n++;
}

void
sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->violated)
		return;
	va_start(ap, fmt);
	vsnprintf(s->violation, sizeof(s->violation), fmt, ap);
	va_end(ap);
	s->violated = true;
	sim_trace(s, "VIOLATION: %s", s->violation);
}

static void
core_assert(const char *file, int line, const char *expr)
{
	sim_fail(assert_sim, "core assertion %s:%d: %s", file, line, expr);
	longjmp(assert_jmp, 1);
}

static void
draw_params(struct sim *s)
{
	struct sim_params *p = &s->p;

	p->n_initial = 1 + sim_below(s, 5);
	p->delay_ms_max = 1 + sim_below(s, 30);
	p->disk_ms_max = 1 + sim_below(s, 15);
	p->loss_pct = sim_below(s, 3) == 0 ? 0 : sim_below(s, 20);
	p->dup_pct = sim_below(s, 10);
	p->partition_pct = sim_below(s, 40);
	p->crash_pm =
	    sim_below(s, 3) == 0 ? sim_below(s, 80) : sim_below(s, 20);
	p->restart_ms_max = 50 + sim_below(s, 1500);
	p->new_leader_crash_pct = sim_below(s, 3) == 0 ? sim_below(s, 60) : 0;
	p->commit_crash_pct = sim_below(s, 3) == 0 ? sim_below(s, 30) : 0;
	p->propose_pct = 10 + sim_below(s, 80);
	p->read_pct = sim_below(s, 60);
	p->change_pm = sim_below(s, 30);
	p->transfer_pm = sim_below(s, 30);
	p->snapshot_every = 4 + sim_below(s, 60);
	p->trailing = sim_below(s, 20);
	p->lease = sim_below(s, 2);
	p->chunk_bytes = 8 + sim_below(s, 64);
	raft_options_default(&s->opt);
	s->opt.election_ticks = 10;
	s->opt.heartbeat_ticks = 1 + sim_below(s, 3);
	s->opt.max_batch_entries =
	    sim_below(s, 3) == 0 ? 1 : 1 + sim_below(s, 16);
	s->opt.max_inflight = 1 + sim_below(s, 8);
	s->opt.max_uncommitted = 256;
	s->opt.snapshot_chunk_bytes = p->chunk_bytes;
	s->opt.lease_reads = p->lease;
	/* a quarter of the seeds: leaders that die as they are elected or
	 * as they commit, one entry per message (Figure 8 of the paper) */
	if (sim_below(s, 4) == 0) {
		p->n_initial = sim_below(s, 2) == 0 ? 3 : 5;
		p->new_leader_crash_pct = 20 + sim_below(s, 40);
		p->commit_crash_pct = 10 + sim_below(s, 40);
		s->opt.max_batch_entries = 1;
	}
}

static void
sim_init(struct sim *s, uint64_t seed, bool trace, FILE *trace_out)
{
	struct raft_config c;
	uint64_t x = seed;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	for (i = 0; i < 4; i++)
		s->rng[i] = splitmix(&x);
	s->trace = trace;
	s->trace_out = trace_out;
	if (trace && trace_out == NULL)
		s->ring = calloc(RING_LINES, sizeof(char *));
	s->heap = heap_new();
	s->chk = check_new();
	s->hash = 1469598103934665603ULL;
	draw_params(s);
	sim_trace(s,
	    "seed %llu: %u nodes, delay<=%ums disk<=%ums loss %u%% "
	    "dup %u%% lease %d batch %u inflight %u",
	    (unsigned long long)seed, s->p.n_initial, s->p.delay_ms_max,
	    s->p.disk_ms_max, s->p.loss_pct, s->p.dup_pct, s->p.lease,
	    s->opt.max_batch_entries, s->opt.max_inflight);
	memset(&c, 0, sizeof(c));
	c.n = s->p.n_initial;
	for (i = 0; i < c.n; i++) {
		c.servers[i].id = i + 1;
		c.servers[i].role = RAFT_VOTER;
	}
	for (i = 1; i <= c.n; i++) {
		s->nodes[i].id = i;
		node_boot(s, &s->nodes[i], &c);
	}
	for (i = c.n + 1; i <= SIM_MAX_IDS; i++)
		s->nodes[i].id = i;
}

static void
sim_destroy(struct sim *s)
{
	uint32_t i;

	for (i = 1; i <= SIM_MAX_IDS; i++)
		node_free(&s->nodes[i]);
	heap_free(s->heap);
	check_free(s->chk);
	if (s->ring != NULL) {
		for (i = 0; i < RING_LINES; i++)
			free(s->ring[i]);
		free(s->ring);
	}
}

static void
hash_node(struct sim *s, struct node *n)
{
	static const char *roles[] = { "follower", "precandidate", "candidate",
		"leader" };

	sim_hash(s, n->id);
	if (!n->up)
		return;
	if (raft_role(n->r) != n->trace_role ||
	    raft_term(n->r) != n->trace_term) {
		n->trace_role = raft_role(n->r);
		n->trace_term = raft_term(n->r);
		sim_trace(s, "node %llu is %s in term %llu",
		    (unsigned long long)n->id, roles[n->trace_role],
		    (unsigned long long)n->trace_term);
	}
	sim_hash(s, raft_term(n->r));
	sim_hash(s, raft_commit(n->r));
	sim_hash(s, raft_last_index(n->r));
	sim_hash(s, (uint64_t)raft_role(n->r));
}

static void
trace_msg(struct sim *s, const struct raft_msg *m)
{
	char what[128];

	if (!s->trace)
		return;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		snprintf(what, sizeof(what),
		    "prev %llu/%llu entries %u commit "
		    "%llu",
		    (unsigned long long)m->prev_index,
		    (unsigned long long)m->prev_term, m->n_entries,
		    (unsigned long long)m->commit);
		break;
	case RAFT_MSG_APPEND_RESP:
		snprintf(what, sizeof(what), "%s index %llu hint %llu/%llu",
		    m->reject ? "reject" : "ok", (unsigned long long)m->index,
		    (unsigned long long)m->hint_index,
		    (unsigned long long)m->hint_term);
		break;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE:
		snprintf(what, sizeof(what), "last %llu/%llu%s",
		    (unsigned long long)m->index,
		    (unsigned long long)m->log_term, m->force ? " force" : "");
		break;
	case RAFT_MSG_HEARTBEAT:
		snprintf(what, sizeof(what), "commit %llu seq %llu",
		    (unsigned long long)m->commit, (unsigned long long)m->seq);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		snprintf(what, sizeof(what), "seq %llu last %llu",
		    (unsigned long long)m->seq, (unsigned long long)m->index);
		break;
	case RAFT_MSG_SNAPSHOT:
	case RAFT_MSG_SNAPSHOT_RESP:
		snprintf(what, sizeof(what),
		    "%s%llu/%llu offset %llu len %u "
		    "total %llu",
		    m->reject ? "reject " : "",
		    (unsigned long long)m->snap.index,
		    (unsigned long long)m->snap.term,
		    (unsigned long long)m->offset, m->len,
		    (unsigned long long)m->total);
		break;
	default:
		snprintf(what, sizeof(what), "%s", m->reject ? "reject" : "");
	}
	sim_trace(s, "%llu -> %llu %s term %llu %s",
	    (unsigned long long)m->from, (unsigned long long)m->to,
	    raft_msg_name(m->type), (unsigned long long)m->term, what);
}

static void
deliver(struct sim *s, struct event *e)
{
	struct node *n = &s->nodes[e->node];

	sim_hash(s, ((uint64_t)e->m.type << 32) | e->m.from);
	sim_hash(s, e->m.term ^ (e->m.index << 20) ^ e->m.prev_index);
	if (n->up) {
		trace_msg(s, &e->m);
		raft_step(n->r, &e->m);
		node_pump(s, n);
		hash_node(s, n);
	}
	raft_msg_free(&e->m);
}

static void fault_new_leader(struct sim *);

static void
run_event(struct sim *s, struct event *e)
{
	struct node *n = &s->nodes[e->node];

	s->now_ms = e->time;
	s->steps++;
	switch (e->type) {
	case EV_MSG:
		deliver(s, e);
		break;
	case EV_DISK:
		if (n->up && n->writing && e->incarnation == n->incarnation) {
			sim_hash(s, 0xd15c ^ n->id);
			node_disk_done(s, n);
			node_pump(s, n);
		}
		break;
	case EV_RESTART:
		if (!n->up && n->exists && e->incarnation == n->incarnation) {
			node_restart(s, n);
			node_pump(s, n);
		}
		break;
	}
	check_step(s);
	if (!s->liveness && !s->violated)
		fault_new_leader(s);
}

static struct node *
find_leader(struct sim *s)
{
	struct node *best = NULL;
	uint32_t i;

	for (i = 1; i <= SIM_MAX_IDS; i++) {
		struct node *n = &s->nodes[i];

		if (n->up && raft_role(n->r) == RAFT_LEADER &&
		    (best == NULL || raft_term(n->r) > raft_term(best->r)))
			best = n;
	}
	return best;
}

/* any node that believes it leads, stale ones included */
static struct node *
random_leader(struct sim *s)
{
	struct node *cand[SIM_MAX_IDS];
	uint32_t i, n = 0;

	for (i = 1; i <= SIM_MAX_IDS; i++)
		if (s->nodes[i].up && raft_role(s->nodes[i].r) == RAFT_LEADER)
			cand[n++] = &s->nodes[i];
	return n == 0 ? NULL : cand[sim_below(s, n)];
}

static struct node *
random_up(struct sim *s)
{
	uint32_t i, k = sim_below(s, SIM_MAX_IDS);

	for (i = 0; i < SIM_MAX_IDS; i++) {
		struct node *n = &s->nodes[1 + (k + i) % SIM_MAX_IDS];

		if (n->up)
			return n;
	}
	return NULL;
}

static void
fault_partition(struct sim *s)
{
	uint32_t a, b, kind = sim_below(s, 4), victim;
	bool group[SIM_MAX_IDS + 1];

	memset(s->cut, 0, sizeof(s->cut));
	victim = 1 + sim_below(s, SIM_MAX_IDS);
	/* cutting off the leader is the case that matters most */
	if (find_leader(s) != NULL && sim_below(s, 2) == 0)
		victim = (uint32_t)find_leader(s)->id;
	for (a = 1; a <= SIM_MAX_IDS; a++)
		group[a] = sim_below(s, 2);
	for (a = 1; a <= SIM_MAX_IDS; a++)
		for (b = 1; b <= SIM_MAX_IDS; b++) {
			if (kind == 1)
				s->cut[a][b] = a == victim || b == victim;
			else if (kind == 2)
				s->cut[a][b] = group[a] != group[b];
			else if (kind == 3)
				s->cut[a][b] = a == victim && group[b];
		}
	sim_trace(s, "network: partition kind %u victim %u", kind, victim);
}

static void crash_restart(struct sim *, struct node *);

static void
fault_crash(struct sim *s)
{
	struct node *n = random_up(s), *l = find_leader(s);

	/* leaders crashing right after appending make the hard cases */
	if (l != NULL && sim_below(s, 2) == 0)
		n = l;
	if (n == NULL)
		return;
	crash_restart(s, n);
}

/*
 * a new leader crashes before its first entries spread: it keeps an entry
 * of its term nobody else has (the setting of Figure 8 of the paper)
 */
static void
fault_new_leader(struct sim *s)
{
	uint32_t i;
	struct node *n;

	for (i = 1; i <= SIM_MAX_IDS; i++) {
		n = &s->nodes[i];
		if (!n->up || raft_role(n->r) != RAFT_LEADER ||
		    raft_term(n->r) == n->lead_term)
			continue;
		n->lead_term = raft_term(n->r);
		n->lead_commit = raft_commit(n->r);
		if (sim_pct(s, s->p.new_leader_crash_pct))
			crash_restart(s, n);
	}
	/* and a leader crashing right after it commits something */
	for (i = 1; i <= SIM_MAX_IDS; i++) {
		n = &s->nodes[i];
		if (!n->up || raft_role(n->r) != RAFT_LEADER ||
		    raft_commit(n->r) == n->lead_commit)
			continue;
		n->lead_commit = raft_commit(n->r);
		if (sim_pct(s, s->p.commit_crash_pct))
			crash_restart(s, n);
	}
}

static void
crash_restart(struct sim *s, struct node *n)
{
	node_crash(s, n);
	/* quick restarts land in the middle of the same election */
	net_schedule(s, EV_RESTART, n->id,
	    sim_below(s, 2) == 0 ? 10 + sim_below(s, 100)
				 : 20 + sim_below(s, s->p.restart_ms_max));
}

static uint64_t
unused_id(struct sim *s)
{
	uint32_t i;

	for (i = 1; i <= SIM_MAX_IDS; i++)
		if (!s->nodes[i].exists)
			return i;
	return 0;
}

static void
fault_change(struct sim *s, struct node *l)
{
	const struct raft_config *c = raft_config(l->r);
	uint64_t id, index;
	int rc, type;

	if (c->n < SIM_MAX_MEMBERS && sim_below(s, 2) == 0) {
		id = unused_id(s);
		if (id == 0)
			return;
		type = sim_below(s, 5) == 0 ? RAFT_ADD_LEARNER : RAFT_ADD_VOTER;
		rc = raft_change(l->r, type, id, &index);
		sim_trace(s, "change: add %llu at %llu: %s",
		    (unsigned long long)id, (unsigned long long)l->id,
		    raft_strerror(rc));
		if (rc == RAFT_OK)
			node_boot(s, &s->nodes[id], NULL);
		return;
	}
	id = c->servers[sim_below(s, c->n)].id;
	if (sim_below(s, 3) == 0) {
		rc = raft_change(l->r, RAFT_PROMOTE, id, &index);
		sim_trace(s, "change: promote %llu: %s", (unsigned long long)id,
		    raft_strerror(rc));
		return;
	}
	rc = raft_change(l->r, RAFT_REMOVE, id, &index);
	sim_trace(s, "change: remove %llu at %llu: %s", (unsigned long long)id,
	    (unsigned long long)l->id, raft_strerror(rc));
}

static void
fault_transfer(struct sim *s, struct node *l)
{
	const struct raft_config *c = raft_config(l->r);
	uint64_t id = c->servers[sim_below(s, c->n)].id;
	int rc = raft_transfer(l->r, id);

	uint32_t a;

	sim_trace(s, "transfer %llu -> %llu: %s", (unsigned long long)l->id,
	    (unsigned long long)id, raft_strerror(rc));
	if (rc != RAFT_OK || sim_below(s, 2) != 0)
		return;
	/* the old leader cut off right after TimeoutNow: it still believes
	 * it leads while the target takes over */
	for (a = 1; a <= SIM_MAX_IDS; a++) {
		s->cut[a][l->id] = true;
		s->cut[l->id][a] = a != id;
	}
	sim_trace(
	    s, "network: old leader %llu isolated", (unsigned long long)l->id);
}

static void
client_ops(struct sim *s)
{
	struct node *n, *l = random_leader(s);

	if (!s->liveness && sim_pct(s, s->p.propose_pct)) {
		n = l != NULL && sim_below(s, 4) != 0 ? l : random_up(s);
		if (n != NULL)
			node_propose(s, n, sim_below(s, SIM_KEYS), false);
	}
	if (sim_pct(s, s->p.read_pct)) {
		n = l != NULL && sim_below(s, 4) != 0 ? l : random_up(s);
		if (n != NULL)
			node_read(s, n, sim_below(s, SIM_KEYS));
	}
}

static void
tick(struct sim *s)
{
	struct node *l;
	uint32_t i;

	s->ticks++;
	for (i = 1; i <= SIM_MAX_IDS; i++)
		if (s->nodes[i].up)
			raft_tick(s->nodes[i].r);
	l = find_leader(s);
	if (!s->liveness) {
		if (sim_pct(s, s->p.partition_pct) && sim_below(s, 10) == 0)
			fault_partition(s);
		if (sim_pm(s, s->p.crash_pm))
			fault_crash(s);
		fault_new_leader(s);
		l = find_leader(s);
		if (l != NULL && sim_pm(s, s->p.change_pm))
			fault_change(s, l);
		l = find_leader(s);
		if (l != NULL && sim_pm(s, s->p.transfer_pm))
			fault_transfer(s, l);
	}
	client_ops(s);
	for (i = 1; i <= SIM_MAX_IDS; i++) {
		node_pump(s, &s->nodes[i]);
		hash_node(s, &s->nodes[i]);
	}
	check_step(s);
}

static void
run_until(struct sim *s, uint64_t ticks, bool (*done)(struct sim *))
{
	struct event e;
	uint64_t t, end = s->ticks + ticks;

	while (s->ticks < end && !s->violated) {
		uint64_t tick_ms = (s->ticks + 1) * SIM_TICK_MS;

		while (!s->violated && heap_peek_time(s->heap, &t) &&
		    t < tick_ms) {
			heap_pop(s->heap, &e);
			run_event(s, &e);
		}
		s->now_ms = tick_ms;
		if (s->violated)
			break;
		tick(s);
		if (done != NULL && done(s))
			return;
	}
}

/* the latest configuration, and whether some node knows it committed */
static const struct raft_config *
latest_config(struct sim *s, bool *committed)
{
	struct node *src = NULL;
	uint64_t ci = 0, t;
	uint32_t i;

	*committed = false;
	for (i = 1; i <= SIM_MAX_IDS; i++) {
		struct node *n = &s->nodes[i];

		if (n->up && (src == NULL || raft_config_index(n->r) > ci)) {
			src = n;
			ci = raft_config_index(n->r);
		}
	}
	if (src == NULL)
		return NULL;
	/* the same entry (index and term) committed somewhere */
	t = raft_term_at(src->r, ci);
	for (i = 1; i <= SIM_MAX_IDS; i++) {
		struct node *n = &s->nodes[i];

		if (n->up && t != 0 && raft_commit(n->r) >= ci &&
		    raft_term_at(n->r, ci) == t)
			*committed = true;
	}
	return raft_config(src->r);
}

/*
 * heal the network and restart everyone, then keep a minority of the
 * voters down when the configuration is settled: a majority must do
 */
static void
heal(struct sim *s)
{
	const struct raft_config *c;
	uint64_t down[SIM_MAX_MEMBERS];
	uint32_t i, k, n_down = 0, voters;
	bool committed;

	s->liveness = true;
	memset(s->cut, 0, sizeof(s->cut));
	if (s->p.loss_pct > 5)
		s->p.loss_pct = 5;
	for (i = 1; i <= SIM_MAX_IDS; i++)
		if (s->nodes[i].exists && !s->nodes[i].up) {
			node_restart(s, &s->nodes[i]);
			node_pump(s, &s->nodes[i]);
		}
	c = latest_config(s, &committed);
	if (c != NULL && committed) {
		voters = raft_config_voters(c);
		k = sim_below(s, (voters - 1) / 2 + 1);
		for (i = 0; i < c->n && n_down < k; i++)
			if (c->servers[i].role == RAFT_VOTER &&
			    sim_below(s, 2) == 0)
				down[n_down++] = c->servers[i].id;
		for (i = 0; i < n_down; i++)
			node_crash(s, &s->nodes[down[i]]);
	}
	sim_trace(
	    s, "liveness phase: network healed, %u voters kept down", n_down);
}

static bool
converged(struct sim *s)
{
	struct node *l = find_leader(s), *n;
	const struct raft_config *c;
	uint32_t i, pending = 0;

	if (l == NULL)
		return false;
	for (i = 0; i < l->n_props; i++)
		pending += l->props[i].liveness;
	if (check_liveness_acked(s) + pending < LIVENESS_WRITES)
		node_propose(s, l, sim_below(s, SIM_KEYS), true);
	if (check_liveness_acked(s) < LIVENESS_WRITES)
		return false;
	c = raft_config(l->r);
	for (i = 0; i < c->n; i++) {
		n = &s->nodes[c->servers[i].id];
		if (n->up &&
		    (n->sm.applied != raft_commit(l->r) ||
			raft_commit(n->r) != raft_commit(l->r)))
			return false;
	}
	return raft_commit(l->r) == raft_last_index(l->r);
}

static void
dump_nodes(struct sim *s)
{
	const struct raft_config *c;
	char buf[160];
	uint32_t i, k;
	int off;

	for (i = 1; i <= SIM_MAX_IDS; i++) {
		struct node *n = &s->nodes[i];

		if (!n->up)
			continue;
		c = raft_config(n->r);
		off = 0;
		for (k = 0; k < c->n && off < 120; k++)
			off += snprintf(buf + off, sizeof(buf) - (size_t)off,
			    " %llu%s", (unsigned long long)c->servers[k].id,
			    c->servers[k].role == RAFT_VOTER ? "" : "L");
		buf[off] = 0;
		sim_trace(s,
		    "node %u: role %d term %llu commit %llu last %llu "
		    "applied %llu config@%llu:%s",
		    i, raft_role(n->r), (unsigned long long)raft_term(n->r),
		    (unsigned long long)raft_commit(n->r),
		    (unsigned long long)raft_last_index(n->r),
		    (unsigned long long)n->sm.applied,
		    (unsigned long long)raft_config_index(n->r), buf);
	}
}

static void
final_checks(struct sim *s)
{
	struct node *l = find_leader(s), *n;
	const struct raft_config *c;
	uint32_t i, k;

	if (s->violated)
		return;
	if (l == NULL || !converged(s)) {
		dump_nodes(s);
		sim_fail(s,
		    "liveness: no leader with all %s after %u ticks "
		    "on a healed network",
		    l == NULL ? "(no leader)" : "members converged",
		    LIVENESS_TICKS);
		return;
	}
	c = raft_config(l->r);
	for (i = 0; i < c->n; i++) {
		n = &s->nodes[c->servers[i].id];
		if (!n->up)
			continue;
		for (k = 0; k < n->n_props; k++)
			if (raft_term_at(n->r, n->props[k].index) ==
			    n->props[k].term)
				sim_fail(s,
				    "proposal %llu at node %llu neither "
				    "committed nor dropped",
				    (unsigned long long)n->props[k].wid,
				    (unsigned long long)n->id);
		for (k = 0; k < SIM_KEYS; k++)
			if (n->sm.widx[k] < check_max_acked_widx(s, k))
				sim_fail(s,
				    "acknowledged write lost: node "
				    "%llu key %u",
				    (unsigned long long)n->id, k);
		if (n->sm.applied < check_max_acked_index(s))
			sim_fail(s, "node %llu applied %llu < acked %llu",
			    (unsigned long long)n->id,
			    (unsigned long long)n->sm.applied,
			    (unsigned long long)check_max_acked_index(s));
	}
}

struct result {
	bool violated;
	uint64_t hash;
	uint64_t commits;
	uint64_t reads;
	uint64_t steps;
	char msg[512];
};

static bool no_commit_rule;

static void
run_seed(uint64_t seed, bool trace, FILE *out, struct result *res)
{
	static struct sim s;
	volatile bool jumped = true;

	sim_init(&s, seed, trace, out);
	s.commit_rule = !no_commit_rule;
	assert_sim = &s;
	raft_assert_hook = core_assert;
	if (setjmp(assert_jmp) == 0) {
		jumped = false;
		run_until(&s, SAFETY_TICKS, NULL);
		if (!s.violated) {
			heal(&s);
			run_until(&s, LIVENESS_TICKS, converged);
		}
		final_checks(&s);
	}
	res->violated = s.violated;
	res->hash = s.hash;
	res->commits = s.stat_commits;
	res->reads = s.stat_reads;
	res->steps = s.steps;
	snprintf(res->msg, sizeof(res->msg), "%s", s.violation);
	if (s.violated && trace && out == NULL) {
		for (uint32_t i = 0; i < s.ring_n; i++) {
			uint32_t k = (s.ring_head + RING_LINES - s.ring_n + i) %
			    RING_LINES;
			printf("  | %s\n", s.ring[k]);
		}
	}
	if (jumped) {
		/* after a longjmp the core may hold half-done state: leak it */
		raft_assert_hook = NULL;
		return;
	}
	sim_destroy(&s);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: simrun [--seeds N] [--from S] [--seed S] "
	    "[--trace] [--twice] [--expect-violation] [--keep-going] "
	    "[--no-commit-rule] [-v]\n");
	exit(2);
}

struct args {
	uint64_t seeds;
	uint64_t from;
	bool trace;
	bool twice;
	bool expect;
	bool verbose;
	bool keep_going;
};

static void
parse_args(int argc, char **argv, struct args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->seeds = 100;
	a->from = 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			a->seeds = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			a->from = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			a->from = strtoull(argv[++i], NULL, 10);
			a->seeds = 1;
		} else if (!strcmp(argv[i], "--trace"))
			a->trace = true;
		else if (!strcmp(argv[i], "--twice"))
			a->twice = true;
		else if (!strcmp(argv[i], "--expect-violation"))
			a->expect = true;
		else if (!strcmp(argv[i], "--keep-going"))
			a->keep_going = true;
		else if (!strcmp(argv[i], "--no-commit-rule"))
			no_commit_rule = true;
		else if (!strcmp(argv[i], "-v"))
			a->verbose = true;
		else
			usage();
	}
	if (getenv("SIM_SEEDS") != NULL)
		a->seeds = strtoull(getenv("SIM_SEEDS"), NULL, 10);
}

/* the seed, what broke, and how to see it again */
static void
report_violation(const char *prog, const struct args *a, uint64_t seed,
    const struct result *res)
{
	struct result again;

	printf("VIOLATION seed=%llu: %s\n", (unsigned long long)seed, res->msg);
	printf("replay: %s --seed %llu%s --trace\n", prog,
	    (unsigned long long)seed,
	    no_commit_rule ? " --no-commit-rule" : "");
	if (a->trace || a->keep_going)
		return;
	printf("last steps of the trace:\n");
	run_seed(seed, true, NULL, &again);
}

int
main(int argc, char **argv)
{
	struct args a;
	struct result res, res2, sum;
	uint64_t i, ran = 0, failures = 0;

	parse_args(argc, argv, &a);
	memset(&sum, 0, sizeof(sum));
	for (i = a.from; i < a.from + a.seeds; i++) {
		run_seed(i, a.trace, a.trace ? stdout : NULL, &res);
		ran++;
		if (a.twice && !res.violated) {
			run_seed(i, false, NULL, &res2);
			if (res2.hash != res.hash) {
				printf("NONDETERMINISM seed=%llu: trace hash "
				       "%016llx then %016llx\n",
				    (unsigned long long)i,
				    (unsigned long long)res.hash,
				    (unsigned long long)res2.hash);
				return 1;
			}
		}
		sum.hash = sum.hash * 31 + res.hash;
		sum.commits += res.commits;
		sum.reads += res.reads;
		sum.steps += res.steps;
		if (a.verbose)
			printf("seed %llu: hash %016llx commits %llu reads "
			       "%llu steps %llu\n",
			    (unsigned long long)i, (unsigned long long)res.hash,
			    (unsigned long long)res.commits,
			    (unsigned long long)res.reads,
			    (unsigned long long)res.steps);
		if (!res.violated)
			continue;
		failures++;
		report_violation(argv[0], &a, i, &res);
		if (!a.keep_going)
			break;
	}
	printf("%llu seeds from %llu: %llu violations, %llu acked writes, "
	       "%llu reads, %llu steps, hash %016llx\n",
	    (unsigned long long)ran, (unsigned long long)a.from,
	    (unsigned long long)failures, (unsigned long long)sum.commits,
	    (unsigned long long)sum.reads, (unsigned long long)sum.steps,
	    (unsigned long long)sum.hash);
	if (a.expect && failures == 0)
		printf("expected a violation, found none\n");
	if (a.expect)
		return failures > 0 ? 0 : 1;
	return failures > 0 ? 1 : 0;
}
