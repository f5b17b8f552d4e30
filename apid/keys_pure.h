/*
 * Pure parts of identity and tenancy: entity names (API.md §3.5), key_name
 * checks (§2.6), the per-node token cache (§3.4) and the per-key token
 * buckets (§8.2).  No I/O, so unit tests link them alone.
 */
#ifndef APID_KEYS_PURE_H
#define APID_KEYS_PURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define KEY_NAME_MAX_CP 128
/* a key_name of 128 code points of up to 4 bytes, and a NUL */
#define ENTITY_NAME_MAX (KEY_NAME_MAX_CP * 4 + 1)

/* 1-128 code points of valid UTF-8, no control characters */
bool entity_key_name_valid(const char *s, size_t len);
/* §3.5: trimmed, ASCII-lowercased, punctuation to '_'; out >= len + 1 */
void entity_name(const char *key_name, size_t len, char *out, size_t outlen);

#define TCACHE_MAX 10000

struct tcache;

struct tcache *tcache_new(size_t max, int64_t ttl_ms);
void tcache_free(struct tcache *);
/* 1 and *out when a fresh entry exists, else 0 */
int tcache_get(struct tcache *, const char *tok, size_t len, int64_t now_ms,
    struct token_claims *out);
void tcache_put(struct tcache *, const char *tok, size_t len, int64_t now_ms,
    const struct token_claims *);
void tcache_del(struct tcache *, const char *tok, size_t len);
size_t tcache_count(const struct tcache *);
void tcache_set_ttl(struct tcache *, int64_t ttl_ms);

#define KBUCKET_MAX 100000

enum kbucket_kind {
	KBUCKET_DATA = 0,
	KBUCKET_EVENTS = 1,
};

struct kbucket_verdict {
	bool allowed;
	int retry_after_s;
	double rate;
	uint64_t burst;
};

struct kbuckets;

struct kbuckets *kbuckets_new(size_t max);
void kbuckets_free(struct kbuckets *);
/*
 * Takes one token of the scope's bucket whose capacity = refill = rate;
 * a bucket is created full; a lower rate caps the tokens at once.
 */
void kbuckets_take(struct kbuckets *, const char *scope, enum kbucket_kind,
    uint64_t rate, int64_t now_ms, struct kbucket_verdict *);
size_t kbuckets_count(const struct kbuckets *);

#endif
