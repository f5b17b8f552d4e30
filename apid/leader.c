/*
 * Who leads, as raftd last said: polled so that leader-only routes can
 * be redirected (307) or refused (503 NO_LEADER) before their body is
 * read (API.md §2.2 step 7).  A stale or missing answer decides nothing:
 * the request then goes to raftd, which refuses a write it cannot take.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "apid/server.h"
#include "common/log.h"
#include "proto/msg.h"

#define LEADER_POLL_MS 250
#define LEADER_CALL_MS 1000
/* an answer older than this is not used */
#define LEADER_FRESH_MS 1000

void
apid_status_leader(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	struct json_tokener *tok;
	struct json_object *o, *l;
	const uint8_t *s;
	struct pread r;
	size_t slen;

	out[0] = '\0';
	pr_init(&r, p, len);
	if (pr_get_bytes(&r, &s, &slen) == -1 || slen > INT32_MAX)
		return;
	if ((tok = json_tokener_new()) == NULL)
		return;
	o = json_tokener_parse_ex(tok, (const char *)s, (int)slen);
	json_tokener_free(tok);
	if (o == NULL)
		return;
	if (json_object_object_get_ex(o, "leader", &l) &&
	    json_object_is_type(l, json_type_string))
		snprintf(out, outlen, "%s", json_object_get_string(l));
	json_object_put(o);
}

static void
leader_done(int err, struct ipc_msg *m, void *arg)
{
	struct apid *a = arg;

	a->leader_polling = false;
	if (err != 0 || m == NULL)
		return;
	apid_status_leader(m->payload, m->len, a->leader, sizeof(a->leader));
	a->leader_at_ms = http_now_ms();
}

static void
leader_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, LEADER_POLL_MS * 1000 };
	struct apid *a = arg;

	(void)fd;
	(void)what;
	if (a->raft != NULL && !a->leader_polling) {
		if (ipc_call(a->raft, MSG_RAFT_STATUS, NULL, 0, LEADER_CALL_MS,
			leader_done, a) == 0)
			a->leader_polling = true;
	}
	evtimer_add(a->leader_timer, &tv);
}

void
apid_leader_start(struct apid *a)
{
	a->leader_timer = evtimer_new(a->env->base, leader_poll_cb, a);
	leader_poll_cb(-1, 0, a);
}

enum leader_verdict
apid_leader_check(struct apid *a, const char **leader)
{
	if (a->leader_at_ms == 0 ||
	    http_now_ms() - a->leader_at_ms > LEADER_FRESH_MS)
		return LEADER_ASK_RAFT;
	if (a->leader[0] == '\0')
		return LEADER_NONE;
	if (strcmp(a->leader, a->env->node_id) == 0)
		return LEADER_SELF;
	*leader = a->leader;
	return LEADER_OTHER;
}
