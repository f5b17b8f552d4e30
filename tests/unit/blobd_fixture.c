/*
 * The in-process fixture of the blobd tests (blobd_fixture.h).
 */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "blobd_fixture.h"

struct fx fx;
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

void
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

void
settle(int ms)
{
	bool never = false;

	run_until(&never, ms);
}

/* sends one request and waits for its reply; returns its status */
uint16_t
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

uint16_t
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

uint16_t
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
uint16_t
up_commit(uint64_t handle, uint64_t *size, char hash[65], int *cmd_status)
{
	return up_commit_key(handle, "", size, hash, cmd_status);
}

uint16_t
up_commit_key(uint64_t handle, const char *key, uint64_t *size, char hash[65],
    int *cmd_status)
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
	pb_add_bytes(&pb, key, strlen(key));
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

uint16_t
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

uint16_t
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

uint16_t
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

int
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

void
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

void
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

void
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

/* the record READ_BLOB_GET answers */
void
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

void
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

bool
exists(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx.dir, rel);
	return access(path, F_OK) == 0;
}

const char *
rel_of(const char *key)
{
	static char rel[4][BLOB_REL_MAX];
	static int turn;
	char *r = rel[turn++ % 4];

	blob_rel("root", (const uint8_t *)key, strlen(key), r);
	return r;
}

/* one READ_BLOB_SCAN entry: str scope, bytes key, bytes record */
void
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

bool
key_read(const char *key)
{
	for (int i = 0; i < fx.raft.reads && i < 4; i++)
		if (strcmp(fx.raft.read_keys[i], key) == 0)
			return true;
	return false;
}
