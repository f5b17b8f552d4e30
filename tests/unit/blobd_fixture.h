/*
 * The in-process fixture of the blobd tests: a blobd on a temporary
 * directory, replies captured instead of sent, and a stand-in raftd on an
 * in-process NNG channel that answers proposals, reads and the blob
 * stream as the test sets it up.
 */
#ifndef TESTS_UNIT_BLOBD_FIXTURE_H
#define TESTS_UNIT_BLOBD_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "blobd/blobd_int.h"

/* SHA-256 test vectors (FIPS 180-2 "abc", and "hello world") */
#define SHA_ABC \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_HELLO \
	"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define BADGE "0b6d2c8e-6f5e-4a59-8f0b-5d0c1e2f3a4b"

struct fake_raft {
	uint16_t propose_status; /* answer to MSG_RAFT_PROPOSE */
	int proposals;
	int reads;
	char read_keys[4][16];
	int scans;
	struct pbuf record; /* READ_BLOB_GET's answer, none when empty */
	bool hold_propose;
	struct ipc_rctx *held;
	struct pbuf scan; /* READ_BLOB_SCAN answer after the consistency */
	struct pbuf answers[4]; /* MSG_RAFT_BLOBS answers, in turn */
	int nanswers;
	int polls;
	struct cmd last; /* pointers into saved */
	uint8_t *saved;
};

struct fx {
	struct event_base *base;
	struct ipc *ipc;
	struct ipc_chan *raft_srv;
	struct fake_raft raft;
	struct blobd *b;
	char dir[64];
	int token; /* stands for an ipc_rctx */
	/* the last reply */
	bool replied;
	uint16_t type;
	uint8_t reply[BLOB_CHUNK_MAX + 64];
	size_t reply_len;
};

extern struct fx fx;

/* checked fixture */
void setup(void);
void teardown(void);

/* runs the loop until *flag or ms pass */
void run_until(bool *flag, int ms);
void settle(int ms);
/* sends one request to blobd and waits for its reply; returns its status,
 * r reads the rest */
uint16_t request(uint16_t type, struct pbuf *, struct pread *r);
uint16_t
up_begin(const char *scope, const char *key, uint64_t max, uint64_t *handle);
uint16_t up_chunk(uint64_t handle, uint64_t off, const char *data);
/* size, hash and the cmd_result's status (-1 when none came); up_commit
 * names no key (BEGIN's), up_commit_key names one */
uint16_t
up_commit(uint64_t handle, uint64_t *size, char hash[65], int *cmd_status);
uint16_t up_commit_key(uint64_t handle, const char *key, uint64_t *size,
    char hash[65], int *cmd_status);
uint16_t
down_open(const char *scope, const char *key, uint64_t size, uint64_t *h);
uint16_t
down_read(uint64_t h, uint64_t off, uint32_t len, char *out, size_t outlen);
/* a request of just a handle */
uint16_t simple(uint16_t type, uint64_t handle);

/* the directory: entries of a subdirectory (-1 when absent), files */
int count_dir(const char *sub);
void read_file(const char *rel, char *out, size_t outlen);
void write_file(const char *rel, const char *data);
bool exists(const char *rel);
/* "root/<sha256hex(key)>" (four buffers in turn) */
const char *rel_of(const char *key);

/* a live record as READ_BLOB_GET answers it */
void
record_of(struct pbuf *rec, const char *node, uint64_t size, const char *hash);
/* one READ_BLOB_SCAN entry of scope root */
void scan_entry(struct pbuf *, const char *key, uint8_t state, uint64_t size,
    const char *hash);
/* the stand-in raftd was asked READ_BLOB_GET for key */
bool key_read(const char *key);

#endif
