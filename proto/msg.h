/*
 * The versioned message header and the message types of every IPC channel.
 * A message is a header followed by `len` bytes of payload encoded with
 * proto/codec.h.  Payload layouts are written next to each type.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HDR_LEN 16

struct proto_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len; /* payload bytes after the header */
	uint64_t corr; /* correlation id: a reply carries its request's */
};

enum msg_type {
	/*
	 * supervisor <-> every role (nng pair, role dials)
	 */
	/* sup->role: str file name, bytes yaml, u32 n, n * str override,
	 * str node id, bool jailed */
	MSG_SUP_CONFIG = 1,
	/* sup->role: str name ("cert","key","ca"), bytes pem */
	MSG_SUP_TLS = 2,
	/* sup->role: u32 n, n * (str role, u64 pid) */
	MSG_SUP_PIDS = 3,
	/* sup->role: empty; configuration is complete */
	MSG_SUP_DONE = 4,
	/* role->sup: u64 pid */
	MSG_SUP_READY = 5,
	/* sup->role: empty; role->sup: str json object */
	MSG_SUP_STATUS = 6,
	/* sup->role: u8 level */
	MSG_SUP_LOG_LEVEL = 7,
	/* sup->role: empty */
	MSG_SUP_SHUTDOWN = 8,
	/* sup->role: str verb, str json args; role->sup: u16 status, str json */
	MSG_SUP_CTL = 9,
	/* sup->role: str badge id (UUID of this node, API.md §15.1) */
	MSG_SUP_NODE = 10,
	/* role->sup: u64 pid; repeated until the supervisor's first
	 * message arrives, which answers with the configuration push */
	MSG_SUP_HELLO = 11,

	/*
	 * apid -> raftd (nng req/rep, raftd listens)
	 */
	/* req: the command as cmd_encode() writes it (no length prefix);
	 * rep: cmd_result */
	MSG_RAFT_PROPOSE = 100,
	/* req: read request (command.h); rep: read result (command.h) */
	MSG_RAFT_READ = 101,
	/* req: empty; rep: str json of the node's raft state (the cluster
	 * view of API.md §17.3 plus: "node", "role", "applied_index",
	 * "last_index", "needs_join" (bool: empty state, not the default
	 * leader, not yet in a configuration), "transferring" (bool),
	 * "removed" (bool), "version" (u64, see MSG_RAFT_WATCH), "fsync"
	 * ({"in_bucket":[14 counts of the §19.2 buckets],"count","sum"}:
	 * the log writer's synced writes)) */
	MSG_RAFT_STATUS = 102,
	/*
	 * req: u64 version (0 = answer at once); rep: the MSG_RAFT_STATUS
	 * json.  raftd answers when its leader, term, role or membership
	 * differs from `version` (each change bumps the version), or after
	 * 1 s otherwise: apid keeps one such call open to learn leader
	 * changes without polling.
	 */
	MSG_RAFT_WATCH = 103,
	/*
	 * req: u8 op (enum member_op), str node id, str raft address
	 * (JOIN only: "host:port"); rep: u16 status (enum member_status),
	 * str json ({"node_id","raft_address","voter"} for JOIN,
	 * {"leader":id} for TRANSFER).  Only the leader acts; others answer
	 * MEMBER_NOT_LEADER.  The reply comes once the change is applied
	 * (JOIN: the learner entry; TRANSFER: the target leads).
	 */
	MSG_RAFT_MEMBER = 104,
	/* req: empty; rep: u16 status (0 ok), str json {"index":n}: take a
	 * snapshot now and compact the log */
	MSG_RAFT_SNAPSHOT = 105,
	/*
	 * The applied-event stream (raftd/raftd_events.h), a long-poll on
	 * this channel so that nothing is dropped between the processes.
	 * req: u64 epoch (0 = none yet), u64 after (last seq seen).
	 * rep: u64 epoch, u64 lost, u64 last (seq covered: the next request
	 * asks after it), u32 n, n * (u64 seq, u8 kind (enum event_kind),
	 * i64 emitted_at (ns), str scope, bytes topic, bytes data).  A
	 * deletion (KEY_DELETED, ALIAS_DELETED) carries the deleted uuid as
	 * topic and no data; it is never held back by the replay window.
	 * raftd answers when it holds events after `after`, at once when
	 * the epoch differs (raftd restarted: from its oldest event), or
	 * after 1 s with n = 0.  Events older than events.replay_window are
	 * left out; lost counts events that left the bounded ring before
	 * apid fetched them.
	 */
	MSG_RAFT_EVENTS = 110,
	/*
	 * The applied-blob stream, blobd -> raftd on raftd.api, a long-poll
	 * like MSG_RAFT_EVENTS.  req: u64 epoch, u64 after.  rep: u64 epoch,
	 * u64 lost, u64 last, u32 n, n * (u64 seq, u8 kind (enum
	 * blob_change), str scope, bytes key, u64 size, str hash, str
	 * node_id).  PURGE has size 0 and empty hash and node; RESYNC (a
	 * snapshot was installed) has every field empty.  blobd runs its
	 * repair pass when lost > 0, when the epoch changes or on RESYNC.
	 */
	MSG_RAFT_BLOBS = 111,

	/*
	 * apid -> blobd (nng req/rep on blobd.api, blobd listens).  Every
	 * reply starts with u16 status (enum blob_status).  apid keeps one
	 * chunk request in flight per transfer (flow control); handles idle
	 * for 60 s are dropped by blobd (an upload's temporary file with it).
	 */
	/* req: str scope, bytes key (empty: named at COMMIT), u64
	 * max_bytes (0 = no limit); rep: status, u64 handle */
	MSG_BLOB_UP_BEGIN = 300,
	/* req: u64 handle, u64 offset (bytes written so far), bytes data
	 * (<= BLOB_CHUNK_MAX); rep: status (BLOB_TOO_BIG past max_bytes,
	 * the upload is then gone) */
	MSG_BLOB_UP_CHUNK = 301,
	/*
	 * req: u64 handle, str owner_uuid, str original_name, str
	 * content_type, bytes key (empty: BEGIN's key; required when BEGIN's
	 * was empty, equal to it when both are given, else BLOB_BAD).
	 * blobd fsyncs, proposes CMD_BLOB_PUT to raftd and renames the file
	 * into place only when it applied with ST_OK, else removes it.  rep: status, u64 size, str hash, then (status
	 * BLOB_OK or BLOB_REFUSED) the cmd_result of the proposal
	 */
	MSG_BLOB_UP_COMMIT = 302,
	/* req: u64 handle; rep: status.  The temporary file is removed. */
	MSG_BLOB_UP_ABORT = 303,
	/* req: str scope, bytes key, u64 size, str hash (the metadata's);
	 * rep: status (BLOB_NOT_REPLICATED when the file is missing or of
	 * another size: a fetch is queued), u64 handle */
	MSG_BLOB_DOWN_OPEN = 310,
	/* req: u64 handle, u64 offset, u32 len (<= BLOB_CHUNK_MAX);
	 * rep: status, bytes data (short only at the end of the file) */
	MSG_BLOB_DOWN_READ = 311,
	/* req: u64 handle; rep: status */
	MSG_BLOB_DOWN_CLOSE = 312,
	/* req: empty; rep: status, str json {"blob_count","blob_bytes",
	 * "replication_queue","fetches_running","uploads","downloads"} */
	MSG_BLOB_STATUS = 320,

	/*
	 * raftd <-> raftd of another node (TCP on raft_binding, optionally
	 * TLS).  Both ends send HELLO first; the dialer then sends AUTH, and
	 * the acceptor answers with its own AUTH only once the dialer's
	 * checked out.  Nothing else is accepted before.  Only the dialing
	 * end sends RAFT frames.  corr is 0.
	 */
	/* u64 node id, bytes nonce (32 random bytes) */
	MSG_PEER_HELLO = 200,
	/* bytes mac: HMAC-SHA256(peer key, label || other's nonce || own id),
	 * see raftd/peer_auth.h */
	MSG_PEER_AUTH = 201,
	/* one Raft message, proto/raft_wire.h */
	MSG_PEER_RAFT = 202,
	/* an opaque message of the raftd driver (read index requests and
	 * answers, removal notices), at most TRANSPORT_CTL_MAX bytes */
	MSG_PEER_CTL = 203,
};

enum event_kind {
	EVENT_KIND_PUBLISH = 0,
	EVENT_KIND_KEY_DELETED = 1,
	EVENT_KIND_ALIAS_DELETED = 2,
};

enum blob_change {
	BLOB_CHANGE_PUT = 1,
	BLOB_CHANGE_PURGE = 2,
	BLOB_CHANGE_RESYNC = 3,
};

/* largest data of one MSG_BLOB_UP_CHUNK / MSG_BLOB_DOWN_READ */
#define BLOB_CHUNK_MAX (256 * 1024)

enum blob_status {
	BLOB_OK = 0,
	BLOB_NOT_REPLICATED = 1, /* file missing or of the wrong size */
	BLOB_TOO_BIG = 2, /* past max_bytes */
	BLOB_NO_HANDLE = 3, /* unknown or expired handle */
	BLOB_IO = 4, /* disk error (logged by blobd) */
	BLOB_BUSY = 5, /* too many transfers open */
	BLOB_BAD = 6, /* malformed request, bad offset */
	BLOB_REFUSED = 7, /* the proposal applied with another status */
	BLOB_RAFT = 8, /* the proposal failed: cmd_result says why */
};

enum member_op {
	MEMBER_JOIN = 1,
	MEMBER_REMOVE = 2,
	MEMBER_TRANSFER = 3,
};

enum member_status {
	MEMBER_OK = 0,
	MEMBER_NOT_LEADER = 1, /* json {"leader":id or ""} */
	MEMBER_CONFLICT = 2, /* join: member at another address */
	MEMBER_INVALID = 3, /* INVALID_MEMBERSHIP_CHANGE */
	MEMBER_NOT_FOUND = 4, /* NODE_NOT_FOUND */
	MEMBER_TIMEOUT = 5, /* TRANSFER_TIMEOUT / change not applied */
	MEMBER_BAD_REQUEST = 6,
};

/* encodes a header into the first PROTO_HDR_LEN bytes of out */
void proto_hdr_encode(uint8_t *out, const struct proto_hdr *);
/* 0 when the header is well formed, of our version and matches buflen */
int proto_hdr_decode(const uint8_t *buf, size_t buflen, struct proto_hdr *);

#endif
