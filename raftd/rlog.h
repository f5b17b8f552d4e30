/*
 * The durable Raft log in the `log` column family (index -> term, type,
 * payload) and the hard state and log base in the `raft` column family.
 *
 * One writer thread executes the persistence step of each batch of the
 * consensus core (a job): truncate a conflicting suffix, append entries,
 * store the hard state, drop compacted entries -- all as one synced
 * (fsync) WriteBatch -- then hands the job back to the libevent loop, so
 * the loop never waits for the disk.  Proposals that arrive while a write
 * is in flight join the next batch: group commit.
 */
#ifndef RAFTD_RLOG_H
#define RAFTD_RLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/metrics_hist.h"
#include "raftd/core/raft.h"
#include "raftd/store.h"

/* what one synced write makes durable; entries stay the caller's */
struct rlog_job {
	uint64_t truncate_from; /* 0: none; else drop entries >= it */
	const struct raft_entry *entries;
	uint32_t n_entries;
	bool has_hard_state;
	struct raft_hard_state hard_state;
	uint64_t compact_index; /* 0: none; else drop entries <= it */
	uint64_t compact_term;
};

struct rlog_writer;

/* runs on the loop thread once the job is durable */
typedef void (*rlog_done_cb)(struct rlog_job *, void *arg);

/* the last index and term in the log, 0/0 when empty */
void rlog_last(struct store *, uint64_t *index, uint64_t *term);
/* the first index in the log, 0 when empty */
uint64_t rlog_first(struct store *);
/*
 * 1 and the entry (data malloc'd, free() it) when present, 0 when absent;
 * a storage error or a malformed record is fatal
 */
int rlog_read(struct store *, uint64_t index, struct raft_entry *);
/* executes a job synchronously with fsync: recovery and tests */
void rlog_write_sync(struct store *, const struct rlog_job *);

/*
 * writes a hard state that changes only the commit index, unsynced: the
 * commit index is not needed for safety, and the log of the database is
 * replayed in order, so a state applied after this write is never found
 * without it after a crash
 */
void rlog_write_commit(struct store *, const struct rlog_job *);

/* hard state and log base as stored (zero when absent) */
void rlog_hard_state(struct store *, struct raft_hard_state *);
void rlog_base(struct store *, uint64_t *index, uint64_t *term);

/*
 * Starts the writer thread.  evthread_use_pthreads() must have been
 * called before base was created.
 */
struct rlog_writer *
rlog_writer_start(struct store *, struct event_base *, rlog_done_cb, void *arg);
/* hands a job over; -1 when one is still being written */
int rlog_writer_submit(struct rlog_writer *, struct rlog_job *);
/* true while a job is being written */
bool rlog_writer_busy(struct rlog_writer *);
/*
 * Blocks until the job in flight is durable, then runs the done callback
 * on the calling (loop) thread.  For stopping and tests.
 */
void rlog_writer_flush(struct rlog_writer *);
/* flushes, ends the thread and frees the writer */
void rlog_writer_stop(struct rlog_writer *);
/* synced writes done so far */
uint64_t rlog_writer_commits(struct rlog_writer *);
/* the durations of the writer's synced writes so far */
void rlog_writer_fsync_hist(struct rlog_writer *, struct metrics_hist *);

#endif
