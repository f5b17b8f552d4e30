/*
 * The repair pass (API.md §13.6): at start, after a snapshot install (or
 * anything else that may have hidden changes from the stream), and every
 * config:blobs.repair_interval.  READ_BLOB_SCAN pages go through the
 * metadata; each page's files are checked on the pool: a live blob whose
 * file is missing or of the wrong size is queued for a fetch, and up to
 * REPAIR_REHASH_BYTES per pass are re-hashed (continuing where the last
 * pass stopped), a mismatch deleted and queued.  Then a walk of the
 * directory deletes files no record names and temporary files older than
 * an hour.  Tombstoned blobs keep their files until GC purges them.
 * A file without metadata goes only when two passes in a row found it
 * so (policy.h says why).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blobd/blobd_int.h"
#include "blobd/policy.h"
#include "common/log.h"

#define REPAIR_PAGE 1000
#define REPAIR_SCAN_MS 10000
/* names remembered per pass; past this, no file is deleted as orphan */
#define REPAIR_SET_MAX (4u * 1024 * 1024)
/* files looked at per walk */
#define REPAIR_WALK_MAX 10000000

/* a set of 128-bit fingerprints of "<scope>/<name>" */
struct nameset {
	uint64_t (*slot)[2]; /* {0,0} = empty */
	size_t cap;
	size_t n;
	bool overflow;
};

struct repair_entry {
	char scope[CMD_SCOPE_MAX + 1];
	uint8_t *key;
	size_t key_len;
	char rel[BLOB_REL_MAX];
	struct repair_file f;
	char hash[65];
	char origin[CFG_ID_MAX + 1];
	bool rehash;
	enum repair_action action;
};

enum repair_op { ROP_PAGE, ROP_WALK };

struct repair {
	struct blobd *b;
	int64_t interval_ms;
	struct event *timer;
	bool running;
	bool again;
	bool stopping;
	bool job_busy;
	bool scan_busy;
	time_t started;
	uint8_t *cursor;
	size_t cursor_len;
	struct nameset known;
	/* files without metadata in the last walk, and in this one */
	struct nameset suspects;
	struct nameset suspects_next;
	uint64_t index; /* live blobs seen this pass */
	uint64_t rehash_from; /* the first index to re-hash */
	uint64_t rehash_next;
	uint64_t budget;
	uint64_t queued, corrupt;

	/* the worker's side */
	struct pool_job job;
	enum repair_op op;
	int dirfd;
	struct repair_entry *ents;
	size_t nents;
	int64_t files, bytes;
	uint64_t orphans, tmps;
};

/*
 * the fingerprint set
 */

static void
nameset_fp(const char *s, uint64_t fp[2])
{
	uint64_t a = 1469598103934665603ull, c = 0x84222325cbf29ce4ull;

	for (; *s != '\0'; s++) {
		a = (a ^ (uint8_t)*s) * 1099511628211ull;
		c = (c ^ (uint8_t)*s) * 0x100000001b3ull +
		    0x9e3779b97f4a7c15ull;
	}
	fp[0] = a | 1; /* never the empty slot */
	fp[1] = c;
}

static void nameset_add(struct nameset *, const char *);

static void
nameset_put(struct nameset *s, const uint64_t fp[2])
{
	size_t i = (size_t)(fp[0] ^ fp[1]) & (s->cap - 1);

	while (s->slot[i][0] != 0) {
		if (s->slot[i][0] == fp[0] && s->slot[i][1] == fp[1])
			return;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i][0] = fp[0];
	s->slot[i][1] = fp[1];
	s->n++;
}

static void
nameset_grow(struct nameset *s)
{
	uint64_t(*old)[2] = s->slot;
	size_t oldcap = s->cap;

	s->cap = oldcap == 0 ? 1024 : oldcap * 2;
	if ((s->slot = calloc(s->cap, sizeof(*s->slot))) == NULL)
		fatal("%s: calloc", __func__);
	s->n = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i][0] != 0)
			nameset_put(s, old[i]);
	free(old);
}

static void
nameset_add(struct nameset *s, const char *name)
{
	uint64_t fp[2];

	if (s->overflow)
		return;
	if (s->n >= REPAIR_SET_MAX) {
		s->overflow = true;
		return;
	}
	if (2 * (s->n + 1) > s->cap)
		nameset_grow(s);
	nameset_fp(name, fp);
	nameset_put(s, fp);
}

static bool
nameset_has(const struct nameset *s, const char *name)
{
	uint64_t fp[2];
	size_t i;

	if (s->cap == 0)
		return false;
	nameset_fp(name, fp);
	for (i = (size_t)(fp[0] ^ fp[1]) & (s->cap - 1); s->slot[i][0] != 0;
	     i = (i + 1) & (s->cap - 1))
		if (s->slot[i][0] == fp[0] && s->slot[i][1] == fp[1])
			return true;
	return false;
}

static void
nameset_clear(struct nameset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/*
 * worker side
 */

static void
repair_check(int dirfd, struct repair_entry *e, time_t started)
{
	struct stat st;
	char got[65];
	int fd;

	e->f.exists = fstatat(dirfd, e->rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
	e->f.size = e->f.exists ? (uint64_t)st.st_size : 0;
	if (e->rehash && e->f.exists && e->f.size == e->f.meta_size) {
		fd = openat(dirfd, e->rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1 && blobd_hash_file(fd, e->f.size, got) == 0) {
			e->f.hashed = true;
			e->f.hash_ok = strcmp(got, e->hash) == 0;
		}
		if (fd != -1)
			close(fd);
	}
	e->action = policy_repair(&e->f, started);
	if (e->action == REPAIR_DELETE_FETCH)
		unlinkat(dirfd, e->rel, 0);
}

static void
repair_walk_scope(struct repair *r, int sfd, const char *scope)
{
	struct repair_file f;
	char rel[BLOB_REL_MAX + 256];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = fdopendir(sfd)) == NULL) {
		close(sfd);
		return;
	}
	while ((de = readdir(d)) != NULL && r->files < REPAIR_WALK_MAX) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !S_ISREG(st.st_mode))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", scope, de->d_name);
		memset(&f, 0, sizeof(f));
		f.has_meta = r->known.overflow || nameset_has(&r->known, rel);
		f.exists = true;
		f.size = (uint64_t)st.st_size;
		f.ctime = st.st_ctime;
		f.orphan_before = !f.has_meta && nameset_has(&r->suspects, rel);
		switch (policy_repair(&f, r->started)) {
		case REPAIR_SUSPECT:
			nameset_add(&r->suspects_next, rel);
			break;
		case REPAIR_DELETE:
			if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
				r->orphans++;
				continue;
			}
			break;
		default:
			break;
		}
		r->files++;
		r->bytes += st.st_size;
	}
	closedir(d);
}

static void
repair_walk_tmp(struct repair *r, int tfd)
{
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = fdopendir(tfd)) == NULL) {
		close(tfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (policy_tmp_expired(st.st_mtime, now) &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			r->tmps++;
	}
	closedir(d);
}

static void
repair_walk(struct repair *r)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(r->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		-1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fd = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			continue;
		if (strcmp(de->d_name, BLOB_TMP_DIR) == 0)
			repair_walk_tmp(r, fd);
		else if (de->d_name[0] != '.' && blob_scope_ok(de->d_name))
			repair_walk_scope(r, fd, de->d_name);
		else
			close(fd);
	}
	closedir(d);
}

static void
repair_work(struct pool_job *j)
{
	struct repair *r =
	    (struct repair *)((char *)j - offsetof(struct repair, job));

	if (r->op == ROP_WALK) {
		repair_walk(r);
		return;
	}
	for (size_t i = 0; i < r->nents; i++)
		repair_check(r->dirfd, &r->ents[i], r->started);
}

/*
 * loop side
 */

static void repair_scan(struct repair *);
static void repair_begin(struct repair *, const char *why);

static void
repair_free_page(struct repair *r)
{
	for (size_t i = 0; i < r->nents; i++)
		free(r->ents[i].key);
	free(r->ents);
	r->ents = NULL;
	r->nents = 0;
}

static void
repair_end(struct repair *r, bool complete)
{
	struct timeval tv;

	r->running = false;
	nameset_clear(&r->known);
	free(r->cursor);
	r->cursor = NULL;
	r->cursor_len = 0;
	if (complete) {
		/* the re-hash turn wraps once the list's end was reached */
		r->rehash_from = r->budget > 0 ? 0 : r->rehash_next;
		log_info("repair: pass done: %llu queued for fetch, %llu "
			 "corrupt, %llu orphan files and %llu temporary "
			 "files deleted",
		    (unsigned long long)r->queued,
		    (unsigned long long)r->corrupt,
		    (unsigned long long)r->orphans,
		    (unsigned long long)r->tmps);
	}
	if (r->stopping)
		return;
	if (r->again) {
		r->again = false;
		repair_begin(r, "asked during the last pass");
		return;
	}
	tv.tv_sec = r->interval_ms / 1000;
	tv.tv_usec = (r->interval_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

static void
repair_page_done(struct repair *r)
{
	struct repair_entry *e;

	for (size_t i = 0; i < r->nents; i++) {
		e = &r->ents[i];
		/* a missing file had its turn too (its fetch checks the
		 * hash), or a large one could hold the turn forever */
		if (e->rehash)
			r->rehash_next = r->index - r->nents + i + 1;
		if (e->action == REPAIR_KEEP)
			continue;
		if (e->action == REPAIR_DELETE_FETCH) {
			r->corrupt++;
			blobd_account(r->b, -1, -(int64_t)e->f.size);
			log_info("repair: %s does not match its hash: "
				 "deleted, queued for fetch",
			    e->rel);
		} else
			log_info("repair: %s %s: queued for fetch", e->rel,
			    !e->f.exists ? "missing" : "of the wrong size");
		r->queued++;
		fetch_queue(r->b, e->scope, e->key, e->key_len, e->f.meta_size,
		    e->hash, e->origin);
	}
	repair_free_page(r);
}

static void
repair_job_done(struct pool_job *j, bool stopping)
{
	struct repair *r =
	    (struct repair *)((char *)j - offsetof(struct repair, job));

	r->job_busy = false;
	if (stopping || r->stopping) {
		repair_free_page(r);
		return;
	}
	if (r->op == ROP_WALK) {
		nameset_clear(&r->suspects);
		r->suspects = r->suspects_next;
		memset(&r->suspects_next, 0, sizeof(r->suspects_next));
		blobd_counted(r->b, r->files, r->bytes);
		repair_end(r, true);
		return;
	}
	repair_page_done(r);
	if (r->cursor_len > 0)
		repair_scan(r);
	else {
		r->op = ROP_WALK;
		r->files = r->bytes = 0;
		r->job_busy = true;
		pool_submit(r->b->pool, &r->job);
	}
}

/* one entry of a scan page into r->ents; -1 when malformed */
static int
repair_take(struct repair *r, struct pread *rd)
{
	struct repair_entry *e = &r->ents[r->nents];
	struct blob_record rec;
	const uint8_t *key, *p;
	char *scope = NULL;
	size_t klen, len;

	pr_get_strdup(rd, &scope);
	pr_get_bytes(rd, &key, &klen);
	if (pr_get_bytes(rd, &p, &len) == -1 || !blob_scope_ok(scope) ||
	    !blob_key_ok(key, klen) || blob_record_decode(p, len, &rec) == -1) {
		free(scope);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->scope, sizeof(e->scope), "%s", scope);
	free(scope);
	blob_rel(e->scope, key, klen, e->rel);
	nameset_add(&r->known, e->rel);
	if (rec.state == 0) {
		if ((e->key = malloc(klen)) == NULL)
			fatal("%s: malloc", __func__);
		memcpy(e->key, key, klen);
		e->key_len = klen;
		e->f.has_meta = e->f.live = true;
		e->f.meta_size = rec.size;
		snprintf(e->hash, sizeof(e->hash), "%s", rec.hash);
		snprintf(e->origin, sizeof(e->origin), "%s", rec.node_id);
		e->rehash = r->index >= r->rehash_from && r->budget > 0;
		if (e->rehash)
			r->budget =
			    rec.size >= r->budget ? 0 : r->budget - rec.size;
		r->index++;
		r->nents++;
	}
	blob_record_free(&rec);
	return 0;
}

/* u16 status, u8 consistency, u32 n, n * (str scope, bytes key, bytes
 * record), bytes next cursor */
static int
repair_parse(struct repair *r, const uint8_t *p, size_t len)
{
	const uint8_t *next;
	struct pread rd;
	size_t nlen;
	uint16_t st;
	uint8_t cons;
	uint32_t n;

	pr_init(&rd, p, len);
	pr_get_u16(&rd, &st);
	pr_get_u8(&rd, &cons);
	if (rd.err || st != ST_OK || pr_get_u32(&rd, &n) == -1 ||
	    n > REPAIR_PAGE)
		return -1;
	if ((r->ents = calloc(n + 1, sizeof(*r->ents))) == NULL)
		fatal("%s: calloc", __func__);
	for (uint32_t i = 0; i < n; i++)
		if (repair_take(r, &rd) == -1)
			return -1;
	if (pr_get_bytes(&rd, &next, &nlen) == -1 || pr_end(&rd) == -1 ||
	    nlen > BLOB_KEY_MAX + CMD_SCOPE_MAX + 64)
		return -1;
	free(r->cursor);
	r->cursor = NULL;
	if ((r->cursor_len = nlen) > 0) {
		if ((r->cursor = malloc(nlen)) == NULL)
			fatal("%s: malloc", __func__);
		memcpy(r->cursor, next, nlen);
	}
	return 0;
}

static void
repair_scanned(int err, struct ipc_msg *m, void *arg)
{
	struct repair *r = arg;

	r->scan_busy = false;
	if (r->stopping)
		return;
	if (err != 0 || m == NULL) {
		log_info("repair: raftd not reachable, pass skipped");
		repair_end(r, false);
		return;
	}
	if (repair_parse(r, m->payload, m->len) == -1) {
		log_warnx("repair: unreadable blob scan from raftd, pass "
			  "skipped");
		repair_free_page(r);
		repair_end(r, false);
		return;
	}
	r->op = ROP_PAGE;
	r->job_busy = true;
	pool_submit(r->b->pool, &r->job);
}

static void
repair_scan(struct repair *r)
{
	struct read_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.op = READ_BLOB_SCAN;
	rq.consistency = READ_LOCAL;
	rq.key = r->cursor;
	rq.key_len = r->cursor_len;
	rq.limit = REPAIR_PAGE;
	r->scan_busy = true;
	if (blobd_read(r->b, &rq, REPAIR_SCAN_MS, repair_scanned, r) == -1)
		repair_scanned(ECONNREFUSED, NULL, r);
}

static void
repair_begin(struct repair *r, const char *why)
{
	evtimer_del(r->timer);
	r->running = true;
	r->started = time(NULL);
	r->index = 0;
	r->rehash_next = r->rehash_from;
	r->budget = REPAIR_REHASH_BYTES;
	r->queued = r->corrupt = r->orphans = r->tmps = 0;
	nameset_clear(&r->known);
	nameset_clear(&r->suspects_next);
	log_info("repair: pass started (%s)", why);
	repair_scan(r);
}

static void
repair_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct repair *r = arg;

	(void)fd;
	(void)what;
	if (!r->running && !r->stopping)
		repair_begin(r, "interval");
}

struct repair *
repair_new(struct blobd *b, int64_t interval_ms)
{
	struct repair *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s: calloc", __func__);
	r->b = b;
	r->dirfd = b->dirfd;
	r->interval_ms = interval_ms > 0 ? interval_ms : 60000;
	r->job.work = repair_work;
	r->job.done = repair_job_done;
	if ((r->timer = evtimer_new(b->base, repair_timer_cb, r)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return r;
}

void
repair_request(struct blobd *b, const char *why)
{
	struct repair *r = b->repair;

	if (r == NULL || r->stopping)
		return;
	if (r->running) {
		r->again = true;
		return;
	}
	repair_begin(r, why);
}

bool
repair_running(const struct repair *r)
{
	return r != NULL && r->running;
}

void
repair_stop(struct repair *r)
{
	if (r == NULL)
		return;
	r->stopping = true;
	evtimer_del(r->timer);
}

/* after pool_free and once raftd.api is closed */
void
repair_free(struct repair *r)
{
	if (r == NULL)
		return;
	repair_free_page(r);
	nameset_clear(&r->known);
	nameset_clear(&r->suspects);
	nameset_clear(&r->suspects_next);
	free(r->cursor);
	event_free(r->timer);
	free(r);
}
