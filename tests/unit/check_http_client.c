/*
 * The streaming GET of the node-to-node HTTP client (API.md §18.3, blob
 * downloads of §13.6) against a raw test server on 127.0.0.1 in the same
 * event loop, so the tests control every byte and every stall.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/http_client.h"

#define BIG_LEN (5 * 1024 * 1024)
#define STALL_SENT 100
#define CUT_SENT 500
#define EOF_LEN 3000
#define DRIP_LEN 8
#define DRIP_MS 100
#define TEXT_MAX 8192

/* body byte at offset i, the same on both sides */
static uint8_t
pat(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 13));
}

/*
 * The server: reads one request head, answers by path.
 */

struct sconn {
	struct bufferevent *bev;
	bool close_when_sent;
	struct event *drip; /* sends one body byte per tick */
	uint64_t dripped;
	LIST_ENTRY(sconn) link;
};

static struct {
	struct event_base *base;
	struct evconnlistener *lis;
	unsigned port;
	char req[TEXT_MAX]; /* the last request head */
	int nreq;
	LIST_HEAD(, sconn) conns;
	SSL_CTX *ssl; /* TLS tests */
} srv;

static void
sconn_free(struct sconn *sc)
{
	LIST_REMOVE(sc, link);
	if (sc->drip != NULL)
		event_free(sc->drip);
	bufferevent_free(sc->bev);
	free(sc);
}

static void
add_pattern(struct evbuffer *out, uint64_t off, size_t len)
{
	uint8_t buf[4096];
	size_t i, n;

	while (len > 0) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pat(off + i);
		evbuffer_add(out, buf, n);
		off += n;
		len -= n;
	}
}

static void
answer_chunked(struct evbuffer *out)
{
	static const size_t sizes[] = { 1, 17, 4096, 100000, 3 };
	uint64_t off = 0;
	size_t i;

	evbuffer_add_printf(
	    out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* one chunk extension, which the client must skip */
		evbuffer_add_printf(
		    out, "%zx%s\r\n", sizes[i], i == 2 ? ";ext=1" : "");
		add_pattern(out, off, sizes[i]);
		evbuffer_add(out, "\r\n", 2);
		off += sizes[i];
	}
	evbuffer_add_printf(out, "0\r\nX-Trailer: yes\r\n\r\n");
}

static void
answer_big_head(struct evbuffer *out)
{
	int i;

	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n");
	/* 70 KiB of headers, over HCLIENT_HEADERS_MAX */
	for (i = 0; i < 700; i++)
		evbuffer_add_printf(out, "X-Pad-%03d: %090d\r\n", i, 0);
	evbuffer_add_printf(out, "Content-Length: 2\r\n\r\nok");
}

static void
drip_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *sc = arg;
	struct timeval tv = { 0, DRIP_MS * 1000 };

	(void)fd;
	(void)what;
	add_pattern(bufferevent_get_output(sc->bev), sc->dripped++, 1);
	if (sc->dripped < DRIP_LEN)
		evtimer_add(sc->drip, &tv);
	else
		sc->close_when_sent = true;
}

/* false: leave the connection open (a stall, or bytes sent later) */
static bool
answer(struct sconn *sc, struct evbuffer *out, const char *path)
{
	struct timeval tv = { 0, DRIP_MS * 1000 };

	if (strcmp(path, "/big") == 0) {
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_LEN);
		add_pattern(out, 0, BIG_LEN);
	} else if (strcmp(path, "/chunked") == 0)
		answer_chunked(out);
	else if (strcmp(path, "/drip") == 0) {
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", DRIP_LEN);
		sc->drip = evtimer_new(srv.base, drip_cb, sc);
		ck_assert(sc->drip != NULL);
		evtimer_add(sc->drip, &tv);
		return false;
	} else if (strcmp(path, "/stall") == 0) {
		evbuffer_add_printf(
		    out, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
		add_pattern(out, 0, STALL_SENT);
		return false;
	} else if (strcmp(path, "/cut") == 0) {
		evbuffer_add_printf(out,
		    "HTTP/1.1 206 Partial\r\nContent-Length: 1000\r\n\r\n");
		add_pattern(out, 0, CUT_SENT);
	} else if (strcmp(path, "/eof") == 0) {
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n\r\n");
		add_pattern(out, 0, EOF_LEN);
	} else if (strcmp(path, "/echo") == 0)
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		    strlen(srv.req), srv.req);
	else if (strcmp(path, "/redir") == 0)
		evbuffer_add_printf(out,
		    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/echo"
		    "\r\nContent-Length: 5\r\n\r\nmoved",
		    srv.port);
	else if (strcmp(path, "/continue") == 0)
		evbuffer_add_printf(out,
		    "HTTP/1.1 100 Continue\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal");
	else if (strcmp(path, "/bighead") == 0)
		answer_big_head(out);
	else if (strcmp(path, "/garbage") == 0)
		evbuffer_add_printf(out, "NOT HTTP AT ALL\r\n\r\n");
	else
		evbuffer_add_printf(out,
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
	return true;
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct sconn *sc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char path[256];
	size_t len;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > TEXT_MAX)
			sconn_free(sc);
		return;
	}
	len = (size_t)end.pos + 4;
	ck_assert_uint_lt(len, sizeof(srv.req));
	evbuffer_remove(in, srv.req, len);
	srv.req[len] = '\0';
	srv.nreq++;
	ck_assert_int_eq(sscanf(srv.req, "GET %255s HTTP/1.1\r\n", path), 1);
	bufferevent_disable(bev, EV_READ);
	sc->close_when_sent = answer(sc, bufferevent_get_output(bev), path);
}

static void
srv_write_cb(struct bufferevent *bev, void *arg)
{
	struct sconn *sc = arg;

	if (sc->close_when_sent &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sconn_free(sc);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		sconn_free(arg);
}

static void
srv_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sconn *sc;

	(void)lis;
	(void)sa;
	(void)salen;
	(void)arg;
	ck_assert((sc = calloc(1, sizeof(*sc))) != NULL);
	if (srv.ssl != NULL)
		sc->bev = bufferevent_openssl_socket_new(srv.base, fd,
		    SSL_new(srv.ssl), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
	else
		sc->bev =
		    bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert(sc->bev != NULL);
	LIST_INSERT_HEAD(&srv.conns, sc, link);
	bufferevent_setcb(sc->bev, srv_read_cb, srv_write_cb, srv_event_cb, sc);
	bufferevent_enable(sc->bev, EV_READ | EV_WRITE);
}

/*
 * The client side: what the callbacks saw.
 */

static struct {
	struct hclient *hc;
	struct hcall *call;
	int heads;
	int head_status;
	uint64_t head_clen;
	uint64_t got;
	int pieces;
	bool bad; /* a byte differed from the pattern */
	char text[TEXT_MAX];
	int pause_at; /* piece after which to pause */
	int pause_ms;
	int pieces_at_resume;
	int cancel_at; /* piece in which to cancel */
	bool cancel_by_call; /* hclient_cancel() rather than -1 */
	bool cancel_timer; /* cancel from the resume timer instead */
	int head_rc;
	int dones;
	int err;
	int status;
	size_t body_len;
	char url[256];
	struct event *timer;
} cl;

static void
setup(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	/* the server writes to connections the client dropped */
	signal(SIGPIPE, SIG_IGN);
	memset(&srv, 0, sizeof(srv));
	memset(&cl, 0, sizeof(cl));
	LIST_INIT(&srv.conns);
	srv.base = event_base_new();
	ck_assert(srv.base != NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.lis = evconnlistener_new_bind(srv.base, srv_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ck_assert(srv.lis != NULL);
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(srv.lis),
			     (struct sockaddr *)&sin, &len),
	    0);
	srv.port = ntohs(sin.sin_port);
	cl.hc = hclient_new(srv.base, false, NULL, false);
	ck_assert(cl.hc != NULL);
}

static void
teardown(void)
{
	hclient_free(cl.hc);
	if (cl.timer != NULL)
		event_free(cl.timer);
	while (!LIST_EMPTY(&srv.conns))
		sconn_free(LIST_FIRST(&srv.conns));
	evconnlistener_free(srv.lis);
	event_base_free(srv.base);
	SSL_CTX_free(srv.ssl);
}

static int
head_cb(int status, uint64_t clen, void *arg)
{
	ck_assert_ptr_eq(arg, &cl);
	cl.heads++;
	cl.head_status = status;
	cl.head_clen = clen;
	return cl.head_rc;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	cl.pieces_at_resume = cl.pieces;
	if (cl.cancel_timer) {
		hclient_cancel(cl.call);
		cl.call = NULL;
		event_base_loopbreak(srv.base);
		return;
	}
	hclient_resume(cl.call);
}

static int
body_cb(const char *buf, size_t len, void *arg)
{
	struct timeval tv;
	size_t i, room;

	ck_assert_ptr_eq(arg, &cl);
	ck_assert_uint_gt(len, 0);
	for (i = 0; i < len; i++)
		if ((uint8_t)buf[i] != pat(cl.got + i))
			cl.bad = true;
	if (cl.got < sizeof(cl.text) - 1) {
		room = sizeof(cl.text) - 1 - cl.got;
		memcpy(cl.text + cl.got, buf, len < room ? len : room);
	}
	cl.got += len;
	cl.pieces++;
	if (cl.pieces == cl.cancel_at) {
		if (!cl.cancel_by_call)
			return -1;
		hclient_cancel(cl.call);
		return 0;
	}
	if (cl.pieces == cl.pause_at) {
		tv.tv_sec = cl.pause_ms / 1000;
		tv.tv_usec = (cl.pause_ms % 1000) * 1000;
		cl.timer = evtimer_new(srv.base, timer_cb, NULL);
		ck_assert(cl.timer != NULL);
		evtimer_add(cl.timer, &tv);
		return 1;
	}
	return 0;
}

static void
done_cb(const struct hclient_resp *r, void *arg)
{
	ck_assert_ptr_eq(arg, &cl);
	cl.dones++;
	cl.err = r->err;
	cl.status = r->status;
	cl.body_len = r->body_len;
	ck_assert_ptr_null(r->body);
	snprintf(cl.url, sizeof(cl.url), "%s", r->url);
	event_base_loopbreak(srv.base);
}

static struct hcall *
get(const char *path, const char *extra, int idle_ms, int redirects)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", srv.port, path);
	cl.call = hclient_get_stream(cl.hc, url, "tok", extra, idle_ms,
	    redirects, head_cb, body_cb, done_cb, &cl);
	return cl.call;
}

/* runs the loop until done ran (or a cancel broke it) or ms passed */
static void
run_ms(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(srv.base, &tv);
	event_base_dispatch(srv.base);
}

static long
elapsed_ms(const struct timeval *t0)
{
	struct timeval t1;

	gettimeofday(&t1, NULL);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_usec - t0->tv_usec) / 1000;
}

START_TEST(stream_big_content_length)
{
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	/* nothing runs inside the call */
	ck_assert_int_eq(cl.heads + cl.dones, 0);
	run_ms(20000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.status, 200);
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_int_eq(cl.head_status, 200);
	ck_assert_uint_eq(cl.head_clen, BIG_LEN);
	ck_assert_uint_eq(cl.got, BIG_LEN);
	ck_assert_uint_eq(cl.body_len, BIG_LEN);
	ck_assert(!cl.bad);
	/* handed over in pieces, not whole */
	ck_assert_int_gt(cl.pieces, 1);
}
END_TEST

START_TEST(stream_chunked)
{
	const uint64_t total = 1 + 17 + 4096 + 100000 + 3;

	ck_assert(get("/chunked", NULL, 5000, 0) != NULL);
	run_ms(10000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_uint_eq(cl.head_clen, UINT64_MAX);
	ck_assert_uint_eq(cl.got, total);
	ck_assert(!cl.bad);
}
END_TEST

START_TEST(stream_until_close)
{
	ck_assert(get("/eof", NULL, 5000, 0) != NULL);
	run_ms(10000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_uint_eq(cl.head_clen, UINT64_MAX);
	ck_assert_uint_eq(cl.got, EOF_LEN);
	ck_assert(!cl.bad);
}
END_TEST

START_TEST(stream_pause_resume)
{
	struct timeval t0;

	/* paused longer than the idle timeout: a paused call does not time
	 * out */
	cl.pause_at = 1;
	cl.pause_ms = 600;
	gettimeofday(&t0, NULL);
	ck_assert(get("/big", NULL, 200, 0) != NULL);
	run_ms(20000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	/* nothing arrived while paused */
	ck_assert_int_eq(cl.pieces_at_resume, 1);
	ck_assert_int_gt(cl.pieces, 1);
	ck_assert_uint_eq(cl.got, BIG_LEN);
	ck_assert(!cl.bad);
	ck_assert_int_ge(elapsed_ms(&t0), 600);
}
END_TEST

START_TEST(stream_pause_chunked)
{
	cl.pause_at = 2;
	cl.pause_ms = 50;
	ck_assert(get("/chunked", NULL, 5000, 0) != NULL);
	run_ms(10000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.pieces_at_resume, 2);
	ck_assert_uint_eq(cl.got, 1 + 17 + 4096 + 100000 + 3);
	ck_assert(!cl.bad);
}
END_TEST

START_TEST(stream_pause_on_last_piece)
{
	/* the whole body in the piece that pauses: done waits for resume */
	cl.pause_at = 1;
	cl.pause_ms = 100;
	ck_assert(get("/echo", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.pieces, 1);
	ck_assert_int_eq(cl.pieces_at_resume, 1);
	ck_assert_str_eq(cl.text, srv.req);
}
END_TEST

START_TEST(stream_idle_timeout)
{
	struct timeval t0;
	long ms;

	gettimeofday(&t0, NULL);
	ck_assert(get("/stall", NULL, 300, 0) != NULL);
	run_ms(5000);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, ETIMEDOUT);
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_uint_eq(cl.head_clen, 1000);
	ck_assert_uint_eq(cl.got, STALL_SENT);
	ck_assert(!cl.bad);
	ck_assert_int_ge(ms, 280);
	ck_assert_int_lt(ms, 3000);
}
END_TEST

START_TEST(stream_idle_is_not_a_deadline)
{
	struct timeval t0;

	/* a byte every 100 ms for 800 ms: each one restarts the 300 ms */
	gettimeofday(&t0, NULL);
	ck_assert(get("/drip", NULL, 300, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_uint_eq(cl.got, DRIP_LEN);
	ck_assert(!cl.bad);
	ck_assert_int_ge(elapsed_ms(&t0), DRIP_LEN * DRIP_MS - 50);
}
END_TEST

START_TEST(stream_cut_short)
{
	ck_assert(get("/cut", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, ECONNREFUSED);
	ck_assert_int_eq(cl.head_status, 206);
	ck_assert_uint_eq(cl.got, CUT_SENT);
}
END_TEST

START_TEST(stream_extra_header)
{
	ck_assert(get("/echo", "Range: bytes=100-", 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(srv.nreq, 1);
	ck_assert_ptr_nonnull(strstr(srv.req, "\r\nRange: bytes=100-\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(srv.req, "\r\nAuthorization: Bearer tok\r\n"));
	/* the body (the request head echoed) arrived as sent */
	ck_assert_str_eq(cl.text, srv.req);
}
END_TEST

START_TEST(stream_bad_arguments)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", srv.port);
	ck_assert_ptr_null(get("/echo", "Range: a\r\nX-Injected: 1", 5000, 0));
	ck_assert_ptr_null(get("/echo", "NoColon", 5000, 0));
	ck_assert_ptr_null(get("/echo", ": no name", 5000, 0));
	ck_assert_ptr_null(get("/echo", NULL, 0, 0));
	ck_assert_ptr_null(get("/a b", NULL, 5000, 0));
	ck_assert_ptr_null(hclient_get_stream(cl.hc, "ftp://127.0.0.1/", NULL,
	    NULL, 5000, 0, head_cb, body_cb, done_cb, &cl));
	/* https without TLS configured */
	ck_assert_ptr_null(hclient_get_stream(cl.hc, "https://127.0.0.1/", NULL,
	    NULL, 5000, 0, head_cb, body_cb, done_cb, &cl));
	ck_assert_ptr_null(hclient_get_stream(cl.hc, url, "to\r\nken", NULL,
	    5000, 0, head_cb, body_cb, done_cb, &cl));
	run_ms(100);
	ck_assert_int_eq(cl.dones + srv.nreq, 0);
}
END_TEST

START_TEST(stream_redirect)
{
	char want[128];

	ck_assert(get("/redir", NULL, 5000, 1) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	/* the 302 itself is neither head nor body */
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_int_eq(cl.head_status, 200);
	ck_assert_int_eq(srv.nreq, 2);
	ck_assert_str_eq(cl.text, srv.req);
	snprintf(want, sizeof(want), "http://127.0.0.1:%u/echo", srv.port);
	ck_assert_str_eq(cl.url, want);
}
END_TEST

START_TEST(stream_redirect_loop)
{
	ck_assert(get("/redir", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, ELOOP);
	ck_assert_int_eq(cl.heads, 0);
}
END_TEST

START_TEST(stream_interim_head)
{
	ck_assert(get("/continue", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_int_eq(cl.head_status, 200);
	ck_assert_str_eq(cl.text, "real");
}
END_TEST

START_TEST(stream_head_bounded)
{
	ck_assert(get("/bighead", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, EMSGSIZE);
	ck_assert_int_eq(cl.heads, 0);
}
END_TEST

START_TEST(stream_malformed)
{
	ck_assert(get("/garbage", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, EPROTO);
	ck_assert_int_eq(cl.heads, 0);
}
END_TEST

START_TEST(stream_refused)
{
	struct hcall *c;

	/* port 1 on loopback: nothing listens there */
	c = hclient_get_stream(cl.hc, "http://127.0.0.1:1/x", NULL, NULL, 5000,
	    0, head_cb, body_cb, done_cb, &cl);
	ck_assert(c != NULL);
	ck_assert_int_eq(cl.dones, 0);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, ECONNREFUSED);
	ck_assert_int_eq(cl.heads, 0);
}
END_TEST

/* the loop runs on after a cancel: no done, nothing left behind */
static void
expect_cancelled(void)
{
	run_ms(300);
	ck_assert_int_eq(cl.dones, 0);
}

START_TEST(stream_cancel_in_body_call)
{
	cl.cancel_at = 1;
	cl.cancel_by_call = true;
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	expect_cancelled();
	ck_assert_int_eq(cl.pieces, 1);
}
END_TEST

START_TEST(stream_cancel_in_body_return)
{
	cl.cancel_at = 3;
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	expect_cancelled();
	ck_assert_int_eq(cl.pieces, 3);
}
END_TEST

START_TEST(stream_cancel_in_head)
{
	cl.head_rc = -1;
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	expect_cancelled();
	ck_assert_int_eq(cl.heads, 1);
	ck_assert_int_eq(cl.pieces, 0);
}
END_TEST

START_TEST(stream_cancel_while_paused)
{
	cl.pause_at = 1;
	cl.pause_ms = 50;
	cl.cancel_timer = true;
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	run_ms(5000);
	ck_assert_ptr_null(cl.call);
	expect_cancelled();
	ck_assert_int_eq(cl.pieces, 1);
}
END_TEST

START_TEST(stream_cancel_before_start)
{
	ck_assert(get("/big", NULL, 5000, 0) != NULL);
	hclient_cancel(cl.call);
	expect_cancelled();
	ck_assert_int_eq(cl.heads + cl.pieces, 0);
}
END_TEST

START_TEST(stream_freed_with_client)
{
	/* a call in flight when the client goes: freed, no callback */
	ck_assert(get("/stall", NULL, 5000, 0) != NULL);
	run_ms(200);
	ck_assert_int_eq(cl.heads, 1);
	hclient_free(cl.hc);
	cl.hc = hclient_new(srv.base, false, NULL, false);
	ck_assert(cl.hc != NULL);
	expect_cancelled();
}
END_TEST

/*
 * TLS: a self-signed certificate for IP 127.0.0.1 made here.
 */

static X509 *
self_signed(EVP_PKEY *key)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509_NAME *name;
	X509 *x;

	ck_assert((x = X509_new()) != NULL);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(
	    name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
	    NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
	ck_assert(ext != NULL);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	return x;
}

/* a certificate in PEM, and its key into *keyp when wanted */
static char *
make_cert(X509 **certp, EVP_PKEY **keyp)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

	ck_assert(key != NULL && bio != NULL);
	*certp = self_signed(key);
	ck_assert_int_eq(PEM_write_bio_X509(bio, *certp), 1);
	len = BIO_get_mem_data(bio, &data);
	ck_assert((pem = strndup(data, (size_t)len)) != NULL);
	BIO_free(bio);
	if (keyp != NULL)
		*keyp = key;
	else
		EVP_PKEY_free(key);
	return pem;
}

static char *tls_ca; /* the server's certificate */
static char *tls_other_ca; /* another one */

static void
tls_setup(void)
{
	EVP_PKEY *key;
	X509 *cert, *other;

	setup();
	tls_ca = make_cert(&cert, &key);
	tls_other_ca = make_cert(&other, NULL);
	ck_assert((srv.ssl = SSL_CTX_new(TLS_server_method())) != NULL);
	ck_assert_int_eq(SSL_CTX_use_certificate(srv.ssl, cert), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(srv.ssl, key), 1);
	X509_free(cert);
	X509_free(other);
	EVP_PKEY_free(key);
	hclient_free(cl.hc);
	cl.hc = hclient_new(srv.base, true, tls_ca, false);
	ck_assert(cl.hc != NULL);
}

static void
tls_teardown(void)
{
	teardown();
	free(tls_ca);
	free(tls_other_ca);
}

static struct hcall *
tls_get(const char *path, int idle_ms)
{
	char url[128];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", srv.port, path);
	cl.call = hclient_get_stream(cl.hc, url, "tok", NULL, idle_ms, 0,
	    head_cb, body_cb, done_cb, &cl);
	return cl.call;
}

START_TEST(tls_big_with_pause)
{
	/* bytes the TLS layer already decrypted must not be stranded by the
	 * pause */
	cl.pause_at = 2;
	cl.pause_ms = 100;
	ck_assert(tls_get("/big", 5000) != NULL);
	run_ms(20000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_int_eq(cl.pieces_at_resume, 2);
	ck_assert_uint_eq(cl.got, BIG_LEN);
	ck_assert(!cl.bad);
}
END_TEST

START_TEST(tls_chunked)
{
	ck_assert(tls_get("/chunked", 5000) != NULL);
	run_ms(10000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, 0);
	ck_assert_uint_eq(cl.got, 1 + 17 + 4096 + 100000 + 3);
	ck_assert(!cl.bad);
}
END_TEST

static const char *tls_error_seen;

static void
tls_done_cb(const struct hclient_resp *r, void *arg)
{
	tls_error_seen = r->tls_error;
	done_cb(r, arg);
}

START_TEST(tls_untrusted)
{
	char url[128];

	hclient_free(cl.hc);
	cl.hc = hclient_new(srv.base, true, tls_other_ca, false);
	ck_assert(cl.hc != NULL);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/big", srv.port);
	ck_assert(hclient_get_stream(cl.hc, url, NULL, NULL, 5000, 0, head_cb,
		      body_cb, tls_done_cb, &cl) != NULL);
	run_ms(5000);
	ck_assert_int_eq(cl.dones, 1);
	ck_assert_int_eq(cl.err, ECONNREFUSED);
	ck_assert_ptr_nonnull(tls_error_seen);
	ck_assert_int_eq(cl.heads, 0);
}
END_TEST

static Suite *
http_client_suite(void)
{
	Suite *s = suite_create("http_client");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stream_big_content_length);
	tcase_add_test(tc, stream_chunked);
	tcase_add_test(tc, stream_until_close);
	tcase_add_test(tc, stream_pause_resume);
	tcase_add_test(tc, stream_pause_chunked);
	tcase_add_test(tc, stream_pause_on_last_piece);
	tcase_add_test(tc, stream_idle_timeout);
	tcase_add_test(tc, stream_idle_is_not_a_deadline);
	tcase_add_test(tc, stream_cut_short);
	tcase_add_test(tc, stream_extra_header);
	tcase_add_test(tc, stream_bad_arguments);
	tcase_add_test(tc, stream_redirect);
	tcase_add_test(tc, stream_redirect_loop);
	tcase_add_test(tc, stream_interim_head);
	tcase_add_test(tc, stream_head_bounded);
	tcase_add_test(tc, stream_malformed);
	tcase_add_test(tc, stream_refused);
	tcase_add_test(tc, stream_cancel_in_body_call);
	tcase_add_test(tc, stream_cancel_in_body_return);
	tcase_add_test(tc, stream_cancel_in_head);
	tcase_add_test(tc, stream_cancel_while_paused);
	tcase_add_test(tc, stream_cancel_before_start);
	tcase_add_test(tc, stream_freed_with_client);
	suite_add_tcase(s, tc);
	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tls_big_with_pause);
	tcase_add_test(tc, tls_chunked);
	tcase_add_test(tc, tls_untrusted);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
