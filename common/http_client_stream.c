/*
 * Streaming GETs on a bufferevent of our own, the response read with
 * http-parser.  Parser callbacks never free anything: they record what
 * happened (head, end, redirect, cancel) and stop the parser; the pump
 * acts on it once http_parser_execute() returned.  So a call is freed
 * only from the pump, a timer or hclient_cancel() outside callbacks.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>

#include "common/cluster_url.h"
#include "common/http_client.h"
#include "common/http_client_impl.h"
#include "common/log.h"

/* the most handed to the parser (and so to a body callback) at once */
#define STREAM_FEED_MAX (64 * 1024)
/* room for the header name we look for ("location") and a bit */
#define STREAM_FIELD_MAX 16
#define STREAM_EXTRA_MAX 1024

struct hstream {
	char *extra; /* one "Name: value" line, or NULL */
	struct timeval idle_tv;
	hclient_head_cb head_cb;
	hclient_body_cb body_cb;
	struct bufferevent *bev;
	struct event *idle;
	struct event *kick; /* connects, or pumps after a resume */
	http_parser parser;
	size_t head_bytes; /* parsed while the head was incomplete */
	uint64_t body_bytes;
	int status;
	int err; /* what a parser error means, 0 for EPROTO */
	char field[STREAM_FIELD_MAX];
	size_t field_len;
	bool field_long;
	bool in_value;
	bool location_hdr; /* the header value being read is Location's */
	char *location;
	size_t location_len;
	size_t location_cap;
	/* set by the parser callbacks, acted on by the pump */
	bool head_done;
	bool interim; /* a 1xx head */
	bool complete;
	bool redirect;
	bool cancelled;
	bool in_cb; /* inside the head or body callback */
	bool resume_early; /* hclient_resume() inside the body callback */
	bool paused;
	bool eof;
	bool broken; /* connection or TLS error */
};

enum settle {
	SETTLE_GOING,
	SETTLE_PAUSED,
	SETTLE_ENDED, /* ended, or restarted on a redirect */
};

static int on_header_field(http_parser *, const char *, size_t);
static int on_header_value(http_parser *, const char *, size_t);
static int on_headers_complete(http_parser *);
static int on_body(http_parser *, const char *, size_t);
static int on_message_complete(http_parser *);

static const http_parser_settings stream_settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void stream_connect(struct hcall *);

/* request-target bytes: visible ASCII only, so nothing can be injected */
static bool
target_ok(const char *t)
{
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	return true;
}

/* a header value: no control bytes but tab */
static bool
value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if (((unsigned char)*v < 0x20 && *v != '\t') ||
		    (unsigned char)*v == 0x7f)
			return false;
	return true;
}

/* "Name: value" with a token name */
static bool
extra_ok(const char *h)
{
	const char *tchar = "!#$%&'*+-.^_`|~";
	size_t i;

	if (strlen(h) > STREAM_EXTRA_MAX)
		return false;
	for (i = 0; h[i] != ':'; i++)
		if (h[i] == '\0' ||
		    !((h[i] >= 'a' && h[i] <= 'z') ||
			(h[i] >= 'A' && h[i] <= 'Z') ||
			(h[i] >= '0' && h[i] <= '9') || strchr(tchar, h[i])))
			return false;
	return i > 0 && value_ok(h + i + 1);
}

static bool
url_ok(struct hclient *hc, const char *url)
{
	struct curl_parts p;

	return curl_parse(url, &p) == 0 && (!p.tls || hc->ssl != NULL) &&
	    target_ok(p.target);
}

static struct hcall *
stream_of(http_parser *p)
{
	return p->data;
}

static void
stream_close(struct hstream *s)
{
	if (s->bev != NULL) {
		/* safe inside its own callbacks: libevent holds a reference */
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->idle);
}

void
hstream_free(struct hstream *s)
{
	stream_close(s);
	event_free(s->idle);
	event_free(s->kick);
	free(s->extra);
	free(s->location);
	free(s);
}

/* the end of the call: done runs, then the call is freed */
static void
stream_end(struct hcall *c, int err)
{
	struct hstream *s = c->st;
	struct hclient_resp r;

	if (err != 0 && s->bev != NULL && c->tls_error == NULL)
		c->tls_error = hclient_bev_tls_error(s->bev);
	stream_close(s);
	c->done = true;
	memset(&r, 0, sizeof(r));
	r.err = err;
	r.status = s->status;
	r.body = NULL;
	r.body_len = (size_t)s->body_bytes;
	r.url = c->url;
	r.tls_error = c->tls_error;
	if (c->cb != NULL)
		c->cb(&r, c->arg);
	hclient_call_free(c);
}

static void
stream_follow(struct hcall *c)
{
	struct hstream *s = c->st;
	char *url;

	stream_close(s);
	if (c->redirects_left <= 0) {
		stream_end(c, ELOOP);
		return;
	}
	if (s->location == NULL || !url_ok(c->hc, s->location) ||
	    (url = strdup(s->location)) == NULL) {
		stream_end(c, EPROTO);
		return;
	}
	free(c->url);
	c->url = url;
	c->redirects_left--;
	stream_connect(c);
}

static void
stream_pause(struct hcall *c)
{
	struct hstream *s = c->st;

	s->paused = true;
	bufferevent_disable(s->bev, EV_READ);
	evtimer_del(s->idle);
}

/* acts on what the parser callbacks recorded */
static enum settle
stream_settle(struct hcall *c)
{
	struct hstream *s = c->st;
	enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);

	if (s->cancelled) {
		hclient_call_free(c);
		return SETTLE_ENDED;
	}
	if (s->complete) {
		stream_end(c, 0);
		return SETTLE_ENDED;
	}
	if (s->redirect) {
		stream_follow(c);
		return SETTLE_ENDED;
	}
	if (e == HPE_PAUSED) {
		stream_pause(c);
		return SETTLE_PAUSED;
	}
	if (e != HPE_OK || s->parser.upgrade) {
		stream_end(c, s->err != 0 ? s->err : EPROTO);
		return SETTLE_ENDED;
	}
	if (!s->head_done && s->head_bytes >= HCLIENT_HEADERS_MAX) {
		stream_end(c, EMSGSIZE);
		return SETTLE_ENDED;
	}
	return SETTLE_GOING;
}

/* hands buffered bytes to the parser; each turn consumes or stops */
static void
stream_pump(struct hcall *c)
{
	struct hstream *s = c->st;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	const char *data;
	size_t len, n;

	while (!s->paused && (len = evbuffer_get_length(in)) > 0) {
		if (len > STREAM_FEED_MAX)
			len = STREAM_FEED_MAX;
		if (!s->head_done && len > HCLIENT_HEADERS_MAX - s->head_bytes)
			len = HCLIENT_HEADERS_MAX - s->head_bytes;
		if ((data = (const char *)evbuffer_pullup(in, len)) == NULL)
			fatalx("%s: evbuffer_pullup", __func__);
		n = http_parser_execute(
		    &s->parser, &stream_settings, data, len);
		evbuffer_drain(in, n);
		if (!s->head_done)
			s->head_bytes += n;
		if (stream_settle(c) != SETTLE_GOING)
			return;
		if (n == 0) {
			/* the parser took nothing and reported nothing */
			stream_end(c, EPROTO);
			return;
		}
	}
	if (s->paused || !(s->eof || s->broken))
		return;
	if (s->eof && !s->broken) {
		/* ends a body read up to the close; anything else was cut */
		s->err = ECONNREFUSED;
		http_parser_execute(&s->parser, &stream_settings, NULL, 0);
		if (stream_settle(c) != SETTLE_GOING)
			return;
	}
	stream_end(c, ECONNREFUSED);
}

static void
stream_read_cb(struct bufferevent *bev, void *arg)
{
	struct hcall *c = arg;
	struct hstream *s = c->st;

	(void)bev;
	if (s->paused)
		return;
	evtimer_add(s->idle, &s->idle_tv);
	stream_pump(c);
}

static void
stream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hcall *c = arg;
	struct hstream *s = c->st;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF)
		s->eof = true;
	else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		s->broken = true;
		if (c->tls_error == NULL)
			c->tls_error = hclient_bev_tls_error(bev);
	}
	if (!s->paused)
		stream_pump(c);
}

static int
stream_write_request(struct hcall *c, const struct curl_parts *p)
{
	struct evbuffer *out = bufferevent_get_output(c->st->bev);
	int rc = 0;

	rc |= evbuffer_add_printf(out,
	    "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nConnection: close\r\n",
	    p->target, p->ipv6 ? "[" : "", p->host, p->ipv6 ? "]" : "",
	    p->port);
	if (c->bearer != NULL)
		rc |= evbuffer_add_printf(
		    out, "Authorization: Bearer %s\r\n", c->bearer);
	if (c->st->extra != NULL)
		rc |= evbuffer_add_printf(out, "%s\r\n", c->st->extra);
	rc |= evbuffer_add(out, "\r\n", 2);
	return rc < 0 ? -1 : 0;
}

/* per-response parser state, fresh for each connection */
static void
stream_reset(struct hcall *c)
{
	struct hstream *s = c->st;

	http_parser_init(&s->parser, HTTP_RESPONSE);
	s->parser.data = c;
	s->head_bytes = 0;
	s->body_bytes = 0;
	s->status = 0;
	s->err = 0;
	s->field_len = 0;
	s->field_long = false;
	s->in_value = false;
	s->location_hdr = false;
	s->location_len = 0;
	if (s->location != NULL)
		s->location[0] = '\0';
	s->head_done = s->interim = s->complete = s->redirect = false;
	s->paused = s->eof = s->broken = false;
}

/* one attempt at c->url on a new connection */
static void
stream_connect(struct hcall *c)
{
	struct hstream *s = c->st;
	struct curl_parts p;

	if (curl_parse(c->url, &p) == -1)
		fatalx("%s: URL checked before", __func__);
	stream_reset(c);
	c->tls_error = NULL;
	if ((s->bev = hclient_bev(c->hc, &p)) == NULL) {
		stream_end(c, ECONNREFUSED);
		return;
	}
	bufferevent_setcb(s->bev, stream_read_cb, NULL, stream_event_cb, c);
	evtimer_add(s->idle, &s->idle_tv);
	if (stream_write_request(c, &p) == -1 ||
	    bufferevent_enable(s->bev, EV_READ | EV_WRITE) == -1 ||
	    bufferevent_socket_connect_hostname(
		s->bev, NULL, AF_UNSPEC, p.host, (int)p.port) == -1)
		stream_end(c, ECONNREFUSED);
}

static void
stream_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_end(arg, ETIMEDOUT);
}

static void
stream_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hcall *c = arg;

	(void)fd;
	(void)what;
	if (c->st->bev == NULL)
		stream_connect(c);
	else
		stream_pump(c);
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct hstream *s = stream_of(p)->st;

	if (s->in_value) {
		s->in_value = false;
		s->field_len = 0;
		s->field_long = false;
	}
	if (s->field_long || len > sizeof(s->field) - s->field_len)
		s->field_long = true;
	else {
		memcpy(s->field + s->field_len, at, len);
		s->field_len += len;
	}
	return 0;
}

static void
location_add(struct hstream *s, const char *at, size_t len)
{
	size_t cap = s->location_cap;

	/* bounded: the whole head is at most HCLIENT_HEADERS_MAX */
	if (s->location_len + len + 1 > cap) {
		while (cap < s->location_len + len + 1)
			cap = cap == 0 ? 256 : cap * 2;
		if ((s->location = realloc(s->location, cap)) == NULL)
			fatal("%s: realloc", __func__);
		s->location_cap = cap;
	}
	memcpy(s->location + s->location_len, at, len);
	s->location_len += len;
	s->location[s->location_len] = '\0';
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct hstream *s = stream_of(p)->st;

	if (!s->in_value) {
		s->in_value = true;
		s->location_hdr = !s->field_long && s->field_len == 8 &&
		    strncasecmp(s->field, "location", 8) == 0;
		if (s->location_hdr) {
			/* the last Location counts */
			s->location_len = 0;
			location_add(s, "", 0);
		}
	}
	if (s->location_hdr)
		location_add(s, at, len);
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct hcall *c = stream_of(p);
	struct hstream *s = c->st;
	uint64_t clen = UINT64_MAX;
	int rc = 0;

	s->head_done = true;
	s->in_value = false;
	s->field_len = 0;
	s->field_long = false;
	if (p->status_code < 200) {
		s->interim = true;
		return 0;
	}
	s->status = p->status_code;
	if (hclient_is_redirect(s->status)) {
		s->redirect = true;
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED))
		clen = p->content_length;
	if (s->head_cb != NULL) {
		s->in_cb = true;
		rc = s->head_cb(s->status, clen, c->arg);
		s->in_cb = false;
	}
	if (rc != 0)
		s->cancelled = true;
	return s->cancelled ? -1 : 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct hcall *c = stream_of(p);
	struct hstream *s = c->st;
	int rc = 0;

	if (s->interim)
		return 0;
	s->body_bytes += len;
	s->resume_early = false;
	if (s->body_cb != NULL) {
		s->in_cb = true;
		rc = s->body_cb(at, len, c->arg);
		s->in_cb = false;
	}
	if (rc != 0 && rc != 1)
		s->cancelled = true;
	if (s->cancelled)
		return -1;
	if (rc == 1 && !s->resume_early)
		http_parser_pause(p, 1);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct hstream *s = stream_of(p)->st;

	if (s->interim) {
		/* the real head follows */
		s->interim = false;
		s->head_done = false;
		s->location_len = 0;
		if (s->location != NULL)
			s->location[0] = '\0';
		return 0;
	}
	s->complete = true;
	return -1;
}

struct hcall *
hclient_get_stream(struct hclient *hc, const char *url, const char *bearer,
    const char *extra_header, int idle_timeout_ms, int max_redirects,
    hclient_head_cb head_cb, hclient_body_cb body_cb, hclient_cb done,
    void *arg)
{
	struct hstream *s;
	struct hcall *c;

	if (!url_ok(hc, url) || idle_timeout_ms <= 0 ||
	    (bearer != NULL && !value_ok(bearer)) ||
	    (extra_header != NULL && !extra_ok(extra_header)))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	c->hc = hc;
	c->st = s;
	TAILQ_INSERT_TAIL(&hc->calls, c, link);
	c->cmd = EVHTTP_REQ_GET;
	c->redirects_left = max_redirects;
	c->cb = done;
	c->arg = arg;
	s->head_cb = head_cb;
	s->body_cb = body_cb;
	s->idle_tv.tv_sec = idle_timeout_ms / 1000;
	s->idle_tv.tv_usec = (idle_timeout_ms % 1000) * 1000;
	s->idle = evtimer_new(hc->base, stream_idle_cb, c);
	s->kick = evtimer_new(hc->base, stream_kick_cb, c);
	if (s->idle == NULL || s->kick == NULL ||
	    (c->url = strdup(url)) == NULL ||
	    (bearer != NULL && (c->bearer = strdup(bearer)) == NULL) ||
	    (extra_header != NULL && (s->extra = strdup(extra_header)) == NULL))
		fatalx("%s: out of memory", __func__);
	evtimer_add(s->idle, &s->idle_tv);
	event_active(s->kick, EV_TIMEOUT, 0);
	return c;
}

void
hclient_resume(struct hcall *c)
{
	struct hstream *s = c->st;

	if (s == NULL || c->done)
		return;
	if (s->in_cb) {
		s->resume_early = true;
		return;
	}
	if (!s->paused)
		return;
	s->paused = false;
	http_parser_pause(&s->parser, 0);
	bufferevent_enable(s->bev, EV_READ);
	evtimer_add(s->idle, &s->idle_tv);
	/* bytes already buffered: handed over on the next loop turn */
	event_active(s->kick, EV_TIMEOUT, 0);
}

void
hstream_cancel(struct hcall *c)
{
	if (c->done)
		return; /* from inside done: the call is being freed */
	c->cb = NULL;
	if (c->st->in_cb) {
		/* the parser is on the stack: the pump frees the call */
		c->st->cancelled = true;
		return;
	}
	hclient_call_free(c);
}
