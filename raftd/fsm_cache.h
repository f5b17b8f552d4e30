/*
 * Cache entries (API.md §12) in the cache column family, under the user
 * key layout of keys.h (<scope> ':' <user key>).  An entry's value is
 *   i64 expires_at (ns, big-endian), then the cached bytes as is.
 * bytes_in_memory counts len(key) + len(value) of each entry (§7.1), never
 * the expiry.  Apply decides expiry with the command's ts, reads with the
 * node's CLOCK_REALTIME.
 */
#ifndef RAFTD_FSM_CACHE_H
#define RAFTD_FSM_CACHE_H

#include "raftd/fsm_int.h"

#define FSM_CACHE_HDR 8
/* (scope, key) pairs one CMD_CACHE_EXPIRE carries at most */
#define FSM_CACHE_EXPIRE_MAX 1000

uint16_t
fsm_cache_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);
/* READ_CACHE_GET, READ_CACHE_ITERATE; answers into out */
void fsm_cache_read(struct fsm *, const struct read_req *, struct pbuf *out);
/* CLOCK_REALTIME in ns */
int64_t fsm_cache_now(void);

/*
 * One bounded step of the sweep: scans at most scan_max entries of the
 * cache column family from the key *cursor (empty: the start), appends
 * each entry with expires_at <= now as (bytes scope, bytes key) to out,
 * at most max of them, and returns how many.  *cursor becomes the key to
 * resume from, empty once the scan wrapped around.  -1 on a storage error.
 */
int fsm_cache_expired(struct fsm *, struct keybuf *cursor, int64_t now,
    size_t scan_max, size_t max, struct pbuf *out);

#endif
