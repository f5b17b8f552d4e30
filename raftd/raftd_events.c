/*
 * The ring of accepted publishes (and of key and alias deletions, which
 * end their sessions) and the MSG_RAFT_EVENTS long-poll.
 * Sequence numbers start at 1 in each raftd process under a random epoch;
 * a request naming another epoch (apid or raftd restarted) starts from
 * the oldest event held, and the replay window keeps old events out.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "raftd/node.h"
#include "raftd/raftd_events.h"

struct rev {
	uint64_t seq;
	uint8_t kind; /* enum event_kind */
	int64_t emitted_at;
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *topic;
	size_t topic_len;
	uint8_t *data;
	size_t data_len;
};

struct rwait {
	struct ipc_rctx *rctx; /* NULL: free */
	uint64_t after;
	uint64_t deadline_ms;
};

struct raftd_events {
	uint64_t epoch;
	uint64_t next_seq; /* of the next accepted publish */
	int64_t replay_window_ns;
	struct rev ring[RAFTD_EVENTS_RING];
	size_t head; /* oldest */
	size_t n;
	size_t bytes;
	struct rwait waits[RAFTD_EVENTS_WAIT_MAX];
};

struct raftd_events *
raftd_events_new(int64_t replay_window_ms)
{
	struct raftd_events *ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		fatal("%s", __func__);
	if (RAND_bytes((unsigned char *)&ev->epoch, sizeof(ev->epoch)) != 1)
		fatalx("%s: no random epoch", __func__);
	ev->epoch |= 1; /* 0 means "none yet" to apid */
	ev->next_seq = 1;
	ev->replay_window_ns = replay_window_ms * 1000000LL;
	return ev;
}

static void
rev_clear(struct rev *e)
{
	free(e->topic);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static void
ring_drop_oldest(struct raftd_events *ev)
{
	struct rev *e = &ev->ring[ev->head];

	ev->bytes -= e->topic_len + e->data_len;
	rev_clear(e);
	ev->head = (ev->head + 1) % RAFTD_EVENTS_RING;
	ev->n--;
}

void
raftd_events_free(struct raftd_events *ev)
{
	if (ev == NULL)
		return;
	/* waiters were answered at stop; the channel is closed by now */
	while (ev->n > 0)
		ring_drop_oldest(ev);
	free(ev);
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *d;

	if ((d = malloc(len > 0 ? len : 1)) == NULL)
		fatal("%s", __func__);
	if (len > 0)
		memcpy(d, p, len);
	return d;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* index in the ring of the first event with seq > after */
static size_t
ring_first_after(const struct raftd_events *ev, uint64_t after)
{
	uint64_t oldest;

	if (ev->n == 0)
		return 0;
	oldest = ev->ring[ev->head].seq;
	if (after < oldest)
		return 0;
	if (after - oldest + 1 >= ev->n)
		return ev->n;
	return (size_t)(after - oldest + 1);
}

/*
 * rep: u64 epoch, u64 lost (events after `after` no longer held), u64
 * last seq covered, u32 n, n * (u64 seq, u8 kind, i64 emitted_at, str
 * scope, bytes topic, bytes data)
 */
static void
events_reply(struct raftd_events *ev, struct ipc_rctx *rctx, uint64_t after)
{
	struct pbuf pb, items;
	size_t i, budget = 0;
	uint64_t lost = 0, last = after;
	uint32_t n = 0;
	int64_t now = now_ns();

	if (ev->n > 0 && after + 1 < ev->ring[ev->head].seq && after != 0)
		lost = ev->ring[ev->head].seq - after - 1;
	pb_init(&items);
	for (i = ring_first_after(ev, after); i < ev->n; i++) {
		const struct rev *e =
		    &ev->ring[(ev->head + i) % RAFTD_EVENTS_RING];

		if (n > 0 &&
		    budget + e->topic_len + e->data_len >
			RAFTD_EVENTS_REPLY_BYTES)
			break;
		last = e->seq;
		/* older than the replay window: never delivered */
		if (e->kind == EVENT_KIND_PUBLISH &&
		    now - e->emitted_at > ev->replay_window_ns)
			continue;
		budget += e->topic_len + e->data_len;
		pb_add_u64(&items, e->seq);
		pb_add_u8(&items, e->kind);
		pb_add_u64(&items, (uint64_t)e->emitted_at);
		pb_add_str(&items, e->scope);
		pb_add_bytes(&items, e->topic, e->topic_len);
		pb_add_bytes(&items, e->data, e->data_len);
		n++;
	}
	pb_init(&pb);
	pb_add_u64(&pb, ev->epoch);
	pb_add_u64(&pb, lost);
	pb_add_u64(&pb, last);
	pb_add_u32(&pb, n);
	pb_add_raw(&pb, items.data, items.len);
	if (pb.err || items.err)
		fatalx("%s: cannot encode", __func__);
	ipc_reply(rctx, MSG_RAFT_EVENTS, pb.data, pb.len);
	pb_free(&items);
	pb_free(&pb);
}

static bool
has_after(const struct raftd_events *ev, uint64_t after)
{
	return ev->n > 0 &&
	    ev->ring[(ev->head + ev->n - 1) % RAFTD_EVENTS_RING].seq > after;
}

void
raftd_events_applied(struct raftd_events *ev, const uint8_t *p, size_t len)
{
	struct cmd c;
	struct rev *e;
	uint8_t kind;

	if (cmd_decode(p, len, &c) == -1)
		return;
	switch (c.type) {
	case CMD_EVENT_PUBLISH:
		kind = EVENT_KIND_PUBLISH;
		break;
	case CMD_KEY_TOMBSTONE:
		kind = EVENT_KIND_KEY_DELETED;
		break;
	case CMD_ALIAS_DELETE:
		kind = EVENT_KIND_ALIAS_DELETED;
		break;
	default:
		return;
	}
	if (kind != EVENT_KIND_PUBLISH) {
		/* the deleted uuid travels as the topic, without data */
		c.value = NULL;
		c.value_len = 0;
	}
	while (ev->n > 0 &&
	    (ev->n == RAFTD_EVENTS_RING ||
		ev->bytes + c.key_len + c.value_len > RAFTD_EVENTS_RING_BYTES))
		ring_drop_oldest(ev);
	e = &ev->ring[(ev->head + ev->n) % RAFTD_EVENTS_RING];
	e->seq = ev->next_seq++;
	e->kind = kind;
	e->emitted_at = c.ts;
	memcpy(e->scope, c.scope, sizeof(e->scope));
	e->topic = dup_bytes(c.key, c.key_len);
	e->topic_len = c.key_len;
	e->data = dup_bytes(c.value, c.value_len);
	e->data_len = c.value_len;
	ev->bytes += c.key_len + c.value_len;
	ev->n++;
	for (size_t i = 0; i < RAFTD_EVENTS_WAIT_MAX; i++) {
		struct rwait *w = &ev->waits[i];
		struct ipc_rctx *rctx = w->rctx;

		if (rctx == NULL || !has_after(ev, w->after))
			continue;
		w->rctx = NULL;
		events_reply(ev, rctx, w->after);
	}
}

/* req: u64 epoch (0: none yet), u64 after */
void
raftd_events_request(struct raftd_events *ev, struct ipc_rctx *rctx,
    const uint8_t *p, size_t len)
{
	uint64_t epoch, after;
	struct pread pr;

	pr_init(&pr, p, len);
	pr_get_u64(&pr, &epoch);
	pr_get_u64(&pr, &after);
	if (pr_end(&pr) != 0)
		fatalx("%s: malformed events request from apid", __func__);
	if (epoch != ev->epoch)
		after = 0;
	if (epoch != ev->epoch || has_after(ev, after))
		return events_reply(ev, rctx, after);
	for (size_t i = 0; i < RAFTD_EVENTS_WAIT_MAX; i++)
		if (ev->waits[i].rctx == NULL) {
			ev->waits[i].rctx = rctx;
			ev->waits[i].after = after;
			ev->waits[i].deadline_ms =
			    node_now_ms() + RAFTD_EVENTS_WAIT_MS;
			return;
		}
	events_reply(ev, rctx, after);
}

void
raftd_events_tick(struct raftd_events *ev, bool all)
{
	uint64_t now = node_now_ms();

	for (size_t i = 0; i < RAFTD_EVENTS_WAIT_MAX; i++) {
		struct rwait *w = &ev->waits[i];
		struct ipc_rctx *rctx = w->rctx;

		if (rctx == NULL || (!all && now < w->deadline_ms))
			continue;
		w->rctx = NULL;
		events_reply(ev, rctx, w->after);
	}
}
