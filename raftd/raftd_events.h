/*
 * The applied-event stream of raftd (ARCHITECTURE.md §2): every publish
 * that apply accepted gets the next per-process sequence number and waits
 * in a bounded ring until apid fetches it with MSG_RAFT_EVENTS (a
 * long-poll, proto/msg.h), so nothing is lost between the two processes
 * unless apid falls behind by more than the ring holds (then counted as
 * lost in the reply).
 */
#ifndef RAFTD_RAFTD_EVENTS_H
#define RAFTD_RAFTD_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/ipc.h"

/* events the ring holds at most, and their bytes */
#define RAFTD_EVENTS_RING 4096
#define RAFTD_EVENTS_RING_BYTES (16u << 20)
/* open long-polls at most; more are answered at once */
#define RAFTD_EVENTS_WAIT_MAX 8
#define RAFTD_EVENTS_WAIT_MS 1000
/* payload of one reply at most (one event always fits) */
#define RAFTD_EVENTS_REPLY_BYTES (1u << 20)

struct raftd_events;

struct raftd_events *raftd_events_new(int64_t replay_window_ms);
void raftd_events_free(struct raftd_events *);
/* an applied entry (encoded command): kept when it is a publish */
void raftd_events_applied(struct raftd_events *, const uint8_t *, size_t);
/* MSG_RAFT_EVENTS from apid: answered now or when events come */
void raftd_events_request(
    struct raftd_events *, struct ipc_rctx *, const uint8_t *, size_t);
/* answers waiters: all of them (stopping) or those past their time */
void raftd_events_tick(struct raftd_events *, bool all);

#endif
