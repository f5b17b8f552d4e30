/*
 * Membership changes one server at a time (dissertation §4.1): new servers
 * join as non-voting learners (§4.2.1) and are promoted once caught up;
 * any server can be removed, the leader too (§4.2.2).  Only one change is
 * in flight at a time, and not before the leader has committed an entry
 * of its own term.
 */
#include "raft_int.h"

static int
change_check(const struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee != 0)
		return RAFT_ETRANSFER;
	if (r->commit < r->term_start)
		return RAFT_EAGAIN;
	if (r->config_index > r->commit)
		return RAFT_ECHANGE;
	return RAFT_OK;
}

static bool
caught_up(struct raft *r, uint64_t id)
{
	struct raft_progress *p = raft_progress(r, id);

	return p != NULL && p->match >= r->commit &&
	    p->match + r->opt.max_batch_entries >= rl_last(&r->log);
}

static int
change_config(struct raft *r, struct raft_config *c, int type, uint64_t id)
{
	int pos = raft_config_find(c, id);

	switch (type) {
	case RAFT_ADD_LEARNER:
	case RAFT_ADD_VOTER:
		if (pos >= 0)
			return RAFT_EINVAL;
		if (c->n == RAFT_MAX_NODES)
			return RAFT_EBUSY;
		c->servers[c->n].id = id;
		c->servers[c->n].role = RAFT_LEARNER;
		c->servers[c->n].promote = type == RAFT_ADD_VOTER;
		c->n++;
		return RAFT_OK;
	case RAFT_PROMOTE:
		if (pos < 0 || c->servers[pos].role != RAFT_LEARNER)
			return RAFT_EINVAL;
		if (!caught_up(r, id))
			return RAFT_EBUSY;
		c->servers[pos].role = RAFT_VOTER;
		c->servers[pos].promote = 0;
		return RAFT_OK;
	case RAFT_REMOVE:
		if (pos < 0 ||
		    (c->servers[pos].role == RAFT_VOTER &&
			raft_config_voters(c) == 1))
			return RAFT_EINVAL;
		memmove(&c->servers[pos], &c->servers[pos + 1],
		    (c->n - (uint32_t)pos - 1) * sizeof(c->servers[0]));
		c->n--;
		return RAFT_OK;
	default:
		return RAFT_EINVAL;
	}
}

int
raft_change(struct raft *r, int type, uint64_t id, uint64_t *index)
{
	struct raft_config c;
	uint8_t buf[1 + RAFT_MAX_NODES * 10];
	size_t len;
	int rc;

	if ((rc = change_check(r)) != RAFT_OK)
		return rc;
	if (id == 0)
		return RAFT_EINVAL;
	c = r->config;
	if ((rc = change_config(r, &c, type, id)) != RAFT_OK)
		return rc;
	/* one change in flight at a time (dissertation §4.1) */
	RAFT_ASSERT(r->config_index <= r->commit);
	RAFT_ASSERT(raft_config_voters(&c) >= 1 && c.n <= RAFT_MAX_NODES);
	len = raft_config_encode(&c, buf, sizeof(buf));
	RAFT_ASSERT(len > 0);
	raft_append_local(r, RAFT_ENTRY_CONFIG, buf, (uint32_t)len);
	if (index != NULL)
		*index = rl_last(&r->log);
	return RAFT_OK;
}

void
raft_maybe_promote(struct raft *r)
{
	uint32_t i;
	const struct raft_server *s;

	if (change_check(r) != RAFT_OK)
		return;
	for (i = 0; i < r->config.n; i++) {
		s = &r->config.servers[i];
		if (s->role == RAFT_LEARNER && s->promote &&
		    caught_up(r, s->id)) {
			raft_change(r, RAFT_PROMOTE, s->id, NULL);
			return;
		}
	}
}

/* §4.2.2: a leader removed from the configuration steps down once the
 * change is committed */
void
raft_after_config_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->config_index > r->commit)
		return;
	if (!raft_is_voter(r, r->id))
		raft_become_follower(r, r->term, 0);
}
