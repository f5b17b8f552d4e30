#include <stdlib.h>
#include <string.h>

#include "supervisor/ctl_proto.h"

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", 1, 0, { NULL }, false, CTL_TARGET_SUP, "status" },
	{ "show cluster", 2, 0, { NULL }, false, CTL_TARGET_RAFTD,
	    "show cluster" },
	{ "show node", 2, 0, { NULL }, false, CTL_TARGET_SUP, "show node" },
	/* read-only, so open to the group like show cluster */
	{ "show scope", 2, 1, { "ds" }, false, CTL_TARGET_RAFTD,
	    "show scope DS" },
	{ "leader transfer", 2, 1, { "node" }, true, CTL_TARGET_APID,
	    "leader transfer NODE" },
	{ "join", 1, 2, { "id", "raft_addr" }, true, CTL_TARGET_APID,
	    "join ID RAFT_ADDR" },
	{ "remove", 1, 1, { "id" }, true, CTL_TARGET_APID, "remove ID" },
	{ "snapshot", 1, 0, { NULL }, true, CTL_TARGET_RAFTD, "snapshot" },
	{ "backup", 1, 1, { "dir" }, true, CTL_TARGET_RAFTD, "backup DIR" },
	{ "log level", 2, 1, { "level" }, true, CTL_TARGET_SUP,
	    "log level LEVEL" },
	{ "reload", 1, 0, { NULL }, true, CTL_TARGET_SUP, "reload" },
	{ "rootkey", 1, 0, { NULL }, true, CTL_TARGET_SUP, "rootkey" },
};

const struct ctl_cmd *
ctl_cmd_table(size_t *n)
{
	*n = sizeof(ctl_cmds) / sizeof(ctl_cmds[0]);
	return ctl_cmds;
}

static bool
ctl_verb_is(const struct ctl_cmd *c, int n, char *const *words)
{
	const char *v = c->verb;
	size_t len;

	if (n < c->nwords)
		return false;
	for (int i = 0; i < c->nwords; i++) {
		len = strlen(words[i]);
		if (strncmp(v, words[i], len) != 0 ||
		    (v[len] != ' ' && v[len] != '\0'))
			return false;
		v += len + (v[len] == ' ');
	}
	return *v == '\0';
}

const struct ctl_cmd *
ctl_cmd_match(int n, char *const *words)
{
	size_t ncmds;
	const struct ctl_cmd *t = ctl_cmd_table(&ncmds);

	for (size_t i = 0; i < ncmds; i++)
		if (ctl_verb_is(&t[i], n, words))
			return n == t[i].nwords + t[i].nargs ? &t[i] : NULL;
	return NULL;
}

int
ctl_hdr_decode(const uint8_t buf[CTL_HDR_LEN], struct ctl_hdr *h)
{
	struct pread r;
	uint32_t magic;

	pr_init(&r, buf, CTL_HDR_LEN);
	pr_get_u32(&r, &magic);
	pr_get_u16(&r, &h->version);
	pr_get_u16(&r, &h->type);
	pr_get_u32(&r, &h->len);
	if (pr_end(&r) == -1 || magic != CTL_MAGIC)
		return -1;
	return 0;
}

static void
ctl_frame(struct pbuf *b, uint16_t type, const struct pbuf *payload)
{
	pb_add_u32(b, CTL_MAGIC);
	pb_add_u16(b, CTL_VERSION);
	pb_add_u16(b, type);
	pb_add_u32(b, (uint32_t)payload->len);
	pb_add_raw(b, payload->data, payload->len);
	if (payload->err)
		b->err = 1;
}

void
ctl_request_encode(struct pbuf *b, int argc, char *const *argv)
{
	struct pbuf p;

	pb_init(&p);
	pb_add_u32(&p, (uint32_t)argc);
	for (int i = 0; i < argc; i++)
		pb_add_str(&p, argv[i]);
	if (p.len > CTL_REQUEST_MAX)
		p.err = 1;
	ctl_frame(b, CTL_REQUEST, &p);
	pb_free(&p);
}

void
ctl_reply_encode(struct pbuf *b, int status, const char *json)
{
	struct pbuf p;

	pb_init(&p);
	pb_add_u16(&p, (uint16_t)status);
	pb_add_str(&p, json);
	if (p.len > CTL_REPLY_MAX)
		p.err = 1;
	ctl_frame(b, CTL_REPLY, &p);
	pb_free(&p);
}

static bool
ctl_word_ok(const char *w)
{
	size_t n = strlen(w);

	if (n == 0 || n > CTL_WORD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
			return false;
	return true;
}

void
ctl_words_free(char **words, int n)
{
	for (int i = 0; i < n; i++) {
		free(words[i]);
		words[i] = NULL;
	}
}

int
ctl_request_decode(const uint8_t *p, size_t len, char **words, int *n)
{
	struct pread r;
	uint32_t argc;

	*n = 0;
	pr_init(&r, p, len);
	if (pr_get_u32(&r, &argc) == -1 || argc == 0 || argc > CTL_ARGS_MAX)
		return -1;
	for (uint32_t i = 0; i < argc; i++) {
		if (pr_get_strdup(&r, &words[*n]) == -1)
			goto bad;
		(*n)++;
		if (!ctl_word_ok(words[*n - 1]))
			goto bad;
	}
	if (pr_end(&r) == -1)
		goto bad;
	return 0;
bad:
	ctl_words_free(words, *n);
	*n = 0;
	return -1;
}

int
ctl_reply_decode(const uint8_t *p, size_t len, int *status, char **json)
{
	struct pread r;
	uint16_t st;

	*json = NULL;
	pr_init(&r, p, len);
	pr_get_u16(&r, &st);
	pr_get_strdup(&r, json);
	if (pr_end(&r) == -1) {
		free(*json);
		*json = NULL;
		return -1;
	}
	*status = st;
	return 0;
}
