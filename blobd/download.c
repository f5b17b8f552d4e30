/*
 * Downloads (MSG_BLOB_DOWN_*, API.md §13.2, §18.1): apid names the blob
 * with its metadata's size and hash; the file must be here with that
 * size, else BLOB_NOT_REPLICATED and a fetch is queued.  Reads run on the
 * pool; one request per handle is in flight at a time.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

enum download_op { DOWN_OPEN, DOWN_READ };

struct download {
	TAILQ_ENTRY(download) entry;
	struct blobd *b;
	uint64_t handle;
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *key;
	size_t key_len;
	uint64_t size;
	char hash[65];
	int64_t last_ms;
	bool busy;
	bool listed;
	struct ipc_rctx *rctx;

	/* the worker's side */
	struct pool_job job;
	enum download_op op;
	int dirfd;
	int fd;
	char rel[BLOB_REL_MAX];
	bool missing; /* absent or of another size */
	uint64_t offset;
	uint8_t *buf;
	size_t len; /* asked, then read */
	int err;
};

static void
download_free(struct download *d)
{
	if (d->listed) {
		TAILQ_REMOVE(&d->b->downloads, d, entry);
		d->b->ndownloads--;
	}
	if (d->fd != -1)
		close(d->fd);
	free(d->key);
	free(d->buf);
	free(d);
}

static void
download_work(struct pool_job *j)
{
	struct download *d =
	    (struct download *)((char *)j - offsetof(struct download, job));
	struct stat st;
	size_t got = 0;
	ssize_t n;

	d->err = 0;
	if (d->op == DOWN_OPEN) {
		d->fd =
		    openat(d->dirfd, d->rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (d->fd == -1) {
			d->missing = errno == ENOENT;
			d->err = d->missing ? 0 : errno;
		} else if (fstat(d->fd, &st) == -1)
			d->err = errno;
		else if (!S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size != d->size)
			d->missing = true;
		return;
	}
	while (got < d->len) {
		n = pread(d->fd, d->buf + got, d->len - got,
		    (off_t)(d->offset + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			d->err = errno;
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	d->len = got;
}

static void
download_reply(struct download *d, uint16_t type, uint16_t status)
{
	struct pbuf pb;

	if (d->rctx == NULL)
		return;
	pb_init(&pb);
	pb_add_u16(&pb, status);
	if (type == MSG_BLOB_DOWN_OPEN)
		pb_add_u64(&pb, status == BLOB_OK ? d->handle : 0);
	else if (type == MSG_BLOB_DOWN_READ)
		pb_add_bytes(&pb, d->buf, status == BLOB_OK ? d->len : 0);
	blobd_reply(d->b, d->rctx, type, &pb);
	d->rctx = NULL;
}

static void
download_job_done(struct pool_job *j, bool stopping)
{
	struct download *d =
	    (struct download *)((char *)j - offsetof(struct download, job));
	uint16_t type =
	    d->op == DOWN_OPEN ? MSG_BLOB_DOWN_OPEN : MSG_BLOB_DOWN_READ;

	d->busy = false;
	d->last_ms = blobd_now_ms();
	if (!d->listed || stopping) {
		download_reply(d, type, BLOB_IO);
		download_free(d);
		return;
	}
	if (d->err != 0) {
		errno = d->err;
		log_warn("download: %s", d->rel);
		download_reply(d, type, BLOB_IO);
		download_free(d);
		return;
	}
	if (d->op == DOWN_OPEN && d->missing) {
		fetch_queue(
		    d->b, d->scope, d->key, d->key_len, d->size, d->hash, NULL);
		download_reply(d, type, BLOB_NOT_REPLICATED);
		download_free(d);
		return;
	}
	download_reply(d, type, BLOB_OK);
	free(d->buf);
	d->buf = NULL;
}

static void
download_submit(struct download *d, enum download_op op)
{
	d->op = op;
	d->busy = true;
	d->job.work = download_work;
	d->job.done = download_job_done;
	pool_submit(d->b->pool, &d->job);
}

static struct download *
download_find(struct blobd *b, uint64_t handle)
{
	struct download *d;

	TAILQ_FOREACH(d, &b->downloads, entry)
	if (d->handle == handle)
		return d;
	return NULL;
}

static void
download_reply_plain(
    struct blobd *b, struct ipc_rctx *rctx, uint16_t type, uint16_t status)
{
	struct pbuf pb;

	pb_init(&pb);
	pb_add_u16(&pb, status);
	if (type == MSG_BLOB_DOWN_OPEN)
		pb_add_u64(&pb, 0);
	else if (type == MSG_BLOB_DOWN_READ)
		pb_add_bytes(&pb, NULL, 0);
	blobd_reply(b, rctx, type, &pb);
}

static bool
download_hash_ok(const char *h)
{
	return h[0] == '\0' || blob_name_ok(h);
}

/* req: str scope, bytes key, u64 size, str hash */
void
download_open(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	char *scope = NULL, *hash = NULL;
	struct download *d;
	const uint8_t *key;
	uint64_t size;
	size_t klen;

	pr_get_strdup(r, &scope);
	pr_get_bytes(r, &key, &klen);
	pr_get_u64(r, &size);
	pr_get_strdup(r, &hash);
	if (pr_end(r) == -1 || !blob_scope_ok(scope) ||
	    !blob_key_ok(key, klen) || !download_hash_ok(hash)) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_OPEN, BLOB_BAD);
		goto out;
	}
	if (b->nuploads + b->ndownloads >= BLOBD_TRANSFERS_MAX || b->stopping) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_OPEN, BLOB_BUSY);
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->key = malloc(klen)) == NULL)
		fatal("%s: alloc", __func__);
	d->b = b;
	d->fd = -1;
	d->dirfd = b->dirfd;
	d->handle = blobd_handle(b);
	snprintf(d->scope, sizeof(d->scope), "%s", scope);
	memcpy(d->key, key, klen);
	d->key_len = klen;
	d->size = size;
	snprintf(d->hash, sizeof(d->hash), "%s", hash);
	if (blob_rel(d->scope, d->key, klen, d->rel) == -1)
		fatalx("%s: scope checked above", __func__);
	d->rctx = rctx;
	d->last_ms = blobd_now_ms();
	d->listed = true;
	TAILQ_INSERT_TAIL(&b->downloads, d, entry);
	b->ndownloads++;
	download_submit(d, DOWN_OPEN);
out:
	free(scope);
	free(hash);
}

/* req: u64 handle, u64 offset, u32 len */
void
download_read(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	struct download *d;
	uint64_t handle, offset;
	uint32_t len;

	pr_get_u64(r, &handle);
	pr_get_u64(r, &offset);
	pr_get_u32(r, &len);
	if (pr_end(r) == -1 || len > BLOB_CHUNK_MAX) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_READ, BLOB_BAD);
		return;
	}
	if ((d = download_find(b, handle)) == NULL) {
		download_reply_plain(
		    b, rctx, MSG_BLOB_DOWN_READ, BLOB_NO_HANDLE);
		return;
	}
	if (d->busy) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_READ, BLOB_BAD);
		return;
	}
	d->last_ms = blobd_now_ms();
	if (offset >= d->size || len == 0) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_READ, BLOB_OK);
		return;
	}
	if (len > d->size - offset)
		len = (uint32_t)(d->size - offset);
	if ((d->buf = malloc(len)) == NULL)
		fatal("%s: malloc", __func__);
	d->offset = offset;
	d->len = len;
	d->rctx = rctx;
	download_submit(d, DOWN_READ);
}

static void
download_drop(struct download *d)
{
	if (d->busy) {
		/* its job's done() frees it */
		TAILQ_REMOVE(&d->b->downloads, d, entry);
		d->b->ndownloads--;
		d->listed = false;
		return;
	}
	download_free(d);
}

/* req: u64 handle */
void
download_close(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	struct download *d;
	uint64_t handle;

	if (pr_get_u64(r, &handle) == -1 || pr_end(r) == -1) {
		download_reply_plain(b, rctx, MSG_BLOB_DOWN_CLOSE, BLOB_BAD);
		return;
	}
	if ((d = download_find(b, handle)) == NULL) {
		download_reply_plain(
		    b, rctx, MSG_BLOB_DOWN_CLOSE, BLOB_NO_HANDLE);
		return;
	}
	download_drop(d);
	download_reply_plain(b, rctx, MSG_BLOB_DOWN_CLOSE, BLOB_OK);
}

void
download_idle(struct blobd *b, int64_t now_ms)
{
	struct download *d, *next;

	for (d = TAILQ_FIRST(&b->downloads); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (!d->busy && now_ms - d->last_ms >= BLOBD_IDLE_MS)
			download_drop(d);
	}
}

void
download_stop(struct blobd *b)
{
	struct download *d, *next;

	for (d = TAILQ_FIRST(&b->downloads); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		download_drop(d);
	}
}
