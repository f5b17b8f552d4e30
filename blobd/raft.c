/*
 * blobd's calls to raftd on raftd.api: proposals of blob metadata and
 * local reads of it.  Calls fail (-1) while the channel is not dialled;
 * their callers retry later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

#define RAFT_DIAL_RETRY_MS 1000

static void
raft_dial(struct blobd *b)
{
	struct timeval tv = { RAFT_DIAL_RETRY_MS / 1000, 0 };

	b->raft = ipc_req_dial(b->ipc, b->raft_url, BLOBD_RAFT_CALLS);
	if (b->raft == NULL)
		evtimer_add(b->raft_retry, &tv);
}

static void
raft_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	raft_dial(arg);
}

void
blobd_raft_start(struct blobd *b, const char *url)
{
	snprintf(b->raft_url, sizeof(b->raft_url), "%s", url);
	if ((b->raft_retry = evtimer_new(b->base, raft_retry_cb, b)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	raft_dial(b);
}

void
blobd_raft_stop(struct blobd *b)
{
	if (b->raft_retry != NULL)
		event_free(b->raft_retry);
	b->raft_retry = NULL;
	/* calls in flight are dropped without their callbacks */
	ipc_close(b->raft);
	b->raft = NULL;
}

int
blobd_propose(struct blobd *b, const struct cmd *c, ipc_resp_cb cb, void *arg)
{
	struct pbuf pb;
	int rc;

	if (b->raft == NULL)
		return -1;
	pb_init(&pb);
	cmd_encode(&pb, c);
	if (pb.err)
		fatalx("%s: encode", __func__);
	rc = ipc_call(b->raft, MSG_RAFT_PROPOSE, pb.data, pb.len,
	    BLOBD_PROPOSE_MS, cb, arg);
	pb_free(&pb);
	return rc;
}

int
blobd_read(struct blobd *b, const struct read_req *rq, int timeout_ms,
    ipc_resp_cb cb, void *arg)
{
	struct pbuf pb;
	int rc;

	if (b->raft == NULL)
		return -1;
	pb_init(&pb);
	read_req_encode(&pb, rq);
	if (pb.err)
		fatalx("%s: encode", __func__);
	rc = ipc_call(
	    b->raft, MSG_RAFT_READ, pb.data, pb.len, timeout_ms, cb, arg);
	pb_free(&pb);
	return rc;
}

void
blob_record_free(struct blob_record *rec)
{
	free(rec->owner_uuid);
	free(rec->node_id);
	free(rec->node_identity_uuid);
	free(rec->hash);
	free(rec->original_name);
	free(rec->content_type);
	memset(rec, 0, sizeof(*rec));
}

/* u8 state, i64 uploaded_at, i64 tombstoned_at, then the CMD_BLOB_PUT
 * value: str owner, str node_id, str node_identity, u64 size, str hash,
 * str original_name, str content_type */
int
blob_record_decode(const uint8_t *p, size_t len, struct blob_record *rec)
{
	struct pread r;

	memset(rec, 0, sizeof(*rec));
	pr_init(&r, p, len);
	pr_get_u8(&r, &rec->state);
	pr_get_i64(&r, &rec->uploaded_at);
	pr_get_i64(&r, &rec->tombstoned_at);
	pr_get_strdup(&r, &rec->owner_uuid);
	pr_get_strdup(&r, &rec->node_id);
	pr_get_strdup(&r, &rec->node_identity_uuid);
	pr_get_u64(&r, &rec->size);
	pr_get_strdup(&r, &rec->hash);
	pr_get_strdup(&r, &rec->original_name);
	pr_get_strdup(&r, &rec->content_type);
	if (pr_end(&r) == -1 || rec->state > 1 || rec->hash == NULL ||
	    !blob_name_ok(rec->hash)) {
		blob_record_free(rec);
		return -1;
	}
	return 0;
}
