/*
 * The duration histograms of API.md §19.2: the bucket bounds every
 * histogram uses and one observation.  Shared by apid, which renders
 * them, and raftd, which times its log fsyncs.
 */
#ifndef COMMON_METRICS_HIST_H
#define COMMON_METRICS_HIST_H

#include <stdint.h>

#define METRICS_NBUCKETS 14

/* upper bounds of the §19.2 buckets, seconds, ascending */
extern const double metrics_bounds[METRICS_NBUCKETS];

struct metrics_hist {
	uint64_t in_bucket[METRICS_NBUCKETS]; /* not cumulative */
	uint64_t count; /* including those above the last bound */
	double sum;
};

void metrics_hist_observe(struct metrics_hist *, double secs);

#endif
