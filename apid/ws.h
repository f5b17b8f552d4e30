/*
 * A server WebSocket session (RFC 6455) over a bufferevent handed over by
 * the HTTP layer (conn.h http_req_upgrade), framed by wslay.  Sends only
 * unfragmented text frames, answers pings, pings every 54 s, ends a
 * session silent for 60 s, closes with 1009 on a client message over
 * WS_CLIENT_MSG_MAX bytes, and waits at most 1 s for the client's close
 * after its own (API.md §14.3).
 */
#ifndef APID_WS_H
#define APID_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#define WS_CLIENT_MSG_MAX 512
#define WS_PING_MS 54000
#define WS_SILENCE_MS 60000
#define WS_CLOSE_WAIT_MS 1000
#define WS_WRITE_TIMEOUT_S 10

#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_INTERNAL 1011
#define WS_CLOSE_TRY_AGAIN 1013
#define WS_CLOSE_PURGED 4000

/* why a session ended: the `reason` label of §19.2, in its order */
enum ws_end_reason {
	WS_END_CLIENT = 0, /* the client closed (frame or TCP) */
	WS_END_PURGE,
	WS_END_SLOW_CONSUMER,
	WS_END_WRITE_TIMEOUT,
	WS_END_PONG_TIMEOUT,
	WS_END_TOO_BIG,
	WS_END_KEY_DELETED,
	WS_END_SHUTDOWN,
	WS_END_ERROR,
	WS_END_REASONS
};

/* the label value of a reason */
const char *ws_end_reason_name(enum ws_end_reason);

struct ws_session;
/* the session ends: called once, right before it is freed */
typedef void (*ws_closed_cb)(
    struct ws_session *, enum ws_end_reason, void *arg);

struct ws_session *ws_session_new(struct event_base *, struct bufferevent *,
    size_t queue_max, ws_closed_cb, void *arg);
/*
 * Queues one text frame.  A frame counts against queue_max until it has
 * left wslay's queue for the socket's small output buffer; with the queue
 * full the session closes with 1013 and false is returned.
 */
bool ws_session_send(struct ws_session *, const uint8_t *, size_t);
/* a close frame was sent or is queued: the session is ending */
bool ws_session_closing(const struct ws_session *);
/* sends a close frame with code; the session ends when answered or 1 s */
void ws_session_close(struct ws_session *, uint16_t code);

#endif
