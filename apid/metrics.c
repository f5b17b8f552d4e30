/*
 * GET /metrics.  Metrics whose source does not answer are left out rather
 * than reported as zero: the raft gauges and
 * insidb_raft_fsync_duration_seconds come from raftd's status,
 * insidb_blob_replication_queue from blobd's while it answers.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "apid/blobs.h"
#include "apid/events_hub.h"
#include "apid/metrics.h"
#include "apid/metrics_text.h"
#include "common/log.h"
#include "proto/msg.h"

#define METRICS_STATUS_WAIT_MS 2000

static struct metrics_reqs reqs;
static char last_leader[CFG_ID_MAX + 1];
static int64_t last_term = -1;
static uint64_t leader_changes;

void
apid_metrics_request_done(const char *cls, int status, double secs)
{
	/* a request whose connection went away before any answer */
	if (status == 0)
		return;
	metrics_reqs_observe(&reqs, cls, status, secs);
}

/* a known leader that differs from the last one, or was elected anew */
void
apid_metrics_view_seen(const char *leader, int64_t term)
{
	if (leader == NULL || leader[0] == '\0')
		return;
	if (strcmp(leader, last_leader) == 0 && term == last_term)
		return;
	leader_changes++;
	snprintf(last_leader, sizeof(last_leader), "%s", leader);
	last_term = term;
}

static int64_t
json_i64(struct json_object *o, const char *name, bool *ok)
{
	struct json_object *m;

	if (o == NULL || !json_object_object_get_ex(o, name, &m) ||
	    !json_object_is_type(m, json_type_int)) {
		*ok = false;
		return 0;
	}
	*ok = true;
	return json_object_get_int64(m);
}

static void
put_gauge(struct pbuf *b, const char *name, const char *help, int64_t v)
{
	metrics_family(b, name, "gauge", help);
	metrics_sample_u64(b, name, NULL, v < 0 ? 0 : (uint64_t)v);
}

/* match index and lag of every other member, on the leader only */
static void
put_peers(struct pbuf *b, struct json_object *st, const char *self,
    int64_t last_index)
{
	const char *labels[3] = { "peer", NULL, NULL };
	struct json_object *nodes, *n, *id;
	size_t i, count;
	int pass;
	bool ok;

	if (!json_object_object_get_ex(st, "nodes", &nodes) ||
	    !json_object_is_type(nodes, json_type_array))
		return;
	count = json_object_array_length(nodes);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			metrics_family(b, "insidb_raft_peer_match_index",
			    "gauge",
			    "Highest log index known replicated on a peer "
			    "(leader only).");
		else
			metrics_family(b,
			    "insidb_raft_peer_replication_lag_entries", "gauge",
			    "Leader's last index minus a peer's match index "
			    "(leader only).");
		for (i = 0; i < count; i++) {
			int64_t match;

			n = json_object_array_get_idx(nodes, i);
			if (!json_object_object_get_ex(n, "id", &id) ||
			    !json_object_is_type(id, json_type_string) ||
			    strcmp(json_object_get_string(id), self) == 0)
				continue;
			match = json_i64(n, "match_index", &ok);
			if (!ok)
				continue;
			labels[1] = json_object_get_string(id);
			if (pass == 0)
				metrics_sample_u64(b,
				    "insidb_raft_peer_match_index", labels,
				    (uint64_t)(match < 0 ? 0 : match));
			else
				metrics_sample_u64(b,
				    "insidb_raft_peer_replication_lag_entries",
				    labels,
				    last_index > match
					? (uint64_t)(last_index - match)
					: 0);
		}
	}
}

/* raftd's fsync histogram; left out when raftd did not send one */
static void
put_fsync(struct pbuf *b, struct json_object *st)
{
	struct json_object *f, *arr, *v;
	struct metrics_hist h;
	bool ok = true;

	if (!json_object_object_get_ex(st, "fsync", &f) ||
	    !json_object_object_get_ex(f, "in_bucket", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) != METRICS_NBUCKETS)
		return;
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		v = json_object_array_get_idx(arr, (size_t)i);
		if (!json_object_is_type(v, json_type_int))
			return;
		h.in_bucket[i] = (uint64_t)json_object_get_int64(v);
	}
	h.count = (uint64_t)json_i64(f, "count", &ok);
	if (!ok || !json_object_object_get_ex(f, "sum", &v) ||
	    !(json_object_is_type(v, json_type_double) ||
		json_object_is_type(v, json_type_int)))
		return;
	h.sum = json_object_get_double(v);
	metrics_family(b, "insidb_raft_fsync_duration_seconds", "histogram",
	    "Time of the Raft log's synced writes on this node.");
	metrics_hist_put(
	    b, "insidb_raft_fsync_duration_seconds", NULL, NULL, &h);
}

static void
put_raft(struct pbuf *b, struct json_object *st, const char *self)
{
	struct json_object *role;
	int64_t last_index;
	bool leader, ok;

	leader = json_object_object_get_ex(st, "role", &role) &&
	    json_object_is_type(role, json_type_string) &&
	    strcmp(json_object_get_string(role), "leader") == 0;
	put_gauge(b, "insidb_raft_term", "Current Raft term.",
	    json_i64(st, "term", &ok));
	put_gauge(b, "insidb_raft_commit_index", "Highest committed log index.",
	    json_i64(st, "commit_index", &ok));
	put_gauge(b, "insidb_raft_applied_index",
	    "Highest log index applied to the state machine.",
	    json_i64(st, "applied_index", &ok));
	put_gauge(b, "insidb_raft_is_leader",
	    "1 when this node is the leader, else 0.", leader ? 1 : 0);
	metrics_family(b, "insidb_raft_snapshots_total", "counter",
	    "Raft snapshots taken or installed since raftd started.");
	metrics_sample_u64(b, "insidb_raft_snapshots_total", NULL,
	    (uint64_t)json_i64(st, "snapshots", &ok));
	put_fsync(b, st);
	put_gauge(b, "insidb_rocksdb_size_bytes",
	    "Approximate size of this node's RocksDB files.",
	    json_i64(st, "rocksdb_bytes", &ok));
	last_index = json_i64(st, "last_index", &ok);
	if (leader && ok)
		put_peers(b, st, self, last_index);
}

static void
put_ops(struct pbuf *b, const struct apid *a)
{
	static const char *ops[OPS_COUNT] = { "vs", "cache", "events",
		"subscribers", "blobs", "system" };
	const char *labels[3] = { "op", NULL, NULL };
	int i;

	metrics_family(b, "insidb_ops_per_second", "gauge",
	    "Routed requests per second over the last sample, by kind.");
	for (i = 0; i < OPS_COUNT; i++) {
		labels[1] = ops[i];
		metrics_sample_double(
		    b, "insidb_ops_per_second", labels, a->ops_rate[i]);
	}
}

static void
put_ws(struct pbuf *b)
{
	const char *labels[3] = { "reason", NULL, NULL };

	put_gauge(b, "insidb_ws_sessions_active",
	    "WebSocket event sessions open on this node.",
	    (int64_t)apid_events_active());
	metrics_family(b, "insidb_ws_sessions_closed_total", "counter",
	    "WebSocket event sessions ended, by reason.");
	for (int r = 0; r < WS_END_REASONS; r++) {
		labels[1] = ws_end_reason_name((enum ws_end_reason)r);
		metrics_sample_u64(b, "insidb_ws_sessions_closed_total", labels,
		    apid_events_closed((enum ws_end_reason)r));
	}
}

static void
status_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct json_object *st = NULL;
	struct json_tokener *tok;
	const uint8_t *s;
	struct pread r;
	struct pbuf b;
	size_t slen;

	/* raftd unreachable: the raft gauges are left out, the rest stays */
	if (err == 0) {
		pr_init(&r, p, len);
		if (pr_get_bytes(&r, &s, &slen) == 0 && slen < INT32_MAX &&
		    (tok = json_tokener_new()) != NULL) {
			st = json_tokener_parse_ex(
			    tok, (const char *)s, (int)slen);
			json_tokener_free(tok);
		}
		if (st != NULL && !json_object_is_type(st, json_type_object)) {
			json_object_put(st);
			st = NULL;
		}
	}
	pb_init(&b);
	metrics_reqs_put(&b, &reqs);
	metrics_family(&b, "insidb_raft_leader_changes_total", "counter",
	    "Leaders this node has seen elected since it started.");
	metrics_sample_u64(
	    &b, "insidb_raft_leader_changes_total", NULL, leader_changes);
	if (st != NULL)
		put_raft(&b, st, ar->a->env->node_id);
	put_ops(&b, ar->a);
	put_ws(&b);
	apid_blobs_metrics(&b);
	json_object_put(st);
	if (b.err) {
		pb_free(&b);
		apid_error(ar, 500, "INTERNAL_ERROR", NULL, "out of memory");
		return;
	}
	http_respond(ar->req, 200, NULL, METRICS_CONTENT_TYPE, b.data, b.len);
	pb_free(&b);
}

static void
metrics_begin(struct areq *ar)
{
	struct pbuf b;

	pb_init(&b);
	apid_raft_call(
	    ar, MSG_RAFT_STATUS, &b, METRICS_STATUS_WAIT_MS, status_done);
	pb_free(&b);
}

apid_handler
apid_metrics_handler(enum route_id id)
{
	return id == R_METRICS ? metrics_begin : NULL;
}
