/*
 * Subscriber slots as seen from apid (API.md §14.5): the incarnation this
 * process made at start, slot requests for new sessions, and the calls
 * that must reach the leader eventually (releases, the reset at start,
 * the removal of a node's entries), retried 1 s doubling to 30 s until
 * acknowledged.  The leader proposes its own; a follower calls the
 * internal routes of §18.2 on the leader's private binding.
 */
#ifndef APID_SLOTS_H
#define APID_SLOTS_H

#include <stddef.h>

#include "apid/server.h"

#define SLOT_CALL_MS 5000
#define SLOT_REDIRECTS 3
#define SLOT_RETRY_FIRST_MS 1000
#define SLOT_RETRY_MAX_MS 30000
/* calls waiting for their retry at most; past it the oldest is dropped
 * (the owner's next reset still frees its slots) */
#define SLOT_PENDING_MAX 65536

enum slot_outcome {
	SLOT_GRANTED = 0,
	SLOT_LIMIT, /* SUBSCRIBER_LIMIT_EXCEEDED */
	SLOT_BLOCKED, /* the same while a shake blocks the scope */
	SLOT_NO_LEADER,
	SLOT_UNKNOWN, /* no answer: the slot may or may not be held */
};

typedef void (*slot_cb)(enum slot_outcome, void *arg);

/* makes the incarnation and starts the reset (sent once a leader is known) */
void apid_slots_start(struct apid *);
/* stopping: calls are still sent once, but not retried (the next
 * start's reset frees what they held) */
void apid_slots_stop(void);

/* asks the leader for a slot; cb runs exactly once, never from inside */
void apid_slot_acquire(const char *scope, const char *session, slot_cb, void *);
/* gives a slot back, retried until acknowledged */
void apid_slot_release(const char *scope, const char *session);
/* drops a removed node's entries, retried until acknowledged */
void apid_slots_drop_node(const char *node);
/* calls waiting for an acknowledgement (for status) */
size_t apid_slots_pending(void);

/* the internal routes of §18.2 (leader side) */
void apid_slots_request_route(struct areq *);
void apid_slots_release_route(struct areq *);

#endif
