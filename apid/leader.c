/*
 * Who leads, as raftd says: one MSG_RAFT_WATCH call is kept open and
 * re-issued on every answer, so a leader change reaches apid at once.
 * Leader-only routes are redirected (307) or refused (503 NO_LEADER)
 * from this view before their body is read (API.md §2.2 step 7).  A view
 * that went stale (raftd silent) decides nothing: the request then goes to
 * raftd, which refuses a write it cannot take.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apid/metrics.h"
#include "apid/events.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

/* raftd answers a watch within 1 s even without a change */
#define WATCH_CALL_MS 3000
#define WATCH_RETRY_MS 200
/* a view older than this is not used */
#define VIEW_FRESH_MS 3500

static void watch_issue(struct apid *);

static void
watch_retry_later(struct apid *a)
{
	struct timeval tv = { 0, WATCH_RETRY_MS * 1000 };

	evtimer_add(a->watch_retry, &tv);
}

static void
view_changed(struct apid *a, const struct apid_view *old)
{
	const struct apid_view *v = &a->view;

	apid_metrics_view_seen(v->leader, v->term);
	if (strcmp(old->leader, v->leader) != 0 || old->term != v->term)
		log_info("apid: leader %s (term %lld)",
		    v->leader[0] != '\0' ? v->leader : "unknown",
		    (long long)v->term);
	if (v->removed && !old->removed) {
		log_warnx("apid: this node was removed from the cluster");
		/* its event sessions end as when it stops (§14.3) */
		apid_events_stop(a);
	}
}

static void
watch_done(int err, struct ipc_msg *m, void *arg)
{
	struct apid *a = arg;
	struct apid_view old = a->view, nv;
	const uint8_t *s;
	struct pread r;
	size_t slen;

	a->watching = false;
	if (a->stopping)
		return;
	if (err != 0 || m == NULL) {
		watch_retry_later(a);
		return;
	}
	pr_init(&r, m->payload, m->len);
	if (pr_get_bytes(&r, &s, &slen) == -1 ||
	    view_parse((const char *)s, slen, &nv) == -1) {
		log_warnx("apid: malformed status from raftd");
		watch_retry_later(a);
		return;
	}
	a->view = nv;
	a->view_at_ms = http_now_ms();
	view_changed(a, &old);
	apid_autojoin_check(a);
	/* without a version raftd would answer at once, again and again */
	if (nv.version == 0)
		watch_retry_later(a);
	else
		watch_issue(a);
}

static void
watch_issue(struct apid *a)
{
	struct pbuf b;

	if (a->watching || a->stopping)
		return;
	if (a->raft == NULL) {
		watch_retry_later(a);
		return;
	}
	pb_init(&b);
	/* a view that went stale asks for an answer at once */
	pb_add_u64(&b,
	    a->view_at_ms != 0 && http_now_ms() - a->view_at_ms < VIEW_FRESH_MS
		? a->view.version
		: 0);
	if (b.err)
		fatalx("%s: out of memory", __func__);
	if (ipc_call(a->raft, MSG_RAFT_WATCH, b.data, b.len, WATCH_CALL_MS,
		watch_done, a) == 0)
		a->watching = true;
	else
		watch_retry_later(a);
	pb_free(&b);
}

static void
watch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_issue(arg);
}

void
apid_leader_start(struct apid *a)
{
	a->watch_retry = evtimer_new(a->env->base, watch_retry_cb, a);
	if (a->watch_retry == NULL)
		fatalx("%s: evtimer_new", __func__);
	watch_issue(a);
}

const struct apid_view *
apid_view(const struct apid *a)
{
	if (a->view_at_ms == 0 || http_now_ms() - a->view_at_ms > VIEW_FRESH_MS)
		return NULL;
	return &a->view;
}

enum leader_verdict
apid_leader_check(struct apid *a, const char **leader)
{
	const struct apid_view *v = apid_view(a);

	if (v == NULL)
		return LEADER_ASK_RAFT;
	if (v->leader[0] == '\0')
		return LEADER_NONE;
	if (strcmp(v->leader, a->env->node_id) == 0)
		return v->transferring ? LEADER_TRANSFERRING : LEADER_SELF;
	*leader = v->leader;
	return LEADER_OTHER;
}
