/*
 * evhttp client requests over bufferevents (plain or OpenSSL).  A
 * connection is freed only outside its own evhttp callbacks: from the
 * deadline timer or a cancel directly, after a response on the next loop
 * turn.  A call marked done ignores whatever evhttp still reports.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/cluster_url.h"
#include "common/http_client.h"
#include "common/http_client_impl.h"
#include "common/log.h"

static void reap_cb(evutil_socket_t, short, void *);

static int
load_ca(SSL_CTX *ctx, const char *pem)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *bio;
	X509 *x;
	int n = 0;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n > 0 ? 0 : -1;
}

static SSL_CTX *
client_ctx(const char *ca_pem, bool skip_verify)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (skip_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_pem != NULL ? load_ca(ctx, ca_pem) == -1
			   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_warnx("http client: cannot load the %s",
		    ca_pem != NULL ? "tls.ca bundle" : "system trust store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct hclient *
hclient_new(
    struct event_base *base, bool tls, const char *ca_pem, bool skip_verify)
{
	struct hclient *hc;

	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		fatal("%s: calloc", __func__);
	hc->base = base;
	hc->skip_verify = skip_verify;
	TAILQ_INIT(&hc->calls);
	TAILQ_INIT(&hc->dead);
	if (tls && (hc->ssl = client_ctx(ca_pem, skip_verify)) == NULL) {
		free(hc);
		return NULL;
	}
	if ((hc->reap = evtimer_new(base, reap_cb, hc)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return hc;
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hclient *hc = arg;
	struct dead_conn *d;

	(void)fd;
	(void)what;
	while ((d = TAILQ_FIRST(&hc->dead)) != NULL) {
		TAILQ_REMOVE(&hc->dead, d, link);
		evhttp_connection_free(d->evcon);
		free(d);
	}
}

/* inside an evhttp callback of that connection: free it on the next turn */
static void
evcon_free_later(struct hclient *hc, struct evhttp_connection *evcon)
{
	struct dead_conn *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("%s: calloc", __func__);
	d->evcon = evcon;
	TAILQ_INSERT_TAIL(&hc->dead, d, link);
	event_active(hc->reap, EV_TIMEOUT, 0);
}

void
hclient_call_free(struct hcall *c)
{
	TAILQ_REMOVE(&c->hc->calls, c, link);
	if (c->st != NULL)
		hstream_free(c->st);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->kick != NULL)
		event_free(c->kick);
	free(c->url);
	if (c->bearer != NULL) {
		explicit_bzero(c->bearer, strlen(c->bearer));
		free(c->bearer);
	}
	free(c->ctype);
	free(c->body);
	free(c);
}

/* ends the call: the connection (if any) is already freed or scheduled */
static void
call_finish(
    struct hcall *c, int err, int status, const char *body, size_t body_len)
{
	struct hclient_resp r;

	c->done = true;
	memset(&r, 0, sizeof(r));
	r.err = err;
	r.status = status;
	r.body = body;
	r.body_len = body_len;
	r.url = c->url;
	r.tls_error = c->tls_error;
	r.retry_after = c->has_retry_after ? c->retry_after : -1;
	if (c->cb != NULL)
		c->cb(&r, c->arg);
	hclient_call_free(c);
}

/* Retry-After as a number of seconds (the HTTP-date form is not used
 * between nodes) */
static void
retry_after_read(struct hcall *c, const char *v)
{
	long n = 0;

	if (v == NULL || *v == '\0')
		return;
	for (; *v >= '0' && *v <= '9'; v++) {
		n = n * 10 + (*v - '0');
		if (n > 86400)
			return;
	}
	if (*v != '\0')
		return;
	c->retry_after = (int)n;
	c->has_retry_after = true;
}

static int
request_error(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return ETIMEDOUT;
	case EVREQ_HTTP_INVALID_HEADER:
		return EPROTO;
	case EVREQ_HTTP_DATA_TOO_LONG:
		return EMSGSIZE;
	default:
		return ECONNREFUSED;
	}
}

static void
req_error_cb(enum evhttp_request_error e, void *arg)
{
	struct hcall *c = arg;

	if (!c->done)
		c->err = request_error(e);
}

static void call_send(struct hcall *);

const char *
hclient_bev_tls_error(struct bufferevent *bev)
{
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	long v;

	if (ssl == NULL || (v = SSL_get_verify_result(ssl)) == X509_V_OK)
		return NULL;
	return X509_verify_cert_error_string(v);
}

bool
hclient_is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

static void
follow(struct hcall *c, const char *location)
{
	struct curl_parts p;
	char *url;

	if (c->redirects_left <= 0) {
		call_finish(c, ELOOP, 0, NULL, 0);
		return;
	}
	if (location == NULL || curl_parse(location, &p) == -1 ||
	    (p.tls && c->hc->ssl == NULL) || (url = strdup(location)) == NULL) {
		call_finish(c, EPROTO, 0, NULL, 0);
		return;
	}
	free(c->url);
	c->url = url;
	c->redirects_left--;
	call_send(c);
}

static void
req_done_cb(struct evhttp_request *req, void *arg)
{
	struct hcall *c = arg;
	struct evbuffer *in;
	const char *body;
	size_t len;
	int status;

	if (c->done)
		return;
	if (c->sending) {
		/* call_send sees it and cleans up */
		c->failed_inline = true;
		return;
	}
	if (req == NULL || evhttp_request_get_response_code(req) <= 0)
		c->tls_error = hclient_bev_tls_error(
		    evhttp_connection_get_bufferevent(c->evcon));
	evcon_free_later(c->hc, c->evcon);
	c->evcon = NULL;
	if (req == NULL ||
	    (status = evhttp_request_get_response_code(req)) <= 0) {
		call_finish(c, c->err != 0 ? c->err : ECONNREFUSED, 0, NULL, 0);
		return;
	}
	if (hclient_is_redirect(status)) {
		if (status == 303)
			c->cmd = EVHTTP_REQ_GET;
		follow(c,
		    evhttp_find_header(
			evhttp_request_get_input_headers(req), "Location"));
		return;
	}
	retry_after_read(c,
	    evhttp_find_header(
		evhttp_request_get_input_headers(req), "Retry-After"));
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	call_finish(c, 0, status, body, len);
}

struct bufferevent *
hclient_bev(struct hclient *hc, const struct curl_parts *p)
{
	struct in6_addr ip;
	X509_VERIFY_PARAM *vp;
	struct bufferevent *bev;
	bool is_ip;
	SSL *ssl;

	if (!p->tls)
		return bufferevent_socket_new(hc->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if ((ssl = SSL_new(hc->ssl)) == NULL)
		return NULL;
	is_ip = inet_pton(p->ipv6 ? AF_INET6 : AF_INET, p->host, &ip) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(ssl, p->host);
	if (!hc->skip_verify) {
		vp = SSL_get0_param(ssl);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, p->host) != 1
			  : X509_VERIFY_PARAM_set1_host(vp, p->host, 0) != 1) {
			SSL_free(ssl);
			return NULL;
		}
	}
	bev = bufferevent_openssl_socket_new(hc->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static int
call_headers(
    struct hcall *c, struct evhttp_request *req, const struct curl_parts *p)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char host[CURL_ADDR_MAX], *auth = NULL;
	int rc = 0;

	snprintf(host, sizeof(host), "%s%s%s:%u", p->ipv6 ? "[" : "", p->host,
	    p->ipv6 ? "]" : "", p->port);
	rc |= evhttp_add_header(h, "Host", host);
	rc |= evhttp_add_header(h, "Connection", "close");
	if (c->bearer != NULL) {
		if (asprintf(&auth, "Bearer %s", c->bearer) == -1)
			return -1;
		rc |= evhttp_add_header(h, "Authorization", auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (c->cmd == EVHTTP_REQ_POST) {
		if (c->ctype != NULL)
			rc |= evhttp_add_header(h, "Content-Type", c->ctype);
		rc |= evbuffer_add(evhttp_request_get_output_buffer(req),
		    c->body != NULL ? c->body : "", c->body_len);
	}
	return rc != 0 ? -1 : 0;
}

/* one attempt at c->url on a new connection */
static void
call_send(struct hcall *c)
{
	struct evhttp_request *req;
	struct bufferevent *bev;
	struct curl_parts p;
	int rc;

	if (curl_parse(c->url, &p) == -1)
		fatalx("%s: URL checked before", __func__);
	if ((bev = hclient_bev(c->hc, &p)) == NULL)
		goto fail;
	c->evcon = evhttp_connection_base_bufferevent_new(
	    c->hc->base, NULL, bev, p.host, (unsigned short)p.port);
	if (c->evcon == NULL) {
		bufferevent_free(bev);
		goto fail;
	}
	evhttp_connection_set_max_body_size(c->evcon, HCLIENT_BODY_MAX);
	evhttp_connection_set_max_headers_size(c->evcon, HCLIENT_HEADERS_MAX);
	evhttp_connection_set_retries(c->evcon, 0);
	if ((req = evhttp_request_new(req_done_cb, c)) == NULL)
		goto fail;
	evhttp_request_set_error_cb(req, req_error_cb);
	if (call_headers(c, req, &p) == -1) {
		evhttp_request_free(req);
		goto fail;
	}
	c->err = 0;
	c->sending = true;
	c->failed_inline = false;
	rc = evhttp_make_request(c->evcon, req, c->cmd, p.target);
	c->sending = false;
	if (rc == 0 && !c->failed_inline)
		return;
fail:
	if (c->evcon != NULL) {
		evhttp_connection_free(c->evcon);
		c->evcon = NULL;
	}
	call_finish(c, ECONNREFUSED, 0, NULL, 0);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hcall *c = arg;

	(void)fd;
	(void)what;
	c->done = true;
	if (c->evcon != NULL) {
		evhttp_connection_free(c->evcon);
		c->evcon = NULL;
	}
	call_finish(c, ETIMEDOUT, 0, NULL, 0);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	call_send(arg);
}

static int
call_copy(struct hcall *c, const char *url, const char *bearer,
    const char *ctype, const void *body, size_t len)
{
	if ((c->url = strdup(url)) == NULL)
		return -1;
	if (bearer != NULL && (c->bearer = strdup(bearer)) == NULL)
		return -1;
	if (ctype != NULL && (c->ctype = strdup(ctype)) == NULL)
		return -1;
	if (len > 0) {
		if ((c->body = malloc(len)) == NULL)
			return -1;
		memcpy(c->body, body, len);
		c->body_len = len;
	}
	return 0;
}

struct hcall *
hclient_request(struct hclient *hc, const char *method, const char *url,
    const char *bearer, const char *content_type, const void *body,
    size_t body_len, int timeout_ms, int max_redirects, hclient_cb cb,
    void *arg)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct curl_parts p;
	struct hcall *c;

	if (curl_parse(url, &p) == -1 || (p.tls && hc->ssl == NULL))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s: calloc", __func__);
	c->hc = hc;
	TAILQ_INSERT_TAIL(&hc->calls, c, link);
	c->cmd = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
	c->redirects_left = max_redirects;
	c->cb = cb;
	c->arg = arg;
	c->deadline = evtimer_new(hc->base, deadline_cb, c);
	c->kick = evtimer_new(hc->base, kick_cb, c);
	if (c->deadline == NULL || c->kick == NULL ||
	    call_copy(c, url, bearer, content_type, body, body_len) == -1)
		fatalx("%s: out of memory", __func__);
	evtimer_add(c->deadline, &tv);
	event_active(c->kick, EV_TIMEOUT, 0);
	return c;
}

void
hclient_cancel(struct hcall *c)
{
	if (c->st != NULL) {
		hstream_cancel(c);
		return;
	}
	c->cb = NULL;
	c->done = true;
	if (c->evcon != NULL) {
		evhttp_connection_free(c->evcon);
		c->evcon = NULL;
	}
	hclient_call_free(c);
}

void
hclient_free(struct hclient *hc)
{
	struct hcall *c;

	if (hc == NULL)
		return;
	while ((c = TAILQ_FIRST(&hc->calls)) != NULL)
		hclient_cancel(c);
	reap_cb(-1, 0, hc);
	event_free(hc->reap);
	SSL_CTX_free(hc->ssl);
	free(hc);
}
