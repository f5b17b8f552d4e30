/*
 * Auto-join (API.md §17.2): while raftd says the node needs a join, ask a
 * node's private binding to add us: GET join with our id and Raft address
 * and the root key, the default leader first, then the other nodes in
 * configuration order.  After a round without a 200 wait 1 s, doubling up
 * to 10 s.  A 200 ends the work until raftd still asks for a join a while
 * later (a repeated join is idempotent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cluster_url.h"
#include "apid/server.h"
#include "common/log.h"

#define JOIN_TIMEOUT_MS 10000
#define JOIN_REDIRECTS 5
#define JOIN_BACKOFF_MIN_MS 1000
#define JOIN_BACKOFF_MAX_MS 10000
/* after a 200, time for the leader's configuration to reach raftd */
#define JOIN_SETTLE_MS 3000
#define JOIN_PATH "/db/api/v1/join"

static void join_attempt(struct apid *);

static void
join_wait(struct apid *a, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(a->join_timer, &tv);
}

/* the k-th node to ask: the default leader, then the others in order */
static const struct cfg_node *
join_candidate(const struct apid *a, size_t k)
{
	const struct cfg *cfg = &a->env->cfg;
	const struct cfg_node *n;
	size_t i, seen = 0;

	n = cfg_node(cfg, cfg->default_leader);
	if (n != NULL && strcmp(n->id, a->env->node_id) != 0 && seen++ == k)
		return n;
	for (i = 0; i < cfg->n_nodes; i++) {
		n = &cfg->nodes[i];
		if (strcmp(n->id, a->env->node_id) == 0 ||
		    strcmp(n->id, cfg->default_leader) == 0)
			continue;
		if (seen++ == k)
			return n;
	}
	return NULL;
}

static void
pct_encode(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~')
			out[o++] = (char)ch;
		else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static int
join_url(
    const struct apid *a, const struct cfg_node *n, char *out, size_t outlen)
{
	char base[CURL_BASE_MAX], addr[CURL_ADDR_MAX];
	char eid[3 * CFG_ID_MAX + 1], eaddr[3 * CURL_ADDR_MAX + 1];
	int len;

	if (a->env->self == NULL ||
	    curl_node_base(n, CURL_BIND_PRIVATE, a->tls, base, sizeof(base)) ==
		-1)
		return -1;
	curl_raft_address(a->env->self, addr, sizeof(addr));
	pct_encode(eid, sizeof(eid), a->env->node_id);
	pct_encode(eaddr, sizeof(eaddr), addr);
	len = snprintf(out, outlen, "%s%s?followerId=%s&followerAddr=%s", base,
	    JOIN_PATH, eid, eaddr);
	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

static void
join_round_failed(struct apid *a, const char *why)
{
	log_warnx("apid: auto-join failed on every node (last: %s); again in "
		  "%d ms",
	    why, a->join_backoff_ms);
	a->join_next = 0;
	join_wait(a, a->join_backoff_ms);
	a->join_backoff_ms *= 2;
	if (a->join_backoff_ms > JOIN_BACKOFF_MAX_MS)
		a->join_backoff_ms = JOIN_BACKOFF_MAX_MS;
}

static void
join_done(const struct hclient_resp *r, void *arg)
{
	struct apid *a = arg;
	char why[160];

	a->join_call = NULL;
	if (r->err == 0 && r->status == 200) {
		/* raftd still waiting after a 200 repeats quietly */
		if (a->join_accepted)
			log_debug("apid: join accepted again by %s", r->url);
		else
			log_info("apid: join accepted by %s", r->url);
		a->join_accepted = true;
		a->join_next = 0;
		a->join_backoff_ms = JOIN_BACKOFF_MIN_MS;
		join_wait(a, JOIN_SETTLE_MS);
		return;
	}
	if (r->tls_error != NULL)
		snprintf(
		    why, sizeof(why), "certificate refused: %s", r->tls_error);
	else if (r->err != 0)
		snprintf(why, sizeof(why), "%s", strerror(r->err));
	else
		snprintf(why, sizeof(why), "HTTP %d %.*s", r->status,
		    (int)(r->body_len > 120 ? 120 : r->body_len), r->body);
	log_debug("apid: join through %s: %s", r->url, why);
	a->join_next++;
	if (join_candidate(a, a->join_next) != NULL)
		join_attempt(a);
	else
		join_round_failed(a, why);
}

static bool
join_wanted(const struct apid *a)
{
	const struct apid_view *v = apid_view(a);

	return a->hc != NULL && !a->env->no_join && !a->stopping && v != NULL &&
	    v->needs_join && !v->removed;
}

static void
join_attempt(struct apid *a)
{
	const struct cfg_node *n;
	char url[2 * CURL_BASE_MAX + 4 * CURL_ADDR_MAX + 256];

	if (!join_wanted(a))
		return;
	if ((n = join_candidate(a, a->join_next)) == NULL) {
		a->join_next = 0;
		if ((n = join_candidate(a, 0)) == NULL) {
			log_warnx("apid: auto-join: no other node configured");
			return;
		}
	}
	if (join_url(a, n, url, sizeof(url)) == -1 ||
	    (a->join_call = hclient_request(a->hc, "GET", url, a->root_key,
		 NULL, NULL, 0, JOIN_TIMEOUT_MS, JOIN_REDIRECTS, join_done,
		 a)) == NULL) {
		log_warnx("apid: auto-join: cannot call node %s", n->id);
		a->join_next++;
		join_wait(a, a->join_backoff_ms);
		return;
	}
	log_debug("apid: asking %s to add this node", n->id);
}

static void
join_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	join_attempt(arg);
}

void
apid_autojoin_start(struct apid *a)
{
	const struct role_env *env = a->env;

	a->join_backoff_ms = JOIN_BACKOFF_MIN_MS;
	a->join_timer = evtimer_new(env->base, join_timer_cb, a);
	if (a->join_timer == NULL)
		fatalx("%s: evtimer_new", __func__);
	a->hc = hclient_new(
	    env->base, a->tls, env->tls_ca_pem, env->cfg.client_skip_verify);
	if (a->hc == NULL)
		log_warnx("apid: no outgoing HTTP client: auto-join is off");
}

void
apid_autojoin_check(struct apid *a)
{
	if (a->join_call != NULL || evtimer_pending(a->join_timer, NULL))
		return;
	if (!join_wanted(a)) {
		a->join_accepted = false;
		return;
	}
	log_info("apid: raftd needs a join; asking the cluster");
	join_attempt(a);
}

void
apid_autojoin_stop(struct apid *a)
{
	if (a->join_call != NULL) {
		hclient_cancel(a->join_call);
		a->join_call = NULL;
	}
	if (a->join_timer != NULL)
		evtimer_del(a->join_timer);
}
