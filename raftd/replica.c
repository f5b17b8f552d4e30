#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "raftd/replica.h"
#include "raftd/rlog.h"

/* committed entries applied in one state write at most */
#define REPLICA_APPLY_BATCH 256

struct replica_slot {
	struct fsm_entry e;
	uint8_t *buf; /* owns e.data */
	void *waiter;
};

struct replica {
	struct store *store;
	struct fsm *fsm;
	struct rlog_writer *writer;
	replica_done_cb cb;
	void *arg;
	struct replica_slot *ring; /* entry i lives in ring[i % cap] */
	size_t cap;
	uint64_t last_index;
	uint64_t last_term;
	uint64_t commit_index;
	int64_t last_ts;
};

static void
replica_apply_range(
    struct replica *r, struct fsm_entry *e, size_t n, void **waiters)
{
	struct fsm_result res[REPLICA_APPLY_BATCH];

	fsm_apply(r->fsm, e, n, res);
	for (size_t i = 0; i < n; i++) {
		if (waiters != NULL && waiters[i] != NULL)
			r->cb(waiters[i], &res[i], r->arg);
		fsm_result_clear(&res[i]);
	}
}

/* applies what is committed and not applied yet, in index order */
static void
replica_apply_committed(struct replica *r)
{
	struct fsm_entry e[REPLICA_APPLY_BATCH];
	void *waiters[REPLICA_APPLY_BATCH];
	uint64_t applied, term;
	size_t n;

	for (;;) {
		fsm_applied(r->fsm, &applied, &term);
		if (applied >= r->commit_index)
			break;
		n = r->commit_index - applied;
		if (n > REPLICA_APPLY_BATCH)
			n = REPLICA_APPLY_BATCH;
		for (size_t i = 0; i < n; i++) {
			struct replica_slot *s =
			    &r->ring[(applied + 1 + i) % r->cap];

			if (s->e.index != applied + 1 + i)
				fatalx("%s: entry %llu is not pending",
				    __func__,
				    (unsigned long long)(applied + 1 + i));
			e[i] = s->e;
			waiters[i] = s->waiter;
		}
		replica_apply_range(r, e, n, waiters);
		for (size_t i = 0; i < n; i++) {
			struct replica_slot *s =
			    &r->ring[(applied + 1 + i) % r->cap];

			free(s->buf);
			memset(s, 0, sizeof(*s));
		}
	}
}

/* single node: durable on the only voter is committed */
static void
replica_durable(uint64_t index, void *arg)
{
	struct replica *r = arg;

	if (index > r->last_index || index < r->commit_index)
		fatalx("%s: durable %llu outside (%llu, %llu]", __func__,
		    (unsigned long long)index,
		    (unsigned long long)r->commit_index,
		    (unsigned long long)r->last_index);
	r->commit_index = index;
	replica_apply_committed(r);
}

static int64_t
replica_entry_ts(const struct fsm_entry *e)
{
	struct cmd c;

	if (cmd_decode(e->data, e->len, &c) == -1)
		return 0;
	return c.ts;
}

/* applies every log entry above the applied index */
static void
replica_recover(struct replica *r)
{
	struct fsm_entry e[REPLICA_APPLY_BATCH];
	uint64_t applied, term, next;
	size_t n;

	fsm_applied(r->fsm, &applied, &term);
	rlog_last(r->store, &r->last_index, &r->last_term);
	if (r->last_index < applied) {
		/* a log cut below the state (compaction): nothing to replay */
		r->last_index = applied;
		r->last_term = term;
	}
	for (next = applied + 1; next <= r->last_index; next += n) {
		n = r->last_index - next + 1;
		if (n > REPLICA_APPLY_BATCH)
			n = REPLICA_APPLY_BATCH;
		for (size_t i = 0; i < n; i++)
			if (rlog_read(r->store, next + i, &e[i]) != 1)
				fatalx("%s: log entry %llu missing", __func__,
				    (unsigned long long)(next + i));
		replica_apply_range(r, e, n, NULL);
		for (size_t i = 0; i < n; i++)
			free((void *)e[i].data);
	}
	if (r->last_index > applied)
		log_info("recovered log entries %llu..%llu",
		    (unsigned long long)(applied + 1),
		    (unsigned long long)r->last_index);
	r->commit_index = r->last_index;
	if (r->last_index > 0 && rlog_read(r->store, r->last_index, &e[0])) {
		r->last_ts = replica_entry_ts(&e[0]);
		free((void *)e[0].data);
	}
}

struct replica *
replica_open(struct store *s, struct fsm *f, struct event_base *base,
    size_t pending_max, replica_done_cb cb, void *arg)
{
	struct replica *r;

	if (pending_max == 0)
		fatalx("%s: no room for proposals", __func__);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ring = calloc(pending_max, sizeof(*r->ring))) == NULL)
		fatal("%s", __func__);
	r->store = s;
	r->fsm = f;
	r->cb = cb;
	r->arg = arg;
	r->cap = pending_max;
	replica_recover(r);
	r->writer = rlog_writer_start(s, base, pending_max, replica_durable, r);
	return r;
}

static int64_t
replica_stamp(struct replica *r)
{
	struct timespec ts;
	int64_t now;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		fatal("clock_gettime");
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (now < r->last_ts)
		now = r->last_ts;
	r->last_ts = now;
	return now;
}

uint64_t
replica_propose(struct replica *r, struct cmd *c, void *waiter)
{
	struct replica_slot *s;
	uint64_t applied, term;
	struct pbuf pb;

	fsm_applied(r->fsm, &applied, &term);
	if (r->last_index - applied >= r->cap)
		return 0;
	c->ts = replica_stamp(r);
	pb_init(&pb);
	cmd_encode(&pb, c);
	if (pb.err)
		fatalx("%s: command does not encode", __func__);
	s = &r->ring[(r->last_index + 1) % r->cap];
	s->e.index = ++r->last_index;
	s->e.term = r->last_term = REPLICA_TERM;
	s->buf = pb_steal(&pb, &s->e.len);
	s->e.data = s->buf;
	s->waiter = waiter;
	/* the writer's queue is as long as the ring: it cannot be full */
	if (rlog_writer_submit(r->writer, &s->e) == -1)
		fatalx("%s: log writer refused entry %llu", __func__,
		    (unsigned long long)s->e.index);
	return s->e.index;
}

void
replica_flush(struct replica *r)
{
	rlog_writer_flush(r->writer);
}

void
replica_close(struct replica *r)
{
	if (r == NULL)
		return;
	rlog_writer_stop(r->writer);
	for (size_t i = 0; i < r->cap; i++)
		free(r->ring[i].buf);
	free(r->ring);
	free(r);
}

uint64_t
replica_last_index(const struct replica *r)
{
	return r->last_index;
}

uint64_t
replica_commit_index(const struct replica *r)
{
	return r->commit_index;
}

uint64_t
replica_applied_index(const struct replica *r)
{
	uint64_t applied, term;

	fsm_applied(r->fsm, &applied, &term);
	return applied;
}

uint64_t
replica_term(const struct replica *r)
{
	return r->last_term != 0 ? r->last_term : REPLICA_TERM;
}

uint64_t
replica_log_commits(const struct replica *r)
{
	return rlog_writer_commits(r->writer);
}
