/*
 * A small outgoing HTTP/1.1 client on libevent for node-to-node calls
 * (API.md §18.3): one request per connection, optional TLS verified with
 * config:tls.ca (system store when unset) and the URL's host name unless
 * client_skip_verify, an overall deadline, redirects followed through
 * Location up to a bound, bounded response bodies.
 */
#ifndef COMMON_HTTP_CLIENT_H
#define COMMON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

/* responses larger than this fail with EMSGSIZE */
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
	const char *body; /* valid during the callback only */
	size_t body_len;
	const char *url; /* the URL that answered */
	/* the certificate check that failed (TLS), else NULL */
	const char *tls_error;
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
/* the callback will not run; the call is freed */
void hclient_cancel(struct hcall *);

#endif
