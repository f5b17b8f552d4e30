#include <sys/socket.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apid/ratelimit.h"
#include "common/log.h"

#define RL_BUCKETS 4096

struct rl_bucket {
	struct rl_bucket *next;
	int category;
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	int family;
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	struct cfg_rate rates[CFG_RL_COUNT];
	struct rl_bucket *slots[RL_BUCKETS];
	size_t n;
};

struct ratelimit *
ratelimit_new(const struct cfg_rate rates[CFG_RL_COUNT])
{
	struct ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		fatal("%s: calloc", __func__);
	memcpy(rl->rates, rates, sizeof(rl->rates));
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	struct rl_bucket *b, *next;
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < RL_BUCKETS; i++)
		for (b = rl->slots[i]; b != NULL; b = next) {
			next = b->next;
			free(b);
		}
	free(rl);
}

void
ratelimit_set_rates(
    struct ratelimit *rl, const struct cfg_rate rates[CFG_RL_COUNT])
{
	struct rl_bucket *b;
	size_t i;

	memcpy(rl->rates, rates, sizeof(rl->rates));
	for (i = 0; i < RL_BUCKETS; i++)
		for (b = rl->slots[i]; b != NULL; b = b->next)
			if (b->tokens > (double)rates[b->category].burst)
				b->tokens = (double)rates[b->category].burst;
}

static size_t
rl_hash(int category, const uint8_t *addr, size_t alen)
{
	uint32_t h = 2166136261u ^ (uint32_t)category;
	size_t i;

	for (i = 0; i < alen; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % RL_BUCKETS;
}

static void
rl_refill(const struct cfg_rate *r, struct rl_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * r->limit;
		if (b->tokens > (double)r->burst)
			b->tokens = (double)r->burst;
		b->last_ms = now_ms;
	}
}

/* drops buckets that would be full by now: they carry no state */
static void
rl_sweep(struct ratelimit *rl, int64_t now_ms)
{
	struct rl_bucket **pp, *b;
	size_t i;

	for (i = 0; i < RL_BUCKETS; i++) {
		pp = &rl->slots[i];
		while ((b = *pp) != NULL) {
			rl_refill(&rl->rates[b->category], b, now_ms);
			if (b->tokens >= (double)rl->rates[b->category].burst) {
				*pp = b->next;
				free(b);
				rl->n--;
			} else
				pp = &b->next;
		}
	}
}

static struct rl_bucket *
rl_get(struct ratelimit *rl, int category, int family, const uint8_t *addr,
    size_t alen, int64_t now_ms)
{
	size_t h = rl_hash(category, addr, alen);
	struct rl_bucket *b;

	for (b = rl->slots[h]; b != NULL; b = b->next)
		if (b->category == category && b->family == family &&
		    memcmp(b->addr, addr, alen) == 0)
			return b;
	if (rl->n >= RL_TABLE_MAX)
		rl_sweep(rl, now_ms);
	if (rl->n >= RL_TABLE_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->category = category;
	b->family = family;
	memcpy(b->addr, addr, alen);
	b->tokens = (double)rl->rates[category].burst;
	b->last_ms = now_ms;
	b->next = rl->slots[h];
	rl->slots[h] = b;
	rl->n++;
	return b;
}

void
ratelimit_take(struct ratelimit *rl, int category, int family,
    const uint8_t *addr, int64_t now_ms, struct ratelimit_verdict *v)
{
	const struct cfg_rate *r;
	struct rl_bucket *b;
	double wait;

	if (category < 0 || category >= CFG_RL_COUNT)
		fatalx("%s: category %d", __func__, category);
	r = &rl->rates[category];
	v->allowed = true;
	v->retry_after_s = 0;
	v->limit = r->limit;
	v->burst = r->burst;
	b = rl_get(
	    rl, category, family, addr, family == AF_INET ? 4 : 16, now_ms);
	if (b == NULL)
		return;
	rl_refill(r, b, now_ms);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return;
	}
	v->allowed = false;
	if (r->limit <= 0)
		v->retry_after_s = 60;
	else {
		wait = ceil((1.0 - b->tokens) / r->limit);
		v->retry_after_s = wait < 1 ? 1 : (int)wait;
	}
}

size_t
ratelimit_size(const struct ratelimit *rl)
{
	return rl->n;
}
