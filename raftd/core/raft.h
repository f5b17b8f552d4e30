/*
 * The Raft consensus core: a pure state machine.  No system calls, no
 * clock, no rand(): time arrives as raft_tick(), randomness comes from a
 * seeded generator kept in the struct, messages arrive as raft_step().
 * The core hands its work to the driver as a batch (struct raft_ready).
 *
 * ORDERING CONTRACT for the driver, for every batch from raft_ready():
 *
 *   1. snapshot: if rd->snapshot_install is set, durably record a pending
 *      install, wipe the stored log, load the snapshot into the state
 *      machine, store the snapshot metadata and set the log base to
 *      (snapshot.index, snapshot.term).  A crash in the middle redoes it.
 *   2. log and hard state: if rd->n_entries > 0, delete every stored entry
 *      with index >= rd->entries[0].index, then append rd->entries; if
 *      rd->has_hard_state, store rd->hard_state; if rd->compact_index > 0,
 *      the stored entries with index <= compact_index may be deleted and
 *      the log base set to (compact_index, compact_term).  Make all of it
 *      durable (fsync) before step 3.
 *   3. send every message in rd->msgs.  They may depend on step 2 (a vote
 *      grant depends on the persisted vote, an append ack on the persisted
 *      entries); never send them earlier.  Loss is fine, the core retries.
 *   4. apply rd->committed in order to the state machine.  They are
 *      committed and durable.
 *   5. reads: every rd->reads[i] with ok set may be answered once the
 *      state machine has applied rd->reads[i].index; ok clear means the
 *      read must be failed (leadership lost).
 *   6. raft_advance(r, rd): tells the core steps 1-4 are done and frees
 *      the batch.  raft_ready() hands out nothing new until then.
 *
 * raft_step/raft_tick/raft_propose/... may be called while a batch is
 * outstanding; their output joins the next batch.  The leader counts
 * itself towards a commit quorum only for entries reported durable.
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_NODES 16
#define RAFT_MAX_INFLIGHT 16
#define RAFT_MAX_READS 256
#define RAFT_MAX_PENDING_MSGS 65536

enum raft_err {
	RAFT_OK = 0,
	RAFT_ENOTLEADER = -1,
	RAFT_EBUSY = -2, /* a bound is reached: retry later */
	RAFT_EINVAL = -3, /* bad argument */
	RAFT_ETRANSFER = -4, /* leadership transfer in progress */
	RAFT_EAGAIN = -5, /* leader has not committed in its term yet */
	RAFT_ECHANGE = -6, /* a membership change is already in flight */
};

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRECANDIDATE,
	RAFT_CANDIDATE,
	RAFT_LEADER,
};

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 0,
	RAFT_ENTRY_CONFIG = 1,
	RAFT_ENTRY_NOOP = 2,
};

/* an entry; data is an opaque payload owned by whoever holds the entry */
struct raft_entry {
	uint64_t term;
	uint64_t index;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

enum raft_server_role {
	RAFT_VOTER = 0,
	RAFT_LEARNER = 1,
};

struct raft_server {
	uint64_t id;
	uint8_t role;
	uint8_t promote; /* learner to promote once caught up */
};

struct raft_config {
	uint32_t n;
	struct raft_server servers[RAFT_MAX_NODES];
};

struct raft_hard_state {
	uint64_t term;
	uint64_t vote;
	uint64_t commit;
};

struct raft_snapshot_meta {
	uint64_t index;
	uint64_t term;
	struct raft_config config;
};

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_VOTE,
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_PREVOTE,
	RAFT_MSG_PREVOTE_RESP,
	RAFT_MSG_HEARTBEAT,
	RAFT_MSG_HEARTBEAT_RESP,
	RAFT_MSG_SNAPSHOT,
	RAFT_MSG_SNAPSHOT_RESP,
	RAFT_MSG_TIMEOUT_NOW,
};

/*
 * One flat message; the driver serializes the fields the type uses:
 *  APPEND: prev_index prev_term commit entries
 *  APPEND_RESP: reject index (match or rejected prev) hint_index hint_term
 *  VOTE/PREVOTE: index term (last log index/term of the candidate) force
 *  VOTE_RESP/PREVOTE_RESP: reject
 *  HEARTBEAT: commit seq; HEARTBEAT_RESP: seq index (last log index)
 *  SNAPSHOT: snap offset total data len; SNAPSHOT_RESP: index offset reject
 *  TIMEOUT_NOW: nothing
 */
struct raft_msg {
	uint8_t type;
	uint8_t reject;
	uint8_t force;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	uint64_t prev_index;
	uint64_t prev_term;
	uint64_t commit;
	uint64_t index;
	uint64_t log_term;
	uint64_t hint_index;
	uint64_t hint_term;
	uint64_t seq;
	uint32_t n_entries;
	struct raft_entry *entries;
	struct raft_snapshot_meta snap;
	uint64_t offset;
	uint64_t total;
	uint32_t len;
	uint8_t *data;
};

struct raft_read {
	uint64_t req_id;
	uint64_t index;
	bool ok;
};

struct raft_ready {
	bool has_hard_state;
	struct raft_hard_state hard_state;
	bool snapshot_install;
	struct raft_snapshot_meta snapshot;
	uint8_t *snapshot_data;
	uint64_t snapshot_len;
	struct raft_entry *entries;
	uint32_t n_entries;
	uint64_t compact_index;
	uint64_t compact_term;
	struct raft_msg *msgs;
	uint32_t n_msgs;
	struct raft_entry *committed;
	uint32_t n_committed;
	struct raft_read *reads;
	uint32_t n_reads;
	/* private: what this batch covers, for raft_advance */
	uint64_t last_index;
	uint64_t last_term;
	uint64_t applied_to;
};

struct raft_options {
	uint32_t election_ticks; /* randomised in [e, 2e) */
	uint32_t heartbeat_ticks;
	uint32_t max_batch_entries;
	uint32_t max_batch_bytes;
	uint32_t max_inflight; /* <= RAFT_MAX_INFLIGHT */
	uint32_t max_uncommitted;
	uint32_t snapshot_chunk_bytes;
	uint64_t max_snapshot_bytes;
	bool lease_reads;
};

/* durable state handed to raft_new(); all zero for a brand-new node */
struct raft_boot {
	struct raft_hard_state hard_state;
	struct raft_snapshot_meta snapshot;
	const uint8_t *snapshot_data;
	uint64_t snapshot_len;
	uint64_t log_base_index;
	uint64_t log_base_term;
	const struct raft_entry *entries; /* indexes base+1 .. */
	uint32_t n_entries;
	uint64_t applied; /* the state machine has applied up to here */
	/* a first cluster with nothing stored: log entry 1 holds this */
	const struct raft_config *bootstrap;
};

struct raft;

void raft_options_default(struct raft_options *);
/* copies everything it needs from boot; NULL on bad arguments */
struct raft *raft_new(uint64_t id, const struct raft_options *,
    const struct raft_boot *, uint64_t seed);
void raft_free(struct raft *);

void raft_tick(struct raft *);
/* m stays owned by the caller */
int raft_step(struct raft *, const struct raft_msg *m);
int
raft_propose(struct raft *, const uint8_t *data, uint32_t len, uint64_t *index);
/* leader only: answered through raft_ready().reads */
int raft_read_index(struct raft *, uint64_t req_id);
int raft_transfer(struct raft *, uint64_t target);

enum raft_change_type {
	RAFT_ADD_LEARNER = 0, /* stays a learner */
	RAFT_ADD_VOTER, /* learner, promoted once caught up */
	RAFT_PROMOTE,
	RAFT_REMOVE,
};
int raft_change(struct raft *, int type, uint64_t id, uint64_t *index);

/*
 * the state machine state at applied index `index` is data: keep it as
 * the snapshot and compact the log, keeping `trailing` entries behind it.
 */
int raft_snapshot(struct raft *, uint64_t index, const uint8_t *data,
    uint64_t len, uint64_t trailing);

/* 1 and a batch when there is work, 0 when idle or a batch is out */
int raft_ready(struct raft *, struct raft_ready *);
void raft_advance(struct raft *, struct raft_ready *);

/* a driver that crashes mid-batch frees it without raft_advance() */
void raft_ready_free(struct raft_ready *);
void raft_msg_free(struct raft_msg *);
/* deep copy */
void raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src);

/* observers */
uint64_t raft_id(const struct raft *);
int raft_role(const struct raft *);
uint64_t raft_term(const struct raft *);
uint64_t raft_vote(const struct raft *);
uint64_t raft_leader(const struct raft *);
uint64_t raft_commit(const struct raft *);
uint64_t raft_applied(const struct raft *);
uint64_t raft_last_index(const struct raft *);
uint64_t raft_log_base(const struct raft *);
/* 0 when the index is outside the stored log */
uint64_t raft_term_at(const struct raft *, uint64_t index);
const struct raft_entry *raft_entry_at(const struct raft *, uint64_t index);
const struct raft_config *raft_config(const struct raft *);
uint64_t raft_config_index(const struct raft *);
const struct raft_snapshot_meta *raft_snapshot_meta(const struct raft *);

/* config helpers, also for the driver */
int raft_config_find(const struct raft_config *, uint64_t id);
bool raft_config_is_voter(const struct raft_config *, uint64_t id);
uint32_t raft_config_voters(const struct raft_config *);
size_t raft_config_encode(const struct raft_config *, uint8_t *buf, size_t cap);
int raft_config_decode(struct raft_config *, const uint8_t *buf, size_t len);

const char *raft_strerror(int);
const char *raft_msg_name(int type);

/* broken internal invariant: a hook, then abort() */
extern void (*raft_assert_hook)(const char *file, int line, const char *expr);

#endif
