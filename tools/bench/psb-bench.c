//
// psb-bench - measures podsandboxd through its public client library.
//
//   psb-bench status [--clients C] [--requests M] [--socket URL]
//                    [--daemon-pid PID]
//   psb-bench lifecycle [--requests N] [--warmup K] [--config FILE]
//                       [--socket URL]
//   psb-bench concurrency [--requests N] [--clients C] [--config FILE]
//                         [--socket URL] [--daemon-pid PID]
//
// "status": C client threads (each with its own libpodsandbox client and
// REQ socket) send Status for one sandbox M times each, back to back. It
// prints the round-trip median, p90, p99 and max, the throughput, and,
// with --daemon-pid, the daemon's CPU time per call (utime + stime from
// /proc). The sandbox "bench-status" is created first if missing.
//
// "lifecycle": K warm-up sandboxes (default 2, not counted), then N
// sandboxes one after the other (default 20): Create+Start, Stop and
// Shutdown latency (median, p90, p99, max), then N more, each with a
// kill -9 of its pause pid and the time until Status shows EXITED (polled
// every 0.2 ms). With a real runtime this measures real pause containers;
// the kill -9 round is skipped when the daemon's runtime is a test double,
// whose pids are not processes.
//
// "concurrency": N sandboxes (default 50) with C in flight (default 8):
// C threads, each with its own client, take sandbox indexes from a shared
// counter. Phase 1 creates and starts all N, phase 2 (once phase 1 is
// over) stops and shuts all N down. For each phase: pods/s (N over the
// phase's wall time), the latency per sandbox (median, p90, p99, max)
// and, with --daemon-pid, the daemon's CPU time per sandbox. On an error
// the sandboxes created so far are still shut down, and the exit status
// is 1.
//
// Percentiles are nearest-rank; a p90 or p99 that cannot be told from the
// max (fewer than 10 or 100 samples) is shown as "-".
//
// Timing is what a client sees, so it includes nng's ipc transport. It is
// a tool, not a test: nothing here asserts a figure.
//

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podsandbox.h"

#define BENCH_ID "bench-status"

// Stop's grace period, and a client timeout above it: a call that timed
// out on the client would go on in the daemon and race the clean-up.
#define STOP_GRACE_S    30
#define CALL_TIMEOUT_MS 40000

#define MAX_CLIENTS  1024
#define MAX_REQUESTS 1000000
#define MAX_WARMUP   1000

typedef struct bench_thread {
	pthread_t   thread;
	const char *url;
	int         requests;
	int64_t    *lat; // ns per call
	int         failures;
} bench_thread_t;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void *
bench_status_thread(void *arg)
{
	bench_thread_t      *t = arg;
	psb_client_t        *c = NULL;
	psb_client_error_t   err;
	psb_sandbox_status_t st;

	if (psb_client_open(t->url, &c, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		t->failures = t->requests;
		return (NULL);
	}
	for (int i = 0; i < t->requests; i++) {
		int64_t t0 = now_ns();

		if (psb_client_status(c, BENCH_ID, false, &st, &err) != 0) {
			t->failures++;
			continue;
		}
		t->lat[i] = now_ns() - t0;
		psb_sandbox_status_free(&st);
	}
	psb_client_close(c);
	return (NULL);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

// pct returns the nearest-rank p-th percentile of the n sorted values v,
// or -1 when it is the max only because there are too few values (p90
// with fewer than 10, p99 with fewer than 100). The median always counts.
static int64_t
pct(const int64_t *v, size_t n, int p)
{
	size_t rank = ((size_t)p * n + 99) / 100; // ceil(p * n / 100)

	if (rank < 1) {
		rank = 1;
	}
	if (n == 0 || (rank >= n && p != 50)) {
		return (-1);
	}
	return (v[rank - 1]);
}

// cpu_ns reads a process's user + system CPU time (-1 if unreadable).
static int64_t
cpu_ns(long pid)
{
	char               path[64];
	char               buf[1024];
	FILE              *f;
	char              *p;
	unsigned long long utime = 0;
	unsigned long long stime = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	// Fields after the ")" that closes the command name: state is 3,
	// utime 14 and stime 15.
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	        sscanf(p + 2,
	                "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	                "%llu",
	                &utime, &stime) != 2) {
		return (-1);
	}
	return ((int64_t)((utime + stime) *
	                  (1000000000ULL /
	                          (unsigned long long)sysconf(_SC_CLK_TCK))));
}

static int
ensure_sandbox(const char *url)
{
	static const char *cfg = "{\"metadata\": {\"name\": \"bench\", "
	                         "\"namespace\": \"bench\", \"uid\": "
	                         "\"bench-uid\"}}";
	psb_client_t      *c   = NULL;
	psb_client_error_t err;
	void              *bytes = NULL;
	size_t             len   = 0;
	int                rv;

	if (psb_client_open(url, &c, &err) != 0 ||
	        psb_config_from_json(cfg, &bytes, &len, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		psb_client_close(c);
		return (-1);
	}
	rv = psb_client_create(c, BENCH_ID, bytes, len, NULL, &err);
	if (rv != 0) {
		fprintf(stderr, "psb-bench: create %s: %s: %s\n", BENCH_ID,
		        psb_code_name(err.code), err.message);
	}
	free(bytes);
	psb_client_close(c);
	return (rv);
}

// us_or_dash formats ns as microseconds, or "-" for a missing figure.
static const char *
us_or_dash(char *buf, size_t len, int64_t ns)
{
	if (ns < 0) {
		snprintf(buf, len, "-");
	} else {
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	}
	return (buf);
}

static int
bench_status(const char *url, int clients, int requests, long daemon_pid)
{
	bench_thread_t *t = calloc((size_t)clients, sizeof(*t));
	int64_t        *all =
	        calloc((size_t)clients * (size_t)requests, sizeof(int64_t));
	size_t  n     = 0;
	int     fails = 0;
	int64_t t0;
	int64_t elapsed;
	int64_t cpu0;
	int64_t cpu1;
	char    p90[32];
	char    p99[32];

	if (t == NULL || all == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
	}
	if (t == NULL || all == NULL || ensure_sandbox(url) != 0) {
		free(t);
		free(all);
		return (1);
	}
	cpu0 = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	t0   = now_ns();
	for (int i = 0; i < clients; i++) {
		t[i].url      = url;
		t[i].requests = requests;
		t[i].lat      = &all[(size_t)i * (size_t)requests];
		pthread_create(&t[i].thread, NULL, bench_status_thread, &t[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(t[i].thread, NULL);
		fails += t[i].failures;
	}
	elapsed = now_ns() - t0;
	cpu1    = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	for (size_t i = 0; i < (size_t)clients * (size_t)requests; i++) {
		if (all[i] > 0) {
			all[n++] = all[i];
		}
	}
	qsort(all, n, sizeof(*all), cmp_i64);
	if (n == 0) {
		fprintf(stderr, "psb-bench: every call failed\n");
		free(t);
		free(all);
		return (1);
	}
	printf("status: %d client(s) x %d requests over %s\n", clients,
	        requests, url);
	printf("  round trip  median %.1f us  p90 %s  p99 %s  max %.1f us\n",
	        pct(all, n, 50) / 1e3,
	        us_or_dash(p90, sizeof(p90), pct(all, n, 90)),
	        us_or_dash(p99, sizeof(p99), pct(all, n, 99)),
	        all[n - 1] / 1e3);
	printf("  throughput  %.0f calls/s (%zu ok, %d failed)\n",
	        (double)n * 1e9 / (double)elapsed, n, fails);
	if (cpu0 >= 0 && cpu1 >= 0) {
		printf("  daemon CPU  %.1f us per call\n",
		        (double)(cpu1 - cpu0) / 1e3 / (double)n);
	}
	free(t);
	free(all);
	return (fails > 0 ? 1 : 0);
}

// The latency table of lifecycle and concurrency: ms, one row a step.
#define LAT_HEAD_FMT "%9s %9s %9s %9s"

static void
print_ms(int64_t ns)
{
	if (ns < 0) {
		printf(" %9s", "-");
	} else {
		printf(" %9.2f", (double)ns / 1e6);
	}
}

// print_latency sorts v and prints its median, p90, p99 and max.
static void
print_latency(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	print_ms(pct(v, n, 50));
	print_ms(pct(v, n, 90));
	print_ms(pct(v, n, 99));
	print_ms(v[n - 1]);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long  n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	        fseek(f, 0, SEEK_SET) != 0 ||
	        (buf = malloc((size_t)n + 1)) == NULL) {
		if (f != NULL) {
			fclose(f);
		}
		return (NULL);
	}
	buf[fread(buf, 1, (size_t)n, f)] = '\0';
	fclose(f);
	return (buf);
}

// load_config encodes the pod config of config_path, or the default (a
// host-network pod). *cfg is malloc'd. Prints the error.
static int
load_config(const char *config_path, void **cfg, size_t *len)
{
	static const char *dflt = "{\"metadata\": {\"name\": \"bench\", "
	                          "\"namespace\": \"bench\", \"uid\": "
	                          "\"bench-uid\"}, \"linux\": "
	                          "{\"security_context\": "
	                          "{\"namespace_options\": {\"network\": "
	                          "\"NODE\"}}}}";
	char              *text = NULL;
	psb_client_error_t err;
	int                rv;

	if (config_path != NULL && (text = read_file(config_path)) == NULL) {
		fprintf(stderr, "psb-bench: cannot read %s: %s\n", config_path,
		        strerror(errno));
		return (-1);
	}
	rv = psb_config_from_json(text ? text : dflt, cfg, len, &err);
	if (rv != 0) {
		fprintf(stderr, "psb-bench: %s: %s\n",
		        config_path ? config_path : "default config",
		        err.message);
	}
	free(text);
	return (rv);
}

// daemon_version asks the daemon which runtime it has (and whether it is
// there at all, before anything is created). Prints the error.
static int
daemon_version(const char *url, psb_daemon_version_t *v)
{
	psb_client_t      *c = NULL;
	psb_client_error_t err;
	int                rv;

	if ((rv = psb_client_open(url, &c, &err)) == 0) {
		rv = psb_client_version(c, v, &err);
	}
	if (rv != 0) {
		fprintf(stderr, "psb-bench: %s: %s: %s\n", url,
		        psb_code_name(err.code), err.message);
	}
	psb_client_close(c);
	return (rv);
}

static void
call_failed(const char *id, const char *call, const psb_client_error_t *err)
{
	fprintf(stderr, "psb-bench: %s: %s: %s: %s\n", id, call,
	        psb_code_name(err->code), err->message);
}

// shutdown_quietly is the clean-up after a failure: Shutdown, where
// NOT_FOUND (a Create that never took) is fine. Returns 0 if it is gone.
static int
shutdown_quietly(psb_client_t *c, const char *id)
{
	psb_client_error_t err;

	if (psb_client_shutdown(c, id, &err) != 0 &&
	        err.code != PSB_CODE_NOT_FOUND) {
		call_failed(id, "shutdown (clean-up)", &err);
		return (-1);
	}
	return (0);
}

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

// lc_run takes one sandbox through its life: Create+Start (t[0]), then
// either Stop or a kill -9 of its pause pid until Status says EXITED
// (t[1]), then Shutdown (t[2]). On an error it prints it, shuts down what
// was created and returns -1.
static int
lc_run(psb_client_t *c, const char *id, const void *cfg, size_t len,
        bool kill9, int64_t t[3])
{
	psb_client_error_t err;
	psb_instance_t     inst;
	int64_t            t0 = now_ns();
	uint32_t           pid;

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
	if (!kill9) {
		if (psb_client_stop(c, id, STOP_GRACE_S, &err) != 0) {
			call_failed(id, "stop", &err);
			goto fail;
		}
	} else {
		// kill(0) or kill(1) would not be the pause.
		if (pid <= 1) {
			fprintf(stderr,
			        "psb-bench: %s: pause pid %" PRIu32
			        " is not one to kill\n",
			        id, pid);
			goto fail;
		}
		if (kill((pid_t)pid, SIGKILL) != 0) {
			fprintf(stderr,
			        "psb-bench: %s: kill -9 %" PRIu32 ": %s\n", id,
			        pid, strerror(errno));
			goto fail;
		}
		if (lc_wait_exited(c, id, t0) != 0) {
			goto fail;
		}
	}
	t[1] = now_ns() - t0;
	t0   = now_ns();
	if (psb_client_shutdown(c, id, &err) != 0) {
		call_failed(id, "shutdown", &err);
		return (-1);
	}
	t[2] = now_ns() - t0;
	return (0);
fail:
	shutdown_quietly(c, id);
	return (-1);
}

static int
bench_lifecycle(const char *url, int n, int warmup, const char *config_path)
{
	psb_client_t        *c = NULL;
	psb_client_error_t   err;
	psb_daemon_version_t v;
	void                *cfg   = NULL;
	size_t               len   = 0;
	int64_t             *start = calloc((size_t)n, sizeof(int64_t));
	int64_t             *stop  = calloc((size_t)n, sizeof(int64_t));
	int64_t             *shut  = calloc((size_t)n, sizeof(int64_t));
	int64_t             *kill9 = calloc((size_t)n, sizeof(int64_t));
	int                  rv    = 1;
	bool                 real;
	char                 id[64];
	int64_t              t[3];

	if (start == NULL || stop == NULL || shut == NULL || kill9 == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (load_config(config_path, &cfg, &len) != 0 ||
	        daemon_version(url, &v) != 0) {
		goto out;
	}
	if (psb_client_open(url, &c, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		goto out;
	}
	psb_client_set_timeout(c, CALL_TIMEOUT_MS);
	// A test double's pause pids are numbers, not processes: a kill -9
	// would hit whatever process has that pid, or nothing.
	real = !v.runtime_is_test_double;
	for (int i = 0; i < warmup; i++) {
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
		start[i] = t[0];
		stop[i]  = t[1];
		shut[i]  = t[2];
	}
	for (int i = 0; real && i < n; i++) {
		snprintf(
		        id, sizeof(id), "bench-%ld-%d", (long)getpid(), n + i);
		if (lc_run(c, id, cfg, len, true, t) != 0) {
			goto out;
		}
		kill9[i] = t[1];
	}
	printf("lifecycle: %d sandbox(es) one after the other (after %d "
	       "warm-up) over %s, runtime %s%s\n",
	        n, warmup, url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "");
	printf("  %-18s" LAT_HEAD_FMT "\n", "ms", "median", "p90", "p99",
	        "max");
	printf("  %-18s", "create+start");
	print_latency(start, (size_t)n);
	printf("\n  %-18s", "stop");
	print_latency(stop, (size_t)n);
	printf("\n  %-18s", "shutdown");
	print_latency(shut, (size_t)n);
	printf("\n  %-18s", "kill -9 -> EXITED");
	if (real) {
		print_latency(kill9, (size_t)n);
		printf("\n");
	} else {
		printf(" skipped: a test double's pids are not processes\n");
	}
	rv = 0;
out:
	psb_client_close(c);
	free(cfg);
	free(start);
	free(stop);
	free(shut);
	free(kill9);
	return (rv);
}

// ---- concurrency ----

typedef struct conc {
	const char       *url;
	const void       *cfg;
	size_t            cfg_len;
	int               n;
	atomic_int        next;    // the next sandbox index to take
	atomic_bool       failed;  // phase 1 takes no more work
	atomic_int        left;    // sandboxes that may not be shut down
	bool              cleanup; // phase 2 only shuts down (phase 1 failed)
	pthread_barrier_t barrier; // the C threads and main
	int64_t          *up;      // ns per sandbox: create+start
	int64_t          *down;    // ns per sandbox: stop+shutdown
	bool             *created; // Create was sent for that index
} conc_t;

static void
conc_id(char *buf, size_t len, int i)
{
	snprintf(buf, len, "bench-c-%ld-%d", (long)getpid(), i);
}

// conc_phase1 creates and starts sandboxes until there are none left or
// some call failed.
static void
conc_phase1(conc_t *r, psb_client_t *c)
{
	psb_client_error_t err;
	psb_instance_t     inst;
	char               id[64];
	int64_t            t0;
	int                i;

	while (!atomic_load(&r->failed) &&
	        (i = atomic_fetch_add(&r->next, 1)) < r->n) {
		conc_id(id, sizeof(id), i);
		t0 = now_ns();
		// Marked before the call: one that timed out may have taken.
		r->created[i] = true;
		if (psb_client_create(c, id, r->cfg, r->cfg_len, NULL, &err) !=
		        0) {
			call_failed(id, "create", &err);
			// Not ours to shut down if it was there before.
			if (err.code == PSB_CODE_ALREADY_EXISTS) {
				r->created[i] = false;
			}
			atomic_store(&r->failed, true);
			break;
		}
		if (psb_client_start(c, id, &inst, &err) != 0) {
			call_failed(id, "start", &err);
			atomic_store(&r->failed, true);
			break;
		}
		r->up[i] = now_ns() - t0;
		psb_instance_free(&inst);
	}
}

// conc_phase2 stops and shuts down every sandbox of phase 1; after a
// failed phase 1, it only shuts down what was created.
static void
conc_phase2(conc_t *r, psb_client_t *c)
{
	psb_client_error_t err;
	char               id[64];
	int64_t            t0;
	int                i;

	while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
		if (!r->created[i]) {
			continue;
		}
		conc_id(id, sizeof(id), i);
		if (r->cleanup) {
			if (shutdown_quietly(c, id) != 0) {
				atomic_fetch_add(&r->left, 1);
			}
			continue;
		}
		t0 = now_ns();
		if (psb_client_stop(c, id, STOP_GRACE_S, &err) != 0) {
			call_failed(id, "stop", &err);
			atomic_store(&r->failed, true);
			if (shutdown_quietly(c, id) != 0) {
				atomic_fetch_add(&r->left, 1);
			}
			continue;
		}
		if (psb_client_shutdown(c, id, &err) != 0) {
			call_failed(id, "shutdown", &err);
			atomic_store(&r->failed, true);
			atomic_fetch_add(&r->left, 1);
			continue;
		}
		r->down[i] = now_ns() - t0;
	}
}

// conc_thread: open a client and make it dial (so that no phase times a
// connection), then phase 1 and phase 2, each between barriers that let
// main read the clocks.
static void *
conc_thread(void *arg)
{
	conc_t              *r = arg;
	psb_client_t        *c = NULL;
	psb_client_error_t   err;
	psb_daemon_version_t v;

	if (psb_client_open(r->url, &c, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		atomic_store(&r->failed, true);
		c = NULL;
	} else {
		psb_client_set_timeout(c, CALL_TIMEOUT_MS);
		if (psb_client_version(c, &v, &err) != 0) {
			call_failed(r->url, "version", &err);
			atomic_store(&r->failed, true);
		}
	}
	pthread_barrier_wait(&r->barrier); // ready
	pthread_barrier_wait(&r->barrier); // phase 1: go
	if (c != NULL) {
		conc_phase1(r, c);
	}
	pthread_barrier_wait(&r->barrier); // phase 1: done
	pthread_barrier_wait(&r->barrier); // phase 2: go
	// A thread without a client must not take indexes from the others.
	if (c != NULL) {
		conc_phase2(r, c);
	}
	psb_client_close(c);
	return (NULL);
}

static void
conc_row(const char *what, int n, int64_t *lat, int64_t wall, int64_t cpu0,
        int64_t cpu1, bool with_cpu)
{
	printf("  %-15s %9.1f", what, (double)n * 1e9 / (double)wall);
	print_latency(lat, (size_t)n);
	if (with_cpu && cpu0 >= 0 && cpu1 >= 0) {
		printf(" %11.2f", (double)(cpu1 - cpu0) / 1e6 / n);
	} else if (with_cpu) {
		printf(" %11s", "-");
	}
	printf("\n");
}

static int
bench_concurrency(const char *url, int n, int clients, const char *config_path,
        long daemon_pid)
{
	conc_t               r;
	psb_daemon_version_t v;
	pthread_t           *th  = calloc((size_t)clients, sizeof(*th));
	void                *cfg = NULL;
	int64_t              t[4];
	int64_t              cpu[4];
	int                  rv = 1;

	memset(&r, 0, sizeof(r));
	r.up      = calloc((size_t)n, sizeof(int64_t));
	r.down    = calloc((size_t)n, sizeof(int64_t));
	r.created = calloc((size_t)n, sizeof(bool));
	if (th == NULL || r.up == NULL || r.down == NULL ||
	        r.created == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (load_config(config_path, &cfg, &r.cfg_len) != 0 ||
	        daemon_version(url, &v) != 0) {
		goto out;
	}
	r.url = url;
	r.cfg = cfg;
	r.n   = n;
	atomic_init(&r.next, 0);
	atomic_init(&r.failed, false);
	atomic_init(&r.left, 0);
	pthread_barrier_init(&r.barrier, NULL, (unsigned)clients + 1);
	for (int i = 0; i < clients; i++) {
		int e = pthread_create(&th[i], NULL, conc_thread, &r);

		if (e != 0) {
			// The others wait at the first barrier: nothing is
			// created yet, so exiting leaves nothing behind.
			fprintf(stderr, "psb-bench: pthread_create: %s\n",
			        strerror(e));
			exit(1);
		}
	}
	pthread_barrier_wait(&r.barrier); // ready
	cpu[0] = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	t[0]   = now_ns();
	pthread_barrier_wait(&r.barrier); // phase 1: go
	pthread_barrier_wait(&r.barrier); // phase 1: done
	t[1]      = now_ns();
	cpu[1]    = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	r.cleanup = atomic_load(&r.failed);
	atomic_store(&r.next, 0);
	cpu[2] = cpu[1];
	t[2]   = now_ns();
	pthread_barrier_wait(&r.barrier); // phase 2: go
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
	}
	t[3]   = now_ns();
	cpu[3] = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	pthread_barrier_destroy(&r.barrier);
	if (atomic_load(&r.left) > 0) {
		fprintf(stderr,
		        "psb-bench: %d sandbox(es) bench-c-%ld-* may be left "
		        "over\n",
		        atomic_load(&r.left), (long)getpid());
	}
	if (atomic_load(&r.failed)) {
		fprintf(stderr,
		        "psb-bench: concurrency: a call failed%s; no "
		        "figures\n",
		        r.cleanup ? " in phase 1 (created sandboxes shut down)"
		                  : " in phase 2");
		goto out;
	}
	printf("concurrency: %d sandbox(es), %d in flight (one client each) "
	       "over %s, runtime %s%s\n",
	        n, clients, url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "");
	printf("  %-15s %9s" LAT_HEAD_FMT "%s\n", "ms per sandbox", "pods/s",
	        "median", "p90", "p99", "max",
	        daemon_pid > 0 ? "  daemon CPU" : "");
	conc_row("create+start", n, r.up, t[1] - t[0], cpu[0], cpu[1],
	        daemon_pid > 0);
	conc_row("stop+shutdown", n, r.down, t[3] - t[2], cpu[2], cpu[3],
	        daemon_pid > 0);
	if (daemon_pid > 0) {
		double tick_ms = 1e3 / (double)sysconf(_SC_CLK_TCK);

		printf("  (daemon CPU: podsandboxd's utime + stime, in %.0f "
		       "ms "
		       "ticks: +/- %.2f ms per sandbox)\n",
		        tick_ms, tick_ms / n);
	}
	rv = 0;
out:
	free(th);
	free(cfg);
	free(r.up);
	free(r.down);
	free(r.created);
	return (rv);
}

// ---- command line ----

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: psb-bench status [--clients C] [--requests M] "
	        "[--socket URL]\n"
	        "                        [--daemon-pid PID]\n"
	        "       psb-bench lifecycle [--requests N] [--warmup K] "
	        "[--config FILE]\n"
	        "                           [--socket URL]\n"
	        "       psb-bench concurrency [--requests N] [--clients C] "
	        "[--config FILE]\n"
	        "                             [--socket URL] [--daemon-pid "
	        "PID]\n"
	        "\n"
	        "  status       C clients (default 1) send M Status calls "
	        "each (default\n"
	        "               10000) for the sandbox \"bench-status\" "
	        "(created if missing):\n"
	        "               round trip median, p90, p99, max in us, and "
	        "calls/s.\n"
	        "  lifecycle    K warm-up sandboxes (default 2, not counted), "
	        "then N\n"
	        "               sandboxes (default 20) one after the other: "
	        "Create+Start,\n"
	        "               Stop and Shutdown latency; then N more, each "
	        "with a kill -9\n"
	        "               of its pause pid until Status says EXITED "
	        "(skipped when the\n"
	        "               daemon's runtime is a test double: its pids "
	        "are not\n"
	        "               processes).\n"
	        "  concurrency  N sandboxes (default 50), C in flight "
	        "(default 8, or N if\n"
	        "               fewer; C <= N), one client each: phase 1 "
	        "Create+Start of\n"
	        "               all, then phase 2 Stop+Shutdown of all. Per "
	        "phase: pods/s\n"
	        "               (N / the phase's wall time) and the latency "
	        "per sandbox.\n"
	        "               On an error what was created is still shut "
	        "down and no\n"
	        "               figures are printed.\n"
	        "\n"
	        "  --requests N    status: calls per client; the others: "
	        "sandboxes\n"
	        "  --clients C     concurrent clients, each with its own "
	        "socket (1-%d)\n"
	        "  --warmup K      lifecycle: uncounted sandboxes first (0 "
	        "for none)\n"
	        "  --config FILE   lifecycle, concurrency: pod config JSON, "
	        "crictl's form\n"
	        "                  (default: a host-network pod)\n"
	        "  --socket URL    API URL (default %s)\n"
	        "  --daemon-pid PID  status, concurrency: also report the "
	        "daemon's CPU time\n"
	        "                  per call or per sandbox (utime + stime of "
	        "/proc/PID/stat:\n"
	        "                  podsandboxd's own, not containerd's or a "
	        "shim's)\n"
	        "\n"
	        "Latencies are in ms (status: us), as a client sees them, "
	        "nng's ipc\n"
	        "included. Percentiles are nearest-rank; p90 and p99 show "
	        "\"-\" below 10 and\n"
	        "100 samples (they would be the max). Sandbox ids: "
	        "bench-<pid>-<i>\n"
	        "(lifecycle), bench-c-<pid>-<i> (concurrency).\n"
	        "Exit status: 0 done, 1 a call failed, 2 a usage "
	        "error.\n",
	        MAX_CLIENTS, PSB_CLIENT_DEFAULT_URL);
}

static int usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

// usage_error prints "psb-bench: <msg>" and a pointer to --help; returns
// the usage exit status, 2.
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("psb-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'psb-bench --help' for usage.\n", stderr);
	return (2);
}

// parse_num reads a whole decimal number from min to max into *out.
static bool
parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long  v;

	if (*s < '0' || *s > '9') {
		return (false);
	}
	errno = 0;
	v     = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return (false);
	}
	*out = v;
	return (true);
}

enum {
	OPT_CLIENTS  = 1 << 0,
	OPT_REQUESTS = 1 << 1,
	OPT_SOCKET   = 1 << 2,
	OPT_PID      = 1 << 3,
	OPT_CONFIG   = 1 << 4,
	OPT_WARMUP   = 1 << 5,
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"clients", required_argument, NULL, 'c'},
	        {"requests", required_argument, NULL, 'n'},
	        {"socket", required_argument, NULL, 's'},
	        {"daemon-pid", required_argument, NULL, 'p'},
	        {"config", required_argument, NULL, 'f'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int         mask;
	} names[] = {
	        {"--clients", OPT_CLIENTS},
	        {"--requests", OPT_REQUESTS},
	        {"--socket", OPT_SOCKET},
	        {"--daemon-pid", OPT_PID},
	        {"--config", OPT_CONFIG},
	        {"--warmup", OPT_WARMUP},
	};
	const char *url      = PSB_CLIENT_DEFAULT_URL;
	long        clients  = 0;
	long        requests = 0;
	long        warmup   = 2;
	const char *config   = NULL;
	long        pid      = 0;
	int         given    = 0;
	int         allowed;
	const char *suite;
	int         ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:n:s:p:f:w:h", opts, NULL)) !=
	        -1) {
		switch (ch) {
		case 'c':
			if (!parse_num(optarg, 1, MAX_CLIENTS, &clients)) {
				return (usage_error("--clients: expected a "
				                    "number from 1 to %d, got "
				                    "'%s'",
				        MAX_CLIENTS, optarg));
			}
			given |= OPT_CLIENTS;
			break;
		case 'n':
			if (!parse_num(optarg, 1, MAX_REQUESTS, &requests)) {
				return (usage_error("--requests: expected a "
				                    "number from 1 to %d, got "
				                    "'%s'",
				        MAX_REQUESTS, optarg));
			}
			given |= OPT_REQUESTS;
			break;
		case 'w':
			if (!parse_num(optarg, 0, MAX_WARMUP, &warmup)) {
				return (usage_error("--warmup: expected a "
				                    "number from 0 to %d, got "
				                    "'%s'",
				        MAX_WARMUP, optarg));
			}
			given |= OPT_WARMUP;
			break;
		case 'p':
			if (!parse_num(optarg, 1, INT_MAX, &pid)) {
				return (usage_error("--daemon-pid: expected a "
				                    "process id, got '%s'",
				        optarg));
			}
			given |= OPT_PID;
			break;
		case 's':
			url = optarg;
			given |= OPT_SOCKET;
			break;
		case 'f':
			config = optarg;
			given |= OPT_CONFIG;
			break;
		case 'h': usage(stdout); return (0);
		case ':':
			return (usage_error(
			        "%s: missing argument", argv[optind - 1]));
		default:
			if (optopt != 0) {
				return (usage_error(
				        "unknown option '-%c'", optopt));
			}
			return (usage_error(
			        "unknown option '%s'", argv[optind - 1]));
		}
	}
	if (optind == argc) {
		return (usage_error(
		        "no suite given (status, lifecycle or concurrency)"));
	}
	if (optind < argc - 1) {
		return (usage_error(
		        "unexpected argument '%s'", argv[optind + 1]));
	}
	suite = argv[optind];
	if (strcmp(suite, "status") == 0) {
		allowed = OPT_CLIENTS | OPT_REQUESTS | OPT_SOCKET | OPT_PID;
	} else if (strcmp(suite, "lifecycle") == 0) {
		allowed = OPT_REQUESTS | OPT_SOCKET | OPT_CONFIG | OPT_WARMUP;
	} else if (strcmp(suite, "concurrency") == 0) {
		allowed = OPT_CLIENTS | OPT_REQUESTS | OPT_SOCKET | OPT_PID |
		          OPT_CONFIG;
	} else {
		return (usage_error("unknown suite '%s' (status, lifecycle or "
		                    "concurrency)",
		        suite));
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((given & names[i].mask) != 0 &&
		        (allowed & names[i].mask) == 0) {
			return (usage_error("%s does not apply to %s",
			        names[i].name, suite));
		}
	}
	if (pid > 0 && cpu_ns(pid) < 0) {
		return (usage_error(
		        "--daemon-pid: cannot read /proc/%ld/stat", pid));
	}
	if (strcmp(suite, "status") == 0) {
		return (bench_status(url, clients ? (int)clients : 1,
		        requests ? (int)requests : 10000, pid));
	}
	if (strcmp(suite, "lifecycle") == 0) {
		return (bench_lifecycle(url, requests ? (int)requests : 20,
		        (int)warmup, config));
	}
	if (requests == 0) {
		requests = 50;
	}
	if (clients == 0) {
		clients = requests < 8 ? requests : 8;
	}
	if (clients > requests) {
		return (usage_error("concurrency: --clients %ld is more than "
		                    "the %ld sandboxes (--requests)",
		        clients, requests));
	}
	return (bench_concurrency(
	        url, (int)requests, (int)clients, config, pid));
}
