/*
 * Worker threads for blocking file work.  Workers only touch the job they
 * hold and the two lists under the mutex; results go back to the loop
 * through the done list and one event, so daemon state stays on the loop
 * thread.
 */
#include <pthread.h>
#include <stdlib.h>

#include "blobd/pool.h"
#include "common/log.h"

#define POOL_THREADS_MAX 16

struct pool_list {
	struct pool_job *head;
	struct pool_job *tail;
};

struct pool {
	struct event_base *base;
	struct event *wake;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_list todo; /* under mu */
	struct pool_list done; /* under mu */
	bool stop; /* under mu */
	bool freeing; /* loop thread */
	size_t pending; /* loop thread: submitted, done() not yet run */
	pthread_t threads[POOL_THREADS_MAX];
	int nthreads;
};

static void
pool_list_push(struct pool_list *l, struct pool_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct pool_job *
pool_list_pop(struct pool_list *l)
{
	struct pool_job *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void *
pool_worker(void *arg)
{
	struct pool *p = arg;
	struct pool_job *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->todo.head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if ((j = pool_list_pop(&p->todo)) == NULL)
			break; /* stopping and nothing left */
		pthread_mutex_unlock(&p->mu);
		j->work(j);
		pthread_mutex_lock(&p->mu);
		pool_list_push(&p->done, j);
		event_active(p->wake, EV_READ, 0);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pool_deliver(struct pool *p, bool stopping)
{
	struct pool_list local;
	struct pool_job *j;

	pthread_mutex_lock(&p->mu);
	local = p->done;
	p->done.head = p->done.tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((j = pool_list_pop(&local)) != NULL) {
		p->pending--;
		j->done(j, stopping);
	}
}

static void
pool_wake(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	pool_deliver(arg, false);
}

struct pool *
pool_new(struct event_base *base, int nthreads)
{
	struct pool *p;

	if (nthreads < 1 || nthreads > POOL_THREADS_MAX)
		fatalx("%s: %d threads", __func__, nthreads);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s: calloc", __func__);
	p->base = base;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if ((p->wake = event_new(base, -1, 0, pool_wake, p)) == NULL)
		fatalx("%s: event_new", __func__);
	for (p->nthreads = 0; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(
			&p->threads[p->nthreads], NULL, pool_worker, p) != 0)
			fatalx("%s: pthread_create", __func__);
	return p;
}

void
pool_submit(struct pool *p, struct pool_job *j)
{
	if (j->work == NULL || j->done == NULL)
		fatalx("%s: job without work or done", __func__);
	if (p->freeing) {
		/* a done() run while stopping asked for more: do it here */
		j->work(j);
		j->done(j, true);
		return;
	}
	if (p->pending >= POOL_JOBS_MAX)
		fatalx("%s: more than %d jobs queued", __func__, POOL_JOBS_MAX);
	p->pending++;
	pthread_mutex_lock(&p->mu);
	pool_list_push(&p->todo, j);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

size_t
pool_pending(const struct pool *p)
{
	return p->pending;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	p->freeing = true;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pool_deliver(p, true);
	if (p->pending != 0)
		fatalx("%s: %zu jobs lost", __func__, p->pending);
	event_free(p->wake);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
