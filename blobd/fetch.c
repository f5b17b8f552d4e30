/*
 * Copies of blobs from other nodes (API.md §13.6, §18.1, §18.3).  A job
 * asks the receiving node first, then every other configured node in
 * configuration order, for GET <private url>/db/internal/v1/blob/download
 * with the root key.  The body goes to a temporary file (the call pauses
 * while the pool writes each piece), then size and SHA-256 are checked,
 * the file is fsynced and renamed into place.  A partial file is resumed
 * with a Range request.  A failed round is retried after 1, 2, 4, 8,
 * 16 s, then left to the repair pass.  At most FETCH_RUNNING_MAX jobs run
 * at once; at most FETCH_JOBS_MAX exist.
 *
 * Each running job has exactly one continuation pending: a metadata
 * read, a pool job, an HTTP call, or its timer (fired at once to move on
 * from inside a callback, or after a back-off).
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
#include "blobd/policy.h"
#include "common/cluster_url.h"
#include "common/http_client.h"
#include "common/log.h"

#define FETCH_RUNNING_MAX 4
#define FETCH_JOBS_MAX 10000
#define FETCH_BUCKETS 8192
#define FETCH_IDLE_MS 60000
#define FETCH_REDIRECTS 2

enum fjob_state { FJ_QUEUED, FJ_WAITING, FJ_RUNNING };
enum fjob_op { FOP_PREPARE, FOP_WRITE, FOP_FINISH, FOP_CLOSE, FOP_REMOVE };
enum fjob_outcome { FOUT_OK, FOUT_PRESENT, FOUT_MISMATCH, FOUT_IO };

struct fjob {
	TAILQ_ENTRY(fjob) qentry; /* ready queue */
	TAILQ_ENTRY(fjob) aentry; /* every live job */
	struct fjob *hnext;
	bool hashed;
	struct fetchq *fq;
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *key;
	size_t key_len;
	char rel[BLOB_REL_MAX];
	uint64_t size;
	char hash[65];
	char origin[CFG_ID_MAX + 1];
	enum fjob_state state;
	int failed; /* rounds */
	bool cancelled; /* purged */
	struct event *timer;

	/* a round */
	size_t *order; /* indexes into cfg->nodes */
	size_t nsrc, isrc;
	const char *src; /* node id being asked */
	struct hcall *call;
	bool range;
	bool io_busy;
	bool stream_end; /* the call ended while a write was running */
	int end_err, end_status;

	/* the worker's side */
	struct pool_job job;
	enum fjob_op op;
	int dirfd;
	int fd;
	char tmp[BLOB_TMP_MAX];
	uint64_t written; /* bytes of the temporary file that are good */
	uint8_t *buf;
	size_t len;
	uint64_t off;
	int err;
	enum fjob_outcome outcome;
};

struct fetchq {
	struct blobd *b;
	struct hclient *hc;
	bool hc_tried;
	TAILQ_HEAD(, fjob) ready;
	TAILQ_HEAD(, fjob) all;
	struct fjob *buckets[FETCH_BUCKETS];
	size_t njobs;
	size_t running;
	uint64_t dropped;
	bool stopping;
};

static void fetch_pump(struct fetchq *);
static void fjob_round(struct fjob *);
static void fjob_next_source(struct fjob *);
static void fjob_round_failed(struct fjob *);
static void fjob_end(struct fjob *);

static size_t
fetch_bucket(const char *scope, const uint8_t *key, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = scope; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h % FETCH_BUCKETS);
}

static struct fjob *
fetch_find(struct fetchq *fq, const char *scope, const uint8_t *key, size_t len)
{
	struct fjob *j;

	for (j = fq->buckets[fetch_bucket(scope, key, len)]; j != NULL;
	     j = j->hnext)
		if (j->key_len == len && strcmp(j->scope, scope) == 0 &&
		    memcmp(j->key, key, len) == 0)
			return j;
	return NULL;
}

static void
fetch_unhash(struct fjob *j)
{
	struct fjob **pp;

	if (!j->hashed)
		return;
	pp = &j->fq->buckets[fetch_bucket(j->scope, j->key, j->key_len)];
	while (*pp != j)
		pp = &(*pp)->hnext;
	*pp = j->hnext;
	j->hashed = false;
}

static void
fjob_free(struct fjob *j)
{
	if (j->fd != -1)
		close(j->fd);
	if (j->timer != NULL)
		event_free(j->timer);
	free(j->order);
	free(j->key);
	free(j->buf);
	free(j);
}

/*
 * worker side
 */

static void
fjob_work_prepare(struct fjob *j)
{
	struct stat st;
	uint64_t id;

	if (fstatat(j->dirfd, j->rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && (uint64_t)st.st_size == j->size) {
		j->outcome = FOUT_PRESENT;
		return;
	}
	if (j->fd != -1)
		return;
	/* the partial file of an earlier round: resumed */
	if (j->tmp[0] != '\0') {
		j->fd =
		    openat(j->dirfd, j->tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (j->fd != -1 && fstat(j->fd, &st) == 0) {
			j->written = (uint64_t)st.st_size < j->size
			    ? (uint64_t)st.st_size
			    : 0;
			return;
		}
		if (j->fd != -1)
			close(j->fd);
		j->fd = -1;
	}
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
		j->err = EIO;
		return;
	}
	blob_tmp_rel("fetch", id, j->tmp);
	j->fd = openat(j->dirfd, j->tmp,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->fd == -1) {
		j->err = errno;
		j->tmp[0] = '\0';
	}
	j->written = 0;
}

static void
fjob_work_write(struct fjob *j)
{
	size_t done = 0;
	ssize_t n;

	while (done < j->len) {
		n = pwrite(j->fd, j->buf + done, j->len - done,
		    (off_t)(j->off + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			j->err = n == -1 ? errno : EIO;
			return;
		}
		done += (size_t)n;
	}
}

/* SHA-256 of the first `size` bytes of the file, lowercase hex */
static int
fjob_hash_file(int fd, uint64_t size, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], *buf;
	unsigned int mdlen = 0;
	uint64_t off = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int rc = -1;

	if ((buf = malloc(BLOB_CHUNK_MAX)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		fatal("%s: alloc", __func__);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (off < size) {
		n = pread(fd, buf,
		    size - off < BLOB_CHUNK_MAX ? size - off : BLOB_CHUNK_MAX,
		    (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int
blobd_hash_file(int fd, uint64_t size, char out[65])
{
	return fjob_hash_file(fd, size, out);
}

static void
fjob_work_finish(struct fjob *j)
{
	char got[65];

	if (ftruncate(j->fd, (off_t)j->size) == -1 || fsync(j->fd) == -1) {
		j->err = errno;
		return;
	}
	if (fjob_hash_file(j->fd, j->size, got) == -1) {
		j->err = EIO;
		return;
	}
	if (strcmp(got, j->hash) != 0) {
		j->outcome = FOUT_MISMATCH;
		if (ftruncate(j->fd, 0) == -1)
			j->err = errno;
		return;
	}
	close(j->fd);
	j->fd = -1;
	j->err = blobd_place(j->dirfd, j->tmp, j->rel, j->scope);
	if (j->err == 0)
		j->tmp[0] = '\0';
}

static void
fjob_work(struct pool_job *pj)
{
	struct fjob *j =
	    (struct fjob *)((char *)pj - offsetof(struct fjob, job));

	j->err = 0;
	j->outcome = FOUT_OK;
	switch (j->op) {
	case FOP_PREPARE:
		fjob_work_prepare(j);
		break;
	case FOP_WRITE:
		fjob_work_write(j);
		break;
	case FOP_FINISH:
		fjob_work_finish(j);
		break;
	case FOP_CLOSE:
		/* waiting jobs hold no descriptor; only a useful part stays */
		close(j->fd);
		j->fd = -1;
		if (j->written == 0) {
			unlinkat(j->dirfd, j->tmp, 0);
			j->tmp[0] = '\0';
		}
		break;
	case FOP_REMOVE:
		if (j->fd != -1)
			close(j->fd);
		j->fd = -1;
		if (j->tmp[0] != '\0')
			unlinkat(j->dirfd, j->tmp, 0);
		break;
	}
}

static void fjob_job_done(struct pool_job *, bool);

static void
fjob_submit(struct fjob *j, enum fjob_op op)
{
	j->op = op;
	j->io_busy = true;
	j->job.work = fjob_work;
	j->job.done = fjob_job_done;
	pool_submit(j->fq->b->pool, &j->job);
}

/*
 * loop side
 */

/* move on from inside a callback: the job's timer, at once */
static void
fjob_defer(struct fjob *j)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(j->timer, &tv);
}

static void
fjob_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fjob *j = arg;

	(void)fd;
	(void)what;
	if (j->fq->stopping)
		return;
	if (j->state == FJ_WAITING) {
		j->state = FJ_QUEUED;
		TAILQ_INSERT_TAIL(&j->fq->ready, j, qentry);
		fetch_pump(j->fq);
		return;
	}
	if (j->cancelled) {
		fjob_end(j);
		return;
	}
	fjob_next_source(j);
}

static void
fjob_finished(struct fjob *j)
{
	struct blobd *b = j->fq->b;

	if (j->err != 0) {
		errno = j->err;
		log_warn("fetch: %s from %s", j->rel, j->src);
		fjob_round_failed(j);
		return;
	}
	if (j->cancelled && j->outcome != FOUT_OK) {
		fjob_end(j);
		return;
	}
	if (j->outcome == FOUT_MISMATCH) {
		log_warnx("fetch: %s from %s: hash mismatch", j->rel, j->src);
		j->written = 0;
		fjob_next_source(j);
		return;
	}
	blobd_account(b, 1, (int64_t)j->size);
	log_info("fetch: %s done from %s, %llu bytes", j->rel, j->src,
	    (unsigned long long)j->size);
	/* purged while it was being placed */
	if (j->cancelled)
		blobd_purge(b, j->scope, j->key, j->key_len);
	fjob_end(j);
}

static void fjob_stream_end(struct fjob *, int err, int status);

static void
fjob_job_done(struct pool_job *pj, bool stopping)
{
	struct fjob *j =
	    (struct fjob *)((char *)pj - offsetof(struct fjob, job));

	j->io_busy = false;
	if (j->op == FOP_REMOVE) {
		fjob_free(j);
		return;
	}
	if (stopping || j->fq->stopping)
		return;
	if (j->cancelled && j->op != FOP_FINISH && j->op != FOP_CLOSE) {
		if (j->call != NULL)
			hclient_cancel(j->call);
		j->call = NULL;
		fjob_end(j);
		return;
	}
	switch (j->op) {
	case FOP_PREPARE:
		if (j->err != 0) {
			errno = j->err;
			log_warn("fetch: temporary file for %s", j->rel);
			fjob_round_failed(j);
		} else if (j->outcome == FOUT_PRESENT)
			fjob_end(j);
		else
			fjob_next_source(j);
		break;
	case FOP_WRITE:
		free(j->buf);
		j->buf = NULL;
		if (j->err != 0) {
			errno = j->err;
			log_warn("fetch: write of %s", j->tmp);
			if (j->call != NULL)
				hclient_cancel(j->call);
			j->call = NULL;
			fjob_round_failed(j);
			break;
		}
		j->written = j->off + j->len;
		if (j->stream_end)
			fjob_stream_end(j, j->end_err, j->end_status);
		else if (j->call != NULL)
			hclient_resume(j->call);
		break;
	case FOP_FINISH:
		fjob_finished(j);
		break;
	case FOP_CLOSE:
		fjob_round_failed(j);
		break;
	case FOP_REMOVE:
		break;
	}
}

static int
fjob_head(int status, uint64_t content_length, void *arg)
{
	struct fjob *j = arg;

	if (status == 200) {
		/* the whole body: a partial file starts over */
		j->range = false;
		j->written = 0;
		/* without a length the end checks the size */
		if (content_length == j->size || content_length == UINT64_MAX)
			return 0;
	} else if (status == 206 && j->range &&
	    (content_length == UINT64_MAX ||
		content_length == j->size - j->written))
		return 0;
	log_info("fetch: %s: %s answered %d", j->rel, j->src, status);
	j->call = NULL;
	fjob_defer(j);
	return -1;
}

static int
fjob_body(const char *buf, size_t len, void *arg)
{
	struct fjob *j = arg;

	if (len == 0)
		return 0;
	if (j->written + len > j->size) {
		log_info("fetch: %s: %s sent more than %llu bytes", j->rel,
		    j->src, (unsigned long long)j->size);
		j->call = NULL;
		fjob_defer(j);
		return -1;
	}
	if ((j->buf = malloc(len)) == NULL)
		fatal("%s: malloc", __func__);
	memcpy(j->buf, buf, len);
	j->len = len;
	j->off = j->written;
	/* the next piece comes once this one is on disk */
	fjob_submit(j, FOP_WRITE);
	return 1;
}

static void
fjob_stream_end(struct fjob *j, int err, int status)
{
	j->stream_end = false;
	if (err != 0 || (status != 200 && status != 206) ||
	    j->written != j->size) {
		log_info("fetch: %s from %s failed (%s, status %d, %llu of "
			 "%llu bytes)",
		    j->rel, j->src, err != 0 ? strerror(err) : "complete",
		    status, (unsigned long long)j->written,
		    (unsigned long long)j->size);
		fjob_next_source(j);
		return;
	}
	fjob_submit(j, FOP_FINISH);
}

static void
fjob_done(const struct hclient_resp *resp, void *arg)
{
	struct fjob *j = arg;

	j->call = NULL;
	if (j->io_busy) {
		j->stream_end = true;
		j->end_err = resp->err;
		j->end_status = resp->status;
		return;
	}
	if (j->cancelled) {
		fjob_end(j);
		return;
	}
	fjob_stream_end(j, resp->err, resp->status);
}

static struct hclient *
fetch_client(struct fetchq *fq)
{
	struct blobd *b = fq->b;

	if (fq->hc == NULL && !fq->hc_tried && b->cfg != NULL) {
		fq->hc_tried = true;
		fq->hc = hclient_new(
		    b->base, b->tls, b->ca_pem, b->cfg->client_skip_verify);
		if (fq->hc == NULL)
			log_warnx("fetch: no HTTP client: blobs are not "
				  "fetched");
	}
	return fq->hc;
}

static void
fjob_next_source(struct fjob *j)
{
	struct blobd *b = j->fq->b;
	const struct cfg_node *n;
	char base[CURL_BASE_MAX], range[64], *url;
	struct hclient *hc = fetch_client(j->fq);

	/* a complete file that did not check out starts over */
	if (j->written >= j->size)
		j->written = 0;
	while (hc != NULL && j->isrc < j->nsrc) {
		n = &b->cfg->nodes[j->order[j->isrc++]];
		j->src = n->id;
		if (curl_node_base(n, CURL_BIND_PRIVATE, b->tls, base,
			sizeof(base)) == -1 ||
		    (url = blob_download_url(
			 base, j->scope, j->key, j->key_len)) == NULL)
			continue;
		j->range = j->written > 0;
		snprintf(range, sizeof(range), "Range: bytes=%llu-",
		    (unsigned long long)j->written);
		j->call = hclient_get_stream(hc, url, b->root_key,
		    j->range ? range : NULL, FETCH_IDLE_MS, FETCH_REDIRECTS,
		    fjob_head, fjob_body, fjob_done, j);
		free(url);
		if (j->call != NULL) {
			log_debug("fetch: %s from %s%s", j->rel, j->src,
			    j->range ? " (resuming)" : "");
			return;
		}
	}
	fjob_round_failed(j);
}

/* the receiving node first, then the others in configuration order */
static void
fjob_sources(struct fjob *j)
{
	const struct cfg *cfg = j->fq->b->cfg;
	const char *self = j->fq->b->node_id;

	free(j->order);
	j->order = NULL;
	j->nsrc = j->isrc = 0;
	if (cfg == NULL || cfg->n_nodes == 0)
		return;
	if ((j->order = calloc(cfg->n_nodes, sizeof(*j->order))) == NULL)
		fatal("%s: calloc", __func__);
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].id, j->origin) == 0 &&
		    strcmp(cfg->nodes[i].id, self) != 0)
			j->order[j->nsrc++] = i;
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].id, j->origin) != 0 &&
		    strcmp(cfg->nodes[i].id, self) != 0)
			j->order[j->nsrc++] = i;
}

/* READ_BLOB_GET answer: u16 status, u8 consistency, bytes record */
static void
fjob_meta(int err, struct ipc_msg *m, void *arg)
{
	struct fjob *j = arg;
	struct blob_record rec;
	const uint8_t *p;
	struct pread r;
	uint16_t st = ST_INTERNAL;
	uint8_t cons;
	size_t len;

	if (j->fq->stopping)
		return;
	if (j->cancelled) {
		fjob_end(j);
		return;
	}
	if (err == 0 && m != NULL) {
		pr_init(&r, m->payload, m->len);
		pr_get_u16(&r, &st);
		pr_get_u8(&r, &cons);
		if (r.err)
			st = ST_INTERNAL;
		else if (st == ST_OK) {
			if (pr_get_bytes(&r, &p, &len) == -1 ||
			    pr_end(&r) == -1 ||
			    blob_record_decode(p, len, &rec) == -1) {
				log_warnx("fetch: malformed blob record "
					  "from raftd");
				st = ST_INTERNAL;
			} else {
				if (rec.state != 0)
					st = ST_NOT_FOUND;
				j->size = rec.size;
				snprintf(
				    j->hash, sizeof(j->hash), "%s", rec.hash);
				snprintf(j->origin, sizeof(j->origin), "%s",
				    rec.node_id);
				blob_record_free(&rec);
			}
		}
	}
	if (st == ST_NOT_FOUND) {
		log_debug("fetch: %s deleted, dropped", j->rel);
		fjob_end(j);
		return;
	}
	/* unknown to us (raftd unreachable): trust what was queued */
	if (!blob_name_ok(j->hash)) {
		fjob_round_failed(j);
		return;
	}
	fjob_sources(j);
	fjob_submit(j, FOP_PREPARE);
}

static void
fjob_round(struct fjob *j)
{
	struct read_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.op = READ_BLOB_GET;
	rq.consistency = READ_LOCAL;
	snprintf(rq.scope, sizeof(rq.scope), "%s", j->scope);
	rq.key = j->key;
	rq.key_len = j->key_len;
	if (blobd_read(j->fq->b, &rq, BLOBD_READ_MS, fjob_meta, j) == -1)
		fjob_meta(ECONNREFUSED, NULL, j);
}

static void
fjob_round_failed(struct fjob *j)
{
	struct fetchq *fq = j->fq;
	struct timeval tv;
	int64_t ms;

	if (j->fd != -1) {
		/* comes back here once the descriptor is closed */
		fjob_submit(j, FOP_CLOSE);
		return;
	}
	if (j->cancelled) {
		fjob_end(j);
		return;
	}
	j->failed++;
	ms = policy_fetch_backoff_ms(j->failed);
	if (ms < 0) {
		log_info("fetch: %s failed %d rounds, left to repair", j->rel,
		    j->failed);
		fjob_end(j);
		return;
	}
	log_info("fetch: %s round %d failed, retry in %lld ms", j->rel,
	    j->failed, (long long)ms);
	j->state = FJ_WAITING;
	fq->running--;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(j->timer, &tv);
	fetch_pump(fq);
}

/* the job goes; its temporary file with it */
static void
fjob_end(struct fjob *j)
{
	struct fetchq *fq = j->fq;

	fetch_unhash(j);
	if (j->state == FJ_RUNNING)
		fq->running--;
	else if (j->state == FJ_QUEUED)
		TAILQ_REMOVE(&fq->ready, j, qentry);
	TAILQ_REMOVE(&fq->all, j, aentry);
	fq->njobs--;
	evtimer_del(j->timer);
	if (j->call != NULL)
		hclient_cancel(j->call);
	j->call = NULL;
	if (j->fd != -1) {
		/* a running job (at most FETCH_RUNNING_MAX of them) */
		fjob_submit(j, FOP_REMOVE);
	} else {
		/* a waiting one's partial file: removed in a batch */
		if (j->tmp[0] != '\0')
			blobd_unlink_later(fq->b, j->tmp);
		fjob_free(j);
	}
	fetch_pump(fq);
}

static void
fetch_pump(struct fetchq *fq)
{
	struct fjob *j;

	while (!fq->stopping && fq->running < FETCH_RUNNING_MAX &&
	    (j = TAILQ_FIRST(&fq->ready)) != NULL) {
		TAILQ_REMOVE(&fq->ready, j, qentry);
		j->state = FJ_RUNNING;
		fq->running++;
		fjob_round(j);
	}
}

void
fetch_queue(struct blobd *b, const char *scope, const uint8_t *key,
    size_t key_len, uint64_t size, const char *hash, const char *origin)
{
	struct fetchq *fq = b->fetch;
	struct fjob *j;
	size_t h;

	if (fq == NULL || fq->stopping || !blob_scope_ok(scope) ||
	    !blob_key_ok(key, key_len))
		return;
	if ((j = fetch_find(fq, scope, key, key_len)) != NULL) {
		if (j->origin[0] == '\0' && origin != NULL)
			snprintf(j->origin, sizeof(j->origin), "%s", origin);
		return;
	}
	if (fq->njobs >= FETCH_JOBS_MAX) {
		if (fq->dropped++ % 1000 == 0)
			log_warnx("fetch queue full: the repair pass queues "
				  "the rest later");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->key = malloc(key_len)) == NULL)
		fatal("%s: alloc", __func__);
	j->fq = fq;
	j->fd = -1;
	j->dirfd = b->dirfd;
	snprintf(j->scope, sizeof(j->scope), "%s", scope);
	memcpy(j->key, key, key_len);
	j->key_len = key_len;
	blob_rel(scope, key, key_len, j->rel);
	j->size = size;
	snprintf(j->hash, sizeof(j->hash), "%s", hash != NULL ? hash : "");
	snprintf(
	    j->origin, sizeof(j->origin), "%s", origin != NULL ? origin : "");
	if ((j->timer = evtimer_new(b->base, fjob_timer_cb, j)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	h = fetch_bucket(scope, key, key_len);
	j->hnext = fq->buckets[h];
	fq->buckets[h] = j;
	j->hashed = true;
	j->state = FJ_QUEUED;
	TAILQ_INSERT_TAIL(&fq->ready, j, qentry);
	TAILQ_INSERT_TAIL(&fq->all, j, aentry);
	fq->njobs++;
	fetch_pump(fq);
}

void
fetch_cancel(
    struct blobd *b, const char *scope, const uint8_t *key, size_t key_len)
{
	struct fetchq *fq = b->fetch;
	struct fjob *j;

	if (fq == NULL || (j = fetch_find(fq, scope, key, key_len)) == NULL)
		return;
	if (j->state != FJ_RUNNING) {
		fjob_end(j);
		return;
	}
	/* its pending continuation ends it */
	fetch_unhash(j);
	j->cancelled = true;
	if (j->call != NULL) {
		hclient_cancel(j->call);
		j->call = NULL;
		fjob_defer(j);
	}
}

struct fetchq *
fetch_new(struct blobd *b)
{
	struct fetchq *fq;

	if ((fq = calloc(1, sizeof(*fq))) == NULL)
		fatal("%s: calloc", __func__);
	fq->b = b;
	TAILQ_INIT(&fq->ready);
	TAILQ_INIT(&fq->all);
	return fq;
}

size_t
fetch_queued(const struct fetchq *fq)
{
	return fq != NULL ? fq->njobs : 0;
}

size_t
fetch_running(const struct fetchq *fq)
{
	return fq != NULL ? fq->running : 0;
}

void
fetch_stop(struct fetchq *fq)
{
	struct fjob *j;

	if (fq == NULL || fq->stopping)
		return;
	fq->stopping = true;
	TAILQ_FOREACH(j, &fq->all, aentry)
	{
		evtimer_del(j->timer);
		if (j->call != NULL)
			hclient_cancel(j->call);
		j->call = NULL;
	}
}

/* after pool_free: no job is on the pool any more */
void
fetch_free(struct fetchq *fq)
{
	struct fjob *j;

	if (fq == NULL)
		return;
	fetch_stop(fq);
	while ((j = TAILQ_FIRST(&fq->all)) != NULL) {
		TAILQ_REMOVE(&fq->all, j, aentry);
		fjob_free(j);
	}
	hclient_free(fq->hc);
	free(fq);
}
