/*
 * NNG IPC channels driven from a libevent loop.  NNG completes I/O on its
 * own threads; every completion is queued and handed to the owning loop
 * with event_active(), so callbacks below always run on the loop thread and
 * daemon state is touched by exactly one thread.
 *
 * evthread_use_pthreads() must have been called before the event_base was
 * created.  Every message is a proto_hdr followed by its payload.
 *
 * Channel kinds:
 *   pair  - bidirectional, one peer (supervisor <-> role)
 *   rep   - server; each request gets exactly one ipc_reply(), possibly
 *           later (at most `nctx` requests are open at once)
 *   req   - client; ipc_call() with a callback and a timeout; at most
 *           `max_outstanding` calls in flight (NNG resend disabled: commands
 *           are not idempotent)
 *
 * Listeners check the peer of every new pipe: uid must equal the allowed
 * uid and, when a pid list is set, the pid must be in it.
 */
#ifndef COMMON_IPC_H
#define COMMON_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "proto/msg.h"

struct ipc; /* per-process context bound to one event_base */
struct ipc_chan; /* one NNG socket */
struct ipc_rctx; /* an open request on a rep channel */

struct ipc_msg {
	struct proto_hdr hdr;
	const uint8_t *payload; /* valid during the callback only */
	size_t len;
	struct ipc_rctx *rctx; /* rep channels: reply exactly once */
};

/* pair and rep channels: a message arrived */
typedef void (*ipc_recv_cb)(struct ipc_chan *, struct ipc_msg *, void *arg);
/* req channels: err is 0, or ETIMEDOUT / ECONNREFUSED / EIO; msg NULL then */
typedef void (*ipc_resp_cb)(int err, struct ipc_msg *, void *arg);

struct ipc *ipc_new(struct event_base *);
void ipc_free(struct ipc *);

/* abstract-namespace url of a channel for this node */
void ipc_url(char *buf, size_t len, const char *insid_home, const char *node_id,
    const char *channel);

struct ipc_chan *
ipc_pair_listen(struct ipc *, const char *url, ipc_recv_cb, void *arg);
struct ipc_chan *
ipc_pair_dial(struct ipc *, const char *url, ipc_recv_cb, void *arg);
/* pair: queue a message; -1 when the send buffer is full or closed */
int ipc_send(struct ipc_chan *, uint16_t type, uint64_t corr,
    const void *payload, size_t len);

struct ipc_chan *
ipc_rep_listen(struct ipc *, const char *url, int nctx, ipc_recv_cb, void *arg);
/* answers the request (reply type is usually the request type) and frees
 * rctx; safe to call from the loop thread only */
int
ipc_reply(struct ipc_rctx *, uint16_t type, const void *payload, size_t len);

struct ipc_chan *
ipc_req_dial(struct ipc *, const char *url, int max_outstanding);
/* -1 (errno EAGAIN) when max_outstanding calls are already in flight */
int ipc_call(struct ipc_chan *, uint16_t type, const void *payload, size_t len,
    int timeout_ms, ipc_resp_cb, void *arg);

/* allowed peer of a listening channel (default: our own uid, any pid) */
void
ipc_set_peer(struct ipc_chan *, uid_t uid, const pid_t *pids, size_t npids);

void ipc_close(struct ipc_chan *);

#endif
