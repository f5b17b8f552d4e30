/*
 * What every role process (raftd, apid, blobd) does between exec and
 * serving: connect to the supervisor, receive the pushed configuration
 * (MSG_SUP_CONFIG, MSG_SUP_TLS, MSG_SUP_PIDS, then MSG_SUP_DONE), jail
 * itself and drop privileges, start the role, answer READY, then relay
 * status, log level and shutdown requests to the role's hooks.
 *
 * File descriptors inherited from the supervisor start at ROLE_FD_FIRST,
 * in the order the role table of supervisor/roles.c gives.
 */
#ifndef COMMON_ROLE_H
#define COMMON_ROLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/ipc.h"

#define ROLE_FD_FIRST 3
#define ROLE_MAX_FDS 4

enum role_id { ROLE_RAFTD = 0, ROLE_APID, ROLE_BLOBD, ROLE_COUNT };

struct role_env;

/*
 * A reload (SIGHUP, `insidbctl reload`): the re-read file and its TLS
 * material, valid only during the reload hook.
 */
struct role_reload {
	struct cfg cfg;
	const char *tls_cert_pem; /* NULL when TLS is not configured */
	const char *tls_key_pem;
	const char *tls_ca_pem; /* NULL: system trust store */
};

struct role_hooks {
	const char *name; /* "raftd" */
	/*
	 * Runs after the jail: open what lives inside it, create channels,
	 * start serving.  Return -1 to stop with exit status 1.
	 */
	int (*start)(struct role_env *);
	/* fills a JSON object text for `insidbctl status`; caller frees */
	char *(*status)(struct role_env *);
	/*
	 * A control verb relayed by the supervisor (e.g. "show node"); args
	 * is JSON text.  Answers through role_ctl_reply(); NULL = unsupported.
	 */
	void (*ctl)(struct role_env *, uint64_t corr, const char *verb,
	    const char *args);
	/* begin a graceful stop; call role_exit() when done */
	void (*stop)(struct role_env *);
	/*
	 * Optional.  Copy the keys marked "reload" in CONFIG.md (TLS
	 * material, rate limiters, permitted IPs, trusted proxies) out of
	 * the reload before returning; env->cfg and env->tls_* keep the
	 * start-up values.  Also called once right after READY when the
	 * file was reloaded before this process started.
	 */
	void (*reload)(struct role_env *, const struct role_reload *);
	/*
	 * optional: the supervisor announced new pids (a sibling started or
	 * restarted); env->pids holds them.  Called once the role runs.
	 */
	void (*pids)(struct role_env *);
};

struct role_env {
	enum role_id id;
	const struct role_hooks *hooks;
	struct event_base *base;
	struct ipc *ipc;
	struct ipc_chan *sup;
	struct cfg cfg;
	const struct cfg_node *self;
	char *node_id;
	bool as_root; /* started as root: jail and drop */
	bool no_join; /* insid -J: wait to be added, do not auto-join */
	/* insid --restore --force-new-cluster: become a one-node cluster
	 * with the restored state (raftd only, its first start only) */
	bool force_new_cluster;
	char *tls_cert_pem; /* NULL when TLS is not configured */
	char *tls_key_pem;
	char *tls_ca_pem; /* NULL: system trust store */
	pid_t pids[ROLE_COUNT]; /* announced by the supervisor */
	pid_t supervisor_pid;
	char badge_id[37]; /* MSG_SUP_NODE */
	/*
	 * Where the role's files are: "/" inside the jail when as_root (raftd:
	 * <insid_home>/<node>/, blobd: <node>/blobs, apid: <node>/empty),
	 * else the absolute path of that directory.
	 */
	char *data_dir;
	int fds[ROLE_MAX_FDS]; /* inherited listening sockets, -1 */
	size_t nfds;
	void *state; /* the role's own */
	struct timespec started;
};

const char *role_name(enum role_id);
int role_by_name(const char *);

/* abstract IPC url of a channel of this node ("sup.raftd", "raftd.api") */
void
role_url(const struct role_env *, const char *channel, char *buf, size_t len);
void role_url_for(const char *insid_home, const char *node_id,
    const char *channel, char *buf, size_t len);

/* the role side: never returns; exit status 0 after role_exit(0) */
void role_run(enum role_id, const struct role_hooks *, int argc, char **argv)
    __attribute__((noreturn));
/* answer a MSG_SUP_CTL request: status 0 = ok, else the exit status the
 * ctl tool should use; json is the reply body */
void
role_ctl_reply(struct role_env *, uint64_t corr, int status, const char *json);
/* leave the event loop and exit */
void role_exit(struct role_env *, int status);

#endif
