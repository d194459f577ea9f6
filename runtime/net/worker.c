//
// podsandboxd - a small pool of worker threads (see worker.h).
//

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/list.h"
#include "base/log.h"
#include "runtime/net/worker.h"

#define WORKER_NETNS "/proc/thread-self/ns/net"

typedef struct worker_job {
	psb_list_node_t node;
	psb_worker_fn   work;
	psb_worker_fn   done;
	void           *arg;
} worker_job_t;

typedef struct worker_thread {
	psb_list_node_t    node; // on pool->threads (loop thread only)
	psb_worker_pool_t *pool;
	pthread_t          tid;
	bool               exited; // under mtx: returned, or about to
} worker_thread_t;

struct psb_worker_pool {
	struct ev_loop *loop;
	ev_async        async;
	unsigned        size;

	// The network namespace every job starts in (the loop thread's).
	int   netns_fd;
	dev_t netns_dev;
	ino_t netns_ino;

	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	// Under mtx.
	psb_list_t queue;   // submitted, not yet taken by a thread
	psb_list_t done;    // worked, waiting for done on the loop
	size_t     nqueued; // items on queue
	unsigned   idle;    // threads waiting on cv
	unsigned   live;    // threads started and not exited
	bool       closing; // threads exit once the queue is empty

	// Loop thread only.
	psb_list_t threads;     // started and not yet joined
	bool       freeing;     // psb_worker_pool_free has begun
	bool       dispatching; // inside done callbacks
};

// ---- the threads -----------------------------------------------------------

static bool
worker_netns_is_home(psb_worker_pool_t *p)
{
	struct stat st;

	return (stat(WORKER_NETNS, &st) == 0 && st.st_dev == p->netns_dev &&
	        st.st_ino == p->netns_ino);
}

// worker_netns_home puts the calling thread back into the pool's network
// namespace if a job left it elsewhere; false if it cannot. The job's own
// code should have done it already (netns.c does); this is the guarantee
// that the next job does not start in a pod's namespace even if it did
// not.
static bool
worker_netns_home(psb_worker_pool_t *p)
{
	if (worker_netns_is_home(p)) {
		return (true);
	}
	if (setns(p->netns_fd, CLONE_NEWNET) != 0) {
		psb_log(PSB_LOG_ERROR,
		        "worker: cannot return to the daemon's network "
		        "namespace: %s; retiring the thread",
		        strerror(errno));
		return (false);
	}
	if (!worker_netns_is_home(p)) {
		psb_log(PSB_LOG_ERROR,
		        "worker: still outside the daemon's network namespace "
		        "after setns; retiring the thread");
		return (false);
	}
	return (true);
}

static void *
worker_main(void *arg)
{
	worker_thread_t   *t = arg;
	psb_worker_pool_t *p = t->pool;

	pthread_mutex_lock(&p->mtx);
	for (;;) {
		worker_job_t *job;
		bool          home;

		while (!p->closing && psb_list_empty(&p->queue)) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mtx);
			p->idle--;
		}
		// Closing drains the queue first: a queued job is finished,
		// never dropped (worker.h).
		if ((job = psb_list_take(&p->queue)) == NULL) {
			break;
		}
		p->nqueued--;
		pthread_mutex_unlock(&p->mtx);

		job->work(job->arg);
		home = worker_netns_home(p);

		pthread_mutex_lock(&p->mtx);
		psb_list_append(&p->done, job);
		ev_async_send(p->loop, &p->async);
		if (!home) {
			break;
		}
	}
	// The loop joins this thread, and replaces it if jobs still wait.
	t->exited = true;
	p->live--;
	ev_async_send(p->loop, &p->async);
	pthread_mutex_unlock(&p->mtx);
	return (NULL);
}

// worker_spawn starts one thread. Loop thread only: a thread inherits its
// creator's namespaces, and the loop thread is the one that never leaves
// the daemon's (a retiring worker, which did, must not start its own
// replacement).
static int
worker_spawn(psb_worker_pool_t *p)
{
	worker_thread_t *t = xcalloc(1, sizeof(*t));
	sigset_t         all;
	sigset_t         old;
	int              rv;

	t->pool = p;
	pthread_mutex_lock(&p->mtx);
	p->live++;
	pthread_mutex_unlock(&p->mtx);
	// Signals are the loop's (ev_signal): the thread starts with all of
	// them blocked, as its mask is inherited.
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rv = pthread_create(&t->tid, NULL, worker_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		pthread_mutex_lock(&p->mtx);
		p->live--;
		pthread_mutex_unlock(&p->mtx);
		free(t);
		psb_log(PSB_LOG_WARN, "worker: cannot start a thread: %s",
		        strerror(rv));
		return (PSB_EUNAVAIL);
	}
	psb_list_append(&p->threads, t);
	return (0);
}

// worker_grow starts threads while queued jobs outnumber idle threads and
// the pool is below its size; non-zero if a thread it wanted could not be
// started.
static int
worker_grow(psb_worker_pool_t *p)
{
	for (;;) {
		bool need;
		int  rv;

		pthread_mutex_lock(&p->mtx);
		need = p->nqueued > p->idle && p->live < p->size;
		pthread_mutex_unlock(&p->mtx);
		if (!need) {
			return (0);
		}
		if ((rv = worker_spawn(p)) != 0) {
			return (rv);
		}
	}
}

// worker_reap joins the threads that exited (all: every thread, which
// the caller has told to exit).
static void
worker_reap(psb_worker_pool_t *p, bool all)
{
	worker_thread_t *t = psb_list_first(&p->threads);

	while (t != NULL) {
		worker_thread_t *next = psb_list_next(&p->threads, t);
		bool             exited;

		pthread_mutex_lock(&p->mtx);
		exited = t->exited;
		pthread_mutex_unlock(&p->mtx);
		if (all || exited) {
			pthread_join(t->tid, NULL);
			psb_list_remove(&p->threads, t);
			free(t);
		}
		t = next;
	}
}

// ---- the loop side ---------------------------------------------------------

static void
worker_dispatch(psb_worker_pool_t *p)
{
	psb_list_t    done;
	worker_job_t *job;

	PSB_LIST_INIT(&done, worker_job_t, node);
	pthread_mutex_lock(&p->mtx);
	psb_list_move_all(&done, &p->done);
	pthread_mutex_unlock(&p->mtx);

	p->dispatching = true;
	while ((job = psb_list_take(&done)) != NULL) {
		if (job->done != NULL) {
			job->done(job->arg);
		}
		free(job);
	}
	p->dispatching = false;
}

static void
worker_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	psb_worker_pool_t *p = w->data;

	(void)loop;
	(void)revents;
	worker_reap(p, false);
	// A retired thread may leave jobs queued and no one to take them.
	// (Should its replacement not start, they wait for the next
	// submit, which tries again.)
	(void)worker_grow(p);
	worker_dispatch(p);
}

int
psb_worker_pool_new(struct ev_loop *loop, unsigned threads,
        psb_worker_pool_t **out, psb_error_t *err)
{
	psb_worker_pool_t *p;
	struct stat        st;
	int                fd;

	fd = open(WORKER_NETNS, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
		}
		return (psb_error_sys(err, PSB_ERUNTIME, e,
		        "worker pool: opening %s", WORKER_NETNS));
	}
	p            = xcalloc(1, sizeof(*p));
	p->loop      = loop;
	p->size      = threads != 0 ? threads : PSB_WORKER_THREADS;
	p->netns_fd  = fd;
	p->netns_dev = st.st_dev;
	p->netns_ino = st.st_ino;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cv, NULL);
	PSB_LIST_INIT(&p->queue, worker_job_t, node);
	PSB_LIST_INIT(&p->done, worker_job_t, node);
	PSB_LIST_INIT(&p->threads, worker_thread_t, node);
	ev_async_init(&p->async, worker_async_cb);
	p->async.data = p;
	ev_async_start(loop, &p->async);
	*out = p;
	return (0);
}

int
psb_worker_submit(psb_worker_pool_t *pool, psb_worker_fn work,
        psb_worker_fn done, void *arg)
{
	worker_job_t *job;
	bool          orphan;

	PSB_ASSERT(work != NULL);
	if (pool->freeing) {
		return (PSB_ESTATE);
	}
	job       = xcalloc(1, sizeof(*job));
	job->work = work;
	job->done = done;
	job->arg  = arg;

	pthread_mutex_lock(&pool->mtx);
	psb_list_append(&pool->queue, job);
	pool->nqueued++;
	if (pool->idle > 0) {
		pthread_cond_signal(&pool->cv);
	}
	pthread_mutex_unlock(&pool->mtx);
	if (worker_grow(pool) == 0) {
		return (0);
	}
	// No thread could be started. With one running, or retiring (the
	// loop then starts its replacement), the job is taken in time; with
	// none at all, no one ever would. Then no one has, so it is still
	// on the queue.
	pthread_mutex_lock(&pool->mtx);
	orphan = pool->live == 0;
	if (orphan) {
		psb_list_remove(&pool->queue, job);
		pool->nqueued--;
	}
	pthread_mutex_unlock(&pool->mtx);
	if (orphan) {
		free(job);
		return (PSB_EUNAVAIL);
	}
	return (0);
}

void
psb_worker_pool_free(psb_worker_pool_t *pool)
{
	if (pool == NULL) {
		return;
	}
	PSB_ASSERT(!pool->dispatching);
	pool->freeing = true;
	for (;;) {
		bool left;

		pthread_mutex_lock(&pool->mtx);
		pool->closing = true;
		pthread_cond_broadcast(&pool->cv);
		pthread_mutex_unlock(&pool->mtx);
		worker_reap(pool, true);

		// Every thread retired with jobs still queued: start one
		// more to drain them (it sees closing, and exits when done).
		pthread_mutex_lock(&pool->mtx);
		left = !psb_list_empty(&pool->queue);
		pthread_mutex_unlock(&pool->mtx);
		if (!left) {
			break;
		}
		if (worker_spawn(pool) != 0) {
			psb_log(PSB_LOG_ERROR,
			        "worker: no thread to finish %zu queued "
			        "job(s); completing them without work",
			        pool->nqueued);
			psb_list_move_all(&pool->done, &pool->queue);
			pool->nqueued = 0;
			break;
		}
	}
	worker_dispatch(pool);
	ev_async_stop(pool->loop, &pool->async);
	close(pool->netns_fd);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mtx);
	free(pool);
}
