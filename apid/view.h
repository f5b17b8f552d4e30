/*
 * This node's cluster view as raftd last gave it (MSG_RAFT_STATUS and
 * MSG_RAFT_WATCH answers): what apid needs for leader routing, ping and
 * auto-join.  Parsing is pure: unit-tested alone.
 */
#ifndef APID_VIEW_H
#define APID_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define VIEW_MEMBERS_MAX 64
#define VIEW_ROLE_MAX 15

struct apid_view {
	char leader[CFG_ID_MAX + 1]; /* "" when unknown */
	char role[VIEW_ROLE_MAX + 1]; /* leader, follower, learner, ... */
	int64_t term;
	uint64_t version; /* raftd's, for the next watch */
	bool transferring;
	bool needs_join;
	bool removed;
	size_t nmembers;
	char members[VIEW_MEMBERS_MAX][CFG_ID_MAX + 1];
};

/*
 * Fills *v from raftd's status JSON.  -1 when it is not a JSON object;
 * absent or ill-typed members take their empty value.
 */
int view_parse(const char *json, size_t len, struct apid_view *v);

/* the view's member list holds id */
bool view_is_member(const struct apid_view *, const char *id);

#endif
