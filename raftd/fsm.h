/*
 * The replicated state machine: applies committed log entries to the state
 * column families, and answers reads from them.
 *
 * Apply is a pure function of (state, entry): it reads no clock (only the
 * ts inside a command) and has no effect beyond the database.  Each call
 * of fsm_apply() is one atomic write holding the effects of every entry of
 * the batch and the new applied index, so a crash never applies an entry
 * twice or half; entries at or below the applied index are skipped.
 */
#ifndef RAFTD_FSM_H
#define RAFTD_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/command.h"
#include "raftd/store.h"

struct fsm;

struct fsm_entry {
	uint64_t index;
	uint64_t term;
	uint8_t type; /* enum raft_entry_type: only NORMAL (0) has effects */
	const uint8_t *data; /* an encoded struct cmd */
	size_t len;
};

struct fsm_result {
	uint16_t status; /* enum cmd_status */
	uint64_t usage; /* limit refusals: usage before the write */
	uint64_t limit;
	uint8_t *data; /* owned; bump: the new value */
	size_t data_len;
	/*
	 * owned, never sent to the proposer: the blob records the command
	 * removed (BLOB_PURGE, KEY_PURGE) as n * (str scope, bytes key),
	 * for the applied-blob stream (raftd/raftd_blobs.h)
	 */
	uint8_t *blobs_removed;
	size_t blobs_removed_len;
};

/* usage counters of a scope (API.md §7.1), in this order */
enum fsm_counter {
	FSM_BYTES_ON_DISK = 0,
	FSM_BYTES_IN_MEMORY,
	FSM_EVENTS_EMITTED,
	FSM_SUBSCRIBERS,
	FSM_COUNTERS
};

struct fsm_usage {
	uint64_t c[FSM_COUNTERS];
};

/* limits of a scope in the order of API.md §7.4; bit i of mask = v[i] set */
#define FSM_LIMITS 6
struct fsm_limits {
	uint8_t mask;
	uint64_t v[FSM_LIMITS];
};

/* bounds of READ_KV_ITERATE */
#define FSM_ITERATE_LIMIT_MAX 1000

/* root_scope: the data scope that is counted but never limited */
struct fsm *fsm_open(struct store *, const char *root_scope);
void fsm_free(struct fsm *);
/*
 * With on, writes that add data to a scope other than root apply only
 * while the scope's key is live (fsm_keys.h); every node of a cluster
 * must use the same setting.
 */
void fsm_key_guard_set(struct fsm *, bool on);
void fsm_applied(const struct fsm *, uint64_t *index, uint64_t *term);
/* re-reads the applied index after the state was replaced (a snapshot) */
void fsm_reload(struct fsm *);

/*
 * Applies entries[0..n) (ascending; the first one above the applied index
 * must directly follow it) and fills results[i] for each.  An entry at or
 * below the applied index changes nothing and gets ST_COMMIT_UNKNOWN.
 * A storage failure is fatal: the state could no longer follow the log.
 */
void fsm_apply(struct fsm *, const struct fsm_entry *, size_t n,
    struct fsm_result *results);
void fsm_result_clear(struct fsm_result *);
void fsm_result_encode(struct pbuf *, const struct fsm_result *);

/* a read request against the applied state; the read result of command.h */
void fsm_read(struct fsm *, const struct read_req *, struct pbuf *out);
/* 0, or -1 on a storage error */
int fsm_usage_read(struct fsm *, const char *scope, struct fsm_usage *);

#endif
