//
// psb-bench - the lifecycle suite (one sandbox after the other through
// its life) and the exit suite (kill -9 of pause processes: until Status
// says EXITED, and until the event says so).
//

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SKIP_TEST_DOUBLE "a test double's pause pids are not processes"

// lc_wait_exited polls Status every 0.2 ms until id is EXITED (10 s at
// most), from t0 on. Prints the error.
static int
lc_wait_exited(psb_client_t *c, const char *id, int64_t t0)
{
	psb_client_error_t   err;
	psb_sandbox_status_t st;
	bool                 exited;

	for (;;) {
		if (psb_client_status(c, id, false, &st, &err) != 0) {
			call_failed(id, "status", &err);
			return (-1);
		}
		exited = strcmp(st.state, "EXITED") == 0;
		psb_sandbox_status_free(&st);
		if (exited) {
			return (0);
		}
		if (now_ns() - t0 > 10000000000LL) {
			fprintf(stderr,
			        "psb-bench: %s not EXITED 10 s after kill "
			        "-9\n",
			        id);
			return (-1);
		}
		usleep(200);
	}
}

// kill_pause sends SIGKILL to a sandbox's pause pid. Prints the error.
static int
kill_pause(const char *id, uint32_t pid)
{
	// kill(0) or kill(1) would not be the pause.
	if (pid <= 1) {
		fprintf(stderr,
		        "psb-bench: %s: pause pid %" PRIu32
		        " is not one to kill\n",
		        id, pid);
		return (-1);
	}
	if (kill((pid_t)pid, SIGKILL) != 0) {
		fprintf(stderr, "psb-bench: %s: kill -9 %" PRIu32 ": %s\n", id,
		        pid, strerror(errno));
		return (-1);
	}
	return (0);
}

// lc_run takes one sandbox through its life: Create+Start (t[0]), Status
// (t[1]), then either Stop or a kill -9 of its pause pid until Status
// says EXITED (t[2]), then Shutdown (t[3]). On an error it prints it,
// shuts down what was created and returns -1.
static int
lc_run(psb_client_t *c, const char *id, const void *cfg, size_t len,
        bool kill9, int64_t t[4])
{
	psb_client_error_t   err;
	psb_instance_t       inst;
	psb_sandbox_status_t st;
	int64_t              t0 = now_ns();
	uint32_t             pid;

	if (psb_client_create(c, id, cfg, len, NULL, &err) != 0) {
		call_failed(id, "create", &err);
		// A Create that timed out may have taken all the same; one
		// that was there before is not ours to shut down.
		if (err.code != PSB_CODE_ALREADY_EXISTS) {
			shutdown_quietly(c, id);
		}
		return (-1);
	}
	if (psb_client_start(c, id, &inst, &err) != 0) {
		call_failed(id, "start", &err);
		goto fail;
	}
	t[0] = now_ns() - t0;
	pid  = inst.pid;
	psb_instance_free(&inst);
	t0 = now_ns();
	if (psb_client_status(c, id, false, &st, &err) != 0) {
		call_failed(id, "status", &err);
		goto fail;
	}
	t[1] = now_ns() - t0;
	psb_sandbox_status_free(&st);
	t0 = now_ns();
	if (!kill9) {
		if (psb_client_stop(c, id, STOP_GRACE_S, &err) != 0) {
			call_failed(id, "stop", &err);
			goto fail;
		}
	} else if (kill_pause(id, pid) != 0 ||
	           lc_wait_exited(c, id, t0) != 0) {
		goto fail;
	}
	t[2] = now_ns() - t0;
	t0   = now_ns();
	if (psb_client_shutdown(c, id, &err) != 0) {
		call_failed(id, "shutdown", &err);
		return (-1);
	}
	t[3] = now_ns() - t0;
	return (0);
fail:
	shutdown_quietly(c, id);
	return (-1);
}

int
bench_lifecycle(bench_opts_t *o, bool kill9_round)
{
	psb_client_t        *c = NULL;
	psb_daemon_version_t v;
	int                  n      = o->requests > 0 ? o->requests : 20;
	void                *cfg    = NULL;
	size_t               len    = 0;
	int64_t             *start  = calloc((size_t)n, sizeof(int64_t));
	int64_t             *status = calloc((size_t)n, sizeof(int64_t));
	int64_t             *stop   = calloc((size_t)n, sizeof(int64_t));
	int64_t             *shut   = calloc((size_t)n, sizeof(int64_t));
	int64_t             *kill9  = calloc((size_t)n, sizeof(int64_t));
	int                  rv     = 1;
	bool                 real;
	char                 id[64];
	int64_t              t[4];

	report_param_int("sandboxes", n);
	report_param_int("warmup", o->warmup);
	report_param_str("config", config_name(o));
	if (start == NULL || status == NULL || stop == NULL || shut == NULL ||
	        kill9 == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (load_config(o->config_path, o->network, &cfg, &len) != 0 ||
	        daemon_version(o->url, &v) != 0) {
		goto out;
	}
	if ((c = open_client(o->url)) == NULL) {
		goto out;
	}
	// A test double's pause pids are numbers, not processes: a kill -9
	// would hit whatever process has that pid, or nothing.
	real = !v.runtime_is_test_double;
	for (int i = 0; i < o->warmup; i++) {
		snprintf(id, sizeof(id), "bench-%ld-w%d", (long)getpid(), i);
		if (lc_run(c, id, cfg, len, false, t) != 0) {
			goto out;
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "bench-%ld-%d", (long)getpid(), i);
		if (lc_run(c, id, cfg, len, false, t) != 0) {
			goto out;
		}
		start[i]  = t[0];
		status[i] = t[1];
		stop[i]   = t[2];
		shut[i]   = t[3];
	}
	for (int i = 0; kill9_round && real && i < n; i++) {
		snprintf(
		        id, sizeof(id), "bench-%ld-%d", (long)getpid(), n + i);
		if (lc_run(c, id, cfg, len, true, t) != 0) {
			goto out;
		}
		kill9[i] = t[2];
	}
	printf("lifecycle: %d sandbox(es) one after the other (after %d "
	       "warm-up) over %s, runtime %s%s, config %s\n",
	        n, o->warmup, o->url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "",
	        config_name(o));
	lat_head("ms", 18);
	lat_row("create+start", 18, "create_start", start, (size_t)n);
	lat_row("status", 18, "status", status, (size_t)n);
	lat_row("stop", 18, "stop", stop, (size_t)n);
	lat_row("shutdown", 18, "shutdown", shut, (size_t)n);
	if (!kill9_round) {
		printf("  %-18s skipped: the exit suite measures it\n",
		        "kill -9 -> EXITED");
		report_note("kill -9 -> EXITED: not run here, the exit suite "
		            "measures it");
	} else if (real) {
		lat_row("kill -9 -> EXITED", 18, "kill9_to_exited", kill9,
		        (size_t)n);
	} else {
		printf("  %-18s skipped: %s\n", "kill -9 -> EXITED",
		        SKIP_TEST_DOUBLE);
		report_note(
		        "kill -9 -> EXITED: skipped: %s", SKIP_TEST_DOUBLE);
	}
	rv = 0;
out:
	psb_client_close(c);
	free(cfg);
	free(start);
	free(status);
	free(stop);
	free(shut);
	free(kill9);
	return (rv);
}

// ---- exit ----

// What the subscription's callback and the main thread share: the
// sandbox killed last and when its EXITED event arrived.
typedef struct exit_watch {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	char            want[80]; // the sandbox to watch ("" for none)
	const char     *to;       // ... for this transition's target state
	int64_t         seen;     // when it came (0: not yet)
	bool            lost;     // DATA_LOSS: the journal had dropped some
} exit_watch_t;

static void
exit_event_cb(void *arg, const psb_event_t *ev, int code)
{
	exit_watch_t *w   = arg;
	int64_t       now = now_ns();

	pthread_mutex_lock(&w->mtx);
	if (ev == NULL) {
		(void)code;
		w->lost = true;
	} else if (w->seen == 0 && w->want[0] != '\0' &&
	           strcmp(ev->sandbox_id, w->want) == 0 &&
	           strcmp(ev->to, w->to) == 0) {
		w->seen = now;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mtx);
}

static void
exit_watch_set(exit_watch_t *w, const char *id, const char *to)
{
	pthread_mutex_lock(&w->mtx);
	snprintf(w->want, sizeof(w->want), "%s", id);
	w->to   = to;
	w->seen = 0;
	pthread_mutex_unlock(&w->mtx);
}

// exit_watch_wait waits up to ms for the watched event; returns when it
// came (0 if it did not).
static int64_t
exit_watch_wait(exit_watch_t *w, int ms)
{
	struct timespec ts;
	int64_t         seen;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mtx);
	while (w->seen == 0 &&
	        pthread_cond_timedwait(&w->cv, &w->mtx, &ts) == 0) { }
	seen       = w->seen;
	w->want[0] = '\0';
	pthread_mutex_unlock(&w->mtx);
	return (seen);
}

// exit_live makes sure that the subscription gets the live stream, not
// only the replay it starts with: events published before its SUB pipe
// is up would come late (with the next live event). A marker sandbox is
// created and shut down; its second event can only come through the
// stream (or a replay set off by a live event). Prints the error.
static int
exit_live(psb_client_t *c, exit_watch_t *w, const void *cfg, size_t len)
{
	psb_client_error_t err;
	char               id[64];
	int                rv = 0;

	snprintf(id, sizeof(id), "bench-x-%ld-marker", (long)getpid());
	exit_watch_set(w, id, "CREATED");
	if (psb_client_create(c, id, cfg, len, NULL, &err) != 0) {
		call_failed(id, "create", &err);
		shutdown_quietly(c, id);
		return (-1);
	}
	if (exit_watch_wait(w, 5000) == 0) {
		rv = -1;
	}
	exit_watch_set(w, id, "NONE");
	if (shutdown_quietly(c, id) != 0) {
		return (-1);
	}
	if (exit_watch_wait(w, 5000) == 0) {
		rv = -1;
	}
	if (rv != 0) {
		fprintf(stderr,
		        "psb-bench: exit: no event from the events socket "
		        "within 5 s (--events-socket?)\n");
	}
	return (rv);
}

// exit_one kills the pause of the pool's sandbox i and times Status
// EXITED (*st) and the EXITED event (*ev). Prints the error.
static int
exit_one(psb_client_t *c, exit_watch_t *w, const bench_pool_t *p, int i,
        int64_t *st, int64_t *ev)
{
	psb_client_error_t   err;
	psb_sandbox_status_t s;
	char                 id[80];
	uint32_t             pid;
	int64_t              t0;
	int64_t              seen;
	bool                 ready;

	pool_id(p, i, id, sizeof(id));
	if (psb_client_status(c, id, false, &s, &err) != 0) {
		call_failed(id, "status", &err);
		return (-1);
	}
	pid   = s.pid;
	ready = strcmp(s.state, "READY") == 0;
	if (!ready) {
		fprintf(stderr, "psb-bench: %s: %s, not READY\n", id, s.state);
	}
	psb_sandbox_status_free(&s);
	if (!ready) {
		return (-1);
	}
	exit_watch_set(w, id, "EXITED");
	t0 = now_ns();
	if (kill_pause(id, pid) != 0 || lc_wait_exited(c, id, t0) != 0) {
		return (-1);
	}
	*st = now_ns() - t0;
	if ((seen = exit_watch_wait(w, 10000)) == 0) {
		fprintf(stderr,
		        "psb-bench: %s: no EXITED event 10 s after kill -9\n",
		        id);
		return (-1);
	}
	*ev = seen - t0;
	return (0);
}

int
bench_exit(bench_opts_t *o, bench_pool_t *shared)
{
	psb_daemon_version_t v;
	psb_client_error_t   err;
	psb_client_t        *c   = NULL;
	psb_subscription_t  *sub = NULL;
	bench_pool_t         own;
	bench_pool_t        *p = shared != NULL ? shared : &own;
	exit_watch_t         w;
	int                  n  = o->requests > 0 ? o->requests : 20;
	int64_t             *st = calloc((size_t)n, sizeof(int64_t));
	int64_t             *ev = calloc((size_t)n, sizeof(int64_t));
	int                  rv = 1;

	memset(&own, 0, sizeof(own));
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cv, NULL);
	report_param_int("sandboxes", n);
	report_param_str("config", config_name(o));
	report_param_str("events_socket", o->events_url);
	if (st == NULL || ev == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (daemon_version(o->url, &v) != 0) {
		goto out;
	}
	if (v.runtime_is_test_double) {
		printf("exit: skipped: runtime %s is a test double (%s)\n",
		        v.runtime, SKIP_TEST_DOUBLE);
		report_skip(SKIP_TEST_DOUBLE);
		rv = 0;
		goto out;
	}
	if (pool_prepare(o, p, "x") != 0 ||
	        (c = open_client(o->url)) == NULL) {
		goto out;
	}
	// From the newest event on: nothing older is replayed.
	if (psb_client_subscribe(c, o->events_url, v.newest_seq, exit_event_cb,
	            &w, &sub, &err) != 0) {
		fprintf(stderr, "psb-bench: subscribe %s: %s: %s\n",
		        o->events_url, psb_code_name(err.code), err.message);
		goto out;
	}
	if (exit_live(c, &w, p->cfg, p->cfg_len) != 0 ||
	        pool_grow(o->url, p, n) != 0) {
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (exit_one(c, &w, p, i, &st[i], &ev[i]) != 0) {
			goto out;
		}
	}
	printf("exit: kill -9 of %d pause process(es), one after the other, "
	       "over %s (events %s), runtime %s, config %s\n",
	        n, o->url, o->events_url, v.runtime, config_name(o));
	lat_head("ms after kill -9", 20);
	lat_row("Status says EXITED", 20, "kill9_to_status_exited", st,
	        (size_t)n);
	lat_row("EXITED event", 20, "kill9_to_event_exited", ev, (size_t)n);
	if (w.lost) {
		printf("  (the subscription reported DATA_LOSS: the journal "
		       "had dropped events)\n");
		report_note("the subscription reported DATA_LOSS");
	}
	rv = 0;
out:
	psb_subscription_close(sub);
	psb_client_close(c);
	if (shared == NULL && own.cfg != NULL &&
	        pool_clear(o->url, &own) != 0) {
		rv = 1;
	}
	free(st);
	free(ev);
	pthread_mutex_destroy(&w.mtx);
	pthread_cond_destroy(&w.cv);
	return (rv);
}
