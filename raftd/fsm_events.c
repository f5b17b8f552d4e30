/*
 * Apply of CMD_EVENT_PUBLISH: the quota decision of API.md §7.3 with the
 * command's ts only.  Delivery is outside the state machine: the driver
 * hands accepted publishes to the applied-event stream.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_events.h"

bool
fsm_event_window_step(
    struct fsm_event_window *w, bool has_limit, uint64_t limit, int64_t ts)
{
	if (!has_limit || w->emitted < limit) {
		if (w->emitted < UINT64_MAX)
			w->emitted++;
		return true;
	}
	if (!w->has_start) {
		w->has_start = true;
		w->start = ts;
		return false;
	}
	/* a ts before the start (clock stepped back) keeps the window */
	if (ts < w->start || ts - w->start < FSM_EVENT_WINDOW_NS)
		return false;
	if (limit == 0) {
		/* a limit of 0 allows nothing: the window only moves on */
		w->start = ts;
		return false;
	}
	w->emitted = 1;
	w->start = ts;
	return true;
}

static bool
events_topic_valid(const uint8_t *t, size_t len)
{
	return len >= 1 && len <= FSM_EVENT_TOPIC_MAX &&
	    memchr(t, '\0', len) == NULL;
}

static void
window_get(struct fsm_batch *b, const char *scope, struct fsm_event_window *w)
{
	struct keybuf k;
	char *val;
	size_t vlen;

	w->has_start = false;
	w->start = 0;
	keys_internal(&k, KEYS_KIND_EVENT_WINDOW, scope);
	if (fsm_batch_get(b, STORE_CF_KV, &k, &val, &vlen) == 0)
		return;
	if (vlen != 8)
		fatalx("%s: window record of %zu bytes", __func__, vlen);
	w->has_start = true;
	w->start = (int64_t)keys_get_u64((const uint8_t *)val);
	rocksdb_free(val);
}

static void
window_put(struct fsm_batch *b, const char *scope, int64_t start)
{
	struct keybuf k;
	uint8_t rec[8];

	keys_internal(&k, KEYS_KIND_EVENT_WINDOW, scope);
	keys_put_u64(rec, (uint64_t)start);
	fsm_batch_put(b, STORE_CF_KV, &k, rec, sizeof(rec));
}

static void
refusal(
    const struct fsm_event_window *w, uint64_t limit, struct fsm_result *res)
{
	int64_t end;

	if (__builtin_add_overflow(w->start, FSM_EVENT_WINDOW_NS, &end))
		end = INT64_MAX;
	res->status = ST_EVENT_LIMIT;
	res->usage = w->emitted;
	res->limit = limit;
	if ((res->data = malloc(8)) == NULL)
		fatal("%s", __func__);
	keys_put_u64(res->data, (uint64_t)end);
	res->data_len = 8;
}

uint16_t
fsm_events_apply(
    struct fsm_batch *b, const struct cmd *c, struct fsm_result *res)
{
	struct fsm_event_window w;
	struct fsm_limits l;
	struct fsm_usage u;
	bool has_limit, had_start, accepted;
	uint64_t before;

	if (c->type != CMD_EVENT_PUBLISH)
		fatalx(
		    "%s: type %u is not an event command", __func__, c->type);
	if (!events_topic_valid(c->key, c->key_len))
		return res->status = ST_BAD_COMMAND;
	fsm_usage_get(b, c->scope, &u);
	fsm_limits_get(b, c->scope, &l);
	has_limit = (b->fsm->root_scope == NULL ||
			strcmp(b->fsm->root_scope, c->scope) != 0) &&
	    (l.mask & (1u << FSM_EVENTS_EMITTED));
	window_get(b, c->scope, &w);
	w.emitted = before = u.c[FSM_EVENTS_EMITTED];
	had_start = w.has_start;
	accepted = fsm_event_window_step(
	    &w, has_limit, l.v[FSM_EVENTS_EMITTED], c->ts);
	if (w.has_start && (!had_start || accepted))
		window_put(b, c->scope, w.start);
	if (!accepted) {
		refusal(&w, l.v[FSM_EVENTS_EMITTED], res);
		return res->status;
	}
	if (w.emitted != before)
		fsm_charge(b, c->scope, FSM_EVENTS_EMITTED,
		    (int64_t)w.emitted - (int64_t)before, res);
	return res->status = ST_OK;
}
