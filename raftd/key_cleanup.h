/*
 * The leader's key cleanup task (API.md §16.6, §20): every 30 s, for up to
 * 100 tombstoned keys, KEY_PURGE commands of at most 1000 records until
 * the scope is empty, then KEY_FINISH.  One proposal at a time; a large
 * scope continues in the next pass.
 */
#ifndef RAFTD_KEY_CLEANUP_H
#define RAFTD_KEY_CLEANUP_H

#include <event2/event.h>

#include "raftd/fsm.h"
#include "raftd/node.h"

#define KEY_CLEANUP_INTERVAL_MS 30000
#define KEY_CLEANUP_KEYS_MAX 100
/* purge commands one key gets in a pass */
#define KEY_CLEANUP_PURGES_MAX 64

struct key_cleanup;

struct key_cleanup *key_cleanup_new(
    struct event_base *, struct fsm *, struct node *, int interval_ms);
void key_cleanup_free(struct key_cleanup *);
/* the node's proposed hook for a waiter of the task: true when it was */
bool key_cleanup_proposed(
    struct key_cleanup *, void *waiter, const struct fsm_result *);
/* the node is closing: nothing more is proposed */
void key_cleanup_stop(struct key_cleanup *);

#endif
