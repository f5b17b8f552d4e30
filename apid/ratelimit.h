/*
 * Per-IP token buckets of API.md §8.1: one bucket per (category, client
 * IP), capacity = burst, refill = limit per second, full when created.
 * The table is bounded: when full, buckets idle long enough to be full
 * again are dropped; if none can be, the request is let through rather
 * than refusing clients we have no room to track.
 */
#ifndef APID_RATELIMIT_H
#define APID_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define RL_TABLE_MAX 65536

struct ratelimit;

struct ratelimit_verdict {
	bool allowed;
	int retry_after_s; /* refused: whole seconds, >= 1 */
	double limit;
	int64_t burst;
};

struct ratelimit *ratelimit_new(const struct cfg_rate rates[CFG_RL_COUNT]);
void ratelimit_free(struct ratelimit *);
/* reload: existing buckets keep their tokens, capped at the new burst */
void
ratelimit_set_rates(struct ratelimit *, const struct cfg_rate[CFG_RL_COUNT]);
/* takes a token for (category, ip); now_ms is a monotonic clock */
void ratelimit_take(struct ratelimit *, int category, int family,
    const uint8_t *addr, int64_t now_ms, struct ratelimit_verdict *);
size_t ratelimit_size(const struct ratelimit *);

#endif
