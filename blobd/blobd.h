/*
 * The blobd role: owns the blob files of the node, jailed in
 * <insid_home>/<node>/blobs.  Peers: the supervisor (common/role.c),
 * apid (blobd.api), raftd (raftd.api) and other nodes' private HTTP
 * bindings; blobd/blobd_int.h lists who talks to whom.
 */
#ifndef BLOBD_BLOBD_H
#define BLOBD_BLOBD_H

#include "common/role.h"

extern const struct role_hooks blobd_hooks;

#endif
