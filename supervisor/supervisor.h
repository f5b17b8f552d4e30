/*
 * insid, the supervisor: the parent of every role process.  Peers: each
 * role over its pair channel "sup.<role>" (sup_dispatch_role), insidbctl
 * over the control socket (control.c).
 */
#ifndef SUPERVISOR_SUPERVISOR_H
#define SUPERVISOR_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/ipc.h"
#include "common/role.h"

#define SUP_CRASH_WINDOW_S 60
#define SUP_CRASH_MAX 5
#define SUP_BACKOFF_FIRST_MS 100
#define SUP_BACKOFF_MAX_MS 2000
#define SUP_STOP_DEADLINE_S 10
#define SUP_READY_TIMEOUT_S 120
#define SUP_OVERRIDES_MAX 256

enum sup_listener {
	SUP_LISTEN_PUBLIC = 0,
	SUP_LISTEN_PRIVATE,
	SUP_LISTEN_RAFT,
	SUP_LISTEN_COUNT
};

enum sup_tls_item { SUP_TLS_CERT = 0, SUP_TLS_KEY, SUP_TLS_CA, SUP_TLS_COUNT };

enum child_state {
	CHILD_STOPPED, /* not running (maybe waiting to restart) */
	CHILD_STARTING, /* forked; configuration pushed or pending */
	CHILD_READY, /* answered READY */
	CHILD_STOPPING, /* asked to shut down */
};

struct sup;

struct sup_child {
	struct sup *sup;
	enum role_id id;
	pid_t pid;
	enum child_state state;
	bool config_sent;
	struct ipc_chan *chan;
	struct timespec crashes[SUP_CRASH_MAX]; /* ring of crash times */
	unsigned int ncrashes;
	unsigned int restarts;
	int backoff_ms;
	struct timespec started;
	struct event *restart_ev;
	struct event *ready_ev; /* a child that never gets READY is killed */
};

/* what `insid` was asked on its command line */
struct sup_opts {
	const char *file;
	const char *node_id;
	char *overrides[SUP_OVERRIDES_MAX];
	size_t n_overrides;
	bool foreground;
	bool no_join;
	int verbose;
	bool check_only;
	const char *restore_dir; /* --restore */
	bool force_new_cluster;
};

struct sup {
	struct sup_opts opts;
	const struct role_hooks *const *hooks; /* by role id */
	char *cfg_path; /* absolute */
	char *yaml; /* raw bytes pushed to the roles */
	size_t yaml_len;
	struct cfg cfg;
	const struct cfg_node *self;
	char *node_dir;
	char *run_dir;
	bool as_root;
	uid_t user_uid;
	gid_t user_gid;
	int log_level;
	char *tls_pem[SUP_TLS_COUNT];
	size_t tls_len[SUP_TLS_COUNT];
	/*
	 * the latest reloaded file: its "reload" keys go to every role that
	 * is running or starts later; the start-up file above keeps the rest
	 */
	bool reloaded;
	char *reload_yaml;
	size_t reload_yaml_len;
	struct cfg reload_cfg;
	char *reload_pem[SUP_TLS_COUNT];
	size_t reload_pem_len[SUP_TLS_COUNT];
	char badge_id[CRYPTO_UUID_LEN + 1];
	int listen_fd[SUP_LISTEN_COUNT];
	int pidfile_fd;
	int control_fd;
	char *control_path;
	struct timespec started;
	struct event_base *base;
	struct ipc *ipc;
	struct sup_child child[ROLE_COUNT];
	struct event *sig_ev[4];
	struct event *deadline_ev;
	bool all_ready;
	bool raftd_was_ready; /* --force-new-cluster applies until then */
	bool stopping;
	int exit_status;
	struct sup_control *control;
};

/* supervisor.c: messages from a role */
void sup_dispatch_role(struct ipc_chan *, struct ipc_msg *, void *arg);

/* insid.c: the command line; -n; role mode */
int insid_main(int argc, char **argv, const struct role_hooks *const *hooks);

/* setup.c: everything before the first fork */
int sup_read_file(const char *path, char **buf, size_t *len);
int sup_load_config(struct sup *);
int sup_prepare(struct sup *);
void sup_log_listeners(struct sup *);
void sup_write_pidfile(struct sup *, const char *name, pid_t);
void sup_remove_pidfile(struct sup *, const char *name);

/* roles.c: the role table and fork + re-exec */
pid_t sup_spawn(struct sup *, enum role_id);
const int *sup_role_fds(const struct sup *, enum role_id, size_t *n);

/* backup.c: the supervisor's half of backup and restore */
int backup_prepare(const char *dir, char *err, size_t errlen);
int backup_write_meta(const struct sup *, const char *dir);
pid_t
backup_spawn_copy(const struct sup *, const char *tmp_name, const char *dir);
int backup_restore(const struct sup *, const char *dir);

/* supervisor.c: the event loop */
int sup_run(struct sup *);
void sup_shutdown(struct sup *, int exit_status);
/* re-reads the configuration; errors (malloc'd lines) and notes filled */
int sup_reload(struct sup *, struct cfg_errors *errs, char **notes);
void sup_set_log_level(struct sup *, int level);
/* sends the reloaded file to a ready role */
void sup_push_reload(struct sup *, struct sup_child *);
int sup_initial_log_level(const struct sup *);
const char *sup_child_state_name(enum child_state);
/* MSG_SUP_STATUS / MSG_SUP_CTL to a ready role; -1 when it is not ready */
int sup_role_request(struct sup *, enum role_id, uint16_t type, uint64_t corr,
    const void *payload, size_t len);

/* control.c: the control socket; bound before the daemon detaches */
int control_bind(struct sup *);
struct sup_control *control_open(struct sup *);
void control_close(struct sup_control *);
/* a role answered a request the control socket relayed (corr id) */
void control_role_reply(struct sup_control *, enum role_id, uint16_t type,
    uint64_t corr, const uint8_t *payload, size_t len);
/* a role stopped: fail its pending requests */
void control_role_gone(struct sup_control *, enum role_id);
/* a helper process exited (not a role); false when it was none of ours */
bool control_helper_exited(struct sup_control *, pid_t, int status);

#endif
