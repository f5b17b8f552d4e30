/*
 * insidbctl membership verbs (join, remove, leader transfer) relayed by
 * the supervisor.  apid sends them to its own node's private binding as
 * the matching HTTP route, with the root key: a follower answers 307 and
 * the client follows it to the leader (API.md §4), so the commands work
 * from any node, as CLI.md asks.  The reply body is the route's JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "common/cluster_url.h"
#include "common/http_client.h"
#include "apid/routes.h"
#include "apid/server.h"
#include "common/log.h"

/* the route waits up to 10 s for a running change (API.md §17.1) */
#define CTL_TIMEOUT_MS 15000
#define CTL_REDIRECTS 5

struct ctl_call {
	struct role_env *env;
	uint64_t corr;
};

static void
ctl_error(struct role_env *env, uint64_t corr, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	role_ctl_reply(env, corr, 1,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void
ctl_done(const struct hclient_resp *r, void *arg)
{
	struct ctl_call *cc = arg;
	struct json_object *body = NULL, *msg;
	char text[256];

	if (r->err == 0 && r->body_len > 0 && r->body_len < INT32_MAX) {
		struct json_tokener *tk = json_tokener_new();

		if (tk != NULL) {
			body = json_tokener_parse_ex(
			    tk, r->body, (int)r->body_len);
			json_tokener_free(tk);
		}
	}
	if (r->err == 0 && r->status == 200 && body != NULL &&
	    json_object_is_type(body, json_type_object)) {
		role_ctl_reply(cc->env, cc->corr, 0,
		    json_object_to_json_string_ext(
			body, JSON_C_TO_STRING_PLAIN));
	} else if (r->err == 0 && body != NULL &&
	    json_object_object_get_ex(body, "message", &msg)) {
		ctl_error(cc->env, cc->corr, json_object_get_string(msg));
	} else {
		snprintf(text, sizeof(text), "%s",
		    r->err != 0 ? "the cluster did not answer"
				: "unexpected answer from the cluster");
		ctl_error(cc->env, cc->corr, text);
	}
	json_object_put(body);
	free(cc);
}

static const char *
ctl_arg(struct json_object *args, const char *name)
{
	struct json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* builds method, URL and body of the route for a verb; -1 if unknown */
static int
ctl_route(struct apid *a, const char *verb, struct json_object *args,
    const char **method, char *url, size_t urllen, char *body, size_t bodylen)
{
	const char *id, *addr;
	char base[512], *eid, *eaddr;
	struct json_object *o;
	int n;

	if (curl_node_base(a->env->self, CURL_BIND_PRIVATE, a->tls, base,
		sizeof(base)) == -1)
		return -1;
	body[0] = '\0';
	if (strcmp(verb, "join") == 0) {
		if ((id = ctl_arg(args, "id")) == NULL ||
		    (addr = ctl_arg(args, "raft_addr")) == NULL)
			return -1;
		eid = evhttp_encode_uri(id);
		eaddr = evhttp_encode_uri(addr);
		n = snprintf(url, urllen,
		    "%s/db/api/v1/join?followerId=%s&followerAddr=%s", base,
		    eid, eaddr);
		free(eid);
		free(eaddr);
		*method = "GET";
		return n < 0 || (size_t)n >= urllen ? -1 : 0;
	}
	if (strcmp(verb, "remove") == 0)
		id = ctl_arg(args, "id");
	else if (strcmp(verb, "leader transfer") == 0)
		id = ctl_arg(args, "node");
	else
		return -1;
	if (id == NULL)
		return -1;
	n = snprintf(url, urllen, "%s/db/api/v1/admin/cluster/%s", base,
	    strcmp(verb, "remove") == 0 ? "remove" : "transfer");
	if (n < 0 || (size_t)n >= urllen)
		return -1;
	o = json_object_new_object();
	json_object_object_add(o, "node_id", json_object_new_string(id));
	n = snprintf(body, bodylen, "%s",
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	*method = "POST";
	return n < 0 || (size_t)n >= bodylen ? -1 : 0;
}

void
apid_ctl(struct role_env *env, uint64_t corr, const char *verb,
    const char *args_json)
{
	struct apid *a = env->state;
	struct json_object *args = json_tokener_parse(args_json);
	char url[1024], body[256];
	const char *method = NULL;
	struct ctl_call *cc;

	if (a == NULL || a->hc == NULL) {
		json_object_put(args);
		return ctl_error(env, corr, "apid cannot call the cluster");
	}
	if (ctl_route(a, verb, args, &method, url, sizeof(url), body,
		sizeof(body)) == -1) {
		json_object_put(args);
		return ctl_error(env, corr, "unsupported or malformed command");
	}
	json_object_put(args);
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		fatal("%s: calloc", __func__);
	cc->env = env;
	cc->corr = corr;
	if (hclient_request(a->hc, method, url, a->root_key,
		body[0] != '\0' ? "application/json" : NULL, body, strlen(body),
		CTL_TIMEOUT_MS, CTL_REDIRECTS, ctl_done, cc) == NULL) {
		free(cc);
		ctl_error(env, corr, "cannot call the cluster");
	}
}
