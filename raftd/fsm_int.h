/*
 * Inside the state machine: the batch every command family applies into,
 * and the usage and limit records it charges.  Reads through a batch see
 * the batch's own earlier writes (a WriteBatchWithIndex), so later entries
 * of one batch observe earlier ones exactly as if applied one by one.
 */
#ifndef RAFTD_FSM_INT_H
#define RAFTD_FSM_INT_H

#include <stdbool.h>

#include "raftd/fsm.h"
#include "raftd/keys.h"

struct fsm {
	struct store *store;
	char *root_scope;
	uint64_t applied_index;
	uint64_t applied_term;
	bool key_guard; /* fsm_keys_guard() refuses writes of dead scopes */
};

struct fsm_batch {
	struct fsm *fsm;
	rocksdb_writebatch_wi_t *wb;
};

void fsm_batch_begin(struct fsm *, struct fsm_batch *);
/* writes the batch with the applied record (index 0: leave it) */
void fsm_batch_commit(struct fsm_batch *, uint64_t index, uint64_t term);
void fsm_batch_end(struct fsm_batch *);

/* 1 and a value (free with rocksdb_free) when present, 0 when absent */
int fsm_batch_get(struct fsm_batch *, enum store_cf, const struct keybuf *,
    char **val, size_t *vlen);
void fsm_batch_put(struct fsm_batch *, enum store_cf, const struct keybuf *,
    const void *val, size_t vlen);
void fsm_batch_del(struct fsm_batch *, enum store_cf, const struct keybuf *);

void fsm_usage_get(struct fsm_batch *, const char *scope, struct fsm_usage *);
void fsm_limits_get(struct fsm_batch *, const char *scope, struct fsm_limits *);
void fsm_limits_put(
    struct fsm_batch *, const char *scope, const struct fsm_limits *);
void fsm_usage_decode(const uint8_t *, size_t, struct fsm_usage *);

/*
 * Changes a usage counter of the scope by delta.  A positive delta that
 * would take usage above the scope's limit (never for root) is refused:
 * nothing is written, res gets the status, usage and limit, and -1 is
 * returned.  Counters never go below 0.
 */
int fsm_charge(struct fsm_batch *, const char *scope, enum fsm_counter,
    int64_t delta, struct fsm_result *res);

/* command families: each returns the status also stored in res */
uint16_t
fsm_kv_apply(struct fsm_batch *, const struct cmd *, struct fsm_result *);

#endif
