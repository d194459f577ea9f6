//
// podsandboxd - a small pool of worker threads for blocking work (STYLE.md
// practice 10: the loop thread never blocks).
//
// A job is two functions and an argument: work(arg) runs on a pool thread,
// then done(arg) runs on the loop thread, later, from the pool's ev_async
// watcher (never from inside psb_worker_submit). Finished jobs wait on a
// mutex-protected list; one ev_async wakes the loop for any number of
// them. Jobs run in submission order, up to one per thread at a time.
//
// Threads are started lazily, when a job finds none idle, up to the
// pool's size, and always from the loop thread, so that every worker
// starts in the loop thread's namespaces. Workers block all signals: they
// are the loop's to handle.
//
// Network namespaces: a job may move its thread into another network
// namespace (setns, unshare) but should move it back. The pool checks
// after every job that the thread is in the network namespace the pool
// was created in and puts it back (setns) if not; a thread that cannot be
// put back retires, and the loop starts a new one for the jobs still
// queued (should that fail, they wait for the next submit, which tries
// again), so that no job ever starts in a foreign namespace. Other
// per-thread state a job changes (mount namespace, credentials) is not
// checked: jobs must not change it.
//
// All functions: loop thread only (the thread that runs the loop the pool
// was created on, and which never leaves its network namespace).
//

#ifndef PSB_RUNTIME_NET_WORKER_H
#define PSB_RUNTIME_NET_WORKER_H

#include "base/error.h"

struct ev_loop;

#define PSB_WORKER_THREADS 2 // the pool's size when 0 is asked for

typedef struct psb_worker_pool psb_worker_pool_t;

typedef void (*psb_worker_fn)(void *arg);

// psb_worker_pool_new makes a pool of up to threads threads
// (PSB_WORKER_THREADS if 0) whose completions run on loop, and stores it
// in *out (owned by the caller, released with psb_worker_pool_free). No
// thread is started yet. It records the calling thread's network
// namespace (an open /proc/thread-self/ns/net) as the one every job
// starts in; PSB_ERUNTIME if that cannot be opened. The pool keeps an
// ev_async watcher active on loop (so ev_run does not return for want of
// watchers) until it is freed.
int psb_worker_pool_new(struct ev_loop *loop, unsigned threads,
        psb_worker_pool_t **out, psb_error_t *err);

// psb_worker_submit queues a job: work(arg) on a pool thread, then
// done(arg) on the loop thread. work must not be NULL; done may be (no
// completion), and arg is borrowed by the pool until done has run (or,
// without done, until work has returned). Returns 0, or without queueing
// anything (arg stays the caller's): PSB_ESTATE while the pool is being
// freed (from a done callback run by psb_worker_pool_free), PSB_EUNAVAIL
// if the pool has no thread and none could be started (logged).
int psb_worker_submit(psb_worker_pool_t *pool, psb_worker_fn work,
        psb_worker_fn done, void *arg);

// psb_worker_pool_free finishes every job and frees the pool: it blocks
// until each job already queued or running has run its work (a queued job
// is not abandoned: a namespace it makes or removes is made or removed),
// joins all threads, then runs the outstanding done callbacks, in order,
// on the calling thread before it returns; after it, no callback of the
// pool runs again. Those callbacks cannot submit more work (PSB_ESTATE).
// Should no thread at all be startable to drain the queue, the jobs left
// get done without work (logged): work should leave in arg a "did not
// run" result until it has run. Must not be called from inside a done
// callback. NULL is a no-op.
void psb_worker_pool_free(psb_worker_pool_t *pool);

#endif // PSB_RUNTIME_NET_WORKER_H
