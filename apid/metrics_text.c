#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/metrics_text.h"

const char *const metrics_classes[METRICS_NCLASSES] = { "values", "cache",
	"blobs", "events", "subscribe", "system", "admin", "internal",
	"metrics" };

int
metrics_class_index(const char *cls)
{
	int i;

	if (cls == NULL)
		return -1;
	for (i = 0; i < METRICS_NCLASSES; i++)
		if (strcmp(metrics_classes[i], cls) == 0)
			return i;
	return -1;
}

void
metrics_reqs_observe(
    struct metrics_reqs *r, const char *cls, int status, double secs)
{
	int c = metrics_class_index(cls);

	if (c < 0)
		return;
	if (status < 100 || status >= METRICS_CODE_MAX)
		status = 0;
	r->by_code[c][status]++;
	metrics_hist_observe(&r->duration[c], secs);
}

void
metrics_format_double(double v, char *buf, size_t len)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* plain decimals where they stay short, exponents beyond */
	if (v == 0 || (fabs(v) >= 1e-6 && fabs(v) < 1e15)) {
		for (prec = 0; prec <= 22; prec++) {
			snprintf(buf, len, "%.*f", prec, v);
			if (strtod(buf, NULL) == v)
				return;
		}
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* label values escape backslash, double quote and line feed */
static void
put_escaped(struct pbuf *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			pb_add_raw(b, "\\\\", 2);
		else if (*s == '\n')
			pb_add_raw(b, "\\n", 2);
		else if (*s == '"' && quote)
			pb_add_raw(b, "\\\"", 2);
		else
			pb_add_raw(b, s, 1);
	}
}

static void
put_str(struct pbuf *b, const char *s)
{
	pb_add_raw(b, s, strlen(s));
}

void
metrics_family(
    struct pbuf *b, const char *name, const char *type, const char *help)
{
	put_str(b, "# HELP ");
	put_str(b, name);
	pb_add_raw(b, " ", 1);
	put_escaped(b, help, 0);
	put_str(b, "\n# TYPE ");
	put_str(b, name);
	pb_add_raw(b, " ", 1);
	put_str(b, type);
	pb_add_raw(b, "\n", 1);
}

void
metrics_sample(struct pbuf *b, const char *name, const char *const *labels,
    const char *value)
{
	size_t i;

	put_str(b, name);
	for (i = 0;
	     labels != NULL && labels[i] != NULL && labels[i + 1] != NULL;
	     i += 2) {
		pb_add_raw(b, i == 0 ? "{" : ",", 1);
		put_str(b, labels[i]);
		pb_add_raw(b, "=\"", 2);
		put_escaped(b, labels[i + 1], 1);
		pb_add_raw(b, "\"", 1);
	}
	if (i > 0)
		pb_add_raw(b, "}", 1);
	pb_add_raw(b, " ", 1);
	put_str(b, value);
	pb_add_raw(b, "\n", 1);
}

void
metrics_sample_u64(
    struct pbuf *b, const char *name, const char *const *labels, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	metrics_sample(b, name, labels, buf);
}

void
metrics_sample_double(
    struct pbuf *b, const char *name, const char *const *labels, double v)
{
	char buf[64];

	metrics_format_double(v, buf, sizeof(buf));
	metrics_sample(b, name, labels, buf);
}

void
metrics_hist_put(struct pbuf *b, const char *name, const char *lname,
    const char *lvalue, const struct metrics_hist *h)
{
	const char *labels[5] = { lname, lvalue, "le", NULL, NULL };
	const char *const *plain = lname != NULL ? labels : NULL;
	char series[128], le[64];
	uint64_t cum = 0;
	int i;

	if (lname == NULL) {
		labels[0] = "le";
		labels[2] = NULL;
	}
	snprintf(series, sizeof(series), "%s_bucket", name);
	for (i = 0; i <= METRICS_NBUCKETS; i++) {
		if (i < METRICS_NBUCKETS) {
			cum += h->in_bucket[i];
			metrics_format_double(
			    metrics_bounds[i], le, sizeof(le));
		} else {
			cum = h->count;
			snprintf(le, sizeof(le), "+Inf");
		}
		labels[lname != NULL ? 3 : 1] = le;
		metrics_sample_u64(b, series, labels, cum);
	}
	/* the le pair must not reach _sum and _count */
	labels[2] = NULL;
	snprintf(series, sizeof(series), "%s_sum", name);
	metrics_sample_double(b, series, plain, h->sum);
	snprintf(series, sizeof(series), "%s_count", name);
	metrics_sample_u64(b, series, plain, h->count);
}

void
metrics_reqs_put(struct pbuf *b, const struct metrics_reqs *r)
{
	const char *labels[5] = { "class", NULL, "code", NULL, NULL };
	char code[16];
	int c, s;

	metrics_family(b, "insidb_http_requests_total", "counter",
	    "HTTP requests answered, by route class and status code.");
	for (c = 0; c < METRICS_NCLASSES; c++)
		for (s = 0; s < METRICS_CODE_MAX; s++) {
			if (r->by_code[c][s] == 0)
				continue;
			snprintf(code, sizeof(code), "%d", s);
			labels[1] = metrics_classes[c];
			labels[3] = code;
			metrics_sample_u64(b, "insidb_http_requests_total",
			    labels, r->by_code[c][s]);
		}
	metrics_family(b, "insidb_http_request_duration_seconds", "histogram",
	    "Time from the start of a request to its response, by route "
	    "class.");
	for (c = 0; c < METRICS_NCLASSES; c++)
		metrics_hist_put(b, "insidb_http_request_duration_seconds",
		    "class", metrics_classes[c], &r->duration[c]);
}
