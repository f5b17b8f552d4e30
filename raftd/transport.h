/*
 * The Raft peer transport: framed Raft messages between the raftd processes
 * of the cluster's nodes, over TCP on raft_binding, optionally TLS.
 *
 * One libevent loop, no threads.  Every node dials each configured peer
 * once and uses that outbound connection only to send; what a peer sends
 * arrives on the connection it dialed to us, and is handed to the receive
 * callback.  Every connection, both ways, is authenticated mutually with the
 * instance secret (raftd/peer_auth.h) before anything else is accepted; the
 * node id a peer proves must be one added with transport_add_peer(), and the
 * sender of every Raft message must be that id.  A stranger (wrong secret,
 * unknown id, garbage, oversized frame, no proof within auth_timeout_ms) is
 * disconnected, counted and logged at a bounded rate.
 *
 * Frames: proto/msg.h header + payload; MSG_PEER_HELLO, MSG_PEER_AUTH, then
 * MSG_PEER_RAFT (proto/raft_wire.h).  Before authentication a frame may
 * carry at most TRANSPORT_AUTH_FRAME_MAX payload bytes, afterwards at most
 * RAFT_WIRE_MAX_BYTES.
 *
 * Sending never blocks: a message is encoded at once into the per-peer
 * queue of its class and the caller keeps its struct.  Control messages
 * (votes, heartbeats, responses, timeout-now) go ahead of bulk ones (appends
 * and snapshot chunks, kept in order among themselves), so a heartbeat waits
 * at most behind output_hwm bytes and one bulk frame.  A full queue drops
 * the new message and counts it: Raft resends.  Messages queued while a
 * peer is unreachable are sent once it connects (still bounded).
 */
#ifndef RAFTD_TRANSPORT_H
#define RAFTD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftd/core/raft.h"
#include "raftd/peer_tls.h"

#define TRANSPORT_AUTH_FRAME_MAX 128

struct event_base;
struct transport;

struct transport_options {
	uint32_t queue_msgs; /* per peer and class; default 1024 */
	/* per peer and class; default 32 MiB; a bigger message never fits */
	size_t queue_bytes;
	size_t output_hwm; /* bytes handed to a socket at once; 1 MiB */
	uint32_t backoff_min_ms; /* first redial delay; 100 */
	uint32_t backoff_max_ms; /* doubling up to; 2000 */
	uint32_t auth_timeout_ms; /* connect + TLS + proof; 5000 */
	uint32_t write_timeout_ms; /* no progress on pending output; 10000 */
	uint32_t max_inbound; /* accepted connections at once; 64 */
};

struct transport_peer_stats {
	bool connected; /* outbound connection authenticated */
	uint64_t connects; /* outbound authentications so far */
	uint64_t sent_msgs; /* handed to the socket */
	uint64_t sent_bytes;
	uint64_t dropped_msgs; /* queue full, or refused by the encoder */
	uint64_t queued_msgs; /* waiting, both classes */
	uint64_t queued_bytes;
	uint64_t recv_msgs; /* delivered to the callback */
};

/*
 * m is valid during the call only (copy it with raft_msg_copy()).  The
 * callback may call transport_send/add_peer/remove_peer, not
 * transport_free.
 */
typedef void (*transport_recv_cb)(
    uint64_t from, const struct raft_msg *m, void *arg);

void transport_options_default(struct transport_options *);

/*
 * listen_fd: a socket already listening on raft_binding (inherited; the
 * transport makes it non-blocking and never closes it), or -1 to accept
 * nothing.  secret: the instance secret (copied no further than the derived
 * key).  tls: NULL for plain TCP; else the PEM bytes, loaded at once and not
 * kept (cert and key required; ca NULL: the system trust store).  opt: NULL
 * for the defaults.  NULL when the TLS material does not load or an
 * argument is bad (logged).  The resolver for peer names reads
 * /etc/resolv.conf and /etc/hosts here: call it before entering a jail.
 */
struct transport *transport_new(struct event_base *base, int listen_fd,
    uint64_t self_id, const char *secret, const struct transport_tls *tls,
    const struct transport_options *opt, transport_recv_cb cb, void *arg);
void transport_free(struct transport *);

/*
 * new TLS material (tls.* reload; NULL: plain TCP) for connections made
 * from now on; connections already up keep theirs.  -1 when it does not
 * load: the old material stays.
 */
int transport_set_tls(struct transport *, const struct transport_tls *);

/*
 * a peer to dial at host (a name, resolved with evdns, or an IP literal;
 * also the name its certificate must carry) and port, and to accept
 * connections from; dialing starts at once.  -1 for id 0, our own id, a
 * known id, more than RAFT_MAX_NODES peers, an empty host or port 0.
 */
int transport_add_peer(
    struct transport *, uint64_t id, const char *host, uint16_t port);
/* forgets the peer: drops its queue and closes its connections; -1 if unknown */
int transport_remove_peer(struct transport *, uint64_t id);

/*
 * queues m for m->to; m->from must be our id.  0 when queued; -1 when not
 * (unknown peer, bad message, queue full: counted in dropped_msgs).
 */
int transport_send(struct transport *, const struct raft_msg *m);

/*
 * Driver messages beside Raft's own (a follower's read index request, a
 * removal notice): opaque bytes, at most TRANSPORT_CTL_MAX, queued in the
 * control class so they never wait behind bulk appends.  0 when queued.
 */
#define TRANSPORT_CTL_MAX 256
typedef void (*transport_ctl_cb)(
    uint64_t from, const uint8_t *buf, size_t len, void *arg);
void transport_set_ctl_cb(struct transport *, transport_ctl_cb, void *arg);
int transport_send_ctl(
    struct transport *, uint64_t to, const void *buf, size_t len);

bool transport_peer_connected(const struct transport *, uint64_t id);
/* 0 and *out filled, -1 for an unknown peer */
int transport_stats(
    const struct transport *, uint64_t id, struct transport_peer_stats *out);
/* connections and frames refused since the start (strangers and garbage) */
uint64_t transport_refused(const struct transport *);

#endif
