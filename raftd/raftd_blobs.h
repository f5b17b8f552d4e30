/*
 * The applied-blob stream of raftd to its node's blobd (ARCHITECTURE.md
 * §2, §6): every applied CMD_BLOB_PUT that succeeded (PUT), every blob
 * record a purge removed (PURGE: blob GC or a deleted key's cleanup) and
 * every installed snapshot (RESYNC) gets the next per-process sequence
 * number and waits in a bounded ring until blobd fetches it with
 * MSG_RAFT_BLOBS (a long-poll, proto/msg.h).  Records that leave the ring
 * before blobd fetched them are counted as lost in the reply; blobd then
 * runs its repair pass, as it does when the epoch changes (raftd
 * restarted) or on RESYNC.
 */
#ifndef RAFTD_RAFTD_BLOBS_H
#define RAFTD_RAFTD_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftd/fsm.h"

/* records the ring holds at most, and their bytes */
#define RAFTD_BLOBS_RING 8192
#define RAFTD_BLOBS_RING_BYTES (16u << 20)
/* open long-polls at most; more are answered at once */
#define RAFTD_BLOBS_WAIT_MAX 8
#define RAFTD_BLOBS_WAIT_MS 1000
/* payload of one reply at most (one record always fits) */
#define RAFTD_BLOBS_REPLY_BYTES (1u << 20)

struct raftd_blobs;

/* answers one request: ipc_reply() of MSG_RAFT_BLOBS unless replaced */
typedef void (*raftd_blobs_reply_fn)(void *waiter, const uint8_t *, size_t);

struct raftd_blobs *raftd_blobs_new(void);
void raftd_blobs_free(struct raftd_blobs *);
/* tests: another way of answering (waiters are then opaque pointers) */
void raftd_blobs_set_reply(struct raftd_blobs *, raftd_blobs_reply_fn);
uint64_t raftd_blobs_epoch(const struct raftd_blobs *);

/* an entry (encoded command) applied with ST_OK, and its result */
void raftd_blobs_applied(struct raftd_blobs *, const uint8_t *cmd, size_t len,
    const struct fsm_result *);
/* a snapshot replaced the state: blobd must look at everything again */
void raftd_blobs_resync(struct raftd_blobs *);
/* MSG_RAFT_BLOBS from blobd: answered now or when records come */
void raftd_blobs_request(
    struct raftd_blobs *, void *waiter, const uint8_t *, size_t);
/* answers waiters: all of them (stopping) or those past their time */
void raftd_blobs_tick(struct raftd_blobs *, bool all);

#endif
