/*
 * Authentication of entity and alias tokens (API.md §3.4) and the per-key
 * buckets (§8.2).  The token's claims come from the cache or from
 * decryption; every request then reads the key (or alias) record in this
 * node's applied state, so a deletion applied here refuses the token at
 * once, cached or not.  A follower that does not know the key yet waits
 * once for a read index from the leader (at most 1 s) and looks again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/keys_pure.h"
#include "apid/keys_rec.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

#define AUTH_LINEARIZABLE_MS 1000
#define LIM_RATE_DATA 4
#define LIM_RATE_EVENTS 5

struct apid_keys {
	uint8_t token_key[32];
	struct tcache *cache;
	struct kbuckets *buckets;
};

static struct apid_keys *
keys_state(struct apid *a)
{
	struct apid_keys *k;

	if (a->keys != NULL) {
		tcache_set_ttl(a->keys->cache, a->env->cfg.cache_keys_ms);
		return a->keys;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s", __func__);
	crypto_token_key(a->env->cfg.instance_secret, k->token_key);
	k->cache = tcache_new(TCACHE_MAX, a->env->cfg.cache_keys_ms);
	k->buckets = kbuckets_new(KBUCKET_MAX);
	a->keys = k;
	return k;
}

const uint8_t *
apid_token_key(struct apid *a)
{
	return keys_state(a)->token_key;
}

void
apid_token_forget(struct apid *a, const char *token, size_t len)
{
	tcache_del(keys_state(a)->cache, token, len);
}

static void
auth_refuse(struct areq *ar, const char *msg)
{
	struct pbuf h;

	pb_init(&h);
	http_hdr_add(&h, "WWW-Authenticate", "Bearer");
	apid_error(ar, 401, "AUTHENTICATION_FAILED", &h, "%s", msg);
	pb_free(&h);
}

static void auth_read_done(struct areq *, int, const uint8_t *, size_t);

static void
auth_lookup(struct areq *ar, uint8_t consistency)
{
	struct token_claims *c = &ar->id.claims;
	struct read_req q;
	struct pbuf b;

	memset(&q, 0, sizeof(q));
	q.op = c->is_alias ? READ_ALIAS : READ_KEY;
	q.consistency = consistency;
	snprintf(q.scope, sizeof(q.scope), "%s", ar->a->env->cfg.root_prefix);
	q.key = (const uint8_t *)c->k;
	q.key_len = strlen(c->k);
	pb_init(&b);
	read_req_encode(&b, &q);
	apid_raft_call(ar, MSG_RAFT_READ, &b,
	    consistency == READ_LINEARIZABLE ? AUTH_LINEARIZABLE_MS
					     : APID_READ_WAIT_MS,
	    auth_read_done);
	pb_free(&b);
}

void
apid_auth_token(struct areq *ar, const char *token, size_t len)
{
	struct apid_keys *k = keys_state(ar->a);
	struct token_claims *c = &ar->id.claims;

	if (tcache_get(k->cache, token, len, http_now_ms(), c) == 0) {
		if (crypto_token_decrypt(k->token_key, token, len, c) == -1) {
			auth_refuse(ar, "credential unknown");
			return;
		}
		tcache_put(k->cache, token, len, http_now_ms(), c);
	}
	auth_lookup(ar, READ_LOCAL);
}

/* the key record says the key is live for the token's ds */
static bool
key_usable(const struct keyrec *r, const char *ds)
{
	return !r->tombstone && keyrec_ds_is(r, ds);
}

static void
id_fill(struct areq *ar, const struct keyrec *r, const struct limitsrec *l,
    const char *key_uuid)
{
	struct identity *id = &ar->id;

	snprintf(id->scope, sizeof(id->scope), "%s", id->claims.ds);
	snprintf(id->key_uuid, sizeof(id->key_uuid), "%s", key_uuid);
	snprintf(id->entity, sizeof(id->entity), "%s%.*s",
	    id->alias ? "alias_for_" : "", (int)r->entity_len, r->entity);
	id->rate_mask = 0;
	if (l->mask & (1u << LIM_RATE_DATA)) {
		id->rate_mask |= 1;
		id->rate_data = l->v[LIM_RATE_DATA];
	}
	if (l->mask & (1u << LIM_RATE_EVENTS)) {
		id->rate_mask |= 2;
		id->rate_events = l->v[LIM_RATE_EVENTS];
	}
}

/* ST_OK result of READ_KEY / READ_ALIAS; false when the token is dead */
static bool
auth_check(struct areq *ar, struct pread *rest)
{
	char parent[CRYPTO_UUID_LEN + 1];
	const uint8_t *rec, *prec;
	size_t rlen, plen;
	struct limitsrec l;
	struct aliasrec a;
	struct keyrec r;

	pr_get_bytes(rest, &rec, &rlen);
	if (!ar->id.claims.is_alias) {
		if (rest->err || keyrec_decode(rec, rlen, &r) == -1 ||
		    limitsrec_get(rest, &l) == -1)
			fatalx("%s: malformed key record from raftd", __func__);
		if (!key_usable(&r, ar->id.claims.ds))
			return false;
		id_fill(ar, &r, &l, ar->id.claims.k);
		return true;
	}
	pr_get_bytes(rest, &prec, &plen);
	if (rest->err || aliasrec_decode(rec, rlen, &a) == -1 ||
	    limitsrec_get(rest, &l) == -1)
		fatalx("%s: malformed alias record from raftd", __func__);
	if (plen == 0 || a.parent_len != CRYPTO_UUID_LEN)
		return false;
	if (keyrec_decode(prec, plen, &r) == -1)
		fatalx("%s: malformed key record from raftd", __func__);
	if (!key_usable(&r, ar->id.claims.ds))
		return false;
	memcpy(parent, a.parent, CRYPTO_UUID_LEN);
	parent[CRYPTO_UUID_LEN] = '\0';
	ar->id.alias = true;
	snprintf(ar->id.alias_uuid, sizeof(ar->id.alias_uuid), "%s",
	    ar->id.claims.k);
	id_fill(ar, &r, &l, parent);
	return true;
}

static void
auth_read_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	const char *leader = NULL;
	struct pread rest;
	uint16_t st;
	uint8_t cons;

	if (err != 0) {
		/* the bounded wait for the leader found nothing in time */
		if (ar->id.linearized) {
			auth_refuse(ar, "credential unknown");
			return;
		}
		apid_ipc_error(ar, err, false);
		return;
	}
	pr_init(&rest, p, len);
	pr_get_u16(&rest, &st);
	pr_get_u8(&rest, &cons);
	if (rest.err)
		fatalx("%s: malformed read result from raftd", __func__);
	if (st == ST_NOT_FOUND && !ar->id.linearized &&
	    apid_leader_check(ar->a, &leader) != LEADER_SELF) {
		ar->id.linearized = true;
		auth_lookup(ar, READ_LINEARIZABLE);
		return;
	}
	if (st == ST_NOT_FOUND || (st == ST_OK && !auth_check(ar, &rest))) {
		auth_refuse(ar, "credential unknown or deleted");
		return;
	}
	if (st != ST_OK) {
		if (ar->id.linearized) {
			auth_refuse(ar, "credential unknown");
			return;
		}
		apid_error(ar, 500, "INTERNAL_ERROR", NULL,
		    "internal error reading the key (status %u)", st);
		return;
	}
	apid_after_auth(ar);
}

bool
apid_key_bucket(struct areq *ar)
{
	struct kbucket_verdict v;
	enum kbucket_kind kind;
	uint64_t rate;
	char r[64];
	struct pbuf h;

	if (ar->id.root || ar->route->key_bucket == KB_NONE)
		return true;
	kind = ar->route->key_bucket == KB_DATA ? KBUCKET_DATA : KBUCKET_EVENTS;
	if (!(ar->id.rate_mask & (kind == KBUCKET_DATA ? 1 : 2)))
		return true;
	rate = kind == KBUCKET_DATA ? ar->id.rate_data : ar->id.rate_events;
	kbuckets_take(keys_state(ar->a)->buckets, ar->id.scope, kind, rate,
	    http_now_ms(), &v);
	if (v.allowed)
		return true;
	http_format_rate(v.rate, r, sizeof(r));
	pb_init(&h);
	http_hdr_add(&h, "Retry-After", "%d", v.retry_after_s);
	http_hdr_add(&h, "X-RateLimit-Limit", "%s", r);
	http_hdr_add(&h, "X-RateLimit-Burst", "%" PRIu64, v.burst);
	http_hdr_add(&h, "X-RateLimit-Scope", "key");
	apid_error(
	    ar, 429, "RATE_LIMITED", &h, "rate limit of the key exceeded");
	pb_free(&h);
	return false;
}
