/*
 * Internals shared by transport.c (peers, queues, dialing) and
 * transport_conn.c (one connection: framing, authentication, receiving).
 */
#ifndef RAFTD_TRANSPORT_INT_H
#define RAFTD_TRANSPORT_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <time.h>

#include <event2/util.h>

#include <openssl/ssl.h>

#include "raftd/peer_auth.h"
#include "raftd/transport.h"

/* frames handled per read callback before yielding to the loop */
#define TRANSPORT_FRAMES_PER_READ 64
/* refusal log lines per second */
#define TRANSPORT_LOG_BURST 5

struct bufferevent;
struct event;
struct evconnlistener;
struct evdns_base;
struct evdns_getaddrinfo_request;

struct frame {
	STAILQ_ENTRY(frame) entry;
	size_t len;
	uint8_t *data; /* header + payload */
};

struct sendq {
	STAILQ_HEAD(, frame) frames;
	uint32_t n;
	size_t bytes;
};

enum conn_state {
	CONN_HELLO, /* waiting for the other end's HELLO */
	CONN_AUTH, /* waiting for its AUTH */
	CONN_READY,
};

struct conn {
	TAILQ_ENTRY(conn) entry; /* inbound connections only */
	struct transport *t;
	struct peer *peer; /* outbound: whom we dialed; NULL once detached */
	struct bufferevent *bev;
	struct event *more; /* frames left over from a read callback */
	bool outbound;
	int state;
	uint64_t id; /* the other node: expected (outbound), claimed */
	uint8_t nonce[PEER_NONCE_LEN];
	uint8_t their_nonce[PEER_NONCE_LEN];
	bool busy; /* inside its read callback: free later */
	bool dead;
	char addr[64];
};

struct dns_ticket {
	struct peer *p; /* NULL once the peer gave the lookup up */
	struct evdns_getaddrinfo_request *req;
};

struct peer {
	struct transport *t;
	uint64_t id;
	char *host;
	uint16_t port;
	struct conn *out;
	struct event *redial;
	struct dns_ticket *dns;
	uint32_t backoff_ms;
	struct sendq ctl;
	struct sendq bulk;
	struct transport_peer_stats st;
	bool warned; /* unreachable logged since the last connection */
};

struct transport {
	struct event_base *base;
	struct evconnlistener *lev;
	struct event *accept_pause;
	struct evdns_base *dns;
	SSL_CTX *server_ctx;
	SSL_CTX *client_ctx;
	bool verify;
	uint64_t self;
	uint8_t key[PEER_KEY_LEN];
	struct transport_options opt;
	transport_recv_cb cb;
	void *arg;
	transport_ctl_cb ctl_cb;
	void *ctl_arg;
	struct peer *peers[RAFT_MAX_NODES];
	uint32_t n_peers;
	TAILQ_HEAD(, conn) inbound;
	uint32_t n_inbound;
	uint64_t refused;
	time_t log_sec;
	uint32_t log_n;
	uint64_t log_suppressed;
};

void transport_log_refusal(struct transport *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
struct peer *transport_find_peer(const struct transport *, uint64_t id);
void transport_peer_flush(struct peer *);
void transport_peer_dial(struct peer *);
void transport_peer_schedule_dial(struct peer *);

void transport_conn_connect(struct peer *, const struct sockaddr *, socklen_t);
void transport_conn_accept_cb(struct evconnlistener *, evutil_socket_t fd,
    struct sockaddr *, int socklen, void *arg);
/* closes now, or once its read callback returns */
void transport_conn_close(struct conn *);
void transport_conn_free(struct conn *);

#endif
