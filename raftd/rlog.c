#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/keys.h"
#include "raftd/rlog.h"

/*
 * The writer reports durability as a high-water mark: entries are written
 * in index order, so "durable up to N" is the whole completion list.
 */
struct rlog_writer {
	struct store *store;
	struct event *done_ev;
	rlog_durable_cb cb;
	void *arg;
	pthread_t thread;

	pthread_mutex_t mtx;
	pthread_cond_t work; /* the writer waits for entries */
	pthread_cond_t idle; /* flushers wait for an empty queue */
	struct fsm_entry *queue; /* ring of qmax, under mtx */
	size_t qhead;
	size_t qlen;
	size_t qmax;
	int writing;
	int stopping;
	uint64_t durable; /* under mtx */
	char *err; /* first write error, under mtx */
	uint64_t commits; /* under mtx */

	struct fsm_entry *batch; /* the writer thread's own */
	uint64_t reported; /* the loop's own */
};

static void
rlog_batch_fill(rocksdb_writebatch_t *wb, struct store *s,
    const struct fsm_entry *e, size_t n)
{
	uint8_t key[KEYS_LOG_LEN];
	struct pbuf val;

	pb_init(&val);
	for (size_t i = 0; i < n; i++) {
		pb_reset(&val);
		pb_add_u64(&val, e[i].term);
		pb_add_raw(&val, e[i].data, e[i].len);
		if (val.err)
			fatalx("%s: entry %llu does not fit", __func__,
			    (unsigned long long)e[i].index);
		keys_log(key, e[i].index);
		rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_LOG],
		    (const char *)key, sizeof(key), (const char *)val.data,
		    val.len);
	}
	pb_free(&val);
}

/* NULL on success, else the error text (rocksdb_free it) */
static char *
rlog_write(struct store *s, const struct fsm_entry *e, size_t n)
{
	rocksdb_writebatch_t *wb;
	char *err = NULL;

	wb = rocksdb_writebatch_create();
	rlog_batch_fill(wb, s, e, n);
	rocksdb_write(s->db, s->wo_sync, wb, &err);
	rocksdb_writebatch_destroy(wb);
	return err;
}

void
rlog_append_sync(struct store *s, const struct fsm_entry *e, size_t n)
{
	char *err;

	if ((err = rlog_write(s, e, n)) != NULL)
		fatalx("%s: %s", __func__, err);
}

void
rlog_last(struct store *s, uint64_t *index, uint64_t *term)
{
	rocksdb_iterator_t *it;
	const char *k, *v;
	size_t klen, vlen;
	char *err = NULL;

	*index = *term = 0;
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[STORE_CF_LOG]);
	rocksdb_iter_seek_to_last(it);
	if (rocksdb_iter_valid(it)) {
		k = rocksdb_iter_key(it, &klen);
		v = rocksdb_iter_value(it, &vlen);
		if (vlen < 8)
			fatalx("%s: log record of %zu bytes", __func__, vlen);
		*index = keys_log_index((const uint8_t *)k, klen);
		*term = keys_get_u64((const uint8_t *)v);
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
}

int
rlog_read(struct store *s, uint64_t index, struct fsm_entry *e)
{
	uint8_t key[KEYS_LOG_LEN], *data;
	char *val;
	size_t vlen;
	int found;

	keys_log(key, index);
	found = store_get(s, STORE_CF_LOG, key, sizeof(key), &val, &vlen);
	if (found == -1)
		fatalx("%s: cannot read entry %llu", __func__,
		    (unsigned long long)index);
	if (found == 0)
		return 0;
	if (vlen < 8)
		fatalx("%s: log record of %zu bytes", __func__, vlen);
	if ((data = malloc(vlen - 8 + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(data, val + 8, vlen - 8);
	e->index = index;
	e->term = keys_get_u64((const uint8_t *)val);
	e->data = data;
	e->len = vlen - 8;
	rocksdb_free(val);
	return 1;
}

/* takes at most RLOG_BATCH_MAX queued entries; called with mtx held */
static size_t
rlog_take(struct rlog_writer *w)
{
	size_t n;

	n = w->qlen < RLOG_BATCH_MAX ? w->qlen : RLOG_BATCH_MAX;
	for (size_t i = 0; i < n; i++)
		w->batch[i] = w->queue[(w->qhead + i) % w->qmax];
	w->qhead = (w->qhead + n) % w->qmax;
	w->qlen -= n;
	return n;
}

static void *
rlog_writer_main(void *arg)
{
	struct rlog_writer *w = arg;
	size_t n;
	char *err;

	pthread_mutex_lock(&w->mtx);
	for (;;) {
		while (w->qlen == 0 && !w->stopping)
			pthread_cond_wait(&w->work, &w->mtx);
		if (w->qlen == 0)
			break;
		n = rlog_take(w);
		w->writing = 1;
		pthread_mutex_unlock(&w->mtx);
		err = rlog_write(w->store, w->batch, n);
		pthread_mutex_lock(&w->mtx);
		w->writing = 0;
		if (err != NULL && w->err == NULL)
			w->err = err;
		else if (err != NULL)
			rocksdb_free(err);
		else {
			w->durable = w->batch[n - 1].index;
			w->commits++;
		}
		pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->mtx);
		event_active(w->done_ev, EV_READ, 0);
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

/* the loop side: report what became durable */
static void
rlog_drain(struct rlog_writer *w)
{
	uint64_t durable;

	pthread_mutex_lock(&w->mtx);
	durable = w->durable;
	if (w->err != NULL)
		fatalx("log write failed: %s", w->err);
	pthread_mutex_unlock(&w->mtx);
	if (durable > w->reported) {
		w->reported = durable;
		w->cb(durable, w->arg);
	}
}

static void
rlog_done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rlog_drain(arg);
}

struct rlog_writer *
rlog_writer_start(struct store *s, struct event_base *base, size_t queue_max,
    rlog_durable_cb cb, void *arg)
{
	struct rlog_writer *w;
	int rc;

	if (queue_max == 0)
		fatalx("%s: empty queue", __func__);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->queue = calloc(queue_max, sizeof(*w->queue))) == NULL ||
	    (w->batch = calloc(RLOG_BATCH_MAX, sizeof(*w->batch))) == NULL)
		fatal("%s", __func__);
	w->store = s;
	w->qmax = queue_max;
	w->cb = cb;
	w->arg = arg;
	if ((w->done_ev = event_new(base, -1, 0, rlog_done_cb, w)) == NULL)
		fatalx("%s: event_new", __func__);
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((rc = pthread_create(&w->thread, NULL, rlog_writer_main, w)) != 0)
		fatalx("%s: pthread_create: %s", __func__, strerror(rc));
	return w;
}

int
rlog_writer_submit(struct rlog_writer *w, const struct fsm_entry *e)
{
	pthread_mutex_lock(&w->mtx);
	if (w->qlen == w->qmax || w->stopping) {
		pthread_mutex_unlock(&w->mtx);
		return -1;
	}
	w->queue[(w->qhead + w->qlen) % w->qmax] = *e;
	w->qlen++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mtx);
	return 0;
}

void
rlog_writer_flush(struct rlog_writer *w)
{
	pthread_mutex_lock(&w->mtx);
	while ((w->qlen > 0 || w->writing) && w->err == NULL)
		pthread_cond_wait(&w->idle, &w->mtx);
	pthread_mutex_unlock(&w->mtx);
	rlog_drain(w);
}

uint64_t
rlog_writer_commits(struct rlog_writer *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->mtx);
	n = w->commits;
	pthread_mutex_unlock(&w->mtx);
	return n;
}

void
rlog_writer_stop(struct rlog_writer *w)
{
	if (w == NULL)
		return;
	rlog_writer_flush(w);
	pthread_mutex_lock(&w->mtx);
	w->stopping = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	if (w->err != NULL)
		rocksdb_free(w->err);
	free(w->queue);
	free(w->batch);
	free(w);
}
