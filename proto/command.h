/*
 * Commands of the replicated state machine, read requests and their results,
 * as they travel apid -> raftd and inside the Raft log.
 *
 * Wire form of a command:
 *   u16 type, i64 ts, str scope, bytes key, bytes value, bytes old_value,
 *   i64 num
 * Fields a type does not use are empty / zero.  `ts` is stamped by the
 * leader's raftd when it proposes (apid sends 0); apply uses only ts, never
 * the applying node's clock.
 */
#ifndef PROTO_COMMAND_H
#define PROTO_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

/* scopes are short identifiers (UUID or root_prefix) */
#define CMD_SCOPE_MAX 64

enum cmd_type {
	CMD_NONE = 0,
	CMD_KV_SET = 1, /* key, value */
	CMD_KV_DELETE = 2, /* key */
	CMD_KV_SETNX = 3, /* key, value */
	CMD_KV_CAS = 4, /* key, old_value, value (= new value) */
	CMD_KV_BUMP = 5, /* key, num = delta */
	/* cache family (API.md §12); expires_at = ts + ttl (raftd/fsm_cache.h) */
	CMD_CACHE_SET = 10, /* key, value, num = ttl in ms (> 0) */
	CMD_CACHE_SETNX = 11, /* key, value, num = ttl in ms (> 0) */
	CMD_CACHE_DELETE = 12, /* key */
	CMD_CACHE_CAS = 13, /* key, old_value, value (= new); keeps expiry */
	/* scope = the first entry's, no key; value = u32 n (<= 1000),
	 * n * (bytes scope, bytes key): removes those still expired at ts */
	CMD_CACHE_EXPIRE = 14,
	/*
	 * key, alias and limits families (API.md §3, §15, §16; records in
	 * raftd/fsm_keys.h); scope = the key's ds, uuids are 36 bytes
	 */
	/* key = key uuid, value = bytes key_name, bytes entity, bytes token */
	CMD_KEY_CREATE = 20,
	CMD_KEY_TOMBSTONE = 21, /* key = key uuid */
	/* key = key uuid: <= 1000 records; data u8 1 when the scope is empty */
	CMD_KEY_PURGE = 22,
	/* key = key uuid: removes the record; data u8 0 when data is left */
	CMD_KEY_FINISH = 23,
	/* key = parent uuid, value = bytes alias uuid, bytes token */
	CMD_ALIAS_CREATE = 24,
	/* key = alias uuid, old_value = the caller's key uuid */
	CMD_ALIAS_DELETE = 25,
	/* key = key uuid, value = u8 mask, 6 * u64 (members in mask set) */
	CMD_LIMITS_SET = 26,
	/*
	 * events (API.md §14.1, quota §7.3); emitted_at = ts.  key = topic
	 * (1-256 bytes, no NUL), value = data as sent (JSON text).  Refused:
	 * ST_EVENT_LIMIT, usage = events_emitted, limit, data = u64 end of
	 * the window (ns)
	 */
	CMD_EVENT_PUBLISH = 30,
	/*
	 * subscriber slots and shakes (API.md §14.5, §14.6).  node and
	 * incarnation are strings in value: str node id, str incarnation
	 * (UUID); session ids are 36-byte UUIDs in key.
	 */
	/* scope, key = session id, value = node, incarnation.  Refused:
	 * ST_SUBSCRIBER_LIMIT (usage, limit) or ST_SHAKE_BLOCKED */
	CMD_SLOT_ACQUIRE = 31,
	/* scope, key = session id, value = node, incarnation */
	CMD_SLOT_RELEASE = 32,
	/* value = node, incarnation: drops the node's other incarnations;
	 * scope = root_prefix (the command needs a scope, it has none) */
	CMD_SLOT_RESET = 33,
	/* scope, num = ms from ts the scope's slot requests are refused
	 * (1 .. 60000) */
	CMD_SHAKE_BEGIN = 34,
	/* scope, value = u32 n, n * str node id: drops those nodes'
	 * entries of the scope and lifts the block */
	CMD_SHAKE_END = 35,
	/* value = str node id: a removed node's entries go; scope as reset */
	CMD_SLOT_DROP_NODE = 36,
	/*
	 * blobs (API.md §13); uploaded_at / tombstoned at = ts.
	 * CMD_BLOB_PUT: scope, key, num = size, value = the metadata of
	 * §13.5 other than key, scope and uploaded_at: str owner_uuid,
	 * str node_id, str node_identity_uuid, u64 size, str hash (64
	 * lowercase hex), str original_name, str content_type.  Refused, in
	 * this order: ST_BLOB_TOMBSTONED, ST_KEY_EXISTS, ST_DISK_LIMIT.
	 */
	CMD_BLOB_PUT = 40,
	/* scope, key: ST_NOT_FOUND when absent or already tombstoned */
	CMD_BLOB_DELETE = 41,
	/* value = u32 n (<= 1024), n * (str scope, bytes key): removes those
	 * still tombstoned (GC, §13.7) */
	CMD_BLOB_PURGE = 42,
	CMD_TYPE_MAX
};

struct cmd {
	uint16_t type;
	int64_t ts;
	char scope[CMD_SCOPE_MAX + 1]; /* data scope */
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	const uint8_t *old_value;
	size_t old_value_len;
	int64_t num;
};

/* status of an applied command or a read; mapped to HTTP by apid */
enum cmd_status {
	ST_OK = 0,
	ST_NOT_FOUND = 1, /* read of an absent key; cas on absent key */
	ST_KEY_EXISTS = 2,
	ST_CAS_CONFLICT = 3,
	ST_DISK_LIMIT = 4, /* usage and limit set */
	ST_MEMORY_LIMIT = 5,
	ST_NOT_INTEGER = 6, /* bump: stored value not an integer */
	ST_OVERFLOW = 7, /* bump: int64 overflow */
	ST_BAD_COMMAND = 8, /* malformed or unknown command */
	ST_NO_LEADER = 9,
	ST_COMMIT_UNKNOWN = 10,
	ST_INTERNAL = 11, /* storage failure */
	ST_NOT_LEADER = 12, /* leader id in data */
	ST_ALIAS_LIMIT = 13, /* the key already has 16 aliases */
	ST_FORBIDDEN = 14, /* alias operation by another key */
	ST_ALIAS_NOT_FOUND = 15,
	ST_API_KEY_NOT_FOUND = 16,
	ST_EVENT_LIMIT = 17, /* events_emitted quota (§7.3) */
	ST_BLOB_TOMBSTONED = 18,
	ST_SUBSCRIBER_LIMIT = 19, /* usage and limit set */
	ST_SHAKE_BLOCKED = 20, /* a shake blocks the scope's slots */
};

struct cmd_result {
	uint16_t status;
	uint64_t usage; /* DISK/MEMORY_LIMIT: usage before the write */
	uint64_t limit;
	const uint8_t *data; /* bump result, leader id, ... */
	size_t data_len;
};

enum read_op {
	READ_KV_GET = 1, /* key */
	READ_KV_ITERATE = 2, /* key = prefix, offset, limit */
	READ_USAGE = 3, /* scope: usage counters */
	/* cache family: live entries only (expires_at > the node's clock) */
	READ_CACHE_GET = 10, /* key; result as READ_KV_GET */
	READ_CACHE_ITERATE = 11, /* as READ_KV_ITERATE */
	/* key, alias and limits families (results: raftd/fsm_keys_read.c) */
	READ_KEY = 20, /* key = key uuid: record, limits of its ds */
	READ_ALIAS = 21, /* key = alias uuid: record, parent's, limits */
	READ_ALIASES = 22, /* key = parent uuid: (uuid, token) oldest first */
	READ_LIMITS = 23, /* scope: limits record, 4 * u64 usage */
	READ_KEYS = 24, /* offset, limit: live keys in uuid order */
	/*
	 * blobs: GET answers bytes record (also for a tombstoned blob):
	 * u8 state (0 live, 1 tombstoned), i64 uploaded_at, i64
	 * tombstoned_at (0 when live), then the CMD_BLOB_PUT value fields
	 */
	READ_BLOB_GET = 30, /* key */
	READ_BLOB_ITERATE = 31, /* as READ_KV_ITERATE, live blobs only */
	/*
	 * every blob of every scope, for repair: scope not used (may be
	 * empty), key = cursor (empty at the start), limit <= 1000 (0: 1000).
	 * Result: u32 n, n * (str scope, bytes key, bytes record as
	 * READ_BLOB_GET), then bytes next cursor (empty at the end)
	 */
	READ_BLOB_SCAN = 32,
};

enum read_consistency {
	READ_LOCAL = 0,
	READ_LINEARIZABLE = 1,
};

/* u16 op, u8 consistency, str scope, bytes key, u64 offset, u64 limit */
struct read_req {
	uint16_t op;
	uint8_t consistency;
	char scope[CMD_SCOPE_MAX + 1];
	const uint8_t *key;
	size_t key_len;
	uint64_t offset;
	uint64_t limit;
};

/*
 * Read result: u16 status, u8 consistency given, then for GET bytes value,
 * for ITERATE u32 n and n * bytes key, for USAGE u64 bytes_on_disk,
 * u64 bytes_in_memory, u64 events_emitted, u64 subscribers.
 * Nothing follows the consistency byte when status is not ST_OK.
 */

void cmd_encode(struct pbuf *, const struct cmd *);
/* decoded pointers point into buf; 0 on success, -1 when malformed */
int cmd_decode(const uint8_t *buf, size_t len, struct cmd *);
const char *cmd_type_name(uint16_t type);

void cmd_result_encode(struct pbuf *, const struct cmd_result *);
int cmd_result_decode(const uint8_t *buf, size_t len, struct cmd_result *);

void read_req_encode(struct pbuf *, const struct read_req *);
int read_req_decode(
    const uint8_t *buf, size_t len, struct read_req *, struct pread *rest);

#endif
