/*
 * Writes the binary seeds of the fuzz corpora (valid encodings made by the
 * real encoders).  Run by gen_corpus.sh; the output is checked in.
 * Usage: gen_corpus CORPUS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "proto/codec.h"
#include "proto/command.h"
#include "proto/msg.h"
#include "proto/raft_wire.h"

static const char *corpus_dir;

static void
put(const char *target, const char *name, uint8_t sel, const void *p,
    size_t len, int with_sel)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", corpus_dir, target, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (with_sel && fputc(sel, f) == EOF) ||
	    (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
gen_cmds(void)
{
	struct cmd c = { .type = CMD_KV_SET, .scope = "root" };
	struct cmd_result res = {
		.status = ST_DISK_LIMIT, .usage = 100, .limit = 50
	};
	struct read_req q = { .op = READ_KV_ITERATE,
		.consistency = READ_LINEARIZABLE,
		.scope = "3f2504e0-4f89-41d3-9a0c-0305e82c3301" };
	struct proto_hdr h = { PROTO_VERSION, MSG_PEER_CTL, 4, 42 };
	uint8_t hdr[PROTO_HDR_LEN + 4] = { 0 };
	struct pbuf b;

	pb_init(&b);
	c.key = (const uint8_t *)"user:1";
	c.key_len = 6;
	c.value = (const uint8_t *)"hello";
	c.value_len = 5;
	cmd_encode(&b, &c);
	put("proto", "cmd_set", 0, b.data, b.len, 1);
	pb_reset(&b);
	c.type = CMD_KV_CAS;
	c.old_value = (const uint8_t *)"hello";
	c.old_value_len = 5;
	c.ts = 1700000000000;
	cmd_encode(&b, &c);
	put("proto", "cmd_cas", 0, b.data, b.len, 1);
	pb_reset(&b);
	memset(&c, 0, sizeof(c));
	c.type = CMD_CACHE_SET;
	strcpy(c.scope, "s");
	c.key = (const uint8_t *)"k";
	c.key_len = 1;
	c.num = 60000;
	cmd_encode(&b, &c);
	put("proto", "cmd_cache_set", 0, b.data, b.len, 1);
	pb_reset(&b);
	cmd_result_encode(&b, &res);
	put("proto", "result_limit", 1, b.data, b.len, 1);
	pb_reset(&b);
	res = (struct cmd_result){
		.status = ST_OK, .data = (const uint8_t *)"17", .data_len = 2
	};
	cmd_result_encode(&b, &res);
	put("proto", "result_ok", 1, b.data, b.len, 1);
	pb_reset(&b);
	q.key = (const uint8_t *)"pre";
	q.key_len = 3;
	q.limit = 100;
	read_req_encode(&b, &q);
	put("proto", "read_iterate", 2, b.data, b.len, 1);
	pb_add_bytes(&b, "extra", 5);
	put("proto", "read_with_rest", 2, b.data, b.len, 1);
	pb_reset(&b);
	proto_hdr_encode(hdr, &h);
	memcpy(hdr + PROTO_HDR_LEN, "ping", 4);
	put("proto", "hdr", 3, hdr, sizeof(hdr), 1);
	pb_free(&b);
}

static void
put_raft(const char *name, const struct raft_msg *m)
{
	struct pbuf b;

	pb_init(&b);
	if (raft_wire_encode(&b, m) != 0) {
		fprintf(stderr, "raft_wire_encode %s failed\n", name);
		exit(1);
	}
	put("raft_wire", name, 0, b.data, b.len, 0);
	pb_free(&b);
}

static void
gen_raft(void)
{
	uint8_t d1[] = "set x", d2[] = "set y", snap[] = "snapshot bytes";
	struct raft_entry ents[2] = {
		{ .term = 3,
		    .index = 10,
		    .type = RAFT_ENTRY_NORMAL,
		    .len = 5,
		    .data = d1 },
		{ .term = 3,
		    .index = 11,
		    .type = RAFT_ENTRY_NOOP,
		    .len = 5,
		    .data = d2 },
	};
	struct raft_msg m = { .type = RAFT_MSG_APPEND,
		.from = 1,
		.to = 2,
		.term = 3,
		.prev_index = 9,
		.prev_term = 2,
		.commit = 9,
		.n_entries = 2,
		.entries = ents };

	put_raft("append", &m);
	m = (struct raft_msg){ .type = RAFT_MSG_APPEND_RESP,
		.from = 2,
		.to = 1,
		.term = 3,
		.reject = 1,
		.index = 9,
		.hint_index = 5,
		.hint_term = 2 };
	put_raft("append_resp", &m);
	m = (struct raft_msg){ .type = RAFT_MSG_VOTE,
		.from = 1,
		.to = 3,
		.term = 4,
		.index = 11,
		.log_term = 3,
		.force = 1 };
	put_raft("vote", &m);
	m = (struct raft_msg){ .type = RAFT_MSG_HEARTBEAT,
		.from = 1,
		.to = 2,
		.term = 3,
		.commit = 11,
		.seq = 7 };
	put_raft("heartbeat", &m);
	m = (struct raft_msg){ .type = RAFT_MSG_SNAPSHOT,
		.from = 1,
		.to = 2,
		.term = 3,
		.offset = 0,
		.total = 14,
		.len = 14,
		.data = snap };
	m.snap.index = 11;
	m.snap.term = 3;
	m.snap.config.n = 2;
	m.snap.config.servers[0] = (struct raft_server){ 1, RAFT_VOTER, 0 };
	m.snap.config.servers[1] = (struct raft_server){ 2, RAFT_LEARNER, 1 };
	put_raft("snapshot", &m);
	m = (struct raft_msg){
		.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 3
	};
	put_raft("timeout_now", &m);
}

static void
gen_tokens(void)
{
	struct token_claims c = { .ds = "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
		.k = "9b2e1c4a-7d6f-4e8b-a1c3-5f7e9d2b4a60" };
	uint8_t key[32], nonce[12] = { 9, 8, 7 };
	const char *plain;
	char *tok;

	crypto_token_key("fuzz-secret", key);
	tok = crypto_token_encrypt(key, &c, nonce);
	if (tok == NULL)
		exit(1);
	put("token", "entity", 0, tok, strlen(tok), 1);
	free(tok);
	c.is_alias = true;
	tok = crypto_token_encrypt(key, &c, nonce);
	if (tok == NULL)
		exit(1);
	put("token", "alias", 0, tok, strlen(tok), 1);
	free(tok);
	put("token", "b64", 0, "aGVsbG8gd29ybGQ=", 16, 1);
	plain = "{\"ds\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\","
		"\"k\":\"9b2e1c4a-7d6f-4e8b-a1c3-5f7e9d2b4a60\","
		"\"is_alias\":false}";
	put("token", "plain", 1, plain, strlen(plain), 1);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus CORPUS_DIR\n");
		return 2;
	}
	corpus_dir = argv[1];
	gen_cmds();
	gen_raft();
	gen_tokens();
	return 0;
}
