/*
 * The blob daemon's state: transfers' handles, counters, the idle sweep
 * and the stop sequence.  Role wiring is in blobd.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "blobd/blobd_int.h"
#include "common/log.h"

#define BLOBD_SWEEP_MS 5000
#define BLOBD_STOP_POLL_MS 50
/* commits in flight are given this long to settle on stop */
#define BLOBD_STOP_WAIT_MS 5000

int64_t
blobd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
blobd_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct blobd *b = arg;
	int64_t now = blobd_now_ms();

	(void)fd;
	(void)what;
	upload_idle(b, now);
	download_idle(b, now);
}

struct blobd *
blobd_new(struct event_base *base, int dirfd, const char *node_id,
    const char *badge_id, int64_t max_size)
{
	struct timeval tv = { BLOBD_SWEEP_MS / 1000, 0 };
	struct blobd *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s: calloc", __func__);
	b->base = base;
	b->dirfd = dirfd;
	snprintf(b->node_id, sizeof(b->node_id), "%s", node_id);
	snprintf(b->badge_id, sizeof(b->badge_id), "%s", badge_id);
	b->max_size = max_size;
	b->api_peer = -1;
	TAILQ_INIT(&b->uploads);
	TAILQ_INIT(&b->downloads);
	/* handles of a previous run must not name a new transfer */
	if (RAND_bytes(
		(unsigned char *)&b->next_handle, sizeof(b->next_handle)) != 1)
		fatalx("%s: RAND_bytes", __func__);
	b->pool = pool_new(base, BLOBD_THREADS);
	b->idle_timer = event_new(base, -1, EV_PERSIST, blobd_sweep_cb, b);
	if (b->idle_timer == NULL || event_add(b->idle_timer, &tv) == -1)
		fatalx("%s: idle timer", __func__);
	b->fetch = fetch_new(b);
	return b;
}

uint64_t
blobd_handle(struct blobd *b)
{
	if (++b->next_handle == 0)
		b->next_handle = 1;
	return b->next_handle;
}

void
blobd_reply(
    struct blobd *b, struct ipc_rctx *rctx, uint16_t type, struct pbuf *pb)
{
	if (pb->err)
		fatalx("%s: encode reply %u", __func__, type);
	if (b->reply_fn != NULL)
		b->reply_fn(rctx, type, pb->data, pb->len, b->reply_arg);
	else if (ipc_reply(rctx, type, pb->data, pb->len) == -1)
		log_warnx("%s: reply %u to apid lost", __func__, type);
	pb_free(pb);
}

void
blobd_account(struct blobd *b, int64_t files, int64_t bytes)
{
	b->blob_count += files;
	b->blob_bytes += bytes;
	if (b->blob_count < 0)
		b->blob_count = 0;
	if (b->blob_bytes < 0)
		b->blob_bytes = 0;
}

void
blobd_counted(struct blobd *b, int64_t files, int64_t bytes)
{
	b->blob_count = files;
	b->blob_bytes = bytes;
}

struct json_object *
blobd_status_json(struct blobd *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(
	    o, "blob_count", json_object_new_int64(b->blob_count));
	json_object_object_add(
	    o, "blob_bytes", json_object_new_int64(b->blob_bytes));
	json_object_object_add(o, "replication_queue",
	    json_object_new_int64((int64_t)fetch_queued(b->fetch)));
	json_object_object_add(o, "fetches_running",
	    json_object_new_int64((int64_t)fetch_running(b->fetch)));
	json_object_object_add(
	    o, "uploads", json_object_new_int64((int64_t)b->nuploads));
	json_object_object_add(
	    o, "downloads", json_object_new_int64((int64_t)b->ndownloads));
	return o;
}

static void
blobd_stop_poll(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, BLOBD_STOP_POLL_MS * 1000 };
	struct blobd *b = arg;

	(void)fd;
	(void)what;
	if (b->committing > 0 && blobd_now_ms() < b->stop_deadline_ms) {
		evtimer_add(b->stop_timer, &tv);
		return;
	}
	if (b->committing > 0)
		log_warnx("stopping with %zu uploads still committing",
		    b->committing);
	b->stopped(b->stopped_arg);
}

void
blobd_stop_begin(struct blobd *b, void (*done)(void *), void *arg)
{
	if (b->stopping)
		return;
	b->stopping = true;
	b->stopped = done;
	b->stopped_arg = arg;
	stream_stop(b);
	fetch_stop(b->fetch);
	repair_stop(b->repair);
	upload_stop(b);
	download_stop(b);
	b->stop_deadline_ms = blobd_now_ms() + BLOBD_STOP_WAIT_MS;
	if ((b->stop_timer = evtimer_new(b->base, blobd_stop_poll, b)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	blobd_stop_poll(-1, 0, b);
}

/* after the stop sequence (or in tests): jobs finish, raftd.api closes
 * (dropping its calls' callbacks), then everything goes */
void
blobd_free(struct blobd *b)
{
	if (b == NULL)
		return;
	b->stopping = true;
	fetch_stop(b->fetch);
	repair_stop(b->repair);
	upload_stop(b);
	download_stop(b);
	/* runs every done() still owed: transfers and jobs free themselves */
	pool_free(b->pool);
	b->pool = NULL;
	blobd_raft_stop(b);
	stream_stop(b);
	stream_free(b);
	upload_free_all(b);
	fetch_free(b->fetch);
	repair_free(b->repair);
	if (b->api != NULL)
		ipc_close(b->api);
	if (b->stop_timer != NULL)
		event_free(b->stop_timer);
	event_free(b->idle_timer);
	if (b->dirfd != -1)
		close(b->dirfd);
	free(b);
}
