/*
 * apid's shared state and the request pipeline of API.md §2.2, used by
 * the handler files (values.c, system.c, ...).
 */
#ifndef APID_SERVER_H
#define APID_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apid/client_ip.h"
#include "apid/conn.h"
#include "common/http_client.h"
#include "apid/json_body.h"
#include "apid/ratelimit.h"
#include "apid/routes.h"
#include "apid/view.h"
#include "common/crypto.h"
#include "common/role.h"
#include "proto/command.h"

/* writes not applied within this answer 503 COMMIT_UNKNOWN (§4) */
#define APID_WRITE_WAIT_MS 10000
#define APID_READ_WAIT_MS 10000
#define APID_STOP_WAIT_MS 5000
#define APID_RAFT_CALLS 1024

struct apid {
	struct role_env *env;
	struct http_server *http;
	struct ipc_chan *raft;
	struct event *raft_retry;
	char raft_url[256];
	char root_key[CRYPTO_ROOT_KEY_LEN + 1];
	struct ratelimit *rl;
	/* reloadable copies of the configuration's filters */
	struct cfg_net *permitted;
	size_t npermitted;
	struct cfg_net *trusted;
	size_t ntrusted;
	bool tls;
	/* cluster view from raftd's watch (leader.c) */
	struct apid_view view;
	int64_t view_at_ms; /* 0: never heard */
	bool watching;
	struct event *watch_retry;
	/* calls to other nodes; auto-join (autojoin.c) */
	struct hclient *hc;
	struct hcall *join_call;
	struct event *join_timer;
	int join_backoff_ms;
	size_t join_next;
	bool join_accepted; /* a 200 came since raftd last needed none */
	uint64_t ops[OPS_COUNT];
	/* §19.1: per-second rates sampled from ops */
	uint64_t ops_last[OPS_COUNT];
	double ops_rate[OPS_COUNT];
	int64_t ops_at_ms;
	struct event *ops_timer;
	uint64_t requests;
	int64_t started_ms;
	size_t json_limit; /* 2 * max_value_size + 64 KiB */
	size_t max_value;
	bool stopping;
	int64_t stop_deadline_ms;
	struct event *stop_timer;
	/* token key, token cache and per-key buckets (auth.c) */
	struct apid_keys *keys;
};

struct identity {
	bool root;
	bool alias;
	char entity[160];
	char scope[CMD_SCOPE_MAX + 1];
	/* entity keys and aliases (auth.c): the effective key, the alias */
	char key_uuid[CRYPTO_UUID_LEN + 1];
	char alias_uuid[CRYPTO_UUID_LEN + 1];
	/* the scope's rate limits of §8.2 when their mask bit is set */
	uint8_t rate_mask; /* bit 0 data, bit 1 events */
	uint64_t rate_data;
	uint64_t rate_events;
	/* the token's claims while it is looked up */
	struct token_claims claims;
	bool linearized; /* the lookup was retried after a read index */
};

struct areq;
typedef void (*areq_ipc_cb)(
    struct areq *, int err, const uint8_t *payload, size_t len);

/* the application's side of one request */
struct areq {
	struct apid *a;
	struct http_req *req;
	const struct route *route;
	struct identity id;
	struct client_ip ip;
	struct jb_doc doc;
	bool have_doc;
	uint8_t consistency; /* enum read_consistency asked */
	void (*json_done)(struct areq *);
	bool json_empty_ok;
	areq_ipc_cb ipc_cb;
	/* a handler's state across its calls, freed with the request */
	void *hstate;
	void (*hstate_free)(void *);
};

/* route handlers: begin runs after step 8 of §2.2 */
typedef void (*apid_handler)(struct areq *);
apid_handler apid_values_handler(enum route_id);
apid_handler apid_cache_handler(enum route_id);
apid_handler apid_events_handler(enum route_id);
apid_handler apid_system_handler(enum route_id);
apid_handler apid_cluster_handler(enum route_id);
/* limits, aliases (keys.c) and admin keys, limits, insight (admin.c) */
apid_handler apid_keys_handler(enum route_id);
apid_handler apid_admin_handler(enum route_id);

/*
 * Authentication of entity and alias tokens (§3.4), asynchronous: answers
 * 401 / 503, or fills ar->id and calls apid_after_auth().
 */
void apid_auth_token(struct areq *, const char *token, size_t len);
/* steps 6 (key type) to 10 of §2.2 after authentication */
void apid_after_auth(struct areq *);
/* step 8: per-key buckets of §8.2; false after answering 429 */
bool apid_key_bucket(struct areq *);
/* the token key of §3.3 */
const uint8_t *apid_token_key(struct apid *);
/* drops a token from this node's cache (a deleted alias or key) */
void apid_token_forget(struct apid *, const char *token, size_t len);

void apid_on_head(struct http_req *, void *arg);
void apid_on_free(struct http_req *, void *arg);

/* replies; each ends the request */
void apid_error(struct areq *, int status, const char *type,
    const struct pbuf *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void apid_reply(struct areq *, int status, const struct pbuf *extra,
    const struct pbuf *json);
void apid_reply_text(struct areq *, const char *json);

/* reads the JSON body (step 9) then calls done with ar->doc parsed */
void apid_read_json(struct areq *, void (*done)(struct areq *), bool empty_ok);
/* ?consistency of +C routes; -1 after answering 400 */
int apid_query_consistency(struct areq *);
/* 1 found, 0 absent, -1 after answering 400 */
int apid_query(struct areq *, const char *name, char **val, size_t *len);

enum leader_verdict {
	LEADER_ASK_RAFT = 0, /* nothing fresh known: raftd decides */
	LEADER_SELF,
	LEADER_OTHER, /* *leader set */
	LEADER_NONE, /* no leader known */
	LEADER_TRANSFERRING, /* this node leads but hands over */
};

/* opens the watch on raftd's view */
void apid_leader_start(struct apid *);
/* the view when fresh, else NULL */
const struct apid_view *apid_view(const struct apid *);
/* samples the ops counters every second */
void apid_ops_start(struct apid *);
enum leader_verdict apid_leader_check(struct apid *, const char **leader);

/* auto-join of §17.2, driven by the view's needs_join */
void apid_autojoin_start(struct apid *);
void apid_autojoin_check(struct apid *);
void apid_autojoin_stop(struct apid *);
/* insidbctl membership verbs, relayed to the leader over HTTP (ctl.c) */
void
apid_ctl(struct role_env *, uint64_t corr, const char *verb, const char *args);

/* 307 NOT_LEADER to the leader's binding of the request's kind (§4) */
void apid_redirect(struct areq *, const char *leader);
/* 503 with Retry-After: 1 */
void apid_retry_error(struct areq *, const char *type, const char *msg);

/* IPC to raftd with a timeout; the callback always runs */
void apid_raft_call(struct areq *, uint16_t type, const struct pbuf *,
    int timeout_ms, areq_ipc_cb);
/* a read result: status, consistency given, then what the op returns */
struct read_reply {
	uint16_t status;
	uint8_t consistency;
	struct pread rest;
};

/* MSG_RAFT_READ in the caller's scope with the asked consistency */
void apid_read_send(struct areq *, struct read_req *, areq_ipc_cb);
/* 0 with rr filled when the read succeeded; -1 after answering */
int apid_read_check(
    struct areq *, int err, const uint8_t *, size_t, struct read_reply *rr);
/* X-Insidb-Consistency of +C routes */
void apid_consistency_hdr(struct pbuf *, uint8_t consistency);

/* a command result other than ST_OK as HTTP */
void apid_cmd_error(struct areq *, const struct cmd_result *);
/* an IPC failure: writes get COMMIT_UNKNOWN on timeout */
void apid_ipc_error(struct areq *, int err, bool write);

#endif
