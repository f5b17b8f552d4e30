/*
 * Everything the supervisor does before it forks the first role: the
 * configuration, the data directories, the node's badge, TLS material,
 * the pid file and the listening sockets.  Every failure names its cause
 * and makes insid exit with status 1.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define SUP_FILE_MAX (1024 * 1024)
#define SUP_LISTEN_BACKLOG 1024
#define SUP_TMP_CLEAN_MAX 100000

static const char *const sup_listen_names[SUP_LISTEN_COUNT] = { "public",
	"private", "raft" };
static const char *const sup_tls_names[SUP_TLS_COUNT] = { "tls.cert", "tls.key",
	"tls.ca" };

int
sup_read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t off = 0;
	int fd, saved;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SUP_FILE_MAX) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return -1;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	(*buf)[off] = '\0';
	*len = off;
	return 0;
}

static void
sup_log_errors(const struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_errorx("%s", errs->msgs[i]);
}

static void
sup_log_warnings(const struct cfg *cfg)
{
	struct cfg_errors warns = { 0 };

	(void)cfg_warnings(cfg, &warns);
	for (size_t i = 0; i < warns.n; i++)
		log_warnx("%s", warns.msgs[i]);
	cfg_errors_free(&warns);
}

static int
sup_pick_node(struct sup *s)
{
	struct cfg_errors errs = { 0 };
	const char *id = s->opts.node_id;

	if (id == NULL) {
		if (s->cfg.n_nodes != 1) {
			log_errorx("%s lists %zu nodes: say which with -N",
			    s->cfg_path, s->cfg.n_nodes);
			return -1;
		}
		id = s->cfg.nodes[0].id;
	}
	if ((s->self = cfg_node(&s->cfg, id)) == NULL) {
		log_errorx("node %s is not in %s", id, s->cfg_path);
		return -1;
	}
	/* each node may hold its own certificate: check ours only */
	if (cfg_check_node_tls(&s->cfg, id, &errs) == -1) {
		sup_log_errors(&errs);
		cfg_errors_free(&errs);
		return -1;
	}
	sup_log_warnings(&s->cfg);
	return 0;
}

int
sup_load_config(struct sup *s)
{
	struct cfg_errors errs = { 0 };
	char real[PATH_MAX];
	int rc = -1;

	if (realpath(s->opts.file, real) == NULL ||
	    (s->cfg_path = strdup(real)) == NULL) {
		log_errorx("%s: %s", s->opts.file, strerror(errno));
		return -1;
	}
	if (sup_read_file(s->cfg_path, &s->yaml, &s->yaml_len) == -1) {
		log_errorx("%s: %s", s->cfg_path, strerror(errno));
		return -1;
	}
	if (cfg_parse(s->cfg_path, s->yaml, s->yaml_len, s->opts.overrides,
		s->opts.n_overrides, s->as_root, &s->cfg, &errs) == -1 ||
	    cfg_check_environment(&s->cfg, s->as_root, &errs) == -1)
		sup_log_errors(&errs);
	else
		rc = sup_pick_node(s);
	cfg_errors_free(&errs);
	return rc;
}

/*
 * creates a directory or checks the one that exists; `enforce` also
 * re-applies mode and owner to an existing one
 */
static int
sup_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid, bool chown_it,
    bool enforce)
{
	bool created = true;
	int fd, rc = 0;

	if (mkdir(path, mode) == -1) {
		if (errno != EEXIST) {
			log_errorx(
			    "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		created = false;
	}
	if ((fd = open(path,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_errorx(
		    "%s: not a usable directory: %s", path, strerror(errno));
		return -1;
	}
	if (created || enforce) {
		if (chown_it && fchown(fd, uid, gid) == -1)
			rc = -1;
		if (fchmod(fd, mode) == -1)
			rc = -1;
		if (rc == -1)
			log_errorx("%s: cannot set owner or mode: %s", path,
			    strerror(errno));
	}
	close(fd);
	return rc;
}

static char *
sup_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		fatal("%s: asprintf", __func__);
	return p;
}

/* upload and download leftovers of a previous run */
static int
sup_clean_tmp(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(path)) == NULL) {
		log_errorx("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n++ < SUP_TMP_CLEAN_MAX) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1)
			log_warn("cannot remove %s/%s", path, de->d_name);
	}
	closedir(d);
	return 0;
}

/*
 * insid_home is "created if missing" (CONFIG.md §2), so its missing
 * ancestors are made too, 0755 and owned by whoever runs insid
 */
static int
sup_mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf)) {
		log_errorx("%s: path too long", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			log_errorx(
			    "cannot create %s: %s", buf, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int
sup_make_dirs(struct sup *s)
{
	uid_t u = s->user_uid;
	gid_t g = s->user_gid;
	bool r = s->as_root;
	char *raft, *blobs, *tmp, *empty;
	int rc = 0;

	s->node_dir = sup_path(s->cfg.insid_home, s->self->id);
	s->run_dir = sup_path(s->node_dir, "run");
	raft = sup_path(s->node_dir, "raft");
	blobs = sup_path(s->node_dir, "blobs");
	tmp = sup_path(blobs, ".tmp");
	empty = sup_path(s->node_dir, "empty");
	if (sup_mkdir_parents(s->cfg.insid_home) == -1 ||
	    sup_mkdir(s->cfg.insid_home, 0750, u, g, r, false) == -1 ||
	    sup_mkdir(s->node_dir, 0750, u, g, r, true) == -1 ||
	    sup_mkdir(raft, 0750, u, g, r, true) == -1 ||
	    sup_mkdir(blobs, 0750, u, g, r, true) == -1 ||
	    sup_mkdir(tmp, 0750, u, g, r, true) == -1 ||
	    sup_mkdir(s->run_dir, 0750, 0, g, r, true) == -1 ||
	    sup_mkdir(empty, 0755, 0, 0, r, true) == -1 ||
	    sup_clean_tmp(tmp) == -1)
		rc = -1;
	if (rc == 0 && access(s->node_dir, W_OK) == -1) {
		log_errorx("data directory %s not writable: %s", s->node_dir,
		    strerror(errno));
		rc = -1;
	}
	free(raft);
	free(blobs);
	free(tmp);
	free(empty);
	return rc;
}

static bool
sup_uuid_ok(const char *s, size_t len)
{
	if (len != CRYPTO_UUID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-'
			 : strchr("0123456789abcdef", s[i]) == NULL ||
			    s[i] == '\0')
			return false;
	}
	return true;
}

static int
sup_write_badge(struct sup *s, const char *path)
{
	char *tmp = sup_path(s->node_dir, "badge_id.tmp");
	char line[CRYPTO_UUID_LEN + 2];
	int fd, rc = -1;

	if (crypto_uuid4(s->badge_id) == -1) {
		log_errorx("cannot make a badge id");
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", s->badge_id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 ||
	    write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    fsync(fd) == -1 ||
	    (s->as_root && fchown(fd, s->user_uid, s->user_gid) == -1) ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		log_errorx("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	log_info("new node badge %s", s->badge_id);
	rc = 0;
out:
	free(tmp);
	return rc;
}

static int
sup_badge(struct sup *s)
{
	char *path = sup_path(s->node_dir, "badge_id"), *buf;
	size_t len;
	int rc = 0;

	if (sup_read_file(path, &buf, &len) == -1) {
		if (errno == ENOENT)
			rc = sup_write_badge(s, path);
		else {
			log_errorx("%s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
		return rc;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (!sup_uuid_ok(buf, len)) {
		log_errorx("%s does not hold a badge UUID", path);
		rc = -1;
	} else
		memcpy(s->badge_id, buf, CRYPTO_UUID_LEN + 1);
	s->badge_id[CRYPTO_UUID_LEN] = '\0';
	free(buf);
	free(path);
	return rc;
}

static int
sup_read_tls(struct sup *s)
{
	const char *paths[SUP_TLS_COUNT] = { s->cfg.tls_cert, s->cfg.tls_key,
		s->cfg.tls_ca };

	for (int i = 0; i < SUP_TLS_COUNT; i++) {
		if (paths[i] == NULL)
			continue;
		if (sup_read_file(paths[i], &s->tls_pem[i], &s->tls_len[i]) ==
		    -1) {
			log_errorx("%s %s: %s", sup_tls_names[i], paths[i],
			    strerror(errno));
			return -1;
		}
		if (strstr(s->tls_pem[i], "-----BEGIN ") == NULL) {
			log_errorx("%s %s: not a PEM file", sup_tls_names[i],
			    paths[i]);
			return -1;
		}
	}
	return 0;
}

static void
sup_addr_str(const struct cfg_addr *a, char *buf, size_t len)
{
	snprintf(buf, len, a->ipv6 ? "[%s]:%u" : "%s:%u", a->host, a->port);
}

static int
sup_listen(const char *what, const struct cfg_addr *a)
{
	struct addrinfo hints = { 0 }, *res;
	char port[8], addr[CFG_HOST_MAX + 16];
	int fd, on = 1, gai;

	sup_addr_str(a, addr, sizeof(addr));
	snprintf(port, sizeof(port), "%u", a->port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(a->host, port, &hints, &res)) != 0) {
		log_errorx("%s binding %s: %s", what, addr, gai_strerror(gai));
		return -1;
	}
	fd = socket(
	    res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (res->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ==
		    -1) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, SUP_LISTEN_BACKLOG) == -1) {
		log_errorx("%s binding %s: %s", what, addr, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
sup_bind_all(struct sup *s)
{
	const struct cfg_addr *a[SUP_LISTEN_COUNT] = { &s->self->public_binding,
		&s->self->private_binding, &s->self->raft_binding };

	for (int i = 0; i < SUP_LISTEN_COUNT; i++)
		if ((s->listen_fd[i] = sup_listen(sup_listen_names[i], a[i])) ==
		    -1)
			return -1;
	return 0;
}

static void
sup_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("cannot raise the open file limit");
}

static int
sup_lock_pidfile(struct sup *s)
{
	char *path = sup_path(s->run_dir, "insid.pid");

	s->pidfile_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->pidfile_fd == -1) {
		log_errorx("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(s->pidfile_fd, LOCK_EX | LOCK_NB) == -1) {
		log_errorx("node %s is already running (%s is locked)",
		    s->self->id, path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

void
sup_write_pidfile(struct sup *s, const char *name, pid_t pid)
{
	char *path, file[64], line[32];
	int fd, n;

	snprintf(file, sizeof(file), "%s.pid", name);
	path = sup_path(s->run_dir, file);
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (strcmp(name, "insid") == 0) {
		if (ftruncate(s->pidfile_fd, 0) == -1 ||
		    pwrite(s->pidfile_fd, line, (size_t)n, 0) != n)
			log_warn("cannot write %s", path);
	} else if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644)) == -1 ||
	    write(fd, line, (size_t)n) != n || close(fd) == -1)
		log_warn("cannot write %s", path);
	free(path);
}

void
sup_remove_pidfile(struct sup *s, const char *name)
{
	char *path, file[64];

	snprintf(file, sizeof(file), "%s.pid", name);
	path = sup_path(s->run_dir, file);
	(void)unlink(path);
	free(path);
}

static int
sup_lookup_user(struct sup *s)
{
	struct passwd *pw;

	if (!s->as_root)
		return 0;
	if ((pw = getpwnam(s->cfg.user)) == NULL) {
		log_errorx("user %s does not exist", s->cfg.user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_errorx("user %s has uid 0: the roles must not run as root",
		    s->cfg.user);
		return -1;
	}
	s->user_uid = pw->pw_uid;
	s->user_gid = pw->pw_gid;
	return 0;
}

static bool
sup_dir_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return false;
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

int
sup_prepare(struct sup *s)
{
	char *raft;

	for (int i = 0; i < SUP_LISTEN_COUNT; i++)
		s->listen_fd[i] = -1;
	s->pidfile_fd = -1;
	if (sup_lookup_user(s) == -1 || sup_make_dirs(s) == -1 ||
	    sup_lock_pidfile(s) == -1 ||
	    (s->opts.restore_dir != NULL &&
		backup_restore(s, s->opts.restore_dir) == -1) ||
	    sup_badge(s) == -1 || sup_read_tls(s) == -1 ||
	    sup_bind_all(s) == -1)
		return -1;
	sup_raise_nofile();
	raft = sup_path(s->node_dir, "raft");
	if (strcmp(s->cfg.default_leader, s->self->id) == 0 &&
	    sup_dir_empty(raft))
		log_info("%s is the default leader with empty state: "
			 "bootstrapping a new cluster",
		    s->self->id);
	free(raft);
	return 0;
}

/* one line per listener, and where the root key can be read */
void
sup_log_listeners(struct sup *s)
{
	const struct cfg_addr *a[SUP_LISTEN_COUNT] = { &s->self->public_binding,
		&s->self->private_binding, &s->self->raft_binding };
	const char *scheme = s->tls_pem[SUP_TLS_CERT] ? "https" : "http";
	char addr[CFG_HOST_MAX + 16];

	for (int i = 0; i < SUP_LISTEN_COUNT; i++) {
		sup_addr_str(a[i], addr, sizeof(addr));
		if (i == SUP_LISTEN_RAFT)
			log_info("raft %s%s", addr,
			    s->tls_pem[SUP_TLS_CERT] ? " (tls)" : "");
		else
			log_info(
			    "%s %s://%s", sup_listen_names[i], scheme, addr);
	}
	log_info("root key: insidbctl -f %s -N %s rootkey", s->cfg_path,
	    s->self->id);
}
