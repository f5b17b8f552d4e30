/*
 * One peer connection: the TCP or TLS socket, frame reading with its size
 * limits, the mutual authentication and the delivery of Raft messages.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/msg.h"
#include "proto/raft_wire.h"
#include "raftd/transport_int.h"

static void conn_read_cb(struct bufferevent *, void *);
static void conn_write_cb(struct bufferevent *, void *);
static void conn_event_cb(struct bufferevent *, short, void *);

static void
ms_to_tv(uint32_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static void
socket_tune(evutil_socket_t fd)
{
	int one = 1;

	if (fd < 0)
		return;
	/* heartbeats must not wait for Nagle */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void
addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		evutil_inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		evutil_inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
	}
	snprintf(out, len, "%s:%u", host, port);
}

static void
conn_send_frame(struct conn *c, uint16_t type, const struct pbuf *b)
{
	uint8_t hdr[PROTO_HDR_LEN];
	struct proto_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.type = type;
	h.len = (uint32_t)b->len;
	proto_hdr_encode(hdr, &h);
	bufferevent_write(c->bev, hdr, sizeof(hdr));
	bufferevent_write(c->bev, b->data, b->len);
}

static int
conn_send_hello(struct conn *c)
{
	struct pbuf b;

	if (peer_auth_nonce(c->nonce) == -1)
		return -1;
	pb_init(&b);
	pb_add_u64(&b, c->t->self);
	pb_add_bytes(&b, c->nonce, PEER_NONCE_LEN);
	if (b.err) {
		pb_free(&b);
		return -1;
	}
	conn_send_frame(c, MSG_PEER_HELLO, &b);
	pb_free(&b);
	return 0;
}

static void
conn_send_auth(struct conn *c)
{
	uint8_t mac[PEER_MAC_LEN];
	struct pbuf b;

	peer_auth_mac(c->t->key,
	    c->outbound ? PEER_SIDE_DIALER : PEER_SIDE_ACCEPTOR, c->their_nonce,
	    c->t->self, mac);
	pb_init(&b);
	pb_add_bytes(&b, mac, sizeof(mac));
	if (!b.err)
		conn_send_frame(c, MSG_PEER_AUTH, &b);
	pb_free(&b);
}

static void
conn_more_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_read_cb(NULL, arg);
}

/* a connection, its callbacks and limits, and our HELLO on its way */
static struct conn *
conn_new(struct transport *t, struct bufferevent *bev, bool outbound,
    const struct sockaddr *sa)
{
	struct timeval tv;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->t = t;
	c->bev = bev;
	c->outbound = outbound;
	c->state = CONN_HELLO;
	addr_format(sa, c->addr, sizeof(c->addr));
	if ((c->more = evtimer_new(t->base, conn_more_cb, c)) == NULL) {
		free(c);
		return NULL;
	}
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(
	    bev, EV_READ, 0, PROTO_HDR_LEN + TRANSPORT_AUTH_FRAME_MAX);
	bufferevent_setwatermark(bev, EV_WRITE, t->opt.output_hwm / 2, 0);
	ms_to_tv(t->opt.auth_timeout_ms, &tv);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return c;
}

void
transport_conn_free(struct conn *c)
{
	struct transport *t = c->t;
	struct peer *p = c->peer;

	if (c->outbound) {
		if (p != NULL) {
			p->out = NULL;
			transport_peer_schedule_dial(p);
		}
	} else {
		TAILQ_REMOVE(&t->inbound, c, entry);
		t->n_inbound--;
	}
	event_free(c->more);
	bufferevent_free(c->bev);
	OPENSSL_cleanse(c->nonce, sizeof(c->nonce));
	free(c);
}

void
transport_conn_close(struct conn *c)
{
	if (c->busy) {
		c->dead = true;
		return;
	}
	transport_conn_free(c);
}

static void
conn_refuse(struct conn *c, const char *why)
{
	c->t->refused++;
	transport_log_refusal(c->t, "%s %s (node %llu): %s",
	    c->outbound ? "dropped connection to" : "refused", c->addr,
	    (unsigned long long)c->id, why);
	transport_conn_close(c);
}

void
transport_conn_connect(
    struct peer *p, const struct sockaddr *sa, socklen_t salen)
{
	struct transport *t = p->t;
	struct bufferevent *bev;
	struct conn *c;
	SSL *ssl = NULL;

	if (t->client_ctx != NULL) {
		if ((ssl = peer_tls_client_ssl(
			 t->client_ctx, p->host, t->verify)) == NULL)
			goto fail;
		bev = bufferevent_openssl_socket_new(t->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else
		bev =
		    bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	if ((c = conn_new(t, bev, true, sa)) == NULL) {
		bufferevent_free(bev);
		goto fail;
	}
	c->peer = p;
	c->id = p->id;
	p->out = c;
	if (bufferevent_socket_connect(bev, sa, (int)salen) == -1 ||
	    conn_send_hello(c) == -1) {
		transport_conn_close(c);
		return;
	}
	socket_tune(bufferevent_getfd(bev));
	return;
fail:
	log_warnx("%s: cannot make a connection to %s", __func__, p->host);
	transport_peer_schedule_dial(p);
}

static struct bufferevent *
accept_bev(struct transport *t, evutil_socket_t fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (t->server_ctx == NULL)
		return bufferevent_socket_new(
		    t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = SSL_new(t->server_ctx)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(
	    t->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

/*
 * the oldest connection still authenticating makes room: a flood of
 * strangers cannot keep a peer, whose proof takes a round trip, out
 */
static void
evict_unauthenticated(struct transport *t)
{
	struct conn *c;

	TAILQ_FOREACH(c, &t->inbound, entry)
	{
		if (c->state != CONN_READY && !c->dead) {
			conn_refuse(c, "too many connections");
			return;
		}
	}
}

void
transport_conn_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct transport *t = arg;
	struct bufferevent *bev;
	struct conn *c;
	char addr[64];

	(void)lev;
	(void)socklen;
	if (t->n_inbound >= t->opt.max_inbound)
		evict_unauthenticated(t);
	if (t->n_inbound >= t->opt.max_inbound) {
		addr_format(sa, addr, sizeof(addr));
		t->refused++;
		transport_log_refusal(
		    t, "refused %s: too many connections", addr);
		evutil_closesocket(fd);
		return;
	}
	socket_tune(fd);
	if ((bev = accept_bev(t, fd)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if ((c = conn_new(t, bev, false, sa)) == NULL) {
		bufferevent_free(bev);
		return;
	}
	TAILQ_INSERT_TAIL(&t->inbound, c, entry);
	t->n_inbound++;
	if (conn_send_hello(c) == -1)
		transport_conn_close(c);
}

static void
conn_on_hello(struct conn *c, const uint8_t *p, size_t len)
{
	struct pread r;
	const uint8_t *nonce;
	size_t n;
	uint64_t id;

	pr_init(&r, p, len);
	pr_get_u64(&r, &id);
	pr_get_bytes(&r, &nonce, &n);
	if (pr_end(&r) == -1 || n != PEER_NONCE_LEN) {
		conn_refuse(c, "malformed hello");
		return;
	}
	if (c->outbound && id != c->id) {
		conn_refuse(c, "answered by another node id");
		return;
	}
	if (!c->outbound &&
	    (id == c->t->self || transport_find_peer(c->t, id) == NULL)) {
		c->id = id;
		conn_refuse(c, "not a configured peer");
		return;
	}
	c->id = id;
	memcpy(c->their_nonce, nonce, PEER_NONCE_LEN);
	c->state = CONN_AUTH;
	/* the dialer proves first: a stranger dialing us learns nothing */
	if (c->outbound)
		conn_send_auth(c);
}

static void
conn_ready(struct conn *c)
{
	struct transport *t = c->t;
	struct timeval tv;
	struct conn *o, *next;

	c->state = CONN_READY;
	OPENSSL_cleanse(c->nonce, sizeof(c->nonce));
	if (c->outbound) {
		/* we only write: a write that makes no progress ends it */
		ms_to_tv(t->opt.write_timeout_ms, &tv);
		bufferevent_set_timeouts(c->bev, NULL, &tv);
		c->peer->st.connects++;
		c->peer->backoff_ms = t->opt.backoff_min_ms;
		c->peer->warned = false;
		log_info("raft transport: connected to node %llu at %s",
		    (unsigned long long)c->id, c->addr);
		transport_peer_flush(c->peer);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setwatermark(
	    c->bev, EV_READ, 0, PROTO_HDR_LEN + RAFT_WIRE_MAX_BYTES);
	/* a peer that reconnected left its old connection behind */
	for (o = TAILQ_FIRST(&t->inbound); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o != c && o->id == c->id && o->state == CONN_READY)
			transport_conn_close(o);
	}
}

static void
conn_on_auth(struct conn *c, const uint8_t *p, size_t len)
{
	struct pread r;
	const uint8_t *mac;
	size_t n;

	pr_init(&r, p, len);
	pr_get_bytes(&r, &mac, &n);
	if (pr_end(&r) == -1) {
		conn_refuse(c, "malformed proof");
		return;
	}
	if (!peer_auth_verify(c->t->key,
		c->outbound ? PEER_SIDE_ACCEPTOR : PEER_SIDE_DIALER, c->nonce,
		c->id, mac, n)) {
		conn_refuse(c, "wrong proof of the instance secret");
		return;
	}
	if (!c->outbound)
		conn_send_auth(c);
	conn_ready(c);
}

static void
conn_on_raft(struct conn *c, const uint8_t *p, size_t len)
{
	struct raft_msg m;
	struct peer *peer;

	if (raft_wire_decode(p, len, &m) == -1) {
		conn_refuse(c, "malformed raft message");
		return;
	}
	if (m.from != c->id || m.to != c->t->self) {
		raft_wire_msg_free(&m);
		conn_refuse(c, "raft message with foreign addresses");
		return;
	}
	if ((peer = transport_find_peer(c->t, c->id)) != NULL)
		peer->st.recv_msgs++;
	c->t->cb(c->id, &m, c->t->arg);
	raft_wire_msg_free(&m);
}

static void
conn_on_ctl(struct conn *c, const uint8_t *p, size_t len)
{
	struct peer *peer;

	if (len == 0 || len > TRANSPORT_CTL_MAX) {
		conn_refuse(c, "malformed driver message");
		return;
	}
	if ((peer = transport_find_peer(c->t, c->id)) != NULL)
		peer->st.recv_msgs++;
	if (c->t->ctl_cb != NULL)
		c->t->ctl_cb(c->id, p, len, c->t->ctl_arg);
}

static void
conn_dispatch(struct conn *c, uint16_t type, const uint8_t *p, size_t len)
{
	if (c->state == CONN_HELLO && type == MSG_PEER_HELLO)
		conn_on_hello(c, p, len);
	else if (c->state == CONN_AUTH && type == MSG_PEER_AUTH)
		conn_on_auth(c, p, len);
	else if (c->state == CONN_READY && !c->outbound &&
	    type == MSG_PEER_RAFT)
		conn_on_raft(c, p, len);
	else if (c->state == CONN_READY && !c->outbound && type == MSG_PEER_CTL)
		conn_on_ctl(c, p, len);
	else
		conn_refuse(c, "unexpected frame");
}

static size_t
conn_frame_limit(const struct conn *c)
{
	if (c->state != CONN_READY)
		return TRANSPORT_AUTH_FRAME_MAX;
	return c->outbound ? 0 : RAFT_WIRE_MAX_BYTES;
}

/* 1 when a frame was handled, 0 when more bytes are needed, -1 closed */
static int
conn_next_frame(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t hb[PROTO_HDR_LEN];
	struct proto_hdr h;
	struct pread r;
	size_t avail = evbuffer_get_length(in);
	uint8_t *p;

	if (avail < PROTO_HDR_LEN)
		return 0;
	evbuffer_copyout(in, hb, sizeof(hb));
	pr_init(&r, hb, sizeof(hb));
	pr_get_u16(&r, &h.version);
	pr_get_u16(&r, &h.type);
	pr_get_u32(&r, &h.len);
	if (h.version != PROTO_VERSION) {
		conn_refuse(c, "not our protocol");
		return -1;
	}
	if (h.len > conn_frame_limit(c)) {
		conn_refuse(c, "frame too large");
		return -1;
	}
	if (avail < PROTO_HDR_LEN + (size_t)h.len)
		return 0;
	p = evbuffer_pullup(in, PROTO_HDR_LEN + (ssize_t)h.len);
	if (p == NULL) {
		conn_refuse(c, "out of memory");
		return -1;
	}
	conn_dispatch(c, h.type, p + PROTO_HDR_LEN, h.len);
	evbuffer_drain(in, PROTO_HDR_LEN + (size_t)h.len);
	return c->dead ? -1 : 1;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct timeval now = { 0, 0 };
	int i, rc = 0;

	(void)bev;
	c->busy = true;
	for (i = 0; i < TRANSPORT_FRAMES_PER_READ && !c->dead; i++)
		if ((rc = conn_next_frame(c)) != 1)
			break;
	c->busy = false;
	if (c->dead) {
		transport_conn_free(c);
		return;
	}
	/* the rest next time round, after other connections had a turn */
	if (rc == 1)
		evtimer_add(c->more, &now);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->outbound && c->peer != NULL)
		transport_peer_flush(c->peer);
}

static void
conn_log_failure(struct conn *c, short what)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	char buf[160] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (c->outbound && c->peer != NULL && c->state != CONN_READY) {
		/* a peer that is down: say it once, not on every retry */
		if (!c->peer->warned)
			log_info("raft transport: cannot reach node %llu at "
				 "%s%s%s",
			    (unsigned long long)c->id, c->addr,
			    *buf ? ": " : "", buf);
		c->peer->warned = true;
		return;
	}
	if (c->state == CONN_READY)
		log_info("raft transport: connection %s %s (node %llu) "
			 "closed%s%s%s",
		    c->outbound ? "to" : "from", c->addr,
		    (unsigned long long)c->id,
		    (what & BEV_EVENT_TIMEOUT) ? " (timeout)" : "",
		    *buf ? ": " : "", buf);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		socket_tune(bufferevent_getfd(bev));
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (!c->outbound && c->state != CONN_READY) {
		/* garbage, a failed TLS handshake or no proof in time */
		conn_refuse(c,
		    (what & BEV_EVENT_TIMEOUT)
			? "no proof in time"
			: "closed before authenticating");
		return;
	}
	conn_log_failure(c, what);
	transport_conn_close(c);
}
