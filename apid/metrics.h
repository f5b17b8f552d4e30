/*
 * GET /metrics (API.md §19.2): request counters and durations kept by
 * this process, raft gauges from raftd's status, ops rates of §19.1.
 */
#ifndef APID_METRICS_H
#define APID_METRICS_H

#include "apid/server.h"

/* a request with a route was answered (status 0: never answered) */
void apid_metrics_request_done(const char *cls, int status, double secs);
/* every view raftd reports: counts leader changes */
void apid_metrics_view_seen(const char *leader, int64_t term);
apid_handler apid_metrics_handler(enum route_id);

#endif
