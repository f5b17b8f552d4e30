/*
 * The raftd role: owns the node's RocksDB database (log, Raft state and
 * replicated state), orders and applies commands, and serves apid's
 * proposals and reads on the "raftd.api" channel.
 *
 * Peers: the supervisor (common/role.c) and apid (raftd_dispatch_apid).
 */
#ifndef RAFTD_RAFTD_H
#define RAFTD_RAFTD_H

#include "common/role.h"

extern const struct role_hooks raftd_hooks;

#endif
