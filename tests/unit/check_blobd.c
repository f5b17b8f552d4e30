/*
 * blobd: the pure parts (file names, download URL, fetch back-off, repair
 * decisions) and, in one process against a temporary directory, the
 * worker pool with the upload, download and purge paths.  A stand-in
 * raftd on an in-process NNG channel answers the proposals and reads.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "blobd/blobd_int.h"
#include "blobd/paths.h"
#include "blobd/policy.h"
#include "common/log.h"

/* SHA-256 test vectors (FIPS 180-2 "abc", and "hello world") */
#define SHA_ABC \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_HELLO \
	"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define BADGE "0b6d2c8e-6f5e-4a59-8f0b-5d0c1e2f3a4b"

/*
 * pure parts
 */

START_TEST(test_scope_and_key)
{
	char s65[66];

	ck_assert(blob_scope_ok("root"));
	ck_assert(blob_scope_ok("0b6d2c8e-6f5e-4a59-8f0b-5d0c1e2f3a4b"));
	ck_assert(blob_scope_ok("a_B-9"));
	ck_assert(!blob_scope_ok(""));
	ck_assert(!blob_scope_ok(".tmp"));
	ck_assert(!blob_scope_ok(".."));
	ck_assert(!blob_scope_ok("a/b"));
	ck_assert(!blob_scope_ok("a b"));
	memset(s65, 'a', 65);
	s65[65] = '\0';
	ck_assert(!blob_scope_ok(s65));
	s65[64] = '\0';
	ck_assert(blob_scope_ok(s65));
	ck_assert(blob_key_ok((const uint8_t *)"k", 1));
	ck_assert(blob_key_ok((const uint8_t *)"a/b c:d", 7));
	ck_assert(!blob_key_ok((const uint8_t *)"", 0));
	ck_assert(!blob_key_ok((const uint8_t *)"a\0b", 3));
}
END_TEST

START_TEST(test_names)
{
	char name[65], rel[BLOB_REL_MAX], tmp[BLOB_TMP_MAX];

	blob_name((const uint8_t *)"abc", 3, name);
	ck_assert_str_eq(name, SHA_ABC);
	ck_assert(blob_name_ok(name));
	ck_assert(!blob_name_ok("ABC"));
	name[10] = 'A';
	ck_assert(!blob_name_ok(name));
	ck_assert_int_eq(blob_rel("root", (const uint8_t *)"abc", 3, rel), 0);
	ck_assert_str_eq(rel, "root/" SHA_ABC);
	ck_assert_int_eq(blob_rel("../x", (const uint8_t *)"abc", 3, rel), -1);
	blob_tmp_rel("up", 0x1234, tmp);
	ck_assert_str_eq(tmp, ".tmp/up-0000000000001234");
}
END_TEST

START_TEST(test_download_url)
{
	const uint8_t key[] = { 'r', '/', ' ', 0xc3, 0xbc, '+', '~', '&' };
	char out[64], *url;

	ck_assert_int_eq(blob_urlencode(key, sizeof(key), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "r%2F%20%C3%BC%2B~%26");
	ck_assert_int_eq(blob_urlencode(key, sizeof(key), out, 5), -1);
	url = blob_download_url(
	    "https://n1.example:8443", "root", key, sizeof(key));
	ck_assert_str_eq(url,
	    "https://n1.example:8443/db/internal/v1/blob/download"
	    "?key=r%2F%20%C3%BC%2B~%26&scope=root");
	free(url);
	ck_assert_ptr_null(blob_download_url("http://h:1", "a&b", key, 1));
}
END_TEST

START_TEST(test_backoff)
{
	ck_assert_int_eq(policy_fetch_backoff_ms(0), -1);
	ck_assert_int_eq(policy_fetch_backoff_ms(1), 1000);
	ck_assert_int_eq(policy_fetch_backoff_ms(2), 2000);
	ck_assert_int_eq(policy_fetch_backoff_ms(3), 4000);
	ck_assert_int_eq(policy_fetch_backoff_ms(4), 8000);
	ck_assert_int_eq(policy_fetch_backoff_ms(5), 16000);
	ck_assert_int_eq(policy_fetch_backoff_ms(6), -1);
}
END_TEST

START_TEST(test_repair_decisions)
{
	struct repair_file f;
	time_t start = 1000000;

	/* live, in place, right size */
	memset(&f, 0, sizeof(f));
	f.has_meta = f.live = f.exists = true;
	f.meta_size = f.size = 10;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_KEEP);
	f.hashed = true;
	f.hash_ok = true;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_KEEP);
	f.hash_ok = false;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_DELETE_FETCH);
	/* wrong size or missing: fetch (the hash does not matter then) */
	f.size = 9;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_FETCH);
	f.exists = false;
	f.size = 0;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_FETCH);
	/* tombstoned: the file stays until GC, whatever it holds */
	f.live = false;
	f.exists = true;
	f.size = 3;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_KEEP);
	/* no metadata: deleted when the last pass found none either,
	 * unless it changed around the pass */
	memset(&f, 0, sizeof(f));
	f.exists = true;
	f.ctime = start - REPAIR_YOUNG_S - 1;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_SUSPECT);
	f.orphan_before = true;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_DELETE);
	f.ctime = start - REPAIR_YOUNG_S;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_KEEP);
	f.ctime = start + 5;
	ck_assert_int_eq(policy_repair(&f, start), REPAIR_KEEP);
	/* temporary files */
	ck_assert(!policy_tmp_expired(start - REPAIR_TMP_AGE_S + 1, start));
	ck_assert(policy_tmp_expired(start - REPAIR_TMP_AGE_S, start));
}
END_TEST

/*
 * in process: a blobd on a temporary directory
 */

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

static struct fx {
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
} fx;

static void
fake_raft_read(struct fake_raft *fr, struct ipc_msg *m, struct pbuf *pb)
{
	struct read_req rq;
	struct pread rest;

	ck_assert_int_eq(read_req_decode(m->payload, m->len, &rq, &rest), 0);
	if (rq.op == READ_BLOB_SCAN) {
		fr->scans++;
		ck_assert_uint_eq(rq.key_len, 0);
		pb_add_u16(pb, ST_OK);
		pb_add_u8(pb, READ_LOCAL);
		pb_add_raw(pb, fr->scan.data, fr->scan.len);
		return;
	}
	/* every blob is unknown to READ_BLOB_GET here */
	ck_assert_uint_eq(rq.op, READ_BLOB_GET);
	ck_assert_str_eq(rq.scope, "root");
	ck_assert_uint_lt(rq.key_len, sizeof(fr->read_keys[0]));
	if (fr->reads < 4)
		memcpy(fr->read_keys[fr->reads], rq.key, rq.key_len);
	fr->reads++;
	if (fr->record.len > 0) {
		pb_add_u16(pb, ST_OK);
		pb_add_u8(pb, rq.consistency);
		pb_add_bytes(pb, fr->record.data, fr->record.len);
		return;
	}
	pb_add_u16(pb, ST_NOT_FOUND);
	pb_add_u8(pb, READ_LOCAL);
}

static void
fake_raft_cb(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct fake_raft *fr = arg;
	struct cmd_result res = { 0 };
	struct pbuf pb;

	(void)ch;
	pb_init(&pb);
	if (m->hdr.type == MSG_RAFT_PROPOSE) {
		fr->proposals++;
		free(fr->saved);
		fr->saved = malloc(m->len);
		memcpy(fr->saved, m->payload, m->len);
		ck_assert_int_eq(cmd_decode(fr->saved, m->len, &fr->last), 0);
		if (fr->hold_propose) {
			/* the test answers it later */
			fr->held = m->rctx;
			pb_free(&pb);
			return;
		}
		res.status = fr->propose_status;
		cmd_result_encode(&pb, &res);
	} else if (m->hdr.type == MSG_RAFT_READ)
		fake_raft_read(fr, m, &pb);
	else if (m->hdr.type == MSG_RAFT_BLOBS && fr->polls < fr->nanswers) {
		pb_add_raw(&pb, fr->answers[fr->polls].data,
		    fr->answers[fr->polls].len);
		fr->polls++;
	} else {
		/* the blob stream: hold it open until the call times out */
		pb_free(&pb);
		return;
	}
	ipc_reply(m->rctx, m->hdr.type, pb.data, pb.len);
	pb_free(&pb);
}

static void
capture_reply(struct ipc_rctx *rctx, uint16_t type, const uint8_t *p,
    size_t len, void *arg)
{
	(void)arg;
	ck_assert_ptr_eq(rctx, (void *)&fx.token);
	ck_assert(!fx.replied);
	ck_assert_uint_le(len, sizeof(fx.reply));
	memcpy(fx.reply, p, len);
	fx.reply_len = len;
	fx.type = type;
	fx.replied = true;
}

static void
run_until(bool *flag, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*flag) {
		event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
			(t.tv_nsec - t0.tv_nsec) / 1000000 >
		    ms)
			break;
		usleep(1000);
	}
}

static void
settle(int ms)
{
	bool never = false;

	run_until(&never, ms);
}

/* sends one request and waits for its reply; returns its status */
static uint16_t
request(uint16_t type, struct pbuf *pb, struct pread *r)
{
	struct ipc_msg m;
	uint16_t st;

	ck_assert(!pb->err);
	memset(&m, 0, sizeof(m));
	m.hdr.version = PROTO_VERSION;
	m.hdr.type = type;
	m.payload = pb->data;
	m.len = pb->len;
	m.rctx = (struct ipc_rctx *)&fx.token;
	fx.replied = false;
	blobd_dispatch_apid(NULL, &m, fx.b);
	run_until(&fx.replied, 10000);
	pb_free(pb);
	ck_assert(fx.replied);
	ck_assert_uint_eq(fx.type, type);
	pr_init(r, fx.reply, fx.reply_len);
	ck_assert_int_eq(pr_get_u16(r, &st), 0);
	return st;
}

static uint16_t
up_begin(const char *scope, const char *key, uint64_t max, uint64_t *handle)
{
	struct pread r;
	struct pbuf pb;
	uint16_t st;

	pb_init(&pb);
	pb_add_str(&pb, scope);
	pb_add_bytes(&pb, key, strlen(key));
	pb_add_u64(&pb, max);
	st = request(MSG_BLOB_UP_BEGIN, &pb, &r);
	ck_assert_int_eq(pr_get_u64(&r, handle), 0);
	ck_assert_int_eq(pr_end(&r), 0);
	return st;
}

static uint16_t
up_chunk(uint64_t handle, uint64_t off, const char *data)
{
	struct pread r;
	struct pbuf pb;
	uint16_t st;

	pb_init(&pb);
	pb_add_u64(&pb, handle);
	pb_add_u64(&pb, off);
	pb_add_bytes(&pb, data, strlen(data));
	st = request(MSG_BLOB_UP_CHUNK, &pb, &r);
	ck_assert_int_eq(pr_end(&r), 0);
	return st;
}

/* returns the status; size, hash and the cmd_result's status (or -1) */
static uint16_t
up_commit(uint64_t handle, uint64_t *size, char hash[65], int *cmd_status)
{
	struct cmd_result res;
	struct pread r;
	struct pbuf pb;
	char *h = NULL;
	uint16_t st;

	pb_init(&pb);
	pb_add_u64(&pb, handle);
	pb_add_str(&pb, "owner-uuid");
	pb_add_str(&pb, "report.pdf");
	pb_add_str(&pb, "application/pdf");
	st = request(MSG_BLOB_UP_COMMIT, &pb, &r);
	ck_assert_int_eq(pr_get_u64(&r, size), 0);
	ck_assert_int_eq(pr_get_strdup(&r, &h), 0);
	snprintf(hash, 65, "%s", h);
	free(h);
	*cmd_status = -1;
	if (pr_remaining(&r) > 0) {
		ck_assert_int_eq(
		    cmd_result_decode(r.p + r.off, pr_remaining(&r), &res), 0);
		*cmd_status = res.status;
	}
	return st;
}

static uint16_t
down_open(const char *scope, const char *key, uint64_t size, uint64_t *h)
{
	struct pread r;
	struct pbuf pb;
	uint16_t st;

	pb_init(&pb);
	pb_add_str(&pb, scope);
	pb_add_bytes(&pb, key, strlen(key));
	pb_add_u64(&pb, size);
	pb_add_str(&pb, SHA_HELLO);
	st = request(MSG_BLOB_DOWN_OPEN, &pb, &r);
	ck_assert_int_eq(pr_get_u64(&r, h), 0);
	ck_assert_int_eq(pr_end(&r), 0);
	return st;
}

static uint16_t
down_read(uint64_t h, uint64_t off, uint32_t len, char *out, size_t outlen)
{
	const uint8_t *data;
	struct pread r;
	struct pbuf pb;
	uint16_t st;
	size_t n;

	pb_init(&pb);
	pb_add_u64(&pb, h);
	pb_add_u64(&pb, off);
	pb_add_u32(&pb, len);
	st = request(MSG_BLOB_DOWN_READ, &pb, &r);
	ck_assert_int_eq(pr_get_bytes(&r, &data, &n), 0);
	ck_assert_int_eq(pr_end(&r), 0);
	ck_assert_uint_lt(n, outlen);
	memcpy(out, data, n);
	out[n] = '\0';
	return st;
}

static uint16_t
simple(uint16_t type, uint64_t handle)
{
	struct pread r;
	struct pbuf pb;
	uint16_t st;

	pb_init(&pb);
	pb_add_u64(&pb, handle);
	st = request(type, &pb, &r);
	ck_assert_int_eq(pr_end(&r), 0);
	return st;
}

static int
count_dir(const char *sub)
{
	char path[128];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
read_file(const char *rel, char *out, size_t outlen)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, out, outlen - 1);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	close(fd);
}

static void
setup(void)
{
	char url[128], home[64];
	int dirfd;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/check-blobd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	dirfd = open(fx.dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(dirfd, -1);
	ck_assert_int_eq(mkdirat(dirfd, BLOB_TMP_DIR, 0700), 0);
	fx.base = event_base_new();
	fx.ipc = ipc_new(fx.base);
	snprintf(home, sizeof(home), "/check-blobd-%d", (int)getpid());
	ipc_url(url, sizeof(url), home, "node0", "raftd.api");
	fx.raft_srv = ipc_rep_listen(fx.ipc, url, 32, fake_raft_cb, &fx.raft);
	ck_assert_ptr_nonnull(fx.raft_srv);
	fx.b = blobd_new(fx.base, dirfd, "node0", BADGE, 0);
	fx.b->ipc = fx.ipc;
	fx.b->reply_fn = capture_reply;
	blobd_raft_start(fx.b, url);
	ck_assert_ptr_nonnull(fx.b->raft);
}

static void
teardown(void)
{
	char cmd[128];

	blobd_free(fx.b);
	ipc_close(fx.raft_srv);
	ipc_free(fx.ipc);
	event_base_free(fx.base);
	free(fx.raft.saved);
	pb_free(&fx.raft.scan);
	pb_free(&fx.raft.record);
	for (int i = 0; i < fx.raft.nanswers; i++)
		pb_free(&fx.raft.answers[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_upload_commit)
{
	char hash[65], *s;
	uint64_t h, size;
	struct pread v;
	uint64_t vsize;
	int cst;

	fx.raft.propose_status = ST_OK;
	ck_assert_uint_eq(up_begin("root", "reports/a b", 0, &h), BLOB_OK);
	ck_assert_uint_ne(h, 0);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 1);
	ck_assert_uint_eq(up_chunk(h, 0, "hello "), BLOB_OK);
	/* out of order: refused, the upload goes on */
	ck_assert_uint_eq(up_chunk(h, 3, "xyz"), BLOB_BAD);
	ck_assert_uint_eq(up_chunk(h, 6, "world"), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h + 1000, 11, "!"), BLOB_NO_HANDLE);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_OK);
	ck_assert_uint_eq(size, 11);
	ck_assert_str_eq(hash, SHA_HELLO);
	ck_assert_int_eq(cst, ST_OK);
	/* the proposal */
	ck_assert_int_eq(fx.raft.proposals, 1);
	ck_assert_uint_eq(fx.raft.last.type, CMD_BLOB_PUT);
	ck_assert_str_eq(fx.raft.last.scope, "root");
	ck_assert_uint_eq(fx.raft.last.key_len, 11);
	ck_assert_mem_eq(fx.raft.last.key, "reports/a b", 11);
	ck_assert_int_eq(fx.raft.last.num, 11);
	pr_init(&v, fx.raft.last.value, fx.raft.last.value_len);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, "owner-uuid");
	free(s);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, "node0");
	free(s);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, BADGE);
	free(s);
	pr_get_u64(&v, &vsize);
	ck_assert_uint_eq(vsize, 11);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, SHA_HELLO);
	free(s);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, "report.pdf");
	free(s);
	pr_get_strdup(&v, &s);
	ck_assert_str_eq(s, "application/pdf");
	free(s);
	ck_assert_int_eq(pr_end(&v), 0);
	/* in place under its name, nothing left in .tmp */
	ck_assert_int_eq(count_dir("root"), 1);
	{
		char rel[BLOB_REL_MAX], data[32];

		blob_rel("root", (const uint8_t *)"reports/a b", 11, rel);
		read_file(rel, data, sizeof(data));
		ck_assert_str_eq(data, "hello world");
	}
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	ck_assert_int_eq(fx.b->blob_count, 1);
	ck_assert_int_eq(fx.b->blob_bytes, 11);
	/* the handle is gone */
	ck_assert_uint_eq(up_chunk(h, 11, "x"), BLOB_NO_HANDLE);
}
END_TEST

START_TEST(test_upload_refused)
{
	char hash[65];
	uint64_t h, size;
	int cst;

	fx.raft.propose_status = ST_KEY_EXISTS;
	ck_assert_uint_eq(up_begin("ds1", "k", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_REFUSED);
	ck_assert_uint_eq(size, 3);
	ck_assert_str_eq(hash, SHA_ABC);
	ck_assert_int_eq(cst, ST_KEY_EXISTS);
	settle(200);
	ck_assert_int_eq(count_dir("ds1"), -1);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	/* no leader: the proposal failed */
	fx.raft.propose_status = ST_NO_LEADER;
	ck_assert_uint_eq(up_begin("ds1", "k", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_RAFT);
	ck_assert_int_eq(cst, ST_NO_LEADER);
	settle(200);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
}
END_TEST

START_TEST(test_upload_limits)
{
	uint64_t h, h2, hs[BLOBD_TRANSFERS_MAX];

	ck_assert_uint_eq(up_begin("root", "big", 4, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abcd"), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 4, "e"), BLOB_TOO_BIG);
	ck_assert_uint_eq(up_chunk(h, 4, "e"), BLOB_NO_HANDLE);
	settle(200);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	/* bad requests */
	ck_assert_uint_eq(up_begin("a/b", "k", 0, &h), BLOB_BAD);
	ck_assert_uint_eq(up_begin("root", "", 0, &h), BLOB_BAD);
	/* at most BLOBD_TRANSFERS_MAX at once */
	for (int i = 0; i < BLOBD_TRANSFERS_MAX; i++)
		ck_assert_uint_eq(up_begin("root", "k", 0, &hs[i]), BLOB_OK);
	ck_assert_uint_eq(up_begin("root", "k", 0, &h2), BLOB_BUSY);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), BLOBD_TRANSFERS_MAX);
	ck_assert_uint_eq(simple(MSG_BLOB_UP_ABORT, hs[0]), BLOB_OK);
	ck_assert_uint_eq(simple(MSG_BLOB_UP_ABORT, hs[0]), BLOB_NO_HANDLE);
	ck_assert_uint_eq(up_begin("root", "k", 0, &h2), BLOB_OK);
	/* idle ones go, with their files */
	upload_idle(fx.b, blobd_now_ms() + BLOBD_IDLE_MS);
	settle(300);
	ck_assert_uint_eq(fx.b->nuploads, 0);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	ck_assert_uint_eq(up_chunk(h2, 0, "x"), BLOB_NO_HANDLE);
}
END_TEST

static bool exists(const char *);
static const char *rel_of(const char *);

/* the record READ_BLOB_GET answers */
static void
record_of(struct pbuf *rec, const char *node, uint64_t size, const char *hash)
{
	pb_init(rec);
	pb_add_u8(rec, 0);
	pb_add_i64(rec, 1);
	pb_add_i64(rec, 0);
	pb_add_str(rec, "owner-uuid");
	pb_add_str(rec, node);
	pb_add_str(rec, BADGE);
	pb_add_u64(rec, size);
	pb_add_str(rec, hash);
	pb_add_str(rec, "report.pdf");
	pb_add_str(rec, "application/pdf");
}

START_TEST(test_upload_commit_unknown)
{
	char hash[65];
	uint64_t h, size;
	int cst;

	/* not applied as far as a read tells: removed */
	fx.raft.propose_status = ST_COMMIT_UNKNOWN;
	ck_assert_uint_eq(up_begin("root", "u1", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_RAFT);
	ck_assert_int_eq(cst, ST_COMMIT_UNKNOWN);
	ck_assert_int_eq(fx.raft.reads, 1);
	settle(200);
	ck_assert(!exists(rel_of("u1")));
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	/* another node's record under the key: not ours either */
	record_of(&fx.raft.record, "node1", 3, SHA_ABC);
	ck_assert_uint_eq(up_begin("root", "u2", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_RAFT);
	settle(200);
	ck_assert(!exists(rel_of("u2")));
	/* ours: it applied after all, so the file goes into place */
	pb_free(&fx.raft.record);
	record_of(&fx.raft.record, "node0", 3, SHA_ABC);
	ck_assert_uint_eq(up_begin("root", "u3", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_OK);
	ck_assert_int_eq(cst, ST_OK);
	ck_assert(exists(rel_of("u3")));
	ck_assert_int_eq(fx.raft.reads, 3);
}
END_TEST

START_TEST(test_download)
{
	char hash[65], buf[64];
	uint64_t h, size;
	int cst;

	fx.raft.propose_status = ST_OK;
	ck_assert_uint_eq(up_begin("root", "dl", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "hello world"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_OK);

	ck_assert_uint_eq(down_open("root", "dl", 11, &h), BLOB_OK);
	ck_assert_uint_eq(fx.b->ndownloads, 1);
	ck_assert_uint_eq(down_read(h, 0, 5, buf, sizeof(buf)), BLOB_OK);
	ck_assert_str_eq(buf, "hello");
	ck_assert_uint_eq(down_read(h, 6, 100, buf, sizeof(buf)), BLOB_OK);
	ck_assert_str_eq(buf, "world");
	ck_assert_uint_eq(down_read(h, 11, 10, buf, sizeof(buf)), BLOB_OK);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(
	    down_read(h, 0, BLOB_CHUNK_MAX + 1, buf, sizeof(buf)), BLOB_BAD);
	ck_assert_uint_eq(simple(MSG_BLOB_DOWN_CLOSE, h), BLOB_OK);
	ck_assert_uint_eq(down_read(h, 0, 5, buf, sizeof(buf)), BLOB_NO_HANDLE);
	ck_assert_uint_eq(fx.b->ndownloads, 0);

	/* idle handles are closed */
	ck_assert_uint_eq(down_open("root", "dl", 11, &h), BLOB_OK);
	download_idle(fx.b, blobd_now_ms() + BLOBD_IDLE_MS);
	ck_assert_uint_eq(down_read(h, 0, 5, buf, sizeof(buf)), BLOB_NO_HANDLE);
}
END_TEST

START_TEST(test_not_replicated)
{
	char hash[65];
	uint64_t h, size;
	int cst;

	fx.raft.propose_status = ST_OK;
	ck_assert_uint_eq(up_begin("root", "nr", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "hello world"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_OK);
	/* another size than the metadata's: a fetch is queued */
	ck_assert_uint_eq(down_open("root", "nr", 12, &h), BLOB_NOT_REPLICATED);
	ck_assert_uint_eq(h, 0);
	/* absent */
	ck_assert_uint_eq(
	    down_open("root", "absent", 11, &h), BLOB_NOT_REPLICATED);
	/* each job first asks raftd for the metadata; the stand-in knows
	 * neither blob, so both jobs are dropped */
	settle(500);
	ck_assert_int_eq(fx.raft.reads, 2);
	ck_assert_str_eq(fx.raft.read_keys[0], "nr");
	ck_assert_str_eq(fx.raft.read_keys[1], "absent");
	ck_assert_uint_eq(fetch_queued(fx.b->fetch), 0);
	ck_assert_uint_eq(fetch_running(fx.b->fetch), 0);
}
END_TEST

START_TEST(test_purge)
{
	char hash[65];
	uint64_t h, size;
	int cst;

	fx.raft.propose_status = ST_OK;
	ck_assert_uint_eq(up_begin("ds2", "p", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_OK);
	ck_assert_int_eq(count_dir("ds2"), 1);
	blobd_purge(fx.b, "ds2", (const uint8_t *)"p", 1);
	/* a missing file is fine */
	blobd_purge(fx.b, "ds2", (const uint8_t *)"never", 5);
	settle(300);
	ck_assert_int_eq(count_dir("ds2"), 0);
	ck_assert_int_eq(fx.b->blob_count, 0);
	ck_assert_int_eq(fx.b->blob_bytes, 0);
}
END_TEST

START_TEST(test_status)
{
	struct json_object *o, *v;
	struct pread r;
	struct pbuf pb;
	char *text = NULL;
	uint64_t h;

	ck_assert_uint_eq(up_begin("root", "s", 0, &h), BLOB_OK);
	pb_init(&pb);
	ck_assert_uint_eq(request(MSG_BLOB_STATUS, &pb, &r), BLOB_OK);
	ck_assert_int_eq(pr_get_strdup(&r, &text), 0);
	o = json_tokener_parse(text);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "uploads", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(o, "downloads", &v));
	ck_assert_int_eq(json_object_get_int(v), 0);
	ck_assert(json_object_object_get_ex(o, "replication_queue", &v));
	ck_assert(json_object_object_get_ex(o, "fetches_running", &v));
	ck_assert(json_object_object_get_ex(o, "blob_count", &v));
	ck_assert(json_object_object_get_ex(o, "blob_bytes", &v));
	json_object_put(o);
	free(text);
}
END_TEST

static void
write_file(const char *rel, const char *data)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static bool
exists(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	return access(path, F_OK) == 0;
}

static const char *
rel_of(const char *key)
{
	static char rel[4][BLOB_REL_MAX];
	static int turn;
	char *r = rel[turn++ % 4];

	blob_rel("root", (const uint8_t *)key, strlen(key), r);
	return r;
}

/* one READ_BLOB_SCAN entry: str scope, bytes key, bytes record */
static void
scan_entry(struct pbuf *pb, const char *key, uint8_t state, uint64_t size,
    const char *hash)
{
	struct pbuf rec;

	pb_init(&rec);
	pb_add_u8(&rec, state);
	pb_add_i64(&rec, 1);
	pb_add_i64(&rec, state ? 2 : 0);
	pb_add_str(&rec, "owner");
	pb_add_str(&rec, "node1");
	pb_add_str(&rec, BADGE);
	pb_add_u64(&rec, size);
	pb_add_str(&rec, hash);
	pb_add_str(&rec, "");
	pb_add_str(&rec, "application/octet-stream");
	pb_add_str(pb, "root");
	pb_add_bytes(pb, key, strlen(key));
	pb_add_bytes(pb, rec.data, rec.len);
	pb_free(&rec);
}

static bool
key_read(const char *key)
{
	for (int i = 0; i < fx.raft.reads && i < 4; i++)
		if (strcmp(fx.raft.read_keys[i], key) == 0)
			return true;
	return false;
}

START_TEST(test_repair_pass)
{
	struct timespec old[2];
	char path[256];

	mkdir(strcat(strcpy(path, fx.dir), "/root"), 0700);
	write_file(rel_of("ok"), "abc");
	write_file(rel_of("bad"), "abd");
	write_file(rel_of("tomb"), "tombstoned: stays until GC");
	/* no metadata, but changed just now: kept for the next pass */
	write_file(rel_of("young"), "x");
	write_file(".tmp/old", "left over");
	write_file(".tmp/new", "in progress");
	snprintf(path, sizeof(path), "%s/.tmp/old", fx.dir);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - REPAIR_TMP_AGE_S - 10;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);

	pb_init(&fx.raft.scan);
	pb_add_u32(&fx.raft.scan, 4);
	scan_entry(&fx.raft.scan, "ok", 0, 3, SHA_ABC);
	scan_entry(&fx.raft.scan, "bad", 0, 3, SHA_ABC);
	scan_entry(&fx.raft.scan, "gone", 0, 3, SHA_ABC);
	scan_entry(&fx.raft.scan, "tomb", 1, 3, SHA_ABC);
	pb_add_bytes(&fx.raft.scan, NULL, 0);

	fx.b->repair = repair_new(fx.b, 3600 * 1000);
	repair_request(fx.b, "test");
	ck_assert(repair_running(fx.b->repair));
	for (int i = 0; i < 500 && repair_running(fx.b->repair); i++)
		settle(10);
	ck_assert(!repair_running(fx.b->repair));
	ck_assert_int_eq(fx.raft.scans, 1);
	/* corrupt: deleted and queued; missing: queued */
	ck_assert(exists(rel_of("ok")));
	ck_assert(!exists(rel_of("bad")));
	ck_assert(exists(rel_of("tomb")));
	ck_assert(exists(rel_of("young")));
	ck_assert(!exists(".tmp/old"));
	ck_assert(exists(".tmp/new"));
	/* the fetch jobs ask raftd first (the stand-in drops them) */
	settle(300);
	ck_assert_int_eq(fx.raft.reads, 2);
	ck_assert(key_read("bad"));
	ck_assert(key_read("gone"));
	/* what the walk counted: ok, tomb, young */
	ck_assert_int_eq(fx.b->blob_count, 3);
	/* asked while none runs: a pass now; while one runs: one more */
	repair_request(fx.b, "again");
	repair_request(fx.b, "and again");
	for (int i = 0; i < 500 && fx.raft.scans < 3; i++)
		settle(10);
	ck_assert_int_eq(fx.raft.scans, 2 + 1);
}
END_TEST

/* one MSG_RAFT_BLOBS answer */
static void
stream_answer(struct pbuf *pb, uint64_t epoch, uint64_t lost, uint8_t kind,
    const char *key, const char *node)
{
	pb_init(pb);
	pb_add_u64(pb, epoch);
	pb_add_u64(pb, lost);
	pb_add_u64(pb, 7);
	pb_add_u32(pb, 1);
	pb_add_u64(pb, 7);
	pb_add_u8(pb, kind);
	pb_add_str(pb, kind == BLOB_CHANGE_RESYNC ? "" : "root");
	pb_add_bytes(pb, key, strlen(key));
	pb_add_u64(pb, kind == BLOB_CHANGE_PUT ? 3 : 0);
	pb_add_str(pb, kind == BLOB_CHANGE_PUT ? SHA_ABC : "");
	pb_add_str(pb, node);
}

START_TEST(test_stream)
{
	char path[256];

	mkdir(strcat(strcpy(path, fx.dir), "/root"), 0700);
	write_file(rel_of("purged"), "abc");
	stream_answer(
	    &fx.raft.answers[0], 5, 0, BLOB_CHANGE_PURGE, "purged", "");
	/* ours: already in place, nothing to fetch */
	stream_answer(
	    &fx.raft.answers[1], 5, 0, BLOB_CHANGE_PUT, "mine", "node0");
	stream_answer(
	    &fx.raft.answers[2], 5, 0, BLOB_CHANGE_PUT, "theirs", "node1");
	stream_answer(&fx.raft.answers[3], 5, 0, BLOB_CHANGE_RESYNC, "", "");
	fx.raft.nanswers = 4;
	pb_init(&fx.raft.scan);
	pb_add_u32(&fx.raft.scan, 0);
	pb_add_bytes(&fx.raft.scan, NULL, 0);
	fx.b->repair = repair_new(fx.b, 3600 * 1000);
	stream_start(fx.b);
	for (int i = 0; i < 500 && (fx.raft.polls < 4 || fx.raft.scans < 1);
	     i++)
		settle(10);
	settle(200);
	ck_assert_int_eq(fx.raft.polls, 4);
	ck_assert(!exists(rel_of("purged")));
	ck_assert_int_eq(fx.raft.reads, 1);
	ck_assert(key_read("theirs"));
	/* RESYNC ran a repair pass */
	ck_assert_int_eq(fx.raft.scans, 1);
}
END_TEST

/*
 * fetches: stand-in nodes on loopback answer one scripted response per
 * connection
 */

enum script { SC_503, SC_FULL, SC_CORRUPT, SC_HALF_THEN_CLOSE, SC_RANGE };

struct peer {
	struct evconnlistener *lis;
	int port;
	enum script script;
	int requests;
	char head[2048]; /* the last request head */
};

static uint8_t *fetch_data;
static size_t fetch_len;

static void
peer_write_done(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
peer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
peer_answer(struct peer *p, struct evbuffer *out)
{
	unsigned long long from = 0;
	const char *range;

	switch (p->script) {
	case SC_503:
		evbuffer_add_printf(out,
		    "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Length: 0\r\n\r\n");
		break;
	case SC_FULL:
	case SC_CORRUPT:
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		    fetch_len);
		evbuffer_add(out, fetch_data, fetch_len - 1);
		evbuffer_add(out,
		    p->script == SC_FULL ? &fetch_data[fetch_len - 1]
					 : (const uint8_t *)"!",
		    1);
		break;
	case SC_HALF_THEN_CLOSE:
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		    fetch_len);
		evbuffer_add(out, fetch_data, fetch_len / 2);
		break;
	case SC_RANGE:
		range = strstr(p->head, "\r\nRange: bytes=");
		ck_assert_ptr_nonnull(range);
		from = strtoull(range + 15, NULL, 10);
		ck_assert_uint_lt(from, fetch_len);
		evbuffer_add_printf(out,
		    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes "
		    "%llu-%zu/%zu\r\nContent-Length: %zu\r\n\r\n",
		    from, fetch_len - 1, fetch_len, fetch_len - (size_t)from);
		evbuffer_add(out, fetch_data + from, fetch_len - (size_t)from);
		break;
	}
}

static void
peer_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	size_t n;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return;
	n = (size_t)end.pos + 4 < sizeof(p->head) ? (size_t)end.pos + 4
						  : sizeof(p->head) - 1;
	evbuffer_remove(in, p->head, n);
	p->head[n] = '\0';
	p->requests++;
	peer_answer(p, bufferevent_get_output(bev));
	/* one response per connection: close once it is out */
	bufferevent_setcb(bev, NULL, peer_write_done, peer_event, p);
}

static void
peer_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev;

	(void)lis;
	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(fx.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, peer_read, NULL, peer_event, arg);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
peer_start(struct peer *p, enum script script)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(p, 0, sizeof(*p));
	p->script = script;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lis = evconnlistener_new_bind(fx.base, peer_accept, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(p->lis);
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(p->lis),
			     (struct sockaddr *)&sin, &len),
	    0);
	p->port = ntohs(sin.sin_port);
}

static struct cfg fetch_cfg;
static struct cfg_node fetch_nodes[3];
static struct peer peers[2];

/* node0 is this one; node1 and node2 are the stand-ins */
static void
fetch_setup(enum script s1, enum script s2, const char *origin)
{
	char hash[65];

	fetch_len = 300 * 1024 + 17;
	fetch_data = malloc(fetch_len);
	for (size_t i = 0; i < fetch_len; i++)
		fetch_data[i] = (uint8_t)(i * 31 + (i >> 9));
	crypto_sha256_hex(fetch_data, fetch_len, hash);
	peer_start(&peers[0], s1);
	peer_start(&peers[1], s2);
	memset(&fetch_cfg, 0, sizeof(fetch_cfg));
	memset(fetch_nodes, 0, sizeof(fetch_nodes));
	for (int i = 0; i < 3; i++) {
		snprintf(
		    fetch_nodes[i].id, sizeof(fetch_nodes[i].id), "node%d", i);
		snprintf(fetch_nodes[i].private_binding.host,
		    sizeof(fetch_nodes[i].private_binding.host), "127.0.0.1");
		fetch_nodes[i].private_binding.port =
		    i == 0 ? 1 : (uint16_t)peers[i - 1].port;
	}
	fetch_cfg.nodes = fetch_nodes;
	fetch_cfg.n_nodes = 3;
	fx.b->cfg = &fetch_cfg;
	crypto_root_key("a test secret", fx.b->root_key);
	record_of(&fx.raft.record, origin, fetch_len, hash);
	fetch_queue(
	    fx.b, "root", (const uint8_t *)"f/1", 3, fetch_len, hash, origin);
}

static void
fetch_teardown(void)
{
	evconnlistener_free(peers[0].lis);
	evconnlistener_free(peers[1].lis);
	free(fetch_data);
}

static bool
fetched(void)
{
	char path[256];
	struct stat st;
	uint8_t *got;
	bool same;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel_of("f/1"));
	if (stat(path, &st) == -1 || (size_t)st.st_size != fetch_len)
		return false;
	got = malloc(fetch_len);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, got, fetch_len), (ssize_t)fetch_len);
	close(fd);
	same = memcmp(got, fetch_data, fetch_len) == 0;
	free(got);
	return same;
}

static void
wait_fetched(int ms)
{
	for (int i = 0; i < ms / 10 && !fetched(); i++)
		settle(10);
}

START_TEST(test_fetch_sources)
{
	char want[4200];

	/* the receiving node (node2) first, then node1 in file order */
	fetch_setup(SC_FULL, SC_503, "node2");
	wait_fetched(5000);
	ck_assert(fetched());
	ck_assert_int_eq(peers[1].requests, 1);
	ck_assert_int_eq(peers[0].requests, 1);
	ck_assert_ptr_nonnull(strstr(peers[0].head,
	    "GET /db/internal/v1/blob/download?key=f%2F1&scope=root "
	    "HTTP/1.1\r\n"));
	snprintf(want, sizeof(want), "\r\nAuthorization: Bearer %s\r\n",
	    fx.b->root_key);
	ck_assert_ptr_nonnull(strstr(peers[0].head, want));
	ck_assert_ptr_null(strstr(peers[0].head, "Range:"));
	settle(100);
	ck_assert_uint_eq(fetch_queued(fx.b->fetch), 0);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	ck_assert_int_eq(fx.b->blob_count, 1);
	ck_assert_int_eq(fx.b->blob_bytes, (int64_t)fetch_len);
	fetch_teardown();
}
END_TEST

START_TEST(test_fetch_resume)
{
	/* node1 drops the connection half way; node2 gets a ranged call */
	fetch_setup(SC_HALF_THEN_CLOSE, SC_RANGE, "node1");
	wait_fetched(5000);
	ck_assert(fetched());
	ck_assert_int_eq(peers[0].requests, 1);
	ck_assert_int_eq(peers[1].requests, 1);
	ck_assert_ptr_nonnull(strstr(peers[1].head, "\r\nRange: bytes="));
	ck_assert_ptr_null(strstr(peers[1].head, "\r\nRange: bytes=0-"));
	fetch_teardown();
}
END_TEST

START_TEST(test_fetch_resume_next_round)
{
	char want[64];

	/* half the bytes, then nobody: the part waits for the next round */
	fetch_setup(SC_HALF_THEN_CLOSE, SC_503, "node1");
	for (int i = 0; i < 300 && peers[1].requests == 0; i++)
		settle(10);
	settle(100);
	ck_assert(!fetched());
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 1);
	peers[0].script = SC_RANGE;
	wait_fetched(3000);
	ck_assert(fetched());
	ck_assert_int_eq(peers[0].requests, 2);
	snprintf(
	    want, sizeof(want), "\r\nRange: bytes=%zu-\r\n", fetch_len / 2);
	ck_assert_ptr_nonnull(strstr(peers[0].head, want));
	settle(100);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	fetch_teardown();
}
END_TEST

START_TEST(test_fetch_retry)
{
	/* corrupt and unavailable: the round fails, and is retried 1 s on */
	fetch_setup(SC_CORRUPT, SC_503, "node1");
	for (int i = 0; i < 300 && peers[1].requests == 0; i++)
		settle(10);
	settle(100);
	ck_assert_int_eq(peers[0].requests, 1);
	ck_assert_int_eq(peers[1].requests, 1);
	ck_assert(!fetched());
	ck_assert_uint_eq(fetch_queued(fx.b->fetch), 1);
	ck_assert_uint_eq(fetch_running(fx.b->fetch), 0);
	peers[0].script = SC_FULL;
	wait_fetched(3000);
	ck_assert(fetched());
	ck_assert_int_eq(peers[0].requests, 2);
	fetch_teardown();
}
END_TEST

START_TEST(test_fetch_purged)
{
	/* nobody answers usefully: the job waits for its retry... */
	fetch_setup(SC_503, SC_503, "node1");
	for (int i = 0; i < 300 && peers[1].requests == 0; i++)
		settle(10);
	settle(100);
	ck_assert_uint_eq(fetch_queued(fx.b->fetch), 1);
	/* ...until the blob is purged */
	fetch_cancel(fx.b, "root", (const uint8_t *)"f/1", 3);
	settle(100);
	ck_assert_uint_eq(fetch_queued(fx.b->fetch), 0);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	settle(1500);
	ck_assert_int_eq(peers[0].requests, 1);
	fetch_teardown();
}
END_TEST

static void
stopped_cb(void *arg)
{
	*(bool *)arg = true;
}

START_TEST(test_stop)
{
	struct cmd_result res = { .status = ST_OK };
	struct ipc_msg m;
	uint64_t h, h2, h3;
	bool stopped = false;
	struct pbuf pb;

	fx.raft.hold_propose = true;
	ck_assert_uint_eq(up_begin("root", "committing", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_begin("root", "open", 0, &h2), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h2, 0, "abc"), BLOB_OK);
	/* the commit's proposal stays out until answered below */
	pb_init(&pb);
	pb_add_u64(&pb, h);
	pb_add_str(&pb, "o");
	pb_add_str(&pb, "n");
	pb_add_str(&pb, "t");
	memset(&m, 0, sizeof(m));
	m.hdr.type = MSG_BLOB_UP_COMMIT;
	m.payload = pb.data;
	m.len = pb.len;
	m.rctx = (struct ipc_rctx *)&fx.token;
	fx.replied = false;
	blobd_dispatch_apid(NULL, &m, fx.b);
	pb_free(&pb);
	for (int i = 0; i < 300 && fx.raft.held == NULL; i++)
		settle(10);
	ck_assert_ptr_nonnull(fx.raft.held);

	blobd_stop_begin(fx.b, stopped_cb, &stopped);
	/* the open upload is gone, the committing one waits */
	settle(300);
	ck_assert(!stopped);
	ck_assert_uint_eq(fx.b->nuploads, 1);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 1);
	ck_assert_uint_eq(up_begin("root", "late", 0, &h3), BLOB_BUSY);
	/* it applies: in place, answered, and the stop completes */
	pb_init(&pb);
	cmd_result_encode(&pb, &res);
	ipc_reply(fx.raft.held, MSG_RAFT_PROPOSE, pb.data, pb.len);
	pb_free(&pb);
	fx.raft.held = NULL;
	fx.replied = false;
	run_until(&stopped, 3000);
	ck_assert(stopped);
	ck_assert(fx.replied);
	ck_assert_uint_eq(fx.type, MSG_BLOB_UP_COMMIT);
	ck_assert(exists(rel_of("committing")));
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
}
END_TEST

/* over a real blobd.api channel, with chunks of the largest size */
struct api_call {
	bool done;
	int err;
	uint16_t status;
	uint64_t handle;
};

static void
api_got(int err, struct ipc_msg *m, void *arg)
{
	struct api_call *c = arg;
	struct pread r;

	c->done = true;
	c->err = err;
	if (err != 0)
		return;
	pr_init(&r, m->payload, m->len);
	pr_get_u16(&r, &c->status);
	if (m->hdr.type == MSG_BLOB_UP_BEGIN)
		pr_get_u64(&r, &c->handle);
}

static struct api_call
api_call(struct ipc_chan *ch, uint16_t type, struct pbuf *pb)
{
	struct api_call c = { 0 };

	ck_assert_int_eq(
	    ipc_call(ch, type, pb->data, pb->len, 10000, api_got, &c), 0);
	pb_free(pb);
	run_until(&c.done, 12000);
	ck_assert(c.done);
	ck_assert_int_eq(c.err, 0);
	return c;
}

START_TEST(test_api_channel)
{
	char url[128], home[64], hash[65], rel[BLOB_REL_MAX];
	struct ipc_chan *cli;
	struct api_call c;
	struct pbuf pb;
	uint8_t *data;
	size_t total = 2 * BLOB_CHUNK_MAX + 1000, off = 0, n;
	struct stat st;
	char path[256];

	fx.raft.propose_status = ST_OK;
	fx.b->reply_fn = NULL;
	snprintf(home, sizeof(home), "/check-blobd-%d", (int)getpid());
	ipc_url(url, sizeof(url), home, "node0", "blobd.api");
	fx.b->api = ipc_rep_listen(
	    fx.ipc, url, BLOBD_API_NCTX, blobd_dispatch_apid, fx.b);
	ck_assert_ptr_nonnull(fx.b->api);
	cli = ipc_req_dial(fx.ipc, url, 4);
	ck_assert_ptr_nonnull(cli);
	data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 7);
	pb_init(&pb);
	pb_add_str(&pb, "root");
	pb_add_bytes(&pb, "big", 3);
	pb_add_u64(&pb, 0);
	c = api_call(cli, MSG_BLOB_UP_BEGIN, &pb);
	ck_assert_uint_eq(c.status, BLOB_OK);
	while (off < total) {
		n = total - off < BLOB_CHUNK_MAX ? total - off : BLOB_CHUNK_MAX;
		pb_init(&pb);
		pb_add_u64(&pb, c.handle);
		pb_add_u64(&pb, off);
		pb_add_bytes(&pb, data + off, n);
		ck_assert_uint_eq(
		    api_call(cli, MSG_BLOB_UP_CHUNK, &pb).status, BLOB_OK);
		off += n;
	}
	pb_init(&pb);
	pb_add_u64(&pb, c.handle);
	pb_add_str(&pb, "o");
	pb_add_str(&pb, "n");
	pb_add_str(&pb, "t");
	ck_assert_uint_eq(
	    api_call(cli, MSG_BLOB_UP_COMMIT, &pb).status, BLOB_OK);
	blob_rel("root", (const uint8_t *)"big", 3, rel);
	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)total);
	crypto_sha256_hex(data, total, hash);
	pb_init(&pb);
	pb_add_str(&pb, "root");
	pb_add_bytes(&pb, "big", 3);
	pb_add_u64(&pb, total);
	pb_add_str(&pb, hash);
	ck_assert_uint_eq(
	    api_call(cli, MSG_BLOB_DOWN_OPEN, &pb).status, BLOB_OK);
	ipc_close(cli);
	free(data);
}
END_TEST

/* a job's done() runs exactly once, after its work, on the loop */
struct count_job {
	struct pool_job job;
	int *worked;
	int *done;
	int *stopped;
};

static void
count_work(struct pool_job *j)
{
	struct count_job *c = (struct count_job *)j;

	usleep(1000);
	__atomic_add_fetch(c->worked, 1, __ATOMIC_SEQ_CST);
}

static void
count_done(struct pool_job *j, bool stopping)
{
	struct count_job *c = (struct count_job *)j;

	(*c->done)++;
	if (stopping)
		(*c->stopped)++;
	free(c);
}

START_TEST(test_pool)
{
	struct event_base *base = event_base_new();
	int worked = 0, done = 0, stopped = 0, before;
	struct pool *p = pool_new(base, 2);
	struct count_job *c;

	for (int i = 0; i < 20; i++) {
		c = calloc(1, sizeof(*c));
		c->job.work = count_work;
		c->job.done = count_done;
		c->worked = &worked;
		c->done = &done;
		c->stopped = &stopped;
		pool_submit(p, &c->job);
	}
	ck_assert_uint_eq(pool_pending(p), 20);
	for (int i = 0; i < 2000 && done < 10; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
		    usleep(1000);
	ck_assert_int_ge(done, 10);
	ck_assert_int_eq(stopped, 0);
	before = done;
	/* the rest finish in pool_free, marked as stopping */
	pool_free(p);
	ck_assert_int_eq(worked, 20);
	ck_assert_int_eq(done, 20);
	ck_assert_int_eq(stopped, 20 - before);
	event_base_free(base);
}
END_TEST

static Suite *
blobd_suite(void)
{
	Suite *s = suite_create("blobd");
	TCase *tc;

	tc = tcase_create("pure");
	tcase_add_test(tc, test_scope_and_key);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_download_url);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_repair_decisions);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_test(tc, test_pool);
	suite_add_tcase(s, tc);

	tc = tcase_create("transfers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_upload_commit);
	tcase_add_test(tc, test_upload_refused);
	tcase_add_test(tc, test_upload_commit_unknown);
	tcase_add_test(tc, test_upload_limits);
	tcase_add_test(tc, test_download);
	tcase_add_test(tc, test_not_replicated);
	tcase_add_test(tc, test_purge);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_api_channel);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_repair_pass);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_fetch_sources);
	tcase_add_test(tc, test_fetch_resume);
	tcase_add_test(tc, test_fetch_resume_next_round);
	tcase_add_test(tc, test_fetch_retry);
	tcase_add_test(tc, test_fetch_purged);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	log_init("check_blobd", 1, LOG_LEVEL_WARN);
	evthread_use_pthreads();
	sr = srunner_create(blobd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
