/*
 * Blob GC: a libevent timer on the leader.  Each pass scans a bounded
 * stretch of the blob column family from where the last pass stopped (the
 * whole family unless it holds more than BLOB_GC_SCAN_MAX records), so
 * the loop never stalls.  The proposal carries no waiter.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/blob_gc.h"
#include "raftd/core/raft.h"
#include "raftd/fsm_blobs.h"

struct blob_gc {
	struct node *node;
	struct fsm *fsm;
	struct event *ev;
	struct keybuf cursor;
};

/* list: u32 n, n * (str scope, bytes key); the command's scope: the
 * first entry's, a valid one */
static int
gc_propose(struct blob_gc *gc, const struct pbuf *list)
{
	const uint8_t *scope;
	struct pread r;
	size_t slen;
	uint32_t n;
	uint64_t leader;
	struct cmd c;

	pr_init(&r, list->data, list->len);
	if (pr_get_u32(&r, &n) == -1 || pr_get_bytes(&r, &scope, &slen) == -1 ||
	    slen > CMD_SCOPE_MAX)
		fatalx("%s: malformed purge list", __func__);
	memset(&c, 0, sizeof(c));
	c.type = CMD_BLOB_PURGE;
	memcpy(c.scope, scope, slen);
	c.scope[slen] = '\0';
	c.value = list->data;
	c.value_len = list->len;
	if (node_propose(gc->node, &c, NULL, &leader) != ST_OK) {
		log_debug("%s: %u tombstoned blobs not proposed", __func__, n);
		return -1;
	}
	log_debug("%s: purge of %u tombstoned blobs proposed", __func__, n);
	return 0;
}

int
blob_gc_run(struct blob_gc *gc)
{
	struct pbuf entries, list;
	int n;

	if (raft_role(node_core(gc->node)) != RAFT_LEADER) {
		gc->cursor.len = 0;
		return 0;
	}
	pb_init(&entries);
	/* from where the last pass stopped; once at the end, from the start */
	n = fsm_blobs_tombstoned(gc->fsm, &gc->cursor, BLOB_GC_SCAN_MAX,
	    FSM_BLOB_PURGE_MAX, &entries);
	if (n > 0) {
		pb_init(&list);
		pb_add_u32(&list, (uint32_t)n);
		pb_add_raw(&list, entries.data, entries.len);
		if (list.err || entries.err)
			fatalx("%s: cannot encode", __func__);
		if (gc_propose(gc, &list) == -1)
			n = 0;
		pb_free(&list);
	}
	pb_free(&entries);
	return n > 0 ? n : 0;
}

static void
gc_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	blob_gc_run(arg);
}

struct blob_gc *
blob_gc_start(struct event_base *base, struct node *node, struct fsm *fsm,
    int64_t interval_ms)
{
	struct blob_gc *gc;
	struct timeval tv;

	if (interval_ms <= 0)
		interval_ms = BLOB_GC_INTERVAL_MS;
	tv.tv_sec = (time_t)(interval_ms / 1000);
	tv.tv_usec = (suseconds_t)((interval_ms % 1000) * 1000);
	if ((gc = calloc(1, sizeof(*gc))) == NULL)
		fatal("%s", __func__);
	gc->node = node;
	gc->fsm = fsm;
	if ((gc->ev = event_new(base, -1, EV_PERSIST, gc_cb, gc)) == NULL ||
	    event_add(gc->ev, &tv) == -1)
		fatalx("%s: timer", __func__);
	return gc;
}

void
blob_gc_free(struct blob_gc *gc)
{
	if (gc == NULL)
		return;
	event_free(gc->ev);
	free(gc);
}
