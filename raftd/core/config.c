/*
 * Membership configurations: encoding in config entries, quorum sizes,
 * and which configuration is in force (dissertation §4.1: the latest one
 * in the log, committed or not).
 */
#include "raft_int.h"

#define CONFIG_SERVER_BYTES 10

int
raft_config_find(const struct raft_config *c, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return (int)i;
	return -1;
}

bool
raft_config_is_voter(const struct raft_config *c, uint64_t id)
{
	int i = raft_config_find(c, id);

	return i >= 0 && c->servers[i].role == RAFT_VOTER;
}

uint32_t
raft_config_voters(const struct raft_config *c)
{
	uint32_t i, n = 0;

	for (i = 0; i < c->n; i++)
		if (c->servers[i].role == RAFT_VOTER)
			n++;
	return n;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t
raft_config_encode(const struct raft_config *c, uint8_t *buf, size_t cap)
{
	size_t need = 1 + (size_t)c->n * CONFIG_SERVER_BYTES;
	uint32_t i;
	uint8_t *p;

	RAFT_ASSERT(c->n <= RAFT_MAX_NODES);
	if (cap < need)
		return 0;
	buf[0] = (uint8_t)c->n;
	p = buf + 1;
	for (i = 0; i < c->n; i++) {
		put_u64(p, c->servers[i].id);
		p[8] = c->servers[i].role;
		p[9] = c->servers[i].promote;
		p += CONFIG_SERVER_BYTES;
	}
	return need;
}

int
raft_config_decode(struct raft_config *c, const uint8_t *buf, size_t len)
{
	uint32_t i;
	const uint8_t *p;

	memset(c, 0, sizeof(*c));
	if (len < 1 || buf[0] > RAFT_MAX_NODES ||
	    len != 1 + (size_t)buf[0] * CONFIG_SERVER_BYTES)
		return RAFT_EINVAL;
	c->n = buf[0];
	p = buf + 1;
	for (i = 0; i < c->n; i++) {
		c->servers[i].id = get_u64(p);
		c->servers[i].role = p[8];
		c->servers[i].promote = p[9];
		if (c->servers[i].id == 0 ||
		    c->servers[i].role > RAFT_LEARNER ||
		    raft_config_find(c, c->servers[i].id) != (int)i)
			return RAFT_EINVAL;
		p += CONFIG_SERVER_BYTES;
	}
	return RAFT_OK;
}

uint32_t
raft_quorum(const struct raft *r)
{
	return raft_config_voters(&r->config) / 2 + 1;
}

bool
raft_is_voter(const struct raft *r, uint64_t id)
{
	return raft_config_is_voter(&r->config, id);
}

/* a config entry was appended: it is in force from now on */
void
raft_config_apply_entry(struct raft *r, const struct raft_entry *e)
{
	struct raft_config c;

	RAFT_ASSERT(e->type == RAFT_ENTRY_CONFIG);
	/* the leader encoded it; a bad one means a corrupted log */
	RAFT_ASSERT(raft_config_decode(&c, e->data, e->len) == RAFT_OK);
	r->config = c;
	r->config_index = e->index;
}

/* the configuration in force at index (the last one at or before it) */
int
raft_config_at(const struct raft *r, uint64_t index, struct raft_config *out)
{
	uint64_t i;
	const struct raft_entry *e;

	for (i = index; i > r->log.base; i--) {
		e = rl_get(&r->log, i);
		if (e != NULL && e->type == RAFT_ENTRY_CONFIG)
			return raft_config_decode(out, e->data, e->len);
	}
	/* no change since the snapshot: it holds the one in force */
	if (index < r->snap.index)
		return RAFT_EINVAL;
	*out = r->snap.config;
	return RAFT_OK;
}

/* after a truncation: the config in force is the last left in the log */
void
raft_config_rebuild(struct raft *r)
{
	uint64_t i;
	const struct raft_entry *e;

	for (i = rl_last(&r->log); i > r->log.base; i--) {
		e = rl_get(&r->log, i);
		if (e->type == RAFT_ENTRY_CONFIG) {
			raft_config_apply_entry(r, e);
			return;
		}
	}
	/* a trailing window may hold entries older than the snapshot */
	RAFT_ASSERT(r->snap.index >= r->log.base);
	r->config = r->snap.config;
	r->config_index = r->snap.index;
}

/*
 * a voter may campaign; so may a server whose removal is not committed
 * yet: it may hold the longest log, and without it the remaining voters
 * could not elect anyone (a leader removing itself that lost its quorum)
 */
bool
raft_can_campaign(const struct raft *r)
{
	struct raft_config prev;

	if (raft_is_voter(r, r->id))
		return true;
	if (r->config_index <= r->commit || r->config_index == 0)
		return false;
	return raft_config_at(r, r->config_index - 1, &prev) == RAFT_OK &&
	    raft_config_is_voter(&prev, r->id);
}
