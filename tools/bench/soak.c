//
// psb-bench - the soak suite: N full lifecycles (Create, Start, Status,
// Stop, Shutdown) with C in flight on one daemon, in rounds of K. Between
// rounds, when none of the bench's sandboxes exists, it samples the
// daemon's VmRSS, open fds, the db and -wal file sizes, retained journal
// and sandbox count, and at the end says whether they stayed flat.
//
// Samples are taken only between rounds, on a quiet daemon, and with
// every client kept connected from before the first one: an fd that a
// sandbox in flight or a client's connection holds is then not noise.
//

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

// The verdict's bounds (see usage() in psb-bench.c, which states them).
#define SOAK_RSS_SLACK_KIB 2048 // or 10 % of the lowest: the larger
#define SOAK_DB_SLACK_KIB  64   // plus 10 % of the first half's max

typedef struct soak_sample {
	int     done;      // lifecycles completed
	int64_t t;         // now_ns()
	long    rss_kib;   // -1: not sampled (no --daemon-pid)
	long    fds;       // -1: not sampled
	long    db_kib;    // the db file; -1: not sampled
	long    wal_kib;   // its -wal; -1: not sampled
	long    journal;   // journal entries retained (seq span)
	long    sandboxes; // the daemon's, all of them
	long    commit_failures;
} soak_sample_t;

typedef struct soak {
	const char       *url;
	const void       *cfg;
	size_t            cfg_len;
	atomic_int        next;  // the next lifecycle index to take
	int               limit; // this round's end (main, between barriers)
	bool              quit;  // no more rounds (main, between barriers)
	atomic_bool       failed;
	pthread_barrier_t barrier; // the C threads and main
	int64_t          *lat;     // ns per lifecycle
} soak_t;

static void
soak_id(char *buf, size_t len, int i)
{
	snprintf(buf, len, "bench-s-%ld-%d", (long)getpid(), i);
}

// soak_one takes sandbox i through its life. On an error it prints it,
// shuts down what was created and returns -1.
static int
soak_one(soak_t *r, psb_client_t *c, int i)
{
	psb_client_error_t   err;
	psb_instance_t       inst;
	psb_sandbox_status_t st;
	char                 id[64];
	int64_t              t0 = now_ns();
	bool                 ready;

	soak_id(id, sizeof(id), i);
	if (psb_client_create(c, id, r->cfg, r->cfg_len, NULL, &err) != 0) {
		call_failed(id, "create", &err);
		// One that timed out may have taken; one that was there
		// before is not ours.
		if (err.code != PSB_CODE_ALREADY_EXISTS) {
			shutdown_quietly(c, id);
		}
		return (-1);
	}
	if (psb_client_start(c, id, &inst, &err) != 0) {
		call_failed(id, "start", &err);
		goto fail;
	}
	psb_instance_free(&inst);
	if (psb_client_status(c, id, false, &st, &err) != 0) {
		call_failed(id, "status", &err);
		goto fail;
	}
	ready = strcmp(st.state, "READY") == 0;
	if (!ready) {
		fprintf(stderr,
		        "psb-bench: %s: Status after Start says %s, not "
		        "READY\n",
		        id, st.state);
	}
	psb_sandbox_status_free(&st);
	if (!ready) {
		goto fail;
	}
	if (psb_client_stop(c, id, STOP_GRACE_S, &err) != 0) {
		call_failed(id, "stop", &err);
		goto fail;
	}
	if (psb_client_shutdown(c, id, &err) != 0) {
		call_failed(id, "shutdown", &err);
		return (-1);
	}
	r->lat[i] = now_ns() - t0;
	return (0);
fail:
	shutdown_quietly(c, id);
	return (-1);
}

// soak_thread connects first (Version), so that the baseline sample sees
// every connection; then, per round, takes lifecycles until the round's
// limit, between barriers that let main sample a quiet daemon.
static void *
soak_thread(void *arg)
{
	soak_t              *r = arg;
	psb_client_t        *c = open_client(r->url);
	psb_client_error_t   err;
	psb_daemon_version_t v;
	int                  i;

	if (c == NULL) {
		atomic_store(&r->failed, true);
	} else if (psb_client_version(c, &v, &err) != 0) {
		call_failed(r->url, "version", &err);
		atomic_store(&r->failed, true);
	}
	pthread_barrier_wait(&r->barrier); // connected
	for (;;) {
		pthread_barrier_wait(&r->barrier); // go, or quit
		if (r->quit) {
			break;
		}
		while (c != NULL && !atomic_load(&r->failed) &&
		        (i = atomic_fetch_add(&r->next, 1)) < r->limit) {
			if (soak_one(r, c, i) != 0) {
				atomic_store(&r->failed, true);
			}
		}
		pthread_barrier_wait(&r->barrier); // round done
	}
	psb_client_close(c);
	return (NULL);
}

// ---- sampling ----

// fd_count counts /proc/PID/fd (-1 if unreadable).
static long
fd_count(long pid)
{
	char           path[64];
	DIR           *d;
	struct dirent *e;
	long           n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL) {
		return (-1);
	}
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return (n);
}

// fd_count_settled is the lowest of 4 readings 25 ms apart: the daemon's
// listener watchdog dials its own sockets once a second (2 fds for a
// moment), and a descriptor closed a moment after a reply is not a leak
// either. One that stays is in every reading.
static long
fd_count_settled(long pid)
{
	long low = fd_count(pid);
	long n;

	for (int i = 0; i < 3 && low >= 0; i++) {
		usleep(25000);
		if ((n = fd_count(pid)) >= 0 && n < low) {
			low = n;
		}
	}
	return (low);
}

// file_kib: a file's size in KiB, 0 if it does not exist, -1 on another
// error.
static long
file_kib(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		return (errno == ENOENT ? 0 : -1);
	}
	return ((long)((st.st_size + 1023) / 1024));
}

// soak_db_path: --db, else the daemon's own --db (relative to its cwd).
// NULL with *err set when it cannot be told; NULL without when there is
// nothing to read it from. Malloc'd.
static char *
soak_db_path(const bench_opts_t *o, const char **err)
{
	char  *args;
	char  *cwd;
	char  *db  = NULL;
	char  *out = NULL;
	size_t len = 0;

	*err = NULL;
	if (o->db_path != NULL) {
		return (strdup(o->db_path));
	}
	if (o->daemon_pid <= 0) {
		return (NULL);
	}
	if ((args = proc_read(o->daemon_pid, "cmdline", &len)) == NULL) {
		*err = "cannot read its /proc/PID/cmdline";
		return (NULL);
	}
	for (size_t i = 0; i < len; i += strlen(&args[i]) + 1) {
		if (strcmp(&args[i], "--db") == 0 &&
		        i + strlen(&args[i]) + 1 < len) {
			db = &args[i + strlen(&args[i]) + 1];
		} else if (strncmp(&args[i], "--db=", 5) == 0) {
			db = &args[i + 5];
		}
	}
	if (db == NULL) {
		*err = "its command line has no --db";
	} else if (db[0] == '/') {
		out = strdup(db);
	} else if ((cwd = proc_link(o->daemon_pid, "cwd")) == NULL) {
		*err = "cannot read its /proc/PID/cwd";
	} else {
		size_t n = strlen(cwd) + strlen(db) + 2;

		if ((out = malloc(n)) != NULL) {
			snprintf(out, n, "%s/%s", cwd, db);
		}
		free(cwd);
	}
	free(args);
	return (out);
}

// soak_take samples the daemon. Prints the error.
static int
soak_take(psb_client_t *c, long pid, const char *db, soak_sample_t *s)
{
	psb_client_error_t   err;
	psb_daemon_version_t v;
	psb_event_list_t     ev;
	char                 wal[PATH_MAX];

	s->t       = now_ns();
	s->rss_kib = pid > 0 ? proc_status_kib(pid, "VmRSS") : -1;
	s->fds     = pid > 0 ? fd_count_settled(pid) : -1;
	if (pid > 0 && (s->rss_kib < 0 || s->fds < 0)) {
		fprintf(stderr,
		        "psb-bench: soak: cannot read /proc/%ld/status or "
		        "fd\n",
		        pid);
		return (-1);
	}
	s->db_kib  = -1;
	s->wal_kib = -1;
	if (db != NULL) {
		snprintf(wal, sizeof(wal), "%s-wal", db);
		s->db_kib  = file_kib(db);
		s->wal_kib = file_kib(wal);
		if (s->db_kib <= 0 || s->wal_kib < 0) {
			fprintf(stderr,
			        "psb-bench: soak: cannot stat %s: %s\n", db,
			        s->db_kib == 0 ? "no such file" : "error");
			return (-1);
		}
	}
	if (psb_client_version(c, &v, &err) != 0) {
		call_failed("soak", "version", &err);
		return (-1);
	}
	s->sandboxes       = (long)v.sandboxes;
	s->commit_failures = (long)v.commit_failures;
	if (psb_client_events(c, 0, 1, &ev, &err) != 0) {
		call_failed("soak", "events", &err);
		return (-1);
	}
	s->journal = ev.oldest_seq > 0 && ev.newest_seq >= ev.oldest_seq
	                     ? (long)(ev.newest_seq - ev.oldest_seq + 1)
	                     : 0;
	psb_event_list_free(&ev);
	return (0);
}

static void
soak_col(long v, int width)
{
	if (v < 0) {
		printf(" %*s", width, "-");
	} else {
		printf(" %*ld", width, v);
	}
}

static void
soak_row(const soak_sample_t *s, const soak_sample_t *prev, int warm)
{
	printf("  %10d", s->done);
	soak_col(s->rss_kib, 9);
	soak_col(s->fds, 5);
	soak_col(s->db_kib, 9);
	soak_col(s->wal_kib, 8);
	soak_col(s->journal, 8);
	soak_col(s->sandboxes, 9);
	if (prev != NULL && s->t > prev->t) {
		printf(" %8.0f", (double)(s->done - prev->done) * 1e9 /
		                         (double)(s->t - prev->t));
	} else {
		printf(" %8s", "-");
	}
	printf("%s\n", s->done < warm ? "  (warm-up)" : "");
	fflush(stdout);
}

// ---- the verdict ----

typedef struct soak_range {
	long min;
	long max;
	int  n; // samples in it
} soak_range_t;

static void
range_add(soak_range_t *g, long v)
{
	if (v < 0) {
		return;
	}
	if (g->n == 0 || v < g->min) {
		g->min = v;
	}
	if (g->n == 0 || v > g->max) {
		g->max = v;
	}
	g->n++;
}

// soak_file_bounded: the largest size after N/2 (g[1]) is at most the
// largest before it (g[0]) + 10 % + SOAK_DB_SLACK_KIB. Printed.
static bool
soak_file_bounded(const char *what, const soak_range_t g[2])
{
	long bound = g[0].max + g[0].max / 10 + SOAK_DB_SLACK_KIB;
	bool ok    = g[1].max <= bound;

	printf("    %-10s up to %ld KiB before N/2, %ld after <= %ld: %s\n",
	        what, g[0].max, g[1].max, bound, ok ? "bounded" : "GROWING");
	return (ok);
}

// soak_verdict prints and reports the judgement of the samples after
// warm-up (slack: --rss-slack, 0 for the default bound); returns true if
// flat.
static bool
soak_verdict(const soak_sample_t *s, int ns, int n, int warm, long slack)
{
	soak_range_t rss    = {0};
	soak_range_t fds    = {0};
	soak_range_t sbx    = {0};
	soak_range_t cfail  = {0};
	soak_range_t db[2]  = {{0}}; // [warm-up, N/2], (N/2, N]
	soak_range_t wal[2] = {{0}};
	long         bound;
	bool         flat = true;
	bool         ok;

	for (int i = 0; i < ns; i++) {
		range_add(&sbx, s[i].sandboxes);
		range_add(&cfail, s[i].commit_failures);
		// From the first round on: a runtime may connect lazily.
		if (i > 0) {
			range_add(&fds, s[i].fds);
		}
		if (s[i].done < warm) {
			continue;
		}
		range_add(&rss, s[i].rss_kib);
		range_add(&db[s[i].done > n / 2], s[i].db_kib);
		range_add(&wal[s[i].done > n / 2], s[i].wal_kib);
	}
	printf("  verdict, from %d lifecycles on (after the first 10 %% "
	       "as warm-up):\n",
	        warm);
	if (rss.n > 0) {
		bound = rss.min / 10 > SOAK_RSS_SLACK_KIB ? rss.min / 10
		                                          : SOAK_RSS_SLACK_KIB;
		if (slack > 0) {
			bound = slack;
		}
		ok = rss.max - rss.min <= bound;
		printf("    VmRSS      %ld..%ld KiB: spread %ld <= %ld KiB: "
		       "%s\n",
		        rss.min, rss.max, rss.max - rss.min, bound,
		        ok ? "flat" : "NOT FLAT");
		report_value("rss_spread_after_warmup", -1, "KiB",
		        (double)(rss.max - rss.min));
		flat = flat && ok;
		ok   = fds.min == fds.max;
		printf("    open fds   %ld..%ld from %d lifecycles on: %s\n",
		        fds.min, fds.max, s[1].done, ok ? "flat" : "NOT FLAT");
		flat = flat && ok;
	} else {
		printf("    VmRSS, open fds: not sampled (no --daemon-pid)\n");
	}
	if (db[0].n > 0 && db[1].n > 0) {
		flat = soak_file_bounded("db", db) && flat;
		flat = soak_file_bounded("db-wal", wal) && flat;
	} else {
		printf("    db, db-wal: not sampled (no --db, no "
		       "--daemon-pid)\n");
	}
	ok = sbx.min == sbx.max;
	printf("    sandboxes  %ld..%ld (none of the bench's left at any "
	       "sample): %s\n",
	        sbx.min, sbx.max, ok ? "flat" : "NOT FLAT");
	flat = flat && ok;
	ok   = cfail.min == cfail.max;
	printf("    commit failures %ld..%ld: %s\n", cfail.min, cfail.max,
	        ok ? "none new" : "NEW ONES");
	flat = flat && ok;
	return (flat);
}

// soak_report puts the samples into the JSON report as arrays.
static void
soak_report(const soak_sample_t *s, int ns)
{
	static const struct {
		const char *key;
		size_t      off;
	} cols[] = {
	        {"sample_lifecycles", offsetof(soak_sample_t, done)},
	        {"sample_rss_kib", offsetof(soak_sample_t, rss_kib)},
	        {"sample_fds", offsetof(soak_sample_t, fds)},
	        {"sample_db_kib", offsetof(soak_sample_t, db_kib)},
	        {"sample_wal_kib", offsetof(soak_sample_t, wal_kib)},
	        {"sample_journal", offsetof(soak_sample_t, journal)},
	        {"sample_sandboxes", offsetof(soak_sample_t, sandboxes)},
	};
	int *v = calloc((size_t)ns, sizeof(int));

	if (v == NULL) {
		return;
	}
	for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
		for (int i = 0; i < ns; i++) {
			const char *p = (const char *)&s[i] + cols[k].off;

			v[i] = k == 0 ? *(const int *)p
			              : (int)*(const long *)p;
		}
		report_param_ints(cols[k].key, v, (size_t)ns);
	}
	free(v);
	if (s[0].rss_kib >= 0) {
		report_value("rss_start", -1, "KiB", (double)s[0].rss_kib);
		report_value("rss_end", -1, "KiB", (double)s[ns - 1].rss_kib);
		report_value("fds_start", -1, "fds", (double)s[0].fds);
		report_value("fds_end", -1, "fds", (double)s[ns - 1].fds);
	}
	if (s[0].db_kib >= 0) {
		report_value("db_start", -1, "KiB", (double)s[0].db_kib);
		report_value("db_end", -1, "KiB", (double)s[ns - 1].db_kib);
		report_value("wal_start", -1, "KiB", (double)s[0].wal_kib);
		report_value("wal_end", -1, "KiB", (double)s[ns - 1].wal_kib);
	}
	report_value("journal_end", -1, "entries", (double)s[ns - 1].journal);
}

// ---- the suite ----

// soak_rounds runs the rounds of `every` lifecycles, sampling after each
// into s (s[0] is taken before); returns the number of samples taken, or
// -1 when a call failed.
static int
soak_rounds(soak_t *r, psb_client_t *c, long pid, const char *db, int n,
        int every, int warm, soak_sample_t *s)
{
	int ns = 0;

	pthread_barrier_wait(&r->barrier); // connected
	if (atomic_load(&r->failed) || soak_take(c, pid, db, &s[0]) != 0) {
		return (-1);
	}
	soak_row(&s[0], NULL, warm);
	ns = 1;
	while (s[ns - 1].done < n) {
		int done  = s[ns - 1].done;
		int limit = done + every < n ? done + every : n;

		atomic_store(&r->next, done);
		r->limit = limit;
		pthread_barrier_wait(&r->barrier); // go
		pthread_barrier_wait(&r->barrier); // round done
		if (atomic_load(&r->failed)) {
			return (-1);
		}
		s[ns].done = limit;
		if (soak_take(c, pid, db, &s[ns]) != 0) {
			return (-1);
		}
		soak_row(&s[ns], &s[ns - 1], warm);
		ns++;
	}
	return (ns);
}

int
bench_soak(bench_opts_t *o)
{
	psb_daemon_version_t v;
	psb_client_t        *c   = NULL;
	pthread_t           *th  = NULL;
	soak_sample_t       *s   = NULL;
	char                *db  = NULL;
	void                *cfg = NULL;
	const char          *why;
	char                 pid[24];
	soak_t               r;
	int                  n;
	int                  clients;
	int                  every;
	int                  warm;
	int                  started = 0;
	int                  ns      = -1;
	int                  rv      = 1;

	memset(&r, 0, sizeof(r));
	if (daemon_version(o->url, &v) != 0) {
		return (1);
	}
	n       = o->requests > 0            ? o->requests
	          : v.runtime_is_test_double ? 10000
	                                     : 1000;
	clients = o->clients > 0 ? o->clients : 4;
	every   = o->every > 0 ? o->every : (n / 20 > 0 ? n / 20 : 1);
	warm    = (n + 9) / 10;
	report_param_int("lifecycles", n);
	report_param_int("clients", clients);
	report_param_int("every", every);
	report_param_int("daemon_pid", o->daemon_pid);
	report_param_str("config", config_name(o));
	if (o->rss_slack > 0) {
		report_param_int("rss_slack_kib", o->rss_slack);
	}
	if (n < 4 || clients > n || every > n / 4) {
		fprintf(stderr,
		        "psb-bench: soak: needs N >= 4 lifecycles (%d), C <= "
		        "N (%d) and K <= N/4 (%d), for samples on both sides "
		        "of N/2\n",
		        n, clients, every);
		return (2);
	}
	db = soak_db_path(o, &why);
	if (db == NULL && why != NULL) {
		fprintf(stderr,
		        "psb-bench: soak: the database of pid %ld: %s; give "
		        "--db PATH\n",
		        o->daemon_pid, why);
		return (2);
	}
	report_param_str("db", db != NULL ? db : "");
	r.lat = calloc((size_t)n, sizeof(int64_t));
	th    = calloc((size_t)clients, sizeof(*th));
	s     = calloc((size_t)(n / every + 2), sizeof(*s));
	if (r.lat == NULL || th == NULL || s == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (load_config(o->config_path, o->network, &cfg, &r.cfg_len) != 0 ||
	        (c = open_client(o->url)) == NULL) {
		goto out;
	}
	r.url = o->url;
	r.cfg = cfg;
	atomic_init(&r.next, 0);
	atomic_init(&r.failed, false);
	pthread_barrier_init(&r.barrier, NULL, (unsigned)clients + 1);
	for (; started < clients; started++) {
		int e = pthread_create(&th[started], NULL, soak_thread, &r);

		if (e != 0) {
			// The others wait at the first barrier, which cannot
			// fill up now; nothing is created yet.
			fprintf(stderr, "psb-bench: pthread_create: %s\n",
			        strerror(e));
			exit(1);
		}
	}
	printf("soak: %d lifecycles (create, start, status, stop, "
	       "shutdown), %d in flight, over %s, runtime %s%s, config %s\n",
	        n, clients, o->url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "",
	        config_name(o));
	snprintf(pid, sizeof(pid), "%ld", o->daemon_pid);
	printf("  daemon pid %s, database %s; a sample every %d "
	       "lifecycles\n",
	        o->daemon_pid > 0 ? pid : "- (no RSS, no fds)",
	        db != NULL ? db : "-", every);
	printf("  %10s %9s %5s %9s %8s %8s %9s %8s\n", "lifecycles", "RSS KiB",
	        "fds", "db KiB", "wal KiB", "journal", "sandboxes", "lc/s");
	// Barriers: "connected" once, then "go" and "round done" per round,
	// then a last "go" that finds quit set.
	ns     = soak_rounds(&r, c, o->daemon_pid, db, n, every, warm, s);
	r.quit = true;
	pthread_barrier_wait(&r.barrier); // quit
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_barrier_destroy(&r.barrier);
	if (ns < 0) {
		fprintf(stderr, "psb-bench: soak: stopped: a call failed\n");
		goto out;
	}
	lat_head("ms per lifecycle", 16);
	lat_row("all five calls", 16, "lifecycle_latency", r.lat, (size_t)n);
	report_value("rate", -1, "lifecycles/s",
	        (double)n * 1e9 / (double)(s[ns - 1].t - s[0].t));
	soak_report(s, ns);
	if (soak_verdict(s, ns, n, warm, o->rss_slack)) {
		printf("soak: flat\n");
		report_param_str("verdict", "flat");
		rv = 0;
	} else {
		printf("soak: NOT FLAT\n");
		report_param_str("verdict", "not flat");
		report_note("not flat: see the samples");
		rv = SOAK_NOT_FLAT;
	}
out:
	psb_client_close(c);
	free(cfg);
	free(db);
	free(s);
	free(th);
	free(r.lat);
	return (rv);
}
