/*
 * The control socket protocol between insidbctl and insid, and the
 * command grammar both sides check.
 *
 * A frame is a 12-byte header (u32 magic "IDBC", u16 version, u16 type,
 * u32 payload length, big-endian) and its payload (proto/codec.h):
 *   request: u32 argc (1..CTL_ARGS_MAX), argc * str word
 *   reply:   u16 status (insidbctl exit status, 0 = ok), str json
 * One request per connection.  A request with another version is answered
 * with status 2 and an error.
 */
#ifndef SUPERVISOR_CTL_PROTO_H
#define SUPERVISOR_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

#define CTL_MAGIC 0x49444243u
#define CTL_VERSION 1
#define CTL_HDR_LEN 12
#define CTL_REQUEST_MAX 16384u
#define CTL_REPLY_MAX (16u * 1024 * 1024)
#define CTL_ARGS_MAX 8
#define CTL_WORD_MAX 1024

enum ctl_frame_type {
	CTL_REQUEST = 1,
	CTL_REPLY = 2,
};

enum ctl_target {
	CTL_TARGET_SUP, /* answered by the supervisor */
	CTL_TARGET_RAFTD, /* relayed to raftd as MSG_SUP_CTL */
	/* relayed to apid, which calls the leader's HTTP route (CLI.md:
	 * membership commands work from any node) */
	CTL_TARGET_APID,
};

struct ctl_cmd {
	const char *verb; /* "show cluster" */
	int nwords; /* words of the verb */
	int nargs; /* arguments after the verb */
	const char *argnames[2];
	bool privileged; /* uid 0, or the daemon's own uid */
	enum ctl_target target;
	const char *usage;
};

struct ctl_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;
};

/* the command that words[0..n) form, NULL if none (wrong words/count) */
const struct ctl_cmd *ctl_cmd_match(int n, char *const *words);
/* lists every command's usage, one per line */
const struct ctl_cmd *ctl_cmd_table(size_t *n);

/* -1 on a bad magic; does not check version or type */
int ctl_hdr_decode(const uint8_t buf[CTL_HDR_LEN], struct ctl_hdr *);

/* full frames (header and payload); b->err set on failure */
void ctl_request_encode(struct pbuf *, int argc, char *const *argv);
void ctl_reply_encode(struct pbuf *, int status, const char *json);

/*
 * Decodes a request payload into words the caller frees with
 * ctl_words_free; -1 when malformed (bad count, empty, too long or
 * non-printable word).
 */
int ctl_request_decode(const uint8_t *, size_t, char **words, int *n);
void ctl_words_free(char **words, int n);
/* decodes a reply payload; *json is malloc'd */
int ctl_reply_decode(const uint8_t *, size_t, int *status, char **json);

#endif
