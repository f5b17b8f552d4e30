/*
 * What the buffered calls (http_client.c) and the streaming calls
 * (http_client_stream.c) share inside the client: the client, the call
 * record both kinds use, and the pieces of connection set-up.
 */
#ifndef COMMON_HTTP_CLIENT_IMPL_H
#define COMMON_HTTP_CLIENT_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "common/cluster_url.h"
#include "common/http_client.h"

struct hstream;

struct hcall {
	struct hclient *hc;
	TAILQ_ENTRY(hcall) link;
	enum evhttp_cmd_type cmd;
	char *url;
	char *bearer;
	char *ctype;
	void *body;
	size_t body_len;
	int redirects_left;
	hclient_cb cb;
	void *arg;
	struct evhttp_connection *evcon;
	struct event *deadline;
	struct event *kick;
	int err; /* from the request's error callback */
	const char *tls_error;
	int retry_after; /* seconds; 0 with has_retry_after false: none */
	bool has_retry_after;
	bool sending; /* inside evhttp_make_request */
	bool failed_inline; /* evhttp failed the request meanwhile */
	bool done;
	struct hstream *st; /* streaming GET, else NULL */
};

TAILQ_HEAD(hcall_list, hcall);

/* a connection that finished inside its own callback */
struct dead_conn {
	struct evhttp_connection *evcon;
	TAILQ_ENTRY(dead_conn) link;
};

TAILQ_HEAD(dead_list, dead_conn);

struct hclient {
	struct event_base *base;
	SSL_CTX *ssl; /* NULL without TLS */
	bool skip_verify;
	struct hcall_list calls;
	struct dead_list dead;
	struct event *reap;
};

/* an unconnected bufferevent for the URL (TLS with SNI and name check) */
struct bufferevent *hclient_bev(struct hclient *, const struct curl_parts *);
/* why the peer's certificate was refused, if it was */
const char *hclient_bev_tls_error(struct bufferevent *);
bool hclient_is_redirect(int status);
/* unlinks the call and frees it with its copies; no callback */
void hclient_call_free(struct hcall *);

/* http_client_stream.c: the streaming part of a call */
void hstream_free(struct hstream *);
/* hclient_cancel of a streaming call */
void hstream_cancel(struct hcall *);

#endif
