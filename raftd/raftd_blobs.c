/*
 * The ring of applied blob changes and the MSG_RAFT_BLOBS long-poll.
 * Sequence numbers start at 1 in each raftd process under a random
 * epoch; a request naming another epoch (blobd or raftd restarted)
 * starts from the oldest record held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/ipc.h"
#include "common/log.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/fsm_blobs.h"
#include "raftd/node.h"
#include "raftd/raftd_blobs.h"

struct rblob {
	uint64_t seq;
	uint8_t kind; /* enum blob_change */
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *key;
	size_t key_len;
	uint64_t size;
	char hash[FSM_BLOB_HASH_LEN + 1];
	char *node_id;
};

struct bwait {
	void *waiter; /* NULL: free */
	uint64_t after;
	uint64_t deadline_ms;
};

struct raftd_blobs {
	uint64_t epoch;
	uint64_t next_seq;
	struct rblob ring[RAFTD_BLOBS_RING];
	size_t head; /* oldest */
	size_t n;
	size_t bytes;
	struct bwait waits[RAFTD_BLOBS_WAIT_MAX];
	raftd_blobs_reply_fn reply;
};

static void
rb_ipc_reply(void *waiter, const uint8_t *p, size_t len)
{
	ipc_reply(waiter, MSG_RAFT_BLOBS, p, len);
}

struct raftd_blobs *
raftd_blobs_new(void)
{
	struct raftd_blobs *rb;

	if ((rb = calloc(1, sizeof(*rb))) == NULL)
		fatal("%s", __func__);
	if (RAND_bytes((unsigned char *)&rb->epoch, sizeof(rb->epoch)) != 1)
		fatalx("%s: no random epoch", __func__);
	rb->epoch |= 1; /* 0 means "none yet" to blobd */
	rb->next_seq = 1;
	rb->reply = rb_ipc_reply;
	return rb;
}

void
raftd_blobs_set_reply(struct raftd_blobs *rb, raftd_blobs_reply_fn fn)
{
	rb->reply = fn;
}

uint64_t
raftd_blobs_epoch(const struct raftd_blobs *rb)
{
	return rb->epoch;
}

static size_t
rblob_bytes(const struct rblob *e)
{
	return sizeof(*e) + e->key_len +
	    (e->node_id != NULL ? strlen(e->node_id) : 0);
}

static void
ring_drop_oldest(struct raftd_blobs *rb)
{
	struct rblob *e = &rb->ring[rb->head];

	rb->bytes -= rblob_bytes(e);
	free(e->key);
	free(e->node_id);
	memset(e, 0, sizeof(*e));
	rb->head = (rb->head + 1) % RAFTD_BLOBS_RING;
	rb->n--;
}

void
raftd_blobs_free(struct raftd_blobs *rb)
{
	if (rb == NULL)
		return;
	/* waiters were answered at stop; the channel is closed by now */
	while (rb->n > 0)
		ring_drop_oldest(rb);
	free(rb);
}

/* index in the ring of the first record with seq > after */
static size_t
ring_first_after(const struct raftd_blobs *rb, uint64_t after)
{
	uint64_t oldest;

	if (rb->n == 0)
		return 0;
	oldest = rb->ring[rb->head].seq;
	if (after < oldest)
		return 0;
	if (after - oldest + 1 >= rb->n)
		return rb->n;
	return (size_t)(after - oldest + 1);
}

static bool
has_after(const struct raftd_blobs *rb, uint64_t after)
{
	return rb->n > 0 &&
	    rb->ring[(rb->head + rb->n - 1) % RAFTD_BLOBS_RING].seq > after;
}

/*
 * rep: u64 epoch, u64 lost (records after `after` no longer held), u64
 * last seq covered, u32 n, n * (u64 seq, u8 kind, str scope, bytes key,
 * u64 size, str hash, str node_id)
 */
static void
blobs_reply(struct raftd_blobs *rb, void *waiter, uint64_t after)
{
	struct pbuf pb, items;
	size_t budget = 0;
	uint64_t lost = 0, last = after;
	uint32_t n = 0;

	if (rb->n > 0 && after != 0 && after + 1 < rb->ring[rb->head].seq)
		lost = rb->ring[rb->head].seq - after - 1;
	pb_init(&items);
	for (size_t i = ring_first_after(rb, after); i < rb->n; i++) {
		const struct rblob *e =
		    &rb->ring[(rb->head + i) % RAFTD_BLOBS_RING];

		if (n > 0 && budget + rblob_bytes(e) > RAFTD_BLOBS_REPLY_BYTES)
			break;
		budget += rblob_bytes(e);
		last = e->seq;
		pb_add_u64(&items, e->seq);
		pb_add_u8(&items, e->kind);
		pb_add_str(&items, e->scope);
		pb_add_bytes(&items, e->key, e->key_len);
		pb_add_u64(&items, e->size);
		pb_add_str(&items, e->hash);
		pb_add_str(&items, e->node_id);
		n++;
	}
	pb_init(&pb);
	pb_add_u64(&pb, rb->epoch);
	pb_add_u64(&pb, lost);
	pb_add_u64(&pb, last);
	pb_add_u32(&pb, n);
	pb_add_raw(&pb, items.data, items.len);
	if (pb.err || items.err)
		fatalx("%s: cannot encode", __func__);
	rb->reply(waiter, pb.data, pb.len);
	pb_free(&items);
	pb_free(&pb);
}

static void
answer_waiters(struct raftd_blobs *rb)
{
	for (size_t i = 0; i < RAFTD_BLOBS_WAIT_MAX; i++) {
		struct bwait *w = &rb->waits[i];
		void *waiter = w->waiter;

		if (waiter == NULL || !has_after(rb, w->after))
			continue;
		w->waiter = NULL;
		blobs_reply(rb, waiter, w->after);
	}
}

/* appends a record (its strings copied); waiters are answered later */
static void
ring_push(struct raftd_blobs *rb, uint8_t kind, const char *scope,
    const uint8_t *key, size_t key_len, uint64_t size, const uint8_t *hash,
    const uint8_t *node_id, size_t node_len)
{
	struct rblob *e;
	size_t need = sizeof(*e) + key_len + node_len;

	while (rb->n > 0 &&
	    (rb->n == RAFTD_BLOBS_RING ||
		rb->bytes + need > RAFTD_BLOBS_RING_BYTES))
		ring_drop_oldest(rb);
	e = &rb->ring[(rb->head + rb->n) % RAFTD_BLOBS_RING];
	e->seq = rb->next_seq++;
	e->kind = kind;
	snprintf(e->scope, sizeof(e->scope), "%s", scope);
	if ((e->key = malloc(key_len > 0 ? key_len : 1)) == NULL ||
	    (e->node_id = calloc(1, node_len + 1)) == NULL)
		fatal("%s", __func__);
	if (key_len > 0)
		memcpy(e->key, key, key_len);
	e->key_len = key_len;
	if (node_len > 0)
		memcpy(e->node_id, node_id, node_len);
	e->size = size;
	if (hash != NULL)
		memcpy(e->hash, hash, FSM_BLOB_HASH_LEN);
	rb->bytes += rblob_bytes(e);
	rb->n++;
}

static void
applied_put(struct raftd_blobs *rb, const struct cmd *c)
{
	struct fsm_blob_meta m;

	/* apply checked the same fields before it answered ST_OK */
	if (fsm_blob_meta_decode(c->value, c->value_len, &m) == -1)
		fatalx("%s: applied blob metadata is malformed", __func__);
	ring_push(rb, BLOB_CHANGE_PUT, c->scope, c->key, c->key_len, m.size,
	    m.hash, m.node_id, m.node_id_len);
}

static void
applied_removed(struct raftd_blobs *rb, const uint8_t *p, size_t len)
{
	char scope[CMD_SCOPE_MAX + 1];
	const uint8_t *s, *key;
	size_t slen, klen;
	struct pread rd;

	pr_init(&rd, p, len);
	while (pr_remaining(&rd) > 0) {
		if (pr_get_bytes(&rd, &s, &slen) == -1 ||
		    pr_get_bytes(&rd, &key, &klen) == -1 ||
		    slen > CMD_SCOPE_MAX)
			fatalx("%s: malformed removed list", __func__);
		memcpy(scope, s, slen);
		scope[slen] = '\0';
		ring_push(
		    rb, BLOB_CHANGE_PURGE, scope, key, klen, 0, NULL, NULL, 0);
	}
}

void
raftd_blobs_applied(struct raftd_blobs *rb, const uint8_t *p, size_t len,
    const struct fsm_result *res)
{
	struct cmd c;

	if (res->status != ST_OK)
		return;
	if (res->blobs_removed_len > 0)
		applied_removed(rb, res->blobs_removed, res->blobs_removed_len);
	if (cmd_decode(p, len, &c) == 0 && c.type == CMD_BLOB_PUT)
		applied_put(rb, &c);
	answer_waiters(rb);
}

void
raftd_blobs_resync(struct raftd_blobs *rb)
{
	ring_push(rb, BLOB_CHANGE_RESYNC, "", NULL, 0, 0, NULL, NULL, 0);
	answer_waiters(rb);
}

/* req: u64 epoch (0: none yet), u64 after */
void
raftd_blobs_request(
    struct raftd_blobs *rb, void *waiter, const uint8_t *p, size_t len)
{
	uint64_t epoch, after;
	struct pread pr;

	pr_init(&pr, p, len);
	pr_get_u64(&pr, &epoch);
	pr_get_u64(&pr, &after);
	if (pr_end(&pr) != 0)
		fatalx("%s: malformed blobs request from blobd", __func__);
	if (epoch != rb->epoch)
		after = 0;
	if (epoch != rb->epoch || has_after(rb, after))
		return blobs_reply(rb, waiter, after);
	for (size_t i = 0; i < RAFTD_BLOBS_WAIT_MAX; i++)
		if (rb->waits[i].waiter == NULL) {
			rb->waits[i].waiter = waiter;
			rb->waits[i].after = after;
			rb->waits[i].deadline_ms =
			    node_now_ms() + RAFTD_BLOBS_WAIT_MS;
			return;
		}
	blobs_reply(rb, waiter, after);
}

void
raftd_blobs_tick(struct raftd_blobs *rb, bool all)
{
	uint64_t now = node_now_ms();

	/* a start that failed early stops without a ring */
	if (rb == NULL)
		return;
	for (size_t i = 0; i < RAFTD_BLOBS_WAIT_MAX; i++) {
		struct bwait *w = &rb->waits[i];
		void *waiter = w->waiter;

		if (waiter == NULL || (!all && now < w->deadline_ms))
			continue;
		w->waiter = NULL;
		blobs_reply(rb, waiter, w->after);
	}
}
