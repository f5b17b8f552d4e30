/*
 * Snapshots of the replicated state: the state column families (kv,
 * cache, meta, blob; never log or raft) serialised into one byte string,
 * since the consensus core holds a snapshot as one in-memory buffer.
 *
 * Format: u8 version (1), then records until the end: u8 column family
 * (enum store_cf), bytes key, bytes value (proto/codec.h encoding).  The
 * whole string is bounded by NODE_SNAP_MAX: a state larger than that
 * cannot be snapshotted yet (the log then keeps growing; logged).
 *
 * Stored in the raft column family: "snap" (index, term, membership) and
 * "snapdata" (the string), so a restarted leader can still send it.
 * Installing one first records "install" durably, then replaces the state
 * and wipes the log in one synced write that also deletes the record; a
 * boot that finds the record redoes the install.
 */
#ifndef RAFTD_NODE_SNAP_H
#define RAFTD_NODE_SNAP_H

#include <stdint.h>

#include "raftd/core/raft.h"
#include "raftd/fsm.h"
#include "raftd/store.h"

#define NODE_SNAP_MAX (PROTO_MSG_MAX - 1024)

/* serialises the state CFs; -1 when larger than NODE_SNAP_MAX */
int node_snap_take(struct store *, uint8_t **data, uint64_t *len);
/* 0 when data is a well-formed snapshot string */
int node_snap_check(const uint8_t *data, uint64_t len);
/* stores a snapshot of our own state (synced) */
void node_snap_save(struct store *, const struct raft_snapshot_meta *,
    const uint8_t *data, uint64_t len);
/* replaces state and log by a received snapshot, crash-safe (above) */
void node_snap_install(struct store *, const struct raft_snapshot_meta *,
    const uint8_t *data, uint64_t len);
/* finishes an install a crash interrupted; 1 when it did */
int node_snap_redo(struct store *);
/* the stored snapshot: 1 with meta and data (malloc'd), 0 when none */
int node_snap_load(
    struct store *, struct raft_snapshot_meta *, uint8_t **data, uint64_t *len);

/*
 * insid --restore --force-new-cluster: applies what the stored log has
 * committed beyond the state, then turns the state into a snapshot whose
 * configuration is this node alone, with an empty log.  The node then
 * boots as a one-voter cluster holding the restored data.
 */
void node_snap_force_new_cluster(struct store *, struct fsm *, uint64_t id);

#endif
