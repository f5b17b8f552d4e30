/*
 * Wire encoding of Raft messages (raftd/core/raft.h struct raft_msg) for the
 * peer transport.  The payload of one MSG_PEER_RAFT frame is:
 *
 *   u8 type, u64 from, u64 to, u64 term, then by type:
 *   APPEND          u64 prev_index, u64 prev_term, u64 commit, u32 n,
 *                   n * (u64 term, u64 index, u8 type, bytes data)
 *   APPEND_RESP     u8 reject, u64 index, u64 hint_index, u64 hint_term
 *   VOTE, PREVOTE   u64 index, u64 log_term, u8 force
 *   VOTE_RESP, PREVOTE_RESP  u8 reject
 *   HEARTBEAT       u64 commit, u64 seq
 *   HEARTBEAT_RESP  u64 seq, u64 index
 *   SNAPSHOT        u64 snap.index, u64 snap.term, u8 n,
 *                   n * (u64 id, u8 role, u8 promote),
 *                   u64 offset, u64 total, bytes data
 *   SNAPSHOT_RESP   u64 index, u64 offset, u8 reject
 *   TIMEOUT_NOW     nothing
 *
 * Fields a type does not use are zero after decoding.  Decoding treats its
 * input as hostile: every length and count is checked against the bounds
 * below before anything is allocated.
 */
#ifndef PROTO_RAFT_WIRE_H
#define PROTO_RAFT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "raftd/core/raft.h"

/* payload bytes of one encoded message; a frame adds PROTO_HDR_LEN */
#define RAFT_WIRE_MAX_BYTES (16u * 1024 * 1024)
/* entries in one APPEND */
#define RAFT_WIRE_MAX_ENTRIES 8192u

struct pbuf;

/*
 * Appends the payload encoding of m to b.  0 on success; -1 when m breaks
 * a bound (unknown type, too many entries or servers, result larger than
 * RAFT_WIRE_MAX_BYTES) or on allocation failure; b is then left as it was.
 */
int raft_wire_encode(struct pbuf *b, const struct raft_msg *m);

/*
 * Decodes one payload.  0 and *m filled: m owns its entries, their data
 * and its snapshot data; release it with raft_wire_msg_free() (same layout
 * as raft_msg_free() expects).  -1 on any malformed input: *m is then zeroed
 * and owns nothing.
 */
int raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *m);

/* frees what a decoded message owns and zeroes those fields */
void raft_wire_msg_free(struct raft_msg *m);

/* true for messages that may wait behind others (appends and snapshots) */
int raft_wire_is_bulk(const struct raft_msg *m);

#endif
