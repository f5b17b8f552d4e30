/*
 * The supervisor's event loop.  Peers: raftd, apid and blobd, one pair
 * channel each ("sup.<role>", dispatched by sup_dispatch_role), and the
 * control socket (control.c).
 *
 * Start order: raftd, then apid and blobd once raftd is READY.  Each child
 * announces itself (HELLO) and gets CONFIG, TLS, NODE, PIDS, DONE and the
 * current log level.  A child that dies is restarted with a backoff; the
 * SUP_CRASH_MAX-th crash of one role within SUP_CRASH_WINDOW_S stops
 * everything.  Stop order: apid and blobd, raftd last.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "proto/codec.h"
#include "supervisor/supervisor.h"

#define SUP_BACKOFF_RESET_S 10

static const char *const sup_state_names[] = { "stopped", "starting", "ready",
	"stopping" };

const char *
sup_child_state_name(enum child_state st)
{
	return sup_state_names[st];
}

static int64_t
sup_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

static int
sup_send(struct sup_child *c, uint16_t type, uint64_t corr, struct pbuf *b)
{
	int rc = -1;

	if (b->err)
		fatalx("%s: cannot encode message %u", __func__, type);
	if (c->chan != NULL)
		rc = ipc_send(c->chan, type, corr, b->data, b->len);
	if (rc == -1)
		log_warnx("%s: cannot send message %u to %s", __func__, type,
		    role_name(c->id));
	pb_free(b);
	return rc;
}

static void
sup_encode_pids(struct sup *s, struct pbuf *b)
{
	pb_add_u32(b, ROLE_COUNT);
	for (int i = 0; i < ROLE_COUNT; i++) {
		pb_add_str(b, role_name(i));
		pb_add_u64(b, (uint64_t)s->child[i].pid);
	}
}

static void
sup_broadcast_pids(struct sup *s)
{
	struct pbuf b;

	for (int i = 0; i < ROLE_COUNT; i++) {
		if (!s->child[i].config_sent || s->child[i].chan == NULL)
			continue;
		pb_init(&b);
		sup_encode_pids(s, &b);
		sup_send(&s->child[i], MSG_SUP_PIDS, 0, &b);
	}
}

static void
sup_kill(struct sup_child *c, int sig)
{
	if (c->pid > 0 && kill(c->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %s (pid %d)", role_name(c->id), (int)c->pid);
}

/* MSG_SUP_CONFIG and one MSG_SUP_TLS per configured item */
static int
sup_send_file(struct sup *s, struct sup_child *c, const char *yaml,
    size_t yaml_len, char *const *pem, const size_t *pem_len)
{
	static const char *const tls[SUP_TLS_COUNT] = { "cert", "key", "ca" };
	struct pbuf b;
	int rc = 0;

	pb_init(&b);
	pb_add_str(&b, s->cfg_path);
	pb_add_bytes(&b, yaml, yaml_len);
	pb_add_u32(&b, (uint32_t)s->opts.n_overrides);
	for (size_t i = 0; i < s->opts.n_overrides; i++)
		pb_add_str(&b, s->opts.overrides[i]);
	pb_add_str(&b, s->self->id);
	pb_add_bool(&b, s->as_root);
	rc |= sup_send(c, MSG_SUP_CONFIG, 0, &b);
	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		if (pem[i] == NULL)
			continue;
		pb_init(&b);
		pb_add_str(&b, tls[i]);
		pb_add_bytes(&b, pem[i], pem_len[i]);
		rc |= sup_send(c, MSG_SUP_TLS, 0, &b);
	}
	return rc;
}

void
sup_push_reload(struct sup *s, struct sup_child *c)
{
	struct pbuf b;
	int rc;

	if (!s->reloaded || c->state != CHILD_READY)
		return;
	rc = sup_send_file(s, c, s->reload_yaml, s->reload_yaml_len,
	    s->reload_pem, s->reload_pem_len);
	pb_init(&b);
	rc |= sup_send(c, MSG_SUP_DONE, 0, &b);
	if (rc != 0) {
		log_warnx(
		    "%s: reload push failed: killing it", role_name(c->id));
		sup_kill(c, SIGKILL);
	}
}

static int
sup_push_config(struct sup *s, struct sup_child *c)
{
	struct pbuf b;
	int rc;

	rc = sup_send_file(s, c, s->yaml, s->yaml_len, s->tls_pem, s->tls_len);
	pb_init(&b);
	pb_add_str(&b, s->badge_id);
	rc |= sup_send(c, MSG_SUP_NODE, 0, &b);
	pb_init(&b);
	sup_encode_pids(s, &b);
	rc |= sup_send(c, MSG_SUP_PIDS, 0, &b);
	pb_init(&b);
	rc |= sup_send(c, MSG_SUP_DONE, 0, &b);
	pb_init(&b);
	pb_add_u8(&b, (uint8_t)s->log_level);
	rc |= sup_send(c, MSG_SUP_LOG_LEVEL, 0, &b);
	c->config_sent = true;
	return rc ? -1 : 0;
}

static void
sup_start_child(struct sup *s, enum role_id id)
{
	struct sup_child *c = &s->child[id];
	struct timeval tv = { 0, SUP_BACKOFF_FIRST_MS * 1000 };
	char url[256], channel[32];

	if (s->stopping || c->pid != 0)
		return;
	snprintf(channel, sizeof(channel), "sup.%s", role_name(id));
	role_url_for(s->cfg.insid_home, s->self->id, channel, url, sizeof(url));
	c->config_sent = false;
	if ((c->chan = ipc_pair_listen(s->ipc, url, sup_dispatch_role, c)) ==
	    NULL) {
		log_warnx("cannot listen on %s for %s", url, role_name(id));
		evtimer_add(c->restart_ev, &tv);
		return;
	}
	if ((c->pid = sup_spawn(s, id)) == -1) {
		c->pid = 0;
		ipc_close(c->chan);
		c->chan = NULL;
		evtimer_add(c->restart_ev, &tv);
		return;
	}
	ipc_set_peer(c->chan, geteuid(), &c->pid, 1);
	c->state = CHILD_STARTING;
	tv.tv_sec = SUP_READY_TIMEOUT_S;
	tv.tv_usec = 0;
	evtimer_add(c->ready_ev, &tv);
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	sup_write_pidfile(s, role_name(id), c->pid);
	log_debug("started %s (pid %d)", role_name(id), (int)c->pid);
	sup_broadcast_pids(s);
}

static void
sup_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sup_child *c = arg;

	(void)fd;
	(void)ev;
	sup_start_child(c->sup, c->id);
}

static void
sup_ready_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sup_child *c = arg;

	(void)fd;
	(void)ev;
	if (c->state != CHILD_STARTING)
		return;
	log_warnx("%s (pid %d) not ready after %d s: killing it",
	    role_name(c->id), (int)c->pid, SUP_READY_TIMEOUT_S);
	sup_kill(c, SIGKILL);
}

static void
sup_check_all_ready(struct sup *s)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (s->child[i].state != CHILD_READY)
			return;
	if (!s->all_ready)
		log_info("ready");
	s->all_ready = true;
}

static void
sup_recv_ready(struct sup *s, struct sup_child *c, struct pread *r)
{
	uint64_t pid;

	if (pr_get_u64(r, &pid) == -1 || pr_end(r) == -1 ||
	    pid != (uint64_t)c->pid || c->state != CHILD_STARTING ||
	    !c->config_sent) {
		log_warnx("%s: bad READY: killing it", role_name(c->id));
		sup_kill(c, SIGKILL);
		return;
	}
	c->state = CHILD_READY;
	evtimer_del(c->ready_ev);
	log_info("%s ready (pid %d)", role_name(c->id), (int)c->pid);
	/* started after a reload: give it the reloaded keys too */
	sup_push_reload(s, c);
	if (c->id == ROLE_RAFTD) {
		s->raftd_was_ready = true;
		sup_start_child(s, ROLE_APID);
		sup_start_child(s, ROLE_BLOBD);
	}
	sup_check_all_ready(s);
}

static void
sup_recv_hello(struct sup *s, struct sup_child *c, struct pread *r)
{
	uint64_t pid;

	if (pr_get_u64(r, &pid) == -1 || pr_end(r) == -1 ||
	    pid != (uint64_t)c->pid) {
		log_warnx("%s: bad HELLO: killing it", role_name(c->id));
		sup_kill(c, SIGKILL);
		return;
	}
	/* repeated until our first message arrives: answer once */
	if (c->config_sent || c->state != CHILD_STARTING)
		return;
	if (sup_push_config(s, c) == -1) {
		log_warnx("%s: configuration push failed: killing it",
		    role_name(c->id));
		sup_kill(c, SIGKILL);
	}
}

void
sup_dispatch_role(struct ipc_chan *chan, struct ipc_msg *m, void *arg)
{
	struct sup_child *c = arg;
	struct sup *s = c->sup;
	struct pread r;

	if (chan != c->chan || c->pid == 0)
		return;
	pr_init(&r, m->payload, m->len);
	switch (m->hdr.type) {
	case MSG_SUP_HELLO:
		sup_recv_hello(s, c, &r);
		break;
	case MSG_SUP_READY:
		sup_recv_ready(s, c, &r);
		break;
	case MSG_SUP_STATUS:
	case MSG_SUP_CTL:
		control_role_reply(s->control, c->id, m->hdr.type, m->hdr.corr,
		    m->payload, m->len);
		break;
	default:
		log_warnx("%s sent unexpected message %u: killing it",
		    role_name(c->id), m->hdr.type);
		sup_kill(c, SIGKILL);
		break;
	}
}

int
sup_role_request(struct sup *s, enum role_id id, uint16_t type, uint64_t corr,
    const void *payload, size_t len)
{
	struct sup_child *c = &s->child[id];

	if (c->state != CHILD_READY || c->chan == NULL)
		return -1;
	return ipc_send(c->chan, type, corr, payload, len);
}

static void
sup_ask_stop(struct sup_child *c)
{
	struct pbuf b;

	if (c->pid == 0 || c->state == CHILD_STOPPING)
		return;
	if (c->state == CHILD_READY) {
		pb_init(&b);
		if (sup_send(c, MSG_SUP_SHUTDOWN, 0, &b) == -1)
			sup_kill(c, SIGTERM);
	} else
		sup_kill(c, SIGTERM);
	c->state = CHILD_STOPPING;
}

/* apid and blobd first; raftd once they are gone, so it flushes last */
static void
sup_shutdown_step(struct sup *s)
{
	struct sup_child *raftd = &s->child[ROLE_RAFTD];
	bool others = false;

	for (int i = 0; i < ROLE_COUNT; i++) {
		if (i == ROLE_RAFTD || s->child[i].pid == 0)
			continue;
		others = true;
		sup_ask_stop(&s->child[i]);
	}
	if (others)
		return;
	if (raftd->pid != 0) {
		sup_ask_stop(raftd);
		return;
	}
	event_base_loopbreak(s->base);
}

static void
sup_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sup *s = arg;

	(void)fd;
	(void)ev;
	for (int i = 0; i < ROLE_COUNT; i++)
		if (s->child[i].pid != 0) {
			log_warnx("%s did not stop in %d s: killing it",
			    role_name(i), SUP_STOP_DEADLINE_S);
			sup_kill(&s->child[i], SIGKILL);
		}
}

void
sup_shutdown(struct sup *s, int exit_status)
{
	struct timeval tv = { SUP_STOP_DEADLINE_S, 0 };

	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_status = exit_status;
	log_info("stopping");
	for (int i = 0; i < ROLE_COUNT; i++)
		evtimer_del(s->child[i].restart_ev);
	evtimer_add(s->deadline_ev, &tv);
	sup_shutdown_step(s);
}

static void
sup_log_exit(const struct sup_child *c, int status, bool expected)
{
	if (WIFEXITED(status) && expected && WEXITSTATUS(status) == 0)
		log_info("%s (pid %d) exited", role_name(c->id), (int)c->pid);
	else if (WIFEXITED(status))
		log_warnx("%s (pid %d) exited with status %d", role_name(c->id),
		    (int)c->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d (%s)",
		    role_name(c->id), (int)c->pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
}

/* counts this crash; true when it is one too many */
static bool
sup_count_crash(struct sup_child *c)
{
	struct timespec now;
	unsigned int recent = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	c->crashes[c->ncrashes++ % SUP_CRASH_MAX] = now;
	for (unsigned int i = 0; i < SUP_CRASH_MAX && i < c->ncrashes; i++)
		if (now.tv_sec - c->crashes[i].tv_sec < SUP_CRASH_WINDOW_S)
			recent++;
	return recent >= SUP_CRASH_MAX;
}

static void
sup_child_exited(struct sup *s, struct sup_child *c, int status)
{
	struct timeval tv;
	bool ran_long;

	sup_log_exit(c, status, s->stopping || c->state == CHILD_STOPPING);
	ran_long = sup_elapsed_ms(&c->started) >= SUP_BACKOFF_RESET_S * 1000;
	if (c->chan != NULL)
		ipc_close(c->chan);
	c->chan = NULL;
	c->pid = 0;
	c->state = CHILD_STOPPED;
	evtimer_del(c->ready_ev);
	c->config_sent = false;
	s->all_ready = false;
	sup_remove_pidfile(s, role_name(c->id));
	control_role_gone(s->control, c->id);
	sup_broadcast_pids(s);
	if (s->stopping) {
		sup_shutdown_step(s);
		return;
	}
	if (sup_count_crash(c)) {
		log_errorx("%s crashed %d times within %d s: stopping",
		    role_name(c->id), SUP_CRASH_MAX, SUP_CRASH_WINDOW_S);
		sup_shutdown(s, 3);
		return;
	}
	if (ran_long || c->backoff_ms == 0)
		c->backoff_ms = SUP_BACKOFF_FIRST_MS;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	log_info("restarting %s in %d ms", role_name(c->id), c->backoff_ms);
	c->backoff_ms *= 2;
	if (c->backoff_ms > SUP_BACKOFF_MAX_MS)
		c->backoff_ms = SUP_BACKOFF_MAX_MS;
	c->restarts++;
	evtimer_add(c->restart_ev, &tv);
}

static void
sup_reap(struct sup *s)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool role = false;

		for (int i = 0; i < ROLE_COUNT && !role; i++)
			if (s->child[i].pid == pid) {
				sup_child_exited(s, &s->child[i], status);
				role = true;
			}
		if (!role && !control_helper_exited(s->control, pid, status))
			log_debug("reaped unknown child %d", (int)pid);
	}
}

static void
sup_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct sup *s = arg;
	struct cfg_errors errs = { 0 };
	char *notes = NULL;

	(void)ev;
	switch (sig) {
	case SIGCHLD:
		sup_reap(s);
		break;
	case SIGTERM:
	case SIGINT:
		sup_shutdown(s, 0);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", s->cfg_path);
		(void)sup_reload(s, &errs, &notes);
		cfg_errors_free(&errs);
		free(notes);
		break;
	}
}

void
sup_set_log_level(struct sup *s, int level)
{
	struct pbuf b;

	s->log_level = level;
	log_set_level(level);
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (!s->child[i].config_sent || s->child[i].chan == NULL)
			continue;
		pb_init(&b);
		pb_add_u8(&b, (uint8_t)level);
		sup_send(&s->child[i], MSG_SUP_LOG_LEVEL, 0, &b);
	}
	log_info("log level %s", log_level_name(level));
}

static void
sup_init_events(struct sup *s)
{
	static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 4; i++) {
		s->sig_ev[i] = evsignal_new(s->base, sigs[i], sup_signal_cb, s);
		if (s->sig_ev[i] == NULL || evsignal_add(s->sig_ev[i], NULL))
			fatalx("%s: evsignal", __func__);
	}
	s->deadline_ev = evtimer_new(s->base, sup_deadline_cb, s);
	for (int i = 0; i < ROLE_COUNT; i++) {
		s->child[i].sup = s;
		s->child[i].id = i;
		s->child[i].restart_ev =
		    evtimer_new(s->base, sup_restart_cb, &s->child[i]);
		s->child[i].ready_ev =
		    evtimer_new(s->base, sup_ready_timeout_cb, &s->child[i]);
		if (s->child[i].restart_ev == NULL ||
		    s->child[i].ready_ev == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	if (s->deadline_ev == NULL)
		fatalx("%s: evtimer_new", __func__);
}

static void
sup_cleanup(struct sup *s)
{
	control_close(s->control);
	s->control = NULL;
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (s->child[i].chan != NULL)
			ipc_close(s->child[i].chan);
		s->child[i].chan = NULL;
		event_free(s->child[i].restart_ev);
		event_free(s->child[i].ready_ev);
	}
	for (int i = 0; i < 4; i++)
		event_free(s->sig_ev[i]);
	event_free(s->deadline_ev);
	sup_remove_pidfile(s, "insid");
}

int
sup_run(struct sup *s)
{
	if (evthread_use_pthreads() == -1)
		fatalx("%s: evthread_use_pthreads", __func__);
	if ((s->base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	if ((s->ipc = ipc_new(s->base)) == NULL)
		fatalx("%s: ipc_new", __func__);
	sup_init_events(s);
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	if ((s->control = control_open(s)) == NULL) {
		sup_cleanup(s);
		return 1;
	}
	sup_start_child(s, ROLE_RAFTD);
	event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	log_info("stopped");
	sup_cleanup(s);
	ipc_free(s->ipc);
	event_base_free(s->base);
	return s->exit_status;
}
