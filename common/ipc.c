/*
 * NNG channels whose completions run on a libevent loop.
 *
 * NNG calls aio callbacks on its own threads.  Those callbacks never touch
 * daemon state: they only put a completion record on the ipc's queue and
 * wake the loop with event_active().  The loop drains the queue and calls
 * the user callbacks, so every callback in ipc.h runs on the loop thread.
 */
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/crypto.h"
#include "common/ipc.h"
#include "common/log.h"
#include "proto/codec.h"

#define IPC_MAX_PIDS 8
#define IPC_PAIR_SENDBUF 256
#define IPC_REFUSED_LOG_SECONDS 10

enum chan_kind { CHAN_PAIR, CHAN_REP, CHAN_REQ };
enum done_kind { DONE_PAIR_RECV, DONE_REP_RECV, DONE_REQ };

struct ipc_done {
	TAILQ_ENTRY(ipc_done) entry;
	enum done_kind kind;
	struct ipc_chan *ch;
	nng_msg *msg;
	int err;
	struct ipc_rctx *rctx;
	struct ipc_call *call;
};
TAILQ_HEAD(done_q, ipc_done);

struct ipc {
	struct event_base *base;
	struct event *wake;
	pthread_mutex_t mu;
	struct done_q q;
};

struct ipc_rctx {
	struct ipc_chan *ch;
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
};

struct ipc_call {
	struct ipc_chan *ch;
	nng_ctx ctx;
	nng_aio *aio;
	int receiving;
	ipc_resp_cb cb;
	void *arg;
	struct ipc_call *next_free;
};

struct ipc_chan {
	struct ipc *ipc;
	enum chan_kind kind;
	nng_socket sock;
	ipc_recv_cb recv_cb;
	void *arg;
	int closing;

	/* pair */
	nng_aio *recv_aio;

	/* rep */
	struct ipc_rctx *rctxs;
	int nctx;

	/* req */
	struct ipc_call **calls; /* every call ever opened */
	int ncalls;
	int max_calls;
	int inflight;
	struct ipc_call *free_calls;
	uint64_t next_corr;

	/* listener peer check, read on NNG threads */
	pthread_mutex_t peer_mu;
	uid_t peer_uid;
	pid_t peer_pids[IPC_MAX_PIDS];
	size_t npeer_pids;
	time_t refused_logged; /* a refused dialer retries: log rarely */
	uint64_t refused;
};

static void ipc_drain(evutil_socket_t, short, void *);

struct ipc *
ipc_new(struct event_base *base)
{
	struct ipc *ipc;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		fatal("%s: calloc", __func__);
	ipc->base = base;
	pthread_mutex_init(&ipc->mu, NULL);
	TAILQ_INIT(&ipc->q);
	if ((ipc->wake = event_new(base, -1, 0, ipc_drain, ipc)) == NULL)
		fatalx("%s: event_new", __func__);
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	struct ipc_done *d;

	if (ipc == NULL)
		return;
	while ((d = TAILQ_FIRST(&ipc->q)) != NULL) {
		TAILQ_REMOVE(&ipc->q, d, entry);
		if (d->msg != NULL)
			nng_msg_free(d->msg);
		free(d);
	}
	event_free(ipc->wake);
	pthread_mutex_destroy(&ipc->mu);
	free(ipc);
}

void
ipc_url(char *buf, size_t len, const char *insid_home, const char *node_id,
    const char *channel)
{
	char hex[65];

	crypto_sha256_hex(insid_home, strlen(insid_home), hex);
	snprintf(
	    buf, len, "abstract://insidb.%.8s.%s.%s", hex, node_id, channel);
}

/* called on NNG threads */
static void
ipc_post(struct ipc *ipc, enum done_kind kind, struct ipc_chan *ch,
    nng_msg *msg, int err, struct ipc_rctx *rctx, struct ipc_call *call)
{
	struct ipc_done *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("%s: calloc", __func__);
	d->kind = kind;
	d->ch = ch;
	d->msg = msg;
	d->err = err;
	d->rctx = rctx;
	d->call = call;
	pthread_mutex_lock(&ipc->mu);
	TAILQ_INSERT_TAIL(&ipc->q, d, entry);
	pthread_mutex_unlock(&ipc->mu);
	event_active(ipc->wake, EV_READ, 0);
}

static int
ipc_errno(int nng_err)
{
	switch (nng_err) {
	case NNG_ETIMEDOUT:
		return ETIMEDOUT;
	case NNG_ECONNREFUSED:
		return ECONNREFUSED;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return ECANCELED;
	default:
		return EIO;
	}
}

static nng_msg *
ipc_msg_build(uint16_t type, uint64_t corr, const void *payload, size_t len)
{
	struct proto_hdr h;
	uint8_t hb[PROTO_HDR_LEN];
	nng_msg *m;

	if (len > PROTO_MSG_MAX)
		return NULL;
	h.version = PROTO_VERSION;
	h.type = type;
	h.len = (uint32_t)len;
	h.corr = corr;
	proto_hdr_encode(hb, &h);
	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_append(m, hb, sizeof(hb)) != 0 ||
	    (len > 0 && nng_msg_append(m, payload, len) != 0)) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

/* a malformed message from a sibling process is a bug in that process */
static void
ipc_msg_parse(nng_msg *m, struct ipc_msg *out)
{
	const uint8_t *body = nng_msg_body(m);
	size_t len = nng_msg_len(m);

	memset(out, 0, sizeof(*out));
	if (proto_hdr_decode(body, len, &out->hdr) == -1)
		fatalx("ipc: malformed message header (%zu bytes)", len);
	out->payload = body + PROTO_HDR_LEN;
	out->len = out->hdr.len;
}

/*
 * Peer credential check on every new pipe of a listener.
 */
static void
ipc_pipe_check(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_chan *ch = arg;
	uint64_t uid = 0, pid = 0;
	int ok;

	(void)ev;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
	    nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) != 0) {
		log_warnx("ipc: cannot read peer credentials; refused");
		nng_pipe_close(p);
		return;
	}
	pthread_mutex_lock(&ch->peer_mu);
	ok = (uid_t)uid == ch->peer_uid;
	if (ok && ch->npeer_pids > 0) {
		ok = 0;
		for (size_t i = 0; i < ch->npeer_pids; i++)
			if ((pid_t)pid == ch->peer_pids[i])
				ok = 1;
	}
	if (!ok) {
		time_t now = time(NULL);

		ch->refused++;
		if (now - ch->refused_logged >= IPC_REFUSED_LOG_SECONDS) {
			log_warnx("ipc: refused peer uid %llu pid %llu "
				  "(%llu refusals so far)",
			    (unsigned long long)uid, (unsigned long long)pid,
			    (unsigned long long)ch->refused);
			ch->refused_logged = now;
		}
	}
	pthread_mutex_unlock(&ch->peer_mu);
	if (!ok)
		nng_pipe_close(p);
}

void
ipc_set_peer(struct ipc_chan *ch, uid_t uid, const pid_t *pids, size_t npids)
{
	if (npids > IPC_MAX_PIDS)
		fatalx("%s: too many pids", __func__);
	pthread_mutex_lock(&ch->peer_mu);
	ch->peer_uid = uid;
	ch->npeer_pids = npids;
	for (size_t i = 0; i < npids; i++)
		ch->peer_pids[i] = pids[i];
	pthread_mutex_unlock(&ch->peer_mu);
}

static struct ipc_chan *
ipc_chan_new(struct ipc *ipc, enum chan_kind kind, ipc_recv_cb cb, void *arg)
{
	struct ipc_chan *ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		fatal("%s: calloc", __func__);
	ch->ipc = ipc;
	ch->kind = kind;
	ch->recv_cb = cb;
	ch->arg = arg;
	ch->peer_uid = geteuid();
	pthread_mutex_init(&ch->peer_mu, NULL);
	return ch;
}

static int
ipc_listen(struct ipc_chan *ch, const char *url)
{
	int rv;

	if ((rv = nng_pipe_notify(
		 ch->sock, NNG_PIPE_EV_ADD_PRE, ipc_pipe_check, ch)) != 0 ||
	    (rv = nng_listen(ch->sock, url, NULL, 0)) != 0) {
		log_warnx("ipc: listen %s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

static int
ipc_dial(struct ipc_chan *ch, const char *url)
{
	int rv;

	nng_socket_set_ms(ch->sock, NNG_OPT_RECONNMINT, 10);
	nng_socket_set_ms(ch->sock, NNG_OPT_RECONNMAXT, 500);
	/* nonblocking: the dialer retries in the background until the
	 * listener exists */
	if ((rv = nng_dial(ch->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		log_warnx("ipc: dial %s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/*
 * pair channels
 */

static void
ipc_pair_recv_done(void *arg)
{
	struct ipc_chan *ch = arg;
	int rv = nng_aio_result(ch->recv_aio);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv == 0)
		ipc_post(ch->ipc, DONE_PAIR_RECV, ch,
		    nng_aio_get_msg(ch->recv_aio), 0, NULL, NULL);
	nng_recv_aio(ch->sock, ch->recv_aio);
}

static struct ipc_chan *
ipc_pair_open(
    struct ipc *ipc, const char *url, ipc_recv_cb cb, void *arg, int listen)
{
	struct ipc_chan *ch = ipc_chan_new(ipc, CHAN_PAIR, cb, arg);

	if (nng_pair1_open(&ch->sock) != 0)
		fatalx("%s: nng_pair1_open", __func__);
	nng_socket_set_int(ch->sock, NNG_OPT_SENDBUF, IPC_PAIR_SENDBUF);
	if (nng_aio_alloc(&ch->recv_aio, ipc_pair_recv_done, ch) != 0)
		fatalx("%s: nng_aio_alloc", __func__);
	if ((listen ? ipc_listen(ch, url) : ipc_dial(ch, url)) == -1) {
		nng_close(ch->sock);
		nng_aio_free(ch->recv_aio);
		pthread_mutex_destroy(&ch->peer_mu);
		free(ch);
		return NULL;
	}
	nng_recv_aio(ch->sock, ch->recv_aio);
	return ch;
}

struct ipc_chan *
ipc_pair_listen(struct ipc *ipc, const char *url, ipc_recv_cb cb, void *arg)
{
	return ipc_pair_open(ipc, url, cb, arg, 1);
}

struct ipc_chan *
ipc_pair_dial(struct ipc *ipc, const char *url, ipc_recv_cb cb, void *arg)
{
	return ipc_pair_open(ipc, url, cb, arg, 0);
}

int
ipc_send(struct ipc_chan *ch, uint16_t type, uint64_t corr, const void *payload,
    size_t len)
{
	nng_msg *m;

	if (ch->kind != CHAN_PAIR)
		fatalx("%s: not a pair channel", __func__);
	if ((m = ipc_msg_build(type, corr, payload, len)) == NULL)
		return -1;
	if (nng_sendmsg(ch->sock, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
		return -1;
	}
	return 0;
}

/*
 * rep channels: nctx contexts, each receiving one request at a time and
 * answering it before it receives the next.
 */

static void
ipc_rep_done(void *arg)
{
	struct ipc_rctx *r = arg;
	int rv = nng_aio_result(r->aio);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		if (r->sending && nng_aio_get_msg(r->aio) != NULL)
			nng_msg_free(nng_aio_get_msg(r->aio));
		return;
	}
	if (r->sending) {
		/* a reply that could not be sent (peer gone) is dropped */
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(r->aio));
		r->sending = 0;
		nng_ctx_recv(r->ctx, r->aio);
		return;
	}
	if (rv != 0) {
		nng_ctx_recv(r->ctx, r->aio);
		return;
	}
	ipc_post(r->ch->ipc, DONE_REP_RECV, r->ch, nng_aio_get_msg(r->aio), 0,
	    r, NULL);
}

struct ipc_chan *
ipc_rep_listen(
    struct ipc *ipc, const char *url, int nctx, ipc_recv_cb cb, void *arg)
{
	struct ipc_chan *ch = ipc_chan_new(ipc, CHAN_REP, cb, arg);

	if (nctx < 1)
		fatalx("%s: nctx %d", __func__, nctx);
	if (nng_rep0_open(&ch->sock) != 0)
		fatalx("%s: nng_rep0_open", __func__);
	if (ipc_listen(ch, url) == -1) {
		nng_close(ch->sock);
		pthread_mutex_destroy(&ch->peer_mu);
		free(ch);
		return NULL;
	}
	if ((ch->rctxs = calloc(nctx, sizeof(*ch->rctxs))) == NULL)
		fatal("%s: calloc", __func__);
	ch->nctx = nctx;
	for (int i = 0; i < nctx; i++) {
		struct ipc_rctx *r = &ch->rctxs[i];

		r->ch = ch;
		if (nng_ctx_open(&r->ctx, ch->sock) != 0 ||
		    nng_aio_alloc(&r->aio, ipc_rep_done, r) != 0)
			fatalx("%s: context setup", __func__);
		nng_ctx_recv(r->ctx, r->aio);
	}
	return ch;
}

int
ipc_reply(struct ipc_rctx *r, uint16_t type, const void *payload, size_t len)
{
	nng_msg *m;

	if (r->sending)
		fatalx("%s: request answered twice", __func__);
	if ((m = ipc_msg_build(type, 0, payload, len)) == NULL) {
		/* the requester times out; the context must go on */
		log_warnx("%s: cannot build reply of %zu bytes", __func__, len);
		nng_ctx_recv(r->ctx, r->aio);
		return -1;
	}
	r->sending = 1;
	nng_aio_set_msg(r->aio, m);
	nng_ctx_send(r->ctx, r->aio);
	return 0;
}

/*
 * req channels
 */

static void
ipc_req_done(void *arg)
{
	struct ipc_call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (!c->receiving) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			ipc_post(c->ch->ipc, DONE_REQ, c->ch, NULL,
			    ipc_errno(rv), NULL, c);
			return;
		}
		c->receiving = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	ipc_post(c->ch->ipc, DONE_REQ, c->ch,
	    rv == 0 ? nng_aio_get_msg(c->aio) : NULL,
	    rv == 0 ? 0 : ipc_errno(rv), NULL, c);
}

struct ipc_chan *
ipc_req_dial(struct ipc *ipc, const char *url, int max_outstanding)
{
	struct ipc_chan *ch = ipc_chan_new(ipc, CHAN_REQ, NULL, NULL);

	if (max_outstanding < 1)
		fatalx("%s: max_outstanding %d", __func__, max_outstanding);
	if (nng_req0_open(&ch->sock) != 0)
		fatalx("%s: nng_req0_open", __func__);
	/* commands are not idempotent: never resend */
	nng_socket_set_ms(
	    ch->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (ipc_dial(ch, url) == -1) {
		nng_close(ch->sock);
		pthread_mutex_destroy(&ch->peer_mu);
		free(ch);
		return NULL;
	}
	if ((ch->calls = calloc(max_outstanding, sizeof(*ch->calls))) == NULL)
		fatal("%s: calloc", __func__);
	ch->max_calls = max_outstanding;
	ch->next_corr = 1;
	return ch;
}

static struct ipc_call *
ipc_call_get(struct ipc_chan *ch)
{
	struct ipc_call *c;

	if ((c = ch->free_calls) != NULL) {
		ch->free_calls = c->next_free;
		return c;
	}
	if (ch->ncalls == ch->max_calls)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s: calloc", __func__);
	c->ch = ch;
	if (nng_ctx_open(&c->ctx, ch->sock) != 0 ||
	    nng_aio_alloc(&c->aio, ipc_req_done, c) != 0)
		fatalx("%s: context setup", __func__);
	nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	ch->calls[ch->ncalls++] = c;
	return c;
}

int
ipc_call(struct ipc_chan *ch, uint16_t type, const void *payload, size_t len,
    int timeout_ms, ipc_resp_cb cb, void *arg)
{
	struct ipc_call *c;
	nng_msg *m;

	if (ch->kind != CHAN_REQ)
		fatalx("%s: not a req channel", __func__);
	if ((m = ipc_msg_build(type, ch->next_corr++, payload, len)) == NULL) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((c = ipc_call_get(ch)) == NULL) {
		nng_msg_free(m);
		errno = EAGAIN;
		return -1;
	}
	c->cb = cb;
	c->arg = arg;
	c->receiving = 0;
	ch->inflight++;
	nng_aio_set_msg(c->aio, m);
	nng_aio_set_timeout(c->aio, timeout_ms);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}

/*
 * The loop side: deliver completions.
 */

static void
ipc_deliver(struct ipc_done *d)
{
	struct ipc_chan *ch = d->ch;
	struct ipc_msg m;

	switch (d->kind) {
	case DONE_PAIR_RECV:
	case DONE_REP_RECV:
		ipc_msg_parse(d->msg, &m);
		m.rctx = d->rctx;
		ch->recv_cb(ch, &m, ch->arg);
		break;
	case DONE_REQ: {
		struct ipc_call *c = d->call;
		ipc_resp_cb cb = c->cb;
		void *arg = c->arg;

		ch->inflight--;
		c->next_free = ch->free_calls;
		ch->free_calls = c;
		if (d->err != 0 || d->msg == NULL) {
			cb(d->err ? d->err : EIO, NULL, arg);
			break;
		}
		ipc_msg_parse(d->msg, &m);
		cb(0, &m, arg);
		break;
	}
	}
}

static void
ipc_drain(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc *ipc = arg;
	struct done_q local;
	struct ipc_done *d;

	(void)fd;
	(void)ev;
	TAILQ_INIT(&local);
	pthread_mutex_lock(&ipc->mu);
	TAILQ_CONCAT(&local, &ipc->q, entry);
	pthread_mutex_unlock(&ipc->mu);
	while ((d = TAILQ_FIRST(&local)) != NULL) {
		TAILQ_REMOVE(&local, d, entry);
		if (!d->ch->closing)
			ipc_deliver(d);
		if (d->msg != NULL)
			nng_msg_free(d->msg);
		free(d);
	}
}

void
ipc_close(struct ipc_chan *ch)
{
	struct ipc_done *d, *next;

	if (ch == NULL)
		return;
	ch->closing = 1;
	nng_close(ch->sock);
	if (ch->recv_aio != NULL)
		nng_aio_free(ch->recv_aio);
	for (int i = 0; i < ch->nctx; i++) {
		nng_aio_free(ch->rctxs[i].aio);
	}
	for (int i = 0; i < ch->ncalls; i++) {
		nng_aio_free(ch->calls[i]->aio);
		free(ch->calls[i]);
	}
	/* completions already queued for this channel die with it */
	pthread_mutex_lock(&ch->ipc->mu);
	for (d = TAILQ_FIRST(&ch->ipc->q); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->ch != ch)
			continue;
		TAILQ_REMOVE(&ch->ipc->q, d, entry);
		if (d->msg != NULL)
			nng_msg_free(d->msg);
		free(d);
	}
	pthread_mutex_unlock(&ch->ipc->mu);
	free(ch->rctxs);
	free(ch->calls);
	pthread_mutex_destroy(&ch->peer_mu);
	free(ch);
}
