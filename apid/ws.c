/*
 * WebSocket sessions on wslay's event API.  wslay reads and writes through
 * the callbacks below, which move bytes between its frames and the
 * bufferevent; its own queue holds the frames not yet written, bounded by
 * the caller's queue_max.  The bufferevent's output is kept small
 * (WS_OUT_HIGH) so that frames wait where they are counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <wslay/wslay.h>

#include "apid/ws.h"
#include "common/log.h"

#define WS_OUT_HIGH (16 * 1024)
#define WS_TICK_MS 1000

struct ws_session {
	struct bufferevent *bev;
	struct event *timer;
	wslay_event_context_ptr ctx;
	size_t queue_max;
	ws_closed_cb on_closed;
	void *arg;
	int64_t last_rx_ms;
	int64_t last_ping_ms;
	int64_t close_deadline_ms; /* 0: no close sent */
	/* set when the session ends without a close frame of ours */
	enum ws_end_reason why;
	bool why_set;
	bool ended;
};

const char *
ws_end_reason_name(enum ws_end_reason r)
{
	static const char *const names[WS_END_REASONS] = { "client", "purge",
		"slow_consumer", "write_timeout", "pong_timeout", "too_big",
		"key_deleted", "shutdown", "error" };

	return r < WS_END_REASONS ? names[r] : "error";
}

/* the reason of a close frame we sent */
static enum ws_end_reason
reason_of_code(uint16_t code)
{
	switch (code) {
	case WS_CLOSE_NORMAL:
		return WS_END_CLIENT; /* our reply to the client's close */
	case WS_CLOSE_GOING_AWAY:
		return WS_END_SHUTDOWN;
	case WS_CLOSE_POLICY:
		return WS_END_KEY_DELETED;
	case WS_CLOSE_TOO_BIG:
		return WS_END_TOO_BIG;
	case WS_CLOSE_TRY_AGAIN:
		return WS_END_SLOW_CONSUMER;
	case WS_CLOSE_PURGED:
		return WS_END_PURGE;
	default:
		return WS_END_ERROR;
	}
}

static void
ws_why(struct ws_session *s, enum ws_end_reason r)
{
	if (!s->why_set) {
		s->why = r;
		s->why_set = true;
	}
}

static int64_t
ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ws_end(struct ws_session *s)
{
	enum ws_end_reason r;

	if (s->ended)
		return;
	s->ended = true;
	if (wslay_event_get_close_sent(s->ctx))
		r = reason_of_code(wslay_event_get_status_code_sent(s->ctx));
	else if (s->why_set)
		r = s->why;
	else
		r = WS_END_ERROR;
	s->on_closed(s, r, s->arg);
	event_free(s->timer);
	wslay_event_context_free(s->ctx);
	bufferevent_free(s->bev);
	free(s);
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws_session *s = user;
	struct evbuffer *out = bufferevent_get_output(s->bev);

	(void)flags;
	if (evbuffer_get_length(out) >= WS_OUT_HIGH) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct ws_session *s = user;
	int n;

	(void)flags;
	n = evbuffer_remove(bufferevent_get_input(s->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static void
ws_frame_start_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct ws_session *s = user;

	(void)ctx;
	(void)arg;
	s->last_rx_ms = ws_now_ms();
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct ws_session *s = user;

	/* messages within the limit are ignored; wslay answers pings */
	if (arg->opcode == WSLAY_CONNECTION_CLOSE &&
	    !wslay_event_get_close_sent(ctx)) {
		ws_why(s, WS_END_CLIENT);
		wslay_event_queue_close(ctx, WS_CLOSE_NORMAL, NULL, 0);
		s->close_deadline_ms = ws_now_ms() + WS_CLOSE_WAIT_MS;
	}
}

/* lets wslay read and write what it can; ends a finished session */
static void
ws_pump(struct ws_session *s)
{
	if (wslay_event_want_read(s->ctx) && wslay_event_recv(s->ctx) != 0) {
		ws_end(s);
		return;
	}
	if (wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) != 0) {
		ws_end(s);
		return;
	}
	if (s->close_deadline_ms == 0 && wslay_event_get_close_sent(s->ctx))
		s->close_deadline_ms = ws_now_ms() + WS_CLOSE_WAIT_MS;
	if (!wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx) &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		ws_end(s);
}

static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ws_pump(arg);
}

static void
ws_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ws_pump(arg);
}

static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	/* EOF, error, or a frame not written within 10 s: close TCP */
	if (what & BEV_EVENT_TIMEOUT)
		ws_why(arg, WS_END_WRITE_TIMEOUT);
	else if (what & BEV_EVENT_EOF)
		ws_why(arg, WS_END_CLIENT);
	ws_end(arg);
}

static void
ws_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ws_session *s = arg;
	int64_t now = ws_now_ms();
	struct wslay_event_msg ping;

	(void)fd;
	(void)what;
	if (now - s->last_rx_ms >= WS_SILENCE_MS ||
	    (s->close_deadline_ms != 0 && now >= s->close_deadline_ms)) {
		ws_why(s, WS_END_PONG_TIMEOUT);
		ws_end(s);
		return;
	}
	if (now - s->last_ping_ms >= WS_PING_MS &&
	    !wslay_event_get_close_sent(s->ctx)) {
		memset(&ping, 0, sizeof(ping));
		ping.opcode = WSLAY_PING;
		wslay_event_queue_msg(s->ctx, &ping);
		s->last_ping_ms = now;
	}
	ws_pump(s);
}

struct ws_session *
ws_session_new(struct event_base *base, struct bufferevent *bev,
    size_t queue_max, ws_closed_cb on_closed, void *arg)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.on_frame_recv_start_callback = ws_frame_start_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	struct timeval tick = { WS_TICK_MS / 1000, 0 };
	struct timeval wto = { WS_WRITE_TIMEOUT_S, 0 };
	struct ws_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s", __func__);
	s->bev = bev;
	s->queue_max = queue_max;
	s->on_closed = on_closed;
	s->arg = arg;
	s->last_rx_ms = s->last_ping_ms = ws_now_ms();
	if (wslay_event_context_server_init(&s->ctx, &cbs, s) != 0)
		fatalx("%s: wslay context", __func__);
	wslay_event_config_set_max_recv_msg_length(s->ctx, WS_CLIENT_MSG_MAX);
	if ((s->timer = event_new(base, -1, EV_PERSIST, ws_tick, s)) == NULL ||
	    event_add(s->timer, &tick) == -1)
		fatalx("%s: timer", __func__);
	bufferevent_setcb(bev, ws_read_cb, ws_write_cb, ws_event_cb, s);
	bufferevent_set_timeouts(bev, NULL, &wto);
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) == -1)
		fatalx("%s: bufferevent_enable", __func__);
	/* bytes that followed the head are already waiting: read them from
	 * the loop, as the caller still holds the session */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	return s;
}

bool
ws_session_send(struct ws_session *s, const uint8_t *p, size_t len)
{
	struct wslay_event_msg m;

	if (s->close_deadline_ms != 0 || wslay_event_get_close_sent(s->ctx))
		return true;
	if (wslay_event_get_queued_msg_count(s->ctx) >= s->queue_max) {
		ws_session_close(s, WS_CLOSE_TRY_AGAIN);
		return false;
	}
	m.opcode = WSLAY_TEXT_FRAME;
	m.msg = p;
	m.msg_length = len;
	if (wslay_event_queue_msg(s->ctx, &m) != 0) {
		ws_session_close(s, WS_CLOSE_TRY_AGAIN);
		return false;
	}
	ws_pump(s);
	return true;
}

bool
ws_session_closing(const struct ws_session *s)
{
	return s->close_deadline_ms != 0 || wslay_event_get_close_sent(s->ctx);
}

void
ws_session_close(struct ws_session *s, uint16_t code)
{
	if (s->close_deadline_ms != 0 || wslay_event_get_close_sent(s->ctx))
		return;
	wslay_event_queue_close(s->ctx, code, NULL, 0);
	s->close_deadline_ms = ws_now_ms() + WS_CLOSE_WAIT_MS;
	ws_pump(s);
}
