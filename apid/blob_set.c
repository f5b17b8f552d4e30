/*
 * blob/set (API.md §13.1): the multipart body streams through the parser
 * into blobd, one chunk in flight, the socket paused while blobd works.
 * At most two chunks and one network read of the blob are held here.
 *
 * An upload outlives its request when the client goes away mid-body (the
 * connection layer frees a request whose body is still arriving), so its
 * state is counted: the request holds one reference, every call in flight
 * one, every callback one while it runs.  The last release aborts an
 * upload blobd still holds.
 *
 * A key part after the blob part (§13.1 allows it) is handled without
 * holding the blob: the upload begins at blobd without a key, on the quota
 * read when the blob part starts, and step 1 runs once the key arrives;
 * COMMIT names the key.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/blob_pure.h"
#include "apid/blobs.h"
#include "apid/data_req.h"
#include "apid/http_parse.h"
#include "apid/keys_rec.h"
#include "apid/multipart.h"
#include "common/log.h"
#include "proto/msg.h"

enum bup_part { P_NONE = 0, P_KEY, P_BLOB, P_OTHER };

struct bup {
	struct apid *a;
	struct areq *ar; /* NULL once the request is gone or answered */
	int refs;
	char scope[CMD_SCOPE_MAX + 1];
	bool root;
	char owner[CRYPTO_UUID_LEN + 1];
	struct mp *mp;
	char *key;
	size_t key_len;
	bool key_query;
	struct pbuf keypart;
	bool key_part_seen;
	enum bup_part part;
	size_t nonfile;
	int nblob;
	char *filename;
	char ctype[BLOB_CTYPE_MAX + 1];
	/* step 1 and the quota as known at the start */
	bool checking, checked, exists, tombstoned;
	bool has_quota, quota_read;
	uint64_t quota, usage, limit;
	uint64_t max_size;
	/* blobd */
	bool body_started, paused;
	bool begin_pending, chunk_pending, commit_pending;
	bool begun, commit_sent;
	uint64_t handle;
	struct pbuf pending; /* received, not yet sent */
	uint64_t total; /* blob bytes received */
	uint64_t sent; /* blob bytes handed to blobd */
	bool blob_ended, body_ended, answered;
};

static void bup_pump(struct bup *);
static int body_chunk(struct http_req *, const char *, size_t, void *);
static void body_done(struct http_req *, void *);

/*
 * The upload's life.
 */

static void
bup_hold(struct bup *b)
{
	b->refs++;
}

static void
bup_release(struct bup *b)
{
	if (--b->refs > 0)
		return;
	/* a transfer blobd still holds: its temporary file goes */
	if (b->begun && !b->commit_sent)
		blob_release_handle(MSG_BLOB_UP_ABORT, b->handle);
	mp_free(b->mp);
	free(b->key);
	free(b->filename);
	pb_free(&b->keypart);
	pb_free(&b->pending);
	free(b);
}

/* the request is being freed */
static void
bup_gone(void *arg)
{
	struct bup *b = arg;

	b->ar = NULL;
	bup_release(b);
}

static bool
bup_live(const struct bup *b)
{
	return b->ar != NULL && !b->answered;
}

static void
bup_headers(struct bup *b, struct pbuf *h)
{
	if (!b->checked)
		return;
	http_hdr_add(
	    h, "X-Blob-Already-Exists", "%s", b->exists ? "true" : "false");
	http_hdr_add(h, "X-Blob-Tombstone-Exists", "%s",
	    b->tombstoned ? "true" : "false");
}

static void
bup_fail(struct bup *b, int status, const char *type, const struct pbuf *extra,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
bup_fail(struct bup *b, int status, const char *type, const struct pbuf *extra,
    const char *fmt, ...)
{
	struct areq *ar = b->ar;
	char msg[512];
	struct pbuf h;
	va_list ap;

	if (!bup_live(b))
		return;
	b->answered = true;
	b->ar = NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pb_init(&h);
	bup_headers(b, &h);
	if (extra != NULL && extra->len > 0)
		pb_add_raw(&h, extra->data, extra->len);
	apid_error(ar, status, type, &h, "%s", msg);
	pb_free(&h);
}

static void
bup_retry(struct bup *b, const char *type, const char *msg)
{
	struct pbuf h;

	pb_init(&h);
	http_hdr_add(&h, "Retry-After", "1");
	bup_fail(b, 503, type, &h, "%s", msg);
	pb_free(&h);
}

static void
bup_tombstoned(struct bup *b)
{
	struct pbuf h;
	int64_t secs = b->a->env->cfg.blobs_gc_interval_ms / 1000 + 1;

	b->tombstoned = true;
	pb_init(&h);
	http_hdr_add(&h, "Retry-After", "%" PRId64, secs);
	bup_fail(b, 409, "BLOB_TOMBSTONED", &h,
	    "key: the blob is being deleted; upload again after garbage "
	    "collection");
	pb_free(&h);
}

static void
bup_disk_limit(struct bup *b, uint64_t usage, uint64_t limit)
{
	struct pbuf h;

	pb_init(&h);
	http_hdr_add(&h, "X-Current-Disk-Usage", "%" PRIu64, usage);
	http_hdr_add(&h, "X-Disk-Usage-Limit", "%" PRIu64, limit);
	bup_fail(b, 400, "DISK_LIMIT_EXCEEDED", &h,
	    "blob: disk usage would pass its limit");
	pb_free(&h);
}

static void
bup_ipc_error(struct bup *b, int err, const char *what)
{
	if (err == ETIMEDOUT || err == ECONNREFUSED || err == EAGAIN)
		bup_retry(b, "NO_LEADER", what);
	else
		bup_fail(b, 500, "INTERNAL_ERROR", NULL, "%s", what);
}

/*
 * Step 1: metadata and tombstone, then the quota.
 */

static void
bup_read(struct bup *b, uint16_t op, blob_ipc_cb cb)
{
	struct read_req q;
	struct pbuf p;

	memset(&q, 0, sizeof(q));
	q.op = op;
	q.consistency = READ_LOCAL;
	snprintf(q.scope, sizeof(q.scope), "%s", b->scope);
	if (op == READ_BLOB_GET) {
		q.key = (const uint8_t *)b->key;
		q.key_len = b->key_len;
	}
	pb_init(&p);
	read_req_encode(&p, &q);
	bup_hold(b);
	blob_ipc(b->a->raft, MSG_RAFT_READ, &p, APID_READ_WAIT_MS, cb, b);
	pb_free(&p);
}

/* the read's status; -1 after answering */
static int
bup_read_status(struct bup *b, int err, const uint8_t *p, size_t len,
    struct pread *rest, uint16_t *st)
{
	uint8_t consistency;

	if (err != 0) {
		bup_ipc_error(b, err, "state machine unreachable");
		return -1;
	}
	pr_init(rest, p, len);
	pr_get_u16(rest, st);
	pr_get_u8(rest, &consistency);
	if (rest->err)
		fatalx("%s: malformed read result from raftd", __func__);
	return 0;
}

static void
bup_checked(struct bup *b)
{
	b->checking = false;
	if (!b->body_started) {
		if (b->ar->req->conn == NULL) {
			bup_fail(b, 500, "INTERNAL_ERROR", NULL, "gone");
			return;
		}
		b->body_started = true;
		http_req_stream_body(b->ar->req, body_chunk, body_done, b);
		return;
	}
	bup_pump(b);
}

static void
limits_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct bup *b = arg;
	struct limitsrec l;
	struct pread rest;
	uint64_t usage[4];
	uint16_t st;

	if (bup_live(b) && bup_read_status(b, err, p, len, &rest, &st) == 0) {
		if (st != ST_OK || limitsrec_get(&rest, &l) == -1)
			fatalx("%s: malformed limits result", __func__);
		for (int i = 0; i < 4; i++)
			pr_get_u64(&rest, &usage[i]);
		if (rest.err)
			fatalx("%s: malformed limits result", __func__);
		b->has_quota = (l.mask & 1) != 0;
		b->limit = l.v[0];
		b->usage = usage[0];
		b->quota = b->limit > b->usage ? b->limit - b->usage : 0;
		b->quota_read = true;
		bup_checked(b);
	}
	bup_release(b);
}

static void
meta_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct bup *b = arg;
	struct blob_meta m;
	const uint8_t *rec;
	struct pread rest;
	size_t rlen;
	uint16_t st;

	if (!bup_live(b) || bup_read_status(b, err, p, len, &rest, &st) == -1)
		goto out;
	if (st == ST_OK) {
		if (pr_get_bytes(&rest, &rec, &rlen) == -1 ||
		    blob_meta_decode(rec, rlen, &m) == -1)
			fatalx("%s: malformed blob record", __func__);
		b->tombstoned = m.state == 1;
		b->exists = m.state == 0;
	} else if (st != ST_NOT_FOUND) {
		bup_ipc_error(b, EIO, "state machine read failed");
		goto out;
	}
	b->checked = true;
	if (b->tombstoned)
		bup_tombstoned(b);
	else if (b->exists)
		bup_fail(b, 409, "KEY_EXISTS", NULL,
		    "key: a blob with this key exists");
	else if (!b->root && !b->quota_read)
		bup_read(b, READ_LIMITS, limits_got);
	else
		bup_checked(b);
out:
	bup_release(b);
}

static void
bup_check(struct bup *b)
{
	b->checking = true;
	bup_read(b, READ_BLOB_GET, meta_got);
}

/* the blob part starts before the key: the quota as known now */
static void
bup_read_quota(struct bup *b)
{
	b->checking = true;
	bup_read(b, READ_LIMITS, limits_got);
}

/*
 * Steps 2-5 with blobd.
 */

static void
begin_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct bup *b = arg;
	struct pread r;
	uint16_t st = BLOB_OK;

	b->begin_pending = false;
	if (err == 0) {
		pr_init(&r, p, len);
		pr_get_u16(&r, &st);
		if (st == BLOB_OK)
			pr_get_u64(&r, &b->handle);
		if (r.err)
			fatalx("%s: malformed reply from blobd", __func__);
		/* known from here on: the last release aborts it */
		b->begun = st == BLOB_OK;
	}
	if (!bup_live(b))
		goto out;
	if (err != 0)
		bup_fail(
		    b, 500, "INTERNAL_ERROR", NULL, "blob store unreachable");
	else if (st != BLOB_OK)
		bup_fail(b, 500, "INTERNAL_ERROR", NULL,
		    "blob store refused the upload (status %u)", st);
	else
		bup_pump(b);
out:
	bup_release(b);
}

static void
bup_begin(struct bup *b)
{
	uint64_t max = b->max_size;
	struct pbuf p;

	if (b->has_quota && (max == 0 || b->quota < max))
		max = b->quota;
	pb_init(&p);
	pb_add_str(&p, b->scope);
	/* empty while the key part is still to come */
	pb_add_bytes(&p, b->key != NULL ? b->key : "", b->key_len);
	pb_add_u64(&p, max);
	b->begin_pending = true;
	bup_hold(b);
	blob_ipc(
	    apid_blobd(), MSG_BLOB_UP_BEGIN, &p, BLOB_CALL_MS, begin_got, b);
	pb_free(&p);
}

/* which limit a size passes, answering for it; -1 then */
static int
bup_over(struct bup *b, uint64_t size)
{
	if (b->max_size > 0 && size > b->max_size) {
		bup_fail(b, 413, "PAYLOAD_TOO_LARGE", NULL,
		    "blob: larger than %" PRIu64 " bytes", b->max_size);
		return -1;
	}
	if (b->has_quota && size > b->quota) {
		bup_disk_limit(b, b->usage, b->limit);
		return -1;
	}
	return 0;
}

static void
chunk_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct bup *b = arg;
	struct pread r;
	uint16_t st = BLOB_OK;

	b->chunk_pending = false;
	if (err == 0) {
		pr_init(&r, p, len);
		if (pr_get_u16(&r, &st) == -1)
			fatalx("%s: malformed reply from blobd", __func__);
		/* past max_bytes blobd drops the upload itself */
		if (st == BLOB_TOO_BIG || st == BLOB_NO_HANDLE)
			b->begun = false;
	}
	if (!bup_live(b))
		goto out;
	if (err != 0)
		bup_fail(
		    b, 500, "INTERNAL_ERROR", NULL, "blob store unreachable");
	else if (st == BLOB_TOO_BIG) {
		if (bup_over(b, b->total + 1) == 0)
			bup_fail(b, 413, "PAYLOAD_TOO_LARGE", NULL,
			    "blob: too large");
	} else if (st != BLOB_OK)
		bup_fail(b, 500, "INTERNAL_ERROR", NULL,
		    "blob store write failed (status %u)", st);
	else
		bup_pump(b);
out:
	bup_release(b);
}

static void
bup_send_chunk(struct bup *b)
{
	size_t n =
	    b->pending.len < BLOB_CHUNK_MAX ? b->pending.len : BLOB_CHUNK_MAX;
	struct pbuf p;

	pb_init(&p);
	pb_add_u64(&p, b->handle);
	pb_add_u64(&p, b->sent);
	pb_add_bytes(&p, b->pending.data, n);
	memmove(b->pending.data, b->pending.data + n, b->pending.len - n);
	b->pending.len -= n;
	b->sent += n;
	b->chunk_pending = true;
	bup_hold(b);
	blob_ipc(
	    apid_blobd(), MSG_BLOB_UP_CHUNK, &p, BLOB_CALL_MS, chunk_got, b);
	pb_free(&p);
}

static void
bup_result_error(struct bup *b, const struct cmd_result *res)
{
	struct pbuf h;

	switch (res->status) {
	case ST_BLOB_TOMBSTONED:
		bup_tombstoned(b);
		break;
	case ST_KEY_EXISTS:
		b->exists = true;
		bup_fail(b, 409, "KEY_EXISTS", NULL,
		    "key: a blob with this key exists");
		break;
	case ST_DISK_LIMIT:
		bup_disk_limit(b, res->usage, res->limit);
		break;
	case ST_NO_LEADER:
	case ST_NOT_LEADER:
		bup_retry(b, "NO_LEADER", "no leader known");
		break;
	case ST_API_KEY_NOT_FOUND:
		/* the key was deleted while its upload ran */
		pb_init(&h);
		http_hdr_add(&h, "WWW-Authenticate", "Bearer");
		bup_fail(
		    b, 401, "AUTHENTICATION_FAILED", &h, "the key was deleted");
		pb_free(&h);
		break;
	case ST_COMMIT_UNKNOWN:
		bup_retry(b, "COMMIT_UNKNOWN",
		    "the write was not confirmed in time; it may still apply");
		break;
	default:
		bup_fail(b, 500, "INTERNAL_ERROR", NULL,
		    "internal error (status %u)", res->status);
		break;
	}
}

static void
commit_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct bup *b = arg;
	struct cmd_result res;
	const uint8_t *hash;
	struct areq *ar;
	uint64_t size;
	size_t hlen;
	struct pread r;
	struct pbuf h, body;
	uint16_t st = BLOB_IO;
	bool have_res = false;

	b->commit_pending = false;
	if (err == 0) {
		pr_init(&r, p, len);
		pr_get_u16(&r, &st);
		pr_get_u64(&r, &size);
		pr_get_bytes(&r, &hash, &hlen);
		if (r.err == 0 && pr_remaining(&r) > 0) {
			if (cmd_result_decode(
				r.p + r.off, pr_remaining(&r), &res) == -1)
				fatalx("%s: malformed result", __func__);
			have_res = true;
		} else if (r.err)
			fatalx("%s: malformed reply from blobd", __func__);
	}
	if (!bup_live(b))
		goto out;
	if (err == ETIMEDOUT)
		bup_retry(b, "COMMIT_UNKNOWN",
		    "the upload was not confirmed in time; it may still apply");
	else if (err != 0)
		bup_fail(
		    b, 500, "INTERNAL_ERROR", NULL, "blob store unreachable");
	else if (have_res && res.status != ST_OK)
		bup_result_error(b, &res);
	else if (st == BLOB_RAFT)
		bup_retry(b, "NO_LEADER", "the proposal failed");
	else if (st != BLOB_OK)
		bup_fail(b, 500, "INTERNAL_ERROR", NULL,
		    "blob store commit failed (status %u)", st);
	else {
		ar = b->ar;
		b->answered = true;
		b->ar = NULL;
		pb_init(&h);
		bup_headers(b, &h);
		pb_init(&body);
		pb_add_lit(&body, "{}\n");
		apid_reply(ar, 200, &h, &body);
		pb_free(&h);
		pb_free(&body);
	}
out:
	bup_release(b);
}

static void
bup_commit(struct bup *b)
{
	struct pbuf p;

	if (b->key == NULL)
		fatalx("%s: no key at commit", __func__);
	pb_init(&p);
	pb_add_u64(&p, b->handle);
	pb_add_str(&p, b->owner);
	pb_add_str(&p, b->filename != NULL ? b->filename : "");
	pb_add_str(&p, b->ctype);
	pb_add_bytes(&p, b->key, b->key_len);
	b->commit_pending = true;
	b->commit_sent = true;
	bup_hold(b);
	blob_ipc(apid_blobd(), MSG_BLOB_UP_COMMIT, &p, BLOB_COMMIT_MS,
	    commit_got, b);
	pb_free(&p);
}

/* the next step once nothing is in flight */
static void
bup_pump(struct bup *b)
{
	if (!bup_live(b) || b->checking || b->begin_pending ||
	    b->chunk_pending || b->commit_pending)
		return;
	/* step 1 once the key is known, after what is in flight */
	if (b->key != NULL && !b->checked) {
		bup_check(b);
		return;
	}
	if (b->nblob == 1 && !b->begun) {
		if (!b->root && !b->quota_read)
			bup_read_quota(b);
		else
			bup_begin(b);
		return;
	}
	if (b->begun && b->pending.len > 0 &&
	    (b->pending.len >= BLOB_CHUNK_MAX || b->blob_ended)) {
		bup_send_chunk(b);
		return;
	}
	if (b->body_ended) {
		if (b->begun && b->blob_ended && b->pending.len == 0)
			bup_commit(b);
		return;
	}
	if (b->paused && b->pending.len < BLOB_CHUNK_MAX) {
		b->paused = false;
		http_req_resume_body(b->ar->req);
	}
}

/*
 * The multipart body.
 */

static int
part_begin(void *arg, const struct mp_part *mp)
{
	struct bup *b = arg;
	bool named_key = mp->has_name && mp->name_len == 3 &&
	    memcmp(mp->name, "key", 3) == 0;
	bool named_blob = mp->has_name && mp->name_len == 4 &&
	    memcmp(mp->name, "blob", 4) == 0;

	b->part = P_OTHER;
	if (named_key && !b->key_query && !b->key_part_seen) {
		b->part = P_KEY;
		b->key_part_seen = true;
		return 0;
	}
	if (!named_blob)
		return 0;
	if (++b->nblob > 1) {
		bup_fail(b, 400, "BAD_REQUEST", NULL,
		    "blob: more than one blob part");
		return -1;
	}
	b->part = P_BLOB;
	if (mp->has_filename &&
	    (b->filename = strndup(mp->filename, mp->filename_len)) == NULL)
		fatal("%s: strndup", __func__);
	if (mp->has_content_type &&
	    blob_media_type_valid(mp->content_type, mp->content_type_len)) {
		memcpy(b->ctype, mp->content_type, mp->content_type_len);
		b->ctype[mp->content_type_len] = '\0';
	}
	bup_pump(b);
	return 0;
}

static int
part_data(void *arg, const char *p, size_t n)
{
	struct bup *b = arg;

	if (b->part != P_BLOB) {
		b->nonfile += n;
		if (b->nonfile > BLOB_NONFILE_MAX) {
			bup_fail(b, 413, "PAYLOAD_TOO_LARGE", NULL,
			    "non-file parts: larger than %d bytes",
			    BLOB_NONFILE_MAX);
			return -1;
		}
		if (b->part == P_KEY)
			pb_add_raw(&b->keypart, p, n);
		return 0;
	}
	b->total += n;
	if (bup_over(b, b->total) == -1)
		return -1;
	pb_add_raw(&b->pending, p, n);
	if (b->pending.err)
		fatalx("%s: out of memory", __func__);
	return 0;
}

static int
part_end(void *arg)
{
	struct bup *b = arg;

	switch (b->part) {
	case P_KEY:
		switch (http_key_check(b->keypart.data, b->keypart.len)) {
		case 0:
			break;
		case 413:
			bup_fail(b, 413, "PAYLOAD_TOO_LARGE", NULL,
			    "key: longer than %d bytes", HTTP_KEY_MAX);
			return -1;
		default:
			bup_fail(b, 400, "BAD_REQUEST", NULL,
			    "key: must be 1-%d bytes of UTF-8 without NUL",
			    HTTP_KEY_MAX);
			return -1;
		}
		b->key_len = b->keypart.len;
		if ((b->key = malloc(b->key_len + 1)) == NULL)
			fatal("%s: malloc", __func__);
		memcpy(b->key, b->keypart.data, b->key_len);
		b->key[b->key_len] = '\0';
		bup_pump(b);
		break;
	case P_BLOB:
		b->blob_ended = true;
		bup_pump(b);
		break;
	default:
		break;
	}
	b->part = P_NONE;
	return 0;
}

static const struct mp_callbacks bup_mp_cbs = { part_begin, part_data,
	part_end };

static int
body_chunk(struct http_req *req, const char *p, size_t n, void *arg)
{
	struct bup *b = arg;
	int rc = 0;

	bup_hold(b);
	if (!bup_live(b))
		rc = -1;
	else if (mp_feed(b->mp, p, n) != MP_OK) {
		if (bup_live(b))
			bup_fail(b, 400, "BAD_REQUEST", NULL,
			    "body: malformed multipart/form-data: %s",
			    mp_error(b->mp));
		rc = -1;
	} else {
		/* a chunk may be due */
		bup_pump(b);
		/* back-pressure: blobd (or raftd) first */
		if (bup_live(b) && !b->paused &&
		    (b->checking || b->begin_pending ||
			b->pending.len >= BLOB_CHUNK_MAX)) {
			b->paused = true;
			http_req_pause_body(req);
		}
	}
	bup_release(b);
	return rc;
}

static void
body_done(struct http_req *req, void *arg)
{
	struct bup *b = arg;

	(void)req;
	bup_hold(b);
	if (!bup_live(b))
		goto out;
	if (mp_finish(b->mp) != MP_OK) {
		bup_fail(b, 400, "BAD_REQUEST", NULL,
		    "body: malformed multipart/form-data: %s", mp_error(b->mp));
		goto out;
	}
	b->body_ended = true;
	if (b->key == NULL)
		bup_fail(b, 400, "BAD_REQUEST", NULL,
		    "key: required (a key part or the query parameter)");
	else if (b->nblob == 0)
		bup_fail(b, 400, "BAD_REQUEST", NULL, "blob: required");
	else
		bup_pump(b);
out:
	bup_release(b);
}

static struct bup *
bup_new(struct areq *ar, const char *boundary)
{
	struct bup *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s: calloc", __func__);
	b->a = ar->a;
	b->ar = ar;
	b->refs = 1; /* the request's */
	snprintf(b->scope, sizeof(b->scope), "%s", ar->id.scope);
	snprintf(b->owner, sizeof(b->owner), "%s", ar->id.key_uuid);
	b->root = ar->id.root;
	b->max_size = ar->a->env->cfg.blobs_max_size > 0
	    ? (uint64_t)ar->a->env->cfg.blobs_max_size
	    : 0;
	snprintf(b->ctype, sizeof(b->ctype), "%s", BLOB_CTYPE_DEFAULT);
	pb_init(&b->keypart);
	pb_init(&b->pending);
	if ((b->mp = mp_new(boundary, &bup_mp_cbs, b)) == NULL)
		fatalx("%s: boundary refused after checking", __func__);
	ar->hstate = b;
	ar->hstate_free = bup_gone;
	return b;
}

void
apid_blob_set(struct areq *ar)
{
	char boundary[MP_BOUNDARY_MAX + 1];
	const char *ct;
	struct bup *b;
	size_t ctlen = 0, klen;
	char *k;
	int rc;

	ct = http_req_header(ar->req, "Content-Type", &ctlen);
	rc = ct != NULL ? mp_content_type(ct, ctlen, boundary, sizeof(boundary))
			: 0;
	if (rc == 0) {
		apid_error(ar, 415, "UNSUPPORTED_MEDIA_TYPE", NULL,
		    "Content-Type: must be multipart/form-data");
		return;
	}
	if (rc == -1) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "Content-Type: boundary missing or invalid");
		return;
	}
	if ((rc = apid_query(ar, "key", &k, &klen)) == -1)
		return;
	if (rc == 1 && apid_check_key(ar, "key", k, klen) == -1) {
		free(k);
		return;
	}
	b = bup_new(ar, boundary);
	if (rc == 1) {
		b->key = k;
		b->key_len = klen;
		b->key_query = true;
		bup_check(b);
		return;
	}
	b->body_started = true;
	http_req_stream_body(ar->req, body_chunk, body_done, b);
}
