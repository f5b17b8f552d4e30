/*
 * Internals of the raft core, shared by its files only.
 */
#ifndef RAFT_INT_H
#define RAFT_INT_H

#include <stdlib.h>
#include <string.h>

#include "raft.h"

void
raft_assert_fail(const char *, int, const char *) __attribute__((noreturn));
#define RAFT_ASSERT(c) \
	do { \
		if (!(c)) \
			raft_assert_fail(__FILE__, __LINE__, #c); \
	} while (0)

void *raft_xmalloc(size_t);
void *raft_xrealloc(void *, size_t);
void *raft_xcalloc(size_t, size_t);

/* the log in memory: entries base+1 .. base+n */
struct raft_log {
	uint64_t base;
	uint64_t base_term;
	struct raft_entry *e;
	uint64_t n;
	uint64_t cap;
};

enum pr_state {
	PR_PROBE = 0,
	PR_REPLICATE,
	PR_SNAPSHOT,
};

/* what the leader knows of one follower */
struct raft_progress {
	uint64_t id;
	uint64_t match;
	uint64_t next;
	int state;
	bool paused;
	bool active;
	uint32_t n_inflight;
	uint32_t inflight_head;
	uint64_t inflight[RAFT_MAX_INFLIGHT];
	uint64_t acked_seq;
	uint32_t stalls;
	uint64_t stall_match;
	uint64_t snap_index;
	uint64_t snap_offset;
};

struct raft_pending_read {
	uint64_t req_id;
	uint64_t index;
	uint64_t seq;
};

#define RAFT_SEQ_RING 1024

struct raft {
	uint64_t id;
	struct raft_options opt;
	uint64_t rng[4];
	int (*step)(struct raft *, const struct raft_msg *);

	/* persistent */
	uint64_t term;
	uint64_t vote;

	struct raft_log log;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint64_t snap_len;

	uint64_t commit;
	uint64_t applied;
	uint64_t applying; /* handed out in a batch, not yet advanced */
	uint64_t stable; /* durable on the local disk */
	uint64_t unstable; /* first index not yet handed to the driver */
	uint64_t compact_index; /* to report in the next batch */
	uint64_t compact_term;

	struct raft_config config;
	uint64_t config_index;

	int role;
	uint64_t leader;
	uint32_t election_elapsed;
	uint32_t heartbeat_elapsed;
	uint32_t quiet_elapsed; /* ticks since a leader was last heard */
	uint32_t timeout; /* randomised election timeout */
	uint64_t now; /* ticks since raft_new */

	/* candidate */
	uint64_t votes_granted[RAFT_MAX_NODES];
	uint64_t votes_rejected[RAFT_MAX_NODES];
	uint32_t n_granted;
	uint32_t n_rejected;

	/* leader */
	struct raft_progress prs[RAFT_MAX_NODES];
	uint32_t n_prs;
	uint64_t term_start; /* index of this leader's first entry */
	bool need_bcast;
	uint64_t transferee;
	uint32_t transfer_elapsed;
	bool lease_revoked;
	uint64_t hb_seq;
	uint64_t seq_tick[RAFT_SEQ_RING];
	bool read_bcast;
	struct raft_pending_read reads[RAFT_MAX_READS];
	uint32_t n_reads;

	/* follower: a snapshot being received in chunks */
	struct raft_snapshot_meta in_snap;
	uint8_t *in_data;
	uint64_t in_len;
	uint64_t in_total;
	bool install_pending;

	/* hard state last handed to the driver */
	struct raft_hard_state hs_out;

	/* output waiting for the next batch */
	struct raft_msg *msgs;
	uint32_t n_msgs;
	uint32_t cap_msgs;
	struct raft_read *rdone;
	uint32_t n_rdone;
	uint32_t cap_rdone;
	bool batch_out;
};

/* log.c */
uint64_t rl_last(const struct raft_log *);
uint64_t rl_term(const struct raft_log *, uint64_t index);
struct raft_entry *rl_get(const struct raft_log *, uint64_t index);
void rl_append(struct raft_log *, const struct raft_entry *);
void rl_truncate(struct raft_log *, uint64_t from);
void rl_compact(struct raft_log *, uint64_t index);
void rl_reset(struct raft_log *, uint64_t base, uint64_t base_term);
void rl_free(struct raft_log *);
void raft_entry_copy(struct raft_entry *, const struct raft_entry *);
bool raft_log_up_to_date(const struct raft *, uint64_t index, uint64_t term);
uint64_t raft_find_conflict(const struct raft *, uint64_t index, uint64_t term);

/* config.c */
uint32_t raft_quorum(const struct raft *);
bool raft_is_voter(const struct raft *, uint64_t id);
bool raft_can_campaign(const struct raft *);
void raft_config_rebuild(struct raft *);
void raft_config_apply_entry(struct raft *, const struct raft_entry *);
int raft_config_at(const struct raft *, uint64_t index, struct raft_config *);

/* raft.c */
uint64_t raft_rand(struct raft *);
void raft_send(struct raft *, struct raft_msg *m);
void raft_read_done(struct raft *, uint64_t req_id, uint64_t index, bool ok);
void
raft_append_local(struct raft *, int type, const uint8_t *data, uint32_t len);

/* election.c */
void raft_become_follower(struct raft *, uint64_t term, uint64_t leader);
void raft_become_leader(struct raft *);
void raft_campaign(struct raft *, bool pre, bool force);
void raft_reset_timeout(struct raft *);
int raft_step_term(struct raft *, const struct raft_msg *);
void raft_recv_vote(struct raft *, const struct raft_msg *);
void raft_recv_vote_resp(struct raft *, const struct raft_msg *);
int raft_step_follower(struct raft *, const struct raft_msg *);
int raft_step_candidate(struct raft *, const struct raft_msg *);

/* replication.c (leader) */
int raft_step_leader(struct raft *, const struct raft_msg *);
void raft_progress_reset(struct raft *);
struct raft_progress *raft_progress(struct raft *, uint64_t id);
void raft_send_append(struct raft *, struct raft_progress *);
void raft_bcast_append(struct raft *);
void raft_bcast_heartbeat(struct raft *);
bool raft_maybe_commit(struct raft *);
void raft_leader_tick(struct raft *);

/* recv_append.c, recv_snapshot.c (follower) */
void raft_recv_append(struct raft *, const struct raft_msg *);
void raft_recv_heartbeat(struct raft *, const struct raft_msg *);
void raft_recv_snapshot(struct raft *, const struct raft_msg *);
void raft_send_snapshot_chunk(struct raft *, struct raft_progress *);

/* read.c */
void raft_reads_advance(struct raft *);
void raft_reads_fail(struct raft *);
bool raft_lease_valid(const struct raft *);

/* membership.c */
void raft_maybe_promote(struct raft *);
void raft_after_config_commit(struct raft *);

#endif
