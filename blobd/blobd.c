/*
 * blobd: the blob files of this node, jailed in <insid_home>/<node>/blobs
 * (ARCHITECTURE.md §6).  This file wires the role: supervisor hooks,
 * the blobd.api listener (apid) and the raftd.api client.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "blobd/blobd.h"
#include "blobd/blobd_int.h"
#include "common/log.h"

/* a status call must stay cheap: stop counting past this */
#define BLOBD_SCAN_MAX 1000000

struct blobd_count {
	uint64_t files;
	uint64_t bytes;
	uint64_t scopes;
	bool truncated;
};

static void
blobd_count_scope(int dirfd_scope, struct blobd_count *n)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = fdopendir(dirfd_scope)) == NULL) {
		close(dirfd_scope);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (n->files >= BLOBD_SCAN_MAX) {
			n->truncated = true;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !S_ISREG(st.st_mode))
			continue;
		n->files++;
		n->bytes += (uint64_t)st.st_size;
	}
	closedir(d);
}

/*
 * what is on disk now, for `insidbctl status` / `show node` only: an
 * operator's question answered exactly, bounded; apid's status requests
 * get blobd's running counters instead
 */
static int
blobd_count(const char *dir, struct blobd_count *n)
{
	struct dirent *de;
	DIR *d;
	int fd;

	memset(n, 0, sizeof(*n));
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && !n->truncated) {
		/* skips ., .. and .tmp (unfinished transfers) */
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			continue;
		n->scopes++;
		blobd_count_scope(fd, n);
	}
	closedir(d);
	return 0;
}

/*
 * left-overs of the previous run (nothing is in flight yet); blocking is
 * fine before the role answers READY
 */
static void
blobd_tidy_tmp(int root)
{
	struct dirent *de;
	size_t removed = 0;
	DIR *d;
	int fd;

	fd = openat(root, BLOB_TMP_DIR,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		log_info("removed %zu unfinished transfers of the last run",
		    removed);
}

/* only apid may use blobd.api (0: nobody yet) */
static void
blobd_peer_sync(struct role_env *env, struct blobd *b)
{
	pid_t apid = env->pids[ROLE_APID];

	if (b->api == NULL || apid == b->api_peer)
		return;
	ipc_set_peer(b->api, getuid(), &apid, 1);
	b->api_peer = apid;
	log_debug("blobd.api accepts apid pid %d", (int)apid);
}

static int
blobd_start(struct role_env *env)
{
	struct blobd_count n;
	struct blobd *b;
	char url[256];
	int dirfd;

	dirfd = open(env->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1) {
		log_warn("cannot open the blob directory %s", env->data_dir);
		return -1;
	}
	if (mkdirat(dirfd, BLOB_TMP_DIR, 0700) == -1 && errno != EEXIST) {
		log_warn("cannot create %s/%s", env->data_dir, BLOB_TMP_DIR);
		close(dirfd);
		return -1;
	}
	blobd_tidy_tmp(dirfd);
	b = blobd_new(env->base, dirfd, env->node_id, env->badge_id,
	    env->cfg.blobs_max_size);
	if (blobd_count(env->data_dir, &n) == 0)
		blobd_counted(b, (int64_t)n.files, (int64_t)n.bytes);
	env->state = b;
	b->ipc = env->ipc;
	b->cfg = &env->cfg;
	b->tls = env->tls_cert_pem != NULL && env->tls_key_pem != NULL;
	b->ca_pem = env->tls_ca_pem;
	crypto_root_key(env->cfg.instance_secret, b->root_key);
	role_url(env, "blobd.api", url, sizeof(url));
	b->api = ipc_rep_listen(
	    env->ipc, url, BLOBD_API_NCTX, blobd_dispatch_apid, b);
	if (b->api == NULL) {
		log_warnx("cannot listen on %s", url);
		return -1;
	}
	blobd_peer_sync(env, b);
	role_url(env, "raftd.api", url, sizeof(url));
	blobd_raft_start(b, url);
	stream_start(b);
	b->repair = repair_new(b, env->cfg.blobs_repair_interval_ms);
	repair_request(b, "start");
	log_info("serving blobs in %s", env->data_dir);
	return 0;
}

static char *
blobd_status(struct role_env *env)
{
	struct blobd *b = env->state;
	struct json_object *o;
	struct blobd_count n;
	char *text;

	o = b != NULL ? blobd_status_json(b) : json_object_new_object();
	if (blobd_count(env->data_dir, &n) == -1) {
		json_object_object_add(o, "error",
		    json_object_new_string("blob directory unreadable"));
	} else {
		json_object_object_add(
		    o, "blob_count", json_object_new_int64((int64_t)n.files));
		json_object_object_add(
		    o, "blob_bytes", json_object_new_int64((int64_t)n.bytes));
		json_object_object_add(
		    o, "scopes", json_object_new_int64((int64_t)n.scopes));
		json_object_object_add(
		    o, "truncated", json_object_new_boolean(n.truncated));
	}
	text =
	    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

static void
blobd_pids(struct role_env *env)
{
	if (env->state != NULL)
		blobd_peer_sync(env, env->state);
}

static void
blobd_stopped(void *arg)
{
	struct role_env *env = arg;

	blobd_free(env->state);
	env->state = NULL;
	role_exit(env, 0);
}

/* transfers end, fetches stop, commits in flight settle, workers join */
static void
blobd_stop(struct role_env *env)
{
	if (env->state == NULL) {
		role_exit(env, 0);
		return;
	}
	blobd_stop_begin(env->state, blobd_stopped, env);
}

const struct role_hooks blobd_hooks = {
	.name = "blobd",
	.start = blobd_start,
	.status = blobd_status,
	.ctl = NULL,
	.stop = blobd_stop,
	.pids = blobd_pids,
};
