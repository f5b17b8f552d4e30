/*
 * The blob daemon's worker threads: every file operation that may block
 * (writes, hashing, fsync, pread, rename) runs here so the event loop
 * never waits on the disk.  A job's work() runs on a worker; its done()
 * runs afterwards on the loop thread (handed over with event_active(),
 * like common/ipc.c), exactly once, also when the pool is being freed.
 */
#ifndef BLOBD_POOL_H
#define BLOBD_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

/* every producer is bounded (transfers, fetches, one repair pass) */
#define POOL_JOBS_MAX 4096

struct pool;

struct pool_job {
	void (*work)(struct pool_job *); /* worker thread */
	/* loop thread; stopping: the pool is being freed */
	void (*done)(struct pool_job *, bool stopping);
	struct pool_job *next; /* the pool's */
};

struct pool *pool_new(struct event_base *, int nthreads);
/* queues the job; fatal past POOL_JOBS_MAX (a producer is unbounded) */
void pool_submit(struct pool *, struct pool_job *);
/* jobs queued or running */
size_t pool_pending(const struct pool *);
/*
 * Finishes what is queued, joins the workers, then runs every done()
 * still owed with stopping = true on the calling (loop) thread.
 */
void pool_free(struct pool *);

#endif
