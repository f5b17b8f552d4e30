/*
 * The control socket: insidbctl's requests, one per connection (framing
 * in ctl_proto.h).  Every request is input: bounded, validated, rejected
 * with a clear error when malformed, never fatal.  Changing commands and
 * rootkey need uid 0, or the daemon's own uid when it was not started as
 * root (SO_PEERCRED).  status and show node are answered here from the
 * roles' MSG_SUP_STATUS answers; cluster commands are relayed to raftd as
 * MSG_SUP_CTL.  A role that does not answer in time shows as null (status)
 * or fails the request (relayed).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <json-c/json.h>

#include "common/crypto.h"
#include "common/log.h"
#include "proto/codec.h"
#include "supervisor/ctl_proto.h"
#include "supervisor/supervisor.h"

#define CTL_CONN_MAX 32
#define CTL_TIMEOUT_S 30
/* how long a role may take to answer: status, or a relayed command */
#define CTL_STATUS_WAIT_S 5
#define CTL_RELAY_WAIT_S 120
/* copying a backup out of the node directory (blobs included) */
#define CTL_BACKUP_COPY_WAIT_S 3600
#define CTL_BACKLOG 16

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn) entry;
	struct sup_control *ctl;
	struct bufferevent *bev;
	uid_t uid;
	bool done; /* reply queued: close once written */
	bool waiting; /* roles hold the request */
	unsigned int pending; /* bit per role still to answer */
	uint16_t type;
	uint64_t corr;
	struct json_object *acc; /* status answers by role name */
	struct event *wait_ev; /* bounds the wait for roles */
	void (*gathered)(struct ctl_conn *);
	char *backup_dir; /* backup DIR: where the copy goes */
	char backup_tmp[32]; /* raftd's checkpoint, in the node dir */
	pid_t helper; /* the copy, once raftd is done */
};

struct sup_control {
	struct sup *sup;
	int fd;
	struct event *accept_ev;
	TAILQ_HEAD(, ctl_conn) conns;
	size_t nconns;
	uint64_t next_corr;
};

int
control_bind(struct sup *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	char *path;
	int fd;

	path = cfg_control_socket(&s->cfg, s->self->id);
	if (path == NULL || strlen(path) >= sizeof(sun.sun_path)) {
		log_errorx("control socket path %s is too long",
		    path ? path : "(none)");
		free(path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	s->control_path = path;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("%s: socket", __func__);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_errorx("control socket %s exists and is not a "
				   "socket",
			    path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno == EAGAIN) {
			log_errorx("control socket %s is in use by a running "
				   "insid",
			    path);
			goto fail;
		}
		close(fd);
		fd = socket(
		    AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			fatal("%s: socket", __func__);
		/* stale: left by a daemon that did not stop cleanly */
		(void)unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0660) == -1 ||
	    (s->as_root && chown(path, 0, s->user_gid) == -1) ||
	    listen(fd, CTL_BACKLOG) == -1) {
		log_errorx("control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	s->control_fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

static void
ctl_conn_free(struct ctl_conn *c)
{
	TAILQ_REMOVE(&c->ctl->conns, c, entry);
	c->ctl->nconns--;
	json_object_put(c->acc);
	free(c->backup_dir);
	if (c->wait_ev != NULL)
		event_free(c->wait_ev);
	bufferevent_free(c->bev);
	free(c);
}

static void
ctl_reply(struct ctl_conn *c, int status, struct json_object *body)
{
	struct pbuf b;
	const char *text;

	text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	pb_init(&b);
	ctl_reply_encode(&b, status, text);
	if (b.err) {
		pb_reset(&b);
		ctl_reply_encode(&b, 1, "{\"error\":\"reply too large\"}");
	}
	bufferevent_write(c->bev, b.data, b.len);
	pb_free(&b);
	json_object_put(body);
	c->done = true;
	c->waiting = false;
	bufferevent_disable(c->bev, EV_READ);
}

static void
ctl_reply_error(struct ctl_conn *c, int status, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	ctl_reply(c, status, o);
}

static bool
ctl_allowed(const struct sup *s, uid_t uid)
{
	return uid == 0 || (!s->as_root && uid == geteuid());
}

static void
ctl_cmd_status(struct ctl_conn *c, struct json_object *raft)
{
	struct sup *s = c->ctl->sup;
	struct json_object *o = json_object_new_object();
	struct json_object *procs = json_object_new_array(), *p;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	json_object_object_add(
	    o, "node_id", json_object_new_string(s->self->id));
	json_object_object_add(o, "uptime_s",
	    json_object_new_int64(now.tv_sec - s->started.tv_sec));
	json_object_object_add(o, "raft", raft);
	p = json_object_new_object();
	json_object_object_add(p, "role", json_object_new_string("insid"));
	json_object_object_add(p, "pid", json_object_new_int(getpid()));
	json_object_object_add(p, "state", json_object_new_string("running"));
	json_object_object_add(p, "restarts", json_object_new_int(0));
	json_object_array_add(procs, p);
	for (int i = 0; i < ROLE_COUNT; i++) {
		p = json_object_new_object();
		json_object_object_add(
		    p, "role", json_object_new_string(role_name(i)));
		json_object_object_add(
		    p, "pid", json_object_new_int(s->child[i].pid));
		json_object_object_add(p, "state",
		    json_object_new_string(
			sup_child_state_name(s->child[i].state)));
		json_object_object_add(p, "restarts",
		    json_object_new_int((int)s->child[i].restarts));
		json_object_array_add(procs, p);
	}
	json_object_object_add(o, "processes", procs);
	ctl_reply(c, 0, o);
}

static void
ctl_wait_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_conn *c = arg;

	(void)fd;
	(void)ev;
	if (!c->waiting)
		return;
	if (c->helper != 0) {
		ctl_reply_error(c, 1, "the backup copy did not finish in time");
		return;
	}
	if (c->type == MSG_SUP_CTL) {
		ctl_reply_error(c, 1, "the node did not answer in time");
		return;
	}
	/* the silent roles show as null */
	c->pending = 0;
	c->waiting = false;
	c->gathered(c);
}

/* the request is complete: only the roles' answers are awaited now */
static void
ctl_wait(struct ctl_conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 }, wtv = { CTL_TIMEOUT_S, 0 };

	c->waiting = true;
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	if (c->wait_ev == NULL &&
	    (c->wait_ev = evtimer_new(c->ctl->sup->base, ctl_wait_cb, c)) ==
		NULL)
		fatalx("%s: evtimer_new", __func__);
	if (evtimer_add(c->wait_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

/* hands a request to a role; the answer comes to control_role_reply */
static void
ctl_relay(struct ctl_conn *c, enum role_id id, struct pbuf *b)
{
	struct sup *s = c->ctl->sup;
	char err[64];

	c->corr = ++c->ctl->next_corr;
	c->type = MSG_SUP_CTL;
	c->pending = 1u << id;
	if (b->err ||
	    sup_role_request(s, id, MSG_SUP_CTL, c->corr, b->data, b->len) ==
		-1) {
		pb_free(b);
		snprintf(err, sizeof(err), "%s is not ready", role_name(id));
		ctl_reply_error(c, 1, err);
		return;
	}
	pb_free(b);
	ctl_wait(c, CTL_RELAY_WAIT_S);
}

/*
 * asks the ready roles of `mask` for their status; `gathered` runs once
 * every one answered or stopped, with the answers in c->acc
 */
static void
ctl_gather(
    struct ctl_conn *c, unsigned int mask, void (*gathered)(struct ctl_conn *))
{
	struct sup *s = c->ctl->sup;

	c->corr = ++c->ctl->next_corr;
	c->type = MSG_SUP_STATUS;
	c->acc = json_object_new_object();
	c->gathered = gathered;
	c->pending = 0;
	for (int i = 0; i < ROLE_COUNT; i++)
		if ((mask & (1u << i)) &&
		    sup_role_request(s, i, MSG_SUP_STATUS, c->corr, NULL, 0) ==
			0)
			c->pending |= 1u << i;
	if (c->pending == 0)
		gathered(c);
	else
		ctl_wait(c, CTL_STATUS_WAIT_S);
}

static struct json_object *
ctl_acc_take(struct ctl_conn *c, enum role_id id)
{
	struct json_object *v = NULL;

	if (json_object_object_get_ex(c->acc, role_name(id), &v))
		json_object_get(v);
	return v;
}

static void
ctl_status_gathered(struct ctl_conn *c)
{
	ctl_cmd_status(c, ctl_acc_take(c, ROLE_RAFTD));
}

static struct json_object *
ctl_listener(const struct cfg_addr *a, const char *scheme)
{
	char buf[CFG_HOST_MAX + 32];

	snprintf(buf, sizeof(buf), a->ipv6 ? "%s%s[%s]:%u" : "%s%s%s:%u",
	    scheme ? scheme : "", scheme ? "://" : "", a->host, a->port);
	return json_object_new_string(buf);
}

/* show node: the supervisor's view plus every role's own status */
static void
ctl_node_gathered(struct ctl_conn *c)
{
	struct sup *s = c->ctl->sup;
	struct json_object *o = json_object_new_object(), *l, *v;
	const char *scheme = s->tls_pem[SUP_TLS_CERT] ? "https" : "http";

	json_object_object_add(
	    o, "node_id", json_object_new_string(s->self->id));
	json_object_object_add(
	    o, "data_dir", json_object_new_string(s->node_dir));
	json_object_object_add(
	    o, "badge_id", json_object_new_string(s->badge_id));
	l = json_object_new_object();
	json_object_object_add(
	    l, "public", ctl_listener(&s->self->public_binding, scheme));
	json_object_object_add(
	    l, "private", ctl_listener(&s->self->private_binding, scheme));
	json_object_object_add(
	    l, "raft", ctl_listener(&s->self->raft_binding, NULL));
	json_object_object_add(o, "listeners", l);
	for (int i = 0; i < ROLE_COUNT; i++) {
		v = ctl_acc_take(c, i);
		json_object_object_add(o, role_name(i), v);
	}
	ctl_reply(c, 0, o);
}

static void
ctl_cmd_role(struct ctl_conn *c, const struct ctl_cmd *cmd, char **words,
    enum role_id id)
{
	struct json_object *args = json_object_new_object();
	struct pbuf b;

	for (int i = 0; i < cmd->nargs; i++)
		json_object_object_add(args, cmd->argnames[i],
		    json_object_new_string(words[cmd->nwords + i]));
	pb_init(&b);
	pb_add_str(&b, cmd->verb);
	pb_add_str(
	    &b, json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
	json_object_put(args);
	ctl_relay(c, id, &b);
}

/*
 * raftd writes a checkpoint to a fresh name in its data_dir (it cannot
 * see DIR from its jail); control_role_reply then has it copied to DIR
 */
static void
ctl_cmd_backup(struct ctl_conn *c, const char *dir)
{
	struct json_object *args;
	char err[PATH_MAX + 64];
	struct pbuf b;

	if (backup_prepare(dir, err, sizeof(err)) == -1) {
		ctl_reply_error(c, 1, err);
		return;
	}
	if ((c->backup_dir = strdup(dir)) == NULL)
		fatal("%s: strdup", __func__);
	snprintf(c->backup_tmp, sizeof(c->backup_tmp), "backup.tmp.%llu",
	    (unsigned long long)c->ctl->next_corr + 1);
	args = json_object_new_object();
	json_object_object_add(
	    args, "dir", json_object_new_string(c->backup_tmp));
	pb_init(&b);
	pb_add_str(&b, "backup");
	pb_add_str(
	    &b, json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
	json_object_put(args);
	ctl_relay(c, ROLE_RAFTD, &b);
	if (c->done)
		(void)rmdir(dir);
}

/* raftd answered a backup: copy its checkpoint and the blobs to DIR */
static void
ctl_backup_answered(struct ctl_conn *c, int status, struct json_object *body)
{
	struct sup *s = c->ctl->sup;

	if (status != 0) {
		(void)rmdir(c->backup_dir);
		ctl_reply(c, status, body);
		return;
	}
	json_object_put(body);
	if (backup_write_meta(s, c->backup_dir) == -1 ||
	    (c->helper = backup_spawn_copy(s, c->backup_tmp, c->backup_dir)) ==
		-1) {
		c->helper = 0;
		ctl_reply_error(c, 1, "cannot copy the backup");
		return;
	}
	c->pending = 0;
	ctl_wait(c, CTL_BACKUP_COPY_WAIT_S);
}

bool
control_helper_exited(struct sup_control *ctl, pid_t pid, int status)
{
	struct json_object *o;
	struct ctl_conn *c;

	if (ctl == NULL)
		return false;
	TAILQ_FOREACH(c, &ctl->conns, entry)
	if (c->helper == pid) {
		c->helper = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			log_warnx("backup to %s failed", c->backup_dir);
			ctl_reply_error(c, 1, "copying the backup failed");
			return true;
		}
		log_info("backup written to %s", c->backup_dir);
		o = json_object_new_object();
		json_object_object_add(
		    o, "backup", json_object_new_string(c->backup_dir));
		ctl_reply(c, 0, o);
		return true;
	}
	return false;
}

static void
ctl_cmd_rootkey(struct ctl_conn *c)
{
	struct json_object *o = json_object_new_object();
	char key[CRYPTO_ROOT_KEY_LEN + 1];

	crypto_root_key(c->ctl->sup->cfg.instance_secret, key);
	json_object_object_add(o, "root_key", json_object_new_string(key));
	explicit_bzero(key, sizeof(key));
	ctl_reply(c, 0, o);
}

static void
ctl_cmd_log_level(struct ctl_conn *c, const char *name)
{
	struct json_object *o;
	int level;

	if ((level = log_level_parse(name)) == -1) {
		ctl_reply_error(
		    c, 2, "unknown log level (debug, info, warn or error)");
		return;
	}
	sup_set_log_level(c->ctl->sup, level);
	o = json_object_new_object();
	json_object_object_add(
	    o, "log_level", json_object_new_string(log_level_name(level)));
	ctl_reply(c, 0, o);
}

static struct json_object *
ctl_lines(const char *text)
{
	struct json_object *a = json_object_new_array();
	const char *p = text, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		json_object_array_add(a,
		    json_object_new_string_len(
			p, nl ? (int)(nl - p) : (int)strlen(p)));
		p = nl ? nl + 1 : NULL;
	}
	return a;
}

static void
ctl_cmd_reload(struct ctl_conn *c)
{
	struct cfg_errors errs = { 0 };
	struct json_object *o = json_object_new_object(), *a;
	char *notes = NULL;

	if (sup_reload(c->ctl->sup, &errs, &notes) == -1) {
		a = json_object_new_array();
		for (size_t i = 0; i < errs.n; i++)
			json_object_array_add(
			    a, json_object_new_string(errs.msgs[i]));
		json_object_object_add(o, "error",
		    json_object_new_string(
			"configuration has errors, nothing changed"));
		json_object_object_add(o, "errors", a);
		ctl_reply(c, 1, o);
	} else {
		json_object_object_add(
		    o, "reloaded", json_object_new_boolean(1));
		json_object_object_add(o, "notes", ctl_lines(notes));
		ctl_reply(c, 0, o);
	}
	free(notes);
	cfg_errors_free(&errs);
}

static void
ctl_execute(struct ctl_conn *c, char **words, int n)
{
	const struct ctl_cmd *cmd;

	if ((cmd = ctl_cmd_match(n, words)) == NULL) {
		ctl_reply_error(c, 2, "unknown command or wrong arguments");
		return;
	}
	if (cmd->privileged && !ctl_allowed(c->ctl->sup, c->uid)) {
		ctl_reply_error(c, 1, "permission denied");
		log_info(
		    "control: %s refused to uid %d", cmd->verb, (int)c->uid);
		return;
	}
	log_debug("control: %s (uid %d)", cmd->verb, (int)c->uid);
	if (strcmp(cmd->verb, "backup") == 0)
		ctl_cmd_backup(c, words[1]);
	else if (cmd->target == CTL_TARGET_RAFTD)
		ctl_cmd_role(c, cmd, words, ROLE_RAFTD);
	else if (cmd->target == CTL_TARGET_APID)
		ctl_cmd_role(c, cmd, words, ROLE_APID);
	else if (strcmp(cmd->verb, "status") == 0)
		ctl_gather(c, 1u << ROLE_RAFTD, ctl_status_gathered);
	else if (strcmp(cmd->verb, "show node") == 0)
		ctl_gather(c, (1u << ROLE_COUNT) - 1, ctl_node_gathered);
	else if (strcmp(cmd->verb, "rootkey") == 0)
		ctl_cmd_rootkey(c);
	else if (strcmp(cmd->verb, "log level") == 0)
		ctl_cmd_log_level(c, words[2]);
	else if (strcmp(cmd->verb, "reload") == 0)
		ctl_cmd_reload(c);
	else
		fatalx("%s: no handler for %s", __func__, cmd->verb);
}

static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hb[CTL_HDR_LEN], *payload;
	char *words[CTL_ARGS_MAX];
	struct ctl_hdr h;
	int n;

	if (c->done || c->waiting)
		return;
	if (evbuffer_copyout(in, hb, sizeof(hb)) < (ssize_t)sizeof(hb))
		return;
	if (ctl_hdr_decode(hb, &h) == -1) {
		ctl_reply_error(c, 2, "not an insid control request");
		return;
	}
	if (h.version != CTL_VERSION || h.type != CTL_REQUEST) {
		ctl_reply_error(c, 2, "unsupported control protocol version");
		return;
	}
	if (h.len > CTL_REQUEST_MAX) {
		ctl_reply_error(c, 2, "request too large");
		return;
	}
	if (evbuffer_get_length(in) < CTL_HDR_LEN + (size_t)h.len)
		return;
	payload = evbuffer_pullup(in, CTL_HDR_LEN + (ssize_t)h.len);
	if (ctl_request_decode(payload + CTL_HDR_LEN, h.len, words, &n) == -1) {
		ctl_reply_error(c, 2, "malformed request");
		return;
	}
	evbuffer_drain(in, CTL_HDR_LEN + (size_t)h.len);
	ctl_execute(c, words, n);
	ctl_words_free(words, n);
}

static void
ctl_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->done && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_conn_free(c);
}

static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *c = arg;

	/* a client may half-close once its request is sent */
	if (what == (BEV_EVENT_EOF | BEV_EVENT_READING) &&
	    (c->waiting || c->done)) {
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: connection timed out");
	ctl_conn_free(c);
}

static void
ctl_accept_cb(evutil_socket_t lfd, short ev, void *arg)
{
	struct sup_control *ctl = arg;
	struct timeval tv = { CTL_TIMEOUT_S, 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_conn *c;
	int fd;

	(void)ev;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (ctl->nconns >= CTL_CONN_MAX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(
		 ctl->sup->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->uid = cred.uid;
	TAILQ_INSERT_TAIL(&ctl->conns, c, entry);
	ctl->nconns++;
	bufferevent_setcb(c->bev, ctl_read_cb, ctl_write_cb, ctl_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setwatermark(
	    c->bev, EV_READ, 0, CTL_HDR_LEN + CTL_REQUEST_MAX);
	bufferevent_enable(c->bev, EV_READ);
}

struct sup_control *
control_open(struct sup *s)
{
	struct sup_control *ctl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		fatal("%s: calloc", __func__);
	ctl->sup = s;
	ctl->fd = s->control_fd;
	TAILQ_INIT(&ctl->conns);
	ctl->accept_ev = event_new(
	    s->base, ctl->fd, EV_READ | EV_PERSIST, ctl_accept_cb, ctl);
	if (ctl->accept_ev == NULL || event_add(ctl->accept_ev, NULL) == -1)
		fatalx("%s: event_new", __func__);
	return ctl;
}

void
control_close(struct sup_control *ctl)
{
	struct sup *s;

	if (ctl == NULL)
		return;
	s = ctl->sup;
	while (!TAILQ_EMPTY(&ctl->conns))
		ctl_conn_free(TAILQ_FIRST(&ctl->conns));
	event_free(ctl->accept_ev);
	close(ctl->fd);
	s->control_fd = -1;
	(void)unlink(s->control_path);
	free(ctl);
}

static struct ctl_conn *
ctl_find(struct sup_control *ctl, enum role_id id, uint16_t type, uint64_t corr)
{
	struct ctl_conn *c;

	TAILQ_FOREACH(c, &ctl->conns, entry)
	if (c->waiting && (c->pending & (1u << id)) && c->type == type &&
	    c->corr == corr)
		return c;
	return NULL;
}

static void
ctl_gathered_one(struct ctl_conn *c, enum role_id id)
{
	c->pending &= ~(1u << id);
	if (c->pending != 0)
		return;
	c->waiting = false;
	c->gathered(c);
}

void
control_role_reply(struct sup_control *ctl, enum role_id id, uint16_t type,
    uint64_t corr, const uint8_t *payload, size_t len)
{
	struct json_object *body;
	struct ctl_conn *c;
	struct pread r;
	uint16_t status = 0;
	char *json = NULL;

	if (ctl == NULL || (c = ctl_find(ctl, id, type, corr)) == NULL)
		return; /* the client went away */
	pr_init(&r, payload, len);
	if (type == MSG_SUP_CTL)
		pr_get_u16(&r, &status);
	pr_get_strdup(&r, &json);
	body = pr_end(&r) == -1 ? NULL : json_tokener_parse(json);
	if (status > 255 || body == NULL ||
	    !json_object_is_type(body, json_type_object)) {
		log_warnx("control: malformed reply from %s", role_name(id));
		ctl_reply_error(c, 1, "malformed reply");
		json_object_put(body);
		free(json);
		return;
	}
	free(json);
	if (type == MSG_SUP_CTL && c->backup_dir != NULL) {
		ctl_backup_answered(c, status, body);
		return;
	}
	if (type == MSG_SUP_CTL) {
		ctl_reply(c, status, body);
		return;
	}
	json_object_object_add(c->acc, role_name(id), body);
	ctl_gathered_one(c, id);
}

void
control_role_gone(struct sup_control *ctl, enum role_id id)
{
	struct ctl_conn *c, *next;

	if (ctl == NULL)
		return;
	for (c = TAILQ_FIRST(&ctl->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->waiting || !(c->pending & (1u << id)))
			continue;
		if (c->type == MSG_SUP_STATUS)
			ctl_gathered_one(c, id);
		else
			ctl_reply_error(c, 1, "the role stopped");
	}
}
