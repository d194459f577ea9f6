//
// psb-bench - the concurrency suite: N sandboxes with C in flight, phase 1
// Create+Start of all, phase 2 Stop+Shutdown of all.
//

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

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
conc_row(const char *what, const char *name, int n, int64_t *lat, int64_t wall,
        int64_t cpu0, int64_t cpu1, bool with_cpu)
{
	char   fig[64];
	double rate = (double)n * 1e9 / (double)wall;

	printf("  %-15s %9.1f", what, rate);
	print_latency(lat, (size_t)n);
	snprintf(fig, sizeof(fig), "%s_latency", name);
	report_dist(fig, -1, "ms", 1e6, lat, (size_t)n);
	snprintf(fig, sizeof(fig), "%s_rate", name);
	report_value(fig, -1, "pods/s", rate);
	if (with_cpu && cpu0 >= 0 && cpu1 >= 0) {
		double ms = (double)(cpu1 - cpu0) / 1e6 / n;

		printf(" %11.2f", ms);
		snprintf(fig, sizeof(fig), "%s_daemon_cpu", name);
		report_value(fig, -1, "ms/sandbox", ms);
	} else if (with_cpu) {
		printf(" %11s", "-");
	}
	printf("\n");
}

int
bench_concurrency(bench_opts_t *o)
{
	const char *url        = o->url;
	long        daemon_pid = o->daemon_pid;
	int         n          = o->requests > 0 ? o->requests : 50;
	int         clients    = o->clients > 0 ? o->clients : (n < 8 ? n : 8);
	conc_t      r;
	psb_daemon_version_t v;
	pthread_t           *th  = calloc((size_t)clients, sizeof(*th));
	void                *cfg = NULL;
	int64_t              t[4];
	int64_t              cpu[4];
	int                  rv = 1;

	memset(&r, 0, sizeof(r));
	report_param_int("sandboxes", n);
	report_param_int("clients", clients);
	report_param_str("config", config_name(o));
	r.up      = calloc((size_t)n, sizeof(int64_t));
	r.down    = calloc((size_t)n, sizeof(int64_t));
	r.created = calloc((size_t)n, sizeof(bool));
	if (th == NULL || r.up == NULL || r.down == NULL ||
	        r.created == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (load_config(o->config_path, o->network, &cfg, &r.cfg_len) != 0 ||
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
	       "over %s, runtime %s%s, config %s\n",
	        n, clients, url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "",
	        config_name(o));
	printf("  %-15s %9s" LAT_HEAD_FMT "%s\n", "ms per sandbox", "pods/s",
	        "median", "p90", "p99", "max",
	        daemon_pid > 0 ? "  daemon CPU" : "");
	conc_row("create+start", "create_start", n, r.up, t[1] - t[0], cpu[0],
	        cpu[1], daemon_pid > 0);
	conc_row("stop+shutdown", "stop_shutdown", n, r.down, t[3] - t[2],
	        cpu[2], cpu[3], daemon_pid > 0);
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
