/*
 * System routes (API.md §15): ping, limits (root only so far), and the
 * ops rates of admin/metrics/ops (§19.1).
 */
#include <stdio.h>
#include <string.h>

#include "apid/http_parse.h"
#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

/* the leader from the watched view: no call to raftd (§15.1) */
static void
ping_begin(struct areq *ar)
{
	const struct apid_view *v = apid_view(ar->a);
	struct apid *a = ar->a;
	char uptime[64];
	struct pbuf b;

	http_format_uptime(
	    (http_now_ms() - a->started_ms) / 1000, uptime, sizeof(uptime));
	pb_init(&b);
	pb_add_raw(&b, "{\"entity\":", 10);
	json_put_cstr(&b, ar->id.entity);
	pb_add_raw(&b, ",\"leader\":", 10);
	json_put_cstr(&b, v != NULL ? v->leader : "");
	pb_add_raw(&b, ",\"node-badge-id\":", 17);
	json_put_cstr(&b, a->env->badge_id);
	pb_add_raw(&b, ",\"status\":\"ok\",\"uptime\":", 24);
	json_put_cstr(&b, uptime);
	pb_add_raw(&b, "}\n", 2);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

#define OPS_SAMPLE_MS 1000

static void
ops_sample_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { OPS_SAMPLE_MS / 1000, 0 };
	struct apid *a = arg;
	int64_t now = http_now_ms();
	double secs;
	int i;

	(void)fd;
	(void)what;
	secs = (double)(now - a->ops_at_ms) / 1000.0;
	for (i = 0; i < OPS_COUNT && secs > 0; i++) {
		a->ops_rate[i] = (double)(a->ops[i] - a->ops_last[i]) / secs;
		a->ops_last[i] = a->ops[i];
	}
	a->ops_at_ms = now;
	evtimer_add(a->ops_timer, &tv);
}

void
apid_ops_start(struct apid *a)
{
	struct timeval tv = { OPS_SAMPLE_MS / 1000, 0 };

	a->ops_at_ms = http_now_ms();
	a->ops_timer = evtimer_new(a->env->base, ops_sample_cb, a);
	evtimer_add(a->ops_timer, &tv);
}

static void
ops_begin(struct areq *ar)
{
	static const char *names[OPS_COUNT] = { "op_vs", "op_cache",
		"op_events", "op_subscribers", "op_blobs", "op_system" };
	char rate[64];
	struct pbuf b;
	int i;

	pb_init(&b);
	for (i = 0; i < OPS_COUNT; i++) {
		pb_add_raw(&b, i == 0 ? "{" : ",", 1);
		json_put_cstr(&b, names[i]);
		http_format_rate(ar->a->ops_rate[i], rate, sizeof(rate));
		pb_add_raw(&b, ":", 1);
		pb_add_raw(&b, rate, strlen(rate));
	}
	pb_add_raw(&b, "}\n", 2);
	apid_reply(ar, 200, NULL, &b);
	pb_free(&b);
}

apid_handler
apid_system_handler(enum route_id id)
{
	switch (id) {
	case R_PING:
		return ping_begin;
	case R_ADMIN_METRICS_OPS:
		return ops_begin;
	default:
		return NULL;
	}
}
