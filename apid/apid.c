#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/apid.h"
#include "apid/blobs.h"
#include "apid/events.h"
#include "apid/events_hub.h"
#include "apid/http_parse.h"
#include "apid/server.h"
#include "apid/slots.h"
#include "apid/tls.h"
#include "common/log.h"

#define RAFT_RETRY_MS 1000
#define STOP_POLL_MS 100

static void
apid_raft_dial(struct apid *a)
{
	struct timeval tv = { RAFT_RETRY_MS / 1000, 0 };

	a->raft = ipc_req_dial(a->env->ipc, a->raft_url, APID_RAFT_CALLS);
	if (a->raft == NULL)
		evtimer_add(a->raft_retry, &tv);
}

static void
apid_raft_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	apid_raft_dial(arg);
}

static SSL_CTX *
apid_tls(struct role_env *env, bool *failed)
{
	SSL_CTX *ctx;

	*failed = false;
	if (env->tls_cert_pem == NULL || env->tls_key_pem == NULL)
		return NULL;
	if ((ctx = apid_tls_ctx(env->tls_cert_pem, env->tls_key_pem)) == NULL)
		*failed = true;
	return ctx;
}

static int
apid_listen(struct apid *a)
{
	struct role_env *env = a->env;
	SSL_CTX *tls;
	bool failed;
	int b;

	if (env->nfds < 2 || env->fds[0] < 0 || env->fds[1] < 0) {
		log_warnx("apid: expected the public and private sockets");
		return -1;
	}
	for (b = BIND_PUBLIC; b <= BIND_PRIVATE; b++) {
		tls = apid_tls(env, &failed);
		if (failed)
			return -1;
		if (http_server_listen(a->http, env->fds[b], b, tls) == -1) {
			log_warn(
			    "apid: listen on inherited socket %d", env->fds[b]);
			return -1;
		}
	}
	return 0;
}

static struct cfg_net *
nets_copy(const struct cfg_net *src, size_t n)
{
	struct cfg_net *dst;

	if (n == 0)
		return NULL;
	if ((dst = calloc(n, sizeof(*dst))) == NULL)
		fatal("%s: calloc", __func__);
	memcpy(dst, src, n * sizeof(*dst));
	return dst;
}

/* the filters of §9, replaced as a whole on reload */
static void
apid_set_filters(struct apid *a, const struct cfg *cfg)
{
	free(a->permitted);
	free(a->trusted);
	a->permitted = nets_copy(cfg->permitted_ips, cfg->n_permitted_ips);
	a->npermitted = cfg->n_permitted_ips;
	a->trusted = nets_copy(cfg->trusted_proxies, cfg->n_trusted_proxies);
	a->ntrusted = cfg->n_trusted_proxies;
}

static int
apid_start(struct role_env *env)
{
	struct http_server_cfg hc;
	struct apid *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("%s: calloc", __func__);
	a->env = env;
	env->state = a;
	a->started_ms = http_now_ms();
	crypto_root_key(env->cfg.instance_secret, a->root_key);
	a->max_value = (size_t)env->cfg.limits_max_value_size;
	a->json_limit = 2 * a->max_value + 64 * 1024;
	a->rl = ratelimit_new(env->cfg.rate);
	apid_set_filters(a, &env->cfg);
	a->tls = env->tls_cert_pem != NULL && env->tls_key_pem != NULL;
	memset(&hc, 0, sizeof(hc));
	hc.node_id = env->node_id;
	hc.max_conns = (size_t)env->cfg.sessions_max_connections + 4096;
	hc.on_head = apid_on_head;
	hc.on_free = apid_on_free;
	hc.arg = a;
	a->http = http_server_new(env->base, &hc);
	if (apid_listen(a) == -1)
		return -1;
	role_url(env, "raftd.api", a->raft_url, sizeof(a->raft_url));
	a->raft_retry = evtimer_new(env->base, apid_raft_retry_cb, a);
	apid_raft_dial(a);
	apid_autojoin_start(a);
	apid_leader_start(a);
	apid_events_start(a);
	apid_slots_start(a);
	apid_blobs_start(a);
	apid_ops_start(a);
	log_info("apid: serving%s", env->tls_cert_pem ? " over TLS" : "");
	return 0;
}

static char *
apid_status(struct role_env *env)
{
	struct apid *a = env->state;
	const struct apid_view *v;
	struct pbuf leader;
	char *s;
	int rc;

	if (a == NULL)
		return strdup("{}");
	v = apid_view(a);
	pb_init(&leader);
	json_put_cstr(&leader, v != NULL ? v->leader : "");
	if (leader.err) {
		pb_free(&leader);
		return NULL;
	}
	rc = asprintf(&s,
	    "{\"connections\":%zu,\"active_requests\":%zu,"
	    "\"requests\":%llu,\"raft_connected\":%s,\"stopping\":%s,"
	    "\"leader\":%.*s,\"joining\":%s,\"ws_sessions\":%zu,"
	    "\"slot_calls_pending\":%zu}",
	    http_server_conns(a->http), http_server_active(a->http),
	    (unsigned long long)a->requests, a->raft ? "true" : "false",
	    a->stopping ? "true" : "false", (int)leader.len,
	    (const char *)leader.data,
	    a->join_call != NULL || evtimer_pending(a->join_timer, NULL)
		? "true"
		: "false",
	    apid_events_active(), apid_slots_pending());
	pb_free(&leader);
	return rc == -1 ? NULL : s;
}

static void
apid_stop_poll(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, STOP_POLL_MS * 1000 };
	struct apid *a = arg;

	(void)fd;
	(void)what;
	/* sessions end within 1 s of their close frame (events_hub.c) */
	if ((http_server_active(a->http) == 0 && apid_events_sessions() == 0) ||
	    http_now_ms() >= a->stop_deadline_ms) {
		role_exit(a->env, 0);
		return;
	}
	evtimer_add(a->stop_timer, &tv);
}

/* refuse new requests, let the running ones finish for up to 5 s */
static void
apid_stop(struct role_env *env)
{
	struct apid *a = env->state;

	if (a == NULL || a->http == NULL) {
		role_exit(env, 0);
		return;
	}
	if (a->stopping)
		return;
	a->stopping = true;
	apid_autojoin_stop(a);
	apid_events_stop(a);
	apid_slots_stop();
	a->stop_deadline_ms = http_now_ms() + APID_STOP_WAIT_MS;
	http_server_drain(a->http);
	a->stop_timer = evtimer_new(env->base, apid_stop_poll, a);
	apid_stop_poll(-1, 0, a);
}

/*
 * Reload: rate limits, permitted IPs, trusted proxies and TLS material.
 * Turning TLS on or off needs a restart: the listeners keep their kind.
 */
static void
apid_reload(struct role_env *env, const struct role_reload *rl)
{
	struct apid *a = env->state;
	bool tls = rl->tls_cert_pem != NULL && rl->tls_key_pem != NULL;
	SSL_CTX *ctx;
	int b;

	if (a == NULL || a->http == NULL)
		return;
	ratelimit_set_rates(a->rl, rl->cfg.rate);
	apid_set_filters(a, &rl->cfg);
	if (tls != a->tls) {
		log_warnx(
		    "apid: turning TLS %s needs a restart", tls ? "on" : "off");
		return;
	}
	for (b = BIND_PUBLIC; tls && b <= BIND_PRIVATE; b++) {
		ctx = apid_tls_ctx(rl->tls_cert_pem, rl->tls_key_pem);
		if (ctx == NULL) {
			log_warnx(
			    "apid: new TLS material unusable; kept the old");
			return;
		}
		http_server_set_tls(a->http, b, ctx);
	}
	log_info("apid: configuration reloaded");
}

const struct role_hooks apid_hooks = {
	.name = "apid",
	.start = apid_start,
	.status = apid_status,
	.ctl = apid_ctl,
	.stop = apid_stop,
	.reload = apid_reload,
};
