//
// psb-bench - the suites that look at the daemon's process: memory (its
// VmRSS without and with the bench's sandboxes) and recovery (kill -9 of
// the daemon, the bench restarts it with the same command line, and the
// time until it answers and until every sandbox is READY again).
//

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

// ---- memory ----

int
bench_memory(bench_opts_t *o, bench_pool_t *shared)
{
	psb_daemon_version_t v;
	psb_daemon_version_t v1;
	bench_pool_t         own;
	bench_pool_t        *p   = shared != NULL ? shared : &own;
	long                 pid = o->daemon_pid;
	long                 rss[3];
	long                 hwm;
	int                  n;
	int                  rv = 1;

	memset(&own, 0, sizeof(own));
	if (daemon_version(o->url, &v) != 0) {
		return (1);
	}
	n = o->requests > 0            ? o->requests
	    : v.runtime_is_test_double ? 1000
	                               : 100;
	report_param_int("sandboxes", n);
	report_param_int("daemon_pid", pid);
	report_param_str("config", config_name(o));
	if (pool_prepare(o, p, "m") != 0) {
		return (1);
	}
	if (p->n > 0) {
		// A pool handed over with sandboxes in it: not a baseline.
		fprintf(stderr, "psb-bench: memory: the pool is not empty\n");
		goto out;
	}
	rss[0] = proc_status_kib(pid, "VmRSS");
	hwm    = proc_status_kib(pid, "VmHWM");
	if (pool_grow(o->url, p, n) != 0) {
		goto out;
	}
	rss[1] = proc_status_kib(pid, "VmRSS");
	if (daemon_version(o->url, &v1) != 0) {
		goto out;
	}
	printf("memory: podsandboxd pid %ld over %s, runtime %s%s, config "
	       "%s\n",
	        pid, o->url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "",
	        config_name(o));
	if (rss[0] < 0 || rss[1] < 0) {
		fprintf(stderr, "psb-bench: cannot read /proc/%ld/status\n",
		        pid);
		goto out;
	}
	printf("  %-44s %9ld KiB\n", "VmRSS, none of the bench's", rss[0]);
	printf("  %-44s %9ld KiB\n", "VmRSS, with N created+started", rss[1]);
	printf("  %-44s %9.1f KiB\n", "per sandbox: the difference / N",
	        (double)(rss[1] - rss[0]) / n);
	printf("  (N = %d; the daemon had %" PRIu64 " sandbox(es) in all "
	       "before, %" PRIu64 " with them)\n",
	        n, v.sandboxes, v1.sandboxes);
	report_param_int("daemon_sandboxes_before", (long)v.sandboxes);
	report_param_int("daemon_sandboxes_with", (long)v1.sandboxes);
	report_value("rss_without", -1, "KiB", (double)rss[0]);
	report_value("rss_with", -1, "KiB", (double)rss[1]);
	report_value("rss_per_sandbox", -1, "KiB/sandbox",
	        (double)(rss[1] - rss[0]) / n);
	// Freed memory stays with the process and is reused first: after a
	// bigger past, N sandboxes may fit in it and cost "nothing".
	if (hwm > rss[0] + 1024) {
		printf("  (the daemon's peak VmRSS was %ld KiB: memory it "
		       "freed before is reused\n   first, so the figure is "
		       "low; run this on a freshly started daemon)\n",
		        hwm);
		report_note("the daemon's peak VmRSS (%ld KiB) was above the "
		            "baseline: memory freed earlier is reused first, "
		            "the per-sandbox figure is low",
		        hwm);
	}
	rv = 0;
out:
	if (shared == NULL && own.cfg != NULL) {
		if (pool_clear(o->url, &own) != 0) {
			rv = 1;
		} else if (rv == 0 &&
		           (rss[2] = proc_status_kib(pid, "VmRSS")) >= 0) {
			// The allocator keeps much of it: told, not judged.
			printf("  %-44s %9ld KiB\n",
			        "VmRSS, after removing them", rss[2]);
			report_value("rss_after_removal", -1, "KiB",
			        (double)rss[2]);
		}
	}
	return (rv);
}

// ---- recovery: the daemon's command line ----

typedef struct daemon_cmd {
	char  *exe;  // /proc/PID/exe
	char  *cwd;  // /proc/PID/cwd
	char  *args; // /proc/PID/cmdline, NUL-separated
	char **argv;
	char  *env; // /proc/PID/environ
	char **envp;
	bool   replaced; // the binary was replaced since it started
} daemon_cmd_t;

char *
proc_read(long pid, const char *name, size_t *len)
{
	char    path[64];
	char   *buf = NULL;
	size_t  cap = 0;
	size_t  n   = 0;
	ssize_t r;
	int     fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return (NULL);
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *p = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (p == NULL) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return (NULL);
			}
			buf = p;
		}
		if ((r = read(fd, buf + n, cap - n - 1)) < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return (NULL);
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len   = n;
	return (buf);
}

// split_nul makes a NULL-terminated vector of the NUL-terminated strings
// in buf[0, len).
static char **
split_nul(char *buf, size_t len)
{
	size_t n = 0;
	char **v;

	for (size_t i = 0; i < len; i++) {
		n += buf[i] == '\0';
	}
	if (len > 0 && buf[len - 1] != '\0') {
		n++; // the last one's NUL is the one proc_read added
	}
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		return (NULL);
	}
	for (size_t i = 0, k = 0; i < len; k++) {
		v[k] = &buf[i];
		i += strlen(&buf[i]) + 1;
	}
	return (v);
}

char *
proc_link(long pid, const char *name)
{
	char    path[64];
	char    buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	if ((n = readlink(path, buf, sizeof(buf) - 1)) < 0) {
		return (NULL);
	}
	buf[n] = '\0';
	return (strdup(buf));
}

static void
daemon_cmd_free(daemon_cmd_t *d)
{
	free(d->exe);
	free(d->cwd);
	free(d->args);
	free(d->argv);
	free(d->env);
	free(d->envp);
	memset(d, 0, sizeof(*d));
}

// daemon_cmd_read reads what it takes to start the daemon again. Prints
// the error.
static int
daemon_cmd_read(long pid, daemon_cmd_t *d)
{
	static const char deleted[] = " (deleted)";
	const char       *what;
	size_t            alen = 0;
	size_t            elen = 0;
	size_t            n;

	memset(d, 0, sizeof(*d));
	if ((d->exe = proc_link(pid, "exe")) == NULL) {
		what = "exe";
	} else if ((d->cwd = proc_link(pid, "cwd")) == NULL) {
		what = "cwd";
	} else if ((d->args = proc_read(pid, "cmdline", &alen)) == NULL) {
		what = "cmdline";
	} else if ((d->env = proc_read(pid, "environ", &elen)) == NULL) {
		what = "environ";
	} else if ((d->argv = split_nul(d->args, alen)) == NULL ||
	           (d->envp = split_nul(d->env, elen)) == NULL) {
		errno = ENOMEM;
		what  = "cmdline";
	} else if (alen == 0) {
		errno = ESRCH;
		what  = "cmdline";
	} else {
		what = NULL;
	}
	if (what != NULL) {
		fprintf(stderr,
		        "psb-bench: recovery: cannot read /proc/%ld/%s: "
		        "%s\n",
		        pid, what, strerror(errno));
		daemon_cmd_free(d);
		return (-1);
	}
	// A binary rebuilt since the daemon started: its path has the new
	// one.
	n = strlen(d->exe);
	if (n > sizeof(deleted) - 1 &&
	        strcmp(d->exe + n - (sizeof(deleted) - 1), deleted) == 0) {
		d->exe[n - (sizeof(deleted) - 1)] = '\0';
		d->replaced                       = true;
	}
	return (0);
}

// daemon_check: pid must be podsandboxd, as it is about to get a kill -9.
// Prints the error.
static int
daemon_check(long pid)
{
	size_t len = 0;
	char  *comm;
	int    rv = 0;

	if ((comm = proc_read(pid, "comm", &len)) == NULL) {
		fprintf(stderr,
		        "psb-bench: recovery: cannot read /proc/%ld/comm: "
		        "%s\n",
		        pid, strerror(errno));
		return (-1);
	}
	comm[strcspn(comm, "\n")] = '\0';
	if (strncmp(comm, "podsandboxd", 11) != 0) {
		fprintf(stderr,
		        "psb-bench: recovery: pid %ld is \"%s\", not "
		        "podsandboxd\n",
		        pid, comm);
		rv = -1;
	}
	free(comm);
	return (rv);
}

// The state every sandbox must come back in. A real runtime's pause
// processes outlive the daemon: READY. The scripted test double keeps its
// fake tasks in memory, so they die with the daemon (EXITED is then the
// true state), unless it runs with --runtime-options world=PATH (READY).
// A --config file may say either: then READY and EXITED both count.
typedef enum expect { EXPECT_READY, EXPECT_EXITED, EXPECT_EITHER } expect_t;

static const char *const expect_names[] = {
        "READY", "EXITED", "READY or EXITED"};

static expect_t
daemon_expect(const daemon_cmd_t *d, bool test_double, bool *world)
{
	bool cfg = false;

	*world = false;
	for (int i = 1; d->argv[i] != NULL; i++) {
		*world = *world || strstr(d->argv[i], "world=") != NULL;
		cfg    = cfg || strncmp(d->argv[i], "--config", 8) == 0;
	}
	if (!test_double || *world) {
		return (EXPECT_READY);
	}
	return (cfg ? EXPECT_EITHER : EXPECT_EXITED);
}

// proc_alive: pid exists and is not a zombie.
static bool
proc_alive(long pid)
{
	char  path[64];
	char  buf[512];
	FILE *f;
	char *p;
	bool  alive = false;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (false);
	}
	if (fgets(buf, sizeof(buf), f) != NULL &&
	        (p = strrchr(buf, ')')) != NULL && p[1] == ' ') {
		alive = p[2] != 'Z' && p[2] != 'X';
	}
	fclose(f);
	return (alive);
}

// daemon_kill sends SIGKILL and waits until the process is gone (10 s at
// most). Prints the error.
static int
daemon_kill(long pid)
{
	int64_t t0 = now_ns();

	if (kill((pid_t)pid, SIGKILL) != 0) {
		fprintf(stderr, "psb-bench: recovery: kill -9 %ld: %s\n", pid,
		        strerror(errno));
		return (-1);
	}
	while (proc_alive(pid)) {
		if (now_ns() - t0 > 10000000000LL) {
			fprintf(stderr,
			        "psb-bench: recovery: pid %ld still there 10 "
			        "s "
			        "after kill -9\n",
			        pid);
			return (-1);
		}
		usleep(200);
	}
	return (0);
}

// close_from closes every descriptor >= fd (async-signal-safe).
static void
close_from(int fd, long max)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)fd, ~0U, 0) == 0) {
		return;
	}
#endif
	for (long i = fd; i < max; i++) {
		close((int)i);
	}
}

// daemon_spawn starts d detached: a new session, in its cwd, stdin from
// /dev/null, stdout and stderr to log_fd. The middle child exits at once,
// so the daemon is nobody's child here. Returns its pid, or -1 (printed).
static long
daemon_spawn(const daemon_cmd_t *d, int log_fd, int null_fd)
{
	long  max = sysconf(_SC_OPEN_MAX);
	int   p[2];
	pid_t mid;
	pid_t pid = -1;
	int   e   = 0;
	int   st;

	if (max < 0 || max > 65536) {
		max = 65536;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "psb-bench: recovery: pipe: %s\n",
		        strerror(errno));
		return (-1);
	}
	if ((mid = fork()) < 0) {
		fprintf(stderr, "psb-bench: recovery: fork: %s\n",
		        strerror(errno));
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (mid == 0) {
		// Only async-signal-safe calls from here to the exec.
		sigset_t none;
		pid_t    gc;
		int      wfd = p[1];

		close(p[0]);
		setsid();
		if ((gc = fork()) == 0) {
			// The log and /dev/null go to 0-2, the pipe to 3
			// (closed by the exec), the rest is closed.
			if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 ||
			        dup2(log_fd, 2) < 0 || dup2(p[1], 3) < 0 ||
			        fcntl(3, F_SETFD, FD_CLOEXEC) != 0 ||
			        chdir(d->cwd) != 0) {
				e = errno;
			} else {
				wfd = 3;
				close_from(4, max);
				sigemptyset(&none);
				sigprocmask(SIG_SETMASK, &none, NULL);
				execve(d->exe, d->argv, d->envp);
				e = errno;
			}
			if (write(wfd, &e, sizeof(e)) < 0) {
				_exit(127);
			}
			_exit(127);
		}
		e = gc < 0 ? errno : 0;
		if (write(wfd, &gc, sizeof(gc)) < 0 ||
		        write(wfd, &e, sizeof(e)) < 0) {
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR) { }
	// The grandchild's pid and the fork's errno, then (until the exec
	// closes the pipe) the exec's errno if it failed.
	if (read(p[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid) ||
	        read(p[0], &e, sizeof(e)) != (ssize_t)sizeof(e)) {
		pid = -1;
		e   = EIO;
	} else if (pid > 0 && read(p[0], &e, sizeof(e)) == 0) {
		e = 0; // exec'd
	} else if (pid > 0) {
		pid = -1;
	}
	close(p[0]);
	if (pid < 0) {
		fprintf(stderr, "psb-bench: recovery: cannot start %s: %s\n",
		        d->exe, strerror(e));
		return (-1);
	}
	return ((long)pid);
}

// ---- recovery: the measurement ----

typedef struct rec {
	const bench_pool_t *p;
	expect_t            expect;
	int64_t             deadline;
	int64_t            *done_at; // per index: when it answered as expected
	atomic_int          ready;
	atomic_int          exited;
	atomic_int          shown; // errors printed
} rec_t;

static bool
rec_transient(const char *state)
{
	return (strcmp(state, "STARTING") == 0 ||
	        strcmp(state, "STOPPING") == 0 ||
	        strcmp(state, "DELETING") == 0 ||
	        strcmp(state, "UNKNOWN") == 0);
}

// rec_check asks Status of the pool's sandbox i until it answers with a
// settled state (one in flight, or UNKNOWN, is asked again every ms until
// the deadline), which must be the expected one.
static int
rec_check(psb_client_t *c, int i, void *arg)
{
	rec_t               *r = arg;
	psb_client_error_t   err;
	psb_sandbox_status_t st;
	char                 id[80];
	char                 state[16] = "";
	bool                 ready;
	bool                 exited;

	if (r->p->st[i] != POOL_STARTED) {
		return (0);
	}
	pool_id(r->p, i, id, sizeof(id));
	for (;;) {
		if (psb_client_status(c, id, false, &st, &err) == 0) {
			snprintf(state, sizeof(state), "%s", st.state);
			psb_sandbox_status_free(&st);
			if (!rec_transient(state)) {
				break;
			}
		} else if (err.code != PSB_CODE_UNAVAILABLE &&
		           err.code != PSB_CODE_DEADLINE_EXCEEDED) {
			if (atomic_fetch_add(&r->shown, 1) < 5) {
				call_failed(id, "status", &err);
			}
			return (-1);
		}
		if (now_ns() > r->deadline) {
			break;
		}
		usleep(1000);
	}
	ready  = strcmp(state, "READY") == 0;
	exited = strcmp(state, "EXITED") == 0;
	if ((ready && r->expect != EXPECT_EXITED) ||
	        (exited && r->expect != EXPECT_READY)) {
		r->done_at[i] = now_ns();
		atomic_fetch_add(ready ? &r->ready : &r->exited, 1);
		return (0);
	}
	if (atomic_fetch_add(&r->shown, 1) < 5) {
		fprintf(stderr,
		        "psb-bench: %s: %s after the restart, not %s\n", id,
		        state[0] ? state : "no answer",
		        expect_names[r->expect]);
	}
	return (-1);
}

// Version after the restart: VERSION_CLIENTS clients, opened
// VERSION_STAGGER_MS apart, each asking again (on the same connection)
// every VERSION_RETRY_MS. A client whose dial came too early redials
// after nng's reconnect time (100 ms); staggered, one of them is never
// far behind the daemon's listen. No client is closed with a request in
// flight while the daemon comes up.
#define VERSION_CLIENTS    10
#define VERSION_STAGGER_MS 10
#define VERSION_RETRY_MS   1000

typedef struct ver_probe {
	const char          *url;
	atomic_bool         *stop;
	pthread_t            thread;
	bool                 started;
	atomic_llong         answered; // when (0: not)
	psb_daemon_version_t v;
	psb_client_error_t   err;
} ver_probe_t;

static void *
ver_probe_thread(void *arg)
{
	ver_probe_t  *vp = arg;
	psb_client_t *c  = NULL;

	if (psb_client_open(vp->url, &c, &vp->err) != 0) {
		return (NULL);
	}
	psb_client_set_timeout(c, VERSION_RETRY_MS);
	while (!atomic_load(vp->stop)) {
		if (psb_client_version(c, &vp->v, &vp->err) == 0) {
			atomic_store(&vp->answered, now_ns());
			break;
		}
	}
	psb_client_close(c);
	return (NULL);
}

// The Version probes of one restart: rec_wait_version starts them and
// waits for the first answer, rec_join_version (later: a probe still
// waiting for its dial must not delay what comes next) stops them.
typedef struct ver_wait {
	ver_probe_t vp[VERSION_CLIENTS];
	atomic_bool stop;
	int         k; // probes started
} ver_wait_t;

// rec_wait_version waits until the restarted daemon answers Version (for
// limit ns at most). Returns the ns from t0, or -1 (printed).
static int64_t
rec_wait_version(
        ver_wait_t *w, const char *url, long pid, int64_t t0, int64_t limit)
{
	int64_t first = 0;

	for (;;) {
		if (w->k < VERSION_CLIENTS &&
		        now_ns() >= t0 + (int64_t)w->k * VERSION_STAGGER_MS *
		                                    1000000) {
			ver_probe_t *vp = &w->vp[w->k++];

			vp->url  = url;
			vp->stop = &w->stop;
			atomic_init(&vp->answered, 0);
			vp->started = pthread_create(&vp->thread, NULL,
			                      ver_probe_thread, vp) == 0;
		}
		for (int i = 0; i < w->k; i++) {
			int64_t at = atomic_load(&w->vp[i].answered);

			if (at != 0 && (first == 0 || at < first)) {
				first = at;
			}
		}
		if (first != 0) {
			break;
		}
		if (!proc_alive(pid)) {
			fprintf(stderr,
			        "psb-bench: recovery: the restarted daemon "
			        "(pid %ld) exited\n",
			        pid);
			break;
		}
		if (now_ns() - t0 > limit) {
			fprintf(stderr,
			        "psb-bench: recovery: the restarted daemon "
			        "(pid %ld) did not answer Version within "
			        "%.0f s\n",
			        pid, (double)limit / 1e9);
			break;
		}
		usleep(200);
	}
	atomic_store(&w->stop, true);
	return (first != 0 ? first - t0 : -1);
}

static void
rec_join_version(ver_wait_t *w)
{
	atomic_store(&w->stop, true);
	for (int i = 0; i < w->k; i++) {
		if (w->vp[i].started) {
			pthread_join(w->vp[i].thread, NULL);
		}
	}
	w->k = 0;
}

int
bench_recovery(bench_opts_t *o, bench_pool_t *shared)
{
	psb_daemon_version_t v;
	daemon_cmd_t         d;
	bench_pool_t         own;
	bench_pool_t        *p = shared != NULL ? shared : &own;
	rec_t                r;
	long                 old     = o->daemon_pid;
	long                 pid     = -1;
	int                  log_fd  = -1;
	int                  null_fd = -1;
	int                  n;
	int                  base;
	int                  clients = o->clients > 0 ? o->clients : 16;
	int                  bad;
	bool                 world;
	int64_t              t0;
	int64_t              limit;
	int64_t              t_up;
	int64_t              t_all = 0;
	int64_t              cpu;
	int                  rv      = 1;
	bool                 cleanup = true;
	char                 label[64];
	ver_wait_t           vw;

	memset(&vw, 0, sizeof(vw));
	atomic_init(&vw.stop, false);
	memset(&own, 0, sizeof(own));
	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	if (daemon_version(o->url, &v) != 0) {
		return (1);
	}
	n = o->requests > 0            ? o->requests
	    : v.runtime_is_test_double ? 10000
	                               : 100;
	if (n < p->n) {
		n = p->n; // a pool handed over: all of it
	}
	report_param_int("sandboxes", n);
	report_param_int("clients", clients);
	report_param_int("daemon_pid", old);
	report_param_str("daemon_log", o->daemon_log);
	report_param_str("config", config_name(o));
	if (daemon_check(old) != 0 || daemon_cmd_read(old, &d) != 0) {
		return (1);
	}
	r.expect = daemon_expect(&d, v.runtime_is_test_double, &world);
	report_param_str("expected_state", expect_names[r.expect]);
	if ((log_fd = open(o->daemon_log,
	             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
	        (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "psb-bench: recovery: cannot open %s: %s\n",
		        log_fd < 0 ? o->daemon_log : "/dev/null",
		        strerror(errno));
		goto out;
	}
	if ((r.done_at = calloc((size_t)n, sizeof(int64_t))) == NULL) {
		fprintf(stderr, "psb-bench: out of memory\n");
		goto out;
	}
	if (pool_prepare(o, p, "r") != 0) {
		goto out;
	}
	base = p->n;
	t0   = now_ns();
	if (pool_grow(o->url, p, n) != 0) {
		goto out;
	}
	printf("recovery: %d sandbox(es) over %s, runtime %s%s, config %s\n",
	        n, o->url, v.runtime,
	        v.runtime_is_test_double ? " (test double)" : "",
	        config_name(o));
	printf("  %d created+started in %.2f s (%d clients)", n - base,
	        (double)(now_ns() - t0) / 1e9,
	        n - base < POOL_CLIENTS ? n - base : POOL_CLIENTS);
	if (base > 0) {
		printf(", %d from the memory suite", base);
	}
	printf("\n");
	if (daemon_kill(old) != 0) {
		goto out;
	}
	t0  = now_ns();
	pid = daemon_spawn(&d, log_fd, null_fd);
	if (pid < 0) {
		fprintf(stderr,
		        "psb-bench: recovery: the daemon is down; %d "
		        "sandbox(es) %s* are left over\n",
		        n, p->prefix);
		cleanup = false;
		goto out;
	}
	o->daemon_pid = pid;
	report_param_int("restarted_daemon_pid", pid);
	// 60 s, and 10 ms more per sandbox: recovery is not instant.
	limit = 60000000000LL + (int64_t)n * 10000000;
	t_up  = rec_wait_version(&vw, o->url, pid, t0, limit);
	if (t_up < 0) {
		fprintf(stderr,
		        "psb-bench: recovery: %d sandbox(es) %s* are left "
		        "over "
		        "(the daemon's output: %s)\n",
		        n, p->prefix, o->daemon_log);
		cleanup = false;
		goto out;
	}
	r.p        = p;
	r.deadline = t0 + limit;
	atomic_init(&r.ready, 0);
	atomic_init(&r.exited, 0);
	atomic_init(&r.shown, 0);
	bad = par_run(o->url, clients, p->n, true, rec_check, &r);
	cpu = cpu_ns(pid);
	rec_join_version(&vw);
	for (int i = 0; i < p->n; i++) {
		if (r.done_at[i] > t_all) {
			t_all = r.done_at[i];
		}
	}
	printf("  kill -9 of pid %ld, restarted as pid %ld%s (its output: "
	       "%s)\n",
	        old, pid, d.replaced ? " from the rebuilt binary" : "",
	        o->daemon_log);
	printf("  %-40s %9.2f ms\n", "restart -> Version answers",
	        (double)t_up / 1e6);
	report_value("restart_to_version", -1, "ms", (double)t_up / 1e6);
	report_value(
	        "came_back_ready", -1, "sandboxes", atomic_load(&r.ready));
	report_value(
	        "came_back_exited", -1, "sandboxes", atomic_load(&r.exited));
	if (bad > 0) {
		printf("  restart -> every Status %s: %d of %d are not\n",
		        expect_names[r.expect], bad, n);
		report_value("not_in_expected_state", -1, "sandboxes", bad);
		goto out;
	}
	snprintf(label, sizeof(label), "restart -> every Status %s",
	        expect_names[r.expect]);
	printf("  %-40s %9.2f ms\n", label, (double)(t_all - t0) / 1e6);
	report_value("restart_to_every_status", -1, "ms",
	        (double)(t_all - t0) / 1e6);
	if (cpu >= 0) {
		printf("  %-40s %9.2f ms\n", "daemon CPU from the restart on",
		        (double)cpu / 1e6);
		report_value("daemon_cpu_after_restart", -1, "ms",
		        (double)cpu / 1e6);
	}
	printf("  (%d READY, %d EXITED; Status from %d clients, Version "
	       "from\n   %d clients started %d ms apart)\n",
	        atomic_load(&r.ready), atomic_load(&r.exited),
	        clients < n ? clients : n, VERSION_CLIENTS,
	        VERSION_STAGGER_MS);
	if (r.expect == EXPECT_EXITED) {
		printf("  (the test double's fake tasks lived in its memory "
		       "and died with it:\n   EXITED is their true state; "
		       "with --runtime-options world=PATH they\n   stay "
		       "READY)\n");
		report_note("test double without world=PATH: its tasks died "
		            "with the daemon, EXITED is the true state");
	} else if (v.runtime_is_test_double && world) {
		printf("  (the test double rewrites its whole world file "
		       "after every operation:\n   with world=PATH these "
		       "figures grow with N^2 and measure the test\n   "
		       "double more than podsandboxd)\n");
		report_note("test double with world=PATH: the world file is "
		            "rewritten after every operation (O(N) each)");
	}
	rv = 0;
out:
	rec_join_version(&vw);
	if (pid > 0) {
		printf("recovery: new daemon pid %ld\n", pid);
	}
	if (!cleanup) {
		// Left over (printed): a pool handed over is given up too.
		free(p->cfg);
		free(p->st);
		memset(p, 0, sizeof(*p));
	} else if (shared == NULL && own.cfg != NULL &&
	           pool_clear(o->url, &own) != 0) {
		rv = 1;
	}
	if (log_fd >= 0) {
		close(log_fd);
	}
	if (null_fd >= 0) {
		close(null_fd);
	}
	free(r.done_at);
	daemon_cmd_free(&d);
	return (rv);
}
