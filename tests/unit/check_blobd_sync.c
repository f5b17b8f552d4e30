/*
 * blobd keeping its copies in line with the metadata, in one process
 * against a temporary directory (blobd_fixture.h): the repair pass, the
 * applied-blob stream, and fetches from stand-in nodes on loopback.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
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

#include "blobd/paths.h"
#include "blobd/policy.h"
#include "blobd_fixture.h"
#include "common/log.h"

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

/* runs one repair pass to its end */
static void
repair_once(const char *why)
{
	repair_request(fx.b, why);
	for (int i = 0; i < 500 && repair_running(fx.b->repair); i++)
		settle(10);
	ck_assert(!repair_running(fx.b->repair));
}

/*
 * a blob whose file is missing still takes its turn of the re-hash: one
 * larger than a pass's budget must not hold the turn on itself while it
 * cannot be fetched, so the next pass re-hashes what follows it
 */
START_TEST(test_repair_rehash_turn_passes_missing)
{
	char path[256];

	mkdir(strcat(strcpy(path, fx.dir), "/root"), 0700);
	write_file(rel_of("after"), "abd");
	pb_init(&fx.raft.scan);
	pb_add_u32(&fx.raft.scan, 2);
	scan_entry(&fx.raft.scan, "huge", 0, REPAIR_REHASH_BYTES + 1, SHA_ABC);
	scan_entry(&fx.raft.scan, "after", 0, 3, SHA_ABC);
	pb_add_bytes(&fx.raft.scan, NULL, 0);

	fx.b->repair = repair_new(fx.b, 3600 * 1000);
	repair_once("first");
	/* the budget went to the missing one: the corrupt file is not seen */
	ck_assert(exists(rel_of("after")));
	repair_once("second");
	ck_assert(!exists(rel_of("after")));
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

static Suite *
blobd_sync_suite(void)
{
	Suite *s = suite_create("blobd_sync");
	TCase *tc;

	tc = tcase_create("sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_repair_pass);
	tcase_add_test(tc, test_repair_rehash_turn_passes_missing);
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

	log_init("check_blobd_sync", 1, LOG_LEVEL_WARN);
	evthread_use_pthreads();
	sr = srunner_create(blobd_sync_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
