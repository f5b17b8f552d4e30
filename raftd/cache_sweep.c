/*
 * Cache sweep: a libevent timer on the leader.  Each pass scans a bounded
 * stretch of the cache column family from where the last pass stopped, so
 * a large cache is covered over several passes without stalling the loop.
 * Proposals carry no waiter: their results are of interest to no one.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/cache_sweep.h"
#include "raftd/core/raft.h"
#include "raftd/fsm_cache.h"

/* entries looked at and commands proposed per pass at most */
#define SWEEP_SCAN_MAX 20000
#define SWEEP_COMMANDS_MAX 8

struct cache_sweep {
	struct node *node;
	struct fsm *fsm;
	struct event *ev;
	struct keybuf cursor;
};

static int
sweep_propose(struct cache_sweep *cs, const struct pbuf *list)
{
	const uint8_t *scope;
	struct pread r;
	size_t slen;
	uint32_t n;
	uint64_t leader;
	struct cmd c;

	/* the command's own scope: the first entry's, a valid one */
	pr_init(&r, list->data, list->len);
	if (pr_get_u32(&r, &n) == -1 || pr_get_bytes(&r, &scope, &slen) == -1 ||
	    slen > CMD_SCOPE_MAX)
		fatalx("%s: malformed expire list", __func__);
	memset(&c, 0, sizeof(c));
	c.type = CMD_CACHE_EXPIRE;
	memcpy(c.scope, scope, slen);
	c.scope[slen] = '\0';
	c.value = list->data;
	c.value_len = list->len;
	if (node_propose(cs->node, &c, NULL, &leader) != ST_OK) {
		log_debug("%s: %u expired entries not proposed", __func__, n);
		return -1;
	}
	log_debug("%s: expiry of %u entries proposed", __func__, n);
	return 0;
}

int
cache_sweep_run(struct cache_sweep *cs)
{
	struct pbuf entries, list;
	int proposed = 0, n;
	int64_t now;

	if (raft_role(node_core(cs->node)) != RAFT_LEADER) {
		cs->cursor.len = 0;
		return 0;
	}
	now = fsm_cache_now();
	for (int i = 0; i < SWEEP_COMMANDS_MAX; i++) {
		pb_init(&entries);
		n = fsm_cache_expired(cs->fsm, &cs->cursor, now, SWEEP_SCAN_MAX,
		    FSM_CACHE_EXPIRE_MAX, &entries);
		if (n > 0) {
			pb_init(&list);
			pb_add_u32(&list, (uint32_t)n);
			pb_add_raw(&list, entries.data, entries.len);
			if (list.err)
				fatalx("%s: cannot encode", __func__);
			if (sweep_propose(cs, &list) == 0)
				proposed++;
			pb_free(&list);
		}
		pb_free(&entries);
		/* a storage error, the end of the column family or a refusal */
		if (n == -1 || cs->cursor.len == 0 || (n > 0 && proposed == 0))
			break;
	}
	return proposed;
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cache_sweep_run(arg);
}

struct cache_sweep *
cache_sweep_start(struct event_base *base, struct node *node, struct fsm *fsm)
{
	struct timeval tv = { CACHE_SWEEP_MS / 1000,
		(CACHE_SWEEP_MS % 1000) * 1000 };
	struct cache_sweep *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		fatal("%s", __func__);
	cs->node = node;
	cs->fsm = fsm;
	if ((cs->ev = event_new(base, -1, EV_PERSIST, sweep_cb, cs)) == NULL ||
	    event_add(cs->ev, &tv) == -1)
		fatalx("%s: timer", __func__);
	return cs;
}

void
cache_sweep_free(struct cache_sweep *cs)
{
	if (cs == NULL)
		return;
	event_free(cs->ev);
	free(cs);
}
