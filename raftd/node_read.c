/*
 * Reads (API.md §5).  On the leader a read asks its core for a read index
 * (ReadIndex: one heartbeat round confirms leadership) and answers once
 * applied >= that index; a default read not confirmed within
 * NODE_READ_CONFIRM_MS answers from local state, a linearizable one fails
 * with ST_NO_LEADER.  A linearizable read on a follower asks the leader
 * for a read index over the transport (NODE_CTL_READ_INDEX), then waits
 * for its own apply, NODE_READ_REMOTE_MS each.  Default reads elsewhere
 * answer at once from local state.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/node_int.h"

static void
node_read_reply(
    struct node *n, void *waiter, const uint8_t *req, size_t len, int how)
{
	struct read_req q;
	struct pbuf pb;

	pb_init(&pb);
	if (read_req_decode(req, len, &q, NULL) == -1)
		fatalx("%s: a checked request no longer decodes", __func__);
	if (how < 0) {
		pb_add_u16(&pb, ST_NO_LEADER);
		pb_add_u8(&pb, q.consistency);
	} else {
		q.consistency = (uint8_t)how;
		fsm_read(n->fsm, &q, &pb);
	}
	if (pb.err)
		fatalx("%s: read result does not encode", __func__);
	n->hooks.read_done(waiter, pb.data, pb.len, n->hooks.arg);
	pb_free(&pb);
}

/* how: READ_LOCAL, READ_LINEARIZABLE, or -1 for ST_NO_LEADER */
static void
node_rd_answer(struct node *n, struct node_rd *rd, int how)
{
	void *waiter = rd->waiter;
	uint8_t *req = rd->req;
	size_t len = rd->len;

	memset(rd, 0, sizeof(*rd));
	n->n_reads--;
	node_read_reply(n, waiter, req, len, how);
	free(req);
}

/* the read could not be confirmed: local state, or refused */
static void
node_rd_unconfirmed(struct node *n, struct node_rd *rd)
{
	node_rd_answer(n, rd, rd->linearizable ? -1 : READ_LOCAL);
}

/* asks our own core; 0 and req_id set, or -1 to retry later */
static int
node_rd_ask(struct node *n, struct node_rd *rd)
{
	uint64_t id = n->next_req_id++;
	int rc;

	if ((rc = raft_read_index(n->r, id)) != RAFT_OK) {
		log_debug("%s: %s", __func__, raft_strerror(rc));
		return -1;
	}
	rd->req_id = id;
	return 0;
}

static void
node_ctl_read_send(struct node *n, uint64_t to, uint8_t kind, uint64_t id,
    uint64_t index, uint8_t ok)
{
	struct pbuf pb;

	pb_init(&pb);
	pb_add_u8(&pb, kind);
	pb_add_u64(&pb, id);
	if (kind == NODE_CTL_READ_INDEX_RESP) {
		pb_add_u64(&pb, index);
		pb_add_u8(&pb, ok);
	}
	node_ctl_send(n, to, &pb);
	pb_free(&pb);
}

void
node_read(struct node *n, const uint8_t *req, size_t len, void *waiter)
{
	struct read_req q;
	struct node_rd *rd = NULL;
	bool leader = raft_role(n->r) == RAFT_LEADER;
	uint64_t to = raft_leader(n->r);

	if (read_req_decode(req, len, &q, NULL) == -1)
		fatalx("%s: unchecked read request", __func__);
	if (q.consistency != READ_LINEARIZABLE && !leader)
		return node_read_reply(n, waiter, req, len, READ_LOCAL);
	for (size_t i = 0; i < NODE_READS_MAX && rd == NULL; i++)
		if (n->reads[i].phase == NR_FREE)
			rd = &n->reads[i];
	if (rd == NULL || n->closing || n->removed || (!leader && to == 0))
		return node_read_reply(n, waiter, req, len,
		    q.consistency == READ_LINEARIZABLE ? -1 : READ_LOCAL);
	if ((rd->req = malloc(len > 0 ? len : 1)) == NULL)
		fatal("%s", __func__);
	memcpy(rd->req, req, len);
	rd->len = len;
	rd->waiter = waiter;
	rd->linearizable = q.consistency == READ_LINEARIZABLE;
	rd->leader = leader;
	rd->phase = NR_INDEX;
	n->n_reads++;
	if (leader) {
		rd->deadline_ms = node_now_ms() + NODE_READ_CONFIRM_MS;
		/* not ready yet (no commit in this term): retried per tick */
		(void)node_rd_ask(n, rd);
		node_pump(n);
		return;
	}
	rd->deadline_ms = node_now_ms() + NODE_READ_REMOTE_MS;
	rd->req_id = n->next_req_id++;
	node_ctl_read_send(n, to, NODE_CTL_READ_INDEX, rd->req_id, 0, 0);
}

static struct node_rd *
node_rd_find(struct node *n, uint64_t req_id, bool leader)
{
	for (size_t i = 0; i < NODE_READS_MAX; i++) {
		struct node_rd *rd = &n->reads[i];

		if (rd->phase == NR_INDEX && rd->req_id == req_id &&
		    rd->leader == leader)
			return rd;
	}
	return NULL;
}

static void
node_rd_indexed(struct node *n, struct node_rd *rd, uint64_t index, bool ok)
{
	if (!ok)
		return node_rd_unconfirmed(n, rd);
	rd->phase = NR_APPLY;
	rd->index = index;
	if (!rd->leader)
		rd->deadline_ms = node_now_ms() + NODE_READ_REMOTE_MS;
}

/* read indexes the core confirmed (or failed) in this batch */
void
node_reads_done(struct node *n, const struct raft_read *r, uint32_t cnt)
{
	struct node_rd *rd;

	for (uint32_t i = 0; i < cnt; i++) {
		bool remote = false;

		for (size_t k = 0; k < RAFT_MAX_READS; k++) {
			struct node_remote_rd *x = &n->remote[k];

			if (x->req_id == 0 || x->req_id != r[i].req_id)
				continue;
			node_ctl_read_send(n, x->from, NODE_CTL_READ_INDEX_RESP,
			    x->their_id, r[i].index, r[i].ok);
			memset(x, 0, sizeof(*x));
			remote = true;
			break;
		}
		if (!remote &&
		    (rd = node_rd_find(n, r[i].req_id, true)) != NULL)
			node_rd_indexed(n, rd, r[i].index, r[i].ok);
	}
}

/* answers reads whose index is applied; times out the others */
void
node_reads_check(struct node *n)
{
	uint64_t applied, now;

	if (n->n_reads == 0)
		return;
	applied = node_applied(n);
	now = node_now_ms();
	for (size_t i = 0; i < NODE_READS_MAX && n->n_reads > 0; i++) {
		struct node_rd *rd = &n->reads[i];

		if (rd->phase == NR_APPLY && applied >= rd->index)
			node_rd_answer(n, rd, READ_LINEARIZABLE);
		else if (rd->phase != NR_FREE && now >= rd->deadline_ms)
			node_rd_unconfirmed(n, rd);
		else if (rd->phase == NR_INDEX && rd->leader &&
		    rd->req_id == 0 && raft_role(n->r) != RAFT_LEADER)
			node_rd_unconfirmed(n, rd);
		else if (rd->phase == NR_INDEX && rd->leader && rd->req_id == 0)
			(void)node_rd_ask(n, rd);
	}
}

void
node_reads_fail_all(struct node *n)
{
	for (size_t i = 0; i < NODE_READS_MAX && n->n_reads > 0; i++)
		if (n->reads[i].phase != NR_FREE)
			node_rd_unconfirmed(n, &n->reads[i]);
}

/* the leader side of a follower's read index */
static void
node_remote_read(struct node *n, uint64_t from, uint64_t their_id)
{
	struct node_remote_rd *x = NULL;
	uint64_t id;

	for (size_t k = 0; k < RAFT_MAX_READS && x == NULL; k++)
		if (n->remote[k].req_id == 0)
			x = &n->remote[k];
	id = n->next_req_id++;
	if (x == NULL || raft_read_index(n->r, id) != RAFT_OK) {
		node_ctl_read_send(
		    n, from, NODE_CTL_READ_INDEX_RESP, their_id, 0, 0);
		return;
	}
	x->req_id = id;
	x->from = from;
	x->their_id = their_id;
	node_pump(n);
}

/*
 * a leader says we are outside its committed configuration; a stale
 * leader (older term, or a configuration older than ours) is not believed
 */
static void
node_removed_by(struct node *n, uint64_t from, uint64_t term, uint64_t index)
{
	const struct raft *r = n->r;

	if (term < raft_term(r) || index < raft_config_index(r) || index == 0 ||
	    raft_config(r)->n == 0)
		return;
	log_info("node %llu leads term %llu without us since index %llu",
	    (unsigned long long)from, (unsigned long long)term,
	    (unsigned long long)index);
	node_mark_removed(n);
}

void
node_recv_ctl(struct node *n, uint64_t from, const uint8_t *buf, size_t len)
{
	struct pread pr;
	struct node_rd *rd;
	uint64_t id, index = 0;
	uint8_t kind, ok = 0;

	if (n->removed || n->closing || from == 0 || from > RAFT_MAX_NODES)
		return;
	pr_init(&pr, buf, len);
	pr_get_u8(&pr, &kind);
	pr_get_u64(&pr, &id);
	if (kind == NODE_CTL_READ_INDEX_RESP || kind == NODE_CTL_REMOVED) {
		pr_get_u64(&pr, &index);
	}
	if (kind == NODE_CTL_READ_INDEX_RESP)
		pr_get_u8(&pr, &ok);
	if (pr_end(&pr) != 0) {
		log_warnx("%s: malformed message from node %llu", __func__,
		    (unsigned long long)from);
		return;
	}
	n->peers[from].contact_ms = node_now_ms();
	if (kind == NODE_CTL_READ_INDEX)
		node_remote_read(n, from, id);
	else if (kind == NODE_CTL_REMOVED)
		node_removed_by(n, from, id, index);
	else if (kind == NODE_CTL_READ_INDEX_RESP &&
	    (rd = node_rd_find(n, id, false)) != NULL) {
		node_rd_indexed(n, rd, index, ok != 0);
		node_reads_check(n);
	}
}
