/*
 * The Raft peer transport: peers, their send queues and the dialing side.
 * Connections (framing, authentication, receiving) are in transport_conn.c.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "proto/codec.h"
#include "proto/msg.h"
#include "proto/raft_wire.h"
#include "raftd/transport_int.h"

void
transport_options_default(struct transport_options *o)
{
	memset(o, 0, sizeof(*o));
	o->queue_msgs = 1024;
	o->queue_bytes = 32u * 1024 * 1024;
	o->output_hwm = 1024 * 1024;
	o->backoff_min_ms = 100;
	o->backoff_max_ms = 2000;
	o->auth_timeout_ms = 5000;
	o->write_timeout_ms = 10000;
	o->max_inbound = 64;
}

static bool
options_valid(const struct transport_options *o)
{
	return o->queue_msgs > 0 && o->queue_bytes > 0 && o->output_hwm > 0 &&
	    o->backoff_min_ms > 0 && o->backoff_max_ms >= o->backoff_min_ms &&
	    o->auth_timeout_ms > 0 && o->write_timeout_ms > 0 &&
	    o->max_inbound > 0;
}

void
transport_log_refusal(struct transport *t, const char *fmt, ...)
{
	struct timeval now;
	char buf[256];
	va_list ap;

	event_base_gettimeofday_cached(t->base, &now);
	if (now.tv_sec != t->log_sec) {
		if (t->log_suppressed > 0)
			log_warnx("raft transport: %llu more refusals not "
				  "logged",
			    (unsigned long long)t->log_suppressed);
		t->log_sec = now.tv_sec;
		t->log_n = 0;
		t->log_suppressed = 0;
	}
	if (t->log_n >= TRANSPORT_LOG_BURST) {
		t->log_suppressed++;
		return;
	}
	t->log_n++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("raft transport: %s", buf);
}

struct peer *
transport_find_peer(const struct transport *t, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < t->n_peers; i++)
		if (t->peers[i]->id == id)
			return t->peers[i];
	return NULL;
}

static void
sendq_init(struct sendq *q)
{
	STAILQ_INIT(&q->frames);
	q->n = 0;
	q->bytes = 0;
}

static struct frame *
sendq_pop(struct sendq *q)
{
	struct frame *f;

	if ((f = STAILQ_FIRST(&q->frames)) == NULL)
		return NULL;
	STAILQ_REMOVE_HEAD(&q->frames, entry);
	q->n--;
	q->bytes -= f->len;
	return f;
}

static void
sendq_clear(struct sendq *q)
{
	struct frame *f;

	while ((f = sendq_pop(q)) != NULL) {
		free(f->data);
		free(f);
	}
}

static void
frame_data_free(const void *data, size_t len, void *extra)
{
	(void)data;
	(void)len;
	free(extra);
}

/* hands queued frames to the connection, control first, up to the hwm */
void
transport_peer_flush(struct peer *p)
{
	struct conn *c = p->out;
	struct evbuffer *out;
	struct frame *f;

	if (c == NULL || c->state != CONN_READY || c->dead)
		return;
	out = bufferevent_get_output(c->bev);
	while (evbuffer_get_length(out) < p->t->opt.output_hwm) {
		if ((f = sendq_pop(&p->ctl)) == NULL &&
		    (f = sendq_pop(&p->bulk)) == NULL)
			break;
		if (evbuffer_add_reference(
			out, f->data, f->len, frame_data_free, f->data) == -1) {
			free(f->data);
			p->st.dropped_msgs++;
		} else {
			p->st.sent_msgs++;
			p->st.sent_bytes += f->len;
		}
		free(f);
	}
}

static void
peer_redial_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	transport_peer_dial(arg);
}

void
transport_peer_schedule_dial(struct peer *p)
{
	struct timeval tv;

	if (p->out != NULL || p->dns != NULL ||
	    evtimer_pending(p->redial, NULL))
		return;
	tv.tv_sec = p->backoff_ms / 1000;
	tv.tv_usec = (p->backoff_ms % 1000) * 1000;
	evtimer_add(p->redial, &tv);
	p->backoff_ms *= 2;
	if (p->backoff_ms > p->t->opt.backoff_max_ms)
		p->backoff_ms = p->t->opt.backoff_max_ms;
}

static void
peer_dns_cb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct dns_ticket *tk = arg;
	struct peer *p = tk->p;
	struct evutil_addrinfo *pick;

	free(tk);
	if (p == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	p->dns = NULL;
	if (err != 0 || ai == NULL) {
		log_debug("raft transport: cannot resolve %s: %s", p->host,
		    evutil_gai_strerror(err));
		transport_peer_schedule_dial(p);
		return;
	}
	/* prefer IPv4: a binding host is mostly 127.0.0.1 or a v4 address */
	for (pick = ai; pick != NULL; pick = pick->ai_next)
		if (pick->ai_family == AF_INET)
			break;
	if (pick == NULL)
		pick = ai;
	transport_conn_connect(p, pick->ai_addr, pick->ai_addrlen);
	evutil_freeaddrinfo(ai);
}

static void
peer_resolve(struct peer *p)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	struct dns_ticket *tk;
	char port[8];

	if (p->t->dns == NULL || (tk = calloc(1, sizeof(*tk))) == NULL) {
		log_debug("raft transport: no resolver for %s", p->host);
		transport_peer_schedule_dial(p);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", p->port);
	tk->p = p;
	p->dns = tk;
	req = evdns_getaddrinfo(
	    p->t->dns, p->host, port, &hints, peer_dns_cb, tk);
	/* the callback may already have run and freed the ticket */
	if (req != NULL && p->dns == tk)
		tk->req = req;
}

void
transport_peer_dial(struct peer *p)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (p->out != NULL || p->dns != NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	if (evutil_inet_pton(AF_INET, p->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p->port);
		transport_conn_connect(p, (struct sockaddr *)sin, sizeof(*sin));
	} else if (evutil_inet_pton(AF_INET6, p->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p->port);
		transport_conn_connect(
		    p, (struct sockaddr *)sin6, sizeof(*sin6));
	} else
		peer_resolve(p);
}

static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct transport *t = arg;
	struct timeval tv = { 0, 100 * 1000 };

	/* out of descriptors: pause accepting instead of spinning */
	transport_log_refusal(t, "accept: %s",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(lev);
	evtimer_add(t->accept_pause, &tv);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(t->lev);
}

static int
transport_tls_init(struct transport *t, const struct transport_tls *tls)
{
	if (tls == NULL)
		return 0;
	if ((t->server_ctx = peer_tls_server_ctx(tls)) == NULL ||
	    (t->client_ctx = peer_tls_client_ctx(tls)) == NULL)
		return -1;
	t->verify = !tls->skip_verify;
	return 0;
}

int
transport_set_tls(struct transport *t, const struct transport_tls *tls)
{
	SSL_CTX *server = NULL, *client = NULL;

	if (tls != NULL &&
	    ((server = peer_tls_server_ctx(tls)) == NULL ||
		(client = peer_tls_client_ctx(tls)) == NULL)) {
		SSL_CTX_free(server);
		log_warnx("raft transport: new TLS material refused, the old "
			  "stays");
		return -1;
	}
	/* sessions hold a reference to their context: they live on */
	SSL_CTX_free(t->server_ctx);
	SSL_CTX_free(t->client_ctx);
	t->server_ctx = server;
	t->client_ctx = client;
	t->verify = tls != NULL && !tls->skip_verify;
	return 0;
}

static int
transport_listen(struct transport *t, int listen_fd)
{
	if (listen_fd == -1)
		return 0;
	if (evutil_make_socket_nonblocking(listen_fd) == -1)
		return -1;
	t->lev = evconnlistener_new(t->base, transport_conn_accept_cb, t,
	    LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	t->accept_pause = evtimer_new(t->base, accept_resume_cb, t);
	if (t->lev == NULL || t->accept_pause == NULL)
		return -1;
	evconnlistener_set_error_cb(t->lev, listener_error_cb);
	return 0;
}

struct transport *
transport_new(struct event_base *base, int listen_fd, uint64_t self_id,
    const char *secret, const struct transport_tls *tls,
    const struct transport_options *opt, transport_recv_cb cb, void *arg)
{
	struct transport *t;

	if (base == NULL || self_id == 0 || secret == NULL || cb == NULL)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->base = base;
	t->self = self_id;
	t->cb = cb;
	t->arg = arg;
	TAILQ_INIT(&t->inbound);
	if (opt != NULL)
		t->opt = *opt;
	else
		transport_options_default(&t->opt);
	peer_auth_key(secret, t->key);
	if (!options_valid(&t->opt) || transport_tls_init(t, tls) == -1 ||
	    transport_listen(t, listen_fd) == -1) {
		log_warnx("raft transport: cannot start");
		transport_free(t);
		return NULL;
	}
	t->dns = evdns_base_new(base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
		EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (t->dns == NULL)
		log_info(
		    "raft transport: no resolver, peers need IP addresses");
	return t;
}

static void
peer_free(struct peer *p)
{
	struct transport *t = p->t;
	struct conn *c, *next;

	if (p->out != NULL) {
		c = p->out;
		c->peer = NULL;
		p->out = NULL;
		transport_conn_close(c);
	}
	for (c = TAILQ_FIRST(&t->inbound); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CONN_HELLO && c->id == p->id)
			transport_conn_close(c);
	}
	if (p->dns != NULL) {
		p->dns->p = NULL;
		if (p->dns->req != NULL)
			evdns_getaddrinfo_cancel(p->dns->req);
		p->dns = NULL;
	}
	if (p->redial != NULL)
		event_free(p->redial);
	sendq_clear(&p->ctl);
	sendq_clear(&p->bulk);
	free(p->host);
	free(p);
}

void
transport_free(struct transport *t)
{
	struct conn *c;

	if (t == NULL)
		return;
	while (t->n_peers > 0)
		peer_free(t->peers[--t->n_peers]);
	while ((c = TAILQ_FIRST(&t->inbound)) != NULL)
		transport_conn_free(c);
	if (t->lev != NULL)
		evconnlistener_free(t->lev);
	if (t->accept_pause != NULL)
		event_free(t->accept_pause);
	if (t->dns != NULL)
		evdns_base_free(t->dns, 1);
	SSL_CTX_free(t->server_ctx);
	SSL_CTX_free(t->client_ctx);
	OPENSSL_cleanse(t->key, sizeof(t->key));
	free(t);
}

int
transport_add_peer(
    struct transport *t, uint64_t id, const char *host, uint16_t port)
{
	struct timeval now = { 0, 0 };
	struct peer *p;

	if (id == 0 || id == t->self || transport_find_peer(t, id) != NULL ||
	    t->n_peers >= RAFT_MAX_NODES || host == NULL || *host == '\0' ||
	    port == 0)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->t = t;
	p->id = id;
	p->port = port;
	p->backoff_ms = t->opt.backoff_min_ms;
	sendq_init(&p->ctl);
	sendq_init(&p->bulk);
	if ((p->host = strdup(host)) == NULL ||
	    (p->redial = evtimer_new(t->base, peer_redial_cb, p)) == NULL) {
		peer_free(p);
		return -1;
	}
	t->peers[t->n_peers++] = p;
	evtimer_add(p->redial, &now);
	return 0;
}

int
transport_remove_peer(struct transport *t, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < t->n_peers; i++) {
		if (t->peers[i]->id != id)
			continue;
		peer_free(t->peers[i]);
		t->peers[i] = t->peers[--t->n_peers];
		return 0;
	}
	return -1;
}

/*
 * header + payload in one buffer the queue and then the socket own; the
 * payload is a Raft message (m set) or opaque driver bytes
 */
static struct frame *
frame_encode(const struct raft_msg *m, const void *raw, size_t raw_len)
{
	struct proto_hdr h;
	struct frame *f;
	struct pbuf b;

	pb_init(&b);
	if (pb_reserve(&b, PROTO_HDR_LEN) == -1)
		return NULL;
	b.len = PROTO_HDR_LEN;
	if (m != NULL && raft_wire_encode(&b, m) == -1) {
		pb_free(&b);
		return NULL;
	}
	if (m == NULL)
		pb_add_raw(&b, raw, raw_len);
	if (b.err || (f = malloc(sizeof(*f))) == NULL) {
		pb_free(&b);
		return NULL;
	}
	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.type = m != NULL ? MSG_PEER_RAFT : MSG_PEER_CTL;
	h.len = (uint32_t)(b.len - PROTO_HDR_LEN);
	proto_hdr_encode(b.data, &h);
	f->data = pb_steal(&b, &f->len);
	return f;
}

static int
transport_enqueue(struct transport *t, struct peer *p, bool bulk,
    const struct raft_msg *m, const void *raw, size_t raw_len)
{
	struct sendq *q = bulk ? &p->bulk : &p->ctl;
	struct frame *f;

	if (q->n >= t->opt.queue_msgs ||
	    (f = frame_encode(m, raw, raw_len)) == NULL) {
		p->st.dropped_msgs++;
		return -1;
	}
	if (q->bytes + f->len > t->opt.queue_bytes) {
		free(f->data);
		free(f);
		p->st.dropped_msgs++;
		return -1;
	}
	STAILQ_INSERT_TAIL(&q->frames, f, entry);
	q->n++;
	q->bytes += f->len;
	transport_peer_flush(p);
	return 0;
}

int
transport_send(struct transport *t, const struct raft_msg *m)
{
	struct peer *p;

	if (m->from != t->self) {
		log_warnx("%s: message from %llu, we are %llu", __func__,
		    (unsigned long long)m->from, (unsigned long long)t->self);
		return -1;
	}
	if ((p = transport_find_peer(t, m->to)) == NULL)
		return -1;
	return transport_enqueue(t, p, raft_wire_is_bulk(m), m, NULL, 0);
}

int
transport_send_ctl(
    struct transport *t, uint64_t to, const void *buf, size_t len)
{
	struct peer *p;

	if (len == 0 || len > TRANSPORT_CTL_MAX ||
	    (p = transport_find_peer(t, to)) == NULL)
		return -1;
	return transport_enqueue(t, p, false, NULL, buf, len);
}

void
transport_set_ctl_cb(struct transport *t, transport_ctl_cb cb, void *arg)
{
	t->ctl_cb = cb;
	t->ctl_arg = arg;
}

bool
transport_peer_connected(const struct transport *t, uint64_t id)
{
	struct peer *p = transport_find_peer(t, id);

	return p != NULL && p->out != NULL && p->out->state == CONN_READY &&
	    !p->out->dead;
}

int
transport_stats(
    const struct transport *t, uint64_t id, struct transport_peer_stats *out)
{
	struct peer *p = transport_find_peer(t, id);

	if (p == NULL)
		return -1;
	*out = p->st;
	out->connected = transport_peer_connected(t, id);
	out->queued_msgs = p->ctl.n + p->bulk.n;
	out->queued_bytes = p->ctl.bytes + p->bulk.bytes;
	return 0;
}

uint64_t
transport_refused(const struct transport *t)
{
	return t->refused;
}
