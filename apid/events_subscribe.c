/*
 * The events/subscribe handshake (API.md §14.2).  The pipeline has done
 * steps 1-3 (IP filter, route, per-IP bucket; credential from the header
 * or the `token` parameter; per-key bucket); here come the topic (4), the
 * upgrade headers (5), the node's session limit (6) and the subscriber
 * slot from the leader (7, §14.5), then the 101.
 */
#include <stdlib.h>
#include <string.h>

#include "apid/events.h"
#include "apid/events_hub.h"
#include "apid/slots.h"
#include "apid/ws_pure.h"
#include "common/log.h"

static bool
has_token(struct areq *ar, const char *name, const char *token)
{
	const char *v;
	size_t len;

	v = http_req_header(ar->req, name, &len);
	return v != NULL && ws_header_has_token(v, len, token);
}

/* step 5; false after answering 400 */
static bool
upgrade_headers_ok(struct areq *ar, const char **key, size_t *klen)
{
	const char *ver;
	size_t vlen;
	struct pbuf h;

	if (!has_token(ar, "Upgrade", "websocket") ||
	    !has_token(ar, "Connection", "upgrade")) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "Upgrade: websocket and Connection: upgrade are required");
		return false;
	}
	*key = http_req_header(ar->req, "Sec-WebSocket-Key", klen);
	if (*key == NULL || !ws_key_valid(*key, *klen)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "Sec-WebSocket-Key: missing or malformed");
		return false;
	}
	ver = http_req_header(ar->req, "Sec-WebSocket-Version", &vlen);
	if (ver == NULL || vlen != 2 || memcmp(ver, "13", 2) != 0) {
		pb_init(&h);
		http_hdr_add(&h, "Sec-WebSocket-Version", "13");
		apid_error(ar, 400, "BAD_REQUEST", &h,
		    "Sec-WebSocket-Version: must be 13");
		pb_free(&h);
		return false;
	}
	if (!http_req_wants_upgrade(ar->req)) {
		apid_error(
		    ar, 400, "BAD_REQUEST", NULL, "not an upgrade request");
		return false;
	}
	return true;
}

/* the handshake waits for its slot; the request is answered once */
struct pending_sub {
	struct areq *ar;
	struct sub *sub;
	char accept[WS_ACCEPT_LEN + 1];
};

static void
slot_answered(enum slot_outcome out, void *arg)
{
	struct pending_sub *p = arg;
	struct areq *ar = p->ar;
	struct sub *s = p->sub;
	struct pbuf h;

	if (out == SLOT_GRANTED)
		apid_events_sub_slot(s);
	/* the client left, or the node stops: the slot goes back */
	if (out == SLOT_GRANTED && (ar->req->conn == NULL || ar->a->stopping)) {
		apid_events_sub_drop(s);
		apid_retry_error(ar, "SHUTTING_DOWN", "the session ended");
	} else if (out == SLOT_GRANTED) {
		pb_init(&h);
		http_hdr_add(&h, "Upgrade", "websocket");
		http_hdr_add(&h, "Connection", "Upgrade");
		http_hdr_add(&h, "Sec-WebSocket-Accept", "%s", p->accept);
		/* frees the request: ar is gone after this */
		http_req_upgrade(ar->req, &h, apid_events_sub_upgraded, s);
		pb_free(&h);
	} else {
		apid_events_sub_drop(s);
		switch (out) {
		case SLOT_LIMIT:
			apid_error(ar, 503, "SUBSCRIBER_LIMIT_EXCEEDED", NULL,
			    "the scope's subscriber limit is reached");
			break;
		case SLOT_BLOCKED:
			apid_retry_error(ar, "SUBSCRIBER_LIMIT_EXCEEDED",
			    "a shake of the scope is in progress");
			break;
		case SLOT_NO_LEADER:
			apid_retry_error(ar, "NO_LEADER", "no leader known");
			break;
		default:
			apid_error(ar, 500, "INTERNAL_ERROR", NULL,
			    "the subscriber slot could not be confirmed");
			break;
		}
	}
	free(p);
}

void
apid_events_subscribe(struct areq *ar)
{
	struct pending_sub *p;
	const char *key;
	size_t tlen, klen;
	char *topic;
	int rc;

	if ((rc = apid_query(ar, "topic", &topic, &tlen)) == -1)
		return;
	if (rc == 0 || !apid_event_topic_valid(topic, tlen)) {
		if (rc == 1)
			free(topic);
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "topic: required, 1-%d bytes without NUL",
		    APID_EVENT_TOPIC_MAX);
		return;
	}
	if (!upgrade_headers_ok(ar, &key, &klen)) {
		free(topic);
		return;
	}
	if ((int64_t)apid_events_sessions() >=
	    ar->a->env->cfg.sessions_max_connections) {
		free(topic);
		apid_error(ar, 503, "TOO_MANY_CONNECTIONS", NULL,
		    "the node has no room for another session");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s", __func__);
	p->ar = ar;
	ws_accept_key(key, klen, p->accept);
	/* counted from here on; a refused slot gives the count back */
	p->sub = apid_events_sub_new(&ar->id, topic, tlen);
	free(topic);
	apid_slot_acquire(apid_events_sub_scope(p->sub),
	    apid_events_sub_session(p->sub), slot_answered, p);
}
