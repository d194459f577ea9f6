//
// psb-bench - timing, percentiles, /proc readings, the latency table, pod
// configs, and sandboxes made and removed in parallel (par_run, pools).
//

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

// pct returns the nearest-rank p-th percentile of the n sorted values v,
// or -1 when it is the max only because there are too few values (p90
// with fewer than 10, p99 with fewer than 100). The median always counts.
int64_t
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
int64_t
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

// proc_status_kib reads a "Vm...: N kB" line of /proc/PID/status (-1 if
// unreadable).
long
proc_status_kib(long pid, const char *key)
{
	char   path[64];
	char   line[256];
	FILE  *f;
	long   kib = -1;
	long   v;
	size_t n = strlen(key);

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ':' &&
		        sscanf(line + n + 1, " %ld kB", &v) == 1) {
			kib = v;
			break;
		}
	}
	fclose(f);
	return (kib);
}

const char *
us_or_dash(char *buf, size_t len, int64_t ns)
{
	if (ns < 0) {
		snprintf(buf, len, "-");
	} else {
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	}
	return (buf);
}

void
print_ms(int64_t ns)
{
	if (ns < 0) {
		printf(" %9s", "-");
	} else {
		printf(" %9.2f", (double)ns / 1e6);
	}
}

// print_latency sorts v and prints its median, p90, p99 and max.
void
print_latency(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	print_ms(pct(v, n, 50));
	print_ms(pct(v, n, 90));
	print_ms(pct(v, n, 99));
	print_ms(v[n - 1]);
}

void
lat_head(const char *first, int width)
{
	printf("  %-*s" LAT_HEAD_FMT "\n", width, first, "median", "p90",
	        "p99", "max");
}

void
lat_row(const char *label, int width, const char *name, int64_t *v, size_t n)
{
	printf("  %-*s", width, label);
	print_latency(v, n);
	printf("\n");
	report_dist(name, -1, "ms", 1e6, v, n);
}

void
rtt_report(const char *name, int clients, int64_t *v, size_t n, int fails,
        int64_t elapsed, int64_t cpu0, int64_t cpu1)
{
	char   p90[32];
	char   p99[32];
	char   fig[64];
	double rate = (double)n * 1e9 / (double)elapsed;

	qsort(v, n, sizeof(*v), cmp_i64);
	printf("  round trip  median %.1f us  p90 %s  p99 %s  max %.1f us\n",
	        pct(v, n, 50) / 1e3,
	        us_or_dash(p90, sizeof(p90), pct(v, n, 90)),
	        us_or_dash(p99, sizeof(p99), pct(v, n, 99)), v[n - 1] / 1e3);
	printf("  throughput  %.0f calls/s (%zu ok, %d failed)\n", rate, n,
	        fails);
	snprintf(fig, sizeof(fig), "%s_round_trip", name);
	report_dist(fig, clients, "us", 1e3, v, n);
	snprintf(fig, sizeof(fig), "%s_throughput", name);
	report_value(fig, clients, "calls/s", rate);
	if (fails > 0) {
		snprintf(fig, sizeof(fig), "%s_failed_calls", name);
		report_value(fig, clients, "calls", fails);
	}
	if (cpu0 >= 0 && cpu1 >= 0) {
		double us = (double)(cpu1 - cpu0) / 1e3 / (double)n;

		printf("  daemon CPU  %.1f us per call\n", us);
		snprintf(fig, sizeof(fig), "%s_daemon_cpu", name);
		report_value(fig, clients, "us/call", us);
	}
}

char *
read_text_file(const char *path)
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

// The built-in pod config, with the network NODE (--network host) or POD.
#define BUILTIN_CONFIG(net)                                               \
	"{\"metadata\": {\"name\": \"bench\", \"namespace\": \"bench\", " \
	"\"uid\": \"bench-uid\"}, \"linux\": {\"security_context\": "     \
	"{\"namespace_options\": {\"network\": \"" net "\"}}}}"

int
load_config(
        const char *config_path, const char *network, void **cfg, size_t *len)
{
	static const char *host = BUILTIN_CONFIG("NODE");
	static const char *pod  = BUILTIN_CONFIG("POD");
	const char        *dflt;
	char              *text = NULL;
	psb_client_error_t err;
	int                rv;

	dflt = network != NULL && strcmp(network, "pod") == 0 ? pod : host;
	if (config_path != NULL &&
	        (text = read_text_file(config_path)) == NULL) {
		fprintf(stderr, "psb-bench: cannot read %s: %s\n", config_path,
		        strerror(errno));
		return (-1);
	}
	rv = psb_config_from_json(text ? text : dflt, cfg, len, &err);
	if (rv != 0) {
		fprintf(stderr, "psb-bench: %s: %s\n",
		        config_path ? config_path : "built-in config",
		        err.message);
	}
	free(text);
	return (rv);
}

const char *
config_name(const bench_opts_t *o)
{
	if (o->config_path != NULL) {
		return (o->config_path);
	}
	return (o->network != NULL && strcmp(o->network, "pod") == 0
	                ? "built-in, pod network"
	                : "built-in, host network");
}

int
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
	} else {
		report_runtime(v);
	}
	psb_client_close(c);
	return (rv);
}

void
call_failed(const char *id, const char *call, const psb_client_error_t *err)
{
	fprintf(stderr, "psb-bench: %s: %s: %s: %s\n", id, call,
	        psb_code_name(err->code), err->message);
}

int
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

psb_client_t *
open_client(const char *url)
{
	psb_client_t      *c = NULL;
	psb_client_error_t err;

	if (psb_client_open(url, &c, &err) != 0) {
		fprintf(stderr, "psb-bench: %s\n", err.message);
		return (NULL);
	}
	psb_client_set_timeout(c, CALL_TIMEOUT_MS);
	return (c);
}

// ---- par_run ----

typedef struct par {
	const char *url;
	int         n;
	bool        keep_going;
	par_fn      fn;
	void       *arg;
	atomic_int  next;
	atomic_int  fails;
	atomic_int  opened; // threads with a client
	atomic_bool stop;
} par_t;

static void *
par_thread(void *arg)
{
	par_t        *r = arg;
	psb_client_t *c = open_client(r->url);
	int           i;

	if (c == NULL) {
		// Its share is left to the others, unless they stop.
		if (!r->keep_going) {
			atomic_fetch_add(&r->fails, 1);
			atomic_store(&r->stop, true);
		}
		return (NULL);
	}
	atomic_fetch_add(&r->opened, 1);
	while (!atomic_load(&r->stop) &&
	        (i = atomic_fetch_add(&r->next, 1)) < r->n) {
		if (r->fn(c, i, r->arg) != 0) {
			atomic_fetch_add(&r->fails, 1);
			if (!r->keep_going) {
				atomic_store(&r->stop, true);
			}
		}
	}
	psb_client_close(c);
	return (NULL);
}

int
par_run(const char *url, int clients, int n, bool keep_going, par_fn fn,
        void *arg)
{
	par_t      r;
	pthread_t *th;
	int        started = 0;

	if (n <= 0) {
		return (0);
	}
	if (clients > n) {
		clients = n;
	}
	if ((th = calloc((size_t)clients, sizeof(*th))) == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		return (n);
	}
	r.url        = url;
	r.n          = n;
	r.keep_going = keep_going;
	r.fn         = fn;
	r.arg        = arg;
	atomic_init(&r.next, 0);
	atomic_init(&r.fails, 0);
	atomic_init(&r.opened, 0);
	atomic_init(&r.stop, false);
	for (int i = 0; i < clients; i++) {
		int e = pthread_create(&th[i], NULL, par_thread, &r);

		if (e != 0) {
			fprintf(stderr, "psb-bench: pthread_create: %s\n",
			        strerror(e));
			break;
		}
		started++;
	}
	if (started == 0) {
		free(th);
		return (n);
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	free(th);
	// No client at all: nothing was done.
	return (atomic_load(&r.opened) == 0 ? n : atomic_load(&r.fails));
}

// ---- pools ----

void
pool_init(bench_pool_t *p, const char *tag, void *cfg, size_t len, bool start)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->prefix, sizeof(p->prefix), "bench-%s-%ld-", tag,
	        (long)getpid());
	p->cfg     = cfg;
	p->cfg_len = len;
	p->start   = start;
	atomic_init(&p->gone, false);
}

int
pool_prepare(const bench_opts_t *o, bench_pool_t *p, const char *tag)
{
	void  *cfg = NULL;
	size_t len = 0;

	if (p->cfg != NULL) {
		return (0);
	}
	if (load_config(o->config_path, o->network, &cfg, &len) != 0) {
		return (-1);
	}
	pool_init(p, tag, cfg, len, true);
	return (0);
}

void
pool_id(const bench_pool_t *p, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s%d", p->prefix, i);
}

static int
pool_make_one(psb_client_t *c, int i, void *arg)
{
	bench_pool_t      *p = arg;
	psb_client_error_t err;
	psb_instance_t     inst;
	char               id[80];

	pool_id(p, i, id, sizeof(id));
	// Marked before the call: one that timed out may have taken.
	p->st[i] = POOL_CREATED;
	if (psb_client_create(c, id, p->cfg, p->cfg_len, NULL, &err) != 0) {
		call_failed(id, "create", &err);
		// Not ours to remove if it was there before.
		if (err.code == PSB_CODE_ALREADY_EXISTS) {
			p->st[i] = POOL_NONE;
		}
		return (-1);
	}
	if (!p->start) {
		return (0);
	}
	p->st[i] = POOL_STARTED;
	if (psb_client_start(c, id, &inst, &err) != 0) {
		call_failed(id, "start", &err);
		return (-1);
	}
	psb_instance_free(&inst);
	return (0);
}

// pool_make_from runs pool_make_one from index base on.
typedef struct pool_from {
	bench_pool_t *p;
	int           base;
} pool_from_t;

static int
pool_make_from(psb_client_t *c, int i, void *arg)
{
	pool_from_t *f = arg;

	return (pool_make_one(c, f->base + i, f->p));
}

int
pool_grow(const char *url, bench_pool_t *p, int n)
{
	pool_from_t f = {p, p->n};

	if (n <= p->n) {
		return (0);
	}
	if (n > p->cap) {
		uint8_t *st = realloc(p->st, (size_t)n);

		if (st == NULL) {
			fprintf(stderr, "psb-bench: out of memory\n");
			return (-1);
		}
		memset(st + p->cap, POOL_NONE, (size_t)(n - p->cap));
		p->st  = st;
		p->cap = n;
	}
	p->n = n;
	return (par_run(url, POOL_CLIENTS, n - f.base, false, pool_make_from,
	                &f) == 0
	                ? 0
	                : -1);
}

// unreachable: the daemon did not answer (or is not there).
static bool
unreachable(const psb_client_error_t *err)
{
	return (err->code == PSB_CODE_UNAVAILABLE ||
	        err->code == PSB_CODE_DEADLINE_EXCEEDED);
}

// pool_remove_one stops and shuts down sandbox i. Once a call found the
// daemon unreachable, the rest are only counted: each would wait for
// CALL_TIMEOUT_MS.
static int
pool_remove_one(psb_client_t *c, int i, void *arg)
{
	bench_pool_t      *p = arg;
	psb_client_error_t err;
	char               id[80];

	if (p->st[i] == POOL_NONE) {
		return (0);
	}
	if (atomic_load(&p->gone)) {
		return (-1);
	}
	pool_id(p, i, id, sizeof(id));
	if (p->st[i] == POOL_STARTED &&
	        psb_client_stop(c, id, STOP_GRACE_S, &err) != 0 &&
	        err.code != PSB_CODE_NOT_FOUND) {
		call_failed(id, "stop (clean-up)", &err);
		if (unreachable(&err)) {
			atomic_store(&p->gone, true);
			return (-1);
		}
	}
	if (psb_client_shutdown(c, id, &err) != 0 &&
	        err.code != PSB_CODE_NOT_FOUND) {
		call_failed(id, "shutdown (clean-up)", &err);
		if (unreachable(&err)) {
			atomic_store(&p->gone, true);
		}
		return (-1);
	}
	p->st[i] = POOL_NONE;
	return (0);
}

int
pool_clear(const char *url, bench_pool_t *p)
{
	int left = par_run(url, POOL_CLIENTS, p->n, true, pool_remove_one, p);

	if (left > 0) {
		fprintf(stderr,
		        "psb-bench: %d sandbox(es) %s* may be left over\n",
		        left, p->prefix);
	}
	free(p->cfg);
	free(p->st);
	p->cfg = NULL;
	p->st  = NULL;
	p->n   = 0;
	p->cap = 0;
	return (left > 0 ? -1 : 0);
}
