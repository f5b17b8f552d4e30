/*
 * The internal slot routes of API.md §18.2, answered by the leader (the
 * pipeline redirects them from followers): request_slot proposes an
 * acquire, release_slot a release or, with "reset", the node's reset.
 */
#include <string.h>

#include "apid/data_req.h"
#include "apid/slots.h"
#include "common/log.h"
#include "proto/msg.h"

/* a required string member checked by ok (no NUL inside); -1 after
 * answering 400 */
static int
member(
    struct areq *ar, const char *name, bool (*ok)(const char *), const char **v)
{
	size_t len;

	if (jb_string(&ar->doc, name, v, &len) != 1 || strlen(*v) != len ||
	    !ok(*v)) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "%s: required, and well formed", name);
		return -1;
	}
	return 0;
}

static void
slot_done(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct cmd_result res;

	if (err != 0) {
		apid_ipc_error(ar, err, true);
		return;
	}
	if (cmd_result_decode(p, len, &res) == -1)
		fatalx("%s: malformed result from raftd", __func__);
	if (res.status != ST_OK) {
		apid_cmd_error(ar, &res);
		return;
	}
	apid_reply_text(ar, "{}\n");
}

static void
slot_body(struct areq *ar, bool request)
{
	const char *node, *inc, *scope = NULL, *session = NULL;
	const struct jb_member *m;
	struct pbuf val, b;
	bool reset = false;
	struct cmd c;

	if (member(ar, "node_id", cfg_valid_id, &node) == -1 ||
	    member(ar, "incarnation", cfg_uuid_shaped, &inc) == -1)
		return;
	if (cfg_node(&ar->a->env->cfg, node) == NULL) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "node_id: not a configured node");
		return;
	}
	if (!request && (m = jb_find(&ar->doc, "reset")) != NULL) {
		if (m->type != JB_BOOL) {
			apid_error(ar, 400, "BAD_REQUEST", NULL,
			    "reset: must be a boolean");
			return;
		}
		reset = m->boolean;
	}
	if (!reset &&
	    (member(ar, "data_scope_uuid", cfg_valid_id, &scope) == -1 ||
		member(ar, "session_id", cfg_uuid_shaped, &session) == -1))
		return;
	memset(&c, 0, sizeof(c));
	c.type = request ? CMD_SLOT_ACQUIRE
			 : (reset ? CMD_SLOT_RESET : CMD_SLOT_RELEASE);
	snprintf(c.scope, sizeof(c.scope), "%s",
	    reset ? ar->a->env->cfg.root_prefix : scope);
	if (session != NULL) {
		c.key = (const uint8_t *)session;
		c.key_len = strlen(session);
	}
	pb_init(&val);
	pb_add_str(&val, node);
	pb_add_str(&val, inc);
	c.value = val.data;
	c.value_len = val.len;
	pb_init(&b);
	cmd_encode(&b, &c);
	if (val.err || b.err)
		fatalx("%s: out of memory", __func__);
	apid_raft_call(ar, MSG_RAFT_PROPOSE, &b, APID_WRITE_WAIT_MS, slot_done);
	pb_free(&b);
	pb_free(&val);
}

static void
request_body(struct areq *ar)
{
	slot_body(ar, true);
}

static void
release_body(struct areq *ar)
{
	slot_body(ar, false);
}

void
apid_slots_request_route(struct areq *ar)
{
	apid_read_json(ar, request_body, false);
}

void
apid_slots_release_route(struct areq *ar)
{
	apid_read_json(ar, release_body, false);
}
