/*
 * Uploads (MSG_BLOB_UP_*, API.md §13.1 steps 2-5): a temporary file in
 * .tmp/ written in order while hashing, fsynced, then CMD_BLOB_PUT is
 * proposed and only an ST_OK apply renames the file into
 * <scope>/<sha256hex(key)>; anything else removes it.  One request per
 * upload is in flight at a time (busy); an upload dropped while busy is
 * freed when its job returns.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

/* the check after an unknown outcome; apid waits 15 s for COMMIT */
#define UPLOAD_VERIFY_MS 2000

enum upload_op { UP_CREATE, UP_WRITE, UP_SYNC, UP_PLACE, UP_REMOVE };

struct upload {
	TAILQ_ENTRY(upload) entry;
	struct blobd *b;
	uint64_t handle;
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *key;
	size_t key_len;
	uint64_t max_bytes; /* 0: no limit */
	uint64_t written;
	int64_t last_ms;
	bool busy; /* a job or a proposal in flight */
	bool listed; /* in b->uploads */
	bool committing;
	struct ipc_rctx *rctx; /* the request being answered */

	/* the worker's side */
	struct pool_job job;
	enum upload_op op;
	int dirfd;
	int fd;
	char tmp[BLOB_TMP_MAX];
	char rel[BLOB_REL_MAX];
	EVP_MD_CTX *md;
	uint8_t *data;
	size_t len;
	int err; /* errno of the job, 0 */
	char hash[65];

	/* commit */
	char *owner;
	char *original_name;
	char *content_type;
	uint8_t *result; /* the proposal's cmd_result as raftd sent it */
	size_t result_len;
};

static void upload_job_done(struct pool_job *, bool);

static void
upload_free(struct upload *u)
{
	if (u->listed) {
		TAILQ_REMOVE(&u->b->uploads, u, entry);
		u->b->nuploads--;
	}
	if (u->committing)
		u->b->committing--;
	if (u->fd != -1)
		close(u->fd);
	EVP_MD_CTX_free(u->md);
	free(u->key);
	free(u->data);
	free(u->owner);
	free(u->original_name);
	free(u->content_type);
	free(u->result);
	free(u);
}

static void
upload_unlist(struct upload *u)
{
	if (u->listed) {
		TAILQ_REMOVE(&u->b->uploads, u, entry);
		u->b->nuploads--;
		u->listed = false;
	}
}

/*
 * worker side
 */

static void
upload_work_create(struct upload *u)
{
	uint64_t id;

	for (int tries = 0; tries < 4; tries++) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
			u->err = EIO;
			return;
		}
		blob_tmp_rel("up", id, u->tmp);
		u->fd = openat(u->dirfd, u->tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (u->fd != -1 || errno != EEXIST)
			break;
	}
	u->err = u->fd == -1 ? errno : 0;
	if (u->fd == -1)
		u->tmp[0] = '\0';
}

static void
upload_work_write(struct upload *u)
{
	size_t off = 0;
	ssize_t n;

	while (off < u->len) {
		n = write(u->fd, u->data + off, u->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			u->err = n == -1 ? errno : EIO;
			return;
		}
		off += (size_t)n;
	}
	if (EVP_DigestUpdate(u->md, u->data, u->len) != 1)
		u->err = EIO;
}

static void
upload_work_sync(struct upload *u)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (fsync(u->fd) == -1) {
		u->err = errno;
		return;
	}
	if (EVP_DigestFinal_ex(u->md, md, &mdlen) != 1 || mdlen != 32) {
		u->err = EIO;
		return;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		u->hash[2 * i] = hex[md[i] >> 4];
		u->hash[2 * i + 1] = hex[md[i] & 15];
	}
	u->hash[64] = '\0';
}

/* mkdir <scope>, rename, fsync the directories the rename changed */
int
blobd_place(int dirfd, const char *tmp, const char *rel, const char *scope)
{
	bool made = false;
	int sfd, rc = 0;

	if (mkdirat(dirfd, scope, 0700) == 0)
		made = true;
	else if (errno != EEXIST)
		return errno;
	if (renameat(dirfd, tmp, dirfd, rel) == -1)
		return errno;
	sfd = openat(dirfd, scope, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd == -1 || fsync(sfd) == -1)
		rc = errno;
	if (sfd != -1)
		close(sfd);
	/* the new scope directory's entry, and .tmp's lost one */
	if (rc == 0 && made && fsync(dirfd) == -1)
		rc = errno;
	sfd = openat(dirfd, BLOB_TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd != -1) {
		if (fsync(sfd) == -1 && rc == 0)
			rc = errno;
		close(sfd);
	}
	return rc;
}

static void
upload_work(struct pool_job *j)
{
	struct upload *u =
	    (struct upload *)((char *)j - offsetof(struct upload, job));

	u->err = 0;
	switch (u->op) {
	case UP_CREATE:
		upload_work_create(u);
		break;
	case UP_WRITE:
		upload_work_write(u);
		break;
	case UP_SYNC:
		upload_work_sync(u);
		break;
	case UP_PLACE:
		if (close(u->fd) == -1)
			u->err = errno;
		u->fd = -1;
		if (u->err == 0)
			u->err =
			    blobd_place(u->dirfd, u->tmp, u->rel, u->scope);
		break;
	case UP_REMOVE:
		if (u->fd != -1)
			close(u->fd);
		u->fd = -1;
		if (u->tmp[0] != '\0' && unlinkat(u->dirfd, u->tmp, 0) == -1 &&
		    errno != ENOENT)
			u->err = errno;
		break;
	}
}

static void
upload_submit(struct upload *u, enum upload_op op)
{
	u->op = op;
	u->busy = true;
	u->job.work = upload_work;
	u->job.done = upload_job_done;
	pool_submit(u->b->pool, &u->job);
}

/*
 * loop side
 */

static void
upload_reply_status(struct upload *u, uint16_t type, uint16_t status)
{
	struct pbuf b;

	if (u->rctx == NULL)
		return;
	pb_init(&b);
	pb_add_u16(&b, status);
	if (type == MSG_BLOB_UP_BEGIN)
		pb_add_u64(&b, status == BLOB_OK ? u->handle : 0);
	blobd_reply(u->b, u->rctx, type, &b);
	u->rctx = NULL;
}

/* status, u64 size, str hash, then the cmd_result when there is one */
static void
upload_reply_commit(struct upload *u, uint16_t status)
{
	struct pbuf b;

	if (u->rctx == NULL)
		return;
	pb_init(&b);
	pb_add_u16(&b, status);
	pb_add_u64(&b, u->written);
	pb_add_str(&b,
	    status == BLOB_OK || status == BLOB_REFUSED || status == BLOB_RAFT
		? u->hash
		: "");
	if (u->result != NULL)
		pb_add_raw(&b, u->result, u->result_len);
	blobd_reply(u->b, u->rctx, MSG_BLOB_UP_COMMIT, &b);
	u->rctx = NULL;
}

/* the temporary file goes; the upload is freed once it has */
static void
upload_remove(struct upload *u)
{
	upload_unlist(u);
	if (u->busy)
		return; /* its job's done() removes it */
	upload_submit(u, UP_REMOVE);
}

static void
upload_done_create(struct upload *u)
{
	if (u->err != 0) {
		errno = u->err;
		log_warn("upload: cannot create a temporary file");
		upload_reply_status(u, MSG_BLOB_UP_BEGIN, BLOB_IO);
		upload_free(u);
		return;
	}
	upload_reply_status(u, MSG_BLOB_UP_BEGIN, BLOB_OK);
}

static void
upload_done_placed(struct upload *u)
{
	if (u->err != 0) {
		errno = u->err;
		log_warn(
		    "upload: committed %s but cannot put it in place", u->rel);
		upload_reply_commit(u, BLOB_IO);
		upload_remove(u);
		return;
	}
	blobd_account(u->b, 1, (int64_t)u->written);
	log_info("upload: %s in place, %llu bytes", u->rel,
	    (unsigned long long)u->written);
	upload_reply_commit(u, BLOB_OK);
	upload_free(u);
}

static void upload_propose(struct upload *);

static void
upload_job_done(struct pool_job *j, bool stopping)
{
	struct upload *u =
	    (struct upload *)((char *)j - offsetof(struct upload, job));

	u->busy = false;
	u->last_ms = blobd_now_ms();
	if (u->op == UP_REMOVE) {
		if (u->err != 0) {
			errno = u->err;
			log_warn("upload: cannot remove %s", u->tmp);
		}
		upload_free(u);
		return;
	}
	if (!u->listed && u->op != UP_PLACE) {
		/* dropped while the job ran */
		if (u->op == UP_SYNC)
			upload_reply_commit(u, BLOB_IO);
		else
			upload_reply_status(u,
			    u->op == UP_CREATE ? MSG_BLOB_UP_BEGIN
					       : MSG_BLOB_UP_CHUNK,
			    BLOB_IO);
		upload_submit(u, UP_REMOVE);
		return;
	}
	switch (u->op) {
	case UP_CREATE:
		upload_done_create(u);
		break;
	case UP_WRITE:
		if (u->err != 0) {
			errno = u->err;
			log_warn("upload: write to %s", u->tmp);
			upload_reply_status(u, MSG_BLOB_UP_CHUNK, BLOB_IO);
			upload_remove(u);
			break;
		}
		u->written += u->len;
		free(u->data);
		u->data = NULL;
		upload_reply_status(u, MSG_BLOB_UP_CHUNK, BLOB_OK);
		break;
	case UP_SYNC:
		if (u->err != 0) {
			errno = u->err;
			log_warn("upload: fsync of %s", u->tmp);
			upload_reply_commit(u, BLOB_IO);
			upload_remove(u);
		} else if (stopping) {
			upload_reply_commit(u, BLOB_IO);
			upload_remove(u);
		} else
			upload_propose(u);
		break;
	case UP_PLACE:
		upload_done_placed(u);
		break;
	case UP_REMOVE:
		break;
	}
}

static struct upload *
upload_find(struct blobd *b, uint64_t handle)
{
	struct upload *u;

	TAILQ_FOREACH(u, &b->uploads, entry)
	if (u->handle == handle)
		return u;
	return NULL;
}

static void
upload_reply_plain(
    struct blobd *b, struct ipc_rctx *rctx, uint16_t type, uint16_t status)
{
	struct pbuf pb;

	pb_init(&pb);
	pb_add_u16(&pb, status);
	if (type == MSG_BLOB_UP_BEGIN)
		pb_add_u64(&pb, 0);
	if (type == MSG_BLOB_UP_COMMIT) {
		pb_add_u64(&pb, 0);
		pb_add_str(&pb, "");
	}
	blobd_reply(b, rctx, type, &pb);
}

/* req: str scope, bytes key (may be empty), u64 max_bytes */
void
upload_begin(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	const uint8_t *key;
	struct upload *u;
	char *scope = NULL;
	uint64_t max;
	size_t klen;

	pr_get_strdup(r, &scope);
	pr_get_bytes(r, &key, &klen);
	pr_get_u64(r, &max);
	/* an empty key: the client sends it after the blob, COMMIT names it */
	if (pr_end(r) == -1 || !blob_scope_ok(scope) ||
	    (klen > 0 && !blob_key_ok(key, klen))) {
		free(scope);
		upload_reply_plain(b, rctx, MSG_BLOB_UP_BEGIN, BLOB_BAD);
		return;
	}
	if (b->nuploads + b->ndownloads >= BLOBD_TRANSFERS_MAX || b->stopping) {
		free(scope);
		upload_reply_plain(b, rctx, MSG_BLOB_UP_BEGIN, BLOB_BUSY);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->key = malloc(klen > 0 ? klen : 1)) == NULL ||
	    (u->md = EVP_MD_CTX_new()) == NULL)
		fatal("%s: alloc", __func__);
	if (EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1)
		fatalx("%s: sha256", __func__);
	u->b = b;
	u->fd = -1;
	u->dirfd = b->dirfd;
	u->handle = blobd_handle(b);
	snprintf(u->scope, sizeof(u->scope), "%s", scope);
	free(scope);
	if (klen > 0)
		memcpy(u->key, key, klen);
	u->key_len = klen;
	if (klen > 0 && blob_rel(u->scope, u->key, klen, u->rel) == -1)
		fatalx("%s: scope checked above", __func__);
	u->max_bytes = max;
	if (b->max_size > 0 &&
	    (u->max_bytes == 0 || u->max_bytes > (uint64_t)b->max_size))
		u->max_bytes = (uint64_t)b->max_size;
	u->last_ms = blobd_now_ms();
	u->rctx = rctx;
	u->listed = true;
	TAILQ_INSERT_TAIL(&b->uploads, u, entry);
	b->nuploads++;
	upload_submit(u, UP_CREATE);
}

/* req: u64 handle, u64 offset, bytes data */
void
upload_chunk(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	uint64_t handle, offset;
	const uint8_t *data;
	struct upload *u;
	size_t len;

	pr_get_u64(r, &handle);
	pr_get_u64(r, &offset);
	pr_get_bytes(r, &data, &len);
	if (pr_end(r) == -1 || len > BLOB_CHUNK_MAX) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_CHUNK, BLOB_BAD);
		return;
	}
	if ((u = upload_find(b, handle)) == NULL) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_CHUNK, BLOB_NO_HANDLE);
		return;
	}
	if (u->busy || u->committing || offset != u->written) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_CHUNK, BLOB_BAD);
		return;
	}
	u->last_ms = blobd_now_ms();
	if (u->max_bytes > 0 && u->written + len > u->max_bytes) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_CHUNK, BLOB_TOO_BIG);
		upload_remove(u);
		return;
	}
	if (len == 0) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_CHUNK, BLOB_OK);
		return;
	}
	if ((u->data = malloc(len)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(u->data, data, len);
	u->len = len;
	u->rctx = rctx;
	upload_submit(u, UP_WRITE);
}

/*
 * the key of COMMIT: empty keeps BEGIN's; one BEGIN left open is taken,
 * another than BEGIN's is refused.  0 when the upload has its key.
 */
static int
upload_take_key(struct upload *u, const uint8_t *key, size_t klen)
{
	if (klen == 0)
		return u->key_len > 0 ? 0 : -1;
	if (u->key_len > 0)
		return klen == u->key_len && memcmp(key, u->key, klen) == 0
		    ? 0
		    : -1;
	if (!blob_key_ok(key, klen))
		return -1;
	free(u->key);
	if ((u->key = malloc(klen)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(u->key, key, klen);
	u->key_len = klen;
	if (blob_rel(u->scope, u->key, klen, u->rel) == -1)
		fatalx("%s: scope checked at begin", __func__);
	return 0;
}

/* req: u64 handle, str owner_uuid, str original_name, str content_type,
 * bytes key */
void
upload_commit(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	char *owner = NULL, *name = NULL, *ctype = NULL;
	struct upload *u = NULL;
	const uint8_t *key = NULL;
	uint64_t handle;
	size_t klen = 0;

	pr_get_u64(r, &handle);
	pr_get_strdup(r, &owner);
	pr_get_strdup(r, &name);
	pr_get_strdup(r, &ctype);
	pr_get_bytes(r, &key, &klen);
	if (pr_end(r) == -1) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_COMMIT, BLOB_BAD);
		goto out;
	}
	if ((u = upload_find(b, handle)) == NULL) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_COMMIT, BLOB_NO_HANDLE);
		goto out;
	}
	if (u->busy || u->committing || upload_take_key(u, key, klen) == -1) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_COMMIT, BLOB_BAD);
		goto out;
	}
	u->owner = owner;
	u->original_name = name;
	u->content_type = ctype;
	owner = name = ctype = NULL;
	u->committing = true;
	b->committing++;
	u->rctx = rctx;
	upload_submit(u, UP_SYNC);
out:
	free(owner);
	free(name);
	free(ctype);
}

/* req: u64 handle */
void
upload_abort(struct blobd *b, struct ipc_rctx *rctx, struct pread *r)
{
	struct upload *u;
	uint64_t handle;

	if (pr_get_u64(r, &handle) == -1 || pr_end(r) == -1) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_ABORT, BLOB_BAD);
		return;
	}
	if ((u = upload_find(b, handle)) == NULL) {
		upload_reply_plain(b, rctx, MSG_BLOB_UP_ABORT, BLOB_NO_HANDLE);
		return;
	}
	if (u->committing) {
		/* the proposal is out: its answer decides */
		upload_reply_plain(b, rctx, MSG_BLOB_UP_ABORT, BLOB_BAD);
		return;
	}
	upload_reply_plain(b, rctx, MSG_BLOB_UP_ABORT, BLOB_OK);
	upload_remove(u);
}

void
upload_idle(struct blobd *b, int64_t now_ms)
{
	struct upload *u, *next;

	for (u = TAILQ_FIRST(&b->uploads); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (u->busy || u->committing ||
		    now_ms - u->last_ms < BLOBD_IDLE_MS)
			continue;
		log_info("upload: %s idle for %d s, removed", u->tmp,
		    BLOBD_IDLE_MS / 1000);
		upload_remove(u);
	}
}

void
upload_stop(struct blobd *b)
{
	struct upload *u, *next;

	for (u = TAILQ_FIRST(&b->uploads); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (u->committing)
			continue;
		upload_remove(u);
	}
}

/*
 * the proposal
 */

static uint16_t
upload_status_of(uint16_t st)
{
	switch (st) {
	case ST_OK:
		return BLOB_OK;
	case ST_NO_LEADER:
	case ST_NOT_LEADER:
	case ST_COMMIT_UNKNOWN:
		return BLOB_RAFT;
	default:
		return BLOB_REFUSED;
	}
}

static void
upload_set_result(struct upload *u, const uint8_t *p, size_t len)
{
	free(u->result);
	if ((u->result = malloc(len > 0 ? len : 1)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(u->result, p, len);
	u->result_len = len;
}

static void
upload_synth_result(struct upload *u, uint16_t st)
{
	struct cmd_result res = { .status = st };
	struct pbuf pb;

	pb_init(&pb);
	cmd_result_encode(&pb, &res);
	if (pb.err)
		fatalx("%s: encode", __func__);
	upload_set_result(u, pb.data, pb.len);
	pb_free(&pb);
}

/*
 * READ_BLOB_GET (linearizable) after an unknown outcome: the record is
 * ours when it names this node, its badge, our size and hash
 */
static void
upload_verified(int err, struct ipc_msg *m, void *arg)
{
	struct upload *u = arg;
	struct blob_record rec;
	const uint8_t *p;
	struct pread r;
	uint16_t st = ST_INTERNAL;
	uint8_t cons;
	size_t len;
	bool ours = false;

	u->busy = false;
	if (err == 0 && m != NULL) {
		pr_init(&r, m->payload, m->len);
		pr_get_u16(&r, &st);
		pr_get_u8(&r, &cons);
		if (r.err == 0 && st == ST_OK &&
		    pr_get_bytes(&r, &p, &len) == 0 && pr_end(&r) == 0 &&
		    blob_record_decode(p, len, &rec) == 0) {
			ours = rec.state == 0 && rec.size == u->written &&
			    strcmp(rec.hash, u->hash) == 0 &&
			    strcmp(rec.node_id, u->b->node_id) == 0 &&
			    strcmp(rec.node_identity_uuid, u->b->badge_id) == 0;
			blob_record_free(&rec);
		}
	}
	if (ours) {
		log_info("upload: %s committed after all", u->rel);
		upload_synth_result(u, ST_OK);
		upload_submit(u, UP_PLACE);
		return;
	}
	upload_reply_commit(u, BLOB_RAFT);
	upload_remove(u);
}

static void
upload_verify(struct upload *u)
{
	struct read_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.op = READ_BLOB_GET;
	rq.consistency = READ_LINEARIZABLE;
	snprintf(rq.scope, sizeof(rq.scope), "%s", u->scope);
	rq.key = u->key;
	rq.key_len = u->key_len;
	u->busy = true;
	if (blobd_read(u->b, &rq, UPLOAD_VERIFY_MS, upload_verified, u) == -1)
		upload_verified(ECONNREFUSED, NULL, u);
}

static void
upload_proposed(int err, struct ipc_msg *m, void *arg)
{
	struct upload *u = arg;
	struct cmd_result res;
	uint16_t status;

	u->busy = false;
	res.status = ST_OK;
	if (err != 0 || m == NULL) {
		log_warnx("upload: proposal of %s failed (%s)", u->rel,
		    err == ETIMEDOUT ? "timeout" : "raftd not reachable");
		res.status =
		    err == ETIMEDOUT ? ST_COMMIT_UNKNOWN : ST_NO_LEADER;
		upload_synth_result(u, res.status);
		status = BLOB_RAFT;
	} else if (cmd_result_decode(m->payload, m->len, &res) == -1) {
		fatalx("%s: malformed cmd_result from raftd", __func__);
	} else {
		upload_set_result(u, m->payload, m->len);
		status = upload_status_of(res.status);
	}
	/* it may have applied: renaming then keeps the committed bytes */
	if (res.status == ST_COMMIT_UNKNOWN && !u->b->stopping) {
		upload_verify(u);
		return;
	}
	if (status == BLOB_OK) {
		upload_submit(u, UP_PLACE);
		return;
	}
	upload_reply_commit(u, status);
	upload_remove(u);
}

/* value: str owner_uuid, str node_id, str node_identity_uuid, u64 size,
 * str hash, str original_name, str content_type */
static void
upload_propose(struct upload *u)
{
	struct cmd c;
	struct pbuf v;

	pb_init(&v);
	pb_add_str(&v, u->owner);
	pb_add_str(&v, u->b->node_id);
	pb_add_str(&v, u->b->badge_id);
	pb_add_u64(&v, u->written);
	pb_add_str(&v, u->hash);
	pb_add_str(&v, u->original_name);
	pb_add_str(&v, u->content_type);
	if (v.err)
		fatalx("%s: encode", __func__);
	memset(&c, 0, sizeof(c));
	c.type = CMD_BLOB_PUT;
	snprintf(c.scope, sizeof(c.scope), "%s", u->scope);
	c.key = u->key;
	c.key_len = u->key_len;
	c.value = v.data;
	c.value_len = v.len;
	c.num = (int64_t)u->written;
	u->busy = true;
	if (blobd_propose(u->b, &c, upload_proposed, u) == -1) {
		u->busy = false;
		upload_synth_result(u, ST_NO_LEADER);
		upload_reply_commit(u, BLOB_RAFT);
		upload_remove(u);
	}
	pb_free(&v);
}

/* after pool_free and once raftd.api is closed: nothing can answer the
 * uploads still waiting for their proposal */
void
upload_free_all(struct blobd *b)
{
	struct upload *u;

	while ((u = TAILQ_FIRST(&b->uploads)) != NULL) {
		u->rctx = NULL;
		upload_free(u);
	}
}
