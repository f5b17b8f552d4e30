/*
 * HTTP/1.1 connection layer on libevent bufferevents (API.md §2.1): accept
 * on inherited listening sockets, optional TLS, http-parser, keep-alive
 * and pipelining (one request at a time per connection, so responses are
 * in order), head and body limits, timeouts, output back-pressure.
 *
 * The application sees a request once its head is complete (on_head).  It
 * then either answers at once, or asks for the body (accumulated into a
 * bounded buffer, or streamed chunk by chunk), or goes asynchronous and
 * answers later.  Every request gets exactly one http_respond(); if the
 * connection went away meanwhile, req->conn is NULL and http_respond()
 * only frees the request.  After http_respond() the request must not be
 * touched.
 */
#ifndef APID_CONN_H
#define APID_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "proto/codec.h"

#define HTTP_HEAD_MAX (32 * 1024)
#define HTTP_DRAIN_MAX (64 * 1024)
/* timeouts of §2.1, the defaults of http_server_cfg */
#define HTTP_HEAD_TIMEOUT_MS 10000
#define HTTP_IDLE_TIMEOUT_MS 60000
#define HTTP_BODY_TIMEOUT_MS 60000
#define HTTP_WRITE_TIMEOUT_MS 60000
/* stop reading new requests while this much output waits */
#define HTTP_OUT_HIGH (256 * 1024)
#define HTTP_OUT_LOW (64 * 1024)
/* bytes buffered unread while a request is being handled */
#define HTTP_IN_HIGH (128 * 1024)

struct http_server;
struct http_conn;
struct http_req;

struct http_hdr {
	const char *name;
	size_t name_len;
	const char *value; /* trimmed, NUL-terminated */
	size_t value_len;
};

typedef void (*http_head_cb)(struct http_req *, void *arg);
typedef void (*http_req_cb)(struct http_req *, void *arg);
/* a body chunk: 0 to go on; -1 after the application answered */
typedef int (*http_chunk_cb)(
    struct http_req *, const char *, size_t, void *arg);

enum http_body_mode {
	BODY_UNSET = 0,
	BODY_ACCUM,
	BODY_STREAM,
	BODY_DISCARD,
};

struct http_req {
	struct http_conn *conn; /* NULL once the connection is gone */
	int binding; /* tag of the listener */
	const char *method; /* "GET" ... */
	int method_id; /* enum http_method of http-parser */
	const char *target; /* as received */
	size_t target_len;
	const char *path;
	size_t path_len;
	const char *query; /* after '?', NULL when there is no '?' */
	size_t query_len;
	struct http_hdr *hdrs;
	size_t nhdrs;
	unsigned short http_major, http_minor;
	bool keep_alive;
	bool chunked;
	int64_t content_length; /* -1 when absent */
	bool expect_continue;
	struct sockaddr_storage peer;
	int64_t started_ms; /* monotonic */
	/* for metrics: status sent (0 until answered), monotonic times */
	int status;
	int64_t started_us;
	int64_t answered_us;

	/* body as accumulated by http_req_read_body() */
	struct pbuf body;

	/* connection layer only */
	struct http_server *srv;
	struct pbuf head;
	struct http_hdr_off *hoff;
	size_t nhoff, hoff_cap;
	int last_cb;
	enum http_body_mode body_mode;
	size_t body_limit;
	uint64_t body_seen;
	http_chunk_cb on_chunk;
	http_req_cb on_done;
	http_req_cb on_too_big;
	void *body_arg;
	bool sent_100;
	bool body_paused; /* streaming: the application stopped the feed */
	/* a response streamed in pieces (http_stream_begin) */
	bool streaming;
	bool stream_close;
	uint64_t stream_len, stream_sent;
	http_req_cb on_drained;
	void *stream_arg;
	bool complete; /* whole message consumed */
	bool responded;
	bool force_close;

	void *app; /* the application's, freed by on_free */
};

struct http_server_cfg {
	const char *node_id; /* X-Insidb-Node */
	size_t max_conns; /* further ones are closed at once */
	http_head_cb on_head;
	http_req_cb on_free; /* a request is being freed */
	void *arg;
	/* 0 = the HTTP_*_TIMEOUT_MS default */
	int head_timeout_ms; /* from the first byte of a head */
	int idle_timeout_ms; /* no request in progress */
	int body_timeout_ms; /* body idle */
	int write_timeout_ms; /* response not read */
};

struct http_server *
http_server_new(struct event_base *, const struct http_server_cfg *);
/* listens on an inherited, listening socket; tls may be NULL */
int http_server_listen(struct http_server *, int fd, int binding, SSL_CTX *tls);
/* new TLS context for later connections (reload); old one is freed */
void http_server_set_tls(struct http_server *, int binding, SSL_CTX *);
/* stop mode: every response closes; idle connections are closed now */
void http_server_drain(struct http_server *);
void http_server_free(struct http_server *);
size_t http_server_conns(const struct http_server *);
size_t http_server_active(const struct http_server *);

/* first header of that name (case-insensitive), NULL when absent */
const char *
http_req_header(const struct http_req *, const char *name, size_t *len);
/* every header of that name joined with ", " (malloc'd), NULL if none */
char *
http_req_header_join(const struct http_req *, const char *name, size_t *len);
bool http_req_is_head(const struct http_req *);

/*
 * Reads the body into req->body (at most `limit` bytes), then calls done.
 * A body over the limit calls too_big instead, which must answer.
 * Sends 100 Continue first when the client asked for it.
 */
void http_req_read_body(struct http_req *, size_t limit, http_req_cb done,
    http_req_cb too_big, void *arg);
/* streams the body: chunk for every piece, done at its end */
void http_req_stream_body(
    struct http_req *, http_chunk_cb chunk, http_req_cb done, void *arg);
/*
 * Back-pressure on a streamed body: while paused no more of the body is
 * parsed (what the socket brings stays buffered, up to HTTP_IN_HIGH, then
 * reading stops).  A chunk or the end may still arrive from the input
 * already being parsed when pausing.
 */
void http_req_pause_body(struct http_req *);
void http_req_resume_body(struct http_req *);
/*
 * Leaves HTTP for another protocol (WebSocket): only while deciding on
 * the head of a request that asked for an upgrade.  Writes the 101 head
 * with X-Insidb-Node and the given header lines, frees the request and
 * hands the bufferevent to cb; bytes that followed the head are already
 * in its input and trigger no read callback.  The new owner sets its own
 * callbacks and timeouts and frees the bufferevent; the connection no
 * longer counts against the HTTP limit.
 */
typedef void (*http_upgrade_cb)(struct bufferevent *, void *arg);
bool http_req_wants_upgrade(const struct http_req *);
void http_req_upgrade(
    struct http_req *, const struct pbuf *hdrs, http_upgrade_cb cb, void *arg);

/* the response will carry Connection: close */
void http_req_set_close(struct http_req *);

/*
 * Sends the response.  extra holds complete header lines ("Name: v\r\n")
 * or is NULL; content_type NULL sends none.  HEAD gets no body but the
 * Content-Length of the body.
 */
void http_respond(struct http_req *, int status, const struct pbuf *extra,
    const char *content_type, const void *body, size_t len);
/* a JSON reply: application/json, Cache-Control: no-store */
void http_respond_json(struct http_req *, int status, const struct pbuf *extra,
    const struct pbuf *body);
/* {"error_type","message"} with optional extra header lines */
void http_respond_error(struct http_req *, int status, const char *type,
    const char *msg, const struct pbuf *extra);

/*
 * A response whose body follows in pieces (not for HEAD: answer that
 * with http_respond and the length).  Sends the head with Content-Length
 * len; the body then goes out through http_stream_write() while
 * http_stream_room() is true; drained runs when the output has fallen to
 * HTTP_OUT_LOW, and also once when the connection goes away (req->conn is
 * then NULL: stop and end).  http_stream_end() finishes the request; one
 * that wrote fewer than len bytes closes the connection.
 */
void http_stream_begin(struct http_req *, int status, const struct pbuf *extra,
    const char *content_type, uint64_t len, http_req_cb drained, void *arg);
bool http_stream_room(const struct http_req *);
void http_stream_write(struct http_req *, const void *, size_t);
void http_stream_end(struct http_req *);

/* appends "Name: value\r\n" */
void http_hdr_add(struct pbuf *, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int64_t http_now_ms(void);

#endif
