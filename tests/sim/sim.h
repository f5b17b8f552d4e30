/*
 * Deterministic simulation of a raft cluster: the real core, an in-memory
 * disk, a simulated network and a model state machine, all driven by one
 * seed.  Nothing here reads a clock or calls rand().
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

#define SIM_MAX_IDS 12 /* node ids 1..SIM_MAX_IDS over a run */
#define SIM_MAX_MEMBERS 7 /* servers in one configuration */
#define SIM_KEYS 4
#define SIM_TICK_MS 10
#define SIM_MAX_WAITING 64

/* the model state machine: a few registers */
struct sm {
	uint64_t applied;
	uint64_t val[SIM_KEYS]; /* write id of the last write */
	uint64_t widx[SIM_KEYS]; /* log index of that write */
};

struct proposal {
	uint64_t index;
	uint64_t term;
	uint64_t wid;
	uint32_t key;
	bool liveness;
};

struct pending_read {
	uint64_t req_id;
	uint32_t key;
	uint64_t min_widx; /* newest write acked when the read started */
	uint64_t index; /* read index from the core, 0 until known */
};

struct node {
	uint64_t id;
	bool exists; /* created (joined or bootstrapped) */
	bool up;
	bool initial; /* a first member: bootstraps while its disk is empty */
	struct raft_config boot;
	uint32_t incarnation;
	struct raft *r;

	/* the durable disk */
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint64_t snap_len;
	uint64_t base;
	uint64_t base_term;
	struct raft_entry *log;
	uint64_t n_log;
	uint64_t cap_log;

	/* the batch being written */
	bool writing;
	struct raft_ready rd;

	struct sm sm;
	struct proposal props[SIM_MAX_WAITING];
	uint32_t n_props;
	struct pending_read reads[SIM_MAX_WAITING];
	uint32_t n_reads;

	/* what the checker saw last */
	uint64_t seen_commit;
	uint64_t seen_committed_to;
	int seen_role;
	uint64_t lead_term; /* term in which the nemesis last saw it lead */
	uint64_t lead_commit;
	int trace_role;
	uint64_t trace_term;
};

struct sim_params {
	uint32_t n_initial;
	uint32_t delay_ms_max;
	uint32_t disk_ms_max;
	uint32_t loss_pct;
	uint32_t dup_pct;
	uint32_t partition_pct; /* per-mille per tick */
	uint32_t crash_pm; /* per-mille per tick */
	uint32_t restart_ms_max;
	uint32_t new_leader_crash_pct;
	uint32_t commit_crash_pct;
	uint32_t propose_pct;
	uint32_t read_pct;
	uint32_t change_pm;
	uint32_t transfer_pm;
	uint32_t snapshot_every;
	uint32_t trailing;
	bool lease;
	uint32_t chunk_bytes;
};

struct sim {
	uint64_t seed;
	uint64_t rng[4];
	uint64_t now_ms;
	uint64_t ticks;
	struct sim_params p;
	struct raft_options opt;
	struct node nodes[SIM_MAX_IDS + 1];
	bool cut[SIM_MAX_IDS + 1][SIM_MAX_IDS + 1];
	bool liveness;
	bool commit_rule; /* check §5.4.2 directly (default on) */
	uint64_t next_wid;
	uint64_t next_req;
	uint64_t hash;
	bool trace;
	FILE *trace_out;
	/* ring of readable trace lines, printed on failure */
	char **ring;
	uint32_t ring_n;
	uint32_t ring_head;
	char violation[512];
	bool violated;
	uint64_t steps;
	struct event_heap *heap;
	struct checker *chk;
	uint64_t stat_commits;
	uint64_t stat_reads;
};

/* sim.c */
uint64_t sim_rand(struct sim *);
uint32_t sim_below(struct sim *, uint32_t n);
bool sim_pct(struct sim *, uint32_t pct);
void sim_trace(struct sim *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_hash(struct sim *, uint64_t v);
void sim_fail(struct sim *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* net.c: a time-ordered queue of messages and disk completions */
enum ev_type {
	EV_MSG = 1,
	EV_DISK,
	EV_RESTART,
};
struct event {
	uint64_t time;
	uint64_t seq;
	int type;
	uint64_t node;
	uint32_t incarnation;
	struct raft_msg m;
};
struct event_heap *heap_new(void);
void heap_free(struct event_heap *);
void heap_push(struct event_heap *, struct event *);
bool heap_peek_time(struct event_heap *, uint64_t *time);
bool heap_pop(struct event_heap *, struct event *);
void net_send(struct sim *, struct raft_msg *m);
void net_schedule(struct sim *, int type, uint64_t node, uint64_t delay_ms);

/* node.c: the driver of one simulated server */
void node_boot(struct sim *, struct node *, const struct raft_config *);
void node_crash(struct sim *, struct node *);
void node_restart(struct sim *, struct node *);
void node_pump(struct sim *, struct node *);
void node_disk_done(struct sim *, struct node *);
void node_free(struct node *);
int node_propose(struct sim *, struct node *, uint32_t key, bool liveness);
int node_read(struct sim *, struct node *, uint32_t key);

/* check.c: invariants, kept apart from the code under test */
struct checker *check_new(void);
void check_free(struct checker *);
void check_step(struct sim *);
void check_durable_entries(
    struct sim *, struct node *, const struct raft_entry *, uint32_t n);
void check_apply(struct sim *, struct node *, const struct raft_entry *);
void check_ack(struct sim *, struct node *, const struct proposal *);
void check_read(
    struct sim *, struct node *, const struct pending_read *, uint64_t widx);
uint64_t check_max_acked_widx(struct sim *, uint32_t key);
uint64_t check_max_acked_index(struct sim *);
uint64_t check_acked_count(struct sim *);
uint64_t check_liveness_acked(struct sim *);

#endif
