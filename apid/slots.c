/*
 * Slot calls of this node to the leader (API.md §14.5).  Each call runs
 * from the loop, never from inside its caller: the leader proposes the
 * command itself; a follower posts to the leader's internal route.  A
 * release, reset or removal that got no acknowledgement waits in a
 * bounded list and is sent again, 1 s doubling to 30 s; an acquire whose
 * outcome is unknown is released, so a lost answer never leaks a slot.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "apid/http_parse.h"
#include "apid/slots.h"
#include "common/cluster_url.h"
#include "common/log.h"
#include "proto/msg.h"

#define SLOTS_TICK_MS 250
#define SLOTS_IN_FLIGHT_MAX 16
#define REQUEST_PATH "/db/internal/v1/subscriptions/request_slot"
#define RELEASE_PATH "/db/internal/v1/subscriptions/release_slot"

enum slot_op {
	OP_ACQUIRE,
	OP_RELEASE,
	OP_RESET,
	OP_DROP,
};

struct slot_call {
	TAILQ_ENTRY(slot_call) entry; /* pending list, while waiting */
	enum slot_op op;
	char scope[CMD_SCOPE_MAX + 1];
	char session[CRYPTO_UUID_LEN + 1];
	char node[CFG_ID_MAX + 1]; /* OP_DROP: the removed node */
	slot_cb cb;
	void *arg;
	int backoff_ms;
	int64_t due_ms;
};

TAILQ_HEAD(slot_calls, slot_call);

static struct {
	struct apid *a;
	char incarnation[CRYPTO_UUID_LEN + 1];
	struct slot_calls pending;
	size_t npending;
	size_t in_flight;
	struct event *tick;
	bool stopped;
} sl;

static void call_start(struct slot_call *);

static struct slot_call *
call_new(enum slot_op op, const char *scope, const char *session)
{
	struct slot_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s", __func__);
	c->op = op;
	snprintf(c->scope, sizeof(c->scope), "%s", scope);
	snprintf(c->session, sizeof(c->session), "%s", session);
	c->backoff_ms = SLOT_RETRY_FIRST_MS;
	return c;
}

static void
pending_add(struct slot_call *c, int64_t due_ms)
{
	struct slot_call *old;

	if (sl.npending >= SLOT_PENDING_MAX &&
	    (old = TAILQ_FIRST(&sl.pending)) != NULL) {
		log_warnx(
		    "apid: slot calls full: dropping one for %s", old->scope);
		TAILQ_REMOVE(&sl.pending, old, entry);
		sl.npending--;
		free(old);
	}
	c->due_ms = due_ms;
	TAILQ_INSERT_TAIL(&sl.pending, c, entry);
	sl.npending++;
}

static void
finish(struct slot_call *c, enum slot_outcome out)
{
	sl.in_flight--;
	if (c->op == OP_ACQUIRE) {
		c->cb(out, c->arg);
		/* the leader may hold it: give it back */
		if (out == SLOT_UNKNOWN)
			apid_slot_release(c->scope, c->session);
		free(c);
		return;
	}
	if (out == SLOT_GRANTED || sl.stopped) {
		free(c);
		return;
	}
	if (c->op == OP_DROP && out != SLOT_UNKNOWN) {
		log_warnx("apid: removed node %s: its slots stay until its "
			  "next start",
		    c->node);
		free(c);
		return;
	}
	pending_add(c, http_now_ms() + c->backoff_ms);
	/* without a leader there is nobody to ask: try again soon */
	if (out != SLOT_NO_LEADER) {
		c->backoff_ms *= 2;
		if (c->backoff_ms > SLOT_RETRY_MAX_MS)
			c->backoff_ms = SLOT_RETRY_MAX_MS;
	}
}

/* the command of a call, for raftd */
static void
call_cmd(const struct slot_call *c, struct pbuf *out)
{
	struct pbuf val;
	struct cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	pb_init(&val);
	snprintf(cmd.scope, sizeof(cmd.scope), "%s", c->scope);
	switch (c->op) {
	case OP_ACQUIRE:
	case OP_RELEASE:
		cmd.type =
		    c->op == OP_ACQUIRE ? CMD_SLOT_ACQUIRE : CMD_SLOT_RELEASE;
		cmd.key = (const uint8_t *)c->session;
		cmd.key_len = strlen(c->session);
		pb_add_str(&val, sl.a->env->node_id);
		pb_add_str(&val, sl.incarnation);
		break;
	case OP_RESET:
		cmd.type = CMD_SLOT_RESET;
		pb_add_str(&val, sl.a->env->node_id);
		pb_add_str(&val, sl.incarnation);
		break;
	case OP_DROP:
		cmd.type = CMD_SLOT_DROP_NODE;
		pb_add_str(&val, c->node);
		break;
	}
	cmd.value = val.data;
	cmd.value_len = val.len;
	cmd_encode(out, &cmd);
	if (val.err || out->err)
		fatalx("%s: out of memory", __func__);
	pb_free(&val);
}

/* the §18.2 body of a call */
static void
call_body(const struct slot_call *c, struct pbuf *b)
{
	pb_add_lit(b, "{\"node_id\":");
	json_put_cstr(b, sl.a->env->node_id);
	pb_add_lit(b, ",\"incarnation\":");
	json_put_cstr(b, sl.incarnation);
	if (c->op == OP_RESET) {
		pb_add_lit(b, ",\"reset\":true}");
		return;
	}
	pb_add_lit(b, ",\"data_scope_uuid\":");
	json_put_cstr(b, c->scope);
	pb_add_lit(b, ",\"session_id\":");
	json_put_cstr(b, c->session);
	pb_add_lit(b, "}");
}

static enum slot_outcome
http_outcome(const struct hclient_resp *r)
{
	const char *type = NULL;
	size_t tlen;
	struct jb_doc doc;
	enum slot_outcome out = SLOT_UNKNOWN;

	if (r->err != 0)
		return SLOT_UNKNOWN;
	if (r->status == 200)
		return SLOT_GRANTED;
	if (r->status != 503)
		return SLOT_UNKNOWN;
	memset(&doc, 0, sizeof(doc));
	if (jb_parse(&doc, r->body, r->body_len) == 0 &&
	    jb_string(&doc, "error_type", &type, &tlen) == 1) {
		if (strcmp(type, "NO_LEADER") == 0)
			out = SLOT_NO_LEADER;
		else if (strcmp(type, "SUBSCRIBER_LIMIT_EXCEEDED") == 0)
			/* only a shake's refusal says when to come back */
			out = r->retry_after >= 0 ? SLOT_BLOCKED : SLOT_LIMIT;
	}
	jb_free(&doc);
	return out;
}

static void
http_done(const struct hclient_resp *r, void *arg)
{
	struct slot_call *c = arg;
	enum slot_outcome out = http_outcome(r);

	if (out == SLOT_UNKNOWN && c->op != OP_ACQUIRE)
		log_info("apid: slot call to the leader failed (%s %d)",
		    r->err != 0 ? "error" : "status",
		    r->err != 0 ? r->err : r->status);
	/* a 400 will not get better by asking again */
	if (r->err == 0 && r->status == 400 && c->op != OP_ACQUIRE) {
		log_warnx("apid: the leader refused a slot call as malformed");
		out = SLOT_GRANTED;
	}
	finish(c, out);
}

static void
http_call(struct slot_call *c, const char *leader)
{
	const struct cfg_node *n;
	char base[CURL_BASE_MAX], url[CURL_BASE_MAX + 64];
	struct pbuf body;
	struct hcall *h = NULL;

	if (c->op == OP_DROP) {
		/* only a leader removes nodes; it lost the lead meanwhile */
		finish(c, SLOT_NO_LEADER);
		return;
	}
	if ((n = cfg_node(&sl.a->env->cfg, leader)) == NULL ||
	    curl_node_base(
		n, CURL_BIND_PRIVATE, sl.a->tls, base, sizeof(base)) == -1) {
		finish(c, SLOT_NO_LEADER);
		return;
	}
	snprintf(url, sizeof(url), "%s%s", base,
	    c->op == OP_ACQUIRE ? REQUEST_PATH : RELEASE_PATH);
	pb_init(&body);
	call_body(c, &body);
	if (!body.err)
		h = hclient_request(sl.a->hc, "POST", url, sl.a->root_key,
		    "application/json", body.data, body.len, SLOT_CALL_MS,
		    SLOT_REDIRECTS, http_done, c);
	pb_free(&body);
	if (h == NULL)
		finish(c, SLOT_UNKNOWN);
}

static void
local_done(int err, struct ipc_msg *m, void *arg)
{
	struct slot_call *c = arg;
	struct cmd_result res;
	char leader[CFG_ID_MAX + 1];

	if (err != 0 || m == NULL ||
	    cmd_result_decode(m->payload, m->len, &res) == -1) {
		finish(c, SLOT_UNKNOWN);
		return;
	}
	switch (res.status) {
	case ST_OK:
		finish(c, SLOT_GRANTED);
		return;
	case ST_SUBSCRIBER_LIMIT:
		finish(c, SLOT_LIMIT);
		return;
	case ST_SHAKE_BLOCKED:
		finish(c, SLOT_BLOCKED);
		return;
	case ST_NO_LEADER:
		finish(c, SLOT_NO_LEADER);
		return;
	case ST_NOT_LEADER:
		if (res.data_len == 0 || res.data_len > CFG_ID_MAX) {
			finish(c, SLOT_NO_LEADER);
			return;
		}
		memcpy(leader, res.data, res.data_len);
		leader[res.data_len] = '\0';
		http_call(c, leader);
		return;
	default:
		finish(c, SLOT_UNKNOWN);
		return;
	}
}

static void
local_call(struct slot_call *c)
{
	struct pbuf b;
	int rc = -1;

	pb_init(&b);
	call_cmd(c, &b);
	if (sl.a->raft != NULL)
		rc = ipc_call(sl.a->raft, MSG_RAFT_PROPOSE, b.data, b.len,
		    SLOT_CALL_MS, local_done, c);
	pb_free(&b);
	if (rc == -1)
		finish(c, SLOT_UNKNOWN);
}

static void
call_start(struct slot_call *c)
{
	const char *leader = NULL;

	sl.in_flight++;
	switch (apid_leader_check(sl.a, &leader)) {
	case LEADER_ASK_RAFT:
	case LEADER_SELF:
		local_call(c);
		return;
	case LEADER_OTHER:
		http_call(c, leader);
		return;
	case LEADER_NONE:
	case LEADER_TRANSFERRING:
	default:
		finish(c, SLOT_NO_LEADER);
		return;
	}
}

/* starts the calls that are due, a bounded number at once */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot_call *c, *next;
	int64_t now = http_now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	for (c = TAILQ_FIRST(&sl.pending); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (sl.in_flight >= SLOTS_IN_FLIGHT_MAX)
			break;
		if (c->due_ms > now)
			continue;
		TAILQ_REMOVE(&sl.pending, c, entry);
		sl.npending--;
		call_start(c);
	}
}

static void
schedule_now(struct slot_call *c)
{
	pending_add(c, 0);
	/* from the loop, never from inside the caller */
	event_active(sl.tick, EV_TIMEOUT, 0);
}

static void
acquire_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	call_start(arg);
}

void
apid_slots_start(struct apid *a)
{
	struct timeval tv = { 0, SLOTS_TICK_MS * 1000 };
	struct slot_call *c;

	sl.a = a;
	TAILQ_INIT(&sl.pending);
	if (crypto_uuid4(sl.incarnation) == -1)
		fatalx("%s: no incarnation", __func__);
	if ((sl.tick = event_new(
		 a->env->base, -1, EV_PERSIST, tick_cb, NULL)) == NULL ||
	    event_add(sl.tick, &tv) == -1)
		fatalx("%s: timer", __func__);
	log_info("apid: incarnation %s", sl.incarnation);
	c = call_new(OP_RESET, a->env->cfg.root_prefix, "");
	schedule_now(c);
}

void
apid_slots_stop(void)
{
	sl.stopped = true;
}

void
apid_slot_acquire(const char *scope, const char *session, slot_cb cb, void *arg)
{
	struct timeval zero = { 0, 0 };
	struct slot_call *c = call_new(OP_ACQUIRE, scope, session);

	c->cb = cb;
	c->arg = arg;
	/* a client waits: not behind the retries, bounded by the sessions */
	if (event_base_once(sl.a->env->base, -1, EV_TIMEOUT, acquire_deferred,
		c, &zero) == -1)
		fatalx("%s: event_base_once", __func__);
}

void
apid_slot_release(const char *scope, const char *session)
{
	if (sl.a == NULL)
		return;
	schedule_now(call_new(OP_RELEASE, scope, session));
}

void
apid_slots_drop_node(const char *node)
{
	struct slot_call *c;

	if (sl.a == NULL)
		return;
	c = call_new(OP_DROP, sl.a->env->cfg.root_prefix, "");
	snprintf(c->node, sizeof(c->node), "%s", node);
	schedule_now(c);
}

size_t
apid_slots_pending(void)
{
	return sl.npending + sl.in_flight;
}
