/*
 * The role side of the supervisor channel.  Peers: the supervisor only
 * (one pair channel, dispatched by role_dispatch_sup).
 *
 * Phases: HELLO (dialled, announcing our pid until the supervisor talks),
 * CONFIG (MSG_SUP_CONFIG expected), PUSH (TLS, NODE, PIDS until DONE),
 * RUN (started, READY sent).  While running, CONFIG, TLS... DONE is a
 * reload: handed to hooks->reload as a whole.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/role.h"
#include "proto/codec.h"

#define ROLE_HELLO_MS 200
#define ROLE_PARENT_CHECK_MS 500
#define ROLE_OVERRIDES_MAX 256

enum role_phase {
	ROLE_PHASE_HELLO,
	ROLE_PHASE_CONFIG,
	ROLE_PHASE_PUSH,
	ROLE_PHASE_RUN,
};

static const char *const role_names[ROLE_COUNT] = { "raftd", "apid", "blobd" };

static struct role_env role_env;
static enum role_phase role_phase;
static int role_exit_status;
static int role_verbose;
static struct event *role_hello_ev;
/* a reload being received */
static struct role_pending {
	bool active;
	struct cfg cfg;
	char *pem[3]; /* cert, key, ca */
} role_pending;
static struct event *role_parent_ev;

const char *
role_name(enum role_id id)
{
	if ((int)id < 0 || id >= ROLE_COUNT)
		return "unknown";
	return role_names[id];
}

int
role_by_name(const char *name)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

void
role_url_for(const char *insid_home, const char *node_id, const char *channel,
    char *buf, size_t len)
{
	ipc_url(buf, len, insid_home, node_id, channel);
}

void
role_url(const struct role_env *env, const char *channel, char *buf, size_t len)
{
	role_url_for(env->cfg.insid_home, env->node_id, channel, buf, len);
}

void
role_exit(struct role_env *env, int status)
{
	role_exit_status = status;
	event_base_loopbreak(env->base);
}

static void
role_send(struct role_env *env, uint16_t type, uint64_t corr, struct pbuf *b)
{
	if (b->err)
		fatalx("%s: cannot encode message %u", __func__, type);
	if (ipc_send(env->sup, type, corr, b->data, b->len) == -1)
		log_warnx("%s: supervisor channel full, message %u dropped",
		    __func__, type);
	pb_free(b);
}

void
role_ctl_reply(
    struct role_env *env, uint64_t corr, int status, const char *json)
{
	struct pbuf b;

	if (status < 0 || status > 255)
		fatalx("%s: bad status %d", __func__, status);
	pb_init(&b);
	pb_add_u16(&b, (uint16_t)status);
	pb_add_str(&b, json);
	role_send(env, MSG_SUP_CTL, corr, &b);
}

/* the listening sockets the supervisor dup2'd to 3, 4, ... */
static void
role_collect_fds(struct role_env *env)
{
	int fd, listening;
	socklen_t len;

	env->nfds = 0;
	for (size_t i = 0; i < ROLE_MAX_FDS; i++)
		env->fds[i] = -1;
	for (size_t i = 0; i < ROLE_MAX_FDS; i++) {
		fd = ROLE_FD_FIRST + (int)i;
		len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			&len) == -1 ||
		    !listening)
			break;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			fatal("%s: fcntl", __func__);
		env->fds[env->nfds++] = fd;
	}
}

static void
role_hello(evutil_socket_t fd, short ev, void *arg)
{
	struct role_env *env = arg;
	struct timeval tv = { 0, ROLE_HELLO_MS * 1000 };
	struct pbuf b;

	(void)fd;
	(void)ev;
	if (role_phase != ROLE_PHASE_HELLO)
		return;
	pb_init(&b);
	pb_add_u64(&b, (uint64_t)getpid());
	/* not connected yet is normal here: the next round retries */
	if (b.err || ipc_send(env->sup, MSG_SUP_HELLO, 0, b.data, b.len) == -1)
		log_debug("supervisor not reached yet");
	pb_free(&b);
	evtimer_add(role_hello_ev, &tv);
}

static void
role_check_parent(evutil_socket_t fd, short ev, void *arg)
{
	struct role_env *env = arg;

	(void)fd;
	(void)ev;
	/* reparented: the supervisor is gone and nobody will restart us */
	if (getppid() != env->supervisor_pid) {
		log_warnx("supervisor (pid %d) is gone: exiting",
		    (int)env->supervisor_pid);
		role_exit(env, 1);
	}
}

static void
role_recv_config(struct role_env *env, struct pread *r, struct cfg *cfg)
{
	const uint8_t *yaml;
	size_t yaml_len, n_over = 0;
	char *name = NULL, **over = NULL, *node_id = NULL;
	struct cfg_errors errs = { 0 };
	uint32_t n;
	int jailed = 0;

	pr_get_strdup(r, &name);
	pr_get_bytes(r, &yaml, &yaml_len);
	if (pr_get_u32(r, &n) == -1 || n > ROLE_OVERRIDES_MAX)
		fatalx("%s: malformed configuration message", __func__);
	if ((over = calloc(n + 1, sizeof(*over))) == NULL)
		fatal("%s: calloc", __func__);
	for (n_over = 0; n_over < n; n_over++)
		if (pr_get_strdup(r, &over[n_over]) == -1)
			break;
	pr_get_strdup(r, &node_id);
	pr_get_bool(r, &jailed);
	if (pr_end(r) == -1)
		fatalx("%s: malformed configuration message", __func__);
	if (env->node_id == NULL)
		env->node_id = node_id;
	else if (strcmp(env->node_id, node_id) != 0)
		fatalx("%s: reload for node %s", __func__, node_id);
	else
		free(node_id);
	if ((bool)jailed != env->as_root)
		fatalx("%s: supervisor expects jailed=%d, we are %s", __func__,
		    jailed, env->as_root ? "root" : "not root");
	if (cfg_parse(name, (const char *)yaml, yaml_len, over, n_over,
		env->as_root, cfg, &errs) == -1)
		fatalx("pushed configuration rejected: %s",
		    errs.n > 0 ? errs.msgs[0] : "unknown error");
	if (cfg_node(cfg, env->node_id) == NULL)
		fatalx("%s: node %s not in the configuration", __func__,
		    env->node_id);
	for (size_t i = 0; i < n_over; i++)
		free(over[i]);
	free(over);
	free(name);
	cfg_errors_free(&errs);
}

/* into env->tls_* at start, into the reload's strings while running */
static void
role_recv_tls(struct role_env *env, struct pread *r, char **pems[3])
{
	const uint8_t *pem;
	size_t len;
	char *name = NULL, *copy, **slot;

	(void)env;
	pr_get_strdup(r, &name);
	pr_get_bytes(r, &pem, &len);
	if (pr_end(r) == -1 || len == 0)
		fatalx("%s: malformed tls message", __func__);
	if (strcmp(name, "cert") == 0)
		slot = pems[0];
	else if (strcmp(name, "key") == 0)
		slot = pems[1];
	else if (strcmp(name, "ca") == 0)
		slot = pems[2];
	else
		fatalx("%s: unknown tls item %s", __func__, name);
	if ((copy = malloc(len + 1)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(copy, pem, len);
	copy[len] = '\0';
	free(*slot);
	*slot = copy;
	free(name);
}

static void
role_recv_node(struct role_env *env, struct pread *r)
{
	char *badge = NULL;

	pr_get_strdup(r, &badge);
	if (pr_end(r) == -1 || strlen(badge) != sizeof(env->badge_id) - 1)
		fatalx("%s: malformed node message", __func__);
	memcpy(env->badge_id, badge, sizeof(env->badge_id));
	free(badge);
}

static void
role_recv_pids(struct role_env *env, struct pread *r)
{
	pid_t pids[ROLE_COUNT] = { 0 };
	char *name;
	uint64_t pid;
	uint32_t n;
	int id;

	if (pr_get_u32(r, &n) == -1 || n > ROLE_COUNT)
		fatalx("%s: malformed pids message", __func__);
	for (uint32_t i = 0; i < n; i++) {
		name = NULL;
		pr_get_strdup(r, &name);
		if (pr_get_u64(r, &pid) == -1 || pid > INT_MAX ||
		    (id = role_by_name(name)) == -1)
			fatalx("%s: malformed pids message", __func__);
		pids[id] = (pid_t)pid;
		free(name);
	}
	if (pr_end(r) == -1)
		fatalx("%s: malformed pids message", __func__);
	memcpy(env->pids, pids, sizeof(pids));
}

/* the role's directory: its jail, or the real path in development mode */
static char *
role_dir(const struct role_env *env)
{
	static const char *const sub[ROLE_COUNT] = { "", "/empty", "/blobs" };
	char *dir;

	if (asprintf(&dir, "%s/%s%s", env->cfg.insid_home, env->node_id,
		sub[env->id]) == -1)
		fatal("%s: asprintf", __func__);
	return dir;
}

static void
role_start(struct role_env *env)
{
	struct pbuf b;
	char *dir;

	if (env->node_id == NULL)
		fatalx("%s: DONE before the configuration", __func__);
	dir = role_dir(env);
	if (env->as_root) {
		if (privdrop_jail(dir, env->cfg.user) == -1)
			fatalx("cannot jail %s in %s", env->hooks->name, dir);
		if (privdrop_seccomp(env->hooks->name) == -1)
			fatalx("cannot filter the system calls of %s",
			    env->hooks->name);
		free(dir);
		if ((env->data_dir = strdup("/")) == NULL)
			fatal("%s: strdup", __func__);
	} else {
		log_info("running without jail (not started as root)");
		env->data_dir = dir;
	}
	clock_gettime(CLOCK_MONOTONIC, &env->started);
	role_phase = ROLE_PHASE_RUN;
	if (env->hooks->start(env) == -1) {
		log_warnx("%s failed to start", env->hooks->name);
		role_exit(env, 1);
		return;
	}
	pb_init(&b);
	pb_add_u64(&b, (uint64_t)getpid());
	role_send(env, MSG_SUP_READY, 0, &b);
}

static void
role_status(struct role_env *env, uint64_t corr, struct pread *r)
{
	struct pbuf b;
	char *json = NULL;

	if (pr_end(r) == -1)
		fatalx("%s: malformed status request", __func__);
	if (env->hooks->status != NULL)
		json = env->hooks->status(env);
	pb_init(&b);
	pb_add_str(&b, json != NULL ? json : "{}");
	free(json);
	role_send(env, MSG_SUP_STATUS, corr, &b);
}

static void
role_ctl(struct role_env *env, uint64_t corr, struct pread *r)
{
	char *verb = NULL, *args = NULL;

	pr_get_strdup(r, &verb);
	pr_get_strdup(r, &args);
	if (pr_end(r) == -1)
		fatalx("%s: malformed control request", __func__);
	if (env->hooks->ctl == NULL)
		role_ctl_reply(
		    env, corr, 1, "{\"error\":\"not supported yet\"}");
	else
		env->hooks->ctl(env, corr, verb, args);
	free(verb);
	free(args);
}

static void
role_log_level(struct pread *r)
{
	uint8_t level;

	if (pr_get_u8(r, &level) == -1 || pr_end(r) == -1 ||
	    level > LOG_LEVEL_ERROR)
		fatalx("%s: malformed log level message", __func__);
	log_set_level(level);
	log_debug("log level %s", log_level_name(level));
}

static void
role_shutdown(struct role_env *env, struct pread *r)
{
	if (pr_end(r) == -1)
		fatalx("%s: malformed shutdown message", __func__);
	log_debug("shutting down");
	if (role_phase != ROLE_PHASE_RUN || env->hooks->stop == NULL)
		role_exit(env, 0);
	else
		env->hooks->stop(env);
}

/* CONFIG, TLS..., DONE while running: one reload */
static bool
role_dispatch_reload(struct role_env *env, struct ipc_msg *m, struct pread *r)
{
	struct role_pending *p = &role_pending;
	char **slots[3] = { &p->pem[0], &p->pem[1], &p->pem[2] };
	struct role_reload rl;

	if (m->hdr.type == MSG_SUP_CONFIG && !p->active) {
		role_recv_config(env, r, &p->cfg);
		p->active = true;
		return true;
	}
	if (!p->active)
		return false;
	if (m->hdr.type == MSG_SUP_TLS) {
		role_recv_tls(env, r, slots);
		return true;
	}
	if (m->hdr.type != MSG_SUP_DONE || pr_end(r) == -1)
		return false;
	rl.cfg = p->cfg;
	rl.tls_cert_pem = p->pem[0];
	rl.tls_key_pem = p->pem[1];
	rl.tls_ca_pem = p->pem[2];
	if (env->hooks->reload != NULL)
		env->hooks->reload(env, &rl);
	else
		log_debug("reload: nothing to apply in %s", env->hooks->name);
	cfg_free(&p->cfg);
	for (int i = 0; i < 3; i++)
		free(p->pem[i]);
	memset(p, 0, sizeof(*p));
	return true;
}

/* messages allowed before the role runs */
static void
role_dispatch_setup(struct role_env *env, struct ipc_msg *m, struct pread *r)
{
	char **pems[3] = { &env->tls_cert_pem, &env->tls_key_pem,
		&env->tls_ca_pem };

	if (m->hdr.type == MSG_SUP_CONFIG && role_phase == ROLE_PHASE_CONFIG) {
		role_recv_config(env, r, &env->cfg);
		env->self = cfg_node(&env->cfg, env->node_id);
		if (!role_verbose)
			log_set_level(env->cfg.log_level);
		role_phase = ROLE_PHASE_PUSH;
	} else if (m->hdr.type == MSG_SUP_TLS && role_phase == ROLE_PHASE_PUSH)
		role_recv_tls(env, r, pems);
	else if (m->hdr.type == MSG_SUP_NODE && role_phase == ROLE_PHASE_PUSH)
		role_recv_node(env, r);
	else if (m->hdr.type == MSG_SUP_DONE && role_phase == ROLE_PHASE_PUSH) {
		if (pr_end(r) == -1)
			fatalx("%s: malformed done message", __func__);
		role_start(env);
	} else
		fatalx(
		    "unexpected message %u from the supervisor", m->hdr.type);
}

static void
role_dispatch_sup(struct ipc_chan *chan, struct ipc_msg *m, void *arg)
{
	struct role_env *env = arg;
	struct pread r;

	if (chan != env->sup)
		fatalx("%s: message from an unknown channel", __func__);
	if (role_phase == ROLE_PHASE_HELLO)
		role_phase = ROLE_PHASE_CONFIG;
	pr_init(&r, m->payload, m->len);
	switch (m->hdr.type) {
	case MSG_SUP_PIDS:
		role_recv_pids(env, &r);
		if (role_phase == ROLE_PHASE_RUN && env->hooks->pids != NULL)
			env->hooks->pids(env);
		return;
	case MSG_SUP_SHUTDOWN:
		role_shutdown(env, &r);
		return;
	case MSG_SUP_LOG_LEVEL:
		if (role_phase != ROLE_PHASE_CONFIG) {
			role_log_level(&r);
			return;
		}
		break;
	case MSG_SUP_STATUS:
		if (role_phase == ROLE_PHASE_RUN) {
			role_status(env, m->hdr.corr, &r);
			return;
		}
		break;
	case MSG_SUP_CTL:
		if (role_phase == ROLE_PHASE_RUN) {
			role_ctl(env, m->hdr.corr, &r);
			return;
		}
		break;
	default:
		if (role_phase == ROLE_PHASE_RUN &&
		    role_dispatch_reload(env, m, &r))
			return;
		break;
	}
	role_dispatch_setup(env, m, &r);
}

static void
role_usage(void)
{
	fatalx("usage: insid -P role -U url [-dFJv]");
}

static const char *
role_parse_args(int argc, char **argv, int *foreground)
{
	const char *url = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "dFJP:U:v")) != -1) {
		switch (ch) {
		case 'd':
			*foreground = 1;
			break;
		case 'F':
			role_env.force_new_cluster = true;
			break;
		case 'J':
			role_env.no_join = true;
			break;
		case 'P':
			break;
		case 'U':
			url = optarg;
			break;
		case 'v':
			role_verbose++;
			break;
		default:
			role_usage();
		}
	}
	if (url == NULL || optind != argc)
		role_usage();
	return url;
}

void
role_run(enum role_id id, const struct role_hooks *hooks, int argc, char **argv)
{
	struct role_env *env = &role_env;
	struct timeval tv = { 0, ROLE_PARENT_CHECK_MS * 1000 };
	const char *url;
	int foreground = 0;

	env->id = id;
	env->hooks = hooks;
	/* first: before anything else opens a descriptor */
	role_collect_fds(env);
	url = role_parse_args(argc, argv, &foreground);
	log_init(hooks->name, foreground,
	    role_verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	/* the supervisor orchestrates stops; a terminal ^C reaches us too */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	env->as_root = geteuid() == 0;
	env->supervisor_pid = getppid();
	if (evthread_use_pthreads() == -1)
		fatalx("%s: evthread_use_pthreads", __func__);
	if ((env->base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	if ((env->ipc = ipc_new(env->base)) == NULL)
		fatalx("%s: ipc_new", __func__);
	if ((env->sup = ipc_pair_dial(env->ipc, url, role_dispatch_sup, env)) ==
	    NULL)
		fatalx("%s: cannot dial the supervisor at %s", __func__, url);
	role_hello_ev = evtimer_new(env->base, role_hello, env);
	role_parent_ev =
	    event_new(env->base, -1, EV_PERSIST, role_check_parent, env);
	if (role_hello_ev == NULL || role_parent_ev == NULL)
		fatalx("%s: event_new", __func__);
	evtimer_add(role_parent_ev, &tv);
	role_hello(-1, 0, env);
	event_base_loop(env->base, EVLOOP_NO_EXIT_ON_EMPTY);
	log_debug("exiting with status %d", role_exit_status);
	exit(role_exit_status);
}
