/*
 * Raft peer transport: transports in one process on loopback, one event
 * loop; exchange, authentication refusals, garbage, reconnection, queue
 * bounds, control before bulk, TLS.  Every wait is a condition with a
 * deadline, run inside the loop.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/msg.h"
#include "proto/raft_wire.h"
#include "raftd/peer_auth.h"
#include "raftd/transport.h"

#define SECRET "0123456789abcdef-test-secret"
#define MAX_RECS 512

struct rec {
	uint64_t from;
	uint8_t type;
	uint64_t term;
	uint64_t seq;
	uint32_t n_entries;
	uint32_t len;
	uint8_t first; /* first payload byte of the first entry or chunk */
};

struct node {
	uint64_t id;
	int lfd;
	uint16_t port;
	struct transport *t;
	uint32_t n_recv;
	struct rec recs[MAX_RECS];
};

static struct event_base *base;

static void
setup(void)
{
	log_init("test", 1, LOG_LEVEL_ERROR);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void
teardown(void)
{
	event_base_free(base);
	base = NULL;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* runs the loop until cond holds or ms have passed; the final verdict */
static bool
wait_for(bool (*cond)(void *), void *arg, unsigned ms)
{
	struct timeval tv = { 0, 5000 };
	struct event *tick;
	uint64_t deadline = now_ms() + ms;
	bool ok;

	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	while (!cond(arg) && now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	ok = cond(arg);
	event_free(tick);
	return ok;
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

/* runs the loop for ms, for checks that something does NOT happen */
static void
run_for(unsigned ms)
{
	(void)wait_for(never, NULL, ms);
}

static int
listen_on(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*bound = ntohs(sin.sin_port);
	return fd;
}

static void
on_recv(uint64_t from, const struct raft_msg *m, void *arg)
{
	struct node *n = arg;
	struct rec *r;

	ck_assert(from == m->from);
	if (n->n_recv < MAX_RECS) {
		r = &n->recs[n->n_recv];
		r->from = from;
		r->type = m->type;
		r->term = m->term;
		r->seq = m->seq;
		r->n_entries = m->n_entries;
		r->len = m->len;
		if (m->n_entries > 0 && m->entries[0].len > 0)
			r->first = m->entries[0].data[0];
		else if (m->len > 0)
			r->first = m->data[0];
	}
	n->n_recv++;
}

static void
node_listen(struct node *n, uint64_t id)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->lfd = listen_on(0, &n->port);
}

static void
node_start(struct node *n, const char *secret, const struct transport_tls *tls,
    const struct transport_options *o)
{
	n->t = transport_new(base, n->lfd, n->id, secret, tls, o, on_recv, n);
	ck_assert_ptr_nonnull(n->t);
}

static void
node_stop(struct node *n)
{
	transport_free(n->t);
	n->t = NULL;
	close(n->lfd);
	n->lfd = -1;
}

static void
link_nodes(struct node *a, struct node *b)
{
	ck_assert_int_eq(
	    transport_add_peer(a->t, b->id, "127.0.0.1", b->port), 0);
	ck_assert_int_eq(
	    transport_add_peer(b->t, a->id, "127.0.0.1", a->port), 0);
}

struct want_recv {
	struct node *n;
	uint32_t count;
};

static bool
got_recv(void *arg)
{
	struct want_recv *w = arg;

	return w->n->n_recv >= w->count;
}

static bool
wait_recv(struct node *n, uint32_t count, unsigned ms)
{
	struct want_recv w = { n, count };

	return wait_for(got_recv, &w, ms);
}

struct want_refused {
	struct transport *t;
	uint64_t count;
};

static bool
got_refused(void *arg)
{
	struct want_refused *w = arg;

	return transport_refused(w->t) >= w->count;
}

static bool
wait_refused(struct transport *t, uint64_t count, unsigned ms)
{
	struct want_refused w = { t, count };

	return wait_for(got_refused, &w, ms);
}

struct want_conn {
	struct transport *t;
	uint64_t id;
};

static bool
got_conn(void *arg)
{
	struct want_conn *w = arg;

	return transport_peer_connected(w->t, w->id);
}

static bool
lost_conn(void *arg)
{
	return !got_conn(arg);
}

static bool
wait_connected(struct transport *t, uint64_t id, unsigned ms)
{
	struct want_conn w = { t, id };

	return wait_for(got_conn, &w, ms);
}

static void
msg_heartbeat(struct raft_msg *m, uint64_t from, uint64_t to, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_HEARTBEAT;
	m->from = from;
	m->to = to;
	m->term = 7;
	m->commit = 3;
	m->seq = seq;
}

/* an append of n entries whose payloads start with `tag` */
static void
msg_append(
    struct raft_msg *m, uint64_t from, uint64_t to, uint32_t n, uint8_t tag)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_APPEND;
	m->from = from;
	m->to = to;
	m->term = 9;
	m->prev_index = 10;
	m->prev_term = 8;
	m->n_entries = n;
	m->entries = calloc(n, sizeof(*m->entries));
	for (i = 0; i < n; i++) {
		m->entries[i].term = 9;
		m->entries[i].index = 11 + i;
		m->entries[i].len = 100;
		m->entries[i].data = malloc(100);
		memset(m->entries[i].data, tag, 100);
	}
}

static void
msg_chunk(
    struct raft_msg *m, uint64_t from, uint64_t to, uint32_t len, uint8_t tag)
{
	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_SNAPSHOT;
	m->from = from;
	m->to = to;
	m->term = 9;
	m->snap.index = 100;
	m->snap.term = 8;
	m->snap.config.n = 1;
	m->snap.config.servers[0].id = from;
	m->total = len;
	m->len = len;
	m->data = malloc(len);
	memset(m->data, tag, len);
}

static void
send_ok(struct node *n, struct raft_msg *m)
{
	ck_assert_int_eq(transport_send(n->t, m), 0);
	raft_wire_msg_free(m);
}

/* exchange between three nodes, both ways, every pair */
START_TEST(exchange_three_nodes)
{
	struct node n[3];
	struct transport_peer_stats st;
	struct raft_msg m;
	int i, j;

	for (i = 0; i < 3; i++)
		node_listen(&n[i], (uint64_t)i + 1);
	for (i = 0; i < 3; i++)
		node_start(&n[i], SECRET, NULL, NULL);
	link_nodes(&n[0], &n[1]);
	link_nodes(&n[0], &n[2]);
	link_nodes(&n[1], &n[2]);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			if (i == j)
				continue;
			msg_heartbeat(&m, n[i].id, n[j].id, 100 + i);
			send_ok(&n[i], &m);
			msg_append(&m, n[i].id, n[j].id, 3, (uint8_t)('a' + i));
			send_ok(&n[i], &m);
		}
	for (i = 0; i < 3; i++)
		ck_assert(wait_recv(&n[i], 4, 5000));
	run_for(50);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(n[i].n_recv, 4);
		for (j = 0; j < 4; j++) {
			struct rec *r = &n[i].recs[j];
			int s = (int)r->from - 1;

			ck_assert(r->from != n[i].id && r->from <= 3);
			if (r->type == RAFT_MSG_HEARTBEAT) {
				ck_assert(r->seq == (uint64_t)(100 + s));
				ck_assert(r->term == 7);
			} else {
				ck_assert_uint_eq(r->type, RAFT_MSG_APPEND);
				ck_assert_uint_eq(r->n_entries, 3);
				ck_assert_uint_eq(r->first, 'a' + s);
			}
		}
	}
	ck_assert(wait_connected(n[0].t, 2, 5000));
	ck_assert_int_eq(transport_stats(n[0].t, 2, &st), 0);
	ck_assert(st.connected);
	ck_assert_uint_eq(st.sent_msgs, 2);
	ck_assert_uint_eq(st.recv_msgs, 2);
	ck_assert_uint_eq(st.dropped_msgs, 0);
	ck_assert_uint_eq(st.queued_msgs, 0);
	ck_assert_int_eq(transport_stats(n[0].t, 9, &st), -1);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(transport_refused(n[i].t), 0);
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
}
END_TEST

struct ctl_seen {
	uint64_t from;
	size_t len;
	uint8_t first;
	int n;
};

static void
on_ctl(uint64_t from, const uint8_t *buf, size_t len, void *arg)
{
	struct ctl_seen *c = arg;

	c->from = from;
	c->len = len;
	c->first = buf[0];
	c->n++;
}

static bool
ctl_arrived(void *arg)
{
	return ((struct ctl_seen *)arg)->n > 0;
}

START_TEST(driver_messages_both_ways)
{
	struct node n[2];
	struct ctl_seen seen[2];
	uint8_t big[TRANSPORT_CTL_MAX + 1];
	struct raft_msg m;

	memset(seen, 0, sizeof(seen));
	memset(big, 'x', sizeof(big));
	node_listen(&n[0], 1);
	node_listen(&n[1], 2);
	node_start(&n[0], SECRET, NULL, NULL);
	node_start(&n[1], SECRET, NULL, NULL);
	transport_set_ctl_cb(n[0].t, on_ctl, &seen[0]);
	transport_set_ctl_cb(n[1].t, on_ctl, &seen[1]);
	link_nodes(&n[0], &n[1]);
	ck_assert_int_eq(transport_send_ctl(n[0].t, 2, "ab", 2), 0);
	ck_assert_int_eq(transport_send_ctl(n[1].t, 1, "z", 1), 0);
	/* bounds: empty, too large, unknown peer */
	ck_assert_int_eq(transport_send_ctl(n[0].t, 2, "", 0), -1);
	ck_assert_int_eq(transport_send_ctl(n[0].t, 2, big, sizeof(big)), -1);
	ck_assert_int_eq(transport_send_ctl(n[0].t, 9, "ab", 2), -1);
	ck_assert(wait_for(ctl_arrived, &seen[1], 5000));
	ck_assert(wait_for(ctl_arrived, &seen[0], 5000));
	ck_assert(seen[1].from == 1 && seen[1].len == 2);
	ck_assert_uint_eq(seen[1].first, 'a');
	ck_assert(seen[0].from == 2 && seen[0].len == 1);
	ck_assert_uint_eq(seen[0].first, 'z');
	/* Raft messages still go to the Raft callback, not this one */
	msg_heartbeat(&m, 1, 2, 5);
	send_ok(&n[0], &m);
	ck_assert(wait_recv(&n[1], 1, 5000));
	ck_assert_int_eq(seen[1].n, 1);
	node_stop(&n[0]);
	node_stop(&n[1]);
}
END_TEST

START_TEST(bad_arguments_refused)
{
	struct node a;
	struct raft_msg m;

	node_listen(&a, 1);
	node_start(&a, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(a.t, 1, "127.0.0.1", 1), -1);
	ck_assert_int_eq(transport_add_peer(a.t, 0, "127.0.0.1", 1), -1);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "", 1), -1);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", 1), 0);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", 1), -1);
	/* unknown destination, foreign sender */
	msg_heartbeat(&m, 1, 3, 1);
	ck_assert_int_eq(transport_send(a.t, &m), -1);
	msg_heartbeat(&m, 5, 2, 1);
	ck_assert_int_eq(transport_send(a.t, &m), -1);
	ck_assert_int_eq(transport_remove_peer(a.t, 2), 0);
	ck_assert_int_eq(transport_remove_peer(a.t, 2), -1);
	msg_heartbeat(&m, 1, 2, 1);
	ck_assert_int_eq(transport_send(a.t, &m), -1);
	node_stop(&a);
}
END_TEST

/* a node with another secret: both directions refused, nothing delivered */
START_TEST(wrong_secret_refused)
{
	struct node a, b;
	struct raft_msg m;
	int i;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, "another-secret-of-16-bytes", NULL, NULL);
	link_nodes(&a, &b);
	for (i = 0; i < 5; i++) {
		msg_heartbeat(&m, 2, 1, (uint64_t)i);
		send_ok(&b, &m);
		msg_heartbeat(&m, 1, 2, (uint64_t)i);
		send_ok(&a, &m);
	}
	/* first attempt and at least one redial refused on both sides */
	ck_assert(wait_refused(a.t, 2, 5000));
	ck_assert(wait_refused(b.t, 2, 5000));
	ck_assert_uint_eq(a.n_recv, 0);
	ck_assert_uint_eq(b.n_recv, 0);
	ck_assert(!transport_peer_connected(a.t, 2));
	ck_assert(!transport_peer_connected(b.t, 1));
	node_stop(&a);
	node_stop(&b);
}
END_TEST

/* the right secret but an id that is not a configured peer */
START_TEST(unknown_node_refused)
{
	struct node a, c;
	struct raft_msg m;

	node_listen(&a, 1);
	node_listen(&c, 3);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&c, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(c.t, 1, "127.0.0.1", a.port), 0);
	msg_heartbeat(&m, 3, 1, 1);
	send_ok(&c, &m);
	ck_assert(wait_refused(a.t, 1, 5000));
	run_for(100);
	ck_assert_uint_eq(a.n_recv, 0);
	ck_assert(!transport_peer_connected(c.t, 1));
	/* once configured, the same node gets through */
	ck_assert_int_eq(transport_add_peer(a.t, 3, "127.0.0.1", c.port), 0);
	ck_assert(wait_recv(&a, 1, 5000));
	ck_assert(a.recs[0].from == 3);
	node_stop(&a);
	node_stop(&c);
}
END_TEST

static int
raw_connect(uint16_t port)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	/* completes against the listen backlog without the loop running */
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* true once the other end closed (whatever it sent first is skipped) */
static bool
raw_closed(void *arg)
{
	int fd = *(int *)arg;
	uint8_t buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR;
	}
}

static void
raw_frame(int fd, uint16_t version, uint16_t type, uint32_t len,
    const void *payload, size_t n)
{
	uint8_t hdr[PROTO_HDR_LEN];
	struct pbuf b;

	pb_init(&b);
	pb_add_u16(&b, version);
	pb_add_u16(&b, type);
	pb_add_u32(&b, len);
	pb_add_u64(&b, 0);
	memcpy(hdr, b.data, sizeof(hdr));
	pb_free(&b);
	ck_assert_int_eq(
	    send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), (ssize_t)sizeof(hdr));
	if (n > 0)
		ck_assert_int_eq(
		    send(fd, payload, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
raw_hello(int fd, uint64_t id, const uint8_t nonce[PEER_NONCE_LEN])
{
	struct pbuf b;

	pb_init(&b);
	pb_add_u64(&b, id);
	pb_add_bytes(&b, nonce, PEER_NONCE_LEN);
	raw_frame(
	    fd, PROTO_VERSION, MSG_PEER_HELLO, (uint32_t)b.len, b.data, b.len);
	pb_free(&b);
}

/* garbage of several kinds on the port: each refused and closed */
START_TEST(garbage_refused)
{
	struct node a, b;
	struct raft_msg m;
	uint8_t junk[300], nonce[PEER_NONCE_LEN] = { 0 };
	int fd, i;
	uint64_t before;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	for (i = 0; i < 6; i++) {
		before = transport_refused(a.t);
		fd = raw_connect(a.port);
		switch (i) {
		case 0: /* random bytes */
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] = (uint8_t)(k * 37 + 11);
			ck_assert_int_eq(send(fd, junk, sizeof(junk), 0),
			    (ssize_t)sizeof(junk));
			break;
		case 1: /* another protocol version */
			raw_frame(
			    fd, PROTO_VERSION + 1, MSG_PEER_HELLO, 0, NULL, 0);
			break;
		case 2: /* an oversized frame before authentication */
			raw_frame(fd, PROTO_VERSION, MSG_PEER_HELLO,
			    16u * 1024 * 1024, NULL, 0);
			break;
		case 3: /* a raft message instead of the hello */
			raw_frame(
			    fd, PROTO_VERSION, MSG_PEER_RAFT, 4, "abcd", 4);
			break;
		case 4: /* a hello, then a raft message without proof */
			raw_hello(fd, 2, nonce);
			msg_heartbeat(&m, 2, 1, 1);
			{
				struct pbuf pb;

				pb_init(&pb);
				ck_assert_int_eq(raft_wire_encode(&pb, &m), 0);
				raw_frame(fd, PROTO_VERSION, MSG_PEER_RAFT,
				    (uint32_t)pb.len, pb.data, pb.len);
				pb_free(&pb);
			}
			break;
		case 5: /* a hello and a wrong proof */
			raw_hello(fd, 2, nonce);
			memset(junk, 0x55, PEER_MAC_LEN);
			{
				struct pbuf pb;

				pb_init(&pb);
				pb_add_bytes(&pb, junk, PEER_MAC_LEN);
				raw_frame(fd, PROTO_VERSION, MSG_PEER_AUTH,
				    (uint32_t)pb.len, pb.data, pb.len);
				pb_free(&pb);
			}
			break;
		}
		ck_assert_msg(wait_for(raw_closed, &fd, 2000),
		    "garbage case %d not closed", i);
		ck_assert_uint_gt(transport_refused(a.t), before);
		close(fd);
	}
	ck_assert_uint_eq(a.n_recv, 0);
	/* the real peer still gets through */
	msg_heartbeat(&m, 2, 1, 42);
	send_ok(&b, &m);
	ck_assert(wait_recv(&a, 1, 5000));
	ck_assert(a.recs[0].seq == 42);
	node_stop(&a);
	node_stop(&b);
}
END_TEST

struct raw_read {
	int fd;
	uint8_t buf[256];
	size_t len;
	size_t want;
};

static bool
raw_has(void *arg)
{
	struct raw_read *r = arg;
	ssize_t n;

	while (r->len < r->want) {
		n = recv(
		    r->fd, r->buf + r->len, r->want - r->len, MSG_DONTWAIT);
		if (n <= 0)
			return false;
		r->len += (size_t)n;
	}
	return true;
}

/*
 * a client speaking the protocol by hand: proves the secret, gets the
 * acceptor's proof, delivers a message; then a message naming another
 * sender is refused and ends the connection
 */
START_TEST(handshake_by_hand_and_forged_sender)
{
	struct node a;
	struct raw_read rr;
	struct raft_msg m;
	struct pread r;
	struct pbuf b;
	uint8_t key[PEER_KEY_LEN], mine[PEER_NONCE_LEN], mac[PEER_MAC_LEN];
	const uint8_t *their, *p;
	size_t n;
	uint64_t id;

	node_listen(&a, 1);
	node_start(&a, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", 1), 0);
	peer_auth_key(SECRET, key);
	ck_assert_int_eq(peer_auth_nonce(mine), 0);

	memset(&rr, 0, sizeof(rr));
	rr.fd = raw_connect(a.port);
	rr.want = PROTO_HDR_LEN + 8 + 4 + PEER_NONCE_LEN;
	ck_assert(wait_for(raw_has, &rr, 5000));
	pr_init(&r, rr.buf + PROTO_HDR_LEN, rr.len - PROTO_HDR_LEN);
	pr_get_u64(&r, &id);
	pr_get_bytes(&r, &their, &n);
	ck_assert_int_eq(pr_end(&r), 0);
	ck_assert(id == 1 && n == PEER_NONCE_LEN);

	raw_hello(rr.fd, 2, mine);
	peer_auth_mac(key, PEER_SIDE_DIALER, their, 2, mac);
	pb_init(&b);
	pb_add_bytes(&b, mac, sizeof(mac));
	raw_frame(rr.fd, PROTO_VERSION, MSG_PEER_AUTH, (uint32_t)b.len, b.data,
	    b.len);
	pb_free(&b);

	rr.len = 0;
	rr.want = PROTO_HDR_LEN + 4 + PEER_MAC_LEN;
	ck_assert(wait_for(raw_has, &rr, 5000));
	pr_init(&r, rr.buf + PROTO_HDR_LEN, rr.len - PROTO_HDR_LEN);
	pr_get_bytes(&r, &p, &n);
	ck_assert_int_eq(pr_end(&r), 0);
	ck_assert(peer_auth_verify(key, PEER_SIDE_ACCEPTOR, mine, 1, p, n));
	/* the acceptor's proof does not pass for the dialer's side */
	ck_assert(!peer_auth_verify(key, PEER_SIDE_DIALER, mine, 1, p, n));

	msg_heartbeat(&m, 2, 1, 77);
	pb_init(&b);
	ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
	raw_frame(rr.fd, PROTO_VERSION, MSG_PEER_RAFT, (uint32_t)b.len, b.data,
	    b.len);
	pb_free(&b);
	ck_assert(wait_recv(&a, 1, 5000));
	ck_assert(a.recs[0].seq == 77 && a.recs[0].from == 2);

	msg_heartbeat(&m, 3, 1, 78);
	pb_init(&b);
	ck_assert_int_eq(raft_wire_encode(&b, &m), 0);
	raw_frame(rr.fd, PROTO_VERSION, MSG_PEER_RAFT, (uint32_t)b.len, b.data,
	    b.len);
	pb_free(&b);
	ck_assert(wait_for(raw_closed, &rr.fd, 5000));
	ck_assert_uint_eq(a.n_recv, 1);
	ck_assert_uint_eq(transport_refused(a.t), 1);
	close(rr.fd);
	node_stop(&a);
}
END_TEST

/* the peer's process restarts on the same port: the dialer reconnects */
START_TEST(reconnect_after_listener_restart)
{
	struct node a, b;
	struct transport_peer_stats st;
	struct raft_msg m;
	uint16_t port;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	msg_heartbeat(&m, 1, 2, 1);
	send_ok(&a, &m);
	ck_assert(wait_recv(&b, 1, 5000));

	port = b.port;
	node_stop(&b);
	/* a notices the loss; messages meanwhile wait in its queue */
	ck_assert(wait_for(lost_conn, &(struct want_conn){ a.t, 2 }, 5000));
	run_for(300);
	msg_heartbeat(&m, 1, 2, 2);
	send_ok(&a, &m);

	memset(&b, 0, sizeof(b));
	b.id = 2;
	b.lfd = listen_on(port, &b.port);
	ck_assert_uint_eq(b.port, port);
	node_start(&b, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(b.t, 1, "127.0.0.1", a.port), 0);
	ck_assert(wait_recv(&b, 1, 5000));
	ck_assert(b.recs[0].seq == 2);
	ck_assert_int_eq(transport_stats(a.t, 2, &st), 0);
	ck_assert(st.connected);
	ck_assert_uint_eq(st.connects, 2);
	/* and the other way round on the new process */
	msg_heartbeat(&m, 2, 1, 3);
	send_ok(&b, &m);
	ck_assert(wait_recv(&a, 1, 5000));
	node_stop(&a);
	node_stop(&b);
}
END_TEST

/*
 * b's socket listens but b does not run yet: a's messages queue up to the
 * bound, the rest is dropped and counted; once b runs, what was queued
 * arrives, control messages ahead of the bulk ones queued before them
 */
START_TEST(queue_bound_and_control_first)
{
	struct node a, b;
	struct transport_options o;
	struct transport_peer_stats st;
	struct raft_msg m;
	uint32_t i;

	transport_options_default(&o);
	o.queue_msgs = 4;
	o.queue_bytes = 64 * 1024;
	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, &o);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", b.port), 0);
	run_for(50);

	/* bulk: 3 chunks of 20 KiB fit 64 KiB, the fourth does not */
	for (i = 0; i < 3; i++) {
		msg_chunk(&m, 1, 2, 20 * 1024, (uint8_t)i);
		send_ok(&a, &m);
	}
	msg_chunk(&m, 1, 2, 20 * 1024, 9);
	ck_assert_int_eq(transport_send(a.t, &m), -1);
	raft_wire_msg_free(&m);
	/* control: 4 fit, 6 dropped */
	for (i = 1; i <= 10; i++) {
		msg_heartbeat(&m, 1, 2, i);
		ck_assert_int_eq(transport_send(a.t, &m), i <= 4 ? 0 : -1);
	}
	ck_assert_int_eq(transport_stats(a.t, 2, &st), 0);
	ck_assert(!st.connected);
	ck_assert_uint_eq(st.dropped_msgs, 7);
	ck_assert_uint_eq(st.queued_msgs, 7);
	ck_assert_uint_gt(st.queued_bytes, 3 * 20 * 1024);

	node_start(&b, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(b.t, 1, "127.0.0.1", a.port), 0);
	ck_assert(wait_recv(&b, 7, 5000));
	run_for(50);
	ck_assert_uint_eq(b.n_recv, 7);
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(b.recs[i].type, RAFT_MSG_HEARTBEAT);
		ck_assert(b.recs[i].seq == i + 1);
	}
	for (i = 4; i < 7; i++) {
		ck_assert_uint_eq(b.recs[i].type, RAFT_MSG_SNAPSHOT);
		ck_assert_uint_eq(b.recs[i].first, i - 4);
		ck_assert_uint_eq(b.recs[i].len, 20 * 1024);
	}
	ck_assert_int_eq(transport_stats(a.t, 2, &st), 0);
	ck_assert_uint_eq(st.queued_msgs, 0);
	ck_assert_uint_eq(st.sent_msgs, 7);
	node_stop(&a);
	node_stop(&b);
}
END_TEST

/* a big snapshot chunk crosses intact */
START_TEST(large_message)
{
	struct node a, b;
	struct raft_msg m;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	msg_chunk(&m, 1, 2, 8u * 1024 * 1024, 0xab);
	send_ok(&a, &m);
	msg_heartbeat(&m, 1, 2, 5);
	send_ok(&a, &m);
	ck_assert(wait_recv(&b, 2, 10000));
	ck_assert_uint_eq(b.recs[1].type, RAFT_MSG_SNAPSHOT);
	ck_assert_uint_eq(b.recs[1].len, 8u * 1024 * 1024);
	ck_assert_uint_eq(b.recs[1].first, 0xab);
	node_stop(&a);
	node_stop(&b);
}
END_TEST

struct pem {
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
};

static char *
bio_string(BIO *bio, size_t *len)
{
	char *p, *s;
	long n = BIO_get_mem_data(bio, &p);

	ck_assert_int_gt(n, 0);
	s = malloc((size_t)n + 1);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	*len = (size_t)n;
	return s;
}

/* a self-signed P-256 certificate for IP 127.0.0.1 */
static void
make_cert(struct pem *out, long serial)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_NAME *name;
	EVP_PKEY *pk;
	X509 *x;
	BIO *bio;

	pk = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(pk);
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"insidb test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, pk, EVP_sha256()), 0);

	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
	out->cert = bio_string(bio, &out->cert_len);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
	out->key = bio_string(bio, &out->key_len);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void
tls_opts(struct transport_tls *tls, const struct pem *own, const struct pem *ca,
    bool skip_verify)
{
	memset(tls, 0, sizeof(*tls));
	tls->cert_pem = own->cert;
	tls->cert_len = own->cert_len;
	tls->key_pem = own->key;
	tls->key_len = own->key_len;
	tls->ca_pem = ca->cert;
	tls->ca_len = ca->cert_len;
	tls->skip_verify = skip_verify;
}

START_TEST(tls_exchange_and_verification)
{
	struct transport_tls tls_ok, tls_other, tls_skip, bad;
	struct node a, b, c, d;
	struct pem good, other;
	struct raft_msg m;
	int fd;

	make_cert(&good, 1);
	make_cert(&other, 2);
	tls_opts(&tls_ok, &good, &good, false);
	/* c's own certificate is not trusted by a, and c trusts another CA */
	tls_opts(&tls_other, &other, &other, false);
	/* d trusts another CA but does not verify */
	tls_opts(&tls_skip, &good, &other, true);

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_listen(&c, 3);
	node_listen(&d, 4);
	node_start(&a, SECRET, &tls_ok, NULL);
	node_start(&b, SECRET, &tls_ok, NULL);
	node_start(&c, SECRET, &tls_other, NULL);
	node_start(&d, SECRET, &tls_skip, NULL);
	link_nodes(&a, &b);
	ck_assert_int_eq(transport_add_peer(a.t, 3, "127.0.0.1", c.port), 0);
	ck_assert_int_eq(transport_add_peer(c.t, 1, "127.0.0.1", a.port), 0);
	ck_assert_int_eq(transport_add_peer(a.t, 4, "127.0.0.1", d.port), 0);
	ck_assert_int_eq(transport_add_peer(d.t, 1, "127.0.0.1", a.port), 0);

	msg_append(&m, 1, 2, 2, 'x');
	send_ok(&a, &m);
	msg_heartbeat(&m, 2, 1, 11);
	send_ok(&b, &m);
	msg_heartbeat(&m, 3, 1, 12);
	send_ok(&c, &m);
	msg_heartbeat(&m, 4, 1, 13);
	send_ok(&d, &m);
	ck_assert(wait_recv(&b, 1, 5000));
	ck_assert_uint_eq(b.recs[0].first, 'x');
	/* from b and from d (which skips verification) */
	ck_assert(wait_recv(&a, 2, 5000));
	ck_assert(wait_refused(a.t, 1, 5000)); /* c's aborted handshake */
	run_for(200);
	ck_assert_uint_eq(a.n_recv, 2);
	ck_assert(a.recs[0].from != 3 && a.recs[1].from != 3);
	ck_assert(!transport_peer_connected(c.t, 1));
	ck_assert(!transport_peer_connected(a.t, 3));
	ck_assert(transport_peer_connected(d.t, 1));

	/* plain bytes on the TLS port */
	fd = raw_connect(b.port);
	ck_assert_int_eq(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
	ck_assert(wait_for(raw_closed, &fd, 5000));
	close(fd);

	/* a key that does not match the certificate is refused at start */
	tls_opts(&bad, &good, &good, false);
	bad.key_pem = other.key;
	bad.key_len = other.key_len;
	ck_assert_ptr_null(
	    transport_new(base, -1, 9, SECRET, &bad, NULL, on_recv, &a));

	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
	node_stop(&d);
	free(good.cert);
	free(good.key);
	free(other.cert);
	free(other.key);
}
END_TEST

/* new TLS material applies to new connections; bad material is refused */
START_TEST(tls_reload)
{
	struct transport_tls tls_ok, tls_other, tls_trust_other, bad;
	struct pem good, other;
	struct node a, b;
	struct raft_msg m;

	make_cert(&good, 3);
	make_cert(&other, 4);
	tls_opts(&tls_ok, &good, &good, false);
	tls_opts(&tls_other, &other, &other, false);
	tls_opts(&tls_trust_other, &good, &other, false);
	tls_opts(&bad, &good, &good, false);
	bad.key_pem = other.key;
	bad.key_len = other.key_len;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, &tls_ok, NULL);
	node_start(&b, SECRET, &tls_ok, NULL);
	link_nodes(&a, &b);
	msg_heartbeat(&m, 1, 2, 1);
	send_ok(&a, &m);
	ck_assert(wait_recv(&b, 1, 5000));

	ck_assert_int_eq(transport_set_tls(b.t, &bad), -1);
	ck_assert_int_eq(transport_set_tls(b.t, &tls_other), 0);
	/* the connection that is up keeps going */
	msg_heartbeat(&m, 1, 2, 2);
	send_ok(&a, &m);
	ck_assert(wait_recv(&b, 2, 5000));
	/* a new one meets b's new certificate, which a does not trust */
	ck_assert_int_eq(transport_remove_peer(a.t, 2), 0);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", b.port), 0);
	msg_heartbeat(&m, 1, 2, 3);
	send_ok(&a, &m);
	ck_assert(wait_refused(b.t, 1, 5000));
	ck_assert(!transport_peer_connected(a.t, 2));
	ck_assert_uint_eq(b.n_recv, 2);
	/* until a trusts it: the next redial gets through */
	ck_assert_int_eq(transport_set_tls(a.t, &tls_trust_other), 0);
	ck_assert(wait_recv(&b, 3, 5000));
	ck_assert(b.recs[2].seq == 3);
	node_stop(&a);
	node_stop(&b);
	free(good.cert);
	free(good.key);
	free(other.cert);
	free(other.key);
}
END_TEST

/* strangers holding every slot make room for a peer */
START_TEST(flood_evicts_strangers)
{
	struct transport_options o;
	struct node a, b;
	struct raft_msg m;
	int fd[3], i;

	transport_options_default(&o);
	o.max_inbound = 2;
	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, &o);
	for (i = 0; i < 3; i++)
		fd[i] = raw_connect(a.port);
	/* the third stranger pushes the first out */
	ck_assert(wait_for(raw_closed, &fd[0], 2000));
	ck_assert_uint_eq(transport_refused(a.t), 1);
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	msg_heartbeat(&m, 2, 1, 1);
	send_ok(&b, &m);
	ck_assert(wait_recv(&a, 1, 2000));
	ck_assert(wait_for(raw_closed, &fd[1], 2000));
	for (i = 0; i < 3; i++)
		close(fd[i]);
	node_stop(&a);
	node_stop(&b);
}
END_TEST

struct accepts {
	int lfd;
	int n;
	uint64_t at[8];
};

/* accepts and at once closes every connection, noting when */
static bool
accepted_enough(void *arg)
{
	struct accepts *a = arg;
	int fd;

	while (a->n < 8 &&
	    (fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		a->at[a->n++] = now_ms();
		close(fd);
	}
	return a->n >= 7;
}

/* redials after failures wait longer each time, up to the maximum */
START_TEST(redial_backoff)
{
	struct transport_options o;
	struct accepts acc;
	struct node a;
	uint16_t port;
	uint64_t gap;
	int i;

	transport_options_default(&o);
	o.backoff_min_ms = 40;
	o.backoff_max_ms = 160;
	node_listen(&a, 1);
	node_start(&a, SECRET, NULL, &o);
	memset(&acc, 0, sizeof(acc));
	acc.lfd = listen_on(0, &port);
	ck_assert_int_eq(fcntl(acc.lfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "127.0.0.1", port), 0);
	ck_assert(wait_for(accepted_enough, &acc, 5000));
	/* expected gaps: 40, 80, 160, 160, 160, 160 */
	for (i = 1; i < 7; i++) {
		uint64_t want = i >= 3 ? 160 : 40u << (i - 1);

		gap = acc.at[i] - acc.at[i - 1];
		ck_assert_msg(gap + 5 >= want && gap <= want * 3 + 200,
		    "redial %d after %llu ms, expected about %llu", i,
		    (unsigned long long)gap, (unsigned long long)want);
	}
	close(acc.lfd);
	node_stop(&a);
}
END_TEST

/* a connection that never says anything is closed at the auth timeout */
START_TEST(silent_client_times_out)
{
	struct transport_options o;
	struct node a;
	uint64_t t0;
	int fd;

	transport_options_default(&o);
	o.auth_timeout_ms = 200;
	node_listen(&a, 1);
	node_start(&a, SECRET, NULL, &o);
	fd = raw_connect(a.port);
	t0 = now_ms();
	ck_assert(wait_for(raw_closed, &fd, 3000));
	ck_assert_uint_ge(now_ms() - t0, 150);
	ck_assert_uint_eq(transport_refused(a.t), 1);
	close(fd);
	node_stop(&a);
}
END_TEST

/* many small messages in one burst: all delivered, in order */
START_TEST(burst_in_order)
{
	struct node a, b;
	struct raft_msg m;
	uint32_t i;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	for (i = 0; i < 400; i++) {
		msg_heartbeat(&m, 1, 2, i);
		send_ok(&a, &m);
	}
	ck_assert(wait_recv(&b, 400, 5000));
	for (i = 0; i < 400; i++)
		ck_assert(b.recs[i].seq == i);
	node_stop(&a);
	node_stop(&b);
}
END_TEST

static struct transport *remover;

static void
on_recv_remove(uint64_t from, const struct raft_msg *m, void *arg)
{
	on_recv(from, m, arg);
	ck_assert_int_eq(transport_remove_peer(remover, from), 0);
}

/* the callback forgets the sender while its connection is delivering */
START_TEST(remove_peer_from_callback)
{
	struct node a, b;
	struct raft_msg m;
	int i;

	node_listen(&a, 1);
	node_listen(&b, 2);
	a.t = transport_new(
	    base, a.lfd, 1, SECRET, NULL, NULL, on_recv_remove, &a);
	ck_assert_ptr_nonnull(a.t);
	remover = a.t;
	node_start(&b, SECRET, NULL, NULL);
	link_nodes(&a, &b);
	/* several in one read: the ones after the removal are not delivered */
	for (i = 0; i < 5; i++) {
		msg_heartbeat(&m, 2, 1, (uint64_t)i);
		send_ok(&b, &m);
	}
	ck_assert(wait_recv(&a, 1, 5000));
	run_for(300);
	ck_assert_uint_eq(a.n_recv, 1);
	ck_assert_int_eq(transport_remove_peer(a.t, 2), -1);
	/* b redials and is now a stranger */
	ck_assert(wait_refused(a.t, 1, 5000));
	ck_assert(!transport_peer_connected(b.t, 1));
	node_stop(&a);
	node_stop(&b);
}
END_TEST

/* a peer given by name is resolved (from /etc/hosts here) */
START_TEST(peer_by_name)
{
	struct node a, b;
	struct raft_msg m;

	node_listen(&a, 1);
	node_listen(&b, 2);
	node_start(&a, SECRET, NULL, NULL);
	node_start(&b, SECRET, NULL, NULL);
	ck_assert_int_eq(transport_add_peer(a.t, 2, "localhost", b.port), 0);
	ck_assert_int_eq(transport_add_peer(b.t, 1, "localhost", a.port), 0);
	msg_heartbeat(&m, 1, 2, 3);
	send_ok(&a, &m);
	ck_assert(wait_recv(&b, 1, 5000));
	node_stop(&a);
	node_stop(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("transport");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exchange_three_nodes);
	tcase_add_test(tc, driver_messages_both_ways);
	tcase_add_test(tc, bad_arguments_refused);
	tcase_add_test(tc, wrong_secret_refused);
	tcase_add_test(tc, unknown_node_refused);
	tcase_add_test(tc, garbage_refused);
	tcase_add_test(tc, handshake_by_hand_and_forged_sender);
	tcase_add_test(tc, reconnect_after_listener_restart);
	tcase_add_test(tc, queue_bound_and_control_first);
	tcase_add_test(tc, large_message);
	tcase_add_test(tc, tls_exchange_and_verification);
	tcase_add_test(tc, tls_reload);
	tcase_add_test(tc, redial_backoff);
	tcase_add_test(tc, silent_client_times_out);
	tcase_add_test(tc, flood_evicts_strangers);
	tcase_add_test(tc, burst_in_order);
	tcase_add_test(tc, remove_peer_from_callback);
	tcase_add_test(tc, peer_by_name);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
