/*
 * insid_fake: the real supervisor and blobd with stand-ins for raftd and
 * apid, for testing process management alone (restart, crash loop, stop
 * order, control socket).  The stand-ins report the listening sockets
 * they inherited so the test can check the hand-off.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "blobd/blobd.h"
#include "common/crypto.h"
#include "common/log.h"
#include "supervisor/supervisor.h"

static int
fake_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int
fake_start(struct role_env *env)
{
	char ports[64] = "";
	size_t off = 0;

	for (size_t i = 0; i < env->nfds; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off, " %d",
		    fake_port(env->fds[i]));
	if (env->force_new_cluster)
		log_info("fake %s: force new cluster", env->hooks->name);
	log_info("fake %s: %zu fds, ports%s, badge %s, data_dir %s, "
		 "tls%s%s%s",
	    env->hooks->name, env->nfds, ports, env->badge_id, env->data_dir,
	    env->tls_cert_pem ? " cert" : "", env->tls_key_pem ? " key" : "",
	    env->tls_ca_pem ? " ca" : "");
	return 0;
}

static char *
fake_status(struct role_env *env)
{
	char *s;

	if (asprintf(&s,
		"{\"role\":\"leader\",\"leader\":\"%s\",\"term\":1,"
		"\"commit_index\":0,\"applied_index\":0,\"fd_port\":%d,"
		"\"apid_pid\":%d}",
		env->node_id, env->nfds ? fake_port(env->fds[0]) : -1,
		(int)env->pids[ROLE_APID]) == -1)
		return NULL;
	return s;
}

/* a stand-in checkpoint: a directory holding one file */
static int
fake_backup(struct role_env *env, const char *args)
{
	struct json_object *o = json_tokener_parse(args), *d;
	char path[512];
	int fd, rc = -1;

	if (o == NULL || !json_object_object_get_ex(o, "dir", &d) ||
	    strchr(json_object_get_string(d), '/') != NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", env->data_dir,
	    json_object_get_string(d));
	if (mkdir(path, 0750) == -1)
		goto out;
	strncat(path, "/CURRENT", sizeof(path) - strlen(path) - 1);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0640)) == -1)
		goto out;
	rc = write(fd, "checkpoint\n", 11) == 11 ? 0 : -1;
	close(fd);
out:
	json_object_put(o);
	return rc;
}

static void
fake_ctl(
    struct role_env *env, uint64_t corr, const char *verb, const char *args)
{
	char *s;

	if (strcmp(verb, "backup") == 0) {
		if (fake_backup(env, args) == 0)
			role_ctl_reply(env, corr, 0, "{}");
		else
			role_ctl_reply(
			    env, corr, 1, "{\"error\":\"checkpoint failed\"}");
		return;
	}
	if (strcmp(verb, "show cluster") != 0) {
		role_ctl_reply(
		    env, corr, 1, "{\"error\":\"not supported yet\"}");
		return;
	}
	if (asprintf(&s,
		"{\"members\":[{\"id\":\"%s\",\"voter\":true}],"
		"\"args\":%s}",
		env->node_id, args) == -1)
		fatal("asprintf");
	role_ctl_reply(env, corr, 0, s);
	free(s);
}

static void
fake_stop(struct role_env *env)
{
	log_info("fake %s stopping", env->hooks->name);
	role_exit(env, 0);
}

static void
fake_reload(struct role_env *env, const struct role_reload *rl)
{
	char cert[65] = "none";

	if (rl->tls_cert_pem != NULL)
		crypto_sha256_hex(
		    rl->tls_cert_pem, strlen(rl->tls_cert_pem), cert);
	log_info("fake %s reload: values limit %g, cert %.12s",
	    env->hooks->name, rl->cfg.rate[CFG_RL_VALUES].limit, cert);
}

static const struct role_hooks fake_raftd = {
	.name = "raftd",
	.start = fake_start,
	.status = fake_status,
	.ctl = fake_ctl,
	.stop = fake_stop,
};

static const struct role_hooks fake_apid = {
	.name = "apid",
	.start = fake_start,
	.status = NULL,
	.ctl = NULL,
	.stop = fake_stop,
	.reload = fake_reload,
};

int
main(int argc, char **argv)
{
	static const struct role_hooks *const hooks[ROLE_COUNT] = {
		[ROLE_RAFTD] = &fake_raftd,
		[ROLE_APID] = &fake_apid,
		[ROLE_BLOBD] = &blobd_hooks,
	};

	return insid_main(argc, argv, hooks);
}
