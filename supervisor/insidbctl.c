/*
 * insidbctl: the operator's tool.  Sends one command to the control
 * socket of a running insid and prints the answer.  Exit status: 0 done,
 * 1 refused or failed, 2 wrong usage, 3 socket unreachable.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/config.h"
#include "supervisor/ctl_output.h"
#include "supervisor/ctl_proto.h"

/* longer than the supervisor waits for a role (control.c) */
#define CTL_CLIENT_TIMEOUT_S 150
#define CTL_BACKUP_TIMEOUT_S 3700

static void
usage(void)
{
	const struct ctl_cmd *t;
	size_t n;

	fprintf(stderr,
	    "usage: insidbctl [-j] [-s socket | -f file "
	    "[-N node_id]] command [argument ...]\ncommands:\n");
	t = ctl_cmd_table(&n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %s\n", t[i].usage);
	exit(2);
}

static char *
socket_from_config(const char *file, const char *node_id)
{
	struct cfg_errors errs = { 0 };
	struct cfg cfg = { 0 };
	char *path;

	if (cfg_load(file, NULL, 0, geteuid() == 0, &cfg, &errs) == -1) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		exit(1);
	}
	if (node_id == NULL) {
		if (cfg.n_nodes != 1) {
			fprintf(stderr,
			    "insidbctl: %s lists %zu nodes: say "
			    "which with -N\n",
			    file, cfg.n_nodes);
			exit(2);
		}
		node_id = cfg.nodes[0].id;
	}
	if (cfg_node(&cfg, node_id) == NULL) {
		fprintf(
		    stderr, "insidbctl: node %s is not in %s\n", node_id, file);
		exit(2);
	}
	path = cfg_control_socket(&cfg, node_id);
	cfg_free(&cfg);
	return path;
}

static int
ctl_connect(const char *path, const struct ctl_cmd *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { CTL_CLIENT_TIMEOUT_S, 0 };

	if (strcmp(cmd->verb, "backup") == 0)
		tv.tv_sec = CTL_BACKUP_TIMEOUT_S;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "insidbctl: socket path too long\n");
		exit(2);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "insidbctl: cannot reach %s: %s\n", path,
		    strerror(errno));
		exit(3);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static void
fail(const char *what)
{
	fprintf(stderr, "insidbctl: %s\n", what);
	exit(1);
}

/* sends the words, returns the reply's status and JSON text */
static int
ctl_request(int fd, int n, char **words, char **json)
{
	uint8_t hb[CTL_HDR_LEN], *payload;
	struct ctl_hdr h;
	struct pbuf b;
	int status;

	pb_init(&b);
	ctl_request_encode(&b, n, words);
	if (b.err)
		fail("request too large");
	if (write_full(fd, b.data, b.len) == -1)
		fail("cannot send the request");
	pb_free(&b);
	if (read_full(fd, hb, sizeof(hb)) == -1)
		fail("no reply: the daemon closed the connection");
	if (ctl_hdr_decode(hb, &h) == -1 || h.version != CTL_VERSION ||
	    h.type != CTL_REPLY || h.len > CTL_REPLY_MAX)
		fail("malformed reply (another protocol version?)");
	if ((payload = malloc(h.len ? h.len : 1)) == NULL)
		fail("out of memory");
	if (read_full(fd, payload, h.len) == -1)
		fail("reply cut short");
	if (ctl_reply_decode(payload, h.len, &status, json) == -1)
		fail("malformed reply");
	free(payload);
	return status;
}

int
main(int argc, char **argv)
{
	const char *file = "/etc/insid.yaml", *node_id = NULL, *sock = NULL;
	const struct ctl_cmd *cmd;
	struct json_object *o;
	bool json = false, file_given = false;
	char *path, *text;
	int ch, fd, status;

	while ((ch = getopt(argc, argv, "+f:jN:s:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			file_given = true;
			break;
		case 'j':
			json = true;
			break;
		case 'N':
			node_id = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > CTL_ARGS_MAX ||
	    (sock != NULL && (file_given || node_id != NULL)) ||
	    (cmd = ctl_cmd_match(argc, argv)) == NULL)
		usage();
	path = sock != NULL ? strdup(sock) : socket_from_config(file, node_id);
	if (path == NULL)
		fail("out of memory");
	fd = ctl_connect(path, cmd);
	status = ctl_request(fd, argc, argv, &text);
	close(fd);
	free(path);
	if ((o = json_tokener_parse(text)) == NULL)
		fail("malformed reply");
	if (status == 0)
		ctl_output(stdout, cmd, o, json);
	else {
		if (json)
			ctl_output(stdout, cmd, o, json);
		ctl_output_error(stderr, o);
	}
	json_object_put(o);
	free(text);
	return status;
}
