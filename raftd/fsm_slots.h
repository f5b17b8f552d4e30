/*
 * Subscriber slots and shakes (API.md §14.5, §14.6) in the state machine.
 * Records inside the kv column family:
 *
 *   0x00 'S' <node> 0x00 <scope> 0x00 <session>   a slot entry (empty value)
 *   0x00 'I' <node>                               the node's incarnation
 *   0x00 'B' <scope>                              i64 ns: shake blocks slots
 *                                                 of the scope until then
 *
 * Node ids are [A-Za-z0-9_-]{1,64}, so 0x00 ends them unambiguously and
 * every entry of a node, or of a node and scope, shares a key prefix.
 * A scope's `subscribers` usage is its number of entries.
 */
#ifndef RAFTD_FSM_SLOTS_H
#define RAFTD_FSM_SLOTS_H

#include "raftd/fsm_int.h"

#define KEYS_KIND_SLOT 'S'
#define KEYS_KIND_INCARNATION 'I'
#define KEYS_KIND_SHAKE_BLOCK 'B'

/* how long a shake blocks its scope at most (§14.6 step 1) */
#define FSM_SHAKE_BLOCK_NS (60LL * 1000000000LL)
/* entries one command may drop at most (a node's sessions are bounded
 * by sessions.max_connections, far below this) */
#define FSM_SLOTS_DROP_MAX 1000000

uint16_t
fsm_slots_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);

#endif
