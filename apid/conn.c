#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <http_parser.h>

#include "apid/conn.h"
#include "apid/http_parse.h"
#include "common/log.h"

#define LINGER_MS 2000
#define MAX_LISTENERS 4

enum conn_state {
	CS_IDLE = 0, /* waiting for the first byte of a request */
	CS_HEAD, /* head arriving */
	CS_DISPATCH, /* head complete, the application decides */
	CS_BODY, /* body being read for the application */
	CS_HANDLING, /* message complete, waiting for the response */
	CS_DRAIN, /* answered; discarding the rest of the body */
	CS_CLOSING, /* flushing the last response */
	CS_LINGER, /* write side shut; waiting for the peer to close */
};

enum { CB_NONE = 0, CB_URL, CB_FIELD, CB_VALUE };

struct http_hdr_off {
	size_t name_off, name_len, value_off, value_len;
};

struct http_listener {
	struct http_server *srv;
	struct evconnlistener *lev;
	int binding;
	SSL_CTX *tls;
	struct event *retry;
};

#define HTTP_LINE_TAIL 10 /* " HTTP/1.1\r" */

struct http_conn {
	TAILQ_ENTRY(http_conn) entry;
	struct http_server *srv;
	struct http_listener *lis;
	struct bufferevent *bev;
	SSL *ssl;
	evutil_socket_t fd;
	http_parser parser;
	enum conn_state state;
	struct http_req *req;
	struct event *timer;
	size_t head_bytes;
	/* the request line's last bytes: the parser does not check them */
	char line_tail[HTTP_LINE_TAIL];
	size_t line_tail_len;
	bool line_done;
	const char *fail_msg; /* why a callback refused the head */
	bool head_done; /* set by parser callbacks */
	bool msg_done;
	bool out_blocked;
	bool peer_eof;
	bool dead;
	int in_process;
	struct sockaddr_storage peer;
};

TAILQ_HEAD(conn_list, http_conn);

struct http_server {
	struct event_base *base;
	struct http_server_cfg cfg;
	struct http_listener lis[MAX_LISTENERS];
	size_t nlis;
	struct conn_list conns;
	size_t nconns;
	size_t nactive; /* requests alive */
	bool draining;
	http_parser_settings settings;
};

static void conn_process(struct http_conn *);
static void conn_destroy(struct http_conn *);
static void conn_arm(struct http_conn *, int secs);

int64_t
http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
http_hdr_add(struct pbuf *b, const char *name, const char *fmt, ...)
{
	char val[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pb_add_raw(b, name, strlen(name));
	pb_add_raw(b, ": ", 2);
	pb_add_raw(b, val, strlen(val));
	pb_add_raw(b, "\r\n", 2);
}

/*
 * Requests.
 */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct http_req *
req_new(struct http_conn *c)
{
	struct http_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s: calloc", __func__);
	r->conn = c;
	r->srv = c->srv;
	r->binding = c->lis->binding;
	r->content_length = -1;
	r->peer = c->peer;
	r->started_ms = http_now_ms();
	r->started_us = now_us();
	pb_init(&r->head);
	pb_init(&r->body);
	c->srv->nactive++;
	return r;
}

static void
req_free(struct http_server *srv, struct http_req *r)
{
	if (srv->cfg.on_free != NULL)
		srv->cfg.on_free(r, srv->cfg.arg);
	pb_free(&r->head);
	pb_free(&r->body);
	free(r->hoff);
	free(r->hdrs);
	free(r);
	srv->nactive--;
}

/*
 * Detaches the connection's request and frees it, unless the application
 * still works on it (it decides on the head, or handles the complete
 * message): then its http_respond() frees it.
 */
static void
conn_drop_req(struct http_conn *c)
{
	struct http_req *r = c->req;

	if (r == NULL)
		return;
	c->req = NULL;
	r->conn = NULL;
	if (r->streaming && !r->responded) {
		/* the application ends it once it hears */
		if (r->on_drained != NULL)
			r->on_drained(r, r->stream_arg);
		return;
	}
	if (r->responded ||
	    (c->state != CS_DISPATCH && c->state != CS_HANDLING))
		req_free(c->srv, r);
}

static void
head_append(struct http_conn *c, const char *at, size_t len)
{
	pb_add_raw(&c->req->head, at, len);
	if (c->req->head.err)
		fatalx("%s: out of memory", __func__);
}

static void
head_nul(struct http_conn *c)
{
	head_append(c, "", 1);
}

static int
on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	if (c->req == NULL)
		c->req = req_new(c);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	head_append(c, at, len);
	c->req->last_cb = CB_URL;
	return 0;
}

static struct http_hdr_off *
hoff_new(struct http_req *r)
{
	struct http_hdr_off *n;
	size_t cap;

	if (r->nhoff == r->hoff_cap) {
		cap = r->hoff_cap ? r->hoff_cap * 2 : 16;
		if ((n = realloc(r->hoff, cap * sizeof(*n))) == NULL)
			fatal("%s: realloc", __func__);
		r->hoff = n;
		r->hoff_cap = cap;
	}
	n = &r->hoff[r->nhoff++];
	memset(n, 0, sizeof(*n));
	return n;
}

static bool
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_req *r = c->req;
	struct http_hdr_off *h;
	size_t i;

	/* RFC 9112 §5: a field name is a token */
	for (i = 0; i < len; i++)
		if (!is_tchar((unsigned char)at[i])) {
			c->fail_msg = "malformed header name";
			return -1;
		}
	if (r->last_cb != CB_FIELD) {
		head_nul(c); /* ends the url or the previous value */
		h = hoff_new(r);
		h->name_off = r->head.len;
	}
	head_append(c, at, len);
	r->hoff[r->nhoff - 1].name_len += len;
	r->last_cb = CB_FIELD;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_req *r = c->req;

	if (r->last_cb != CB_VALUE) {
		head_nul(c);
		r->hoff[r->nhoff - 1].value_off = r->head.len;
	}
	head_append(c, at, len);
	r->hoff[r->nhoff - 1].value_len += len;
	r->last_cb = CB_VALUE;
	return 0;
}

/*
 * The origin-form part of a target: an absolute-form target (RFC 9112
 * §3.2.2) loses its scheme and authority.  *len: the part's length.
 */
static const char *
target_origin(const char *t, size_t *len)
{
	size_t n = strlen(t), skip = 0, i;

	if (n >= 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n >= 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	for (i = skip; skip > 0 && i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	*len = n - i;
	return t + i;
}

static void
req_finish_head(struct http_conn *c)
{
	struct http_req *r = c->req;
	const char *base, *q, *v;
	struct http_hdr *h;
	size_t i;

	head_nul(c);
	base = (const char *)r->head.data;
	if ((r->hdrs = calloc(r->nhoff + 1, sizeof(*r->hdrs))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < r->nhoff; i++) {
		h = &r->hdrs[i];
		h->name = base + r->hoff[i].name_off;
		h->name_len = r->hoff[i].name_len;
		h->value = base + r->hoff[i].value_off;
		h->value_len = r->hoff[i].value_len;
		if (r->hoff[i].value_off == 0) {
			h->value = base + r->head.len - 1; /* empty */
			h->value_len = 0;
		}
		while (h->value_len > 0 &&
		    (h->value[h->value_len - 1] == ' ' ||
			h->value[h->value_len - 1] == '\t'))
			h->value_len--;
		((char *)h->value)[h->value_len] = '\0';
	}
	r->nhdrs = r->nhoff;
	r->target = base;
	r->target_len = strlen(base);
	r->path = target_origin(r->target, &i);
	q = memchr(r->path, '?', i);
	r->path_len = q ? (size_t)(q - r->path) : i;
	if (q != NULL) {
		r->query = q + 1;
		r->query_len = i - r->path_len - 1;
	}
	r->method_id = c->parser.method;
	r->method = http_method_str(c->parser.method);
	r->http_major = c->parser.http_major;
	r->http_minor = c->parser.http_minor;
	r->keep_alive = http_should_keep_alive(&c->parser);
	r->chunked = (c->parser.flags & F_CHUNKED) != 0;
	if (!r->chunked && c->parser.content_length != ULLONG_MAX)
		r->content_length = (int64_t)c->parser.content_length;
	v = http_req_header(r, "Expect", &i);
	r->expect_continue = v != NULL && strcasecmp(v, "100-continue") == 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	req_finish_head(c);
	c->head_done = true;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_req *r = c->req;

	r->body_seen += len;
	switch (r->body_mode) {
	case BODY_ACCUM:
		if (r->body.len + len > r->body_limit) {
			r->body_mode = BODY_DISCARD;
			r->on_too_big(r, r->body_arg);
			break;
		}
		pb_add_raw(&r->body, at, len);
		if (r->body.err)
			fatalx("%s: out of memory", __func__);
		break;
	case BODY_STREAM:
		if (r->on_chunk(r, at, len, r->body_arg) == -1)
			r->body_mode = BODY_DISCARD;
		break;
	default:
		if (c->state == CS_DRAIN && r->body_seen > HTTP_DRAIN_MAX)
			c->state = CS_CLOSING;
		break;
	}
	/* an answer that closes the connection ends the parse */
	if (c->state == CS_CLOSING || c->dead)
		http_parser_pause(p, 1);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->msg_done = true;
	http_parser_pause(p, 1);
	return 0;
}

/*
 * Headers.
 */

const char *
http_req_header(const struct http_req *r, const char *name, size_t *len)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->nhdrs; i++)
		if (r->hdrs[i].name_len == n &&
		    strncasecmp(r->hdrs[i].name, name, n) == 0) {
			if (len != NULL)
				*len = r->hdrs[i].value_len;
			return r->hdrs[i].value;
		}
	return NULL;
}

char *
http_req_header_join(const struct http_req *r, const char *name, size_t *len)
{
	size_t i, n = strlen(name);
	struct pbuf b;
	bool any = false;

	pb_init(&b);
	for (i = 0; i < r->nhdrs; i++) {
		if (r->hdrs[i].name_len != n ||
		    strncasecmp(r->hdrs[i].name, name, n) != 0)
			continue;
		if (any)
			pb_add_raw(&b, ", ", 2);
		pb_add_raw(&b, r->hdrs[i].value, r->hdrs[i].value_len);
		any = true;
	}
	if (!any) {
		pb_free(&b);
		return NULL;
	}
	pb_add_raw(&b, "", 1);
	if (b.err) {
		pb_free(&b);
		return NULL;
	}
	*len = b.len - 1;
	return (char *)pb_steal(&b, NULL);
}

bool
http_req_is_head(const struct http_req *r)
{
	return r->method_id == HTTP_HEAD;
}

/*
 * Responses.
 */

static bool
body_pending_drainable(const struct http_req *r)
{
	uint64_t left;

	if (r->complete)
		return true;
	if (r->chunked)
		return false;
	if (r->content_length <= 0)
		return true;
	left = (uint64_t)r->content_length - r->body_seen;
	if (left == 0)
		return true;
	/* the client waits for 100 Continue and will not send the body */
	if (r->expect_continue && !r->sent_100)
		return false;
	return left <= HTTP_DRAIN_MAX;
}

static void
write_head(struct http_conn *c, struct http_req *r, int status,
    const struct pbuf *extra, const char *ctype, uint64_t len, bool close)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\nX-Insidb-Node: %s\r\nContent-Length: %llu\r\n",
	    status, http_status_text(status), c->srv->cfg.node_id,
	    (unsigned long long)len);
	if (ctype != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	if (extra != NULL && extra->len > 0)
		evbuffer_add(out, extra->data, extra->len);
	if (close)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (r->http_minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
}

static void
conn_kick(struct http_conn *c)
{
	if (c->in_process == 0)
		conn_process(c);
}

static bool
respond_closes(struct http_conn *c, struct http_req *r)
{
	/* after a refused upgrade the client may speak the new protocol */
	return r->force_close || !r->keep_alive || c->srv->draining ||
	    !body_pending_drainable(r) || c->state == CS_CLOSING ||
	    c->parser.upgrade;
}

static void respond_tail(struct http_conn *, struct http_req *, bool close);

void
http_respond(struct http_req *r, int status, const struct pbuf *extra,
    const char *ctype, const void *body, size_t len)
{
	struct http_conn *c = r->conn;
	bool close;

	if (r->responded)
		fatalx("%s: answered twice", __func__);
	r->responded = true;
	r->status = status;
	r->answered_us = now_us();
	if (c == NULL) {
		req_free(r->srv, r);
		return;
	}
	close = respond_closes(c, r);
	write_head(c, r, status, extra, ctype, len, close);
	if (!http_req_is_head(r) && len > 0)
		evbuffer_add(bufferevent_get_output(c->bev), body, len);
	respond_tail(c, r, close);
}

/* the connection state once a response is complete in the output */
static void
respond_tail(struct http_conn *c, struct http_req *r, bool close)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > HTTP_OUT_HIGH)
		c->out_blocked = true;
	if (close) {
		c->state = CS_CLOSING;
		conn_drop_req(c);
	} else if (r->complete) {
		conn_drop_req(c);
		c->state = CS_IDLE;
		conn_arm(c, c->srv->cfg.idle_timeout_ms);
	} else {
		r->body_mode = BODY_DISCARD;
		c->state = CS_DRAIN;
		conn_arm(c, c->srv->cfg.body_timeout_ms);
	}
	conn_kick(c);
}

void
http_stream_begin(struct http_req *r, int status, const struct pbuf *extra,
    const char *ctype, uint64_t len, http_req_cb drained, void *arg)
{
	struct http_conn *c = r->conn;

	if (r->responded || r->streaming || http_req_is_head(r))
		fatalx("%s: not a fresh GET request", __func__);
	r->streaming = true;
	r->status = status;
	r->stream_len = len;
	r->on_drained = drained;
	r->stream_arg = arg;
	if (c == NULL)
		return;
	if (c->state != CS_DISPATCH && c->state != CS_HANDLING)
		fatalx("%s: streaming in state %d", __func__, c->state);
	r->stream_close = respond_closes(c, r);
	write_head(c, r, status, extra, ctype, len, r->stream_close);
}

bool
http_stream_room(const struct http_req *r)
{
	return r->conn != NULL &&
	    evbuffer_get_length(bufferevent_get_output(r->conn->bev)) <
	    HTTP_OUT_HIGH;
}

void
http_stream_write(struct http_req *r, const void *p, size_t len)
{
	if (!r->streaming || r->responded)
		fatalx("%s: no streamed response", __func__);
	if (r->conn == NULL || len == 0)
		return;
	if (len > r->stream_len - r->stream_sent)
		fatalx("%s: more than the announced length", __func__);
	evbuffer_add(bufferevent_get_output(r->conn->bev), p, len);
	r->stream_sent += len;
}

void
http_stream_end(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (!r->streaming || r->responded)
		fatalx("%s: no streamed response", __func__);
	r->responded = true;
	r->answered_us = now_us();
	if (c == NULL) {
		req_free(r->srv, r);
		return;
	}
	/* a short body leaves the client nothing but the close to go by */
	respond_tail(c, r, r->stream_close || r->stream_sent < r->stream_len);
}

void
http_respond_json(struct http_req *r, int status, const struct pbuf *extra,
    const struct pbuf *body)
{
	struct pbuf h;

	pb_init(&h);
	pb_add_raw(&h, "Cache-Control: no-store\r\n", 25);
	if (extra != NULL && extra->len > 0)
		pb_add_raw(&h, extra->data, extra->len);
	http_respond(r, status, &h, "application/json", body->data, body->len);
	pb_free(&h);
}

void
http_respond_error(struct http_req *r, int status, const char *type,
    const char *msg, const struct pbuf *extra)
{
	struct pbuf b;

	pb_init(&b);
	http_error_body(&b, type, msg);
	http_respond_json(r, status, extra, &b);
	pb_free(&b);
}

void
http_req_set_close(struct http_req *r)
{
	r->force_close = true;
}

bool
http_req_wants_upgrade(const struct http_req *r)
{
	return r->conn != NULL && r->conn->parser.upgrade &&
	    r->conn->state == CS_DISPATCH;
}

void
http_req_upgrade(
    struct http_req *r, const struct pbuf *hdrs, http_upgrade_cb cb, void *arg)
{
	struct http_conn *c = r->conn;
	struct evbuffer *in, *out;
	struct evbuffer_iovec v;
	struct bufferevent *bev;
	size_t n;

	if (!http_req_wants_upgrade(r))
		fatalx("%s: not an upgrade request", __func__);
	/* the paused parser still holds the last byte of the head */
	in = bufferevent_get_input(c->bev);
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		fatalx("%s: head byte missing", __func__);
	http_parser_pause(&c->parser, 0);
	n = http_parser_execute(&c->parser, &c->srv->settings, v.iov_base, 1);
	if (n != 1 || !c->msg_done)
		fatalx("%s: head did not end", __func__);
	c->msg_done = false;
	evbuffer_drain(in, 1);
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	    "HTTP/1.1 101 Switching Protocols\r\nX-Insidb-Node: %s\r\n",
	    c->srv->cfg.node_id);
	if (hdrs != NULL && hdrs->len > 0)
		evbuffer_add(out, hdrs->data, hdrs->len);
	evbuffer_add(out, "\r\n", 2);
	r->responded = true;
	r->status = 101;
	r->answered_us = now_us();
	conn_drop_req(c);
	bev = c->bev;
	c->bev = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
	conn_destroy(c);
	cb(bev, arg);
}

/*
 * Bodies.
 */

static void
send_continue(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (!r->expect_continue || r->sent_100 || r->complete ||
	    r->http_minor == 0)
		return;
	if (!r->chunked && r->content_length <= 0)
		return;
	r->sent_100 = true;
	evbuffer_add(bufferevent_get_output(c->bev),
	    "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static void
body_start(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (c == NULL)
		fatalx("%s: request without connection", __func__);
	if (c->state != CS_DISPATCH)
		fatalx("%s: body asked in state %d", __func__, c->state);
	send_continue(r);
	c->state = CS_BODY;
	conn_arm(c, c->srv->cfg.body_timeout_ms);
	conn_kick(c);
}

void
http_req_read_body(struct http_req *r, size_t limit, http_req_cb done,
    http_req_cb too_big, void *arg)
{
	r->body_mode = BODY_ACCUM;
	r->body_limit = limit;
	r->on_done = done;
	r->on_too_big = too_big;
	r->body_arg = arg;
	body_start(r);
}

void
http_req_stream_body(
    struct http_req *r, http_chunk_cb chunk, http_req_cb done, void *arg)
{
	r->body_mode = BODY_STREAM;
	r->on_chunk = chunk;
	r->on_done = done;
	r->body_arg = arg;
	body_start(r);
}

void
http_req_pause_body(struct http_req *r)
{
	r->body_paused = true;
	/* the client is not the one keeping us waiting */
	if (r->conn != NULL && r->conn->state == CS_BODY)
		conn_arm(r->conn, 0);
}

void
http_req_resume_body(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (!r->body_paused)
		return;
	r->body_paused = false;
	if (c == NULL || c->state != CS_BODY)
		return;
	conn_arm(c, c->srv->cfg.body_timeout_ms);
	conn_kick(c);
}

/*
 * The input loop.
 */

static void
conn_arm(struct http_conn *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms <= 0)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, &tv);
}

/* a request could not even be parsed: answer and close */
static void
conn_fail(struct http_conn *c, int status, const char *type, const char *msg)
{
	if (c->req == NULL)
		c->req = req_new(c);
	c->req->force_close = true;
	c->req->complete = true;
	c->req->http_minor = 1;
	c->state = CS_HEAD;
	http_respond_error(c->req, status, type, msg, NULL);
}

static void
conn_head_done(struct http_conn *c)
{
	conn_arm(c, 0);
	c->state = CS_DISPATCH;
	if (c->req->http_major != 1) {
		http_req_set_close(c->req);
		http_respond_error(c->req, 400, "BAD_REQUEST",
		    "HTTP version not supported", NULL);
		return;
	}
	if (c->srv->draining)
		c->req->force_close = true;
	c->srv->cfg.on_head(c->req, c->srv->cfg.arg);
}

static void
conn_msg_done(struct http_conn *c)
{
	struct http_req *r = c->req;

	r->complete = true;
	switch (c->state) {
	case CS_BODY:
		c->state = CS_HANDLING;
		conn_arm(c, 0);
		if (r->body_mode == BODY_DISCARD)
			return; /* answered while reading; nothing to do */
		r->on_done(r, r->body_arg);
		break;
	case CS_DRAIN:
		conn_drop_req(c);
		c->state = CS_IDLE;
		conn_arm(c, c->srv->cfg.idle_timeout_ms);
		break;
	default:
		fatalx("%s: message complete in state %d", __func__, c->state);
	}
}

static bool
conn_feeds(const struct http_conn *c)
{
	if (c->state == CS_BODY)
		return c->req == NULL || !c->req->body_paused;
	return c->state == CS_IDLE || c->state == CS_HEAD ||
	    c->state == CS_DRAIN;
}

/*
 * The parser, built lenient, takes any letters for "HTTP": the request
 * line must end in " HTTP/d.d" (leading empty lines are skipped).
 */
static bool
line_check(struct http_conn *c, const char *p, size_t n)
{
	static const char want[] = " HTTP/";
	const char *t = c->line_tail;
	size_t i, k;

	for (i = 0; i < n && !c->line_done; i++) {
		if (p[i] != '\n') {
			if (c->line_tail_len == HTTP_LINE_TAIL)
				memmove(c->line_tail, c->line_tail + 1,
				    --c->line_tail_len);
			c->line_tail[c->line_tail_len++] = p[i];
			continue;
		}
		k = c->line_tail_len;
		if (k > 0 && t[k - 1] == '\r')
			k--;
		if (k == 0) {
			c->line_tail_len = 0;
			continue;
		}
		c->line_done = true;
		if (k < 9 || memcmp(t + k - 9, want, 6) != 0 || t[k - 2] != '.')
			return false;
	}
	return true;
}

/* one parser step over the buffered input; false when it must wait */
static bool
conn_step(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	size_t len, n;
	enum http_errno err;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return false;
	if (c->state == CS_IDLE) {
		c->state = CS_HEAD;
		c->head_bytes = 0;
		c->line_done = false;
		c->line_tail_len = 0;
		conn_arm(c, c->srv->cfg.head_timeout_ms);
	}
	len = v.iov_len;
	if (c->state == CS_HEAD) {
		if (c->head_bytes >= HTTP_HEAD_MAX) {
			conn_fail(c, 431, "HEADERS_TOO_LARGE",
			    "request head is larger than 32 KiB");
			return false;
		}
		if (len > HTTP_HEAD_MAX - c->head_bytes)
			len = HTTP_HEAD_MAX - c->head_bytes;
	}
	http_parser_pause(&c->parser, 0);
	n = http_parser_execute(&c->parser, &c->srv->settings, v.iov_base, len);
	if (c->dead)
		return false;
	if (c->state == CS_HEAD && !line_check(c, v.iov_base, n)) {
		conn_fail(c, 400, "BAD_REQUEST", "malformed request line");
		return false;
	}
	evbuffer_drain(in, n);
	if (c->state == CS_HEAD)
		c->head_bytes += n;
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (err != HPE_OK && err != HPE_PAUSED) {
		if (c->state == CS_HEAD)
			conn_fail(c, 400, "BAD_REQUEST",
			    c->fail_msg != NULL ? c->fail_msg
						: http_errno_description(err));
		else if (c->state == CS_BODY && c->req != NULL &&
		    !c->req->responded)
			conn_fail(c, 400, "BAD_REQUEST", "malformed body");
		else
			/* only conn_process() steps: it frees c as it unwinds */
			c->dead = true;
		return false;
	}
	if (c->head_done) {
		c->head_done = false;
		conn_head_done(c);
	} else if (c->msg_done) {
		c->msg_done = false;
		conn_msg_done(c);
	}
	return true;
}

static void
conn_process(struct http_conn *c)
{
	struct evbuffer *in;
	int rounds;

	c->in_process++;
	/* bounded: a busy pipelining client cannot starve the loop */
	for (rounds = 0; rounds < 64 && !c->dead; rounds++) {
		if (c->state == CS_CLOSING || c->state == CS_LINGER)
			break;
		if (c->out_blocked || !conn_feeds(c))
			break;
		if (!conn_step(c))
			break;
	}
	c->in_process--;
	if (c->in_process > 0)
		return;
	if (c->dead) {
		conn_destroy(c);
		return;
	}
	in = bufferevent_get_input(c->bev);
	if (rounds == 64 && conn_feeds(c) && !c->out_blocked)
		bufferevent_trigger(c->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
	else if (c->peer_eof && conn_feeds(c) && evbuffer_get_length(in) == 0) {
		conn_drop_req(c);
		c->state = CS_CLOSING;
	}
	if (c->state == CS_CLOSING) {
		conn_drop_req(c);
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			bufferevent_trigger(
			    c->bev, EV_WRITE, BEV_OPT_DEFER_CALLBACKS);
	}
}

/*
 * Connection life.
 */

static void
conn_destroy(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->in_process > 0) {
		c->dead = true;
		return;
	}
	conn_drop_req(c);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	evtimer_del(c->timer);
	event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev); /* frees the SSL, closes the fd */
	free(c);
}

static void
conn_linger(struct http_conn *c)
{
	c->state = CS_LINGER;
	if (c->ssl != NULL)
		(void)SSL_shutdown(c->ssl);
	else
		(void)shutdown(c->fd, SHUT_WR);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_enable(c->bev, EV_READ);
	conn_arm(c, LINGER_MS);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == CS_LINGER) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if ((c->state == CS_BODY && conn_feeds(c)) || c->state == CS_DRAIN)
		conn_arm(c, c->srv->cfg.body_timeout_ms);
	conn_process(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->state == CS_CLOSING) {
		if (left == 0)
			conn_linger(c);
		return;
	}
	if (c->out_blocked && left <= HTTP_OUT_LOW) {
		c->out_blocked = false;
		conn_process(c);
		return;
	}
	if (left <= HTTP_OUT_LOW && c->req != NULL && c->req->streaming &&
	    !c->req->responded && c->req->on_drained != NULL)
		c->req->on_drained(c->req, c->req->stream_arg);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == CS_LINGER || (what & BEV_EVENT_ERROR) ||
	    (what & BEV_EVENT_TIMEOUT)) {
		conn_destroy(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* a half-closed client still gets its pending answers */
		c->peer_eof = true;
		if (c->state == CS_IDLE ||
		    (c->state == CS_HEAD && c->req == NULL)) {
			conn_destroy(c);
			return;
		}
		conn_process(c);
	}
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	/* an idle connection still sending answers is not idle: the write
	 * timeout watches a client that stopped reading */
	if (c->state == CS_IDLE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		conn_arm(c, c->srv->cfg.idle_timeout_ms);
		return;
	}
	conn_destroy(c);
}

static void
conn_tune_socket(evutil_socket_t fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static struct bufferevent *
conn_bev_new(struct http_conn *c, evutil_socket_t fd)
{
	struct http_server *srv = c->srv;
	int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

	if (c->lis->tls == NULL)
		return bufferevent_socket_new(srv->base, fd, opts);
	if ((c->ssl = SSL_new(c->lis->tls)) == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(
	    srv->base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
}

static void
conn_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct http_listener *lis = arg;
	struct http_server *srv = lis->srv;
	struct timeval wto = { srv->cfg.write_timeout_ms / 1000,
		(srv->cfg.write_timeout_ms % 1000) * 1000 };
	struct http_conn *c;

	(void)lev;
	if (srv->nconns >= srv->cfg.max_conns) {
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->lis = lis;
	c->fd = fd;
	if (salen > 0 && (size_t)salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, (size_t)salen);
	conn_tune_socket(fd);
	evutil_make_socket_nonblocking(fd);
	if ((c->bev = conn_bev_new(c, fd)) == NULL) {
		log_warnx("%s: cannot set up a connection", __func__);
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		close(fd);
		free(c);
		return;
	}
	if (c->ssl != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->timer = evtimer_new(srv->base, conn_timer_cb, c);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, HTTP_OUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, NULL, &wto);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = CS_IDLE;
	conn_arm(c, c->srv->cfg.idle_timeout_ms);
}

static void
listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *lis = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(lis->lev);
}

/* out of descriptors: pause accepting for a moment instead of spinning */
static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http_listener *lis = arg;
	struct timeval tv = { 1, 0 };

	log_warn("accept");
	evconnlistener_disable(lev);
	evtimer_add(lis->retry, &tv);
}

struct http_server *
http_server_new(struct event_base *base, const struct http_server_cfg *cfg)
{
	struct http_server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		fatal("%s: calloc", __func__);
	srv->base = base;
	srv->cfg = *cfg;
	if (srv->cfg.head_timeout_ms <= 0)
		srv->cfg.head_timeout_ms = HTTP_HEAD_TIMEOUT_MS;
	if (srv->cfg.idle_timeout_ms <= 0)
		srv->cfg.idle_timeout_ms = HTTP_IDLE_TIMEOUT_MS;
	if (srv->cfg.body_timeout_ms <= 0)
		srv->cfg.body_timeout_ms = HTTP_BODY_TIMEOUT_MS;
	if (srv->cfg.write_timeout_ms <= 0)
		srv->cfg.write_timeout_ms = HTTP_WRITE_TIMEOUT_MS;
	TAILQ_INIT(&srv->conns);
	http_parser_settings_init(&srv->settings);
	srv->settings.on_message_begin = on_message_begin;
	srv->settings.on_url = on_url;
	srv->settings.on_header_field = on_header_field;
	srv->settings.on_header_value = on_header_value;
	srv->settings.on_headers_complete = on_headers_complete;
	srv->settings.on_body = on_body;
	srv->settings.on_message_complete = on_message_complete;
	return srv;
}

int
http_server_listen(struct http_server *srv, int fd, int binding, SSL_CTX *tls)
{
	struct http_listener *lis;

	if (srv->nlis == MAX_LISTENERS)
		fatalx("%s: too many listeners", __func__);
	lis = &srv->lis[srv->nlis];
	lis->srv = srv;
	lis->binding = binding;
	lis->tls = tls;
	if (evutil_make_socket_nonblocking(fd) == -1)
		return -1;
	/* backlog 0: the socket is already listening */
	lis->lev = evconnlistener_new(
	    srv->base, conn_accept_cb, lis, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (lis->lev == NULL)
		return -1;
	lis->retry = evtimer_new(srv->base, listener_retry_cb, lis);
	evconnlistener_set_error_cb(lis->lev, listener_error_cb);
	srv->nlis++;
	return 0;
}

void
http_server_set_tls(struct http_server *srv, int binding, SSL_CTX *tls)
{
	size_t i;

	/* live connections hold their own reference through SSL_new */
	for (i = 0; i < srv->nlis; i++) {
		if (srv->lis[i].binding != binding)
			continue;
		if (srv->lis[i].tls != NULL)
			SSL_CTX_free(srv->lis[i].tls);
		srv->lis[i].tls = tls;
		if (tls != NULL)
			SSL_CTX_up_ref(tls);
	}
	if (tls != NULL)
		SSL_CTX_free(tls);
}

void
http_server_drain(struct http_server *srv)
{
	struct http_conn *c, *next;

	srv->draining = true;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CS_IDLE || c->in_process > 0)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_destroy(c);
		else {
			/* answers still on their way: close after them */
			c->state = CS_CLOSING;
			bufferevent_disable(c->bev, EV_READ);
		}
	}
}

void
http_server_free(struct http_server *srv)
{
	struct http_conn *c;
	size_t i;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		c->in_process = 0;
		conn_destroy(c);
	}
	for (i = 0; i < srv->nlis; i++) {
		evconnlistener_free(srv->lis[i].lev);
		event_free(srv->lis[i].retry);
		if (srv->lis[i].tls != NULL)
			SSL_CTX_free(srv->lis[i].tls);
	}
	free(srv);
}

size_t
http_server_conns(const struct http_server *srv)
{
	return srv->nconns;
}

size_t
http_server_active(const struct http_server *srv)
{
	return srv->nactive;
}
