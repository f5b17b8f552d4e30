/*
 * The supervisor's half of `insidbctl backup DIR` and `insid --restore
 * DIR`.  raftd, jailed in the node directory, cannot reach DIR: it writes
 * a consistent checkpoint of its database into a fresh directory of its
 * data_dir (MSG_SUP_CTL "backup", args {"dir": name relative to data_dir});
 * the supervisor then moves that checkpoint to DIR/raft, copies the blob
 * files to DIR/blobs and writes DIR/backup.json.  The copies run in a
 * helper process (fork + exec of /bin/sh: nothing else between fork and
 * exec), so the event loop never blocks on them.
 *
 * Backup layout: DIR/backup.json, DIR/raft/ (checkpoint), DIR/blobs/.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define BACKUP_FORMAT 1

/* moves the checkpoint, copies the blobs, removes what is left of tmp */
static const char backup_script[] =
    "set -e\n"
    "mv -- \"$1\" \"$2/raft\"\n"
    "mkdir -- \"$2/blobs\"\n"
    "cd -- \"$3\"\n"
    "for f in * .[!.]*; do\n"
    "  if [ -e \"$f\" ] && [ \"$f\" != .tmp ]; then\n"
    "    cp -a -- \"$f\" \"$2/blobs/\"\n"
    "  fi\n"
    "done\n";

/* copies a backup into an empty node: raft/ and blobs/ */
static const char restore_script[] =
    "set -e\n"
    "cp -a -- \"$1/raft/.\" \"$2/raft/\"\n"
    "if [ -d \"$1/blobs\" ]; then cp -a -- \"$1/blobs/.\" \"$2/blobs/\"; "
    "fi\n"
    "if [ -n \"$3\" ]; then chown -R -- \"$3\" \"$2/raft\" \"$2/blobs\"; "
    "fi\n";

static bool
backup_dir_empty(const char *path)
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
backup_prepare(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (dir[0] != '/') {
		snprintf(err, errlen, "backup directory must be absolute");
		return -1;
	}
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    !backup_dir_empty(dir)) {
		snprintf(err, errlen, "%s exists and is not an empty directory",
		    dir);
		return -1;
	}
	return 0;
}

int
backup_write_meta(const struct sup *s, const char *dir)
{
	struct json_object *o = json_object_new_object();
	char *path;
	int rc;

	json_object_object_add(o, "format", json_object_new_int(BACKUP_FORMAT));
	json_object_object_add(
	    o, "node_id", json_object_new_string(s->self->id));
	json_object_object_add(
	    o, "badge_id", json_object_new_string(s->badge_id));
	json_object_object_add(
	    o, "created_unix", json_object_new_int64((int64_t)time(NULL)));
	if (asprintf(&path, "%s/backup.json", dir) == -1)
		fatal("%s: asprintf", __func__);
	rc = json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY);
	if (rc == -1)
		log_warnx("cannot write %s", path);
	free(path);
	json_object_put(o);
	return rc;
}

static pid_t
backup_run_script(
    const char *script, const char *a1, const char *a2, const char *a3)
{
	char *const argv[] = { "sh", "-c", (char *)script, "sh", (char *)a1,
		(char *)a2, (char *)a3, NULL };
	pid_t pid;

	switch (pid = fork()) {
	case -1:
		log_warn("%s: fork", __func__);
		return -1;
	case 0:
		if (close_range(3, ~0U, 0) == -1)
			_exit(126);
		execv("/bin/sh", argv);
		_exit(127);
	default:
		return pid;
	}
}

pid_t
backup_spawn_copy(const struct sup *s, const char *tmp_name, const char *dir)
{
	char *tmp, *blobs;
	pid_t pid;

	if (asprintf(&tmp, "%s/%s", s->node_dir, tmp_name) == -1 ||
	    asprintf(&blobs, "%s/blobs", s->node_dir) == -1)
		fatal("%s: asprintf", __func__);
	pid = backup_run_script(backup_script, tmp, dir, blobs);
	free(tmp);
	free(blobs);
	return pid;
}

static int
backup_check_meta(const char *dir)
{
	struct json_object *o, *f;
	char *path;
	int rc = -1;

	if (asprintf(&path, "%s/backup.json", dir) == -1)
		fatal("%s: asprintf", __func__);
	if ((o = json_object_from_file(path)) == NULL)
		log_errorx("restore: %s is not readable JSON", path);
	else if (!json_object_object_get_ex(o, "format", &f) ||
	    json_object_get_int(f) != BACKUP_FORMAT)
		log_errorx("restore: %s: unknown backup format", path);
	else
		rc = 0;
	json_object_put(o);
	free(path);
	return rc;
}

/*
 * before any role starts: the node's raft/ must be empty; the backup's
 * state and blobs are copied in and given to the user
 */
int
backup_restore(const struct sup *s, const char *dir)
{
	char *raft, *src, owner[64] = "";
	int status;
	pid_t pid;

	if (asprintf(&raft, "%s/raft", s->node_dir) == -1 ||
	    asprintf(&src, "%s/raft", dir) == -1)
		fatal("%s: asprintf", __func__);
	if (backup_check_meta(dir) == -1 || access(src, R_OK | X_OK) == -1) {
		log_errorx("restore: %s is not a backup", dir);
		goto fail;
	}
	if (!backup_dir_empty(raft)) {
		log_errorx("restore: %s already holds state: refusing to "
			   "overwrite it",
		    raft);
		goto fail;
	}
	if (s->as_root)
		snprintf(owner, sizeof(owner), "%u:%u", (unsigned)s->user_uid,
		    (unsigned)s->user_gid);
	if ((pid = backup_run_script(
		 restore_script, dir, s->node_dir, owner)) == -1 ||
	    waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		log_errorx("restore: copying %s failed", dir);
		goto fail;
	}
	log_info("restored node %s from %s", s->self->id, dir);
	free(raft);
	free(src);
	return 0;
fail:
	free(raft);
	free(src);
	return -1;
}
