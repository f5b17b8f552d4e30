/*
 * Files of purged blobs (API.md §13.7), and partial files of dropped
 * fetches: removed on the pool in batches.
 * The queue is bounded; what does not fit is left to the repair pass,
 * which deletes files without metadata.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

#define PURGE_QUEUE_MAX 16384
#define PURGE_BATCH 256

struct purge_batch {
	struct pool_job job;
	struct blobd *b;
	int dirfd;
	size_t n;
	char rel[PURGE_BATCH][BLOB_REL_MAX];
	int64_t removed;
	int64_t bytes;
};

static struct purge_state {
	char (*q)[BLOB_REL_MAX]; /* ring */
	size_t head;
	size_t len;
	bool running;
	uint64_t dropped;
} purge;

static void purge_next(struct blobd *);

static void
purge_work(struct pool_job *j)
{
	struct purge_batch *pb = (struct purge_batch *)j;
	struct stat st;

	for (size_t i = 0; i < pb->n; i++) {
		if (strncmp(pb->rel[i], BLOB_TMP_DIR "/",
			sizeof(BLOB_TMP_DIR)) == 0) {
			unlinkat(pb->dirfd, pb->rel[i], 0);
			continue;
		}
		if (fstatat(pb->dirfd, pb->rel[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    -1)
			continue;
		if (unlinkat(pb->dirfd, pb->rel[i], 0) == 0) {
			pb->removed++;
			pb->bytes += st.st_size;
		}
	}
}

static void
purge_done(struct pool_job *j, bool stopping)
{
	struct purge_batch *pb = (struct purge_batch *)j;
	struct blobd *b = pb->b;

	blobd_account(b, -pb->removed, -pb->bytes);
	if (pb->removed > 0)
		log_info(
		    "purge: %lld blob files removed", (long long)pb->removed);
	free(pb);
	purge.running = false;
	if (!stopping)
		purge_next(b);
}

static void
purge_next(struct blobd *b)
{
	struct purge_batch *pb;

	if (purge.running || purge.len == 0 || b->pool == NULL)
		return;
	if ((pb = calloc(1, sizeof(*pb))) == NULL)
		fatal("%s: calloc", __func__);
	pb->b = b;
	pb->dirfd = b->dirfd;
	while (purge.len > 0 && pb->n < PURGE_BATCH) {
		memcpy(pb->rel[pb->n++], purge.q[purge.head], BLOB_REL_MAX);
		purge.head = (purge.head + 1) % PURGE_QUEUE_MAX;
		purge.len--;
	}
	pb->job.work = purge_work;
	pb->job.done = purge_done;
	purge.running = true;
	pool_submit(b->pool, &pb->job);
}

/* the slot for one more name, NULL when the queue is full */
static char *
purge_slot(void)
{
	if (purge.q == NULL &&
	    (purge.q = calloc(PURGE_QUEUE_MAX, BLOB_REL_MAX)) == NULL)
		fatal("%s: calloc", __func__);
	if (purge.len == PURGE_QUEUE_MAX) {
		if (purge.dropped++ == 0)
			log_warnx("purge queue full: the repair pass removes "
				  "the rest");
		return NULL;
	}
	return purge.q[(purge.head + purge.len) % PURGE_QUEUE_MAX];
}

void
blobd_purge(
    struct blobd *b, const char *scope, const uint8_t *key, size_t key_len)
{
	char *slot;

	if ((slot = purge_slot()) == NULL ||
	    blob_rel(scope, key, key_len, slot) == -1)
		return;
	purge.len++;
	purge_next(b);
}

void
blobd_unlink_later(struct blobd *b, const char *tmp_rel)
{
	char *slot;

	if (strncmp(tmp_rel, BLOB_TMP_DIR "/", sizeof(BLOB_TMP_DIR)) != 0)
		fatalx("%s: %s is not a temporary file", __func__, tmp_rel);
	if ((slot = purge_slot()) == NULL)
		return;
	snprintf(slot, BLOB_REL_MAX, "%s", tmp_rel);
	purge.len++;
	purge_next(b);
}
