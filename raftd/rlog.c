#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "raftd/keys.h"
#include "raftd/rlog.h"

/*
 * One job at a time: the core hands out no new batch before the previous
 * one is advanced, so a deeper queue would never fill.
 */
struct rlog_writer {
	struct store *store;
	struct event *done_ev;
	rlog_done_cb cb;
	void *arg;
	pthread_t thread;

	pthread_mutex_t mtx;
	pthread_cond_t work; /* the writer waits for a job */
	pthread_cond_t idle; /* flushers wait for the job to finish */
	struct rlog_job *job; /* under mtx: submitted, not yet reported */
	bool written; /* under mtx: job is durable */
	bool stopping;
	char *err; /* first write error, under mtx */
	uint64_t commits; /* under mtx */
	struct metrics_hist fsync; /* under mtx: durable writes, timed */
};

static double
rlog_secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
rlog_put_entries(rocksdb_writebatch_t *wb, struct store *s,
    const struct raft_entry *e, size_t n)
{
	uint8_t key[KEYS_LOG_LEN];
	struct pbuf val;

	pb_init(&val);
	for (size_t i = 0; i < n; i++) {
		pb_reset(&val);
		pb_add_u64(&val, e[i].term);
		pb_add_u8(&val, e[i].type);
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

static void
rlog_put_raft(rocksdb_writebatch_t *wb, struct store *s, const char *key,
    const uint64_t *v, size_t n)
{
	uint8_t buf[3 * 8];

	for (size_t i = 0; i < n; i++)
		keys_put_u64(buf + 8 * i, v[i]);
	rocksdb_writebatch_put_cf(wb, s->cf[STORE_CF_RAFT], key, strlen(key),
	    (const char *)buf, 8 * n);
}

static void
rlog_delete_range(
    rocksdb_writebatch_t *wb, struct store *s, uint64_t from, uint64_t to)
{
	uint8_t k0[KEYS_LOG_LEN], k1[KEYS_LOG_LEN];

	keys_log(k0, from);
	keys_log(k1, to);
	rocksdb_writebatch_delete_range_cf(wb, s->cf[STORE_CF_LOG],
	    (const char *)k0, sizeof(k0), (const char *)k1, sizeof(k1));
}

/* NULL on success, else the error text (rocksdb_free it) */
static char *
rlog_write_opt(struct store *s, const struct rlog_job *j, bool sync)
{
	rocksdb_writebatch_t *wb;
	char *err = NULL;
	uint64_t v[3];

	wb = rocksdb_writebatch_create();
	if (j->truncate_from > 0)
		rlog_delete_range(wb, s, j->truncate_from, UINT64_MAX);
	rlog_put_entries(wb, s, j->entries, j->n_entries);
	if (j->has_hard_state) {
		v[0] = j->hard_state.term;
		v[1] = j->hard_state.vote;
		v[2] = j->hard_state.commit;
		rlog_put_raft(wb, s, KEYS_RAFT_HARD_STATE, v, 3);
	}
	if (j->compact_index > 0) {
		rlog_delete_range(wb, s, 0, j->compact_index + 1);
		v[0] = j->compact_index;
		v[1] = j->compact_term;
		rlog_put_raft(wb, s, KEYS_RAFT_BASE, v, 2);
	}
	rocksdb_write(s->db, sync ? s->wo_sync : s->wo_nosync, wb, &err);
	rocksdb_writebatch_destroy(wb);
	return err;
}

static char *
rlog_write(struct store *s, const struct rlog_job *j)
{
	return rlog_write_opt(s, j, true);
}

void
rlog_write_commit(struct store *s, const struct rlog_job *j)
{
	char *err;

	if (j->n_entries > 0 || j->truncate_from > 0 || j->compact_index > 0)
		fatalx("%s: more than a commit index", __func__);
	if ((err = rlog_write_opt(s, j, false)) != NULL)
		fatalx("%s: %s", __func__, err);
}

void
rlog_write_sync(struct store *s, const struct rlog_job *j)
{
	char *err;

	if ((err = rlog_write(s, j)) != NULL)
		fatalx("%s: %s", __func__, err);
}

static void
rlog_get_u64s(struct store *s, const char *key, uint64_t *v, size_t n)
{
	char *val;
	size_t vlen;
	int found;

	memset(v, 0, n * sizeof(*v));
	found = store_get(s, STORE_CF_RAFT, key, strlen(key), &val, &vlen);
	if (found == -1)
		fatalx("%s: cannot read %s", __func__, key);
	if (found == 0)
		return;
	if (vlen != 8 * n)
		fatalx("%s: %s record of %zu bytes", __func__, key, vlen);
	for (size_t i = 0; i < n; i++)
		v[i] = keys_get_u64((const uint8_t *)val + 8 * i);
	rocksdb_free(val);
}

void
rlog_hard_state(struct store *s, struct raft_hard_state *hs)
{
	uint64_t v[3];

	rlog_get_u64s(s, KEYS_RAFT_HARD_STATE, v, 3);
	hs->term = v[0];
	hs->vote = v[1];
	hs->commit = v[2];
}

void
rlog_base(struct store *s, uint64_t *index, uint64_t *term)
{
	uint64_t v[2];

	rlog_get_u64s(s, KEYS_RAFT_BASE, v, 2);
	*index = v[0];
	*term = v[1];
}

/* the first or last log record's index and term */
static void
rlog_edge(struct store *s, bool last, uint64_t *index, uint64_t *term)
{
	rocksdb_iterator_t *it;
	const char *k, *v;
	size_t klen, vlen;
	char *err = NULL;

	*index = *term = 0;
	it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[STORE_CF_LOG]);
	if (last)
		rocksdb_iter_seek_to_last(it);
	else
		rocksdb_iter_seek_to_first(it);
	if (rocksdb_iter_valid(it)) {
		k = rocksdb_iter_key(it, &klen);
		v = rocksdb_iter_value(it, &vlen);
		if (vlen < 9)
			fatalx("%s: log record of %zu bytes", __func__, vlen);
		*index = keys_log_index((const uint8_t *)k, klen);
		*term = keys_get_u64((const uint8_t *)v);
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err != NULL)
		fatalx("%s: %s", __func__, err);
}

void
rlog_last(struct store *s, uint64_t *index, uint64_t *term)
{
	rlog_edge(s, true, index, term);
}

uint64_t
rlog_first(struct store *s)
{
	uint64_t index, term;

	rlog_edge(s, false, &index, &term);
	return index;
}

int
rlog_read(struct store *s, uint64_t index, struct raft_entry *e)
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
	if (vlen < 9 || vlen - 9 > UINT32_MAX)
		fatalx("%s: log record of %zu bytes", __func__, vlen);
	if ((data = malloc(vlen - 9 + 1)) == NULL)
		fatal("%s", __func__);
	memcpy(data, val + 9, vlen - 9);
	e->index = index;
	e->term = keys_get_u64((const uint8_t *)val);
	e->type = (uint8_t)val[8];
	e->data = data;
	e->len = (uint32_t)(vlen - 9);
	rocksdb_free(val);
	return 1;
}

static void *
rlog_writer_main(void *arg)
{
	struct rlog_writer *w = arg;
	struct rlog_job *j;
	struct timespec t0;
	double secs;
	char *err;

	pthread_mutex_lock(&w->mtx);
	for (;;) {
		while ((w->job == NULL || w->written) && !w->stopping)
			pthread_cond_wait(&w->work, &w->mtx);
		if (w->job == NULL || w->written)
			break;
		j = w->job;
		pthread_mutex_unlock(&w->mtx);
		/* a synced write: its time is the fsync's, as §19.2 counts it */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = rlog_write(w->store, j);
		secs = rlog_secs_since(&t0);
		pthread_mutex_lock(&w->mtx);
		if (err != NULL && w->err == NULL)
			w->err = err;
		else if (err != NULL)
			rocksdb_free(err);
		else {
			w->commits++;
			metrics_hist_observe(&w->fsync, secs);
		}
		w->written = true;
		pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->mtx);
		event_active(w->done_ev, EV_READ, 0);
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

/* the loop side: report the job once it is durable */
static void
rlog_drain(struct rlog_writer *w)
{
	struct rlog_job *j = NULL;

	pthread_mutex_lock(&w->mtx);
	if (w->err != NULL)
		fatalx("log write failed: %s", w->err);
	if (w->job != NULL && w->written) {
		j = w->job;
		w->job = NULL;
		w->written = false;
	}
	pthread_mutex_unlock(&w->mtx);
	if (j != NULL)
		w->cb(j, w->arg);
}

static void
rlog_done_cb_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rlog_drain(arg);
}

struct rlog_writer *
rlog_writer_start(
    struct store *s, struct event_base *base, rlog_done_cb cb, void *arg)
{
	struct rlog_writer *w;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s", __func__);
	w->store = s;
	w->cb = cb;
	w->arg = arg;
	if ((w->done_ev = event_new(base, -1, 0, rlog_done_cb_ev, w)) == NULL)
		fatalx("%s: event_new", __func__);
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((rc = pthread_create(&w->thread, NULL, rlog_writer_main, w)) != 0)
		fatalx("%s: pthread_create: %s", __func__, strerror(rc));
	return w;
}

int
rlog_writer_submit(struct rlog_writer *w, struct rlog_job *j)
{
	pthread_mutex_lock(&w->mtx);
	if (w->job != NULL || w->stopping) {
		pthread_mutex_unlock(&w->mtx);
		return -1;
	}
	w->job = j;
	w->written = false;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mtx);
	return 0;
}

bool
rlog_writer_busy(struct rlog_writer *w)
{
	bool busy;

	pthread_mutex_lock(&w->mtx);
	busy = w->job != NULL;
	pthread_mutex_unlock(&w->mtx);
	return busy;
}

void
rlog_writer_flush(struct rlog_writer *w)
{
	pthread_mutex_lock(&w->mtx);
	while (w->job != NULL && !w->written && w->err == NULL)
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
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	if (w->err != NULL)
		rocksdb_free(w->err);
	free(w);
}

void
rlog_writer_fsync_hist(struct rlog_writer *w, struct metrics_hist *out)
{
	pthread_mutex_lock(&w->mtx);
	*out = w->fsync;
	pthread_mutex_unlock(&w->mtx);
}
