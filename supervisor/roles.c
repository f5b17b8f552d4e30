/*
 * The role table (which inherited sockets each role gets, in order) and
 * fork + re-exec.  NNG is not fork-safe: between fork and exec the child
 * only duplicates and closes descriptors, then execs /proc/self/exe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define SUP_ARGV_MAX 12
#define SUP_URL_MAX 256

/* listening sockets per role, dup2'd to ROLE_FD_FIRST, ROLE_FD_FIRST+1... */
static const struct {
	size_t n;
	enum sup_listener fds[ROLE_MAX_FDS];
} sup_role_table[ROLE_COUNT] = {
	[ROLE_RAFTD] = { 1, { SUP_LISTEN_RAFT } },
	[ROLE_APID] = { 2, { SUP_LISTEN_PUBLIC, SUP_LISTEN_PRIVATE } },
	[ROLE_BLOBD] = { 0, { 0 } },
};

const int *
sup_role_fds(const struct sup *s, enum role_id id, size_t *n)
{
	static int fds[ROLE_MAX_FDS];

	*n = sup_role_table[id].n;
	for (size_t i = 0; i < *n; i++)
		fds[i] = s->listen_fd[sup_role_table[id].fds[i]];
	return fds;
}

/* only async-signal-safe calls: this runs between fork and exec */
static void
sup_exec_child(const int *fds, size_t n, char *const *argv)
{
	int tmp[ROLE_MAX_FDS];

	/* move out of the way first so a source is never overwritten */
	for (size_t i = 0; i < n; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) == -1)
			_exit(126);
	for (size_t i = 0; i < n; i++)
		if (dup2(tmp[i], ROLE_FD_FIRST + (int)i) == -1)
			_exit(126);
	if (close_range(ROLE_FD_FIRST + (unsigned int)n, ~0U, 0) == -1)
		_exit(126);
	execv("/proc/self/exe", argv);
	_exit(127);
}

pid_t
sup_spawn(struct sup *s, enum role_id id)
{
	char url[SUP_URL_MAX], channel[32], *argv[SUP_ARGV_MAX];
	const int *fds;
	size_t nfds;
	int argc = 0;
	pid_t pid;

	snprintf(channel, sizeof(channel), "sup.%s", role_name(id));
	role_url_for(s->cfg.insid_home, s->self->id, channel, url, sizeof(url));
	argv[argc++] = "insid";
	argv[argc++] = "-P";
	argv[argc++] = (char *)role_name(id);
	argv[argc++] = "-U";
	argv[argc++] = url;
	if (s->opts.foreground)
		argv[argc++] = "-d";
	/* raftd does not bootstrap a join, apid does not auto-join */
	if (s->opts.no_join && (id == ROLE_RAFTD || id == ROLE_APID))
		argv[argc++] = "-J";
	/* only until raftd has started once with it */
	if (s->opts.force_new_cluster && id == ROLE_RAFTD &&
	    !s->raftd_was_ready)
		argv[argc++] = "-F";
	for (int v = 0; v < s->opts.verbose && v < 2; v++)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	fds = sup_role_fds(s, id, &nfds);
	switch (pid = fork()) {
	case -1:
		log_warn("cannot fork %s", role_name(id));
		return -1;
	case 0:
		sup_exec_child(fds, nfds, argv);
		/* NOTREACHED */
	default:
		break;
	}
	return pid;
}
