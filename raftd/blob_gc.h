/*
 * The leader's blob GC (API.md §13.7, §20): every blobs.gc_interval it
 * proposes one CMD_BLOB_PURGE for up to FSM_BLOB_PURGE_MAX tombstoned
 * blobs.  Apply removes only those still tombstoned, and the applied-blob
 * stream tells every node's blobd to delete the files.
 */
#ifndef RAFTD_BLOB_GC_H
#define RAFTD_BLOB_GC_H

#include <event2/event.h>

#include "raftd/fsm.h"
#include "raftd/node.h"

#define BLOB_GC_INTERVAL_MS 30000
/* blob records one pass looks at, at most */
#define BLOB_GC_SCAN_MAX 100000

struct blob_gc;

/* interval_ms <= 0: BLOB_GC_INTERVAL_MS */
struct blob_gc *blob_gc_start(
    struct event_base *, struct node *, struct fsm *, int64_t interval_ms);
void blob_gc_free(struct blob_gc *);
/* one pass now (the timer's work): the number of blobs proposed */
int blob_gc_run(struct blob_gc *);

#endif
