#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "proto/raft_wire.h"
#include "raftd/keys.h"
#include "raftd/node_int.h"
#include "raftd/node_snap.h"

/* committed entries applied in one state write at most */
#define NODE_APPLY_BATCH 256
/* batches executed per loop turn before yielding to other events */
#define NODE_PUMP_MAX 64
#define NODE_SWEEP_MS 1000

static void node_finish(struct node *);

uint64_t
node_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
node_core_assert(const char *file, int line, const char *expr)
{
	fatalx("raft core: %s:%d: %s", file, line, expr);
}

/* --- proposals waiting for their entry --- */

static struct node_slot *
node_slot(struct node *n, uint64_t index)
{
	return &n->slots[index % NODE_PENDING_MAX];
}

static void
node_slot_answer(
    struct node *n, struct node_slot *s, const struct fsm_result *res)
{
	void *waiter = s->waiter;

	memset(s, 0, sizeof(*s));
	n->hooks.proposed(waiter, res, n->hooks.arg);
}

static void
node_slot_fail(struct node *n, struct node_slot *s, uint16_t status)
{
	struct fsm_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	node_slot_answer(n, s, &res);
}

/*
 * proposals whose entry was replaced by another term's, cut from the log,
 * or not applied in time can no longer be answered with their result
 */
static void
node_slots_sweep(struct node *n, bool all)
{
	uint64_t now = node_now_ms(), last = raft_last_index(n->r);

	for (size_t i = 0; i < NODE_PENDING_MAX; i++) {
		struct node_slot *s = &n->slots[i];

		if (s->index == 0)
			continue;
		if (all || s->index > last ||
		    raft_term_at(n->r, s->index) != s->term ||
		    now >= s->deadline_ms)
			node_slot_fail(n, s, ST_COMMIT_UNKNOWN);
	}
}

static int64_t
node_entry_ts(const struct raft_entry *e)
{
	struct cmd c;

	if (e->type != RAFT_ENTRY_NORMAL ||
	    cmd_decode(e->data, e->len, &c) == -1)
		return 0;
	return c.ts;
}

static int64_t
node_stamp(struct node *n)
{
	struct timespec ts;
	int64_t now;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		fatal("clock_gettime");
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (now < n->last_ts)
		now = n->last_ts;
	n->last_ts = now;
	return now;
}

uint16_t
node_propose(struct node *n, struct cmd *c, void *waiter, uint64_t *leader)
{
	struct node_slot *s;
	struct pbuf pb;
	uint64_t index;
	int rc;

	*leader = 0;
	if (n->removed || n->closing)
		return ST_NO_LEADER;
	if (raft_role(n->r) != RAFT_LEADER) {
		*leader = raft_leader(n->r);
		return *leader != 0 ? ST_NOT_LEADER : ST_NO_LEADER;
	}
	s = node_slot(n, raft_last_index(n->r) + 1);
	if (s->index != 0) {
		log_warnx("%s: too many proposals in flight", __func__);
		return ST_NO_LEADER;
	}
	c->ts = node_stamp(n);
	pb_init(&pb);
	cmd_encode(&pb, c);
	if (pb.err)
		fatalx("%s: command does not encode", __func__);
	rc = raft_propose(n->r, pb.data, (uint32_t)pb.len, &index);
	pb_free(&pb);
	if (rc != RAFT_OK) {
		/* transferring, or too much uncommitted: writes wait */
		log_debug("%s: %s", __func__, raft_strerror(rc));
		return ST_NO_LEADER;
	}
	if (s != node_slot(n, index))
		fatalx("%s: entry %llu not at the expected index", __func__,
		    (unsigned long long)index);
	s->index = index;
	s->term = raft_term(n->r);
	s->waiter = waiter;
	s->deadline_ms = node_now_ms() + NODE_PROPOSE_WAIT_MS;
	node_pump(n);
	return ST_OK;
}

/* --- applying committed entries --- */

static void
node_apply_chunk(struct node *n, const struct raft_entry *e, size_t cnt)
{
	struct fsm_entry fe[NODE_APPLY_BATCH];
	struct fsm_result res[NODE_APPLY_BATCH];

	for (size_t i = 0; i < cnt; i++) {
		fe[i].index = e[i].index;
		fe[i].term = e[i].term;
		fe[i].type = e[i].type;
		fe[i].data = e[i].data;
		fe[i].len = e[i].len;
	}
	fsm_apply(n->fsm, fe, cnt, res);
	for (size_t i = 0; i < cnt; i++) {
		struct node_slot *s = node_slot(n, e[i].index);

		if (n->hooks.applied != NULL && fe[i].type == 0 &&
		    res[i].status == ST_OK)
			n->hooks.applied(n->hooks.arg, fe[i].data, fe[i].len);
		if (n->hooks.applied_result != NULL && fe[i].type == 0 &&
		    res[i].status == ST_OK)
			n->hooks.applied_result(
			    n->hooks.arg, fe[i].data, fe[i].len, &res[i]);
		if (s->index == e[i].index && s->term == e[i].term)
			node_slot_answer(n, s, &res[i]);
		else if (s->index == e[i].index)
			node_slot_fail(n, s, ST_COMMIT_UNKNOWN);
		fsm_result_clear(&res[i]);
	}
}

static void
node_apply(struct node *n, const struct raft_entry *e, uint32_t cnt)
{
	uint32_t k;

	for (uint32_t i = 0; i < cnt; i += k) {
		k = cnt - i < NODE_APPLY_BATCH ? cnt - i : NODE_APPLY_BATCH;
		node_apply_chunk(n, e + i, k);
	}
}

static void
node_maybe_snapshot(struct node *n)
{
	uint64_t applied = node_applied(n), index;

	if (n->opts.snapshot_threshold == 0 ||
	    applied < n->snap_index + n->opts.snapshot_threshold)
		return;
	if (node_snapshot_now(n, &index) == -1)
		/* retried after another threshold of entries */
		n->snap_index = applied;
}

int
node_snapshot_now(struct node *n, uint64_t *index)
{
	uint64_t applied = node_applied(n), len;
	uint8_t *data;
	int rc;

	/* the core must have advanced past what the state holds */
	if (n->batch_out || applied != raft_applied(n->r) ||
	    applied <= raft_snapshot_meta(n->r)->index ||
	    applied <= raft_log_base(n->r))
		return -1;
	if (node_snap_take(n->store, &data, &len) == -1)
		return -1;
	rc = raft_snapshot(n->r, applied, data, len, n->opts.snapshot_trailing);
	if (rc != RAFT_OK) {
		free(data);
		log_warnx("%s: %s", __func__, raft_strerror(rc));
		return -1;
	}
	/* stored before the compaction it allows is written (next batch) */
	node_snap_save(n->store, raft_snapshot_meta(n->r), data, len);
	free(data);
	n->snap_index = applied;
	n->snapshots++;
	*index = applied;
	log_info("snapshot at index %llu (%llu bytes)",
	    (unsigned long long)applied, (unsigned long long)len);
	node_pump(n);
	return 0;
}

/* --- executing one batch of the core --- */

static void
node_send(struct node *n, const struct raft_msg *m)
{
	if (n->hooks.send != NULL)
		n->hooks.send(n->hooks.arg, m);
}

/*
 * The leader may send appends, heartbeats and snapshot chunks before its
 * own write is durable: they depend on no vote or entry of its own that
 * is not stored yet once their term is.
 */
static void
node_send_early(struct node *n)
{
	struct raft_ready *rd = &n->rd;

	if (raft_role(n->r) != RAFT_LEADER)
		return;
	for (uint32_t i = 0; i < rd->n_msgs; i++) {
		const struct raft_msg *m = &rd->msgs[i];

		if ((m->type == RAFT_MSG_APPEND ||
			m->type == RAFT_MSG_HEARTBEAT ||
			m->type == RAFT_MSG_SNAPSHOT) &&
		    m->term <= n->durable_term) {
			node_send(n, m);
			n->sent[i] = true;
		}
	}
}

static void
node_durable(struct rlog_job *j, void *arg)
{
	struct node *n = arg;

	if (j != &n->job || !n->batch_out)
		fatalx("%s: unexpected job", __func__);
	if (j->n_entries > 0)
		n->stored_last = j->entries[j->n_entries - 1].index;
	if (j->has_hard_state) {
		n->durable_term = j->hard_state.term;
		n->durable_vote = j->hard_state.vote;
	}
	if (j->truncate_from > 0)
		/* entries of an old term were replaced */
		node_slots_sweep(n, false);
	node_finish(n);
	node_pump(n);
}

static void
node_install(struct node *n)
{
	struct raft_ready *rd = &n->rd;
	struct rlog_job hs;

	/* the term the snapshot came in is stored before the snapshot */
	if (rd->has_hard_state) {
		memset(&hs, 0, sizeof(hs));
		hs.has_hard_state = true;
		hs.hard_state = rd->hard_state;
		rlog_write_sync(n->store, &hs);
		n->durable_term = hs.hard_state.term;
		n->durable_vote = hs.hard_state.vote;
	}
	node_snap_install(
	    n->store, &rd->snapshot, rd->snapshot_data, rd->snapshot_len);
	fsm_reload(n->fsm);
	n->stored_last = rd->snapshot.index;
	n->snap_index = rd->snapshot.index;
	n->snapshots++;
	node_slots_sweep(n, false);
	if (n->hooks.installed != NULL)
		n->hooks.installed(n->hooks.arg);
}

static void
node_execute(struct node *n)
{
	struct raft_ready *rd = &n->rd;
	struct rlog_job *j = &n->job;

	if (rd->snapshot_install)
		node_install(n);
	memset(j, 0, sizeof(*j));
	if (rd->n_entries > 0) {
		if (rd->entries[0].index <= n->stored_last)
			j->truncate_from = rd->entries[0].index;
		j->entries = rd->entries;
		j->n_entries = rd->n_entries;
		for (uint32_t i = 0; i < rd->n_entries; i++) {
			int64_t ts = node_entry_ts(&rd->entries[i]);

			if (ts > n->last_ts)
				n->last_ts = ts;
		}
	}
	j->has_hard_state = rd->has_hard_state;
	j->hard_state = rd->hard_state;
	j->compact_index = rd->compact_index;
	j->compact_term = rd->compact_term;
	if (j->n_entries == 0 && j->compact_index == 0 &&
	    (!j->has_hard_state ||
		(j->hard_state.term == n->durable_term &&
		    j->hard_state.vote == n->durable_vote))) {
		/* at most a new commit index: no fsync needed (rlog.h) */
		if (j->has_hard_state)
			rlog_write_commit(n->store, j);
		node_finish(n);
		return;
	}
	if ((n->sent = calloc(rd->n_msgs + 1, sizeof(*n->sent))) == NULL)
		fatal("%s", __func__);
	node_send_early(n);
	if (rlog_writer_submit(n->writer, j) == -1)
		fatalx("%s: the log writer is busy", __func__);
}

static void
node_finish(struct node *n)
{
	struct raft_ready *rd = &n->rd;

	for (uint32_t i = 0; i < rd->n_msgs; i++)
		if (n->sent == NULL || !n->sent[i])
			node_send(n, &rd->msgs[i]);
	free(n->sent);
	n->sent = NULL;
	node_apply(n, rd->committed, rd->n_committed);
	node_reads_done(n, rd->reads, rd->n_reads);
	raft_advance(n->r, rd);
	n->batch_out = false;
	node_reads_check(n);
	node_members_check(n);
	node_maybe_snapshot(n);
}

void
node_mark_removed(struct node *n)
{
	char *err = NULL;

	if (n->removed)
		return;
	n->removed = true;
	rocksdb_put_cf(n->store->db, n->store->wo_sync,
	    n->store->cf[STORE_CF_RAFT], KEYS_RAFT_REMOVED,
	    strlen(KEYS_RAFT_REMOVED), "1", 1, &err);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
	log_warnx("this node was removed from the cluster: it stops taking "
		  "part");
}

/* bumps the watch version when leader, term, role or membership changed */
static void
node_changed_check(struct node *n)
{
	const struct raft_config *c = raft_config(n->r);
	bool member = raft_config_find(c, n->opts.id) >= 0;

	if (member)
		n->ever_member = true;
	else if (n->ever_member && !n->removed && c->n > 0 &&
	    raft_config_index(n->r) <= raft_commit(n->r))
		node_mark_removed(n);
	if (n->seen_leader == raft_leader(n->r) &&
	    n->seen_term == raft_term(n->r) &&
	    n->seen_role == raft_role(n->r) &&
	    n->seen_config == raft_config_index(n->r))
		return;
	if (n->seen_term != raft_term(n->r))
		node_slots_sweep(n, false);
	n->seen_leader = raft_leader(n->r);
	n->seen_term = raft_term(n->r);
	n->seen_role = raft_role(n->r);
	n->seen_config = raft_config_index(n->r);
	n->version++;
	if (n->hooks.changed != NULL)
		n->hooks.changed(n->hooks.arg);
}

static void
node_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_pump(arg);
}

void
node_pump(struct node *n)
{
	int i;

	if (n->pumping || n->batch_out)
		return;
	n->pumping = true;
	for (i = 0; i < NODE_PUMP_MAX && !n->batch_out; i++) {
		if (!raft_ready(n->r, &n->rd))
			break;
		n->batch_out = true;
		node_execute(n);
	}
	n->pumping = false;
	if (i == NODE_PUMP_MAX && n->pump_ev != NULL)
		event_active(n->pump_ev, EV_READ, 0);
	node_changed_check(n);
}

/* --- ticks and messages --- */

static void
node_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	uint64_t now = node_now_ms();

	(void)fd;
	(void)what;
	if (!n->removed)
		raft_tick(n->r);
	if (now >= n->sweep_ms + NODE_SWEEP_MS) {
		n->sweep_ms = now;
		node_slots_sweep(n, false);
	}
	node_reads_check(n);
	node_members_check(n);
	node_pump(n);
}

static void
node_peers_term(struct node *n)
{
	if (n->peers_term == raft_term(n->r))
		return;
	n->peers_term = raft_term(n->r);
	for (size_t i = 0; i <= RAFT_MAX_NODES; i++)
		n->peers[i].match = 0;
}

void
node_ctl_send(struct node *n, uint64_t to, struct pbuf *pb)
{
	if (n->hooks.send_ctl != NULL && !pb->err)
		n->hooks.send_ctl(n->hooks.arg, to, pb->data, pb->len);
}

/* a server the leader's committed configuration left out still talks */
static void
node_tell_removed(struct node *n, uint64_t id)
{
	const struct raft *r = n->r;
	struct node_peer *p = &n->peers[id];
	uint64_t now = node_now_ms();
	struct pbuf pb;

	if (raft_role(r) != RAFT_LEADER ||
	    raft_config_find(raft_config(r), id) >= 0 ||
	    raft_config_index(r) > raft_commit(r) ||
	    now < p->told_removed_ms + NODE_SWEEP_MS)
		return;
	p->told_removed_ms = now;
	pb_init(&pb);
	pb_add_u8(&pb, NODE_CTL_REMOVED);
	pb_add_u64(&pb, raft_term(r));
	pb_add_u64(&pb, raft_config_index(r));
	node_ctl_send(n, id, &pb);
	pb_free(&pb);
}

void
node_recv(struct node *n, const struct raft_msg *m)
{
	int rc;

	if (n->removed || n->closing || m->from == 0 ||
	    m->from > RAFT_MAX_NODES)
		return;
	n->peers[m->from].contact_ms = node_now_ms();
	node_tell_removed(n, m->from);
	if ((rc = raft_step(n->r, m)) != RAFT_OK) {
		log_debug("%s: %s from %llu: %s", __func__,
		    raft_msg_name(m->type), (unsigned long long)m->from,
		    raft_strerror(rc));
		return;
	}
	node_peers_term(n);
	if (m->type == RAFT_MSG_APPEND_RESP && !m->reject &&
	    raft_role(n->r) == RAFT_LEADER && m->term == raft_term(n->r) &&
	    m->index > n->peers[m->from].match)
		n->peers[m->from].match = m->index;
	node_pump(n);
}

/* --- boot --- */

static void
node_boot_entries(struct node *n, struct raft_boot *b, struct raft_entry **es)
{
	uint64_t last, term, first;

	rlog_last(n->store, &last, &term);
	*es = NULL;
	if (last <= b->log_base_index)
		return;
	first = rlog_first(n->store);
	if (first > b->log_base_index + 1)
		fatalx("%s: log starts at %llu after base %llu", __func__,
		    (unsigned long long)first,
		    (unsigned long long)b->log_base_index);
	if (last - b->log_base_index > UINT32_MAX)
		fatalx("%s: log too long", __func__);
	b->n_entries = (uint32_t)(last - b->log_base_index);
	if ((*es = calloc(b->n_entries, sizeof(**es))) == NULL)
		fatal("%s", __func__);
	for (uint32_t i = 0; i < b->n_entries; i++)
		if (rlog_read(n->store, b->log_base_index + 1 + i, &(*es)[i]) !=
		    1)
			fatalx("%s: log entry %llu missing", __func__,
			    (unsigned long long)(b->log_base_index + 1 + i));
	b->entries = *es;
	n->stored_last = last;
	for (uint32_t i = b->n_entries; i > 0 && n->last_ts == 0; i--)
		n->last_ts = node_entry_ts(&(*es)[i - 1]);
}

/*
 * a term below the snapshot's or the last entry's cannot have been ours
 * for long: raising it with no vote is safe
 */
static void
node_boot_term(struct raft_boot *b)
{
	uint64_t t = b->snapshot.term;

	if (b->n_entries > 0 && b->entries[b->n_entries - 1].term > t)
		t = b->entries[b->n_entries - 1].term;
	if (b->hard_state.term >= t)
		return;
	log_warnx("stored term %llu is below the log's %llu: raised",
	    (unsigned long long)b->hard_state.term, (unsigned long long)t);
	b->hard_state.term = t;
	b->hard_state.vote = 0;
}

static struct raft *
node_boot(struct node *n, const struct raft_options *ro)
{
	struct raft_boot b;
	struct raft_entry *es;
	struct raft_config boot_cfg;
	uint8_t *sdata;
	uint64_t slen, applied, aterm;
	struct raft *r;
	char *v;
	size_t vlen;

	node_snap_redo(n->store);
	fsm_reload(n->fsm);
	memset(&b, 0, sizeof(b));
	rlog_hard_state(n->store, &b.hard_state);
	node_snap_load(n->store, &b.snapshot, &sdata, &slen);
	b.snapshot_data = sdata;
	b.snapshot_len = slen;
	n->snap_index = b.snapshot.index;
	rlog_base(n->store, &b.log_base_index, &b.log_base_term);
	node_boot_entries(n, &b, &es);
	if (n->stored_last < b.log_base_index)
		n->stored_last = b.log_base_index;
	fsm_applied(n->fsm, &applied, &aterm);
	b.applied = applied;
	node_boot_term(&b);
	if (n->opts.bootstrap) {
		memset(&boot_cfg, 0, sizeof(boot_cfg));
		boot_cfg.n = 1;
		boot_cfg.servers[0].id = n->opts.id;
		boot_cfg.servers[0].role = RAFT_VOTER;
		b.bootstrap = &boot_cfg;
	}
	r = raft_new(n->opts.id, ro, &b, n->opts.seed);
	if (r == NULL)
		fatalx("%s: the stored raft state does not load (term %llu, "
		       "commit %llu, base %llu, %u entries, applied %llu)",
		    __func__, (unsigned long long)b.hard_state.term,
		    (unsigned long long)b.hard_state.commit,
		    (unsigned long long)b.log_base_index, b.n_entries,
		    (unsigned long long)applied);
	n->durable_term = b.hard_state.term;
	n->durable_vote = b.hard_state.vote;
	for (uint32_t i = 0; i < b.n_entries; i++)
		free(es[i].data);
	free(es);
	free(sdata);
	if (store_get(n->store, STORE_CF_RAFT, KEYS_RAFT_REMOVED,
		strlen(KEYS_RAFT_REMOVED), &v, &vlen) == 1) {
		n->removed = true;
		rocksdb_free(v);
	}
	return r;
}

/* a sole voter need not wait an election timeout: nobody else can lead */
static void
node_fast_elect(struct node *n, const struct raft_options *ro)
{
	const struct raft_config *c = raft_config(n->r);

	if (n->removed || raft_config_voters(c) != 1 ||
	    !raft_config_is_voter(c, n->opts.id))
		return;
	for (uint32_t i = 0;
	     i < 2 * ro->election_ticks && raft_role(n->r) != RAFT_LEADER; i++)
		raft_tick(n->r);
}

struct node *
node_open(struct store *s, struct fsm *f, struct event_base *base,
    const struct node_opts *o, const struct node_hooks *h)
{
	struct raft_options ro;
	struct timeval tv;
	struct node *n;

	if (o->id == 0 || o->id > RAFT_MAX_NODES)
		fatalx("%s: node id %llu out of range", __func__,
		    (unsigned long long)o->id);
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->slots = calloc(NODE_PENDING_MAX, sizeof(*n->slots))) == NULL)
		fatal("%s", __func__);
	raft_assert_hook = node_core_assert;
	n->store = s;
	n->fsm = f;
	n->base = base;
	n->opts = *o;
	n->hooks = *h;
	/* two ticks per heartbeat: the election timeout in ticks stays fine */
	n->tick_ms = o->heartbeat_ms >= 2 ? o->heartbeat_ms / 2 : 1;
	raft_options_default(&ro);
	ro.heartbeat_ticks = 2;
	ro.election_ticks = o->election_ms / n->tick_ms;
	if (ro.election_ticks < 3)
		ro.election_ticks = 3;
	ro.max_snapshot_bytes = NODE_SNAP_MAX;
	/* an append of one batch stays within a transport frame */
	ro.max_batch_bytes = RAFT_WIRE_MAX_BYTES / 2;
	n->r = node_boot(n, &ro);
	n->ever_member = raft_config_find(raft_config(n->r), o->id) >= 0;
	node_fast_elect(n, &ro);
	n->next_req_id = 1;
	n->seen_role = -1;
	n->writer = rlog_writer_start(s, base, node_durable, n);
	if ((n->tick_ev = event_new(base, -1, EV_PERSIST, node_tick_cb, n)) ==
		NULL ||
	    (n->pump_ev = event_new(base, -1, 0, node_pump_cb, n)) == NULL)
		fatalx("%s: event_new", __func__);
	tv.tv_sec = n->tick_ms / 1000;
	tv.tv_usec = (n->tick_ms % 1000) * 1000;
	if (event_add(n->tick_ev, &tv) == -1)
		fatalx("%s: event_add", __func__);
	node_pump(n);
	return n;
}

void
node_close(struct node *n)
{
	if (n == NULL)
		return;
	n->closing = true;
	event_free(n->tick_ev);
	/* what is in flight gets durable, applied and answered */
	for (int i = 0; i < NODE_PUMP_MAX && n->batch_out; i++) {
		rlog_writer_flush(n->writer);
		if (n->batch_out && !rlog_writer_busy(n->writer))
			break;
	}
	rlog_writer_stop(n->writer);
	if (n->batch_out) {
		raft_ready_free(&n->rd);
		free(n->sent);
	}
	node_slots_sweep(n, true);
	node_reads_fail_all(n);
	node_members_fail_all(n);
	event_free(n->pump_ev);
	raft_free(n->r);
	free(n->slots);
	free(n);
}

/* --- observers --- */

const struct raft *
node_core(const struct node *n)
{
	return n->r;
}

uint64_t
node_snapshots(const struct node *n)
{
	return n->snapshots;
}

uint64_t
node_applied(const struct node *n)
{
	uint64_t index, term;

	fsm_applied(n->fsm, &index, &term);
	return index;
}

bool
node_needs_join(const struct node *n)
{
	return !n->removed && raft_config(n->r)->n == 0;
}

bool
node_removed(const struct node *n)
{
	return n->removed;
}

uint64_t
node_version(const struct node *n)
{
	return n->version;
}

uint64_t
node_log_commits(const struct node *n)
{
	return rlog_writer_commits(n->writer);
}

void
node_fsync_hist(const struct node *n, struct metrics_hist *out)
{
	rlog_writer_fsync_hist(n->writer, out);
}

int64_t
node_peer_match(const struct node *n, uint64_t id)
{
	if (id == n->opts.id)
		return (int64_t)n->stored_last;
	if (raft_role(n->r) != RAFT_LEADER || id == 0 || id > RAFT_MAX_NODES ||
	    n->peers_term != raft_term(n->r))
		return -1;
	return (int64_t)n->peers[id].match;
}

int64_t
node_peer_contact_ms(const struct node *n, uint64_t id)
{
	if (id == n->opts.id)
		return 0;
	if (id == 0 || id > RAFT_MAX_NODES || n->peers[id].contact_ms == 0)
		return -1;
	return (int64_t)(node_now_ms() - n->peers[id].contact_ms);
}
