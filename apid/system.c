/*
 * System routes (API.md §15): ping, limits (root only so far).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

static void
ping_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	char leader[CFG_ID_MAX + 1] = "", uptime[64];
	struct apid *a = ar->a;
	struct pbuf b;

	if (err == 0)
		apid_status_leader(p, len, leader, sizeof(leader));
	http_format_uptime(
	    (http_now_ms() - a->started_ms) / 1000, uptime, sizeof(uptime));
	pb_init(&b);
	pb_add_raw(&b, "{\"entity\":", 10);
	json_put_cstr(&b, ar->id.entity);
	pb_add_raw(&b, ",\"leader\":", 10);
	json_put_cstr(&b, leader);
	pb_add_raw(&b, ",\"node-badge-id\":", 17);
	json_put_cstr(&b, a->env->badge_id);
	pb_add_raw(&b, ",\"status\":\"ok\",\"uptime\":", 24);
	json_put_cstr(&b, uptime);
	pb_add_raw(&b, "}\n", 2);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

static void
ping_begin(struct areq *ar)
{
	struct pbuf empty;

	pb_init(&empty);
	apid_raft_call(ar, MSG_RAFT_STATUS, &empty, 2000, ping_done);
	pb_free(&empty);
}

static void
usage_put(
    struct pbuf *b, uint64_t disk, uint64_t mem, uint64_t events, uint64_t subs)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "{\"bytes_on_disk\":%" PRIu64 ",\"bytes_in_memory\":%" PRIu64
	    ",\"events_emitted\":%" PRIu64 ",\"subscribers\":%" PRIu64 "}",
	    disk, mem, events, subs);
	pb_add_raw(b, buf, (size_t)n);
}

static void
limits_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	uint64_t disk = 0, mem = 0, events = 0, subs = 0;
	struct read_reply rr;
	struct pbuf b, h;

	if (apid_read_check(ar, err, p, len, &rr) == -1)
		return;
	pr_get_u64(&rr.rest, &disk);
	pr_get_u64(&rr.rest, &mem);
	pr_get_u64(&rr.rest, &events);
	pr_get_u64(&rr.rest, &subs);
	if (pr_end(&rr.rest) == -1)
		fatalx("%s: malformed usage result from raftd", __func__);
	pb_init(&b);
	pb_init(&h);
	apid_consistency_hdr(&h, rr.consistency);
	/* root has no limits: max_limits is {} (§7.4) */
	pb_add_raw(&b, "{\"usage\":", 9);
	usage_put(&b, disk, mem, events, subs);
	pb_add_raw(&b, ",\"max_limits\":{}}\n", 18);
	apid_reply(ar, 200, &h, &b);
	pb_free(&b);
	pb_free(&h);
}

static void
limits_begin(struct areq *ar)
{
	struct read_req q;

	if (apid_query_consistency(ar) == -1)
		return;
	memset(&q, 0, sizeof(q));
	q.op = READ_USAGE;
	apid_read_send(ar, &q, limits_done);
}

apid_handler
apid_system_handler(enum route_id id)
{
	switch (id) {
	case R_PING:
		return ping_begin;
	case R_LIMITS:
		return limits_begin;
	default:
		return NULL;
	}
}
