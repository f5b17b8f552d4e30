/*
 * The applied-blob stream (MSG_RAFT_BLOBS, proto/msg.h): one long-poll
 * kept open to raftd.  A PUT received by another node whose file is not
 * here queues a fetch; a PURGE deletes the file and drops its fetch; a
 * RESYNC (snapshot installed), lost entries or a new epoch (raftd
 * restarted) mean something may have been missed: a repair pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

#define STREAM_CALL_MS 3000
#define STREAM_RETRY_MS 1000

struct stream {
	struct blobd *b;
	bool polling;
	bool stopped;
	uint64_t epoch; /* 0: no answer yet */
	uint64_t last;
	struct event *retry;
};

static void stream_issue(struct stream *);

static void
stream_retry_later(struct stream *s)
{
	struct timeval tv = { STREAM_RETRY_MS / 1000, 0 };

	evtimer_add(s->retry, &tv);
}

/* -1 when raftd sent something this blobd cannot take */
static int
stream_entry(struct blobd *b, uint8_t kind, const char *scope,
    const uint8_t *key, size_t klen, uint64_t size, const char *hash,
    const char *node)
{
	switch (kind) {
	case BLOB_CHANGE_PUT:
		if (!blob_scope_ok(scope) || !blob_key_ok(key, klen) ||
		    !blob_name_ok(hash))
			return -1;
		/* ours was renamed into place before the reply */
		if (strcmp(node, b->node_id) != 0)
			fetch_queue(b, scope, key, klen, size, hash, node);
		break;
	case BLOB_CHANGE_PURGE:
		if (!blob_scope_ok(scope) || !blob_key_ok(key, klen))
			return -1;
		fetch_cancel(b, scope, key, klen);
		blobd_purge(b, scope, key, klen);
		break;
	case BLOB_CHANGE_RESYNC:
		repair_request(b, "snapshot installed");
		break;
	default:
		return -1;
	}
	return 0;
}

/* u64 epoch, u64 lost, u64 last, u32 n, n * (u64 seq, u8 kind, str
 * scope, bytes key, u64 size, str hash, str node_id) */
static int
stream_apply(struct stream *s, const uint8_t *p, size_t len)
{
	uint64_t epoch, lost, last, seq, size;
	char *scope, *hash, *node;
	const uint8_t *key;
	struct pread r;
	uint8_t kind;
	size_t klen;
	uint32_t n;
	int rc;

	pr_init(&r, p, len);
	pr_get_u64(&r, &epoch);
	pr_get_u64(&r, &lost);
	pr_get_u64(&r, &last);
	if (pr_get_u32(&r, &n) == -1)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pr_get_u64(&r, &seq);
		pr_get_u8(&r, &kind);
		pr_get_strdup(&r, &scope);
		pr_get_bytes(&r, &key, &klen);
		pr_get_u64(&r, &size);
		pr_get_strdup(&r, &hash);
		pr_get_strdup(&r, &node);
		rc = r.err ? -1
			   : stream_entry(s->b, kind, scope, key, klen, size,
				 hash, node);
		free(scope);
		free(hash);
		free(node);
		if (rc == -1)
			return -1;
	}
	if (pr_end(&r) == -1)
		return -1;
	if (lost > 0) {
		log_warnx("%llu blob changes left raftd's ring before blobd "
			  "read them",
		    (unsigned long long)lost);
		repair_request(s->b, "changes lost");
	}
	/* the first answer is covered by the pass at start */
	if (s->epoch != 0 && epoch != s->epoch)
		repair_request(s->b, "raftd restarted");
	s->epoch = epoch;
	s->last = last;
	return 0;
}

static void
stream_done(int err, struct ipc_msg *m, void *arg)
{
	struct stream *s = arg;

	s->polling = false;
	if (s->stopped || s->b->stopping)
		return;
	if (err != 0 || m == NULL) {
		if (err != ETIMEDOUT)
			log_debug("blob stream: raftd not reachable");
		stream_retry_later(s);
		return;
	}
	if (stream_apply(s, m->payload, m->len) == -1) {
		/* a sibling's bug; crashing here would take the node down */
		log_warnx("malformed blob stream answer from raftd");
		repair_request(s->b, "stream unreadable");
		stream_retry_later(s);
		return;
	}
	stream_issue(s);
}

static void
stream_issue(struct stream *s)
{
	struct pbuf pb;

	if (s->polling || s->b->stopping)
		return;
	if (s->b->raft == NULL) {
		stream_retry_later(s);
		return;
	}
	pb_init(&pb);
	pb_add_u64(&pb, s->epoch);
	pb_add_u64(&pb, s->last);
	if (pb.err)
		fatalx("%s: encode", __func__);
	if (ipc_call(s->b->raft, MSG_RAFT_BLOBS, pb.data, pb.len,
		STREAM_CALL_MS, stream_done, s) == 0)
		s->polling = true;
	else
		stream_retry_later(s);
	pb_free(&pb);
}

static void
stream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_issue(arg);
}

void
stream_start(struct blobd *b)
{
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	s->b = b;
	if ((s->retry = evtimer_new(b->base, stream_retry_cb, s)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	b->stream = s;
	stream_issue(s);
}

void
stream_stop(struct blobd *b)
{
	struct stream *s = b->stream;

	if (s == NULL || s->stopped)
		return;
	evtimer_del(s->retry);
	s->stopped = true;
}

/* once raftd.api is closed: no answer can name it any more */
void
stream_free(struct blobd *b)
{
	struct stream *s = b->stream;

	if (s == NULL)
		return;
	b->stream = NULL;
	event_free(s->retry);
	free(s);
}
