/*
 * A state machine on a temporary RocksDB for unit tests: fixture_setup()
 * and fixture_teardown() as Check fixtures, and apply / read helpers that
 * number entries after the applied index.
 */
#ifndef TESTS_UNIT_FSM_FIXTURE_H
#define TESTS_UNIT_FSM_FIXTURE_H

#include <stdint.h>

#include "proto/command.h"
#include "raftd/fsm.h"
#include "raftd/store.h"

#define FIXTURE_ROOT "root"

extern struct store *fixture_store;
extern struct fsm *fixture_fsm;

void fixture_setup(void);
void fixture_teardown(void);
/* applies c as the next entry; res (may be NULL) keeps the result */
uint16_t fixture_apply(const struct cmd *c, struct fsm_result *res);
/* the scope's usage counter */
uint64_t fixture_usage(const char *scope, enum fsm_counter);

#endif
