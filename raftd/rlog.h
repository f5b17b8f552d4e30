/*
 * The durable Raft log in the `log` column family: index -> (term,
 * command).  Appends are made by one writer thread that takes everything
 * queued, writes it as one synced (fsync) WriteBatch -- group commit --
 * and hands the new durable index back to the libevent loop, so the loop
 * never waits for the disk.
 *
 * The loop thread submits entries whose data it keeps alive and unchanged
 * until the durable callback has covered their index.
 */
#ifndef RAFTD_RLOG_H
#define RAFTD_RLOG_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "raftd/fsm.h"
#include "raftd/store.h"

/* entries taken into one synced write at most */
#define RLOG_BATCH_MAX 1024

struct rlog_writer;

/* runs on the loop thread: every entry up to index is durable */
typedef void (*rlog_durable_cb)(uint64_t index, void *arg);

/* the last index and term in the log, 0/0 when empty */
void rlog_last(struct store *, uint64_t *index, uint64_t *term);
/*
 * 1 and the entry (data malloc'd, free() it) when present, 0 when absent;
 * a storage error or a malformed record is fatal
 */
int rlog_read(struct store *, uint64_t index, struct fsm_entry *);
/* appends entries synchronously with fsync: recovery and tests */
void rlog_append_sync(struct store *, const struct fsm_entry *, size_t n);

/*
 * Starts the writer thread.  evthread_use_pthreads() must have been
 * called before base was created.  queue_max bounds the entries waiting.
 */
struct rlog_writer *rlog_writer_start(struct store *, struct event_base *,
    size_t queue_max, rlog_durable_cb, void *arg);
/* queues an entry; -1 when queue_max entries already wait */
int rlog_writer_submit(struct rlog_writer *, const struct fsm_entry *);
/*
 * Blocks until everything submitted is durable, then runs the durable
 * callback for it on the calling (loop) thread.  For stopping and tests.
 */
void rlog_writer_flush(struct rlog_writer *);
/* flushes, ends the thread and frees the writer */
void rlog_writer_stop(struct rlog_writer *);
/* synced writes done so far (each holds one or more entries) */
uint64_t rlog_writer_commits(struct rlog_writer *);

#endif
