//
// psb-bench - measures podsandboxd through its public client library.
//
//   psb-bench status [--clients N] [--requests M] [--socket URL]
//                    [--daemon-pid PID]
//   psb-bench lifecycle [--requests N] [--socket URL] [--config FILE]
//
// "status": N client threads (each with its own libpodsandbox client and
// REQ socket) send Status for one sandbox M times each, back to back. It
// prints the round-trip median, p90, p99 and max, the throughput, and,
// with --daemon-pid, the daemon's CPU time per call (utime + stime from
// /proc). The sandbox "bench-status" is created first if missing.
//
// "lifecycle": N sandboxes one after the other (default 20): Create+Start,
// Stop and Shutdown latency (median, p90), then for each of them a
// kill -9 of its pause pid and the time until Status shows EXITED (polled
// every 0.2 ms). With a real runtime this measures real pause containers.
//
// Timing is what a client sees, so it includes nng's ipc transport. It is
// a tool, not a test: nothing here asserts a figure.
//

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podsandbox.h"

#define BENCH_ID "bench-status"

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
	printf("  round trip  median %.1f us  p90 %.1f us  p99 %.1f us  "
	       "max %.1f us\n",
	        all[n / 2] / 1e3, all[n * 90 / 100] / 1e3,
	        all[n * 99 / 100] / 1e3, all[n - 1] / 1e3);
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

static void
report(const char *what, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("  %-14s median %8.2f ms   p90 %8.2f ms   max %8.2f ms\n", what,
	        v[n / 2] / 1e6, v[n * 90 / 100] / 1e6, v[n - 1] / 1e6);
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

static int
bench_lifecycle(const char *url, int n, const char *config_path)
{
	static const char *dflt = "{\"metadata\": {\"name\": \"bench\", "
	                          "\"namespace\": \"bench\", \"uid\": "
	                          "\"bench-uid\"}, \"linux\": "
	                          "{\"security_context\": "
	                          "{\"namespace_options\": {\"network\": "
	                          "\"NODE\"}}}}";
	char              *text = config_path ? read_file(config_path) : NULL;
	psb_client_t      *c    = NULL;
	psb_client_error_t err;
	void              *cfg;
	size_t             len;
	int64_t           *start = calloc((size_t)n, sizeof(int64_t));
	int64_t           *stop  = calloc((size_t)n, sizeof(int64_t));
	int64_t           *shut  = calloc((size_t)n, sizeof(int64_t));
	int64_t           *kill9 = calloc((size_t)n, sizeof(int64_t));
	int                rv    = 1;
	char               id[64];

	if (config_path != NULL && text == NULL) {
		fprintf(stderr, "psb-bench: cannot read %s\n", config_path);
		goto out;
	}
	if (psb_client_open(url, &c, &err) != 0 ||
	        psb_config_from_json(text ? text : dflt, &cfg, &len, &err) !=
	                0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		goto out;
	}
	for (int i = 0; i < 2 * n; i++) {
		psb_instance_t inst;
		int64_t        t0;
		int            k = i % n;

		snprintf(id, sizeof(id), "bench-%ld-%d", (long)getpid(), i);
		t0 = now_ns();
		if (psb_client_create(c, id, cfg, len, NULL, &err) != 0 ||
		        psb_client_start(c, id, &inst, &err) != 0) {
			fprintf(stderr, "psb-bench: %s: %s: %s\n", id,
			        psb_code_name(err.code), err.message);
			goto out;
		}
		if (i < n) {
			// Round one: Create+Start, Stop, Shutdown.
			start[k] = now_ns() - t0;
			t0       = now_ns();
			if (psb_client_stop(c, id, 30, &err) != 0) {
				goto fail;
			}
			stop[k] = now_ns() - t0;
		} else {
			// Round two: kill -9 of the pause, until EXITED.
			psb_sandbox_status_t st;

			t0 = now_ns();
			if (kill((pid_t)inst.pid, SIGKILL) != 0) {
				perror("psb-bench: kill");
				goto out;
			}
			for (;;) {
				if (psb_client_status(
				            c, id, false, &st, &err) != 0) {
					goto fail;
				}
				if (strcmp(st.state, "EXITED") == 0) {
					psb_sandbox_status_free(&st);
					break;
				}
				psb_sandbox_status_free(&st);
				if (now_ns() - t0 > 10000000000LL) {
					fprintf(stderr,
					        "psb-bench: %s not EXITED "
					        "10 s after kill -9\n",
					        id);
					goto out;
				}
				usleep(200);
			}
			kill9[k] = now_ns() - t0;
		}
		psb_instance_free(&inst);
		t0 = now_ns();
		if (psb_client_shutdown(c, id, &err) != 0) {
			goto fail;
		}
		if (i < n) {
			shut[k] = now_ns() - t0;
		}
	}
	printf("lifecycle: %d sandboxes over %s\n", n, url);
	report("create+start", start, (size_t)n);
	report("stop", stop, (size_t)n);
	report("shutdown", shut, (size_t)n);
	report("kill -9→EXITED", kill9, (size_t)n);
	rv = 0;
	goto out;
fail:
	fprintf(stderr, "psb-bench: %s: %s: %s\n", id, psb_code_name(err.code),
	        err.message);
out:
	psb_client_close(c);
	free(text);
	free(start);
	free(stop);
	free(shut);
	free(kill9);
	return (rv);
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: psb-bench status [--clients N] [--requests M] "
	        "[--socket URL] [--daemon-pid PID]\n"
	        "       psb-bench lifecycle [--requests N] [--socket URL] "
	        "[--config FILE]\n"
	        "  status     Status round trips for one sandbox (created if "
	        "missing)\n"
	        "  lifecycle  N sandboxes one after the other: Create+Start, "
	        "Stop, Shutdown\n"
	        "             latency, then kill -9 of each pause pid until "
	        "Status says EXITED\n"
	        "  --clients  concurrent clients, each with its own socket "
	        "(default 1)\n"
	        "  --requests status: calls per client (default 10000); "
	        "lifecycle: sandboxes (20)\n"
	        "  --config   lifecycle: pod config JSON (default: a "
	        "host-network pod)\n"
	        "  --socket   API URL (default %s)\n"
	        "  --daemon-pid  also report the daemon's CPU time per call\n",
	        PSB_CLIENT_DEFAULT_URL);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"clients", required_argument, NULL, 'c'},
	        {"requests", required_argument, NULL, 'n'},
	        {"socket", required_argument, NULL, 's'},
	        {"daemon-pid", required_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *url      = PSB_CLIENT_DEFAULT_URL;
	int         clients  = 1;
	int         requests = 0;
	const char *config   = NULL;
	long        pid      = 0;
	int         ch;

	while ((ch = getopt_long(argc, argv, "c:n:s:p:f:h", opts, NULL)) !=
	        -1) {
		switch (ch) {
		case 'c': clients = atoi(optarg); break;
		case 'n': requests = atoi(optarg); break;
		case 's': url = optarg; break;
		case 'p': pid = atol(optarg); break;
		case 'f': config = optarg; break;
		case 'h': usage(stdout); return (0);
		default: usage(stderr); return (2);
		}
	}
	if (optind != argc - 1 || clients < 1 || clients > 1024 ||
	        requests < 0) {
		usage(stderr);
		return (2);
	}
	if (strcmp(argv[optind], "lifecycle") == 0) {
		return (bench_lifecycle(
		        url, requests ? requests : 20, config));
	}
	if (strcmp(argv[optind], "status") != 0) {
		usage(stderr);
		return (2);
	}
	return (bench_status(url, clients, requests ? requests : 10000, pid));
}
