/*
 * What the local state holds of one data scope, by kind: an operator's
 * view (insidbctl show scope DS) that a key's deletion left nothing
 * behind.  Read-only; every scan is bounded.
 */
#ifndef RAFTD_FSM_SCOPE_H
#define RAFTD_FSM_SCOPE_H

#include <stdbool.h>
#include <stdint.h>

#include "raftd/fsm.h"

/* records one scan of one kind looks at, at most */
#define FSM_SCOPE_SCAN_MAX 100000

struct fsm_scope_counts {
	uint64_t values; /* kv user records of the scope */
	uint64_t cache_entries; /* cache user records of the scope */
	uint64_t usage; /* 0 or 1: usage record */
	uint64_t limits; /* 0 or 1: limits record */
	uint64_t key_records; /* key records whose ds is the scope */
	uint64_t scope_index; /* 0 or 1: the ds -> key index */
	uint64_t aliases; /* alias records of those keys */
	uint64_t alias_index; /* alias index entries of those keys */
	uint64_t orphan_aliases; /* alias records of any absent key */
	uint64_t orphan_alias_index; /* alias index entries, likewise */
	bool truncated; /* a scan stopped at FSM_SCOPE_SCAN_MAX */
};

/* 0, or -1 on a storage error or an invalid scope */
int fsm_scope_count(struct fsm *, const char *ds, struct fsm_scope_counts *);

#endif
