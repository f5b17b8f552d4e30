/*
 * Prometheus text format 0.0.4 for GET /metrics (API.md §19.2): label
 * escaping, samples, the request counters and duration histograms by
 * route class.  Pure: no libevent, no IPC, unit-tested alone.
 */
#ifndef APID_METRICS_TEXT_H
#define APID_METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/metrics_hist.h"
#include "proto/codec.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_NCLASSES 9
/* status codes counted: 100-599; others are counted as 0 */
#define METRICS_CODE_MAX 600

/* values, cache, blobs, events, subscribe, system, admin, internal, metrics */
extern const char *const metrics_classes[METRICS_NCLASSES];

struct metrics_reqs {
	uint64_t by_code[METRICS_NCLASSES][METRICS_CODE_MAX];
	struct metrics_hist duration[METRICS_NCLASSES];
};

/* index of a class name, -1 when it is not one of §19.2 */
int metrics_class_index(const char *);
/* one finished request of a class; an unknown class is ignored */
void metrics_reqs_observe(
    struct metrics_reqs *, const char *cls, int status, double secs);

/* shortest text that reads back as the same double; +Inf, -Inf, NaN */
void metrics_format_double(double, char *buf, size_t len);
/* "# HELP name help\n# TYPE name type\n" (help escapes \ and newline) */
void metrics_family(
    struct pbuf *, const char *name, const char *type, const char *help);
/*
 * One sample line: name{l1="v1",...} value.  labels holds name/value
 * pairs ended by NULL (or is NULL); values are escaped.
 */
void metrics_sample(struct pbuf *, const char *name, const char *const *labels,
    const char *value);
void metrics_sample_u64(
    struct pbuf *, const char *name, const char *const *labels, uint64_t);
void metrics_sample_double(
    struct pbuf *, const char *name, const char *const *labels, double);
/* _bucket lines (cumulative, then +Inf), _sum and _count of one series */
void metrics_hist_put(struct pbuf *, const char *name, const char *lname,
    const char *lvalue, const struct metrics_hist *);
/* insidb_http_requests_total and insidb_http_request_duration_seconds */
void metrics_reqs_put(struct pbuf *, const struct metrics_reqs *);

#endif
