/*
 * The events publish route (API.md §14.1): the leader proposes
 * CMD_EVENT_PUBLISH with emitted_at = ts; apply decides the quota of §7.3
 * and every node then delivers the event to its subscribers.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apid/data_req.h"
#include "apid/events.h"
#include "apid/server.h"
#include "apid/slots.h"
#include "common/log.h"
#include "proto/msg.h"

#define NS_PER_S 1000000000LL

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void
limit_error(struct areq *ar, const struct cmd_result *res)
{
	struct pread r;
	uint64_t end;
	struct pbuf h;

	pr_init(&r, res->data, res->data_len);
	if (pr_get_u64(&r, &end) == -1 || pr_end(&r) == -1)
		fatalx("%s: malformed event refusal from raftd", __func__);
	pb_init(&h);
	http_hdr_add(&h, "X-Current-Events", "%" PRIu64, res->usage);
	http_hdr_add(&h, "X-Events-Limit", "%" PRIu64, res->limit);
	http_hdr_add(&h, "Retry-After", "%" PRId64,
	    apid_event_retry_after((int64_t)end, now_ns()));
	apid_error(ar, 400, "EVENT_LIMIT_EXCEEDED", &h,
	    "events_emitted quota of the window reached");
	pb_free(&h);
}

static void
publish_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status == ST_EVENT_LIMIT) {
		limit_error(ar, &res);
		return;
	}
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	apid_reply_text(ar, "{}\n");
}

static void
publish_body(struct areq *ar)
{
	const struct jb_member *m;
	const char *topic, *data = "null";
	size_t tlen, dlen = 4;
	struct pbuf b;
	struct cmd c;

	if (apid_body_str(ar, "topic", &topic, &tlen) == -1)
		return;
	if (!apid_event_topic_valid(topic, tlen)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "topic: must be 1-%d bytes without NUL",
		    APID_EVENT_TOPIC_MAX);
		return;
	}
	if ((m = jb_find(&ar->doc, "data")) != NULL) {
		data = m->raw;
		dlen = m->raw_len;
	}
	if (dlen > APID_EVENT_DATA_MAX) {
		apid_error(ar, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "data: larger than %d bytes", APID_EVENT_DATA_MAX);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.type = CMD_EVENT_PUBLISH;
	c.ts = 0; /* raftd stamps it: emitted_at */
	snprintf(c.scope, sizeof(c.scope), "%s", ar->id.scope);
	c.key = (const uint8_t *)topic;
	c.key_len = tlen;
	c.value = (const uint8_t *)data;
	c.value_len = dlen;
	pb_init(&b);
	cmd_encode(&b, &c);
	apid_raft_call(
	    ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, publish_done);
	pb_free(&b);
}

static void
publish_begin(struct areq *ar)
{
	apid_read_json(ar, publish_body, false);
}

apid_handler
apid_events_handler(enum route_id id)
{
	switch (id) {
	case R_EVENTS:
		return publish_begin;
	case R_EVENTS_SUBSCRIBE:
		return apid_events_subscribe;
	case R_EVENTS_PURGE:
	case R_EVENTS_SHAKE:
		return apid_events_admin_handler(id);
	case R_INTERNAL_REQUEST_SLOT:
		return apid_slots_request_route;
	case R_INTERNAL_RELEASE_SLOT:
		return apid_slots_release_route;
	default:
		return NULL;
	}
}
