/*
 * blobd: the pure parts (file names, download URL, fetch back-off, repair
 * decisions), the worker pool and, in one process against a temporary
 * directory (blobd_fixture.h), uploads, downloads, purges, status, the
 * blobd.api channel and the stop.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "blobd/paths.h"
#include "blobd/policy.h"
#include "blobd_fixture.h"
#include "common/log.h"

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

/* the key sent after the blob: BEGIN without it, COMMIT names it */
START_TEST(test_upload_late_key)
{
	char hash[65], key[BLOB_KEY_MAX + 2];
	uint64_t h, size;
	int cst;

	fx.raft.propose_status = ST_OK;
	ck_assert_uint_eq(up_begin("root", "", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	/* no key at either end: refused, the upload stays */
	ck_assert_uint_eq(up_commit(h, &size, hash, &cst), BLOB_BAD);
	ck_assert_int_eq(fx.raft.proposals, 0);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 1);
	ck_assert_uint_eq(
	    up_commit_key(h, "late/key", &size, hash, &cst), BLOB_OK);
	ck_assert_uint_eq(size, 3);
	ck_assert_str_eq(hash, SHA_ABC);
	ck_assert_int_eq(cst, ST_OK);
	ck_assert_int_eq(fx.raft.proposals, 1);
	ck_assert_uint_eq(fx.raft.last.key_len, 8);
	ck_assert_mem_eq(fx.raft.last.key, "late/key", 8);
	ck_assert(exists(rel_of("late/key")));
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);

	/* BEGIN named another key: refused, no proposal; the same one is
	 * accepted */
	ck_assert_uint_eq(up_begin("root", "k1", 0, &h), BLOB_OK);
	ck_assert_uint_eq(up_chunk(h, 0, "abc"), BLOB_OK);
	ck_assert_uint_eq(up_commit_key(h, "k2", &size, hash, &cst), BLOB_BAD);
	ck_assert_uint_eq(up_commit_key(h, "k", &size, hash, &cst), BLOB_BAD);
	ck_assert_uint_eq(up_commit_key(h, "k10", &size, hash, &cst), BLOB_BAD);
	ck_assert_int_eq(fx.raft.proposals, 1);
	ck_assert_uint_eq(up_commit_key(h, "k1", &size, hash, &cst), BLOB_OK);
	ck_assert_int_eq(fx.raft.proposals, 2);
	ck_assert_mem_eq(fx.raft.last.key, "k1", 2);
	ck_assert(exists(rel_of("k1")));
	ck_assert(!exists(rel_of("k2")));

	/* a late key of the wrong size is refused; abort removes the file */
	ck_assert_uint_eq(up_begin("root", "", 0, &h), BLOB_OK);
	memset(key, 'k', BLOB_KEY_MAX + 1);
	key[BLOB_KEY_MAX + 1] = '\0';
	ck_assert_uint_eq(up_commit_key(h, key, &size, hash, &cst), BLOB_BAD);
	ck_assert_int_eq(fx.raft.proposals, 2);
	ck_assert_uint_eq(simple(MSG_BLOB_UP_ABORT, h), BLOB_OK);
	settle(200);
	ck_assert_int_eq(count_dir(BLOB_TMP_DIR), 0);
	ck_assert_uint_eq(fx.b->nuploads, 0);
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
	{
		char key[BLOB_KEY_MAX + 2];

		memset(key, 'k', BLOB_KEY_MAX + 1);
		key[BLOB_KEY_MAX + 1] = '\0';
		ck_assert_uint_eq(up_begin("root", key, 0, &h), BLOB_BAD);
	}
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
	pb_add_bytes(&pb, "", 0);
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
	pb_add_bytes(&pb, "big", 3); /* BEGIN's, named again */
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
	tcase_add_test(tc, test_upload_late_key);
	tcase_add_test(tc, test_download);
	tcase_add_test(tc, test_not_replicated);
	tcase_add_test(tc, test_purge);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_api_channel);
	tcase_add_test(tc, test_stop);
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
