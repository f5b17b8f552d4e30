/*
 * The Raft node driver (raftd/node.h) over real RocksDB stores: one-node
 * bootstrap and group commit, answers only after the log is durable,
 * restart recovery, a crash while proposals stream, and two nodes in one
 * process over an in-memory network: join, NOT_LEADER on the follower,
 * replication, a follower's linearizable read, snapshots and their install.
 */
#include <check.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/fsm.h"
#include "raftd/keys.h"
#include "raftd/node.h"
#include "raftd/node_snap.h"
#include "raftd/rlog.h"
#include "raftd/store.h"

#define ROOT "root"
#define MAXN 3

struct tnode {
	char dir[64];
	struct store *st;
	struct fsm *fsm;
	struct node *n;
	uint64_t id;
	bool down; /* messages to it are dropped */
};

struct waiter {
	int done;
	uint16_t status;
	char data[64];
	uint64_t index;
	struct tnode *t;
	bool durable_checked;
};

struct rwaiter {
	int done;
	uint16_t status;
	uint8_t consistency;
	char value[64];
};

struct mwaiter {
	int done;
	uint16_t status;
	uint64_t id;
};

/* an in-memory network between the nodes of one test */
struct packet {
	uint64_t to;
	uint64_t from;
	bool ctl;
	struct raft_msg m;
	uint8_t *buf;
	size_t len;
};

#define NET_MAX 65536

static struct event_base *base;
static struct tnode tn[MAXN + 1];
static struct packet *net;
static size_t net_n;
static struct event *net_ev;
static int done_count;

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
net_deliver(evutil_socket_t fd, short what, void *arg)
{
	size_t n = net_n;
	struct packet *batch;

	(void)fd;
	(void)what;
	(void)arg;
	if (n == 0)
		return;
	batch = malloc(n * sizeof(*batch));
	ck_assert_ptr_nonnull(batch);
	memcpy(batch, net, n * sizeof(*batch));
	net_n = 0;
	for (size_t i = 0; i < n; i++) {
		struct packet *p = &batch[i];
		struct tnode *t = &tn[p->to];

		if (t->n != NULL && !t->down && !tn[p->from].down) {
			if (p->ctl)
				node_recv_ctl(t->n, p->from, p->buf, p->len);
			else
				node_recv(t->n, &p->m);
		}
		if (p->ctl)
			free(p->buf);
		else
			raft_msg_free(&p->m);
	}
	free(batch);
}

static struct packet *
net_slot(uint64_t to)
{
	if (to == 0 || to > MAXN || net_n == NET_MAX)
		return NULL;
	event_active(net_ev, EV_READ, 0);
	return &net[net_n++];
}

static void
t_send(void *arg, const struct raft_msg *m)
{
	struct packet *p = net_slot(m->to);

	(void)arg;
	if (p == NULL)
		return;
	memset(p, 0, sizeof(*p));
	p->to = m->to;
	p->from = m->from;
	raft_msg_copy(&p->m, m);
}

static void
t_send_ctl(void *arg, uint64_t to, const uint8_t *buf, size_t len)
{
	struct tnode *t = arg;
	struct packet *p = net_slot(to);

	if (p == NULL)
		return;
	memset(p, 0, sizeof(*p));
	p->to = to;
	p->from = t->id;
	p->ctl = true;
	p->buf = malloc(len);
	ck_assert_ptr_nonnull(p->buf);
	memcpy(p->buf, buf, len);
	p->len = len;
}

static void
t_proposed(void *w, const struct fsm_result *res, void *arg)
{
	struct waiter *wt = w;
	struct raft_entry e;
	struct raft_hard_state hs;

	(void)arg;
	wt->done++;
	wt->status = res->status;
	snprintf(wt->data, sizeof(wt->data), "%.*s", (int)res->data_len,
	    (const char *)res->data);
	/* answered only once the entry and the commit index are durable */
	if (wt->t != NULL && wt->index != 0 && res->status == ST_OK) {
		ck_assert_int_eq(rlog_read(wt->t->st, wt->index, &e), 1);
		free(e.data);
		rlog_hard_state(wt->t->st, &hs);
		ck_assert_uint_ge(hs.commit, wt->index);
		wt->durable_checked = true;
	}
	done_count++;
}

static void
t_read_done(void *w, const uint8_t *res, size_t len, void *arg)
{
	struct rwaiter *rw = w;
	struct pread pr;
	const uint8_t *v = NULL;
	size_t vlen = 0;

	(void)arg;
	pr_init(&pr, res, len);
	pr_get_u16(&pr, &rw->status);
	pr_get_u8(&pr, &rw->consistency);
	if (rw->status == ST_OK)
		pr_get_bytes(&pr, &v, &vlen);
	ck_assert_int_eq(pr_end(&pr), 0);
	snprintf(
	    rw->value, sizeof(rw->value), "%.*s", (int)vlen, (const char *)v);
	rw->done++;
	done_count++;
}

static void
t_member_done(void *w, uint16_t status, uint64_t id, void *arg)
{
	struct mwaiter *mw = w;

	(void)arg;
	mw->done++;
	mw->status = status;
	mw->id = id;
	done_count++;
}

static void
t_open(uint64_t id, bool bootstrap, uint64_t threshold, uint64_t trailing)
{
	struct tnode *t = &tn[id];
	struct node_opts o;
	struct node_hooks h;

	t->id = id;
	t->st = store_open(t->dir);
	ck_assert_ptr_nonnull(t->st);
	t->fsm = fsm_open(t->st, ROOT);
	memset(&o, 0, sizeof(o));
	o.id = id;
	o.bootstrap = bootstrap;
	o.heartbeat_ms = 20;
	o.election_ms = 200;
	o.snapshot_threshold = threshold;
	o.snapshot_trailing = trailing;
	o.seed = id * 7919;
	memset(&h, 0, sizeof(h));
	h.send = t_send;
	h.send_ctl = t_send_ctl;
	h.proposed = t_proposed;
	h.read_done = t_read_done;
	h.member_done = t_member_done;
	h.arg = t;
	t->n = node_open(t->st, t->fsm, base, &o, &h);
	ck_assert_ptr_nonnull(t->n);
}

static void
t_close(uint64_t id)
{
	struct tnode *t = &tn[id];

	node_close(t->n);
	t->n = NULL;
	fsm_free(t->fsm);
	store_close(t->st);
	t->fsm = NULL;
	t->st = NULL;
}

static void
setup(void)
{
	evthread_use_pthreads();
	base = event_base_new();
	net = calloc(NET_MAX, sizeof(*net));
	ck_assert_ptr_nonnull(net);
	net_n = 0;
	net_ev = event_new(base, -1, 0, net_deliver, NULL);
	done_count = 0;
	memset(tn, 0, sizeof(tn));
	for (int i = 1; i <= MAXN; i++) {
		snprintf(tn[i].dir, sizeof(tn[i].dir), "/tmp/check-node-%d-%d",
		    (int)getpid(), i);
		nftw(tn[i].dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static void
teardown(void)
{
	for (int i = 1; i <= MAXN; i++) {
		if (tn[i].n != NULL)
			t_close((uint64_t)i);
		nftw(tn[i].dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	net_deliver(-1, 0, NULL);
	event_free(net_ev);
	free(net);
	event_base_free(base);
}

/* runs the loop until cond() holds; bounded by ms */
static bool
run_until(bool (*cond)(void), int ms)
{
	struct timeval tv = { 0, 10000 };
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (cond())
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
			(now.tv_nsec - t0.tv_nsec) / 1000000 >
		    ms)
			return false;
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static int want_done;

static bool
enough_done(void)
{
	return done_count >= want_done;
}

static struct cmd
bump_cmd(const char *key, int64_t delta)
{
	struct cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_BUMP;
	snprintf(c.scope, sizeof(c.scope), "s1");
	c.key = (const uint8_t *)key;
	c.key_len = strlen(key);
	c.num = delta;
	return c;
}

static struct cmd
set_cmd(const char *key, const char *value)
{
	struct cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_KV_SET;
	snprintf(c.scope, sizeof(c.scope), "s1");
	c.key = (const uint8_t *)key;
	c.key_len = strlen(key);
	c.value = (const uint8_t *)value;
	c.value_len = strlen(value);
	return c;
}

static uint16_t
propose(uint64_t id, struct cmd c, struct waiter *w, uint64_t *leader)
{
	uint64_t l;
	uint16_t st;

	memset(w, 0, sizeof(*w));
	w->t = &tn[id];
	st = node_propose(tn[id].n, &c, w, leader != NULL ? leader : &l);
	if (st == ST_OK)
		w->index = raft_last_index(node_core(tn[id].n));
	return st;
}

/* a local read of s1:<key> through the state machine */
static void
read_req(struct pbuf *pb, const char *key, uint8_t consistency)
{
	struct read_req q;

	memset(&q, 0, sizeof(q));
	q.op = READ_KV_GET;
	q.consistency = consistency;
	snprintf(q.scope, sizeof(q.scope), "s1");
	q.key = (const uint8_t *)key;
	q.key_len = strlen(key);
	pb_init(pb);
	read_req_encode(pb, &q);
	ck_assert_int_eq(pb->err, 0);
}

static void
node_get(uint64_t id, const char *key, uint8_t consistency, struct rwaiter *rw)
{
	struct pbuf pb;

	memset(rw, 0, sizeof(*rw));
	read_req(&pb, key, consistency);
	node_read(tn[id].n, pb.data, pb.len, rw);
	pb_free(&pb);
	want_done = done_count + (rw->done ? 0 : 1);
	ck_assert(run_until(enough_done, 5000));
	ck_assert_int_eq(rw->done, 1);
}

static bool
is_leader1(void)
{
	return raft_role(node_core(tn[1].n)) == RAFT_LEADER;
}

/* --- one node --- */

START_TEST(bootstrap_group_commit_restart)
{
	enum { N = 300 };
	static struct waiter w[N];
	struct waiter one;
	struct rwaiter rw;
	const struct raft *r;
	uint64_t term;

	t_open(1, true, 0, 0);
	r = node_core(tn[1].n);
	/* a sole voter leads at once, without an election timeout */
	ck_assert_int_eq(raft_role(r), RAFT_LEADER);
	ck_assert(!node_needs_join(tn[1].n));
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(
		    propose(1, bump_cmd("n", 1), &w[i], NULL), ST_OK);
	/* nothing is answered before the log writer made it durable */
	ck_assert_int_eq(done_count, 0);
	want_done = N;
	ck_assert(run_until(enough_done, 20000));
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(w[i].done, 1);
		ck_assert_uint_eq(w[i].status, ST_OK);
		ck_assert(w[i].durable_checked);
	}
	ck_assert_str_eq(w[N - 1].data, "300");
	ck_assert_uint_eq(node_applied(tn[1].n), raft_last_index(r));
	ck_assert_uint_eq(raft_commit(r), raft_last_index(r));
	/* group commit: many proposals per synced write */
	ck_assert_uint_ge(node_log_commits(tn[1].n), 1);
	ck_assert_uint_lt(node_log_commits(tn[1].n), N);
	term = raft_term(r);
	t_close(1);

	/* restart: same state, a new term, and it leads again */
	t_open(1, true, 0, 0);
	r = node_core(tn[1].n);
	ck_assert_int_eq(raft_role(r), RAFT_LEADER);
	ck_assert_uint_gt(raft_term(r), term);
	ck_assert_uint_eq(propose(1, bump_cmd("n", 1), &one, NULL), ST_OK);
	want_done = done_count + 1;
	ck_assert(run_until(enough_done, 5000));
	ck_assert_str_eq(one.data, "301");
	node_get(1, "n", READ_LINEARIZABLE, &rw);
	ck_assert_uint_eq(rw.status, ST_OK);
	ck_assert_uint_eq(rw.consistency, READ_LINEARIZABLE);
	ck_assert_str_eq(rw.value, "301");
}
END_TEST

/* entries committed before a crash but not applied are applied at boot;
 * an uncommitted tail is committed by the new leader's no-op */
START_TEST(recovery_applies_committed_log)
{
	struct raft_config c;
	struct raft_entry e[7];
	uint8_t cfg[64];
	struct pbuf pb[6];
	struct rlog_job j;
	struct rwaiter rw;

	memset(&c, 0, sizeof(c));
	c.n = 1;
	c.servers[0].id = 1;
	memset(e, 0, sizeof(e));
	e[0].index = 1;
	e[0].term = 1;
	e[0].type = RAFT_ENTRY_CONFIG;
	e[0].len = (uint32_t)raft_config_encode(&c, cfg, sizeof(cfg));
	e[0].data = cfg;
	for (int i = 1; i < 7; i++) {
		struct cmd cm = bump_cmd("n", 1);

		cm.ts = i;
		pb_init(&pb[i - 1]);
		cmd_encode(&pb[i - 1], &cm);
		e[i].index = (uint64_t)i + 1;
		e[i].term = 1;
		e[i].data = pb[i - 1].data;
		e[i].len = (uint32_t)pb[i - 1].len;
	}
	tn[1].st = store_open(tn[1].dir);
	memset(&j, 0, sizeof(j));
	j.entries = e;
	j.n_entries = 7;
	j.has_hard_state = true;
	j.hard_state.term = 1;
	j.hard_state.vote = 1;
	j.hard_state.commit = 6;
	rlog_write_sync(tn[1].st, &j);
	store_close(tn[1].st);
	for (int i = 0; i < 6; i++)
		pb_free(&pb[i]);

	t_open(1, false, 0, 0);
	want_done = 0;
	/* the committed prefix applies at once, the tail after the no-op */
	ck_assert(run_until(is_leader1, 5000));
	node_get(1, "n", READ_LINEARIZABLE, &rw);
	ck_assert_str_eq(rw.value, "6");
	ck_assert_uint_ge(node_applied(tn[1].n), 8);
}
END_TEST

/* a crash after the install record and before the state: boot redoes it */
START_TEST(interrupted_install_is_redone)
{
	struct waiter w;
	struct rwaiter rw;
	struct raft_config c;
	uint8_t *data, *rec, cfg[64];
	uint64_t len, applied, term;
	size_t clen, n;
	char *err = NULL, *v;
	size_t vlen;

	t_open(1, true, 0, 0);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(
		    propose(1, bump_cmd("n", 1), &w, NULL), ST_OK);
	want_done = 5;
	ck_assert(run_until(enough_done, 5000));
	ck_assert_int_eq(node_snap_take(tn[1].st, &data, &len), 0);
	store_applied(tn[1].st, &applied, &term);
	t_close(1);

	/* "install": u64 index, u64 term, u32 n, membership, the data */
	memset(&c, 0, sizeof(c));
	c.n = 1;
	c.servers[0].id = 2;
	clen = raft_config_encode(&c, cfg, sizeof(cfg));
	n = 20 + clen + len;
	rec = malloc(n);
	ck_assert_ptr_nonnull(rec);
	keys_put_u64(rec, applied);
	keys_put_u64(rec + 8, term);
	rec[16] = rec[17] = rec[18] = 0;
	rec[19] = (uint8_t)clen;
	memcpy(rec + 20, cfg, clen);
	memcpy(rec + 20 + clen, data, len);
	tn[2].st = store_open(tn[2].dir);
	rocksdb_put_cf(tn[2].st->db, tn[2].st->wo_sync,
	    tn[2].st->cf[STORE_CF_RAFT], KEYS_RAFT_INSTALL,
	    strlen(KEYS_RAFT_INSTALL), (const char *)rec, n, &err);
	ck_assert_ptr_null(err);
	store_close(tn[2].st);
	free(rec);
	free(data);

	t_open(2, false, 0, 0);
	ck_assert_int_eq(store_get(tn[2].st, STORE_CF_RAFT, KEYS_RAFT_INSTALL,
			     strlen(KEYS_RAFT_INSTALL), &v, &vlen),
	    0);
	ck_assert_uint_eq(node_applied(tn[2].n), applied);
	ck_assert_uint_eq(raft_log_base(node_core(tn[2].n)), applied);
	node_get(2, "n", READ_LOCAL, &rw);
	ck_assert_str_eq(rw.value, "5");
	/* the snapshot's membership is in force: it leads alone */
	ck_assert_int_eq(raft_role(node_core(tn[2].n)), RAFT_LEADER);
}
END_TEST

/* --- two and three nodes over the in-memory network --- */

static uint64_t watch_id;
static uint64_t watch_leader;

static bool
sees_leader(void)
{
	return tn[watch_id].n != NULL &&
	    raft_leader(node_core(tn[watch_id].n)) == watch_leader;
}

static bool
is_voter(void)
{
	return raft_config_is_voter(raft_config(node_core(tn[1].n)), watch_id);
}

static uint64_t applied_want;

static bool
joined(void)
{
	return !node_needs_join(tn[watch_id].n);
}

static bool
compacted(void)
{
	return rlog_first(tn[1].st) > 1;
}

static bool
caught_up(void)
{
	return node_applied(tn[watch_id].n) >= applied_want;
}

static void
join(uint64_t id)
{
	struct mwaiter mw;

	memset(&mw, 0, sizeof(mw));
	node_member(tn[1].n, MEMBER_JOIN, id, "127.0.0.1:7000", &mw);
	want_done = done_count + (mw.done ? 0 : 1);
	ck_assert(run_until(enough_done, 10000));
	ck_assert_int_eq(mw.done, 1);
	ck_assert_uint_eq(mw.status, MEMBER_OK);
	ck_assert_uint_eq(mw.id, id);
}

START_TEST(join_follower_not_leader_and_reads)
{
	struct waiter w;
	struct rwaiter rw;
	struct mwaiter mw;
	uint64_t leader = 99;

	t_open(1, true, 0, 0);
	t_open(2, false, 0, 0);
	ck_assert(node_needs_join(tn[2].n));
	ck_assert(!node_needs_join(tn[1].n));
	/* no configuration yet: no leader known */
	ck_assert_uint_eq(
	    propose(2, set_cmd("k", "v"), &w, &leader), ST_NO_LEADER);
	ck_assert_uint_eq(leader, 0);
	join(2);
	watch_id = 2;
	watch_leader = 1;
	ck_assert(run_until(sees_leader, 5000));
	/* a member once a leader sent it a configuration */
	ck_assert(run_until(joined, 5000));
	/* the learner is promoted once caught up */
	ck_assert(run_until(is_voter, 5000));
	/* a join of a member at the same address answers at once */
	memset(&mw, 0, sizeof(mw));
	node_member(tn[1].n, MEMBER_JOIN, 2, "127.0.0.1:7000", &mw);
	ck_assert_int_eq(mw.done, 1);
	ck_assert_uint_eq(mw.status, MEMBER_OK);
	node_member(tn[1].n, MEMBER_JOIN, 2, "127.0.0.2:7000", &mw);
	ck_assert_uint_eq(mw.status, MEMBER_CONFLICT);
	/* the follower refuses writes, naming the leader */
	ck_assert_uint_eq(
	    propose(2, set_cmd("k", "v"), &w, &leader), ST_NOT_LEADER);
	ck_assert_uint_eq(leader, 1);
	memset(&mw, 0, sizeof(mw));
	node_member(tn[2].n, MEMBER_REMOVE, 1, NULL, &mw);
	ck_assert_uint_eq(mw.status, MEMBER_NOT_LEADER);
	ck_assert_uint_eq(mw.id, 1);
	/* the leader's write reaches the follower */
	ck_assert_uint_eq(propose(1, set_cmd("k", "v1"), &w, NULL), ST_OK);
	want_done = done_count + 1;
	ck_assert(run_until(enough_done, 5000));
	ck_assert_uint_eq(w.status, ST_OK);
	node_get(2, "k", READ_LINEARIZABLE, &rw);
	ck_assert_uint_eq(rw.status, ST_OK);
	ck_assert_uint_eq(rw.consistency, READ_LINEARIZABLE);
	ck_assert_str_eq(rw.value, "v1");
	/* a default read on a follower is local */
	node_get(2, "k", READ_LOCAL, &rw);
	ck_assert_uint_eq(rw.consistency, READ_LOCAL);
	ck_assert_str_eq(rw.value, "v1");
	/* the leader cannot remove itself */
	memset(&mw, 0, sizeof(mw));
	node_member(tn[1].n, MEMBER_REMOVE, 1, NULL, &mw);
	ck_assert_uint_eq(mw.status, MEMBER_INVALID);
	node_member(tn[1].n, MEMBER_REMOVE, 3, NULL, &mw);
	ck_assert_uint_eq(mw.status, MEMBER_NOT_FOUND);
	/* a cut-off follower cannot confirm a linearizable read */
	tn[1].down = true;
	node_get(2, "k", READ_LINEARIZABLE, &rw);
	ck_assert_uint_eq(rw.status, ST_NO_LEADER);
	tn[1].down = false;
}
END_TEST

static bool
one_removed(void)
{
	return node_removed(tn[1].n);
}

START_TEST(transfer_leadership)
{
	struct mwaiter mw;
	struct waiter w;
	uint64_t leader;

	t_open(1, true, 0, 0);
	t_open(2, false, 0, 0);
	t_open(3, false, 0, 0);
	join(2);
	watch_id = 2;
	ck_assert(run_until(is_voter, 5000));
	join(3);
	watch_id = 3;
	ck_assert(run_until(is_voter, 5000));
	memset(&mw, 0, sizeof(mw));
	node_member(tn[1].n, MEMBER_TRANSFER, 1, NULL, &mw);
	ck_assert_uint_eq(mw.status, MEMBER_OK);
	memset(&mw, 0, sizeof(mw));
	node_member(tn[1].n, MEMBER_TRANSFER, 2, NULL, &mw);
	want_done = done_count + (mw.done ? 0 : 1);
	ck_assert(run_until(enough_done, 6000));
	ck_assert_uint_eq(mw.status, MEMBER_OK);
	ck_assert_uint_eq(mw.id, 2);
	watch_id = 3;
	watch_leader = 2;
	ck_assert(run_until(sees_leader, 5000));
	ck_assert_uint_eq(
	    propose(1, set_cmd("k", "v"), &w, &leader), ST_NOT_LEADER);
	ck_assert_uint_eq(leader, 2);
	/* the new leader removes the old one */
	memset(&mw, 0, sizeof(mw));
	node_member(tn[2].n, MEMBER_REMOVE, 1, NULL, &mw);
	want_done = done_count + (mw.done ? 0 : 1);
	ck_assert(run_until(enough_done, 6000));
	ck_assert_uint_eq(mw.status, MEMBER_OK);
	ck_assert_int_lt(
	    raft_config_find(raft_config(node_core(tn[2].n)), 1), 0);
	/* the removed node learns it from the leader and stops */
	ck_assert(run_until(one_removed, 5000));
	ck_assert(!node_removed(tn[2].n));
	ck_assert(!node_removed(tn[3].n));
	ck_assert_uint_eq(
	    propose(1, set_cmd("k", "v"), &w, &leader), ST_NO_LEADER);
}
END_TEST

START_TEST(snapshot_install_on_a_new_member)
{
	enum { N = 80 };
	static struct waiter w[N];
	struct rwaiter rw;
	const struct raft *r;

	t_open(1, true, 20, 5);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(
		    propose(1, bump_cmd("n", 1), &w[i], NULL), ST_OK);
	want_done = N;
	ck_assert(run_until(enough_done, 10000));
	r = node_core(tn[1].n);
	ck_assert_uint_gt(raft_snapshot_meta(r)->index, 0);
	ck_assert_uint_gt(raft_log_base(r), 0);
	/* the compaction reached the disk */
	ck_assert(run_until(compacted, 2000));
	/* a new member is too far behind for the log: it gets the snapshot */
	t_open(2, false, 0, 0);
	join(2);
	watch_id = 2;
	applied_want = node_applied(tn[1].n);
	ck_assert(run_until(caught_up, 10000));
	node_get(2, "n", READ_LOCAL, &rw);
	ck_assert_str_eq(rw.value, "80");
	ck_assert_uint_gt(raft_snapshot_meta(node_core(tn[2].n))->index, 0);
	/* and keeps it over a restart */
	t_close(2);
	t_open(2, false, 0, 0);
	node_get(2, "n", READ_LOCAL, &rw);
	ck_assert_str_eq(rw.value, "80");
	ck_assert(!node_needs_join(tn[2].n));
	/* the leader restarts from its snapshot and trailing log */
	t_close(1);
	t_open(1, true, 20, 5);
	node_get(1, "n", READ_LINEARIZABLE, &rw);
	ck_assert_str_eq(rw.value, "80");
}
END_TEST

/* --- crash: kill -9 while proposals stream, then recover --- */

static struct waiter crash_w;

static void crash_proposed(void *w, const struct fsm_result *res, void *arg);

static void
crash_propose(void)
{
	struct cmd c = bump_cmd("n", 1);
	uint64_t leader;

	if (node_propose(tn[1].n, &c, &crash_w, &leader) != ST_OK)
		abort();
}

static void
crash_proposed(void *w, const struct fsm_result *res, void *arg)
{
	(void)w;
	(void)arg;
	if (res->status != ST_OK)
		abort();
	crash_propose();
}

/* the child: bumps "n" by one per entry, 256 in flight, until killed */
static int
crash_writer(const char *path)
{
	struct node_opts o;
	struct node_hooks h;
	struct timespec start, now;

	evthread_use_pthreads();
	base = event_base_new();
	if ((tn[1].st = store_open(path)) == NULL)
		return 2;
	tn[1].fsm = fsm_open(tn[1].st, ROOT);
	memset(&o, 0, sizeof(o));
	o.id = 1;
	o.bootstrap = true;
	o.heartbeat_ms = 20;
	o.election_ms = 200;
	memset(&h, 0, sizeof(h));
	h.proposed = crash_proposed;
	h.read_done = t_read_done;
	h.member_done = t_member_done;
	tn[1].n = node_open(tn[1].st, tn[1].fsm, base, &o, &h);
	for (int i = 0; i < 256; i++)
		crash_propose();
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* bounded: the parent kills it long before */
	do {
		event_base_loop(base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 20);
	return 3;
}

static uint64_t
counter_value(struct store *s)
{
	char *v = NULL;
	size_t vlen;
	uint64_t n = 0;
	char buf[32];

	if (store_get(s, STORE_CF_KV, "s1:n", 4, &v, &vlen) == 1) {
		snprintf(buf, sizeof(buf), "%.*s", (int)vlen, v);
		n = strtoull(buf, NULL, 10);
		rocksdb_free(v);
	}
	return n;
}

/* every entry but the configuration and the no-ops is one bump */
static uint64_t
bumps_upto(struct store *s, uint64_t upto)
{
	struct raft_entry e;
	uint64_t n = 0;

	for (uint64_t i = 1; i <= upto; i++) {
		ck_assert_int_eq(rlog_read(s, i, &e), 1);
		if (e.type == RAFT_ENTRY_NORMAL)
			n++;
		free(e.data);
	}
	return n;
}

START_TEST(crash_recovery_consistent)
{
	char *argv[] = { "/proc/self/exe", "--crash-writer", tn[1].dir, NULL };
	uint64_t applied, term, last, last_term, before = 0;
	struct rwaiter rw;
	pid_t pid;
	int status;

	for (int round = 0; round < 3; round++) {
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0) {
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		usleep(400000 + 100000 * round);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status));

		tn[1].st = store_open(tn[1].dir);
		ck_assert_ptr_nonnull(tn[1].st);
		store_applied(tn[1].st, &applied, &term);
		rlog_last(tn[1].st, &last, &last_term);
		/* the state is exactly the effect of entries 1..applied */
		ck_assert_uint_eq(
		    counter_value(tn[1].st), bumps_upto(tn[1].st, applied));
		ck_assert_uint_ge(last, applied);
		ck_assert_uint_gt(last, before);
		store_close(tn[1].st);
		/* the restarted node commits and applies the whole log */
		t_open(1, true, 0, 0);
		ck_assert(run_until(is_leader1, 5000));
		node_get(1, "n", READ_LINEARIZABLE, &rw);
		ck_assert_uint_eq(
		    node_applied(tn[1].n), raft_last_index(node_core(tn[1].n)));
		ck_assert_uint_eq(
		    strtoull(rw.value, NULL, 10), bumps_upto(tn[1].st, last));
		t_close(1);
		before = last;
	}
}
END_TEST

/* a surviving node's state becomes a one-node cluster of its own */
START_TEST(force_new_cluster_from_a_member)
{
	struct waiter w;
	struct rwaiter rw;
	const struct raft_config *c;

	t_open(1, true, 0, 0);
	t_open(2, false, 0, 0);
	join(2);
	watch_id = 2;
	ck_assert(run_until(is_voter, 5000));
	ck_assert_uint_eq(propose(1, set_cmd("k", "v1"), &w, NULL), ST_OK);
	want_done = done_count + 1;
	ck_assert(run_until(enough_done, 5000));
	applied_want = node_applied(tn[1].n);
	ck_assert(run_until(caught_up, 5000));
	t_close(1);
	t_close(2);
	tn[2].st = store_open(tn[2].dir);
	tn[2].fsm = fsm_open(tn[2].st, ROOT);
	node_snap_force_new_cluster(tn[2].st, tn[2].fsm, 2);
	fsm_free(tn[2].fsm);
	store_close(tn[2].st);
	t_open(2, true, 0, 0);
	c = raft_config(node_core(tn[2].n));
	ck_assert_uint_eq(c->n, 1);
	ck_assert(raft_config_is_voter(c, 2));
	ck_assert_int_eq(raft_role(node_core(tn[2].n)), RAFT_LEADER);
	node_get(2, "k", READ_LINEARIZABLE, &rw);
	ck_assert_str_eq(rw.value, "v1");
	ck_assert_uint_eq(propose(2, set_cmd("k", "v2"), &w, NULL), ST_OK);
	want_done = done_count + 1;
	ck_assert(run_until(enough_done, 5000));
	ck_assert_uint_eq(w.status, ST_OK);
	/* and stays one over a restart */
	t_close(2);
	t_open(2, false, 0, 0);
	ck_assert_int_eq(raft_role(node_core(tn[2].n)), RAFT_LEADER);
	node_get(2, "k", READ_LINEARIZABLE, &rw);
	ck_assert_str_eq(rw.value, "v2");
}
END_TEST

/* --- churn: restarts and cut links while writes stream --- */

static int churn_ok, churn_unknown, churn_in_flight;

static void
churn_proposed(void *w, const struct fsm_result *res, void *arg)
{
	(void)arg;
	free(w);
	churn_in_flight--;
	if (res->status == ST_OK)
		churn_ok++;
	else if (res->status == ST_COMMIT_UNKNOWN)
		churn_unknown++;
	else
		ck_abort_msg("proposal answered %u", res->status);
}

static void
churn_propose(void)
{
	for (uint64_t id = 1; id <= MAXN; id++) {
		struct cmd c = bump_cmd("n", 1);
		uint64_t leader;
		void *w;

		if (tn[id].n == NULL || tn[id].down ||
		    raft_role(node_core(tn[id].n)) != RAFT_LEADER)
			continue;
		w = malloc(1);
		if (node_propose(tn[id].n, &c, w, &leader) == ST_OK)
			churn_in_flight++;
		else
			free(w);
	}
}

static uint64_t
node_counter(uint64_t id)
{
	struct rwaiter rw;

	node_get(id, "n", READ_LOCAL, &rw);
	return strtoull(rw.value, NULL, 10);
}

static bool
all_applied(void)
{
	uint64_t c = raft_commit(node_core(tn[1].n));

	for (uint64_t id = 1; id <= MAXN; id++)
		if (raft_commit(node_core(tn[id].n)) > c)
			c = raft_commit(node_core(tn[id].n));
	for (uint64_t id = 1; id <= MAXN; id++)
		if (node_applied(tn[id].n) < c)
			return false;
	return churn_in_flight == 0;
}

static void
churn_dump(int round)
{
	for (uint64_t id = 1; id <= MAXN; id++) {
		const struct raft *r = node_core(tn[id].n);

		fprintf(stderr,
		    "round %d node %llu down %d role %d term %llu leader %llu "
		    "last %llu commit %llu applied %llu cfg %u voters %u\n",
		    round, (unsigned long long)id, tn[id].down, raft_role(r),
		    (unsigned long long)raft_term(r),
		    (unsigned long long)raft_leader(r),
		    (unsigned long long)raft_last_index(r),
		    (unsigned long long)raft_commit(r),
		    (unsigned long long)node_applied(tn[id].n),
		    raft_config(r)->n, raft_config_voters(raft_config(r)));
	}
}

static bool
any_leader(void)
{
	for (uint64_t id = 1; id <= MAXN; id++)
		if (tn[id].n != NULL && !tn[id].down &&
		    raft_role(node_core(tn[id].n)) == RAFT_LEADER)
			return true;
	return false;
}

static void
churn_reopen(uint64_t id)
{
	struct node_hooks h;
	struct node_opts o;
	struct tnode *t = &tn[id];

	t->st = store_open(t->dir);
	ck_assert_ptr_nonnull(t->st);
	t->fsm = fsm_open(t->st, ROOT);
	memset(&o, 0, sizeof(o));
	o.id = id;
	o.bootstrap = id == 1;
	o.heartbeat_ms = 20;
	o.election_ms = 200;
	o.snapshot_threshold = 50;
	o.snapshot_trailing = 10;
	o.seed = id * 31 + (uint64_t)churn_ok;
	memset(&h, 0, sizeof(h));
	h.send = t_send;
	h.send_ctl = t_send_ctl;
	h.proposed = churn_proposed;
	h.read_done = t_read_done;
	h.member_done = t_member_done;
	h.arg = t;
	t->n = node_open(t->st, t->fsm, base, &o, &h);
}

START_TEST(churn_keeps_nodes_consistent)
{
	struct timeval tv = { 0, 5000 };
	uint64_t v;
	int rounds;

	for (uint64_t id = 1; id <= MAXN; id++)
		churn_reopen(id);
	join(2);
	watch_id = 2;
	ck_assert(run_until(is_voter, 5000));
	join(3);
	watch_id = 3;
	ck_assert(run_until(is_voter, 5000));
	/* CHURN_SEED, CHURN_ROUNDS: other schedules when hunting a failure */
	rounds =
	    getenv("CHURN_ROUNDS") != NULL ? atoi(getenv("CHURN_ROUNDS")) : 12;
	srandom(getenv("CHURN_SEED") != NULL
		? (unsigned)strtoul(getenv("CHURN_SEED"), NULL, 10)
		: 7);
	for (int round = 0; round < rounds; round++) {
		uint64_t victim = 1 + (uint64_t)(random() % MAXN);

		for (int i = 0; i < 40; i++) {
			churn_propose();
			event_base_loopexit(base, &tv);
			event_base_loop(base, EVLOOP_ONCE);
		}
		if (round % 2 == 0) {
			/* a restart: answers of the closed node are lost */
			t_close(victim);
			churn_reopen(victim);
		} else {
			/* at most one node cut off: a majority stays */
			bool cut = !tn[victim].down;

			for (uint64_t id = 1; id <= MAXN; id++)
				tn[id].down = false;
			tn[victim].down = cut;
		}
		if (!run_until(any_leader, 5000))
			churn_dump(round);
		ck_assert(run_until(any_leader, 10));
	}
	for (uint64_t id = 1; id <= MAXN; id++)
		tn[id].down = false;
	ck_assert(run_until(any_leader, 5000));
	churn_propose();
	ck_assert(run_until(all_applied, 10000));
	v = node_counter(1);
	/* every acknowledged bump is in, nothing beyond what was asked */
	ck_assert_uint_ge(v, (uint64_t)churn_ok);
	for (uint64_t id = 2; id <= MAXN; id++)
		ck_assert_uint_eq(node_counter(id), v);
	ck_assert_int_gt(churn_ok, 100);
}
END_TEST

static Suite *
node_suite(void)
{
	Suite *s = suite_create("node");
	TCase *t1 = tcase_create("single");
	TCase *tm = tcase_create("cluster");

	tcase_add_checked_fixture(t1, setup, teardown);
	tcase_set_timeout(t1, 60);
	tcase_add_test(t1, bootstrap_group_commit_restart);
	tcase_add_test(t1, recovery_applies_committed_log);
	tcase_add_test(t1, crash_recovery_consistent);
	tcase_add_test(t1, interrupted_install_is_redone);
	suite_add_tcase(s, t1);
	tcase_add_checked_fixture(tm, setup, teardown);
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm, join_follower_not_leader_and_reads);
	tcase_add_test(tm, transfer_leadership);
	tcase_add_test(tm, snapshot_install_on_a_new_member);
	tcase_add_test(tm, churn_keeps_nodes_consistent);
	tcase_add_test(tm, force_new_cluster_from_a_member);
	suite_add_tcase(s, tm);
	return s;
}

int
main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc == 3 && strcmp(argv[1], "--crash-writer") == 0) {
		snprintf(tn[1].dir, sizeof(tn[1].dir), "%s", argv[2]);
		return crash_writer(argv[2]);
	}
	sr = srunner_create(node_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
