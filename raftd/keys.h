/*
 * Key layout of raftd's RocksDB database (one per node, at <node>/raft).
 *
 * Column families and their keys:
 *   log    u64 big-endian index -> u64 term, u8 entry type (enum
 *          raft_entry_type), payload bytes (rlog.c)
 *   raft   the driver's records (node_store.c):
 *     "hs"       u64 term, u64 vote, u64 commit
 *     "base"     u64 index, u64 term: the log holds entries after it
 *     "snap"     u64 index, u64 term, bytes membership (raft_config_encode)
 *     "snapdata" the snapshot's serialised state (node_snap.c)
 *     "install"  a snapshot install in progress: the "snap" record, then
 *                the data; present only between its two writes
 *     "removed"  "1": this node was removed from the cluster
 *   kv     user values and internal records, below
 *   cache  cache entries, same user layout as kv
 *   meta   "applied" -> u64 index, u64 term of the last applied entry
 *   blob   blob metadata (API.md §13, raftd/fsm_blobs.h), one record per
 *          blob, live or tombstoned, under the user layout:
 *          <scope> ':' <blob key> -> u8 state (0 live, 1 tombstoned),
 *          i64 uploaded_at, i64 tombstoned_at (0 while live), then the
 *          CMD_BLOB_PUT value fields as proposed: str owner_uuid,
 *          str node_id, str node_identity_uuid, u64 size, str hash,
 *          str original_name, str content_type
 *
 * Inside kv (and cache):
 *   <scope> ':' <user key>           a user value, the value bytes as is
 *   0x00 <kind> <scope>              an internal record of a scope:
 *     kind 'u'  usage:  u64 bytes_on_disk, u64 bytes_in_memory,
 *                       u64 events_emitted, u64 subscribers
 *     kind 'l'  limits: u8 mask of present members, then 6 * u64 in the
 *                       order of API.md §7.4 (absent record = unlimited)
 *
 * A scope is [A-Za-z0-9_-]{1,64}: it never contains ':' and never starts
 * with 0x00, so no user key can produce an internal record, and the user
 * keys of scope "a" ("a:...") never share a prefix with those of "ab".
 * Integers are big-endian so that log keys sort by index.
 */
#ifndef RAFTD_KEYS_H
#define RAFTD_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.h"

#define KEYS_USER_KEY_MAX 4096
#define KEYS_MAX (2 + CMD_SCOPE_MAX + KEYS_USER_KEY_MAX)
#define KEYS_LOG_LEN 8

#define KEYS_KIND_USAGE 'u'
#define KEYS_KIND_LIMITS 'l'

#define KEYS_META_APPLIED "applied"

#define KEYS_RAFT_HARD_STATE "hs"
#define KEYS_RAFT_BASE "base"
#define KEYS_RAFT_SNAP "snap"
#define KEYS_RAFT_SNAPDATA "snapdata"
#define KEYS_RAFT_INSTALL "install"
#define KEYS_RAFT_REMOVED "removed"

struct keybuf {
	uint8_t b[KEYS_MAX];
	size_t len;
};

/* [A-Za-z0-9_-]{1,64} */
bool keys_scope_valid(const char *scope);
/* <scope>:<key>; -1 when the key is longer than KEYS_USER_KEY_MAX */
int keys_user(
    struct keybuf *, const char *scope, const uint8_t *key, size_t key_len);
/* 0x00 <kind> <scope> */
void keys_internal(struct keybuf *, uint8_t kind, const char *scope);
/*
 * the smallest key greater than every key starting with `k`: the exclusive
 * upper bound of a prefix scan; -1 when no such key exists (all 0xff)
 */
int keys_prefix_end(const struct keybuf *k, struct keybuf *end);
void keys_log(uint8_t out[KEYS_LOG_LEN], uint64_t index);
uint64_t keys_log_index(const uint8_t *key, size_t len);

void keys_put_u64(uint8_t *out, uint64_t);
uint64_t keys_get_u64(const uint8_t *in);

#endif
