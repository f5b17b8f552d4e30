/*
 * Apply of event publishes (API.md §14.1) with the events_emitted quota
 * of §7.3.  The window start of a scope is its own record (kind 'w',
 * i64 ns big-endian) next to the usage record; it exists once the quota
 * was first found exhausted.
 */
#ifndef RAFTD_FSM_EVENTS_H
#define RAFTD_FSM_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "raftd/fsm_int.h"

#define KEYS_KIND_EVENT_WINDOW 'w'
#define FSM_EVENT_WINDOW_NS (24LL * 3600 * 1000000000LL)
#define FSM_EVENT_TOPIC_MAX 256

/* the §7.3 decision for one publish at ts */
struct fsm_event_window {
	uint64_t emitted; /* events_emitted before / after */
	bool has_start;
	int64_t start;
};

/*
 * Decides one publish against limit (has_limit false: unlimited but
 * counted).  Updates w and returns true when accepted.
 */
bool fsm_event_window_step(
    struct fsm_event_window *w, bool has_limit, uint64_t limit, int64_t ts);

uint16_t
fsm_events_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);

#endif
