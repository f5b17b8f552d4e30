/*
 * blob/get (API.md §13.2) and the internal download of §18.1: the
 * metadata from raftd, the bytes from blobd in chunks, one read in
 * flight and none while the client's output is full, so a transfer holds
 * at most a chunk plus HTTP_OUT_HIGH of output.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid/blob_pure.h"
#include "apid/blobs.h"
#include "apid/data_req.h"
#include "apid/http_parse.h"
#include "common/log.h"
#include "proto/msg.h"

struct bdl {
	char hash[BLOB_HASH_LEN + 1];
	char ctype[BLOB_CTYPE_MAX + 1];
	char date[BLOB_DATE_LEN];
	uint64_t size;
	uint8_t consistency;
	bool internal;
	char *key;
	size_t key_len;
	uint64_t handle;
	bool opened, reading;
	uint64_t off, end; /* next byte to send, one past the last */
};

static void
bdl_free(void *arg)
{
	struct bdl *d = arg;

	if (d->opened)
		blob_release_handle(MSG_BLOB_DOWN_CLOSE, d->handle);
	free(d->key);
	free(d);
}

/* headers every answer about the blob carries */
static void
bdl_headers(struct bdl *d, struct pbuf *h)
{
	if (!d->internal)
		apid_consistency_hdr(h, d->consistency);
	http_hdr_add(h, "ETag", "\"%s\"", d->hash);
	http_hdr_add(h, "Last-Modified", "%s", d->date);
	http_hdr_add(h, "Accept-Ranges", "bytes");
	http_hdr_add(h, "X-Content-Type-Options", "nosniff");
	http_hdr_add(h, "Content-Security-Policy", "sandbox");
}

/*
 * The body.
 */

static void bdl_pump(struct areq *);

static void
bdl_finish(struct areq *ar)
{
	struct bdl *d = ar->hstate;

	if (d->opened) {
		blob_release_handle(MSG_BLOB_DOWN_CLOSE, d->handle);
		d->opened = false;
	}
	/* a short body closes the connection (conn.c) */
	http_stream_end(ar->req);
}

static void
read_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct areq *ar = arg;
	struct bdl *d = ar->hstate;
	const uint8_t *data;
	struct pread r;
	uint16_t st = BLOB_IO;
	size_t n = 0;

	d->reading = false;
	if (err == 0) {
		pr_init(&r, p, len);
		pr_get_u16(&r, &st);
		if (st == BLOB_OK && pr_get_bytes(&r, &data, &n) == -1)
			fatalx("%s: malformed reply from blobd", __func__);
	}
	if (err != 0 || st != BLOB_OK || n == 0 || n > d->end - d->off) {
		log_warnx("blob download: read at %" PRIu64 " failed (%s, "
			  "status %u, %zu bytes)",
		    d->off, err ? strerror(err) : "ok", st, n);
		bdl_finish(ar);
		return;
	}
	http_stream_write(ar->req, data, n);
	d->off += n;
	bdl_pump(ar);
}

static void
bdl_pump(struct areq *ar)
{
	struct bdl *d = ar->hstate;
	uint64_t want = d->end - d->off;
	struct pbuf b;

	if (d->reading)
		return;
	if (ar->req->conn == NULL || d->off == d->end) {
		bdl_finish(ar);
		return;
	}
	if (!http_stream_room(ar->req))
		return; /* drained() comes back */
	if (want > BLOB_CHUNK_MAX)
		want = BLOB_CHUNK_MAX;
	pb_init(&b);
	pb_add_u64(&b, d->handle);
	pb_add_u64(&b, d->off);
	pb_add_u32(&b, (uint32_t)want);
	d->reading = true;
	blob_ipc(
	    apid_blobd(), MSG_BLOB_DOWN_READ, &b, BLOB_CALL_MS, read_got, ar);
	pb_free(&b);
}

static void
bdl_drained(struct http_req *req, void *arg)
{
	(void)req;
	bdl_pump(arg);
}

/*
 * The head: conditionals and ranges.
 */

/* If-Range names this blob: its ETag or its Last-Modified date */
static bool
if_range_holds(struct areq *ar, struct bdl *d)
{
	char etag[BLOB_HASH_LEN + 3];
	const char *v;
	size_t len;

	if ((v = http_req_header(ar->req, "If-Range", &len)) == NULL)
		return true;
	snprintf(etag, sizeof(etag), "\"%s\"", d->hash);
	return strcmp(v, etag) == 0 || strcmp(v, d->date) == 0;
}

static void
bdl_answer(struct areq *ar)
{
	struct bdl *d = ar->hstate;
	enum blob_range rk = BLOB_RANGE_WHOLE;
	uint64_t first = 0, last = 0;
	const char *v;
	struct pbuf h;
	size_t len;
	int status = 200;

	pb_init(&h);
	bdl_headers(d, &h);
	v = http_req_header(ar->req, "If-None-Match", &len);
	if (v != NULL && blob_etag_matches(v, len, d->hash)) {
		http_respond(ar->req, 304, &h, NULL, NULL, 0);
		pb_free(&h);
		return;
	}
	v = http_req_header(ar->req, "Range", &len);
	if (v != NULL && if_range_holds(ar, d))
		rk = blob_range_parse(v, len, d->size, &first, &last);
	d->off = 0;
	d->end = d->size;
	if (rk == BLOB_RANGE_UNSATISFIABLE) {
		http_hdr_add(&h, "Content-Range", "bytes */%" PRIu64, d->size);
		apid_error(ar, 416, "RANGE_NOT_SATISFIABLE", &h,
		    "Range: outside the blob's %" PRIu64 " bytes", d->size);
		pb_free(&h);
		return;
	}
	if (rk == BLOB_RANGE_PART) {
		status = 206;
		d->off = first;
		d->end = last + 1;
		http_hdr_add(&h, "Content-Range",
		    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
		    d->size);
	}
	if (http_req_is_head(ar->req))
		http_respond(ar->req, status, &h, d->ctype, NULL,
		    (size_t)(d->end - d->off));
	else {
		http_stream_begin(ar->req, status, &h, d->ctype,
		    d->end - d->off, bdl_drained, ar);
		bdl_pump(ar);
	}
	pb_free(&h);
}

static void
open_got(void *arg, int err, const uint8_t *p, size_t len)
{
	struct areq *ar = arg;
	struct bdl *d = ar->hstate;
	struct pread r;
	uint16_t st = BLOB_IO;
	struct pbuf h;

	if (err == 0) {
		pr_init(&r, p, len);
		pr_get_u16(&r, &st);
		if (st == BLOB_OK && pr_get_u64(&r, &d->handle) == -1)
			fatalx("%s: malformed reply from blobd", __func__);
		d->opened = st == BLOB_OK;
	}
	if (err != 0) {
		apid_error(
		    ar, 500, "INTERNAL_ERROR", NULL, "blob store unreachable");
		return;
	}
	if (st != BLOB_OK) {
		pb_init(&h);
		if (!d->internal)
			apid_consistency_hdr(&h, d->consistency);
		blob_status_error(ar, st, &h);
		pb_free(&h);
		return;
	}
	bdl_answer(ar);
}

static void
meta_got(struct areq *ar, int err, const uint8_t *p, size_t len)
{
	struct bdl *d = ar->hstate;
	struct read_reply rr;
	struct blob_meta m;
	const uint8_t *rec;
	struct pbuf b, h;
	size_t rlen;

	if (apid_read_check(ar, err, p, len, &rr) == -1)
		return;
	if (pr_get_bytes(&rr.rest, &rec, &rlen) == -1 ||
	    blob_meta_decode(rec, rlen, &m) == -1)
		fatalx("%s: malformed blob record from raftd", __func__);
	d->consistency = rr.consistency;
	if (m.state != 0) {
		pb_init(&h);
		if (!d->internal)
			apid_consistency_hdr(&h, d->consistency);
		apid_error(ar, 404, "KEY_NOT_FOUND", &h, "key not found");
		pb_free(&h);
		return;
	}
	memcpy(d->hash, m.hash, BLOB_HASH_LEN);
	d->size = m.size;
	/* it becomes a header line: only what an upload could have stored */
	if (blob_media_type_valid((const char *)m.ctype, m.ctype_len)) {
		memcpy(d->ctype, m.ctype, m.ctype_len);
		d->ctype[m.ctype_len] = '\0';
	}
	blob_http_date(m.uploaded_at, d->date, sizeof(d->date));
	pb_init(&b);
	pb_add_str(&b, ar->id.scope);
	pb_add_bytes(&b, d->key, d->key_len);
	pb_add_u64(&b, d->size);
	pb_add_str(&b, d->hash);
	blob_ipc(
	    apid_blobd(), MSG_BLOB_DOWN_OPEN, &b, BLOB_CALL_MS, open_got, ar);
	pb_free(&b);
}

static void
bdl_start(struct areq *ar, char *key, size_t klen, bool internal)
{
	struct read_req q;
	struct bdl *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("%s: calloc", __func__);
	d->key = key;
	d->key_len = klen;
	d->internal = internal;
	snprintf(d->ctype, sizeof(d->ctype), "%s", BLOB_CTYPE_DEFAULT);
	ar->hstate = d;
	ar->hstate_free = bdl_free;
	memset(&q, 0, sizeof(q));
	q.op = READ_BLOB_GET;
	q.key = (const uint8_t *)key;
	q.key_len = klen;
	apid_read_send(ar, &q, meta_got);
}

/* a required query parameter; NULL after answering */
static char *
required_param(struct areq *ar, const char *name, size_t *len)
{
	char *v;
	int rc;

	if ((rc = apid_query(ar, name, &v, len)) == -1)
		return NULL;
	if (rc == 0) {
		apid_error(ar, 400, "BAD_REQUEST", NULL, "%s: required", name);
		return NULL;
	}
	return v;
}

void
apid_blob_get(struct areq *ar)
{
	size_t klen;
	char *k;

	if (apid_query_consistency(ar) == -1 ||
	    (k = required_param(ar, "key", &klen)) == NULL)
		return;
	if (apid_check_key(ar, "key", k, klen) == -1) {
		free(k);
		return;
	}
	bdl_start(ar, k, klen, false);
}

void
apid_blob_download(struct areq *ar)
{
	size_t klen, slen;
	char *k, *s;

	if ((k = required_param(ar, "key", &klen)) == NULL)
		return;
	if ((s = required_param(ar, "scope", &slen)) == NULL) {
		free(k);
		return;
	}
	if (apid_check_key(ar, "key", k, klen) == -1) {
		free(k);
		free(s);
		return;
	}
	if (slen == 0 || slen > CMD_SCOPE_MAX || strlen(s) != slen) {
		apid_error(ar, 400, "BAD_REQUEST", NULL,
		    "scope: must be 1-%d bytes", CMD_SCOPE_MAX);
		free(k);
		free(s);
		return;
	}
	/* the root key reads any scope, only here */
	snprintf(ar->id.scope, sizeof(ar->id.scope), "%s", s);
	free(s);
	ar->consistency = READ_LOCAL;
	bdl_start(ar, k, klen, true);
}
