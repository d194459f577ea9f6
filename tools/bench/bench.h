//
// psb-bench - what the suites share: the options, timing and percentile
// helpers, the latency table, the JSON report, and sandbox pools made and
// removed by several clients in parallel.
//
// psb-bench.c has the command line and the `all` suite; status.c the
// status suite (Status and List), lifecycle.c lifecycle and exit,
// concurrency.c concurrency, daemon.c recovery and memory (the suites
// that look at the daemon's process), soak.c soak, common.c and report.c
// the rest.
//

#ifndef PSB_BENCH_H
#define PSB_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "podsandbox.h"

// Stop's grace period, and a client timeout above it: a call that timed
// out on the client would go on in the daemon and race the clean-up.
#define STOP_GRACE_S    30
#define CALL_TIMEOUT_MS 40000

#define MAX_CLIENTS  1024
#define MAX_REQUESTS 1000000
#define MAX_WARMUP   1000

// Clients that make and remove a pool's sandboxes (fewer if fewer
// sandboxes).
#define POOL_CLIENTS 16

typedef struct bench_opts {
	const char *url;
	const char *events_url;
	long        daemon_pid;  // 0: not given
	const char *config_path; // NULL: the built-in config of network
	const char *network;     // "host" or "pod": the built-in config
	const char *daemon_log;  // recovery: the restarted daemon's output
	int         clients;     // 0: the suite's default
	int         requests;    // 0: the suite's default
	int         warmup;      // lifecycle
	int         list;        // status: List over this many (0: none)
	int         every;       // soak: sample every K lifecycles (0: N/20)
	const char *db_path;     // soak: NULL: the daemon's --db
	long        rss_slack;   // soak: KiB (0: 2048 or 10 %, the larger)
	bool        in_all;      // run by `all`
} bench_opts_t;

// A pool: sandboxes <prefix><i> for i < n, made by pool_grow and removed
// by pool_clear. `all` hands memory's pool on to recovery and exit.
typedef struct bench_pool {
	char        prefix[48];
	void       *cfg; // encoded pod config (owned)
	size_t      cfg_len;
	bool        start; // Start after Create
	int         n;     // indexes taken so far
	int         cap;
	uint8_t    *st;   // per index: POOL_NONE, POOL_CREATED, POOL_STARTED
	atomic_bool gone; // pool_clear: the daemon stopped answering
} bench_pool_t;

enum { POOL_NONE, POOL_CREATED, POOL_STARTED };

// ---- common.c ----

int64_t now_ns(void);
int     cmp_i64(const void *a, const void *b);
// pct: the nearest-rank p-th percentile of the n sorted values v, or -1
// when too few values tell it from the max (see psb-bench.c).
int64_t pct(const int64_t *v, size_t n, int p);
// cpu_ns: a process's utime + stime in ns (-1 if unreadable).
int64_t cpu_ns(long pid);
// proc_status_kib: a process's "VmRSS", "VmHWM"... in KiB (-1 if
// unreadable).
long proc_status_kib(long pid, const char *key);
// us_or_dash formats ns as microseconds, or "-" for a missing figure.
const char *us_or_dash(char *buf, size_t len, int64_t ns);

// The latency table: ms, one row a step. lat_row sorts v, prints
// "  <label>" and its median, p90, p99 and max, and reports them as the
// figure `name` (ms).
#define LAT_HEAD_FMT "%9s %9s %9s %9s"
void print_ms(int64_t ns);
void print_latency(int64_t *v, size_t n);
void lat_head(const char *first, int width);
void lat_row(
        const char *label, int width, const char *name, int64_t *v, size_t n);

// rtt_report sorts v and prints the status suite's round-trip block
// (median .. max in us, calls/s, daemon CPU) and reports it.
void rtt_report(const char *name, int clients, int64_t *v, size_t n, int fails,
        int64_t elapsed, int64_t cpu0, int64_t cpu1);

char *read_text_file(const char *path);
// load_config encodes the pod config of config_path, or the built-in one
// of network ("host" or "pod"). *cfg is malloc'd. Prints the error.
int load_config(
        const char *config_path, const char *network, void **cfg, size_t *len);
// config_name: how the suites' headers name the config in use.
const char *config_name(const bench_opts_t *o);
// daemon_version asks the daemon for its version and runtime, and
// reports the runtime. Prints the error.
int  daemon_version(const char *url, psb_daemon_version_t *v);
void call_failed(
        const char *id, const char *call, const psb_client_error_t *err);
// shutdown_quietly is a clean-up's Shutdown: NOT_FOUND is fine.
int shutdown_quietly(psb_client_t *c, const char *id);
// open_client opens a client with CALL_TIMEOUT_MS. Prints the error.
psb_client_t *open_client(const char *url);

// par_run calls fn(c, i, arg) for i in [0, n) from `clients` threads,
// each with its own client; unless keep_going, the first failure (fn
// returning -1) stops the others from taking more. Returns the number of
// failures (every one of them if a client cannot be opened).
typedef int (*par_fn)(psb_client_t *c, int i, void *arg);
int par_run(const char *url, int clients, int n, bool keep_going, par_fn fn,
        void *arg);

// Pools. pool_init takes cfg (malloc'd).
void pool_init(
        bench_pool_t *p, const char *tag, void *cfg, size_t len, bool start);
// pool_prepare leaves a pool that has a config as it is, else makes it a
// pool of started sandboxes bench-<tag>-<pid>-<i> with the suite's config.
int  pool_prepare(const bench_opts_t *o, bench_pool_t *p, const char *tag);
void pool_id(const bench_pool_t *p, int i, char *buf, size_t len);
// pool_grow makes sandboxes up to index n - 1 (created, and started if
// p->start). On an error what was made stays in the pool for pool_clear.
int pool_grow(const char *url, bench_pool_t *p, int n);
// pool_clear stops (the started) and shuts down every sandbox of the pool
// and frees it. Returns 0, or -1 if some may be left over (printed).
int pool_clear(const char *url, bench_pool_t *p);

// ---- daemon.c: the daemon's /proc ----

// proc_read reads all of /proc/PID/name, NUL-terminated once more past
// *len bytes; proc_link reads the link /proc/PID/name. Both malloc'd,
// NULL (errno set) if unreadable.
char *proc_read(long pid, const char *name, size_t *len);
char *proc_link(long pid, const char *name);

// ---- report.c: the JSON report (--json FILE) ----
//
// One document: {"tool": "psb-bench", "format": 1, "socket": URL,
// "results": [...]}, a result a suite run. A result holds the suite, its
// status ("ok", "failed" or "skipped"), the runtime, its parameters and
// its figures; a figure is a distribution (samples, median, p90, p99, max;
// p90/p99 null when too few samples tell them from the max) or a value,
// each with its unit.

void report_begin(const char *suite);
void report_runtime(const psb_daemon_version_t *v);
void report_param_int(const char *key, long value);
void report_param_str(const char *key, const char *value);
void report_param_ints(const char *key, const int *v, size_t n);
// report_dist reports the n sorted ns values v in unit (ns per unit:
// scale); clients >= 0 adds a "clients" field.
void report_dist(const char *name, int clients, const char *unit, double scale,
        const int64_t *v, size_t n);
void report_value(const char *name, int clients, const char *unit, double v);
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_skip(const char *why);
// report_end closes the result: rv 0 ok (or skipped), else failed.
void report_end(int rv);
// report_write writes the document to f (opened on path) and closes f.
// Prints the error.
int report_write(FILE *f, const char *path, const char *url);

// ---- the suites ----

int bench_status(bench_opts_t *o);
int bench_lifecycle(bench_opts_t *o, bool kill9_round);
int bench_concurrency(bench_opts_t *o);
// With pool != NULL, memory leaves its sandboxes in *pool, recovery adds
// to *pool and leaves it, exit takes its sandboxes from *pool; the caller
// clears it. Without, each makes and removes its own.
int bench_memory(bench_opts_t *o, bench_pool_t *pool);
int bench_recovery(bench_opts_t *o, bench_pool_t *pool);
int bench_exit(bench_opts_t *o, bench_pool_t *pool);
// soak returns 0 if flat, SOAK_NOT_FLAT if not, 1 if a call failed.
#define SOAK_NOT_FLAT 3
int bench_soak(bench_opts_t *o);

#endif // PSB_BENCH_H
