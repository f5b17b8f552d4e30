/*
 * The in-memory log: entries base+1 .. base+n, and the log comparisons of
 * the paper (§5.4.1 up-to-date, §5.3 conflict search).
 */
#include "raft_int.h"

uint64_t
rl_last(const struct raft_log *l)
{
	return l->base + l->n;
}

uint64_t
rl_term(const struct raft_log *l, uint64_t index)
{
	if (index == l->base)
		return l->base_term;
	if (index < l->base || index > rl_last(l))
		return 0;
	return l->e[index - l->base - 1].term;
}

struct raft_entry *
rl_get(const struct raft_log *l, uint64_t index)
{
	if (index <= l->base || index > rl_last(l))
		return NULL;
	return &l->e[index - l->base - 1];
}

void
raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len > 0) {
		dst->data = raft_xmalloc(src->len);
		memcpy(dst->data, src->data, src->len);
	}
}

void
rl_append(struct raft_log *l, const struct raft_entry *e)
{
	RAFT_ASSERT(e->index == rl_last(l) + 1);
	RAFT_ASSERT(e->term >= rl_term(l, rl_last(l)));
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = raft_xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	raft_entry_copy(&l->e[l->n], e);
	l->n++;
}

void
rl_truncate(struct raft_log *l, uint64_t from)
{
	RAFT_ASSERT(from > l->base);
	while (rl_last(l) >= from) {
		l->n--;
		free(l->e[l->n].data);
	}
}

/* drop entries up to index; index must be in the log */
void
rl_compact(struct raft_log *l, uint64_t index)
{
	uint64_t k, drop;

	if (index <= l->base)
		return;
	RAFT_ASSERT(index <= rl_last(l));
	drop = index - l->base;
	l->base_term = rl_term(l, index);
	for (k = 0; k < drop; k++)
		free(l->e[k].data);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
	l->n -= drop;
	l->base = index;
}

void
rl_reset(struct raft_log *l, uint64_t base, uint64_t base_term)
{
	uint64_t k;

	for (k = 0; k < l->n; k++)
		free(l->e[k].data);
	l->n = 0;
	l->base = base;
	l->base_term = base_term;
}

void
rl_free(struct raft_log *l)
{
	rl_reset(l, 0, 0);
	free(l->e);
	l->e = NULL;
	l->cap = 0;
}

/* §5.4.1: a candidate's log at least as up-to-date as ours */
bool
raft_log_up_to_date(const struct raft *r, uint64_t index, uint64_t term)
{
	uint64_t last = rl_last(&r->log);
	uint64_t last_term = rl_term(&r->log, last);

	return term > last_term || (term == last_term && index >= last);
}

/*
 * fast backtracking: the largest index <= index whose term is <= term.
 * Entries past it cannot match a log whose entry at index has that term.
 */
uint64_t
raft_find_conflict(const struct raft *r, uint64_t index, uint64_t term)
{
	uint64_t i = index;

	if (i > rl_last(&r->log))
		i = rl_last(&r->log);
	while (i > r->log.base && rl_term(&r->log, i) > term)
		i--;
	return i;
}
