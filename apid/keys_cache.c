/*
 * The per-node token cache of §3.4 and the per-key buckets of §8.2: two
 * bounded hash tables.  A full table first drops what has expired (the
 * cache) or is idle and full again (buckets), then its oldest entry.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apid/keys_pure.h"
#include "common/log.h"

#define HEADS 4096

static uint32_t
hash_bytes(const void *p, size_t len, uint32_t seed)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h;
}

struct tentry {
	struct tentry *next;
	char *tok;
	size_t len;
	int64_t at_ms;
	struct token_claims claims;
};

struct tcache {
	struct tentry *head[HEADS];
	size_t n, max;
	int64_t ttl_ms;
};

struct tcache *
tcache_new(size_t max, int64_t ttl_ms)
{
	struct tcache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s", __func__);
	c->max = max;
	c->ttl_ms = ttl_ms;
	return c;
}

void
tcache_set_ttl(struct tcache *c, int64_t ttl_ms)
{
	c->ttl_ms = ttl_ms;
}

static void
tentry_free(struct tentry *e)
{
	free(e->tok);
	free(e);
}

void
tcache_free(struct tcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < HEADS; i++)
		while (c->head[i] != NULL) {
			struct tentry *e = c->head[i];

			c->head[i] = e->next;
			tentry_free(e);
		}
	free(c);
}

static struct tentry **
tcache_find(struct tcache *c, const char *tok, size_t len)
{
	struct tentry **pp = &c->head[hash_bytes(tok, len, 0) % HEADS];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->len == len && memcmp((*pp)->tok, tok, len) == 0)
			return pp;
	return pp;
}

static void
tcache_unlink(struct tcache *c, struct tentry **pp)
{
	struct tentry *e = *pp;

	*pp = e->next;
	tentry_free(e);
	c->n--;
}

int
tcache_get(struct tcache *c, const char *tok, size_t len, int64_t now_ms,
    struct token_claims *out)
{
	struct tentry **pp = tcache_find(c, tok, len);

	if (*pp == NULL)
		return 0;
	if (now_ms - (*pp)->at_ms >= c->ttl_ms) {
		tcache_unlink(c, pp);
		return 0;
	}
	*out = (*pp)->claims;
	return 1;
}

/* drops expired entries; when none was, the oldest one */
static void
tcache_make_room(struct tcache *c, int64_t now_ms)
{
	struct tentry **oldest = NULL;

	for (size_t i = 0; i < HEADS; i++) {
		struct tentry **pp = &c->head[i];

		while (*pp != NULL) {
			if (now_ms - (*pp)->at_ms >= c->ttl_ms) {
				tcache_unlink(c, pp);
				continue;
			}
			if (oldest == NULL || (*pp)->at_ms < (*oldest)->at_ms)
				oldest = pp;
			pp = &(*pp)->next;
		}
	}
	if (c->n >= c->max && oldest != NULL)
		tcache_unlink(c, oldest);
}

void
tcache_put(struct tcache *c, const char *tok, size_t len, int64_t now_ms,
    const struct token_claims *claims)
{
	struct tentry **pp = tcache_find(c, tok, len), *e;

	if (*pp != NULL) {
		(*pp)->claims = *claims;
		(*pp)->at_ms = now_ms;
		return;
	}
	if (c->max == 0)
		return;
	if (c->n >= c->max) {
		tcache_make_room(c, now_ms);
		pp = tcache_find(c, tok, len);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->tok = malloc(len)) == NULL)
		fatal("%s", __func__);
	memcpy(e->tok, tok, len);
	e->len = len;
	e->at_ms = now_ms;
	e->claims = *claims;
	*pp = e;
	c->n++;
}

void
tcache_del(struct tcache *c, const char *tok, size_t len)
{
	struct tentry **pp = tcache_find(c, tok, len);

	if (*pp != NULL)
		tcache_unlink(c, pp);
}

size_t
tcache_count(const struct tcache *c)
{
	return c->n;
}

/*
 * Per-key buckets.
 */

struct kbucket {
	struct kbucket *next;
	char scope[72];
	enum kbucket_kind kind;
	double tokens;
	uint64_t rate;
	int64_t at_ms;
};

struct kbuckets {
	struct kbucket *head[HEADS];
	size_t n, max;
};

struct kbuckets *
kbuckets_new(size_t max)
{
	struct kbuckets *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s", __func__);
	k->max = max;
	return k;
}

void
kbuckets_free(struct kbuckets *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < HEADS; i++)
		while (k->head[i] != NULL) {
			struct kbucket *b = k->head[i];

			k->head[i] = b->next;
			free(b);
		}
	free(k);
}

size_t
kbuckets_count(const struct kbuckets *k)
{
	return k->n;
}

static void
kbucket_refill(struct kbucket *b, uint64_t rate, int64_t now_ms)
{
	double cap = (double)rate;

	if (now_ms > b->at_ms)
		b->tokens += (double)(now_ms - b->at_ms) * cap / 1000.0;
	b->at_ms = now_ms;
	b->rate = rate;
	if (b->tokens > cap)
		b->tokens = cap;
}

/* drops buckets idle long enough to be full again; else the oldest */
static void
kbuckets_make_room(struct kbuckets *k, int64_t now_ms)
{
	struct kbucket **oldest = NULL;

	for (size_t i = 0; i < HEADS; i++) {
		struct kbucket **pp = &k->head[i];

		while (*pp != NULL) {
			struct kbucket *b = *pp;

			kbucket_refill(b, b->rate, now_ms);
			if (b->tokens >= (double)b->rate) {
				*pp = b->next;
				free(b);
				k->n--;
				continue;
			}
			if (oldest == NULL || b->at_ms < (*oldest)->at_ms)
				oldest = pp;
			pp = &b->next;
		}
	}
	if (k->n >= k->max && oldest != NULL) {
		struct kbucket *b = *oldest;

		*oldest = b->next;
		free(b);
		k->n--;
	}
}

static struct kbucket *
kbuckets_get(struct kbuckets *k, const char *scope, enum kbucket_kind kind,
    uint64_t rate, int64_t now_ms)
{
	uint32_t h = hash_bytes(scope, strlen(scope), (uint32_t)kind) % HEADS;
	struct kbucket *b;

	for (b = k->head[h]; b != NULL; b = b->next)
		if (b->kind == kind && strcmp(b->scope, scope) == 0)
			return b;
	if (k->n >= k->max)
		kbuckets_make_room(k, now_ms);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s", __func__);
	if (strlen(scope) >= sizeof(b->scope))
		fatalx("%s: scope too long", __func__);
	strcpy(b->scope, scope);
	b->kind = kind;
	b->tokens = (double)rate;
	b->rate = rate;
	b->at_ms = now_ms;
	b->next = k->head[h];
	k->head[h] = b;
	k->n++;
	return b;
}

void
kbuckets_take(struct kbuckets *k, const char *scope, enum kbucket_kind kind,
    uint64_t rate, int64_t now_ms, struct kbucket_verdict *v)
{
	struct kbucket *b = kbuckets_get(k, scope, kind, rate, now_ms);
	double wait;

	kbucket_refill(b, rate, now_ms);
	v->rate = (double)rate;
	v->burst = rate;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		v->allowed = true;
		v->retry_after_s = 0;
		return;
	}
	v->allowed = false;
	if (rate == 0) {
		v->retry_after_s = 60;
		return;
	}
	wait = ceil((1.0 - b->tokens) / (double)rate);
	v->retry_after_s = wait < 1.0 ? 1 : (int)wait;
}
