/*
 * The leader's cache sweep (API.md §20): every CACHE_SWEEP_MS it looks
 * for cache entries whose expiry has passed and proposes CMD_CACHE_EXPIRE
 * commands for them; apply re-checks each entry with the command's ts.
 */
#ifndef RAFTD_CACHE_SWEEP_H
#define RAFTD_CACHE_SWEEP_H

#include <event2/event.h>

#include "raftd/fsm.h"
#include "raftd/node.h"

#define CACHE_SWEEP_MS 10000

struct cache_sweep;

struct cache_sweep *
cache_sweep_start(struct event_base *, struct node *, struct fsm *);
void cache_sweep_free(struct cache_sweep *);
/* one pass now (the timer's work); the number of commands proposed */
int cache_sweep_run(struct cache_sweep *);

#endif
