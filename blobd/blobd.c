/*
 * blobd: for now it starts in its jail, reports what it holds and stops
 * cleanly; upload, download, replication, repair and GC come later.
 * Layout under its data_dir: <scope>/<sha256hex(key)> and .tmp/.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "blobd/blobd.h"
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

static int
blobd_start(struct role_env *env)
{
	struct blobd_count n;

	if (blobd_count(env->data_dir, &n) == -1) {
		log_warn("cannot read the blob directory %s", env->data_dir);
		return -1;
	}
	log_info("serving %llu blob files in %llu scopes",
	    (unsigned long long)n.files, (unsigned long long)n.scopes);
	return 0;
}

static char *
blobd_status(struct role_env *env)
{
	struct json_object *o = json_object_new_object();
	struct blobd_count n;
	char *text;

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
blobd_stop(struct role_env *env)
{
	/* nothing in flight yet: no transfer to finish */
	role_exit(env, 0);
}

const struct role_hooks blobd_hooks = {
	.name = "blobd",
	.start = blobd_start,
	.status = blobd_status,
	.ctl = NULL,
	.stop = blobd_stop,
};
