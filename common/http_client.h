/*
 * A small outgoing HTTP/1.1 client on libevent for node-to-node calls
 * (API.md §18.3): one request per connection, optional TLS verified with
 * config:tls.ca (system store when unset) and the URL's host name unless
 * client_skip_verify, an overall deadline, redirects followed through
 * Location up to a bound, bounded response bodies; and streaming GETs for
 * large downloads (bodies handed over piece by piece, idle timeout only).
 */
#ifndef COMMON_HTTP_CLIENT_H
#define COMMON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* responses larger than this fail with EMSGSIZE (heads of streams too) */
#define HCLIENT_BODY_MAX (1024 * 1024)
#define HCLIENT_HEADERS_MAX (64 * 1024)

struct hclient;
struct hcall;

struct hclient_resp {
	/*
	 * 0 when a response arrived; else ETIMEDOUT (deadline passed),
	 * ECONNREFUSED (connect or TLS failed, connection lost), ELOOP (more
	 * redirects than allowed), EPROTO (malformed response or redirect),
	 * EMSGSIZE (response over the bounds)
	 */
	int err;
	int status;
	const char *body; /* valid during the callback only; NULL for streams */
	/* streams: body bytes handed to the body callback */
	size_t body_len;
	const char *url; /* the URL that answered */
	/* the certificate check that failed (TLS), else NULL */
	const char *tls_error;
	/* the response's Retry-After in seconds, -1 when absent or not a
	 * number of seconds */
	int retry_after;
};

typedef void (*hclient_cb)(const struct hclient_resp *, void *arg);

/*
 * tls: whether https URLs may be used; ca_pem NULL uses the system trust
 * store.  NULL when the TLS context cannot be made.
 */
struct hclient *hclient_new(
    struct event_base *, bool tls, const char *ca_pem, bool skip_verify);
/* calls in flight are cancelled first */
void hclient_free(struct hclient *);

/*
 * Starts a request (method "GET" or "POST"; body sent with POST).  bearer
 * is the credential for Authorization (never logged), or NULL.  cb runs
 * exactly once, never from inside this call, unless the call is
 * cancelled.  NULL (no callback) when the URL is malformed or needs TLS
 * that is not configured.
 */
struct hcall *
hclient_request(struct hclient *, const char *method, const char *url,
    const char *bearer, const char *content_type, const void *body,
    size_t body_len, int timeout_ms, int max_redirects, hclient_cb, void *arg);
/* the callback will not run; the call is freed (also inside a stream's
 * head or body callback) */
void hclient_cancel(struct hcall *);

/* response head: status and Content-Length (UINT64_MAX when absent).
 * 0 goes on with the body, -1 cancels the call (done is not called) */
typedef int (*hclient_head_cb)(int status, uint64_t content_length, void *arg);
/* a piece of the body: 0 goes on, 1 pauses reading until hclient_resume(),
 * -1 cancels the call (done is not called) */
typedef int (*hclient_body_cb)(const char *buf, size_t len, void *arg);
/*
 * GET url streaming the body: head once, then body pieces, then done with
 * err 0 (resp->body NULL) when the whole body arrived, or with an err as
 * for hclient_request().  extra_header is one "Name: value" line (e.g.
 * "Range: bytes=100-") or NULL.  idle_timeout_ms bounds the time without
 * any byte received (no overall deadline); a paused call does not time out.
 * Redirects are followed as by hclient_request().  Bodies are not bounded
 * by HCLIENT_BODY_MAX here; the caller bounds them.
 *
 * Bodies with Content-Length, chunked, or up to the connection's end.
 * Redirect and 1xx responses reach neither head nor body callback.  No
 * callback runs inside this call.  done's status is the last head's when
 * one arrived (also with an err); its body_len counts the bytes handed
 * over.  NULL (no callback) when the URL, bearer or extra_header is
 * malformed, idle_timeout_ms is not positive, or TLS is not configured.
 * hclient_free() must not run inside this call's callbacks.
 */
struct hcall *
hclient_get_stream(struct hclient *, const char *url, const char *bearer,
    const char *extra_header, int idle_timeout_ms, int max_redirects,
    hclient_head_cb, hclient_body_cb, hclient_cb done, void *arg);
/* reading goes on after a body callback returned 1; else nothing */
void hclient_resume(struct hcall *);

#endif
