//
// psb-bench - the status suite: Status round trips from C clients on one
// sandbox, then List round trips over the bench's N sandboxes.
//

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_ID "bench-status"

// The status suite's sandboxes are created, never started: any runtime
// takes them cheaply. "bench-status" is made if missing and then removed
// again; one that was there is left as it is.
static const char *const status_cfg =
        "{\"metadata\": {\"name\": \"bench\", \"namespace\": \"bench\", "
        "\"uid\": \"bench-uid\"}}";

typedef struct bench_thread {
	pthread_t   thread;
	const char *url;
	int         requests;
	bool        list;
	int64_t    *lat; // ns per call
	int         failures;
} bench_thread_t;

static void *
bench_status_thread(void *arg)
{
	bench_thread_t       *t = arg;
	psb_client_t         *c = NULL;
	psb_client_error_t    err;
	psb_sandbox_status_t  st;
	psb_sandbox_status_t *v;
	size_t                n;
	int                   rv;

	if (psb_client_open(t->url, &c, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		t->failures = t->requests;
		return (NULL);
	}
	for (int i = 0; i < t->requests; i++) {
		int64_t t0 = now_ns();

		rv = t->list ? psb_client_list(c, NULL, NULL, &v, &n, &err)
		             : psb_client_status(
		                       c, BENCH_ID, false, &st, &err);
		if (rv != 0) {
			if (t->failures++ == 0) {
				call_failed(t->list ? "list" : BENCH_ID,
				        t->list ? "list" : "status", &err);
			}
			continue;
		}
		t->lat[i] = now_ns() - t0;
		if (t->list) {
			psb_sandbox_status_list_free(v, n);
		} else {
			psb_sandbox_status_free(&st);
		}
	}
	psb_client_close(c);
	return (NULL);
}

// ensure_sandbox creates BENCH_ID unless it is there; *made tells
// whether it was made here (and so is removed at the end).
static int
ensure_sandbox(const char *url, bool *made)
{
	psb_client_t        *c = NULL;
	psb_client_error_t   err;
	psb_sandbox_status_t st;
	void                *bytes = NULL;
	size_t               len   = 0;
	int                  rv;

	*made = false;
	if ((c = open_client(url)) == NULL) {
		return (-1);
	}
	if ((rv = psb_client_status(c, BENCH_ID, false, &st, &err)) == 0) {
		psb_sandbox_status_free(&st);
	} else if (err.code != PSB_CODE_NOT_FOUND) {
		call_failed(BENCH_ID, "status", &err);
	} else if ((rv = psb_config_from_json(
	                    status_cfg, &bytes, &len, &err)) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
	} else if ((rv = psb_client_create(
	                    c, BENCH_ID, bytes, len, NULL, &err)) != 0) {
		call_failed(BENCH_ID, "create", &err);
		// One that timed out may have taken.
		shutdown_quietly(c, BENCH_ID);
	} else {
		*made = true;
	}
	free(bytes);
	psb_client_close(c);
	return (rv);
}

static int
remove_sandbox(const char *url)
{
	psb_client_t *c = open_client(url);
	int           rv;

	if (c == NULL) {
		return (-1);
	}
	rv = shutdown_quietly(c, BENCH_ID);
	psb_client_close(c);
	return (rv);
}

// rtt_run: C threads send M calls each (Status of BENCH_ID, or List),
// then the round-trip block is printed and reported as `name`.
static int
rtt_run(const char *url, const char *name, bool list, int clients,
        int requests, long daemon_pid)
{
	bench_thread_t *t = calloc((size_t)clients, sizeof(*t));
	int64_t        *all =
	        calloc((size_t)clients * (size_t)requests, sizeof(int64_t));
	size_t  n       = 0;
	int     fails   = 0;
	int     started = 0;
	int64_t t0;
	int64_t elapsed;
	int64_t cpu0;
	int64_t cpu1;

	if (t == NULL || all == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		free(t);
		free(all);
		return (1);
	}
	cpu0 = daemon_pid > 0 ? cpu_ns(daemon_pid) : -1;
	t0   = now_ns();
	for (int i = 0; i < clients; i++) {
		int e;

		t[i].url      = url;
		t[i].requests = requests;
		t[i].list     = list;
		t[i].lat      = &all[(size_t)i * (size_t)requests];
		e             = pthread_create(
		                    &t[i].thread, NULL, bench_status_thread, &t[i]);
		if (e != 0) {
			fprintf(stderr, "psb-bench: pthread_create: %s\n",
			        strerror(e));
			fails += requests;
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
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
	if (n == 0) {
		fprintf(stderr, "psb-bench: every call failed\n");
	} else {
		rtt_report(name, clients, all, n, fails, elapsed, cpu0, cpu1);
	}
	free(t);
	free(all);
	return (fails > 0 ? 1 : 0);
}

// bench_list makes the N list sandboxes, times M List calls from one
// client, and removes the sandboxes.
static int
bench_list(bench_opts_t *o, int requests)
{
	bench_pool_t          pool;
	void                 *cfg = NULL;
	size_t                len = 0;
	psb_client_error_t    err;
	psb_client_t         *c;
	psb_sandbox_status_t *v     = NULL;
	size_t                total = 0;
	int                   rv    = 1;

	if (psb_config_from_json(status_cfg, &cfg, &len, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		return (1);
	}
	pool_init(&pool, "l", cfg, len, false);
	if (pool_grow(o->url, &pool, o->list) != 0) {
		goto out;
	}
	// How many List sees: other sandboxes of the daemon count too.
	if ((c = open_client(o->url)) == NULL) {
		goto out;
	}
	if (psb_client_list(c, NULL, NULL, &v, &total, &err) != 0) {
		call_failed("list", "list", &err);
		psb_client_close(c);
		goto out;
	}
	psb_sandbox_status_list_free(v, total);
	psb_client_close(c);
	printf("list: 1 client x %d requests, each a List of %zu "
	       "sandbox(es) (%d of the bench's, created, not started)\n",
	        requests, total, o->list);
	report_param_int("list_sandboxes_seen", (long)total);
	rv = rtt_run(o->url, "list", true, 1, requests, o->daemon_pid);
out:
	if (pool_clear(o->url, &pool) != 0) {
		rv = 1;
	}
	return (rv);
}

int
bench_status(bench_opts_t *o)
{
	psb_daemon_version_t v;
	int                  runs[2] = {1, 16};
	int                  nruns   = 2;
	int                  req     = o->requests > 0 ? o->requests : 10000;
	int                  rv      = 0;
	bool                 made;

	if (o->clients > 0) {
		runs[0] = o->clients;
		nruns   = 1;
	}
	report_param_ints("clients", runs, (size_t)nruns);
	report_param_int("requests", req);
	report_param_int("list", o->list);
	report_param_int(
	        "list_requests", o->requests > 0 ? o->requests : 1000);
	if (daemon_version(o->url, &v) != 0 ||
	        ensure_sandbox(o->url, &made) != 0) {
		return (1);
	}
	for (int i = 0; i < nruns; i++) {
		printf("status: %d client(s) x %d requests over %s, runtime "
		       "%s%s\n",
		        runs[i], req, o->url, v.runtime,
		        v.runtime_is_test_double ? " (test double)" : "");
		if (rtt_run(o->url, "status", false, runs[i], req,
		            o->daemon_pid) != 0) {
			rv = 1;
		}
	}
	if (made && remove_sandbox(o->url) != 0) {
		rv = 1;
	}
	if (o->list > 0 &&
	        bench_list(o, o->requests > 0 ? o->requests : 1000) != 0) {
		rv = 1;
	}
	return (rv);
}
