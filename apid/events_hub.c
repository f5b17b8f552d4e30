/*
 * Delivery of the applied-event stream to this node's WebSocket sessions
 * (API.md §14.3).  One MSG_RAFT_EVENTS long-poll is kept open to raftd
 * (proto/msg.h): every answer carries events in log order with their
 * sequence numbers and is re-issued after the last one, so no event is
 * skipped while raftd's ring holds it.  The first answer only tells where
 * the stream stands: events from before apid started are not delivered.
 * Each event goes to every session of its scope whose topic is byte-equal.
 *
 * apid runs one hub per process; it lives in this file's state.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "apid/events.h"
#include "apid/events_hub.h"
#include "apid/slots.h"
#include "apid/ws.h"
#include "common/log.h"
#include "proto/msg.h"

#define STREAM_CALL_MS 3000
#define STREAM_RETRY_MS 200

struct sub {
	TAILQ_ENTRY(sub) entry;
	struct ws_session *ws;
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *topic;
	size_t topic_len;
	char session[CRYPTO_UUID_LEN + 1];
	/* the credential's keys: a deletion of either ends the session */
	char key_uuid[CRYPTO_UUID_LEN + 1];
	char alias_uuid[CRYPTO_UUID_LEN + 1];
	bool slot_held;
};

static struct hub {
	struct apid *a;
	TAILQ_HEAD(, sub) subs;
	size_t nsessions; /* counted from the handshake's step 6 on */
	bool polling;
	uint64_t epoch; /* 0: no answer yet */
	uint64_t last;
	uint64_t lost;
	struct event *retry;
	size_t active; /* upgraded sessions */
	uint64_t closed[WS_END_REASONS];
} hub;

static void stream_issue(void);

static void
stream_retry_later(void)
{
	struct timeval tv = { 0, STREAM_RETRY_MS * 1000 };

	evtimer_add(hub.retry, &tv);
}

static void
dispatch(const char *scope, const uint8_t *topic, size_t tlen,
    const uint8_t *data, size_t dlen, int64_t emitted_at)
{
	struct sub *s, *next;
	struct pbuf frame;
	bool built = false;

	pb_init(&frame);
	for (s = TAILQ_FIRST(&hub.subs); s != NULL; s = next) {
		/* a send may end the session and unlink it */
		next = TAILQ_NEXT(s, entry);
		if (s->ws == NULL || strcmp(s->scope, scope) != 0 ||
		    s->topic_len != tlen || memcmp(s->topic, topic, tlen) != 0)
			continue;
		if (!built) {
			apid_event_frame(
			    &frame, topic, tlen, data, dlen, emitted_at);
			if (frame.err)
				fatalx("%s: frame", __func__);
			built = true;
		}
		if (!ws_session_send(s->ws, frame.data, frame.len))
			log_info("apid: events session closed: send queue "
				 "full");
	}
	pb_free(&frame);
}

/* closes the sessions of a deleted key (kind KEY_DELETED) or alias */
static void
close_deleted(uint8_t kind, const uint8_t *uuid, size_t len)
{
	struct sub *s, *next;
	const char *mine;

	for (s = TAILQ_FIRST(&hub.subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		mine = kind == EVENT_KIND_KEY_DELETED ? s->key_uuid
						      : s->alias_uuid;
		if (s->ws == NULL || mine[0] == '\0' || strlen(mine) != len ||
		    memcmp(mine, uuid, len) != 0)
			continue;
		ws_session_close(s->ws, WS_CLOSE_POLICY);
	}
}

/* 0, or -1 when the answer is malformed */
static int
stream_apply(const uint8_t *p, size_t len, bool deliver)
{
	uint64_t epoch, lost, last, seq, at;
	uint8_t kind;
	const uint8_t *scope, *topic, *data;
	size_t slen, tlen, dlen;
	char sc[CMD_SCOPE_MAX + 1];
	struct pread r;
	uint32_t n;

	pr_init(&r, p, len);
	if (pr_get_u64(&r, &epoch) == -1 || pr_get_u64(&r, &lost) == -1 ||
	    pr_get_u64(&r, &last) == -1 || pr_get_u32(&r, &n) == -1)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (pr_get_u64(&r, &seq) == -1 || pr_get_u8(&r, &kind) == -1 ||
		    pr_get_u64(&r, &at) == -1 ||
		    pr_get_bytes(&r, &scope, &slen) == -1 ||
		    pr_get_bytes(&r, &topic, &tlen) == -1 ||
		    pr_get_bytes(&r, &data, &dlen) == -1 ||
		    slen > CMD_SCOPE_MAX)
			return -1;
		memcpy(sc, scope, slen);
		sc[slen] = '\0';
		/* deletions count even before the first placing answer */
		if (kind == EVENT_KIND_KEY_DELETED ||
		    kind == EVENT_KIND_ALIAS_DELETED)
			close_deleted(kind, topic, tlen);
		else if (deliver)
			dispatch(sc, topic, tlen, data, dlen, (int64_t)at);
	}
	if (pr_end(&r) == -1)
		return -1;
	if (lost > 0) {
		hub.lost += lost;
		log_warnx("apid: %llu events left raftd's ring before "
			  "delivery",
		    (unsigned long long)lost);
	}
	hub.epoch = epoch;
	hub.last = last;
	return 0;
}

static void
stream_done(int err, struct ipc_msg *m, void *arg)
{
	(void)arg;
	hub.polling = false;
	if (hub.a->stopping)
		return;
	if (err != 0 || m == NULL) {
		stream_retry_later();
		return;
	}
	/* the first answer places the stream; a new epoch is catch-up */
	if (stream_apply(m->payload, m->len, hub.epoch != 0) == -1) {
		log_warnx("apid: malformed events answer from raftd");
		stream_retry_later();
		return;
	}
	stream_issue();
}

static void
stream_issue(void)
{
	struct pbuf b;

	if (hub.polling || hub.a->stopping)
		return;
	if (hub.a->raft == NULL) {
		stream_retry_later();
		return;
	}
	pb_init(&b);
	pb_add_u64(&b, hub.epoch);
	pb_add_u64(&b, hub.last);
	if (b.err)
		fatalx("%s: out of memory", __func__);
	if (ipc_call(hub.a->raft, MSG_RAFT_EVENTS, b.data, b.len,
		STREAM_CALL_MS, stream_done, NULL) == 0)
		hub.polling = true;
	else
		stream_retry_later();
	pb_free(&b);
}

static void
stream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	stream_issue();
}

void
apid_events_start(struct apid *a)
{
	hub.a = a;
	TAILQ_INIT(&hub.subs);
	if ((hub.retry = evtimer_new(a->env->base, stream_retry_cb, NULL)) ==
	    NULL)
		fatalx("%s: evtimer_new", __func__);
	stream_issue();
}

void
apid_events_stop(struct apid *a)
{
	struct sub *s, *next;

	(void)a;
	if (hub.a == NULL)
		return;
	for (s = TAILQ_FIRST(&hub.subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->ws != NULL)
			ws_session_close(s->ws, WS_CLOSE_GOING_AWAY);
	}
}

size_t
apid_events_sessions(void)
{
	return hub.nsessions;
}

static void
sub_free(struct sub *s)
{
	TAILQ_REMOVE(&hub.subs, s, entry);
	hub.nsessions--;
	free(s->topic);
	free(s);
}

static void
session_closed(struct ws_session *ws, enum ws_end_reason why, void *arg)
{
	struct sub *s = arg;

	(void)ws;
	hub.active--;
	hub.closed[why < WS_END_REASONS ? why : WS_END_ERROR]++;
	if (s->slot_held)
		apid_slot_release(s->scope, s->session);
	sub_free(s);
}

struct sub *
apid_events_sub_new(const struct identity *id, const char *topic, size_t tlen)
{
	struct sub *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->topic = malloc(tlen)) == NULL)
		fatal("%s", __func__);
	if (crypto_uuid4(s->session) == -1)
		fatalx("%s: no session id", __func__);
	snprintf(s->scope, sizeof(s->scope), "%s", id->scope);
	if (!id->root)
		snprintf(s->key_uuid, sizeof(s->key_uuid), "%s", id->key_uuid);
	if (id->alias)
		snprintf(
		    s->alias_uuid, sizeof(s->alias_uuid), "%s", id->alias_uuid);
	memcpy(s->topic, topic, tlen);
	s->topic_len = tlen;
	TAILQ_INSERT_TAIL(&hub.subs, s, entry);
	hub.nsessions++;
	return s;
}

void
apid_events_sub_upgraded(struct bufferevent *bev, void *arg)
{
	struct sub *s = arg;

	hub.active++;
	s->ws = ws_session_new(hub.a->env->base, bev,
	    (size_t)hub.a->env->cfg.sessions_send_queue, session_closed, s);
}

const char *
apid_events_sub_session(const struct sub *s)
{
	return s->session;
}

const char *
apid_events_sub_scope(const struct sub *s)
{
	return s->scope;
}

void
apid_events_sub_slot(struct sub *s)
{
	s->slot_held = true;
}

void
apid_events_sub_drop(struct sub *s)
{
	if (s->ws != NULL)
		fatalx("%s: the session runs", __func__);
	if (s->slot_held)
		apid_slot_release(s->scope, s->session);
	sub_free(s);
}

size_t
apid_events_purge(const char *scope)
{
	struct sub *s, *next;
	size_t n = 0;

	for (s = TAILQ_FIRST(&hub.subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		/* a session already closing is not counted twice */
		if (s->ws == NULL || ws_session_closing(s->ws) ||
		    strcmp(s->scope, scope) != 0)
			continue;
		n++;
		ws_session_close(s->ws, WS_CLOSE_PURGED);
	}
	return n;
}

size_t
apid_events_active(void)
{
	return hub.active;
}

uint64_t
apid_events_closed(enum ws_end_reason why)
{
	return why < WS_END_REASONS ? hub.closed[why] : 0;
}
