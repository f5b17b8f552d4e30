/*
 * Observations of the §19.2 histograms (metrics_hist.h).
 */
#include "common/metrics_hist.h"

const double metrics_bounds[METRICS_NBUCKETS] = { 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

void
metrics_hist_observe(struct metrics_hist *h, double secs)
{
	int i;

	if (!(secs >= 0))
		secs = 0;
	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (secs <= metrics_bounds[i]) {
			h->in_bucket[i]++;
			break;
		}
	h->count++;
	h->sum += secs;
}
