/*
 * The simulated network and the event queue: every message gets a random
 * delay (so messages reorder), may be lost or duplicated, and is dropped
 * when its link is cut (partitions may be one-way).
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct event_heap {
	struct event *ev;
	size_t n;
	size_t cap;
	uint64_t seq;
};

struct event_heap *
heap_new(void)
{
	struct event_heap *h = calloc(1, sizeof(*h));

	if (h == NULL)
		abort();
	return h;
}

void
heap_free(struct event_heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		raft_msg_free(&h->ev[i].m);
	free(h->ev);
	free(h);
}

static bool
before(const struct event *a, const struct event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void
heap_push(struct event_heap *h, struct event *e)
{
	size_t i;
	struct event tmp;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->ev = realloc(h->ev, h->cap * sizeof(*h->ev));
		if (h->ev == NULL)
			abort();
	}
	e->seq = h->seq++;
	i = h->n++;
	h->ev[i] = *e;
	while (i > 0 && before(&h->ev[i], &h->ev[(i - 1) / 2])) {
		tmp = h->ev[i];
		h->ev[i] = h->ev[(i - 1) / 2];
		h->ev[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

bool
heap_peek_time(struct event_heap *h, uint64_t *time)
{
	if (h->n == 0)
		return false;
	*time = h->ev[0].time;
	return true;
}

bool
heap_pop(struct event_heap *h, struct event *out)
{
	size_t i = 0, c;
	struct event tmp;

	if (h->n == 0)
		return false;
	*out = h->ev[0];
	h->ev[0] = h->ev[--h->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->ev[c + 1], &h->ev[c]))
			c++;
		if (!before(&h->ev[c], &h->ev[i]))
			break;
		tmp = h->ev[i];
		h->ev[i] = h->ev[c];
		h->ev[c] = tmp;
		i = c;
	}
	return true;
}

static uint64_t
delay(struct sim *s)
{
	return 1 + sim_below(s, s->p.delay_ms_max);
}

/* takes over m's pointers */
void
net_send(struct sim *s, struct raft_msg *m)
{
	struct event e;

	if (m->to == 0 || m->to > SIM_MAX_IDS || s->cut[m->from][m->to] ||
	    sim_pct(s, s->p.loss_pct)) {
		raft_msg_free(m);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.type = EV_MSG;
	e.node = m->to;
	if (sim_pct(s, s->p.dup_pct)) {
		raft_msg_copy(&e.m, m);
		e.time = s->now_ms + delay(s);
		heap_push(s->heap, &e);
	}
	e.m = *m;
	e.time = s->now_ms + delay(s);
	heap_push(s->heap, &e);
	memset(m, 0, sizeof(*m));
}

void
net_schedule(struct sim *s, int type, uint64_t node, uint64_t delay_ms)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.node = node;
	e.incarnation = s->nodes[node].incarnation;
	e.time = s->now_ms + delay_ms;
	heap_push(s->heap, &e);
}
